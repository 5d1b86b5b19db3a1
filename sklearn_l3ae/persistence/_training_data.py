"""The training data a model file may hold beside the model.

The command line stores, as extras of :func:`~sklearn_l3ae.save`, what it
needs to recommend for and explain to the training users later:

* ``X``: the training interactions, a sparse matrix (one row per user, one
  column per item of the model);
* ``user_ids``: one label per row of ``X``;
* ``item_titles`` (optional): one title per item column.

This module owns that schema: the extras to write, and the check on load that
they are there and fit the model and each other.
"""

import numpy as np
from scipy import sparse

REQUIRED = ("X", "user_ids")


def training_data_extras(X, user_ids, item_titles=None):
    """The extras that store training data ``X``, ``user_ids``, ``item_titles``."""
    extras = {
        "X": sparse.csr_array(X),
        "user_ids": np.asarray(user_ids, dtype=str),
    }
    if item_titles is not None:
        extras["item_titles"] = np.asarray(item_titles, dtype=str)
    return extras


def missing_training_data(extras):
    """The names of the required training-data extras absent from ``extras``."""
    return [name for name in REQUIRED if name not in extras]


def check_training_data(extras, n_items):
    """A ValueError naming every way ``extras`` do not fit a model of
    ``n_items`` items or each other (call after :func:`missing_training_data`
    found none missing)."""
    X, user_ids = extras["X"], extras["user_ids"]
    titles = extras.get("item_titles")
    problems = []
    if not sparse.issparse(X) or X.shape[1] != n_items:
        problems.append(
            f"X is a {type(X).__name__} of shape {np.shape(X)}, expected a sparse "
            f"matrix with {n_items} columns"
        )
    elif X.dtype.kind not in "biuf":
        problems.append(f"X holds {X.dtype}, expected numbers")
    elif not np.isfinite(X.data).all():
        problems.append("X holds NaN or inf, expected interaction values")
    elif np.shape(user_ids) != (X.shape[0],):
        problems.append(
            f"user_ids has shape {np.shape(user_ids)}, expected ({X.shape[0]},)"
        )
    if titles is not None and np.shape(titles) != (n_items,):
        problems.append(
            f"item_titles has shape {np.shape(titles)}, expected ({n_items},)"
        )
    if problems:
        raise ValueError(
            "the training data stored with the model is corrupt: " + "; ".join(problems)
        )
