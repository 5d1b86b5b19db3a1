"""Input checks and small array utilities shared by every layer.

They know no estimator: an ``owner`` argument names the caller in messages.
"""

from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_array


def float_vector_or_none(values):
    """``values`` as a 1-D float64 array, or None if they are not one.

    None for values NumPy cannot turn into numbers (or a ragged sequence)
    and for any other number of dimensions than 1: callers say why.
    """
    try:
        vector = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):  # not numbers, or ragged
        return None
    return vector if vector.ndim == 1 else None


def check_float_dtype(dtype, name="dtype"):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(
            f"The '{name}' parameter must be np.float32 or np.float64, got {dtype!r}."
        ) from exc
    if resolved not in (np.float32, np.float64):
        raise ValueError(
            f"The '{name}' parameter must be np.float32 or np.float64, got {dtype!r}."
        )
    return resolved


def check_k(k, name="k"):
    """Return ``int(k)`` if ``k`` is an integer >= 1, else raise."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {k!r}.")
    return int(k)


def check_storable(values, input_name):
    """``values`` checked as numbers that ``scipy.sparse`` can store.

    Strings and complex numbers are refused (scikit-learn's messages),
    object arrays of numbers converted, float16 widened to float32.
    """
    values = check_array(
        values, accept_sparse="csr", dtype="numeric", input_name=input_name
    )
    return values.astype(np.float32) if values.dtype == np.float16 else values


def all_finite(values):
    """Whether ``values`` holds no NaN or inf.

    Two reductions (NaN propagates through min and max) instead of an
    ``isfinite`` temporary, which for n x n weights would be a quarter of
    their size.
    """
    return values.size == 0 or bool(np.isfinite([values.min(), values.max()]).all())


def check_number_vector(values, length, what, unit, *, non_negative=False):
    """``values`` as a float64 vector of ``length`` finite numbers.

    ``what`` names the values in the errors (``"item_weights"``) and
    ``unit`` what each one belongs to (``"item"``); with ``non_negative``
    negative values are refused too.
    """
    array = np.asarray(values)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise ValueError(
            f"{what} must be numbers, one per {unit}; got dtype {array.dtype}."
        )
    if array.shape != (length,):
        raise ValueError(
            f"{what} must have shape ({length},), one value per {unit}; got shape "
            f"{array.shape}."
        )
    array = array.astype(np.float64)
    bad = ~np.isfinite(array) | ((array < 0) if non_negative else False)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        kind = "finite and non-negative" if non_negative else "finite"
        raise ValueError(f"{what} must be {kind}; {unit} {index} has {array[index]!r}.")
    return array


def ndim_or_none(values):
    """``np.ndim(values)``, or None when NumPy cannot make an array of them."""
    try:
        return np.ndim(values)
    except ValueError:  # a ragged nested sequence: validate_data will say so
        return None


def label_array(item_ids, n_items, owner):
    """``item_ids`` as a 1-D array of unique str or int labels, one per item."""
    # A list of mixed ints and strs would silently become all str.
    ids = (
        item_ids
        if isinstance(item_ids, np.ndarray)
        else np.asarray(item_ids, dtype=object)
    )
    if ids.dtype == object:
        values = ids.ravel().tolist()
        if all(isinstance(value, str) for value in values):
            ids = ids.astype(str)
        elif all(
            isinstance(value, Integral) and not isinstance(value, bool)
            for value in values
        ):
            ids = ids.astype(np.int64)
    if ids.ndim != 1 or ids.dtype.kind not in "iuU":
        raise ValueError(
            f"{owner}'s item_ids must be a 1-D sequence of str or int labels, "
            f"one per item column of X; got {ids.ndim}-D values of dtype {ids.dtype}."
        )
    if len(ids) != n_items:
        raise ValueError(
            f"item_ids has {len(ids)} entries but X has {n_items} item columns; "
            "pass one label per item column of X, in column order."
        )
    labels, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"item_ids must be unique, but {labels[counts > 1][0].item()!r} appears "
            f"{counts[counts > 1][0]} times."
        )
    return ids


def item_popularity(X):
    """Number of users with a positive interaction, per item (int64)."""
    if sparse.issparse(X):
        return np.asarray((X > 0).sum(axis=0)).ravel().astype(np.int64)
    return (np.asarray(X) > 0).sum(axis=0).astype(np.int64)


def entry_positions(matrix, rows, cols):
    """Index into ``matrix.data`` of each (row, col) pair, -1 where not stored.

    ``matrix`` must be canonical CSR (sorted indices, no duplicates) and the
    pairs inside its shape.
    """
    n_rows, n_cols = matrix.shape
    stored_rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(matrix.indptr))
    # Canonical CSR lists its entries in increasing row-major position, so
    # finding a pair is a binary search over these flat positions.
    stored = stored_rows * n_cols + matrix.indices
    wanted = np.asarray(rows, dtype=np.int64) * n_cols + cols
    position = np.searchsorted(stored, wanted)
    found = position < stored.size
    found[found] = stored[position[found]] == wanted[found]
    return np.where(found, position, -1)
