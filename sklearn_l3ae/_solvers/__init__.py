"""Solvers of the item-item weights, behind one seam.

Every item-item recommender describes what it wants as an
:class:`ItemWeightsProblem` and asks a solver for it; the solver plans its
memory, refuses impossible problems cheaply, solves, and diagnoses its own
failures from the matrix it actually factorizes.  A new solver (a
support-constrained sparse one, one on a torch device) is a class with the
same four methods registered in :data:`SOLVERS`; no estimator's ``fit``
changes.

Import rule: solvers import the core only.
"""

from ._dense import DenseSolver, check_finite_weights
from ._diagnosis import check_in_range
from ._problem import ItemWeightsProblem
from ._support import SupportSolver, with_support_alternative
from ._torch import TorchSolver

# Asked in order: the first that accepts the options is used.
SOLVERS = {
    SupportSolver.name: SupportSolver(),
    TorchSolver.name: TorchSolver(),
    DenseSolver.name: DenseSolver(),
}


def select_solver(**options):
    """The registered solver that accepts the estimator's ``options``.

    ``options`` are the execution parameters of the estimator
    (``n_neighbors``, ``semantic_share``, ``neighbor_search``, ``n_jobs``,
    ``device``);
    each solver's ``accepts`` says whether it runs with them (the dense
    solver, the fallback, when none is set), and ``configured(options)``,
    where a solver has it, returns it set up with them.
    """
    if options.get("device") is not None and options.get("n_neighbors") is not None:
        raise ValueError(
            f"device={options['device']!r} runs the dense exact fit, and "
            f"n_neighbors={options['n_neighbors']} the sparse fit, which runs on "
            "the CPU with NumPy: pass one of them."
        )
    for solver in SOLVERS.values():
        if solver.accepts(options):
            configured = getattr(solver, "configured", None)
            return solver if configured is None else configured(options)
    raise ValueError(f"No solver runs with {options}.")  # pragma: no cover


__all__ = [
    "SOLVERS",
    "DenseSolver",
    "SupportSolver",
    "TorchSolver",
    "ItemWeightsProblem",
    "check_finite_weights",
    "check_in_range",
    "select_solver",
    "with_support_alternative",
]
