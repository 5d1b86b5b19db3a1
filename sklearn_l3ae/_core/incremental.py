"""Exact updates of a kept inverse ``P = (G + Λ)⁻¹``, in place or by blocks.

Pure functions of arrays behind :meth:`partial_fit` and :meth:`add_items`
of the dense item-item recommenders (issue 20):

* :func:`low_rank_update_inplace`: new or changed rows of ``X`` (and
  changed penalties) change ``G + Λ`` by ``Vᵀ diagMat(w) V``; the Woodbury
  identity ``P' = P − P Vᵀ (diagMat(1/w) + V P Vᵀ)⁻¹ V P`` costs
  O(n²·m) for m rows;
* :func:`extend_inverse`: new items add a block row and column to
  ``G + Λ``; the Schur complement ``S = D − cᵀ P c`` gives the inverse of
  the larger matrix in O(n²·k) for k items;
* :func:`inverse_residual`: how far a kept ``P`` has drifted from the
  inverse of the matrix it stands for, measured from the interactions in
  O(n²·p) for p random probes.
"""

import numpy as np
from scipy import sparse
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh

from .linalg import NotPositiveDefiniteError, row_block


def _rows_times(V, P):
    """``V @ P`` as a dense array in ``P``'s dtype (``V`` sparse or dense)."""
    if sparse.issparse(V):
        return np.asarray(sparse.csr_array(V, dtype=P.dtype) @ P)
    return np.asarray(V, dtype=P.dtype) @ P


def _apply_rows_inplace(P, left, right, sign):
    """``P += sign · leftᵀ @ right`` in row blocks (no n x n temporary).

    An exception (``KeyboardInterrupt`` included) between blocks undoes the
    blocks already applied before it propagates, so ``P`` is left as it was
    up to round-off.
    """
    n = P.shape[0]
    step = row_block(n, n, P.itemsize)
    done = 0
    try:
        for start in range(0, n, step):
            stop = min(start + step, n)
            product = left[:, start:stop].T @ right
            if sign > 0:
                P[start:stop] += product
            else:
                P[start:stop] -= product
            done = stop
    except BaseException:
        for start in range(0, done, step):
            stop = min(start + step, done)
            product = left[:, start:stop].T @ right
            if sign > 0:
                P[start:stop] -= product
            else:
                P[start:stop] += product
        raise
    return P


def low_rank_update_inplace(P, V, weights):
    """``P ← (P⁻¹ + Vᵀ diagMat(w) V)⁻¹`` in place (Woodbury identity).

    With ``U = V P`` (m x n) and ``M = diagMat(1/w) + U Vᵀ`` (m x m, float64),
    ``P' = P − Uᵀ M⁻¹ U``: O(nnz(V)·n + n²·m) work, O(m·n) temporaries.
    When every ``w > 0`` (rows added) ``M`` is positive definite and is
    factored by Cholesky.  Otherwise (rows removed or replaced), by Sylvester's
    law of inertia applied to ``[[P⁻¹, Vᵀ], [V, −diagMat(1/w)]]``, the updated
    matrix is positive definite exactly when ``M`` has as many negative
    eigenvalues as ``w``; ``M`` is then diagonalized (``eigh``).

    Parameters
    ----------
    P : ndarray of shape (n, n), float32 or float64, C-contiguous
        The inverse of a symmetric positive-definite matrix; overwritten.
    V : {ndarray, sparse matrix} of shape (m, n)
    weights : ndarray of shape (m,)
        Non-zero.

    Returns
    -------
    P : ndarray
        ``P`` itself, updated.

    Raises
    ------
    NotPositiveDefiniteError
        If the updated matrix is not (numerically) positive definite; ``P``
        is then unchanged.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if V.shape[0] == 0:
        return P
    U = _rows_times(V, P)
    U64 = U.astype(np.float64)  # M and M⁻¹U in float64, U itself once
    if sparse.issparse(V):
        inner = np.asarray(sparse.csr_array(V, dtype=np.float64) @ U64.T)
    else:
        inner = np.asarray(V, dtype=np.float64) @ U64.T
    M = (inner + inner.T) / 2.0
    M.flat[:: M.shape[0] + 1] += 1.0 / weights
    eps = np.finfo(P.dtype).eps
    if np.all(weights > 0):
        try:
            factor = cho_factor(M, lower=True)
        except LinAlgError as exc:  # pragma: no cover - M ⪰ diagMat(1/w) here
            raise NotPositiveDefiniteError(
                "The updated matrix is not positive definite.", order=0
            ) from exc
        solved = cho_solve(factor, U64)
    else:
        eigenvalues, vectors = eigh(M)
        # M's entries carry round-off of order n·eps of its terms (1/w and the
        # length-n products of U = V P): smaller eigenvalues are numerically 0.
        scale = P.shape[0] * max(np.abs(eigenvalues).max(), np.abs(1.0 / weights).max())
        n_negative = int((eigenvalues < 0).sum())
        if n_negative != int((weights < 0).sum()) or not (
            np.abs(eigenvalues).min() > eps * scale
        ):
            raise NotPositiveDefiniteError(
                "The update leaves G + Λ without positive definiteness "
                f"({n_negative} negative eigenvalues of the update's inner "
                f"matrix where {int((weights < 0).sum())} keep it definite).",
                order=0,
            )
        solved = vectors @ ((vectors.T @ U64) / eigenvalues[:, None])
    return _apply_rows_inplace(P, U, solved.astype(P.dtype), -1)


def extend_inverse(P, cross, corner):
    """The inverse of ``[[H, c], [cᵀ, D]]`` from ``P = H⁻¹`` (Schur complement).

    With ``Z = P c`` and ``S = D − cᵀ Z`` (k x k), the inverse is
    ``[[P + Z S⁻¹ Zᵀ, −Z S⁻¹], [−S⁻¹ Zᵀ, S⁻¹]]``: O(n²·k) work, written
    into one new (n + k) x (n + k) array by row blocks.

    Parameters
    ----------
    P : ndarray of shape (n, n)
    cross : {ndarray, sparse matrix} of shape (n, k)
        ``c``, the new columns' entries in the old rows.
    corner : ndarray of shape (k, k)
        ``D``, symmetric.

    Returns
    -------
    P_new : ndarray of shape (n + k, n + k), ``P``'s dtype

    Raises
    ------
    NotPositiveDefiniteError
        If the larger matrix is not (numerically) positive definite, i.e.
        ``S`` is not.
    """
    n, k = cross.shape
    # P is symmetric: (P c)ᵀ = cᵀ P, a sparse x dense product for sparse c.
    Z_rows = _rows_times(cross.T, P)
    if sparse.issparse(cross):
        cZ = np.asarray(
            sparse.csr_array(cross.T, dtype=np.float64) @ Z_rows.T.astype(np.float64)
        )
    else:
        cZ = np.asarray(cross, dtype=np.float64).T @ Z_rows.T.astype(np.float64)
    S = np.asarray(corner, dtype=np.float64) - (cZ + cZ.T) / 2.0
    try:
        factor = cho_factor(S, lower=True)
    except LinAlgError as exc:
        raise NotPositiveDefiniteError(
            "The extended matrix is not positive definite: the Schur complement "
            "of the new items is not.",
            order=n + 1,
        ) from exc
    S_inverse = cho_solve(factor, np.eye(k))
    if not np.isfinite(S_inverse).all() or not (
        1.0 / np.linalg.cond(S) >= np.finfo(P.dtype).eps
    ):
        raise NotPositiveDefiniteError(
            "The extended matrix is too ill-conditioned: the Schur complement "
            "of the new items is numerically singular.",
            order=0,
        )
    Z = Z_rows.T
    ZS = (Z.astype(np.float64) @ S_inverse).astype(P.dtype)
    P_new = np.empty((n + k, n + k), dtype=P.dtype)
    step = row_block(n + k, n + k, P.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = P_new[start:stop, :n]
        np.matmul(ZS[start:stop], Z.T, out=block)
        block += P[start:stop]
    P_new[:n, n:] = -ZS
    P_new[n:, :n] = -ZS.T
    P_new[n:, n:] = S_inverse
    return P_new


def inverse_residual(P, X, penalty, *, n_probes=4, seed=0):
    """``‖(XᵀX + diagMat(Λ)) P Z − Z‖_F / ‖Z‖_F`` for random Gaussian ``Z``.

    The relative residual of ``P`` as the inverse of ``H = XᵀX + Λ``:
    ``H P = I + E`` gives ``P = H⁻¹ (I + E)``, so the relative error of ``P``
    is at most ``‖E‖``, which the probes estimate.  ``H`` is never formed:
    O(n²·p + nnz(X)·p) work.

    Parameters
    ----------
    P : ndarray of shape (n, n)
    X : {ndarray, sparse matrix} of shape (n_users, n)
        The rows whose Gram matrix ``H`` holds (scaled as the fit scales them).
    penalty : float or ndarray of shape (n,)
        ``Λ``.
    n_probes : int, default=4
    seed : int, default=0

    Returns
    -------
    residual : float
    """
    n = P.shape[0]
    Z = np.random.default_rng(seed).standard_normal((n, n_probes))
    Y = (P @ Z.astype(P.dtype)).astype(np.float64)
    if sparse.issparse(X):
        X64 = sparse.csr_array(X, dtype=np.float64)
        HY = X64.T @ (X64 @ Y)
    else:
        X64 = np.asarray(X, dtype=np.float64)
        HY = X64.T @ (X64 @ Y)
    HY += np.reshape(np.broadcast_to(penalty, (n,)), (n, 1)) * Y
    return float(np.linalg.norm(HY - Z) / np.linalg.norm(Z))
