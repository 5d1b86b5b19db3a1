"""Top-k selection and seen-item masking shared by estimators and metrics.

Tie rule (documented in the user guide and relied upon by the metrics): items
are ordered by decreasing score, and items with equal scores by increasing
column index.  Items scored ``-inf`` (already seen) are never returned; when a
row has fewer than ``k`` finite-or-``+inf`` candidates the remaining positions
hold ``-1``.
"""

import numpy as np
from scipy import sparse


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


def top_k_indices(scores, k):
    """Column indices of the ``k`` best scores of each row, best first.

    The indices of :func:`top_k`; see there.
    """
    return top_k(scores, k)[0]


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
