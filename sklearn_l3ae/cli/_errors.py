"""How the command line reports: one line on stderr, flags in the user's words."""

import re
import sys
import time
from contextlib import contextmanager

PROG = "sklearn-l3ae"


class CommandError(Exception):
    """A bad input the user can fix; reported as one line, no traceback."""


def progress(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


@contextmanager
def step(message):
    """Announce a long step on stderr and report its duration."""
    progress(f"{message} ...")
    start = time.perf_counter()
    yield
    progress(f"{message}: done in {time.perf_counter() - start:.1f} s")


def in_flags(message, flags):
    """``message`` with the estimators' parameter names as the flags typed.

    ``flags`` maps parameter names to flags, e.g. ``{"reg_X": "--reg-X"}``;
    only whole names are replaced.
    """
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
    return message
