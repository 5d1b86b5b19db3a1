"""Dense linear algebra of the fits: Gram matrices and SPD inverses, in place.

Pure functions of arrays (NumPy, SciPy, LAPACK); nothing here knows an
estimator.  Memory discipline: n x n matrices are updated in place
(diagonal shifts through ``A.flat[::n + 1]``, blockwise products), and no
identity matrix is ever allocated.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse
from scipy.linalg import LinAlgError, lapack
from threadpoolctl import threadpool_limits

from . import blocked_lapack

# Row blocks of n x n products are sized to hold about this many bytes, so the
# temporaries of blockwise updates stay small next to the n x n arrays.
_BLOCK_BYTES = 64 * 2**20
# Largest order inverted by one LAPACK potrf + potri call; larger matrices are
# inverted blockwise (see spd_inverse_inplace), by blocks of _INVERSE_BLOCK:
# potrf crashes from about 26 500 (see below), so the limit keeps a 20 %
# margin below that.  Measured on 2 vCPUs, side by side at 12 288 items
# (float32, best of 2): one potrf + potri call 14.0 s, the blocked path
# (blocked_lapack) 12.7 s with blocks of 8 192 and 14.1 s with 4 096; the
# former blocked path, NumPy products between LAPACK calls on copied blocks
# of 1 024, took 19.1 s.
_LAPACK_MAX_ORDER = 20480
_INVERSE_BLOCK = 8192
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


def row_block(n_rows, n_cols, itemsize):
    """Rows of an n_rows x n_cols block of about ``_BLOCK_BYTES``."""
    return max(1, min(n_rows, _BLOCK_BYTES // max(1, n_cols * itemsize)))


def available_cores():
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
    with ThreadPoolExecutor(max(1, min(available_cores(), len(starts)))) as pool:
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


def spd_inverse_inplace(A):
    """Invert a symmetric positive-definite matrix in place (Cholesky).

    LAPACK ``potrf`` factors ``A`` and ``potri`` forms the inverse from the
    factor, both in the memory of ``A``; the result is then symmetrized.
    Above ``_LAPACK_MAX_ORDER`` the same algorithms run blockwise, as
    level-3 LAPACK/BLAS calls on sub-blocks of ``A`` in place
    (:mod:`~.blocked_lapack`): multithreaded OpenBLAS ``potrf`` crashes on
    large matrices (segfault in ``?syrk_thread``, OpenBLAS issue #2821; here
    from n ≈ 26 500 with SciPy 1.17's bundled OpenBLAS 0.3.30 and two
    threads).

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
    # ‖A‖₁ for pocon, from the lower triangle that potrf reads.
    norm = blocked_lapack.symmetric_one_norm(A)
    potrf, pocon, potri = lapack.get_lapack_funcs(("potrf", "pocon", "potri"), (A,))
    # A is symmetric, so its transpose is the same matrix in Fortran order and
    # LAPACK works on our buffer without a copy.  The upper triangle of the
    # Fortran view is the lower triangle of A, where both paths leave the
    # Cholesky factor.
    fortran_view = A.T
    if n > _LAPACK_MAX_ORDER:
        info = blocked_lapack.cholesky_inplace(A, _INVERSE_BLOCK)
        method = "blocked Cholesky"
    else:
        factor, info = potrf(fortran_view, lower=0, overwrite_a=1, clean=0)
        method = "LAPACK potrf"
        if info < 0:  # pragma: no cover - argument error, a bug on our side
            raise RuntimeError(f"LAPACK potrf rejected argument {-info}.")
        if not np.shares_memory(factor, A):  # pragma: no cover - f2py contract
            raise RuntimeError("LAPACK did not work in place.")
    if info > 0:
        raise NotPositiveDefiniteError(
            f"The matrix is not positive definite: its leading minor of "
            f"order {info} is not positive ({method}).",
            order=int(info),
        )
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
        blocked_lapack.inverse_from_cholesky_inplace(A, _INVERSE_BLOCK)
    else:
        potri(fortran_view, lower=0, overwrite_c=1)
    _symmetrize_from_lower(A)
    return A


def add_outer_product_inplace(A, factor):
    """``A += factor @ factor.T`` in place, in row blocks (no n x n temporary).

    Parameters
    ----------
    A : ndarray of shape (n, n)
    factor : ndarray of shape (n, d)
    """
    factor = np.asarray(factor, dtype=A.dtype)
    step = row_block(A.shape[0], A.shape[1], A.itemsize)
    for start in range(0, A.shape[0], step):
        A[start : start + step] += factor[start : start + step] @ factor.T
    return A


def spd_solve_many(matrices, right_hand_sides):
    """Solve ``matrices[q] @ x = right_hand_sides[q]`` for SPD matrices, in place.

    One LAPACK ``potrf`` + ``potrs`` per matrix: at the orders of
    support-constrained fits (tens to hundreds) the loop runs at about
    twice the speed of NumPy's stacked solvers.  As in
    :func:`spd_inverse_inplace`, a matrix that is not numerically positive
    definite, or whose ``pocon`` condition estimate exceeds 1 / eps, is
    refused rather than solved into noise.

    Parameters
    ----------
    matrices : ndarray of shape (b, m, m), float32 or float64
        Symmetric; overwritten by their Cholesky factors.
    right_hand_sides : ndarray of shape (b, m, r)
        Same dtype.

    Returns
    -------
    solutions : ndarray of shape (b, m, r)

    Raises
    ------
    NotPositiveDefiniteError
        With the attribute ``index``: the first matrix refused.
    """
    potrf, potrs, pocon = lapack.get_lapack_funcs(
        ("potrf", "potrs", "pocon"), (matrices,)
    )
    eps = np.finfo(matrices.dtype).eps
    solutions = np.empty_like(right_hand_sides)
    with _one_blas_thread(matrices.shape[1]):
        _solve_each(matrices, right_hand_sides, solutions, potrf, potrs, pocon, eps)
    return solutions


# Order up to which a factorization runs on one BLAS thread (below, a
# second thread slows potrf down; with the other core busy, by up to 100x:
# benchmarks/bench_large.py).
_ONE_THREAD_MAX_ORDER = 1024


def _one_blas_thread(order):
    """One BLAS thread for factorizations of small ``order``."""
    if order > _ONE_THREAD_MAX_ORDER:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _solve_each(matrices, right_hand_sides, solutions, potrf, potrs, pocon, eps):
    """:func:`spd_solve_many`'s loop: potrf, pocon and potrs per matrix."""
    for q in range(matrices.shape[0]):
        matrix = matrices[q]
        # Symmetric: the C-ordered buffer is the same matrix in Fortran order.
        norm = float(np.abs(matrix).sum(axis=0).max())
        factor, info = potrf(matrix.T, lower=0, overwrite_a=1, clean=0)
        rcond = pocon(factor, norm, uplo="U")[0] if info == 0 else 0.0
        if info != 0 or not rcond >= eps:
            error = NotPositiveDefiniteError(
                f"Matrix {q} is not numerically positive definite "
                f"(LAPACK potrf info {info}, pocon estimate {rcond:.2g}).",
                order=int(max(info, 0)),
            )
            error.index = q
            raise error
        solutions[q], _ = potrs(factor, right_hand_sides[q], lower=0)


class NumpyOps:
    """The matrix operations of the closed forms, on NumPy arrays in place.

    :func:`~.closed_forms.l3ae_weights` is written once against this small
    interface; :class:`~._torch.TorchOps` implements it on a torch device.
    Vectors of length n cross it as float64 NumPy arrays on the host.
    """

    name = "numpy"

    @staticmethod
    def itemsize(A):
        return A.itemsize

    @staticmethod
    def diagonal(A):
        """``diag(A)`` as a float64 host vector."""
        return np.diagonal(A).astype(np.float64)

    @staticmethod
    def add_to_diagonal(A, values):
        A.flat[:: A.shape[0] + 1] += np.asarray(values, dtype=np.float64).astype(
            A.dtype
        )
        return A

    @staticmethod
    def set_diagonal(A, values):
        A.flat[:: A.shape[0] + 1] = np.asarray(values).astype(A.dtype)
        return A

    @staticmethod
    def asarray(values, like):
        """A copy of host ``values`` in ``like``'s dtype (and device)."""
        return np.array(values, dtype=like.dtype)

    @staticmethod
    def rowwise_dot(A, B):
        """``Σ_j A_ij B_ij`` per row, float64 on the host."""
        return np.einsum("ij,ij->i", A, B, dtype=np.float64)

    @staticmethod
    def copy(A):
        return A.copy()

    @staticmethod
    def inverse_inplace(A):
        return spd_inverse_inplace(A)

    @staticmethod
    def scale_columns_add_product(A, scale, left, right):
        """``A ← A·diagMat(scale) + left @ right.T`` in place (one ``gemm``)."""
        A *= scale[None, :]
        return blocked_lapack.add_product_inplace(A, left, right)
