"""The commands ``fit``, ``recommend`` and ``evaluate``, and what they share."""

import os

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline, make_pipeline

from .. import load, save
from ..datasets import load_folder
from ..metrics import evaluate
from ..metrics._evaluate import _format_table
from ..model_selection import random_holdout_split
from ..persistence import check_save_path
from ..persistence._training_data import (
    check_training_data,
    missing_training_data,
    training_data_extras,
)
from ..recommenders import EASERecommender, L3AERecommender
from ..text import SemanticCorrelation, SentenceEncoder
from ..text._models import DEFAULT_MODEL
from ._encoder import check_encoder_available, sentence_encoder
from ._errors import PROG, CommandError, in_flags, progress, step

# The estimators' own defaults (for L3AE, the paper's best region).
DEFAULTS = {
    "reg_X": L3AERecommender().reg_X,
    "reg_E": L3AERecommender().reg_E,
    "semantic_reg": SemanticCorrelation().reg,
    "ease_reg": EASERecommender().reg,
}
_EVALUATION_KS = (10, 20)
# The estimators' parameters as the command line spells them, for messages.
FLAGS = {
    "reg_X": "--reg-X",
    "reg_E": "--reg-E",
    "semantic__semanticcorrelation__reg": "--semantic-reg",
    "n_neighbors": "--n-neighbors",
    "n_jobs": "--n-jobs",
}
# The extra a model file of `tune` holds: the best reg of EASE.
TUNED_EASE_REG = "tuned_ease_reg"


# ---------------------------------------------------------------- building


def load_data(folder, k_core, *, include_cold_items=False):
    with step(f"loading {folder}"):
        data = load_folder(folder, k_core=k_core, include_cold_items=include_cold_items)
    n_users, n_items = data.X.shape
    progress(f"{n_users} users, {n_items} items, {data.X.nnz} interactions")
    return data


def l3ae(data, args, *, encoder, reg_X, reg_E, semantic_reg, dtype):
    """The command line's L3AE: the default phase 1 with the options' encoder."""
    semantic = make_pipeline(
        sentence_encoder(args, model=encoder),
        SemanticCorrelation(reg=semantic_reg, dtype=dtype),
    )
    return L3AERecommender(
        semantic,
        item_texts=list(data.item_texts),
        reg_X=reg_X,
        reg_E=reg_E,
        dtype=dtype,
        item_ids=data.item_ids,
        memory_limit=args.memory_limit,
        **scale_options(args),
    )


def _neighbors_text(n_neighbors, both=False):
    if n_neighbors is None:
        return ""
    return f"{'; both' if both else ','} n_neighbors={n_neighbors}"


def scale_options(args, n_neighbors=None):
    """``n_neighbors`` and ``n_jobs`` of the command line (or ``n_neighbors``
    given, e.g. from a model file)."""
    if n_neighbors is None:
        n_neighbors = args.n_neighbors
    return {"n_neighbors": n_neighbors, "n_jobs": args.n_jobs}


def fit(model, X, name, flags=FLAGS):
    """Fit, with errors in the command line's words (its flags, one line)."""
    # L3AE's fit encodes the item texts first (sentence-transformers shows a
    # progress bar over the batches), then solves both phases.
    n_users, n_items = X.shape
    try:
        with step(f"fitting {name} on {n_users} users x {n_items} items"):
            return model.fit(X)
    except ValueError as exc:
        raise CommandError(in_flags(str(exc), flags)) from exc


def training_extras(data):
    """What a model file of the command line holds beside the model."""
    return training_data_extras(data.X, data.user_ids, data.item_titles)


# ---------------------------------------------------------------- commands


def cmd_fit(args):
    check_save_path(args.model)  # before the long encode and fit
    dtype = np.dtype(args.dtype).type
    data = load_data(args.data, args.k_core, include_cold_items=args.include_cold_items)
    check_encoder_available(args.encoder)  # after the data: its errors come first
    model = l3ae(
        data,
        args,
        encoder=args.encoder,
        reg_X=args.reg_X,
        reg_E=args.reg_E,
        semantic_reg=args.semantic_reg,
        dtype=dtype,
    )
    fit(model, data.X, "L3AE")
    with step(f"saving {args.model}"):
        save(model, args.model, extras=training_extras(data))
    print(
        f"Saved L3AE (reg_X={args.reg_X:g}, reg_E={args.reg_E:g}, "
        f"semantic reg={args.semantic_reg:g}{_neighbors_text(args.n_neighbors)}) "
        f"on {data.X.shape[0]} users x "
        f"{data.X.shape[1]} items to {args.model}"
    )
    return 0


def load_model(path):
    """The model and training data of a model file of `fit` or `tune`."""
    if not os.path.isfile(path):
        raise CommandError(f"no model file {path}")
    model, extras = load(path, return_extras=True)
    missing = missing_training_data(extras)
    if missing:
        raise CommandError(
            f"{path} holds a model but not the training data the CLI stores with "
            f"it (missing {', '.join(missing)}); write it with `{PROG} fit`"
        )
    try:
        check_training_data(extras, model.n_features_in_)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None
    return model, extras


def _user_row(extras, user):
    user_ids = extras["user_ids"]
    matches = np.flatnonzero(user_ids == user)
    if not len(matches):
        examples = ", ".join(repr(str(u)) for u in user_ids[:3])
        raise CommandError(
            f"unknown user id {user!r}: the model knows {len(user_ids)} users "
            f"({examples}, ...)"
        )
    return extras["X"][matches[:1]]


def cmd_recommend(args):
    model, extras = load_model(args.model)
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
    """One table: a row per (item subset, metric), a column per (model, k)."""
    names = list(reports)
    first = reports[names[0]]
    rows = list(dict.fromkeys((r["item_subset"], r["metric"]) for r in first.records))
    header = ["items", "users", "metric"]
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
        "semantic_reg": args.semantic_reg,
        "ease_reg": args.ease_reg,
        "dtype": args.dtype,
        "n_neighbors": args.n_neighbors,
    }
    defaults = {
        **DEFAULTS,
        "encoder": DEFAULT_MODEL,
        "dtype": "float32",
        "n_neighbors": None,
    }
    if args.model is None:
        return {k: defaults[k] if v is None else v for k, v in setting.items()}
    model, extras = load_model(args.model)
    if not isinstance(model, L3AERecommender):
        raise CommandError(
            f"{args.model} is not an L3AE model file ({type(model).__name__}); "
            f"evaluate --model takes its settings from a model file of `{PROG} fit`"
        )
    from_file = {
        "reg_X": model.reg_X,
        "reg_E": model.reg_E,
        "dtype": np.dtype(model.dtype).name,
        "n_neighbors": model.n_neighbors,
    }
    if TUNED_EASE_REG in extras:
        tuned = extras[TUNED_EASE_REG]
        if np.shape(tuned) != () or tuned.dtype.kind != "f":
            raise CommandError(
                f"{args.model}: {TUNED_EASE_REG} must be one number, got "
                f"{tuned.dtype} of shape {np.shape(tuned)}"
            )
        from_file["ease_reg"] = float(tuned)
    semantic = model.semantic
    steps = [s for _, s in semantic.steps] if isinstance(semantic, Pipeline) else []
    for component in steps or [semantic]:
        if isinstance(component, SentenceEncoder):
            from_file["encoder"] = component.model
        elif isinstance(component, SemanticCorrelation):
            from_file["semantic_reg"] = component.reg
    return {
        k: (v if v is not None else from_file.get(k, defaults[k]))
        for k, v in setting.items()
    }


def split(data, args):
    """The protocol's split of ``tune`` and ``evaluate``: 8:1:1 per user."""
    return random_holdout_split(data.X, (0.8, 0.1, 0.1), random_state=args.seed)


def protocol_k_core(args):
    """The k-core of the protocol: 5 (the paper's) unless given; 0 keeps all."""
    return 5 if args.k_core is None else args.k_core


def cmd_evaluate(args):
    setting = _evaluation_setting(args)
    dtype = np.dtype(setting["dtype"]).type
    k_core = protocol_k_core(args)
    data = load_data(args.data, k_core or None)
    check_encoder_available(setting["encoder"])
    train, val, test = split(data, args)
    # The paper's final protocol: refit on train + validation, test on test.
    fit_on = sparse.csr_array(train + val)
    args.n_neighbors = setting["n_neighbors"]
    models = {
        "EASE": EASERecommender(
            reg=setting["ease_reg"],
            dtype=dtype,
            memory_limit=args.memory_limit,
            **scale_options(args, setting["n_neighbors"]),
        ),
        "L3AE": l3ae(
            data,
            args,
            encoder=setting["encoder"],
            reg_X=setting["reg_X"],
            reg_E=setting["reg_E"],
            semantic_reg=setting["semantic_reg"],
            dtype=dtype,
        ),
    }
    reports = {}
    for name, model in models.items():
        fit(model, fit_on, name, FLAGS if name == "L3AE" else {"reg": "--ease-reg"})
        reports[name] = evaluate(model, fit_on, test, ks=_EVALUATION_KS)
    core = f"{k_core}-core" if k_core else "no k-core"
    print(
        f"{data.name}: {data.X.shape[0]} users, {data.X.shape[1]} items ({core}), "
        f"random 8:1:1 split per user (seed {args.seed}), fit on train + "
        f"validation, scored on test"
    )
    print(
        f"EASE reg={setting['ease_reg']:g}; L3AE reg_X={setting['reg_X']:g}, "
        f"reg_E={setting['reg_E']:g}, semantic reg={setting['semantic_reg']:g}"
        + _neighbors_text(setting["n_neighbors"], both=True)
    )
    print(_side_by_side(reports))
    return 0
