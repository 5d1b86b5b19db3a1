"""The Gram matrix ``G = XᵀX`` of a support-constrained fit, in pieces.

A support-constrained fit (SPEC §7) needs, for every column ``j``, the
entries of ``G`` on ``S'_j × S'_j`` (``S'_j = S_j ∪ {j}``) and the
strongest co-occurrence neighbours of ``j``; never a dense ``G``.  One pass
over column blocks of ``G`` (:func:`stream_gram`, each block
``X[:, J]ᵀ X`` as sparse rows) gives:

* the co-occurrence candidates of every column (largest cosine
  ``G[i, j] / sqrt(G[i, i] G[j, j])``);
* ``diag(G)``;
* the dense ``G[H, H]`` of the *hubs* ``H``, the items whose columns of
  ``G`` are longest (popular items co-occur with most of the catalogue);
* the sparse columns of ``G`` of every other item.

Every entry of ``G`` is then in one of the two stores: both indices hubs,
in ``hub_gram``; otherwise in the column of the non-hub one.  The hubs'
own (near-dense) columns are never stored.  :func:`block_gram` assembles,
for a block of columns, the dense ``G[U, U]`` of the union ``U`` of their
supports; :func:`column_systems` cuts each column's system out of it.
"""

from typing import NamedTuple

import numpy as np
from scipy import sparse

# Stored entries of one block of G rows in the streamed pass.
_BLOCK_ENTRIES = 2**22
# At most this many hubs (their dense Gram is HUBS² entries).
MAX_HUBS = 4096


class SparseGram(NamedTuple):
    """``G = XᵀX`` split into the dense hub block and sparse columns.

    Attributes
    ----------
    diagonal : ndarray of shape (n_items,), float64
        ``diag(G)``.
    hubs : ndarray of shape (n_hubs,), int64
        The hub items, increasing.
    hub_position : ndarray of shape (n_items,), int64
        Position of each item in ``hubs``, ``-1`` for the others.
    hub_gram : ndarray of shape (n_hubs, n_hubs)
        ``G[hubs, hubs]``.
    columns : csc_array of shape (n_items, n_items)
        ``G[:, j]`` for every non-hub ``j`` (all rows, hubs included);
        the columns of hubs are empty.
    """

    diagonal: np.ndarray
    hubs: np.ndarray
    hub_position: np.ndarray
    hub_gram: np.ndarray
    columns: object

    @property
    def n_items(self):
        return self.diagonal.shape[0]


def column_entry_bounds(X):
    """An upper bound of the stored entries of each column of ``XᵀX``.

    ``Σ_{u: x_uj ≠ 0} |x_u|``: the lengths of the histories of the users of
    item ``j`` (exact when no two of them share another item).

    Parameters
    ----------
    X : sparse matrix of shape (n_users, n_items), CSR

    Returns
    -------
    bounds : ndarray of shape (n_items,), int64
    """
    X = sparse.csr_array(X)
    lengths = np.diff(X.indptr).astype(np.int64)
    pattern = sparse.csr_array(
        (np.ones(X.nnz, dtype=np.int64), X.indices, X.indptr), shape=X.shape
    )
    return np.asarray(pattern.T @ lengths, dtype=np.int64)


def choose_hubs(bounds, n_hubs=MAX_HUBS, itemsize=4):
    """The items with the longest columns of ``G`` (by ``bounds``), at most
    ``n_hubs``: those among the ``n_hubs`` longest whose sparse column
    (value and int32 index per entry) would take more memory than their
    row of the dense hub block (``n_hubs`` values)."""
    n_hubs = min(n_hubs, bounds.shape[0])
    order = np.argsort(-bounds, kind="stable")[:n_hubs]
    order = order[bounds[order] * (itemsize + 4) > n_hubs * itemsize]
    return np.sort(order).astype(np.int64)


def _top_per_row(indptr, indices, values, k):
    """The ``k`` largest positive values of each CSR row, best first.

    Values are compared in float32 (exact for counts below 2²⁴); ties go to
    the lower index.  One stable sort of a 64-bit key (row, then the
    decreasing float32 bit pattern, which orders positive floats) instead
    of a three-key lexsort: about 4x faster on blocks of 10⁶ entries.
    Rows with fewer positive values are padded with ``-1``.
    """
    n_rows = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n_rows, dtype=np.uint64), np.diff(indptr))
    keep = values > 0
    rows, indices = rows[keep], indices[keep]
    bits = values[keep].astype(np.float32).view(np.uint32).astype(np.uint64)
    key = (rows << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - bits)
    # Stable: equal keys keep the CSR order, increasing index.
    order = np.argsort(key, kind="stable")
    rows = rows[order].astype(np.int64)
    counts = np.bincount(rows, minlength=n_rows)
    rank = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
    kept = rank < k
    out = np.full((n_rows, k), -1, dtype=np.int32)
    out[rows[kept], rank[kept]] = indices[order[kept]]
    return out


def stream_gram(
    X, n_candidates, hubs, dtype=np.float32, block_entries=_BLOCK_ENTRIES, bounds=None
):
    """One pass over column blocks of ``G = XᵀX``: candidates and stores.

    Parameters
    ----------
    X : sparse matrix of shape (n_users, n_items)
        Interactions, in the precision of the fit.
    n_candidates : int
        Co-occurrence candidates kept per column.
    hubs : ndarray of int
        The hub items (:func:`choose_hubs`).
    dtype : numpy dtype, default=np.float32
        Precision of the stored entries.
    block_entries : int
        Stored entries of ``G`` computed at once (bounded with
        :func:`column_entry_bounds`; a single column may exceed it).
    bounds : ndarray of int64, default=None
        :func:`column_entry_bounds` of ``X`` when the caller has them
        (computed here otherwise).

    Returns
    -------
    gram : SparseGram
    candidates : ndarray of shape (n_items, n_candidates), int32
        For column ``j``, the items ``i ≠ j`` with ``G[i, j] > 0`` and the
        largest ``G[i, j] / sqrt(G[i, i])`` (the cosine of the columns of
        ``X``), best first (ties: lower index), ``-1`` padded.
    """
    dtype = np.dtype(dtype)
    X = sparse.csr_array(X)
    n_items = X.shape[1]
    X_columns = X.tocsc()
    if bounds is None:
        bounds = column_entry_bounds(X)
    hubs = np.asarray(hubs, dtype=np.int64)
    hub_position = np.full(n_items, -1, dtype=np.int64)
    hub_position[hubs] = np.arange(hubs.size)
    is_hub = hub_position >= 0
    # Candidates are ranked by G[i, j] / sqrt(G[i, i]) in column j, i.e. by
    # the cosine of the item columns of X: raw counts favour popular items,
    # whose EASE weights are small (the dense B's squared mass captured by
    # 256 candidates: 0.41 instead of 0.26 on ml-1m, 0.60 instead of 0.52
    # on ml-100k).
    diagonal_sums = np.asarray(
        X_columns.multiply(X_columns).sum(axis=0), dtype=np.float64
    ).ravel()
    # Items without interactions never appear as candidates (no entries).
    scale = np.zeros(n_items)
    np.divide(1.0, np.sqrt(diagonal_sums), out=scale, where=diagonal_sums > 0)
    hub_gram = np.zeros((hubs.size, hubs.size), dtype=dtype)
    diagonal = np.zeros(n_items, dtype=np.float64)
    candidates = np.empty((n_items, n_candidates), dtype=np.int32)
    # The non-hub columns written in place into arrays sized by the bounds
    # (shrunk at the end): no list of blocks to concatenate, which would
    # hold the whole sparse G twice.
    capacity = int(bounds[~is_hub].sum())
    index_dtype = np.int32 if capacity < 2**31 else np.int64
    indices = np.empty(capacity, dtype=np.int32)
    data = np.empty(capacity, dtype=dtype)
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    stored = 0
    cumulative = np.cumsum(bounds)
    start = 0
    while start < n_items:
        done = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, done + block_entries, side="right"))
        stop = min(n_items, max(stop, start + 1))
        # Rows of G for the block's columns (G is symmetric): X[:, J]ᵀ X.
        rows = sparse.csr_array(X_columns[:, start:stop].T @ X)
        rows.sum_duplicates()
        lengths = np.diff(rows.indptr)
        owner = np.repeat(np.arange(start, stop), lengths)
        own = rows.indices == owner
        diagonal[owner[own]] = rows.data[own]
        values = np.where(own, 0, rows.data * scale[rows.indices])
        candidates[start:stop] = _top_per_row(
            rows.indptr, rows.indices, values, n_candidates
        )
        both_hubs = is_hub[owner] & is_hub[rows.indices]
        hub_gram[
            hub_position[rows.indices[both_hubs]], hub_position[owner[both_hubs]]
        ] = rows.data[both_hubs]
        kept = ~is_hub[owner]
        kept_lengths = np.where(is_hub[start:stop], 0, lengths)
        indptr[start + 1 : stop + 1] = stored + np.cumsum(kept_lengths)
        count = int(kept_lengths.sum())
        indices[stored : stored + count] = rows.indices[kept]
        data[stored : stored + count] = rows.data[kept]
        stored += count
        start = stop
    # Shrink in place (realloc): the bounds count shared items once per user.
    indices.resize(stored, refcheck=False)
    data.resize(stored, refcheck=False)
    columns = sparse.csc_array(
        (data, indices.astype(index_dtype, copy=False), indptr.astype(index_dtype)),
        shape=(n_items, n_items),
    )
    gram = SparseGram(diagonal, hubs, hub_position, hub_gram, columns)
    return gram, candidates


def block_gram(gram, union):
    """The dense ``G[U, U]`` of the items ``union``, hubs first.

    Parameters
    ----------
    gram : SparseGram
    union : ndarray of int
        Distinct items.

    Returns
    -------
    items : ndarray of shape (u,), int64
        ``union`` reordered: its hubs, then the others.
    block : ndarray of shape (u + 1, u + 1)
        ``G[items, items]``, with one more all-zero row and column (index
        ``u``) for the padding of shorter supports.
    """
    union = np.asarray(union, dtype=np.int64)
    hub_mask = gram.hub_position[union] >= 0
    hubs, others = union[hub_mask], union[~hub_mask]
    items = np.concatenate([hubs, others])
    n_hubs, size = hubs.size, items.size
    block = np.zeros((size + 1, size + 1), dtype=gram.hub_gram.dtype)
    if n_hubs:
        position = gram.hub_position[hubs]
        width = gram.hub_gram.shape[1]
        np.take(
            gram.hub_gram.reshape(-1),
            position[:, None] * width + position[None, :],
            out=block[:n_hubs, :n_hubs],
        )
    if others.size:
        # Columns of the non-hubs, all their rows in the union: G[items, others].
        columns = gram.columns[:, others][items, :]
        block[:size, n_hubs:size] = columns.toarray()
        # G[others, hubs] = G[hubs, others]ᵀ (symmetry).
        block[n_hubs:size, :n_hubs] = block[:n_hubs, n_hubs:size].T
    return items, block


def column_systems(block, positions):
    """Each column's ``G[S', S']`` and ``G[S', j]`` cut out of a block.

    Parameters
    ----------
    block : ndarray of shape (u + 1, u + 1)
        From :func:`block_gram`; index ``u`` is the zero padding slot.
    positions : ndarray of shape (b, m), int
        Per column, the positions in the block of ``S'_j``, the column
        itself first (padded with ``u``).

    Returns
    -------
    matrices : ndarray of shape (b, m, m)
        ``G[S'_j, S'_j]`` (C-contiguous, each symmetric).
    targets : ndarray of shape (b, m)
        ``G[S'_j, j]``.
    """
    width = block.shape[1]
    flat = block.reshape(-1)
    matrices = np.take(flat, positions[:, :, None] * width + positions[:, None, :])
    targets = np.take(flat, positions * width + positions[:, :1])
    return matrices, targets
