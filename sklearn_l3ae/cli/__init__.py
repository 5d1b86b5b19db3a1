"""The ``sklearn-l3ae`` command line: fit, tune, recommend and evaluate on CSV folders.

The data folder is the normalized format of
:func:`sklearn_l3ae.datasets.load_folder` (``interactions.csv[.gz]`` with
``user_id,item_id,rating,timestamp`` and ``items.csv`` with
``item_id,title,text``).  ``fit`` writes one ``.npz`` model file
(:func:`sklearn_l3ae.save`, no pickle) that also holds the training
interactions, the user ids and the item titles, so that ``recommend`` needs
nothing but that file.
"""

import sys

from ._errors import PROG, CommandError
from ._parser import build_parser, check_values, memory_limit_argument


def _one_line(message):
    return " ".join(str(message).split())


def main(argv=None):
    """Run ``sklearn-l3ae`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 1 on bad input (a value out of
    range, a missing file, an unknown user...: reported on one line of
    stderr, naming the flag or the file), 2 on a malformed command line
    (argparse's usage message), 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        check_values(args)
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


__all__ = ["build_parser", "main", "memory_limit_argument"]
