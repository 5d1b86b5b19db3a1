"""``python -m sklearn_l3ae``: the ``sklearn-l3ae`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
