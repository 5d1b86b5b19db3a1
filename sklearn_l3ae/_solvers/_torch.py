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

import numpy as np

from .._core import torch_ops
from .._core.closed_forms import LowRankCorrelation, l3ae_weights
from .._core.linalg import (
    NotPositiveDefiniteError,
    add_outer_product_inplace,
    gram_matrix,
)
from .._core.memory import MemoryLimitError, check_plan, dense_fit_plan
from ._dense import DenseSolver, check_finite_weights
from ._diagnosis import explain_failure


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
        n_square = 2 + int(problem.dense_correlation)
        device_plan = dense_fit_plan(
            f"{owner} on {device}",
            problem.n_items,
            problem.dtype,
            n_square=n_square,
            side_bytes=problem.side_bytes,
        )
        check_plan(device_plan, torch_ops.device_free_bytes(device))
        return host

    def solve(self, problem):
        device = self._device()
        dtype = problem.dtype
        try:
            gram = _host_gram(problem)
            gram = torch_ops.to_tensor(gram, device)
            correlation = problem.correlation
            if correlation is not None and not isinstance(
                correlation, LowRankCorrelation
            ):
                correlation = torch_ops.to_tensor(correlation, device, dtype)
            coef = l3ae_weights(
                gram,
                problem.reg,
                problem.reg_E,
                correlation,
                dropout=problem.dropout,
                xi=problem.xi,
                emphasis=problem.emphasis,
                ops=torch_ops.TorchOps,
            )
            coef = torch_ops.to_numpy(coef)
        except NotPositiveDefiniteError as exc:
            raise ValueError(explain_failure(problem)) from exc
        except RuntimeError as exc:
            if not torch_ops.is_out_of_memory(exc):
                raise
            raise MemoryLimitError(
                f"{device} ran out of memory fitting {problem.n_items} items in "
                f"{dtype} ({exc.__class__.__name__}: {str(exc).splitlines()[0]}). "
                "Nothing was changed. To fit: use dtype=np.float32, fit on a "
                "smaller catalogue, use device=None (NumPy on the host), or "
                "n_neighbors=... (the sparse fit for large catalogues).",
                needed=None,
                limit=torch_ops.device_free_bytes(device),
            ) from None
        return check_finite_weights(coef)


def _host_gram(problem):
    """``XᵀX (+ EᵀE)`` on the host, as the dense solver forms it."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        gram = gram_matrix(problem.X, problem.dtype)
        if problem.extra_rows is not None:
            add_outer_product_inplace(gram, problem.extra_rows.T)
    return gram
