"""Between long tables of interactions and the users x items matrix.

A recommender reads a users x items matrix ``X``; interactions usually come
as a long table, one row per (user, item[, weight]).
:func:`interactions_from_frame` builds the sparse matrix and the ids of its
rows and columns from such a table (any frame with columns: pandas or
pyarrow, a dict of arrays), and :func:`recommendations_to_frame` turns
recommendations back into a long table.  The dataset loaders build their
matrices with the same functions.
"""

import numpy as np
from scipy import sparse
from sklearn.utils import Bunch

from .._core.optional import import_optional

_IDS_SHOWN = 5


def as_ids(values, what="ids"):
    """``values`` as ids: integers as int64, anything else as ``str``."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind in "bfc":
        raise ValueError(
            f"{what} must be str or int, got {values.dtype} values (e.g. "
            f"{values[:1].tolist()}); convert them, e.g. with astype(str)."
        )
    return values if values.dtype.kind == "U" else values.astype(str)


def factorize(values):
    """Sorted distinct values and each value's index in them (ids of as_ids)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        uniques, codes = np.unique(values, return_inverse=True)
        return uniques, codes.astype(np.int64)
    uniques = sorted(dict.fromkeys(values.tolist()))
    position = {value: i for i, value in enumerate(uniques)}
    codes = np.fromiter(
        map(position.__getitem__, values.tolist()), dtype=np.int64, count=len(values)
    )
    return np.array(uniques, dtype=str), codes


def latest_row_per_pair(user_codes, item_codes, n_items, order_key=None):
    """Index of the row kept for each distinct (user, item) pair, pair-sorted.

    The kept row is the one with the largest ``order_key`` (a timestamp)
    and, among equal keys (or without them), the last one.
    """
    pair = user_codes * n_items + item_codes
    # Sorting by pair, then key, then (stable sort) position puts the row to
    # keep last in each run of equal pairs.
    order = np.lexsort((pair,) if order_key is None else (order_key, pair))
    pair = pair[order]
    return order[np.append(pair[1:] != pair[:-1], True)]


def sorted_csr(values, rows, cols, shape):
    """csr_array of already (row, col)-sorted, distinct entries, kept as given
    (an explicit 0 stays stored)."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    index_dtype = np.int32 if max(shape[1], rows.size) < 2**31 else np.int64
    return sparse.csr_array(
        (values, cols.astype(index_dtype), indptr.astype(index_dtype)), shape=shape
    )


def _column(frame, name, role):
    """Column ``name`` of ``frame`` as an array, or a clear error."""
    try:
        values = frame[name]
    except (KeyError, IndexError, TypeError, ValueError):
        columns = getattr(frame, "columns", None)
        if columns is None and hasattr(frame, "keys"):
            columns = list(frame.keys())
        shown = "" if columns is None else f"; its columns are {list(columns)}"
        raise ValueError(
            f"The frame has no {role} column {name!r}{shown}: pass "
            f"{role}_col=... naming it."
        ) from None
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"The {role} column {name!r} must be 1-D.")
    return values


def _position_in(ids, catalogue, what):
    """Index of each of ``ids`` in ``catalogue``, or an error naming strays."""
    catalogue = np.asarray(catalogue)
    if (catalogue.dtype.kind == "i") != (np.asarray(ids).dtype.kind == "i"):
        raise ValueError(
            f"The frame's {what} ids and the {what}_ids given are not of the same "
            f"kind (one holds integers, the other not); convert one of them."
        )
    order = np.argsort(catalogue, kind="stable")
    sorted_catalogue = catalogue[order]
    if np.any(sorted_catalogue[1:] == sorted_catalogue[:-1]):
        raise ValueError(f"{what}_ids must be unique.")
    found = np.searchsorted(sorted_catalogue, ids)
    found = np.minimum(found, len(catalogue) - 1)
    missing = sorted_catalogue[found] != ids
    if missing.any():
        strays = np.unique(np.asarray(ids)[missing])
        shown = ", ".join(repr(v) for v in strays[:_IDS_SHOWN].tolist())
        raise ValueError(
            f"{strays.size} {what} id(s) of the frame are not in {what}_ids: "
            f"{shown}{', ...' if strays.size > _IDS_SHOWN else ''}."
        )
    return order[found]


def interactions_from_frame(
    frame,
    *,
    user_col="user_id",
    item_col="item_id",
    weight_col=None,
    item_ids=None,
):
    """The users x items matrix of a long table of interactions.

    One row of ``frame`` per interaction, ``user_col`` and ``item_col``
    naming the user and the item, and ``weight_col`` (optional) its value.
    Users become rows and items columns, in sorted id order (items in the
    order of ``item_ids`` when given); a (user, item) pair repeated in the
    frame keeps its last row.  The matrix is built sparse, never dense.

    Parameters
    ----------
    frame : DataFrame or mapping of columns
        A pandas or pyarrow table, or a dict of arrays.
    user_col, item_col : str, default="user_id", "item_id"
        The columns holding the ids (str or int).
    weight_col : str, default=None
        The column of interaction values (e.g. a rating); ``None`` gives 1
        for every interaction, the implicit feedback of the L3AE paper.
    item_ids : array-like of shape (n_items,), default=None
        The item catalogue, in the column order wanted: items without
        interactions get empty columns (cold items, reachable through their
        texts), an item of the frame outside it is an error.  ``None``:
        the items of the frame, sorted.

    Returns
    -------
    data : Bunch
        ``X`` (``scipy.sparse.csr_array`` of float32, n_users x n_items),
        ``user_ids`` (the id of each row) and ``item_ids`` (of each column),
        ready for ``Recommender(item_ids=data.item_ids).fit(data.X)``.

    See Also
    --------
    recommendations_to_frame : Recommendations back to a long table.
    load_folder : Loads a folder of CSV files into the same Bunch.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_l3ae.datasets import interactions_from_frame
    >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"],
    ...                       "item_id": [20, 10, 30]})
    >>> data = interactions_from_frame(frame)
    >>> data.X.toarray()
    array([[1., 1., 0.],
           [0., 0., 1.]], dtype=float32)
    >>> data.user_ids.tolist(), data.item_ids.tolist()
    (['u1', 'u2'], [10, 20, 30])
    """
    users = _column(frame, user_col, "user")
    items = _column(frame, item_col, "item")
    if len(users) != len(items):  # pragma: no cover - a frame's columns align
        raise ValueError("The user and item columns differ in length.")
    if weight_col is None:
        weights = np.ones(len(users), dtype=np.float32)
    else:
        weights = _column(frame, weight_col, "weight")
        try:
            weights = weights.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"The weight column {weight_col!r} must hold numbers: {exc}"
            ) from None
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(
                f"The weight column {weight_col!r} must hold finite non-negative "
                "numbers (interaction values)."
            )
    if len(users) == 0:
        raise ValueError("The frame holds no interactions.")
    user_ids, user_codes = factorize(as_ids(users, "user ids"))
    items = as_ids(items, "item ids")
    if item_ids is None:
        item_ids, item_codes = factorize(items)
    else:
        item_ids = as_ids(item_ids, "item_ids")
        if item_ids.ndim != 1:
            raise ValueError("item_ids must be a 1-D sequence of item ids.")
        item_codes = _position_in(items, item_ids, "item")
    kept = latest_row_per_pair(user_codes, item_codes, len(item_ids))
    X = sorted_csr(
        weights[kept],
        user_codes[kept],
        item_codes[kept],
        (len(user_ids), len(item_ids)),
    )
    return Bunch(X=X, user_ids=user_ids, item_ids=item_ids)


def recommendations_to_frame(
    items, scores, user_ids, *, user_col="user_id", item_col="item_id"
):
    """Recommendations (``recommend``'s items and scores) as a long table.

    One row per recommended item: the user, its rank (1 = best), the item
    and its score, users in the order of ``user_ids`` and items best first.
    Padded slots (score ``-inf``: fewer unseen items than asked for) are
    left out.

    Parameters
    ----------
    items, scores : ndarray of shape (n_users, n)
        What :meth:`~sklearn_l3ae.recommenders.BaseRecommender.recommend`
        returns for these users.
    user_ids : array-like of shape (n_users,)
        The id of each user (each row of ``items``).
    user_col, item_col : str, default="user_id", "item_id"
        Names of the user and item columns.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``user_col``, ``rank``, ``item_col``, ``score``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.datasets import recommendations_to_frame
    >>> items = np.array([["b", "c"], ["a", ""]])
    >>> scores = np.array([[0.9, 0.5], [0.7, -np.inf]])
    >>> recommendations_to_frame(items, scores, ["u1", "u2"])
      user_id  rank item_id  score
    0      u1     1       b    0.9
    1      u1     2       c    0.5
    2      u2     1       a    0.7
    """
    pd = import_optional(
        "pandas",
        "recommendations_to_frame returns a pandas DataFrame: install pandas "
        '(pip install "sklearn-l3ae[pandas]").',
    )

    items, scores = np.asarray(items), np.asarray(scores)
    if items.ndim == 1:  # one user's row, as recommend returns it
        items, scores = items[None], scores[None]
    user_ids = np.asarray(user_ids)
    if items.shape != scores.shape or items.ndim != 2:
        raise ValueError(
            f"items and scores must be recommend's (n_users, n) arrays; got shapes "
            f"{items.shape} and {scores.shape}."
        )
    if user_ids.shape != (items.shape[0],):
        raise ValueError(
            f"user_ids must hold one id per row of items ({items.shape[0]}); got "
            f"shape {user_ids.shape}."
        )
    kept = np.isfinite(scores) | (scores == np.inf)
    rows, ranks = np.nonzero(kept)
    return pd.DataFrame(
        {
            user_col: user_ids[rows],
            "rank": ranks + 1,
            item_col: items[rows, ranks],
            "score": scores[rows, ranks],
        }
    )
