"""Support-constrained weights solved again for some columns (partial_fit).

A model fitted with ``n_neighbors`` and ``keep_inverse`` keeps its supports;
when rows of ``X`` change, only the columns whose system ``{j} ∪ S_j``
holds a changed item need solving again (:meth:`SupportSolver.resolve`).
"""

import numpy as np
from scipy import sparse

from .._core import sparse_gram, support_fit
from .._core.linalg import NotPositiveDefiniteError
from ._dense import check_finite_weights
from ._support import _explain, _parameters, _run_blocks, gram_layout


def resolve_columns(problem, supports, columns, previous, n_jobs=None):
    """``previous`` with ``columns`` solved again on their fixed ``supports``.

    The support-constrained weights of ``problem`` when only the systems of
    ``columns`` changed (their support or themselves holds an item whose
    interactions changed); the other columns of ``previous`` are kept.  One
    pass over ``XᵀX`` and the systems of ``columns`` only: no neighbour
    search.
    """
    dtype = problem.dtype
    X = sparse.csr_array(problem.X, dtype=dtype)
    n_items = X.shape[1]
    correlation = problem.correlation if problem.reg_E else None
    bounds, hubs = gram_layout(X, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        gram, _ = sparse_gram.stream_gram(X, 0, hubs, dtype, bounds=bounds)
    blocks = support_fit.column_blocks(
        supports,
        np.sort(np.asarray(columns, dtype=np.int64)),
        max_columns=support_fit.max_block_columns(supports.shape[1], dtype.itemsize),
    )
    rows_out, columns_out, values = [], [], []
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for block, rows, weights in _run_blocks(
                gram,
                supports,
                blocks,
                _parameters(problem, correlation),
                n_jobs,
            ):
                kept = rows >= 0
                rows_out.append(rows[kept])
                columns_out.append(np.repeat(block, kept.sum(axis=1)))
                values.append(weights[kept])
    except NotPositiveDefiniteError as error:
        raise ValueError(_explain(problem, error)) from error
    keep = np.ones(n_items, dtype=dtype)
    keep[columns] = 0
    kept_part = sparse.csr_array(previous @ sparse.diags_array(keep))
    if values:
        fresh = sparse.csr_array(
            (
                np.concatenate(values),
                (np.concatenate(rows_out), np.concatenate(columns_out)),
            ),
            shape=(n_items, n_items),
            dtype=dtype,
        )
        kept_part = sparse.csr_array(kept_part + fresh)
    kept_part.eliminate_zeros()
    check_finite_weights(kept_part.data)
    return kept_part
