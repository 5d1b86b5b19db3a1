"""Top-k ranking: seen-item masking, top-k selection, the one batched loop.

Every ranking of the package — ``predict``, ``recommend``,
``similar_items``, ``score``, the scorers, ``evaluate`` and the metric
functions given scores — runs through :func:`rank_rows`, with batches sized
by :func:`batch_rows`.

Tie rule (documented in the user guide and relied upon by the metrics): items
are ordered by decreasing score, and items with equal scores by increasing
column index.  Items scored ``-inf`` (already seen, or excluded) are never
returned; when a row has fewer than ``k`` finite-or-``+inf`` candidates the
remaining positions hold ``-1`` and the score ``-inf``.
"""

from numbers import Integral

import numpy as np
from scipy import sparse

# Rows are ranked in batches of about this many bytes of dense scores.
SCORE_BATCH_BYTES = 64 * 2**20


def batch_rows(n_items, itemsize, batch_size=None):
    """Rows per ranking batch: ``batch_size``, else about 64 MiB of scores.

    Parameters
    ----------
    n_items : int
        Scores per row.
    itemsize : int
        Bytes per score.
    batch_size : int or None
        An explicit number of rows (a positive int), or None for the rule.
    """
    if batch_size is None:
        return max(1, SCORE_BATCH_BYTES // max(1, n_items * itemsize))
    if (
        not isinstance(batch_size, Integral)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive integer (users per scoring batch) "
            f"or None, got {batch_size!r}."
        )
    return int(batch_size)


def mask_seen_inplace(scores, X_rows):
    """Set ``scores[u, i] = -inf`` wherever ``X_rows[u, i] > 0``.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items), modified in place
    X_rows : {ndarray, sparse matrix} of shape (n_users, n_items)
    """
    if sparse.issparse(X_rows):
        X_rows = sparse.csr_array(X_rows)
        rows = np.repeat(np.arange(X_rows.shape[0]), np.diff(X_rows.indptr))
        positive = X_rows.data > 0
        scores[rows[positive], X_rows.indices[positive]] = -np.inf
    else:
        scores[np.asarray(X_rows) > 0] = -np.inf
    return scores


def top_k(scores, k):
    """Column indices and values of the ``k`` best scores of each row, best first.

    Selection uses ``argpartition`` (O(n_items) per row, no full sort); only
    the ``k`` selected entries are sorted.  Ties follow the module's rule
    (lower column index first), also at the selection boundary.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)
        May contain ``-inf`` for excluded items; must not contain NaN.
    k : int
        1 <= k <= n_items.

    Returns
    -------
    indices : ndarray of shape (n_rows, k), dtype int64
        ``-1`` where a row has fewer than ``k`` items scored above ``-inf``.
    values : ndarray of shape (n_rows, k), dtype of ``scores``
        The scores of ``indices``; ``-inf`` where ``indices`` is ``-1``.
    """
    scores = np.asarray(scores)
    n_rows, n_items = scores.shape
    if n_rows == 0:
        return np.empty((0, k), dtype=np.int64), np.empty((0, k), dtype=scores.dtype)
    if k < n_items:
        kth = np.partition(scores, n_items - k, axis=1)[:, n_items - k]
        above = scores > kth[:, None]
        at = scores == kth[:, None]
        # Of the items tied with the k-th score, keep the lowest indices; only
        # rows with more ties than free slots need the running count.
        needed = k - above.sum(axis=1)
        crowded = np.flatnonzero(at.sum(axis=1) > needed)
        at[crowded] &= np.cumsum(at[crowded], axis=1) <= needed[crowded, None]
        candidates = np.nonzero(above | at)[1].reshape(n_rows, k)
    else:
        candidates = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    # A stable sort on -score keeps equal scores in increasing index order,
    # because candidates are listed in increasing index order.
    order = np.argsort(-candidate_scores, axis=1, kind="stable")
    ranked = np.take_along_axis(candidates, order, axis=1).astype(np.int64)
    ranked_scores = np.take_along_axis(candidate_scores, order, axis=1)
    ranked[ranked_scores == -np.inf] = -1
    return ranked, ranked_scores


def rank_rows(row_scores, n_rows, n_items, k, *, step, dtype):
    """The ``k`` best items of every row, best first, in batches of ``step`` rows.

    The single ranking loop of the package: ``row_scores(start, stop)``
    returns the dense scores of rows ``start:stop`` (a writeable array of
    shape (stop - start, n_items), ``-inf`` for items that must not be
    ranked), and only their top ``k`` are kept.

    Parameters
    ----------
    row_scores : callable
        ``row_scores(start, stop) -> ndarray``.
    n_rows, n_items : int
    k : int
        Positions per row, >= 1; positions beyond ``n_items`` are padding.
    step : int
        Rows per batch (see :func:`batch_rows`).
    dtype : numpy dtype
        Of the returned scores.

    Returns
    -------
    items : ndarray of shape (n_rows, k), dtype int64
        Column indices, ``-1`` in padded slots.
    scores : ndarray of shape (n_rows, k)
        Their scores, ``-inf`` in padded slots.
    """
    items = np.full((n_rows, k), -1, dtype=np.int64)
    scores = np.full((n_rows, k), -np.inf, dtype=dtype)
    kept = min(k, n_items)
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        items[start:stop, :kept], scores[start:stop, :kept] = top_k(
            row_scores(start, stop), kept
        )
    return items, scores
