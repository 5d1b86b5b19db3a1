"""The dense exact fit on a PyTorch device (``device=``, SPEC §8).

The same problem and the same closed form as :class:`DenseSolver`
(:func:`~sklearn_l3ae._core.closed_forms.l3ae_weights`, written once
against the matrix operations of :mod:`~sklearn_l3ae._core.torch_ops`);
only where the n x n work runs differs.  The Gram matrix of a sparse ``X``
is formed on the host by the same sparse product as the NumPy fit (a
sparse x sparse product gains nothing from a GPU's dense kernels) and moved
to the device; the factorization (``torch.linalg.cholesky_ex``,
``torch.cholesky_inverse``) and the closed form run there.  The weights come
back as a NumPy array.
"""

from .._core import torch_ops
from .._core.closed_forms import LowRankCorrelation
from .._core.memory import check_plan, dense_fit_plan
from ._dense import DenseSolver, closed_form, host_gram


class TorchSolver(DenseSolver):
    """Exact dense weights with the n x n work on a torch device.

    Holds the Gram matrix and its Cholesky factor (two n x n arrays) on the
    device at the peak, plus a dense ``C`` when phase 1 gives one; on a
    CUDA device the host also holds the Gram matrix while it is formed and
    the weights when they come back.
    """

    name = "torch"

    def __init__(self, device=None):
        self.device = device

    def accepts(self, options):
        return options.get("device") is not None and options.get("n_neighbors") is None

    def configured(self, options):
        return TorchSolver(device=options["device"])

    def _device(self):
        return torch_ops.resolve_device(self.device)

    def plan(self, problem, owner):
        """The host plan (the dense solver's, plus the factor on the CPU);
        on CUDA the device's own needs are checked against its free memory
        here, before any work."""
        device = self._device()
        if device.type == "cpu":  # the factor lives beside the Gram matrix
            return self._host_plan(problem, owner, factor_arrays=1)
        host = self._host_plan(problem, owner)
        n_square = 2 + int(problem.dense_correlation) + problem.extra_square
        device_plan = dense_fit_plan(
            f"{owner} on {device}",
            problem.n_items,
            problem.dtype,
            n_square=n_square,
            side_bytes=problem.side_bytes,
        )
        check_plan(device_plan, torch_ops.device_free_bytes(device))
        return host

    def _solve(self, problem, keep_inverse):
        """As the dense solver (same Gram matrix, same failure messages); an
        out-of-memory on the device becomes a MemoryLimitError."""
        with torch_ops.out_of_memory_reported(
            self._device(),
            f"fitting {problem.n_items} items in {problem.dtype}",
            "To fit: use dtype=np.float32, fit on a smaller catalogue, use "
            "device=None (NumPy on the host), or n_neighbors=... (the sparse fit "
            "for large catalogues).",
        ):
            return super()._solve(problem, keep_inverse)

    def _weights(self, problem, keep_inverse=False):
        """The closed form on the device; the weights (and with
        ``keep_inverse`` the inverse) come back as NumPy.  On CUDA the host
        Gram matrix is freed once copied, before the weights come back."""
        device = self._device()
        correlation = problem.correlation
        if correlation is not None and not isinstance(correlation, LowRankCorrelation):
            correlation = torch_ops.to_tensor(correlation, device, problem.dtype)
        gram = torch_ops.to_tensor(host_gram(problem), device)
        coef = closed_form(
            gram,
            problem,
            correlation,
            ops=torch_ops.TorchOps,
            keep_inverse=keep_inverse,
        )
        if keep_inverse:
            return tuple(torch_ops.to_numpy(array) for array in coef)
        return torch_ops.to_numpy(coef)
