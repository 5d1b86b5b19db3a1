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
from typing import NamedTuple

import numpy as np
from scipy import sparse

from . import torch_ops

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


def seen_entries(X_rows):
    """``(rows, columns)`` of the entries with ``X_rows[u, i] > 0``."""
    if sparse.issparse(X_rows):
        X_rows = sparse.csr_array(X_rows)
        rows = np.repeat(np.arange(X_rows.shape[0]), np.diff(X_rows.indptr))
        positive = X_rows.data > 0
        return rows[positive], X_rows.indices[positive]
    return np.nonzero(np.asarray(X_rows) > 0)


def mask_seen_inplace(scores, X_rows):
    """Set ``scores[u, i] = -inf`` wherever ``X_rows[u, i] > 0``.

    Parameters
    ----------
    scores : ndarray or torch tensor of shape (n_users, n_items), modified in place
    X_rows : {ndarray, sparse matrix} of shape (n_users, n_items)
    """
    if torch_ops.is_tensor(scores):
        return torch_ops.set_entries(scores, *seen_entries(X_rows), -np.inf)
    if sparse.issparse(X_rows):
        scores[seen_entries(X_rows)] = -np.inf
    else:
        scores[np.asarray(X_rows) > 0] = -np.inf
    return scores


def mask_scores_inplace(scores, seen, blocked, rows):
    """Set to ``-inf`` the seen items of each row and the ``blocked`` items.

    Parameters
    ----------
    scores : ndarray or torch tensor of shape (n_users, n_items), modified in place
        The scores of the users ``rows`` of ``seen``.
    seen : {ndarray, sparse matrix} of shape (n_all_users, n_items) or False
        The interactions of all users, or False to mask none.
    blocked : ndarray or tensor of item indices or bool mask, or None
        Items that score ``-inf`` in every row.
    rows : slice
        The rows of ``seen`` that ``scores`` holds.
    """
    if seen is not False:
        mask_seen_inplace(scores, seen[rows])
    if blocked is not None:
        scores[:, blocked] = -np.inf
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
        # The k-th largest as minus the k-th smallest of the negated scores:
        # NumPy's selection near the end of rows with many equal scores (the
        # zeros of a sparse model's scores) is ~10x slower than near the start.
        negated = np.negative(scores)
        negated.partition(k - 1, axis=1)
        kth = -negated[:, k - 1]
        del negated
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


class SparseScores(NamedTuple):
    """Scores of a batch of rows that are mostly zero (a sparse ``B``).

    ``matrix`` (CSR, no duplicate entries, indices in any order) holds the
    stored scores; every item not stored scores exactly 0.  ``blocked``
    (bool, one per item, or None) excludes items in every row; ``seen``
    (CSR of the batch's shape, or None) excludes the items ``seen[u, i] > 0``
    of each row (already interacted with).  Excluded items score ``-inf``.
    """

    matrix: object
    blocked: object = None
    seen: object = None

    def dense(self):
        """The scores as a dense array (``-inf`` for excluded items)."""
        scores = self.matrix.toarray()
        if self.seen is not None:
            mask_seen_inplace(scores, self.seen)
        if self.blocked is not None:
            scores[:, self.blocked] = -np.inf
        return scores


# Entries of the padded rows partitioned at once by the sparse ranking.
_PAD_ENTRIES = 2**22


def sparse_top_k(scores, k):
    """:func:`top_k` of :class:`SparseScores`, without the dense rows.

    The same ranking as ``top_k(scores.dense(), k)``: stored positive scores
    first (decreasing, ties by increasing index), then the items scoring 0
    in increasing index order, then the negative scores.  The ``k``-th best
    positive score of each row is found by a partition of its stored
    entries only; only rows that run out of positive scores look for zeros,
    one by one.
    """
    matrix, blocked, seen = scores
    n_rows, n_items = matrix.shape
    data = matrix.data.copy()
    indices = matrix.indices.astype(np.int64)
    rows = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
    if blocked is not None:
        data[blocked[indices]] = -np.inf
    seen_keys = None
    if seen is not None:
        seen = sparse.csr_array(seen)
        seen_rows = np.repeat(np.arange(n_rows), np.diff(seen.indptr))
        positive = seen.data > 0
        seen_keys = np.unique(
            seen_rows[positive] * n_items + seen.indices[positive].astype(np.int64)
        )
        keys = rows * n_items + indices
        where = np.minimum(np.searchsorted(seen_keys, keys), max(seen_keys.size - 1, 0))
        if seen_keys.size:
            data[seen_keys[where] == keys] = -np.inf
    ranked = np.full((n_rows, k), -1, dtype=np.int64)
    values = np.full((n_rows, k), -np.inf, dtype=data.dtype)
    filled = np.zeros(n_rows, dtype=np.int64)
    _place_best(ranked, values, filled, rows, indices, data, data > 0)
    short = np.flatnonzero(filled < k)
    if short.size == 0:
        return ranked, values
    occupied = data != 0  # stored nonzero or excluded: not a zero score
    for row in short.tolist():
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        taken = indices[start:stop][occupied[start:stop]]
        if seen_keys is not None:
            low, high = np.searchsorted(seen_keys, [row * n_items, (row + 1) * n_items])
            taken = np.concatenate([taken, seen_keys[low:high] - row * n_items])
        zeros = _first_zero_items(taken, k - filled[row], n_items, blocked)
        ranked[row, filled[row] : filled[row] + zeros.size] = zeros
        values[row, filled[row] : filled[row] + zeros.size] = 0
        filled[row] += zeros.size
    still = filled < k
    if still.any():
        negative = (data < 0) & (data > -np.inf) & still[rows]
        _place_best(ranked, values, filled, rows, indices, data, negative)
    return ranked, values


def _place_best(ranked, values, filled, rows, indices, data, chosen):
    """Append to each row of ``ranked``/``values`` (after its ``filled``
    slots, updated in place) its best ``chosen`` entries, decreasing, ties
    by the lower index.

    ``rows`` is nondecreasing (CSR order).  Rows with more candidates than
    free slots are cut at their ``need``-th best value (a partition of the
    padded rows, in chunks); ties at the cut go to the lower indices.  Only
    the kept entries, at most ``k`` per row, are sorted.
    """
    n_rows, k = ranked.shape
    rows, indices, data = rows[chosen], indices[chosen], data[chosen]
    need = k - filled
    counts = np.bincount(rows, minlength=n_rows)
    over = np.flatnonzero(counts > need)
    if over.size:
        starts = np.cumsum(counts) - counts
        threshold = np.full(n_rows, -np.inf, dtype=data.dtype)
        threshold[over] = _kth_largest(data, starts, counts, need, over)
        cut = threshold[rows]
        keep = data > cut
        # Free slots left at the cut per row go to the lowest tied indices.
        room = need - np.bincount(rows[keep], minlength=n_rows)
        tied = np.flatnonzero(data == cut)
        tied = tied[np.lexsort((indices[tied], rows[tied]))]
        tied_rows = rows[tied]
        tie_counts = np.bincount(tied_rows, minlength=n_rows)
        tie_rank = np.arange(tied.size) - np.repeat(
            np.cumsum(tie_counts) - tie_counts, tie_counts
        )
        keep[tied[tie_rank < room[tied_rows]]] = True
        rows, indices, data = rows[keep], indices[keep], data[keep]
    order = np.lexsort((indices, -data, rows))
    rows, indices, data = rows[order], indices[order], data[order]
    counts = np.bincount(rows, minlength=n_rows)
    rank = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = filled[rows] + rank
    ranked[rows, slot] = indices
    values[rows, slot] = data
    filled += counts


def _kth_largest(data, starts, counts, need, rows):
    """The ``need[r]``-th largest of ``data[starts[r] : starts[r] + counts[r]]``
    for each of ``rows`` (all with ``counts > need``): the rows padded into
    a dense block and partitioned, a chunk of rows at a time."""
    out = np.empty(rows.size, dtype=data.dtype)
    begin = 0
    while begin < rows.size:
        width = int(counts[rows[begin]])
        end = begin + 1
        # Grow the chunk while its padded size stays within budget.
        while end < rows.size:
            wider = max(width, int(counts[rows[end]]))
            if (end + 1 - begin) * wider > _PAD_ENTRIES:
                break
            width = wider
            end += 1
        chunk = rows[begin:end]
        lengths = counts[chunk]
        local = np.repeat(np.arange(chunk.size), lengths)
        position = np.arange(local.size) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        padded = np.full((chunk.size, width), np.inf, dtype=data.dtype)
        # Negated: ascending order is best first, padding last.
        padded[local, position] = -data[np.repeat(starts[chunk], lengths) + position]
        wanted = need[chunk] - 1
        if np.all(wanted == wanted[0]):
            kth = np.partition(padded, int(wanted[0]), axis=1)[:, int(wanted[0])]
        else:
            kth = np.sort(padded, axis=1)[np.arange(chunk.size), wanted]
        out[begin:end] = -kth
        begin = end
    return out


def _first_zero_items(taken, need, n_items, blocked):
    """The ``need`` lowest items that are neither ``taken`` nor blocked."""
    found = []
    excluded = np.zeros(0, dtype=np.int64) if taken.size == 0 else np.unique(taken)
    start, chunk = 0, max(2 * need, 64)
    while start < n_items and sum(part.size for part in found) < need:
        items = np.arange(start, min(start + chunk + excluded.size, n_items))
        keep = ~np.isin(items, excluded, assume_unique=True)
        if blocked is not None:
            keep &= ~blocked[items]
        found.append(items[keep])
        start = items[-1] + 1 if items.size else n_items
        chunk *= 2
    return np.concatenate(found)[:need] if found else np.zeros(0, np.int64)


def rank_rows(row_scores, n_rows, n_items, k, *, step, dtype):
    """The ``k`` best items of every row, best first, in batches of ``step`` rows.

    The single ranking loop of the package: ``row_scores(start, stop)``
    returns the dense scores of rows ``start:stop`` (a writeable array of
    shape (stop - start, n_items), ``-inf`` for items that must not be
    ranked), or for sparse models their :class:`SparseScores`, or with
    ``device`` a torch tensor on it (selected there by
    :func:`~.torch_ops.top_k`), and only their top ``k`` are kept.

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
        batch = row_scores(start, stop)
        if isinstance(batch, SparseScores):
            select = sparse_top_k
        elif torch_ops.is_tensor(batch):
            select = torch_ops.top_k
        else:
            select = top_k
        items[start:stop, :kept], scores[start:stop, :kept] = select(batch, kept)
    return items, scores


def dense_rows(batch):
    """A batch of ``row_scores`` as a dense NumPy array, whatever its form."""
    if isinstance(batch, SparseScores):
        return batch.dense()
    if torch_ops.is_tensor(batch):
        return torch_ops.to_numpy(batch)
    return batch
