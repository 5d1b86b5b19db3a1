"""DAN's popularity normalization of the linear autoencoders (SPEC §9).

Park et al., "Why is Normalization Necessary for Linear Recommenders?"
(SIGIR 2025; official code ``psm1206/DAN``, ``code/model.py``): the users'
rows are reweighted in the Gram matrix (``user_norm`` β) and the learned
weights rescaled by item popularity (``item_norm`` α).  Pure functions of
arrays, used around the closed forms of :mod:`~.closed_forms`.
"""

import numpy as np
from scipy import sparse

from .linalg import row_block


def dan_row_scale(row_sums, beta):
    """DAN's user normalization as a row scaling of ``X`` (SPEC §9).

    ``G = Xᵀ diagMat(|x_u|^(−β)) X`` is the Gram matrix of ``X`` with row
    ``u`` scaled by ``|x_u|^(−β/2)``; ``|x_u|`` is the row's sum (its count
    of interactions when ``X`` is binary), as in the official code.  Empty
    rows get 0: they add nothing to ``G`` either way.

    Parameters
    ----------
    row_sums : ndarray of shape (n_users,)
    beta : float >= 0

    Returns
    -------
    scale : ndarray of shape (n_users,), float64
    """
    row_sums = np.asarray(row_sums, dtype=np.float64)
    scale = np.zeros_like(row_sums)
    positive = row_sums > 0
    scale[positive] = row_sums[positive] ** (-beta / 2.0)
    return scale


def dan_scaled_rows(X, beta):
    """``X`` with row ``u`` scaled by :func:`dan_row_scale` (``X`` itself for β = 0).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_users, n_items)
    beta : float >= 0

    Returns
    -------
    X_scaled : csr_array or ndarray, ``X``'s dtype
    """
    if not beta:
        return X
    scale = dan_row_scale(np.asarray(X.sum(axis=1)).ravel(), beta).astype(X.dtype)
    if sparse.issparse(X):
        return sparse.csr_array(sparse.diags_array(scale) @ X)
    return np.asarray(X) * scale[:, None]


def dan_item_rescale(B, item_counts, alpha):
    """DAN's item normalization, ``W = diagMat(c^α) B diagMat(c^(−α))`` with
    ``diag(W) = 0`` (SPEC §9).

    ``c`` are the items' interaction counts in the training matrix (column
    sums of ``X``); an item without any counts as 1 (the official code has
    no such items).  A dense ``B`` is rescaled in place; a sparse one
    (``n_neighbors``) is returned rescaled.

    Parameters
    ----------
    B : ndarray or sparse matrix of shape (n_items, n_items)
    item_counts : ndarray of shape (n_items,)
    alpha : float >= 0

    Returns
    -------
    W : same kind as ``B``
    """
    counts = np.maximum(np.asarray(item_counts, dtype=np.float64), 1.0)
    rows, columns = counts**alpha, counts ** (-alpha)
    if sparse.issparse(B):
        W = sparse.csr_array(B, copy=True)
        W.data *= (
            rows[np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))]
            * columns[W.indices]
        ).astype(W.dtype)
        W.setdiag(0)
        W.eliminate_zeros()
        return W
    step = row_block(B.shape[0], B.shape[1], B.itemsize)
    scale_rows, scale_columns = rows.astype(B.dtype), columns.astype(B.dtype)
    for start in range(0, B.shape[0], step):
        block = B[start : start + step]
        block *= scale_rows[start : start + step, None]
        block *= scale_columns[None, :]
    B.flat[:: B.shape[0] + 1] = 0.0
    return B
