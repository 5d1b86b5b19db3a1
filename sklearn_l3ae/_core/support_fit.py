"""Blocks of columns of a support-constrained fit, and their solution.

Columns whose supports overlap share the entries of ``G`` they need, so
they are solved together: the columns are ordered so that neighbours come
close (reverse Cuthill–McKee on the graph of the supports, hubs left out
since every column may reach them), then cut into blocks whose union of
supports stays below ``max_union`` items.  For each block one dense
``G[U, U]`` is assembled (:func:`~.sparse_gram.block_gram`) and every
column's small system is cut out of it and solved
(:func:`~.closed_forms.support_weights`).  Blocks are independent: the
solver runs them in parallel.
"""

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .closed_forms import dropout_penalty, support_weights
from .linalg import NotPositiveDefiniteError
from .sparse_gram import block_gram, column_systems

# Items in the union of a block's supports (its dense G[U, U] is U² entries).
MAX_UNION = 1024
# Columns per block at most, and bytes of a block's column systems.
MAX_COLUMNS = 512
SYSTEMS_BYTES = 64 * 2**20


def max_block_columns(n_neighbors, itemsize):
    """Columns per block: at most :data:`MAX_COLUMNS`, and few enough that
    their ``(k+1) x (k+1)`` systems take at most :data:`SYSTEMS_BYTES`."""
    per_column = (n_neighbors + 1) ** 2 * itemsize
    return int(max(1, min(MAX_COLUMNS, SYSTEMS_BYTES // per_column)))


def order_columns(supports, hub_position):
    """Columns in an order that keeps overlapping supports close.

    Reverse Cuthill–McKee on the graph ``j → i`` for ``i`` in ``S_j``, hubs
    excluded (every column may reach them), read as an undirected graph:
    the breadth-first search follows each column's support.  Built directly
    as int32 CSR (n_items·n_neighbors entries, no symmetrized copy: at 10⁶
    items x 128 that would be ~2 GB more).
    """
    n_items, width = supports.shape
    valid = supports >= 0
    valid &= hub_position[np.maximum(supports, 0)] < 0
    valid &= (hub_position < 0)[:, None]
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(valid, axis=1), out=indptr[1:])
    index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
    graph = sparse.csr_array(
        (
            np.ones(int(indptr[-1]), dtype=np.int8),
            supports[valid].astype(index_dtype, copy=False),
            indptr.astype(index_dtype),
        ),
        shape=(n_items, n_items),
    )
    return np.asarray(reverse_cuthill_mckee(graph, symmetric_mode=True), np.int64)


def column_blocks(supports, order, max_union=MAX_UNION, max_columns=MAX_COLUMNS):
    """Consecutive runs of ``order`` whose union of ``S'_j`` has at most
    ``max_union`` items (a single column may exceed it), ``max_columns``
    columns at most."""
    n_items = supports.shape[0]
    mark = np.full(n_items, -1, dtype=np.int64)
    blocks, current, size, block = [], [], 0, 0
    for j in order.tolist():
        support = supports[j]
        support = support[support >= 0]
        new = int(np.count_nonzero(mark[support] != block)) + (mark[j] != block)
        if current and (size + new > max_union or len(current) >= max_columns):
            blocks.append(np.array(current, dtype=np.int64))
            block += 1
            current, size = [], 0
            new = support.size + 1
        mark[support] = block
        mark[j] = block
        size += new
        current.append(j)
    if current:
        blocks.append(np.array(current, dtype=np.int64))
    return blocks


# Share of each support chosen by the KKT gradient of a first solve on the
# rest (see :func:`kkt_violators`): with it, ml-100k's tail Recall@20 at
# 256 neighbours went from 91.6 ± 3.8 % of the dense fit's to 99.4 ± 2.4 %
# over five splits; 0.5 lost NDCG@20 on yelp (95.5 % against 97.7 %, at
# semantic_share=0.25).
GROWN_SHARE = 0.25


def grown_places(n_neighbors, complete):
    """Places of each support left to :func:`kkt_violators` (none when the
    supports are complete: the fit is then the dense one)."""
    return 0 if complete else int(round(GROWN_SHARE * n_neighbors))


def solve_block(
    gram,
    supports,
    columns,
    *,
    reg,
    reg_E,
    correlation,
    dropout,
    xi,
    emphasis=None,
    grow=0,
):
    """``B[S'_j, j]`` for the columns of one block.

    With ``grow``, the given supports are solved first; then each column's
    ``grow`` strongest violators of its optimality condition among the
    block's items (:func:`kkt_violators`) join its support, and the larger
    systems are solved again: an item whose absence costs the objective
    most is added, whichever list it came from.

    Parameters
    ----------
    gram : SparseGram
    supports : ndarray of shape (n_items, k), int
    columns : ndarray of shape (b,), int
    reg, reg_E, dropout, xi, emphasis :
        As in :func:`~.closed_forms.l3ae_weights`.
    correlation : LowRankCorrelation, ndarray or None
    grow : int, default=0
        Places added to each support.

    Returns
    -------
    rows : ndarray of shape (b, k + 1 + grow), int32
        ``S'_j``: the column itself first, ``-1`` in padded slots.
    weights : ndarray of shape (b, k + 1 + grow)
        ``B[rows, j]``; the self-weight first.
    """
    own = supports[columns].astype(np.int64)
    rows = np.concatenate([columns[:, None], own], axis=1)
    valid = rows >= 0
    items, block = block_gram(gram, np.unique(rows[valid]))
    # Positions in the block: searchsorted over the (sorted) block items.
    sorter = np.argsort(items, kind="stable")
    found = np.searchsorted(items, np.maximum(rows, 0), sorter=sorter)
    positions = np.where(valid, sorter[np.minimum(found, items.size - 1)], items.size)
    diagonal = gram.diagonal if emphasis is None else emphasis
    values = None
    if correlation is not None and reg_E:
        values = correlation_block(correlation, items, columns).astype(block.dtype)
    system = dict(reg=reg, reg_E=reg_E, values=values, dropout=dropout, xi=xi)
    weights = _solve_positions(block, items, positions, diagonal, **system)
    if grow:
        added = kkt_violators(
            block,
            positions,
            weights,
            _penalties(diagonal[items], reg + reg_E, dropout),
            values,
            reg_E,
            grow,
        )
        positions = np.concatenate([positions, added], axis=1)
        weights = _solve_positions(block, items, positions, diagonal, **system)
    padded = positions >= items.size
    rows = np.where(padded, -1, items[np.minimum(positions, items.size - 1)])
    return rows.astype(np.int32), weights


def _penalties(diagonal, shift, dropout):
    """``Λ + λ_E`` on the given items (``shift = λ + λ_E``)."""
    if dropout:
        return dropout_penalty(diagonal, shift, dropout)
    return np.full(np.shape(diagonal), shift, dtype=np.float64)


def _solve_positions(
    block, items, positions, diagonal, *, reg, reg_E, values, dropout, xi
):
    """:func:`~.closed_forms.support_weights` of the systems at ``positions``
    of ``block`` (``items.size`` marks a padded slot); ``values`` is
    ``C[items, columns]`` (:func:`correlation_block`) or None."""
    valid = positions < items.size
    rows = np.where(valid, items[np.minimum(positions, items.size - 1)], -1)
    matrices, targets = column_systems(block, positions)
    penalties = _penalties(diagonal[np.maximum(rows, 0)], reg + reg_E, dropout)
    penalties[~valid] = 1.0
    on_supports = None
    if values is not None:
        # C at each column's support: zero in padded slots (and, as C's
        # diagonal, at the column itself: correlation_block zeroes it).
        by_column = np.arange(positions.shape[0])[:, None]
        on_supports = np.where(
            valid, values[np.minimum(positions, items.size - 1), by_column], 0.0
        ).astype(matrices.dtype)
    try:
        weights = support_weights(
            matrices, targets, penalties, reg_E, on_supports, xi=xi
        )
    except NotPositiveDefiniteError as error:
        # The size of the system that failed, for the diagnosis: in the
        # first round of a grown support it is not the final size.
        error.size = int(np.count_nonzero(valid[error.index]))
        raise
    weights[~valid] = 0.0
    return weights


def correlation_block(correlation, items, columns):
    """``C[items, columns]`` (dense, zero where an item is the column).

    ``correlation`` is a :class:`~.closed_forms.LowRankCorrelation` (the
    off-diagonal entries are ``left_i · right_j``; its diagonal is zero by
    construction and counted as such) or a dense array.
    """
    left = getattr(correlation, "left", None)
    if left is not None:
        values = left[items] @ correlation.right[columns].T
    else:
        values = np.array(np.asarray(correlation)[np.ix_(items, columns)])
    values[items[:, None] == columns[None, :]] = 0.0
    return values


def kkt_violators(block, positions, weights, penalties, correlation, reg_E, count):
    """Per column, the ``count`` items of the block whose absence from its
    support costs the objective most, by the KKT condition.

    Column ``j``'s objective is ``½bᵀHb − bᵀg`` with ``H = G + Λ + λ_E I``
    and ``g = G[:, j] + λ_E C[:, j]``; at the solution ``b`` on ``S'_j``
    its gradient ``G b − g`` vanishes on ``S'_j`` (but for the diagonal
    constraint), and an item ``i`` outside alone would lower the objective
    by ``(G[i, :] b − g_i)² / (2 H_ii)``: the items with the largest such
    gain are the returned ones.

    Parameters
    ----------
    block : ndarray of shape (u + 1, u + 1)
        ``G[U, U]`` (:func:`~.sparse_gram.block_gram`; ``u`` pads).
    positions : ndarray of shape (b, m), int
        ``S'_j`` in the block, the column first (``u`` pads).
    weights : ndarray of shape (b, m)
        ``B[S'_j, j]`` at ``positions``.
    penalties : ndarray of shape (u,)
        ``Λ + λ_E`` of the block's items.
    correlation : ndarray of shape (u, b) or None
        ``C[U, j]`` (:func:`correlation_block`).
    reg_E : float
    count : int

    Returns
    -------
    added : ndarray of shape (b, count), int
        Positions in the block, ``u`` where fewer items improve.
    """
    size = block.shape[0] - 1
    n_columns = positions.shape[0]
    by_column = np.arange(n_columns)[:, None]
    dense = np.zeros((size + 1, n_columns), dtype=block.dtype)
    dense[positions, by_column] = weights
    gradient = block[:size, :size] @ dense[:size] - block[:size, positions[:, 0]]
    if correlation is not None:
        gradient -= block.dtype.type(reg_E) * correlation.astype(block.dtype)
    curvature = np.diagonal(block)[:size] + penalties
    gain = np.where(
        curvature[:, None] > 0,
        np.square(gradient, dtype=np.float64) / curvature[:, None],
        -1.0,
    )
    members = positions < size
    gain[positions[members], np.broadcast_to(by_column, positions.shape)[members]] = -1
    count = min(count, size)
    best = np.argpartition(-gain, count - 1, axis=0)[:count]
    chosen = np.take_along_axis(gain, best, axis=0) > 0
    return np.where(chosen, best, size).T


def empty_weights(supports, dtype, grow=0):
    """Preallocated CSC arrays for ``B``: one slot per ``S'_j`` entry.

    Returns ``(indptr, indices, data)``; the slots of column ``j`` are its
    self-weight, then its support in order, then ``grow`` more
    (:func:`write_weights` fills them; slots left over hold an explicit
    zero on the diagonal, which :func:`weights_matrix` drops).
    """
    n_items = supports.shape[0]
    counts = 1 + np.count_nonzero(supports >= 0, axis=1)
    counts += min(grow, max(n_items - 1, 0))
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    index_dtype = np.int32 if max(n_items, nnz) < 2**31 else np.int64
    indices = np.repeat(np.arange(n_items, dtype=index_dtype), counts)
    return indptr.astype(index_dtype), indices, np.zeros(nnz, dtype)


def write_weights(arrays, columns, rows, weights):
    """Write :func:`solve_block`'s ``rows`` and ``weights`` into ``arrays``."""
    indptr, indices, data = arrays
    kept = rows >= 0
    rank = np.cumsum(kept, axis=1) - 1
    where = (indptr[columns].astype(np.int64)[:, None] + rank)[kept]
    indices[where] = rows[kept]
    data[where] = weights[kept]


def weights_matrix(arrays, n_items):
    """The CSR ``B`` of filled :func:`empty_weights` arrays, zeros dropped."""
    indptr, indices, data = arrays
    coef = sparse.csc_array((data, indices, indptr), shape=(n_items, n_items))
    coef = sparse.csr_array(coef.tocsr())
    coef.eliminate_zeros()
    return coef
