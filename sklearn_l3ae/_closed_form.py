"""Closed-form solutions of the linear-autoencoder family as pure functions.

Every formula of the package lives here; estimators validate their inputs,
call these functions and store the results.  Notation follows Moon, Park & Lee,
"LLM-Enhanced Linear Autoencoders for Recommendation" (CIKM 2025, L3AE) and
Steck, "Embarrassingly Shallow Autoencoders" (WWW 2019, EASE):

* ``G = XᵀX`` is the item-item Gram matrix of the interactions;
* ``F`` holds one text embedding per item (rows);
* phase 1 learns the semantic correlation ``C`` from ``F`` (L3AE eq. 3);
* phase 2 learns the item-item weights ``B`` from ``G`` and ``C`` (L3AE eq. 6);
* the relaxed (RLAE, ``diag(B) ≤ ξ``) and dropout-emphasis (DLAE/EDLAE,
  ``Λ = λI + p/(1−p)·diagMat(diag(G))``) variants of Moon, Kim & Lee (SIGIR
  2023) and Steck (NeurIPS 2020) are options of the same phase-2 solver;
* :func:`anisotropy_control_matrix` is the d x d ridge-LAE map that spreads
  item embeddings out.

Memory discipline: the n_items x n_items matrices are updated in place
(diagonal shifts through ``A.flat[::n + 1]``, column scalings, blockwise
products), no identity matrix is ever allocated, and a fit holds at most two
dense n_items x n_items arrays (``C`` and ``G``, the latter becoming ``P`` and
then ``B`` in the same buffer).  The only dense factorization of an n x n
matrix is the Cholesky factorization of ``G + Λ_X + λ_E·I``.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.linalg import LinAlgError, cho_factor, cho_solve, lapack, solve_triangular

# Row blocks of n x n products are sized to hold about this many bytes, so the
# temporaries of blockwise updates stay small next to the n x n arrays.
_BLOCK_BYTES = 64 * 2**20
# Largest order inverted by one LAPACK potrf + potri call; larger matrices are
# inverted blockwise (see spd_inverse_inplace), by blocks of _INVERSE_BLOCK.
_LAPACK_MAX_ORDER = 16384
_INVERSE_BLOCK = 1024
# Rows of XᵀX per sparse product: small enough for the sparse accumulator to
# stay in cache, large enough to amortize the per-call overhead.
_GRAM_ROWS = 256


class NotPositiveDefiniteError(LinAlgError):
    """Raised when a matrix that must be symmetric positive definite is not.

    ``LinAlgError`` derives from ``ValueError``, so callers that catch
    ``ValueError`` see it too.

    Attributes
    ----------
    order : int
        Order of the leading minor that is not positive definite (1-based,
        as reported by LAPACK ``potrf``); 0 when the factorization succeeded
        but the matrix is too ill-conditioned for its precision.
    """

    def __init__(self, message, order):
        super().__init__(message)
        self.order = order


class LowRankCorrelation(NamedTuple):
    """Structured form of a semantic correlation matrix.

    ``C = diagMat(diagonal) + left @ right.T`` with ``left`` and ``right`` of
    shape (n_items, d).  Phase 1 with the Woodbury identity yields ``C`` in this
    form, which lets phase 2 compute ``P₂C`` in O(n²·d) instead of O(n³).
    """

    diagonal: np.ndarray
    left: np.ndarray
    right: np.ndarray


def _row_block(n_rows, n_cols, itemsize):
    return max(1, min(n_rows, _BLOCK_BYTES // max(1, n_cols * itemsize)))


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def gram_matrix(X, dtype=np.float32):
    """Dense item-item Gram matrix ``XᵀX`` of a (sparse) interaction matrix.

    Sparse input is multiplied in small row blocks of the result (no sparse
    n_items x n_items intermediate), spread over the available cores: SciPy's
    sparse product releases the GIL.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_users, n_items)
    dtype : {np.float32, np.float64}

    Returns
    -------
    gram : ndarray of shape (n_items, n_items), C-contiguous
    """
    dtype = np.dtype(dtype)
    if not sparse.issparse(X):
        X = np.asarray(X, dtype=dtype)
        return np.ascontiguousarray(X.T @ X)
    X = sparse.csr_array(X, dtype=dtype)
    X_items = X.T.tocsr()
    n_items = X.shape[1]
    gram = np.empty((n_items, n_items), dtype=dtype)

    def fill(start):
        stop = min(start + _GRAM_ROWS, n_items)
        (X_items[start:stop] @ X).toarray(out=gram[start:stop])

    starts = range(0, n_items, _GRAM_ROWS)
    with ThreadPoolExecutor(max(1, min(_available_cores(), len(starts)))) as pool:
        list(pool.map(fill, starts))
    return gram


def _symmetrize_from_lower(A, tile=128):
    """Copy the lower triangle of a square C-ordered array onto its upper one.

    Works tile by tile so that the transposed reads stay in cache.
    """
    n = A.shape[0]
    for row in range(0, n, tile):
        row_end = min(row + tile, n)
        diagonal = A[row:row_end, row:row_end]
        diagonal[...] = np.tril(diagonal) + np.tril(diagonal, -1).T
        for col in range(row_end, n, tile):
            col_end = min(col + tile, n)
            A[row:row_end, col:col_end] = A[col:col_end, row:row_end].T


def _blocked_cholesky_inplace(A, block):
    """``A = L Lᵀ`` in place, ``L`` in the lower triangle of C-ordered ``A``.

    Right-looking, by blocks of ``block``: factor the diagonal block (LAPACK
    ``potrf`` on a ``block`` x ``block`` copy), solve the panel below it,
    subtract its outer product from the trailing lower triangle, strip by
    strip.  The O(n³/3) work is NumPy matrix products; temporaries are
    O(n·block).  Raises NotPositiveDefiniteError with the order of the
    failing leading minor, as ``potrf`` does.
    """
    n = A.shape[0]
    potrf = lapack.get_lapack_funcs("potrf", (A,))
    for k in range(0, n, block):
        end = min(k + block, n)
        factor, info = potrf(A[k:end, k:end], lower=1, clean=1)
        if info > 0:
            raise NotPositiveDefiniteError(
                f"The matrix is not positive definite: its leading minor of "
                f"order {k + info} is not positive (blocked Cholesky).",
                order=int(k + info),
            )
        A[k:end, k:end] = factor
        if end == n:
            break
        # L₂₁ L₁₁ᵀ = A₂₁  ⇔  L₂₁ᵀ = L₁₁⁻¹ A₂₁ᵀ
        panel = solve_triangular(factor, A[end:, k:end].T, lower=True).T
        A[end:, k:end] = panel
        for row in range(end, n, block):
            row_end = min(row + block, n)
            A[row:row_end, end:row_end] -= (
                panel[row - end : row_end - end] @ panel[: row_end - end].T
            )
    return A


def _blocked_inverse_from_cholesky_inplace(A, block):
    """``A⁻¹ = L⁻ᵀ L⁻¹`` in place from ``L`` in the lower triangle of ``A``.

    LAPACK ``potri`` by blocks: first ``X = L⁻¹``, block columns from last
    to first (``X₂₁ = −X₂₂ L₂₁ X₁₁`` with ``X₂₂`` already inverted, LAPACK
    ``trtri`` on diagonal blocks); then ``Xᵀ X``, block rows from first to
    last (block row k of the result needs the rows of ``X`` from k on only,
    so it overwrites block row k of ``X``).  About 2n³/3 flops in NumPy
    matrix products; the result is left in the lower triangle.
    """
    n = A.shape[0]
    trtri = lapack.get_lapack_funcs("trtri", (A,))
    starts = range(0, n, block)
    for k in reversed(starts):
        end = min(k + block, n)
        inverse, info = trtri(A[k:end, k:end], lower=1)
        if info > 0:  # pragma: no cover - a Cholesky factor has no zero pivot
            raise NotPositiveDefiniteError(
                "The matrix is singular to working precision (blocked trtri).",
                order=int(k + info),
            )
        inverse = np.tril(inverse)
        if end < n:
            below = A[end:, k:end]  # L₂₁; X₂₂ = A[end:, end:] is inverted
            product = np.empty_like(below)
            for row in range(end, n, block):
                row_end = min(row + block, n)
                strip = slice(row - end, row_end - end)
                product[strip] = A[row:row_end, end:row] @ below[: row - end]
                product[strip] += np.tril(A[row:row_end, row:row_end]) @ below[strip]
            A[end:, k:end] = -(product @ inverse)
        A[k:end, k:end] = inverse
    for k in starts:
        end = min(k + block, n)
        rows = A[k:end, :end].copy()
        rows[:, k:end] = np.tril(rows[:, k:end])
        result = rows[:, k:end].T @ rows
        if end < n:
            result += A[end:, k:end].T @ A[end:, :end]
        A[k:end, :end] = result
    return A


def _one_norm(A):
    """``‖A‖₁`` of a symmetric matrix (largest row sum), in row blocks."""
    step = _row_block(A.shape[0], A.shape[1], A.itemsize)
    return max(
        float(np.abs(A[start : start + step]).sum(axis=1, dtype=np.float64).max())
        for start in range(0, A.shape[0], step)
    )


def spd_inverse_inplace(A):
    """Invert a symmetric positive-definite matrix in place (Cholesky).

    LAPACK ``potrf`` factors ``A`` and ``potri`` forms the inverse from the
    factor, both in the memory of ``A``; the result is then symmetrized.
    Above ``_LAPACK_MAX_ORDER`` the same algorithm runs blockwise
    (:func:`_blocked_cholesky_inplace`,
    :func:`_blocked_inverse_from_cholesky_inplace`): multithreaded OpenBLAS
    ``potrf``
    crashes on large matrices (segfault in ``?syrk_thread``, OpenBLAS issue
    #2821; here from n ≈ 26 500 with SciPy 1.17's bundled OpenBLAS 0.3.30
    and two threads).  The blocked version runs at about half LAPACK's
    speed, hence only above that order.

    Parameters
    ----------
    A : ndarray of shape (n, n), float32 or float64, C-contiguous, writeable
        Symmetric matrix; its content is destroyed.

    Returns
    -------
    A_inv : ndarray
        ``A`` itself, now holding the inverse.

    Raises
    ------
    NotPositiveDefiniteError
        If ``A`` is not (numerically) positive definite, or so
        ill-conditioned (LAPACK ``pocon`` estimate of the condition number
        above 1 / eps of the dtype) that its inverse would be noise.  ``A``
        is then left partially overwritten.
    """
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"Expected a square matrix, got shape {A.shape}.")
    if A.dtype not in (np.float32, np.float64):
        raise TypeError(f"Expected a float32 or float64 matrix, got {A.dtype}.")
    if not (A.flags.c_contiguous and A.flags.writeable):
        raise ValueError("Expected a writeable C-contiguous matrix to invert in place.")
    n = A.shape[0]
    norm = _one_norm(A)
    potrf, pocon, potri = lapack.get_lapack_funcs(("potrf", "pocon", "potri"), (A,))
    # A is symmetric, so its transpose is the same matrix in Fortran order and
    # LAPACK works on our buffer without a copy.  The upper triangle of the
    # Fortran view is the lower triangle of A, where both paths leave the
    # Cholesky factor.
    fortran_view = A.T
    if n > _LAPACK_MAX_ORDER:
        _blocked_cholesky_inplace(A, _INVERSE_BLOCK)
    else:
        factor, info = potrf(fortran_view, lower=0, overwrite_a=1, clean=0)
        if info > 0:
            raise NotPositiveDefiniteError(
                f"The matrix is not positive definite: its leading minor of "
                f"order {info} is not positive (LAPACK potrf).",
                order=int(info),
            )
        if info < 0:  # pragma: no cover - argument error, a bug on our side
            raise RuntimeError(f"LAPACK potrf rejected argument {-info}.")
        if not np.shares_memory(factor, A):  # pragma: no cover - f2py contract
            raise RuntimeError("LAPACK did not work in place.")
    # The factorization can succeed on a matrix whose inverse has no correct
    # digit left in this precision: refuse rather than return noise.
    # (An overflowed matrix has no meaningful condition number: its NaN or
    # inf weights are reported by the estimators' finite check instead.)
    rcond, _ = pocon(fortran_view, norm, uplo="U") if np.isfinite(norm) else (1, 0)
    if not rcond >= np.finfo(A.dtype).eps:
        raise NotPositiveDefiniteError(
            f"The matrix is too ill-conditioned for {A.dtype} arithmetic: its "
            f"estimated condition number {1 / max(rcond, 1e-300):.2g} exceeds "
            f"1 / eps = {1 / np.finfo(A.dtype).eps:.2g}, so its inverse would "
            "have no correct digit (LAPACK pocon).",
            order=0,
        )
    if n > _LAPACK_MAX_ORDER:
        _blocked_inverse_from_cholesky_inplace(A, _INVERSE_BLOCK)
    else:
        potri(fortran_view, lower=0, overwrite_c=1)
    _symmetrize_from_lower(A)
    return A


def semantic_correlation(embeddings, reg, dtype=np.float32):
    """Phase 1 of L3AE: semantic EASE on item embeddings (L3AE eq. 3).

    ``C = argmin ||Fᵀ − FᵀC||² + λ_F ||C||²  s.t. diag(C) = 0`` has the closed
    form ``C = I − P₁ diagMat(1 / diag(P₁))`` with ``P₁ = (F Fᵀ + λ_F I)⁻¹``.

    When ``d < n_items`` the Woodbury identity
    ``P₁ = (I − F K Fᵀ) / λ_F`` with ``K = (FᵀF + λ_F I_d)⁻¹`` gives, writing
    ``w = diag(F K Fᵀ)`` and ``δ = 1 / (1 − w)``,
    ``C = diagMat(−w·δ) + (F K)(diagMat(δ) F)ᵀ``: one d x d factorization and
    O(n·d²) work; ``C`` is returned in this structured form and never formed
    (see :func:`dense_correlation`).  Otherwise the n x n inverse is formed
    directly and ``C`` is returned dense.

    Parameters
    ----------
    embeddings : ndarray of shape (n_items, d)
    reg : float > 0
        λ_F.
    dtype : {np.float32, np.float64}
        Precision of a dense result; the O(n·d) factors are always float64.

    Returns
    -------
    C : LowRankCorrelation or ndarray of shape (n_items, n_items)
        Zero diagonal.
    """
    F = np.asarray(embeddings, dtype=np.float64)
    n_items, dim = F.shape
    if dim < n_items:
        inner = F.T @ F
        inner.flat[:: dim + 1] += reg
        FK = cho_solve(cho_factor(inner, lower=True), F.T).T
        w = np.einsum("ij,ij->i", FK, F)
        delta = 1.0 / (1.0 - w)
        return LowRankCorrelation(
            diagonal=-w * delta, left=FK, right=F * delta[:, None]
        )
    P = np.ascontiguousarray(F.astype(dtype) @ F.T.astype(dtype))
    P.flat[:: n_items + 1] += reg
    spd_inverse_inplace(P)
    return _scaled_solution(P, None, 0.0)


def dense_correlation(factors, dtype=np.float32):
    """Form ``C = diagMat(diagonal) + left @ right.T`` as a dense array, O(n²·d)."""
    C = factors.left.astype(dtype) @ factors.right.astype(dtype).T
    # diagonal + rowsum(left ∘ right) is 0 by construction; store it exactly.
    C.flat[:: C.shape[0] + 1] = 0.0
    return C


def _scaled_solution(P, scale, diagonal):
    """Turn ``P`` in place into ``−P·diagMat(scale)`` with the given diagonal.

    With ``scale = 1 / diag(P)`` and ``diagonal = 0`` this is EASE's
    ``I − P·diagMat(1/diag(P))``: the identity only touches the diagonal, which
    the (active) diagonal constraint fixes.
    """
    if scale is None:
        scale = 1.0 / np.diagonal(P).astype(np.float64)
    P *= -scale.astype(P.dtype)[None, :]
    P.flat[:: P.shape[0] + 1] = diagonal
    return P


def dropout_penalty(gram_diagonal, reg, dropout):
    """Diagonal of the dropout-emphasis penalty ``Λ`` (Steck 2020, DLAE).

    ``Λ = λ·I + (p / (1 − p))·diagMat(diag(XᵀX))``: dropout with probability
    ``p`` of the input entries is, in expectation, this L2 penalty, heavier on
    popular items.

    Parameters
    ----------
    gram_diagonal : ndarray of shape (n_items,)
        ``diag(XᵀX)``.
    reg : float
        λ.
    dropout : float in [0, 1)
        ``p``.

    Returns
    -------
    penalty : ndarray of shape (n_items,), float64
    """
    return reg + (dropout / (1.0 - dropout)) * np.asarray(gram_diagonal, np.float64)


def ease_weights(gram, reg):
    """EASE item-item weights from a Gram matrix, in place (Steck 2019, eq. 8).

    ``B = I − P·diagMat(1 / diag(P))`` with ``P = (G + λI)⁻¹``.

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg : float
        λ; ``G + λI`` must be positive definite.

    Returns
    -------
    B : ndarray
        ``gram`` itself, now holding B (zero diagonal).
    """
    return l3ae_weights(gram, reg, 0.0, None)


def rdlae_weights(gram, reg, *, dropout=0.0, xi=0.0):
    """Relaxed denoising linear autoencoder weights, in place (RDLAE).

    ``B = argmin ||X − XB||² + ||Λ^{1/2} B||²  s.t. diag(B) ≤ ξ`` with the
    dropout penalty ``Λ = λI + (p/(1−p))·diagMat(diag(G))``
    (:func:`dropout_penalty`).  With ``P = (G + Λ)⁻¹`` the KKT conditions give
    (Moon, Kim & Lee, SIGIR 2023)
    ``B = I − P·(Λ + diagMat(μ))``, ``μ_j = max(0, (1 − P_jj Λ_j − ξ) / P_jj)``.

    Special cases: ``ξ = 0`` is EASE (``p = 0``) or EDLAE (``p > 0``);
    ``xi=None`` (no constraint) is the ridge LAE ``B = P·G`` (``p = 0``) or
    DLAE (``p > 0``); ``p = 0`` is RLAE.  This is :func:`l3ae_weights` with
    ``λ_E = 0``; see there for why the bound is enforced as ``|B_jj| ≤ ξ``
    (identical here whenever ``Λ ⪰ 0``).

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg : float
        λ; ``G + Λ`` must be positive definite.
    dropout : float in [0, 1), default=0.0
        Dropout probability ``p``.
    xi : float >= 0 or None, default=0.0
        Bound ξ on the diagonal; ``None`` or ``inf`` means unconstrained.

    Returns
    -------
    B : ndarray
        ``gram`` itself, now holding B.
    """
    return l3ae_weights(gram, reg, 0.0, None, dropout=dropout, xi=xi)


def l3ae_weights(gram, reg_X, reg_E, correlation, *, dropout=0.0, xi=0.0):
    """Phase 2 of L3AE: semantic-guided EASE, in place (L3AE eq. 6).

    ``B = argmin ||X − XB||² + ||Λ_X^{1/2} B||² + λ_E ||B − C||²``
    ``s.t. −ξ ≤ diag(B) ≤ ξ``, with ``Λ_X = λ_X I + (p/(1−p))·diagMat(diag(G))``
    (``p = 0``: the paper's ``λ_X ||B||²``; ``ξ = 0``: its ``diag(B) = 0``).

    Every column ``b_j`` is a separate strictly convex problem with one bounded
    coordinate ``B_jj``.  With ``Λ = Λ_X + λ_E I`` and ``P = (G + Λ)⁻¹``,
    stationarity of the Lagrangian reads ``(G + Λ)B − G − λ_E C + diagMat(μ)
    = 0``, i.e. ``B = I − PΛ + λ_E PC − P·diagMat(μ)``.  Without the bound
    (``μ = 0``) the diagonal would be ``b⁰_j = 1 − P_jj Λ_j + λ_E (PC)_jj``;
    complementary slackness makes ``B_jj = d_j = clip(b⁰_j, −ξ, ξ)`` and
    ``μ_j = (b⁰_j − d_j) / P_jj``.  Hence, off the diagonal,

    ``B = λ_E PC − P·diagMat(r)``,  ``r = (1 − d + λ_E diag(PC)) / diag(P)``

    (the ``Λ`` terms cancel), and ``diag(B) = d``.  With ``ξ = 0``, ``d = 0``
    and ``r = (1 + λ_E diag(PC)) / diag(P)``: the paper's formula, computed by
    the very same operations.

    Why two-sided: ``b⁰ ∈ [0, 1]`` whenever ``Λ ⪰ 0`` (``P ⪯ Λ⁻¹``), so for the
    RLAE/RDLAE family the lower bound is never active and this is exactly the
    papers' ``diag(B) ≤ ξ``.  With ``λ_E > 0`` (or a negative ``λ_X``) ``b⁰``
    can be negative; the lower bound keeps ``ξ = 0`` the equality constraint of
    L3AE instead of silently allowing negative self-weights.

    With ``C = diagMat(c) + L Rᵀ`` (:class:`LowRankCorrelation`),
    ``B = P diagMat(λ_E c − r) + λ_E (PL) Rᵀ`` off the diagonal and
    ``diag(PC) = diag(P)·c + rowsum((PL) ∘ R)``: O(n²·d), no n³ product.
    A dense ``C`` costs one blockwise n³ product ``PC``.

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg_X, reg_E : float
        λ_X (may be negative) and λ_E ≥ 0; ``G + Λ_X + λ_E I`` must be
        positive definite.
    correlation : ndarray of shape (n_items, n_items), LowRankCorrelation or None
        ``C``; ``None`` means ``C = 0`` (EASE with λ = λ_X + λ_E).
    dropout : float in [0, 1), default=0.0
        Dropout probability ``p`` of the emphasis penalty
        (:func:`dropout_penalty`).
    xi : float >= 0 or None, default=0.0
        Bound ξ on ``|diag(B)|``; ``None`` or ``inf`` means unconstrained.

    Returns
    -------
    B : ndarray
        ``gram`` itself, now holding B (diagonal ``d``, zero for ``ξ = 0``).
    """
    n_items = gram.shape[0]
    if dropout:
        penalty = dropout_penalty(np.diagonal(gram), reg_X + reg_E, dropout)
    else:
        penalty = reg_X + reg_E
    gram.flat[:: n_items + 1] += penalty
    P = spd_inverse_inplace(gram)
    p_diag = np.diagonal(P).astype(np.float64)
    semantic = correlation is not None and reg_E != 0
    if not semantic:
        target = _bounded_diagonal(1.0 - p_diag * penalty, xi)
        return _scaled_solution(P, (1.0 - target) / p_diag, target.astype(P.dtype))
    step = _row_block(n_items, n_items, P.itemsize)
    if isinstance(correlation, LowRankCorrelation):
        PL = P @ correlation.left.astype(P.dtype)
        right = correlation.right.astype(P.dtype)
        diag_PC = p_diag * correlation.diagonal + np.einsum(
            "ij,ij->i", PL, right, dtype=np.float64
        )
        target = _bounded_diagonal(1.0 - p_diag * penalty + reg_E * diag_PC, xi)
        r = (1.0 - target + reg_E * diag_PC) / p_diag
        column_scale = (reg_E * correlation.diagonal - r).astype(P.dtype)
        right *= P.dtype.type(reg_E)
        for start in range(0, n_items, step):
            block = P[start : start + step]
            block *= column_scale[None, :]
            block += PL[start : start + step] @ right.T
    else:
        C = correlation
        diag_PC = np.empty(n_items)
        for start in range(0, n_items, step):
            stop = min(start + step, n_items)
            diag_PC[start:stop] = np.einsum(
                "ij,ji->i",
                P[start:stop].astype(np.float64),
                C[:, start:stop].astype(np.float64),
            )
        target = _bounded_diagonal(1.0 - p_diag * penalty + reg_E * diag_PC, xi)
        r = (1.0 - target + reg_E * diag_PC) / p_diag
        minus_r = (-r).astype(P.dtype)
        for start in range(0, n_items, step):
            block = P[start : start + step]
            PC_block = block @ C
            block *= minus_r[None, :]
            PC_block *= P.dtype.type(reg_E)
            block += PC_block
    P.flat[:: n_items + 1] = target.astype(P.dtype)
    return P


def _bounded_diagonal(unconstrained, xi):
    """``clip(b⁰, −ξ, ξ)``: the diagonal the KKT conditions give ``B``."""
    if xi is None:
        return unconstrained
    if xi == 0:  # the equality constraint diag(B) = 0 of EASE and L3AE
        return np.zeros_like(unconstrained)
    return np.clip(unconstrained, -xi, xi)


def anisotropy_control_matrix(embeddings, reg):
    """The d x d map ``W = (I + FᵀF / λ)^{-1/2}`` of :class:`AnisotropyControl`.

    ``Z = F W`` is the square-root factor of the item-item ridge linear
    autoencoder on the embeddings: ``argmin_B ||Fᵀ − FᵀB||² + λ||B||²`` is
    ``B = F (FᵀF + λI)⁻¹ Fᵀ = Z Zᵀ / λ``.  With ``FᵀF = V diagMat(σ²) Vᵀ``,
    ``W = V diagMat((1 + σ²/λ)^{-1/2}) Vᵀ`` maps a singular value σ of ``F``
    to ``σ / sqrt(1 + σ²/λ) ≤ min(σ, sqrt(λ))``: directions with ``σ² ≪ λ``
    are kept, dominant ones are soft-clipped at ``sqrt(λ)``.  One symmetric
    d x d eigendecomposition, O(n·d² + d³).

    Parameters
    ----------
    embeddings : ndarray of shape (n_items, d)
    reg : float > 0
        λ.

    Returns
    -------
    W : ndarray of shape (d, d), float64, symmetric
    singular_values : ndarray of shape (d,)
        The singular values σ of ``F``, descending.
    """
    F = np.asarray(embeddings, dtype=np.float64)
    eigenvalues, V = np.linalg.eigh(F.T @ F)
    eigenvalues = np.clip(eigenvalues, 0.0, None)[::-1]
    V = V[:, ::-1]
    W = (V / np.sqrt(1.0 + eigenvalues / reg)) @ V.T
    return (W + W.T) / 2.0, np.sqrt(eigenvalues)


def add_outer_product_inplace(A, factor):
    """``A += factor @ factor.T`` in place, in row blocks (no n x n temporary).

    Parameters
    ----------
    A : ndarray of shape (n, n)
    factor : ndarray of shape (n, d)
    """
    factor = np.asarray(factor, dtype=A.dtype)
    step = _row_block(A.shape[0], A.shape[1], A.itemsize)
    for start in range(0, A.shape[0], step):
        A[start : start + step] += factor[start : start + step] @ factor.T
    return A
