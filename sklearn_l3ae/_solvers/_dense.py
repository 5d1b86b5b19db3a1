"""The dense solver: one LAPACK Cholesky factorization of ``H`` (SPEC §2)."""

import numpy as np
from scipy import sparse

from .._core import linalg
from .._core.closed_forms import l3ae_weights
from .._core.linalg import (
    NotPositiveDefiniteError,
    add_outer_product_inplace,
    available_cores,
    gram_matrix,
)
from .._core.memory import dense_fit_plan
from .._core.validation import all_finite
from ._diagnosis import check_problem, explain_failure


def check_finite_weights(coef):
    """``coef`` if all finite, else a ValueError instead of NaN scores later.

    Overflow in a Gram or embedding product (values near the dtype's
    limits) can leave NaN or inf in weights whose factorization succeeded.
    """
    if not all_finite(coef):
        raise ValueError(
            f"The fitted item-item weights contain NaN or inf: the inputs (the "
            f"interaction values or the item embeddings) or the regularization "
            f"are too large for {coef.dtype} arithmetic. Rescale them (e.g. "
            "normalize the embeddings, binarize X) or use dtype=np.float64."
        )
    return coef


class DenseSolver:
    """Exact dense weights: ``G = XᵀX (+ EᵀE)`` formed, shifted and inverted in place.

    Holds one n_items x n_items array (``G``, becoming ``P`` and then ``B``),
    plus a dense ``C`` when phase 1 gives one.
    """

    name = "dense"

    # Options of other solvers that the dense fit ignores when they have
    # their defaults (the estimators always pass them).
    _IGNORED = ("semantic_share", "neighbor_search", "n_jobs")

    def accepts(self, options):
        """The dense solver needs no execution option: it is the default."""
        return all(
            value is None
            for name, value in options.items()
            if name not in self._IGNORED
        )

    def check(self, problem):
        """Refuse, before any dense work, a problem that cannot succeed."""
        check_problem(problem)

    def plan(self, problem, owner):
        """The :class:`~sklearn_l3ae._core.memory.FitPlan` of solving ``problem``."""
        return self._host_plan(problem, owner)

    def _host_plan(self, problem, owner, factor_arrays=0):
        """The host's plan; ``factor_arrays`` more n x n arrays are alive at
        the peak (a backend that does not factorize in place).

        The dense arrays alive at the peak, the phase-1 side arrays, and the
        work buffers: row blocks of the products (the blocked inverse above
        LAPACK's order works in place), and for sparse ``X`` the per-thread
        Gram row blocks and the transposed copy that
        :func:`~sklearn_l3ae._core.linalg.gram_matrix` makes.
        """
        X = problem.X
        n_items = problem.n_items
        dtype = problem.dtype
        itemsize = dtype.itemsize
        work = 2 * min(linalg._BLOCK_BYTES, n_items * n_items * itemsize)
        if sparse.issparse(X):
            rows = min(linalg._GRAM_ROWS, n_items) * available_cores()
            work += rows * n_items * (itemsize + 8)
            work += X.nnz * (itemsize + 4) + (n_items + 1) * 8
        if problem.extra_rows is not None:
            work += np.size(problem.extra_rows) * itemsize
        n_square = (
            1 + int(problem.dense_correlation) + problem.extra_square + factor_arrays
        )
        return dense_fit_plan(
            owner,
            n_items,
            dtype,
            n_square=n_square,
            side_bytes=problem.side_bytes,
            work_bytes=work,
        )

    def solve(self, problem):
        """``B`` of ``problem``; a failed factorization raises a ValueError
        that names the matrix factorized and the parameters that move it."""
        return self._solve(problem, keep_inverse=False)

    def solve_with_inverse(self, problem):
        """``(B, P)``: the weights and the inverse ``P = (G + Λ)⁻¹`` they come
        from (one more n x n array), for incremental updates; on the host."""
        return self._solve(problem, keep_inverse=True)

    def _solve(self, problem, keep_inverse):
        try:
            # Overflow is reported by check_finite_weights as a ValueError.
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                if keep_inverse:
                    coef, inverse = self._weights(problem, keep_inverse=True)
                else:
                    coef = self._weights(problem)
        except NotPositiveDefiniteError as exc:
            raise ValueError(explain_failure(problem)) from exc
        coef = check_finite_weights(coef)
        return (coef, inverse) if keep_inverse else coef

    def _weights(self, problem, keep_inverse=False):
        """The closed form of ``problem`` (with ``keep_inverse``: ``(B, P)``),
        overwriting its Gram matrix in place."""
        return closed_form(
            host_gram(problem), problem, problem.correlation, keep_inverse=keep_inverse
        )


def host_gram(problem):
    """``XᵀX`` (plus the outer product of the extra rows) of ``problem``, a
    new dense array on the host."""
    gram = gram_matrix(problem.X, problem.dtype)
    if problem.extra_rows is not None:
        add_outer_product_inplace(gram, problem.extra_rows.T)
    return gram


def closed_form(gram, problem, correlation, ops=linalg.NumpyOps, keep_inverse=False):
    """:func:`~sklearn_l3ae._core.closed_forms.l3ae_weights` of ``problem``
    on ``gram`` (overwritten), with the matrix operations ``ops``."""
    return l3ae_weights(
        gram,
        problem.reg,
        problem.reg_E,
        correlation,
        dropout=problem.dropout,
        xi=problem.xi,
        emphasis=problem.emphasis,
        ops=ops,
        keep_inverse=keep_inverse,
    )
