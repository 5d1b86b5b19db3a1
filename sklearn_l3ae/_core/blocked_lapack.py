"""Blocked Cholesky factorization and inverse in place, through LAPACK/BLAS
calls on sub-blocks of one buffer; and the two other n x n steps of the
dense closed form as single in-place calls (``lansy``'s 1-norm of the lower
triangle, a ``gemm`` accumulating a low-rank product into the buffer).

SciPy's f2py wrappers (``scipy.linalg.lapack``, ``scipy.linalg.blas``) copy
any array that is not contiguous, so a sub-block of an n x n matrix cannot be
handed to them in place.  ``scipy.linalg.cython_lapack`` and
``cython_blas`` export the same routines of the same library with their
Fortran signature (leading dimensions included) as C function pointers; they
are called here through :mod:`ctypes` on pointers into the matrix, so every
step of the blocked algorithms is one level-3 call on a view, with no copy
and no second BLAS library (NumPy's bundled OpenBLAS is a different copy from
SciPy's: alternating between them makes each one's spinning threads slow the
other down).

The routines are reached the way Numba reaches SciPy's LAPACK
(``__pyx_capi__``, Cython's export table for ``cimport``).

The matrix is a C-ordered symmetric ``A``; its transpose is the same matrix
in Fortran order, whose *upper* triangle is ``A``'s *lower* triangle.  The
routines work on that Fortran view with ``uplo='U'``: ``A = UᵀU`` with
``U = Lᵀ`` upper triangular, so ``L`` is left in the lower triangle of ``A``
(what ``potrf`` on the whole matrix leaves there too).

Why blocked at all: multithreaded OpenBLAS ``potrf`` crashes on large
matrices (segfault in ``?syrk_thread``, OpenBLAS issue #2821; from n ≈ 26 500
with SciPy's bundled OpenBLAS and two threads).  Here no call sees a square
operand above the block size, except the rectangular ``gemm``/``trsm``/
``trmm`` updates, which are threaded over their columns.
"""

import ctypes

import numpy as np
from scipy.linalg import LinAlgError, cython_blas, cython_lapack

_BLAS = {
    np.dtype(np.float32): "s",
    np.dtype(np.float64): "d",
}
_INT = ctypes.c_int
_CHAR = ctypes.c_char_p
_POINTER = ctypes.c_void_p
# Argument kinds of the routines used: c = char*, i = int*, s = scalar*,
# a = array pointer (a scalar* too, the matrix).
_SIGNATURES = {
    "potrf": (cython_lapack, "ciaii"),
    "trtri": (cython_lapack, "cciaii"),
    "lauum": (cython_lapack, "ciaii"),
    "trsm": (cython_blas, "cccciisaiai"),
    "trmm": (cython_blas, "cccciisaiai"),
    "gemm": (cython_blas, "cciiisaiaisai"),
    "syrk": (cython_blas, "cciisaisai"),
    "lansy": (cython_lapack, "cciaia"),
}
# Routines that return a scalar of the matrix's dtype (the others: none).
_RETURNS_SCALAR = frozenset({"lansy"})
_FUNCTIONS = {}


def _routine(prefix, name):
    """The C function pointer of LAPACK/BLAS routine ``prefix + name``."""
    key = prefix + name
    if key not in _FUNCTIONS:
        module, kinds = _SIGNATURES[name]
        capsule = module.__pyx_capi__[key]
        get_name = ctypes.pythonapi.PyCapsule_GetName
        get_name.restype = ctypes.c_char_p
        get_name.argtypes = [ctypes.py_object]
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        address = get_pointer(capsule, get_name(capsule))
        argtypes = [_CHAR if kind == "c" else _POINTER for kind in kinds]
        restype = None
        if name in _RETURNS_SCALAR:
            restype = ctypes.c_float if prefix == "s" else ctypes.c_double
        # CFUNCTYPE releases the GIL during the call.
        _FUNCTIONS[key] = ctypes.CFUNCTYPE(restype, *argtypes)(address)
    return _FUNCTIONS[key]


class _Calls:
    """The routines of one matrix's dtype, called on ``(row, col)`` blocks of
    its Fortran view (leading dimension n)."""

    def __init__(self, A):
        # The pointer arithmetic below assumes one C-ordered n x n buffer.
        if not (
            A.ndim == 2
            and A.shape[0] == A.shape[1]
            and A.flags.c_contiguous
            and A.flags.writeable
            and A.dtype in _BLAS
        ):
            raise ValueError(
                "Expected a writeable C-contiguous square float32 or float64 "
                f"array, got shape {A.shape}, dtype {A.dtype}, "
                f"C-contiguous={A.flags.c_contiguous}."
            )
        self.A = A
        self.n = A.shape[0]
        self.prefix = _BLAS[A.dtype]
        self.scalar = np.ctypeslib.as_ctypes_type(A.dtype)
        self.lda = _INT(self.n)
        self.base = A.ctypes.data
        self.itemsize = A.itemsize

    def at(self, row, col):
        """Pointer to element ``(row, col)`` of the Fortran view."""
        return _POINTER(self.base + (row + col * self.n) * self.itemsize)

    def call(self, name, *args):
        """Call ``name`` with Python args: bytes (chars), int (ints),
        float (scalars, wrapped as the dtype's), pointers as they are; its
        return value (a float for ``lansy``, else None)."""
        kinds = _SIGNATURES[name][1]
        converted, keep = [], []
        for kind, value in zip(kinds, args, strict=True):
            if kind == "c":
                converted.append(value)
            elif kind == "i":
                box = _INT(value) if isinstance(value, int) else value
                keep.append(box)
                converted.append(ctypes.cast(ctypes.pointer(box), _POINTER))
            elif kind == "s":
                box = self.scalar(value)
                keep.append(box)
                converted.append(ctypes.cast(ctypes.pointer(box), _POINTER))
            else:
                converted.append(value)
        return _routine(self.prefix, name)(*converted)

    def factor(self, name, start, size):
        """``potrf``/``trtri``/``lauum`` of the diagonal block at ``start``;
        LAPACK's ``info``."""
        info = _INT(0)
        lead = (b"U", b"N") if name == "trtri" else (b"U",)
        self.call(name, *lead, size, self.at(start, start), self.lda, info)
        return info.value


def cholesky_inplace(A, block):
    """``A = L Lᵀ`` in place: ``L`` in the lower triangle of C-ordered ``A``.

    Right-looking by blocks (on the Fortran view, ``A = UᵀU``): ``potrf`` of
    the diagonal block, ``trsm`` of the block row to its right
    (``U₁₂ = U₁₁⁻ᵀ A₁₂``), then the trailing upper triangle
    ``A₂₂ −= U₁₂ᵀ U₁₂`` by column strips of ``block``: ``gemm`` above each
    diagonal strip block, ``syrk`` on it.  n³/3 flops, no temporary.

    Returns
    -------
    info : int
        As LAPACK ``potrf``'s: 0, or the 1-based order of the leading minor
        that is not positive (the factorization stops there).
    """
    calls = _Calls(A)
    n = calls.n
    for k in range(0, n, block):
        size = min(block, n - k)
        info = calls.factor("potrf", k, size)
        if info > 0:
            return k + info
        end = k + size
        rest = n - end
        if not rest:
            break
        calls.call(
            "trsm", b"L", b"U", b"T", b"N", size, rest, 1.0,
            calls.at(k, k), calls.lda, calls.at(k, end), calls.lda,
        )  # fmt: skip
        for strip in range(end, n, block):
            width = min(block, n - strip)
            if strip > end:
                calls.call(
                    "gemm", b"T", b"N", strip - end, width, size, -1.0,
                    calls.at(k, end), calls.lda, calls.at(k, strip), calls.lda,
                    1.0, calls.at(end, strip), calls.lda,
                )  # fmt: skip
            calls.call(
                "syrk", b"U", b"T", width, size, -1.0,
                calls.at(k, strip), calls.lda, 1.0, calls.at(strip, strip), calls.lda,
            )  # fmt: skip
    return 0


def inverse_from_cholesky_inplace(A, block):
    """``A⁻¹ = L⁻ᵀ L⁻¹`` in place from ``L`` in the lower triangle of ``A``.

    LAPACK's ``potri`` by blocks, on the Fortran view (``U = Lᵀ``):

    * ``W = U⁻¹`` by block columns, first to last (LAPACK ``trtri``'s
      blocked algorithm): with the leading ``W₁₁`` already inverted,
      ``W₁₂ = −W₁₁ U₁₂ U₂₂⁻¹`` (``trmm`` then ``trsm``), then ``trtri`` of
      the diagonal block;
    * ``A⁻¹ = W Wᵀ`` by block rows, first to last (``lauum``'s blocked
      algorithm): ``W₁₂ ← W₁₂ W₂₂ᵀ`` (``trmm``), ``lauum`` of ``W₂₂``,
      then the blocks to the right: ``W₁₂ += W₁₃ W₂₃ᵀ`` (``gemm``) and
      ``W₂₂ += W₂₃ W₂₃ᵀ`` (``syrk``).

    2n³/3 flops, no temporary; the result is left in the lower triangle.
    """
    calls = _Calls(A)
    n = calls.n
    for j in range(0, n, block):
        size = min(block, n - j)
        if j:
            calls.call(
                "trmm", b"L", b"U", b"N", b"N", j, size, 1.0,
                calls.at(0, 0), calls.lda, calls.at(0, j), calls.lda,
            )  # fmt: skip
            calls.call(
                "trsm", b"R", b"U", b"N", b"N", j, size, -1.0,
                calls.at(j, j), calls.lda, calls.at(0, j), calls.lda,
            )  # fmt: skip
        info = calls.factor("trtri", j, size)
        if info > 0:  # pragma: no cover - a Cholesky factor has no zero pivot
            raise LinAlgError(
                f"The Cholesky factor is singular at order {j + info} (trtri)."
            )
    for i in range(0, n, block):
        size = min(block, n - i)
        end = i + size
        if i:
            calls.call(
                "trmm", b"R", b"U", b"T", b"N", i, size, 1.0,
                calls.at(i, i), calls.lda, calls.at(0, i), calls.lda,
            )  # fmt: skip
        calls.factor("lauum", i, size)
        if end < n:
            if i:
                calls.call(
                    "gemm", b"N", b"T", i, size, n - end, 1.0,
                    calls.at(0, end), calls.lda, calls.at(i, end), calls.lda,
                    1.0, calls.at(0, i), calls.lda,
                )  # fmt: skip
            calls.call(
                "syrk", b"U", b"N", size, n - end, 1.0,
                calls.at(i, end), calls.lda, 1.0, calls.at(i, i), calls.lda,
            )  # fmt: skip
    return A


def symmetric_one_norm(A):
    """``‖A‖₁`` of a symmetric ``A`` from its lower triangle (LAPACK ``lansy``).

    One pass over the triangle, no temporary beyond an n-vector; the strict
    upper triangle is not read.  NaN propagates (LAPACK ≥ 3.4), inf stays inf.
    """
    calls = _Calls(A)
    work = np.empty(calls.n, dtype=A.dtype)
    return float(
        calls.call(
            "lansy", b"1", b"U", calls.n, calls.at(0, 0), calls.lda,
            _POINTER(work.ctypes.data),
        )
    )  # fmt: skip


def add_product_inplace(A, left, right):
    """``A += left @ right.T`` in place: one ``gemm`` on the n x n buffer.

    ``left`` and ``right`` are (n, d) arrays of ``A``'s dtype (copied to
    C order if they are not).  In the Fortran view this is
    ``Aᵀ += right · leftᵀ``; no n x n temporary, BLAS threads over the
    columns.
    """
    calls = _Calls(A)
    n = calls.n
    left = np.ascontiguousarray(left, dtype=A.dtype)
    right = np.ascontiguousarray(right, dtype=A.dtype)
    if left.shape != right.shape or left.ndim != 2 or left.shape[0] != n:
        raise ValueError(
            f"Expected two ({n}, d) factors, got shapes {left.shape} and {right.shape}."
        )
    d = left.shape[1]
    if d == 0 or n == 0:
        return A
    calls.call(
        "gemm", b"T", b"N", n, n, d, 1.0,
        _POINTER(right.ctypes.data), d, _POINTER(left.ctypes.data), d,
        1.0, calls.at(0, 0), calls.lda,
    )  # fmt: skip
    return A
