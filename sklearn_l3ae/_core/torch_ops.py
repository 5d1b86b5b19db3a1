"""PyTorch execution (SPEC §8, ``device=``): the closed forms' matrix
operations on a torch device, device memory, and top-k with the package's
tie rule.

Pure functions of tensors and arrays; torch is imported on first use, so
the package imports without it.  :class:`TorchOps` implements the interface
of :class:`~.linalg.NumpyOps`, which :func:`~.closed_forms.l3ae_weights` is
written against: the formula exists once.
"""

import re
import warnings
from contextlib import contextmanager

import numpy as np

from .linalg import NotPositiveDefiniteError, row_block
from .memory import MemoryLimitError
from .optional import import_optional

# Devices the dense fit and scoring run on (MPS has no float64 and no
# Cholesky of this size; XLA and others are untested).
DEVICE_TYPES = ("cpu", "cuda")


def import_torch():
    """``torch``, or an ImportError that says how to get it."""
    return import_optional(
        "torch",
        "device=... runs on PyTorch, which is not installed: pip install "
        "'sklearn-l3ae[text]' (or torch), or pass device=None for NumPy.",
    )


def check_device_form(device):
    """Refuse a ``device`` that is no device name or ``torch.device``, without
    importing torch or asking for the device (a model fitted on a GPU can be
    loaded where there is none, then given ``device=None``)."""
    if device is None or type(device).__name__ == "device":
        return
    if not (isinstance(device, str) and re.fullmatch(r"(cpu|cuda)(:\d+)?", device)):
        raise ValueError(
            "device must be None (NumPy), 'cpu', 'cuda', 'cuda:<index>' or a "
            f"torch.device; got {device!r}."
        )


def resolve_device(device):
    """The ``torch.device`` of a ``device`` parameter (not None).

    Raises a ValueError naming what is wrong: an unparsable value, a device
    type other than cpu/cuda, or a CUDA device this machine does not have.
    """
    torch = import_torch()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            "device must be None (NumPy), 'cpu', 'cuda', 'cuda:<index>' or a "
            f"torch.device; got {device!r}."
        ) from None
    if resolved.type not in DEVICE_TYPES:
        raise ValueError(
            f"device={device!r}: only {list(DEVICE_TYPES)} devices are supported "
            "(the fit needs float64 and a large Cholesky factorization)."
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r}, but torch {torch.__version__} sees no CUDA "
                "GPU (torch.cuda.is_available() is False: no GPU, no driver, or "
                "a CPU-only torch build). Use device='cpu' or device=None."
            )
        index = 0 if resolved.index is None else resolved.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}, but there are only "
                f"{torch.cuda.device_count()} CUDA devices."
            )
        resolved = torch.device("cuda", index)
    return resolved


def device_free_bytes(device):
    """Free memory of a CUDA device in bytes; None for the CPU (host RAM)."""
    if device.type != "cuda":
        return None
    free, _ = import_torch().cuda.mem_get_info(device)
    return int(free)


def is_out_of_memory(exc):
    """Whether ``exc`` is torch running out of memory: a CUDA device's
    ``OutOfMemoryError``, or the CPU allocator's RuntimeError."""
    torch = import_torch()
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    message = str(exc).lower()
    return (
        isinstance(exc, oom)
        or "out of memory" in message
        or "can't allocate memory" in message  # DefaultCPUAllocator
    )


@contextmanager
def out_of_memory_reported(device, doing, advice):
    """Turn torch running out of memory inside the block into a
    :class:`~sklearn_l3ae._core.memory.MemoryLimitError`.

    The message says that ``device`` ran out of memory ``doing`` (e.g.
    ``"fitting 40000 items in float32"``), quotes torch's first line, and
    ends with ``advice`` (the fixes).  Other errors pass unchanged.
    """
    try:
        yield
    except RuntimeError as exc:  # torch.OutOfMemoryError is one
        if not is_out_of_memory(exc):
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise MemoryLimitError(
            f"{device} ran out of memory {doing} ({type(exc).__name__}: "
            f"{first_line}). Nothing was changed. {advice}",
            needed=None,
            limit=device_free_bytes(device),
        ) from None


def to_tensor(array, device, dtype=None):
    """A tensor on ``device`` of a NumPy array (shared, not copied, on the CPU)."""
    torch = import_torch()
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if dtype is not None:
        tensor = tensor.to(_torch_dtype(dtype))
    return tensor.to(device)


def sparse_to_tensor(X_csr, device, dtype):
    """A scipy CSR matrix as a torch sparse CSR tensor on ``device``."""
    torch = import_torch()
    if not X_csr.has_sorted_indices:
        X_csr = X_csr.sorted_indices()
    with warnings.catch_warnings():
        # "Sparse CSR tensor support is in beta state": the product used here
        # (CSR @ dense) is the supported one.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
        return torch.sparse_csr_tensor(
            torch.from_numpy(X_csr.indptr.astype(np.int64)),
            torch.from_numpy(X_csr.indices.astype(np.int64)),
            torch.from_numpy(np.asarray(X_csr.data, dtype=dtype)),
            size=X_csr.shape,
            check_invariants=False,  # scipy's canonical CSR
        ).to(device)


def set_entries(tensor, rows, columns, value):
    """``tensor[rows, columns] = value`` for host index arrays."""
    torch = import_torch()
    tensor[
        torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(tensor.device),
        torch.from_numpy(np.asarray(columns, dtype=np.int64)).to(tensor.device),
    ] = value
    return tensor


def is_tensor(value):
    """Whether ``value`` is a torch tensor (without importing torch)."""
    return type(value).__module__.startswith("torch")


def to_numpy(tensor):
    """A host NumPy array of ``tensor`` (no copy for a CPU tensor)."""
    return tensor.detach().cpu().numpy()


def _torch_dtype(dtype):
    torch = import_torch()
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(dtype)
    ]


class TorchOps:
    """The closed forms' matrix operations on torch tensors, in place.

    Vectors of length n cross the interface as float64 NumPy arrays, as for
    :class:`~.linalg.NumpyOps`; the n x n work stays on the tensor's device.
    """

    name = "torch"

    @staticmethod
    def itemsize(A):
        return A.element_size()

    @staticmethod
    def diagonal(A):
        return to_numpy(A.diagonal().to(import_torch().float64))

    @staticmethod
    def add_to_diagonal(A, values):
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (A.shape[0],))
        A.diagonal().add_(TorchOps.asarray(values, like=A))
        return A

    @staticmethod
    def set_diagonal(A, values):
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (A.shape[0],))
        A.diagonal().copy_(TorchOps.asarray(values, like=A))
        return A

    @staticmethod
    def asarray(values, like):
        torch = import_torch()
        if isinstance(values, torch.Tensor):
            return values.to(device=like.device, dtype=like.dtype, copy=True)
        return torch.tensor(np.asarray(values), dtype=like.dtype, device=like.device)

    @staticmethod
    def rowwise_dot(A, B):
        torch = import_torch()
        return to_numpy(
            torch.einsum("ij,ij->i", A.to(torch.float64), B.to(torch.float64))
        )

    @staticmethod
    def copy(A):
        return A.clone()

    @staticmethod
    def inverse_inplace(A):
        return spd_inverse_inplace(A)

    @staticmethod
    def scale_columns_add_product(A, scale, left, right):
        """``A ← A·diagMat(scale) + left @ right.T`` in place (``addmm_``)."""
        return A.mul_(scale[None, :]).addmm_(left, right.T)


def _one_norm(A):
    """``‖A‖₁`` of a symmetric tensor (largest row sum), in row blocks."""
    torch = import_torch()
    step = row_block(A.shape[0], A.shape[1], A.element_size())
    return max(
        float(A[start : start + step].abs().sum(dim=1, dtype=torch.float64).max())
        for start in range(0, A.shape[0], step)
    )


def _inverse_one_norm(factor):
    """Hager's estimate of ``‖A⁻¹‖₁`` from the Cholesky factor of ``A``.

    LAPACK's ``pocon`` runs the same estimator (``lacn2``): a few solves
    with the factor, O(n²) each, on the factor's device.
    """
    torch = import_torch()
    n = factor.shape[0]
    x = torch.full((n, 1), 1.0 / n, dtype=factor.dtype, device=factor.device)
    estimate = 0.0
    for iteration in range(5):
        y = torch.cholesky_solve(x, factor)
        new_estimate = float(y.abs().sum())
        if not np.isfinite(new_estimate):
            return np.inf
        if iteration and new_estimate <= estimate:
            break
        estimate = new_estimate
        sign = torch.where(y >= 0, 1.0, -1.0).to(factor.dtype)
        z = torch.cholesky_solve(sign, factor).abs()
        best = int(torch.argmax(z))
        if iteration and float(z[best]) <= float((z * x).sum()):
            break
        x = torch.zeros_like(x)
        x[best] = 1.0
    return estimate


def spd_inverse_inplace(A):
    """Invert a symmetric positive-definite tensor in its own memory.

    ``torch.linalg.cholesky_ex`` factors ``A`` (one more n x n tensor, the
    factor) and ``torch.cholesky_inverse`` writes the inverse back into
    ``A``.  As :func:`~.linalg.spd_inverse_inplace` does, the matrix is
    refused when it is not numerically positive definite or when its
    estimated condition number exceeds 1 / eps of the dtype.

    Raises
    ------
    NotPositiveDefiniteError
        As :func:`~.linalg.spd_inverse_inplace`; ``A`` is then unchanged.
    """
    torch = import_torch()
    norm = _one_norm(A)
    factor, info = torch.linalg.cholesky_ex(A)
    info = int(info)
    if info > 0:
        raise NotPositiveDefiniteError(
            f"The matrix is not positive definite: its leading minor of order "
            f"{info} is not positive (torch.linalg.cholesky_ex on {A.device}).",
            order=info,
        )
    eps = float(torch.finfo(A.dtype).eps)
    inverse_norm = _inverse_one_norm(factor) if np.isfinite(norm) else 0.0
    if norm * inverse_norm > 1.0 / eps:
        raise NotPositiveDefiniteError(
            f"The matrix is too ill-conditioned for {str(A.dtype).split('.')[-1]} "
            f"arithmetic: its estimated condition number {norm * inverse_norm:.2g} "
            f"exceeds 1 / eps = {1 / eps:.2g}, so its inverse would have no correct "
            "digit.",
            order=0,
        )
    torch.cholesky_inverse(factor, out=A)
    return A


# Temporaries of top_k per score: the masks above and tied, the int32 running
# count of ties, and two bool masks combining them.
TOP_K_BYTES_PER_SCORE = 1 + 1 + 4 + 1 + 1


def top_k(scores, k):
    """``(items, values)`` of the ``k`` best scores of each row of a tensor.

    The package's tie rule (:mod:`~.ranking`): decreasing score, then
    increasing column index, also at the selection boundary, where
    ``torch.topk`` alone would pick among equal scores arbitrarily.  Rows
    with fewer than ``k`` items above ``-inf`` get ``-1`` and ``-inf``.
    Returns NumPy arrays (int64 items, the scores' dtype).  Besides the
    scores it holds :data:`TOP_K_BYTES_PER_SCORE` bytes per score at its peak.
    """
    torch = import_torch()
    n_rows, n_items = scores.shape
    values, _ = torch.topk(scores, k, dim=1, sorted=True)
    kth = values[:, -1:]
    above = scores > kth
    # Among the scores equal to the k-th, the lowest indices fill the rest.
    tied = scores == kth
    room = k - above.sum(dim=1, keepdim=True)
    # int32 counts (int64 by default: 8 bytes per score, twice a float32's).
    chosen = above | (tied & (torch.cumsum(tied, dim=1, dtype=torch.int32) <= room))
    columns = torch.arange(n_items, device=scores.device).expand(n_rows, -1)
    items = columns[chosen].view(n_rows, k)
    picked = torch.gather(scores, 1, items)
    order = torch.sort(picked, dim=1, descending=True, stable=True).indices
    items = torch.gather(items, 1, order)
    picked = torch.gather(picked, 1, order)
    empty = torch.isneginf(picked)
    items[empty] = -1
    return to_numpy(items).astype(np.int64), to_numpy(picked)
