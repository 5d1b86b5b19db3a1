"""Optional dependencies: imported when first needed, with install advice."""

import importlib


def import_optional(name, advice):
    """Import and return module ``name``; an ImportError saying ``advice``.

    Parameters
    ----------
    name : str
        The module, e.g. ``"faiss"``.
    advice : str
        What needs it and how to install it: the whole message of the error.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(advice) from exc
