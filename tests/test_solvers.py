"""The solver seam: problems, the dense solver's plan and its own diagnosis."""

import re

import numpy as np
import pytest

from sklearn_l3ae import EASERecommender, L3AERecommender, RDLAERecommender, _solvers
from sklearn_l3ae._solvers import DenseSolver, ItemWeightsProblem, select_solver
from sklearn_l3ae.baselines import AdditiveEASERecommender, CollectiveEASERecommender

from ._reference import ease_reference, random_interactions, relative_error

X_SMALL = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=float)


def _advised_bound(message, name="reg"):
    return float(re.search(rf"choose {re.escape(name)} > (-?[0-9.e+-]+)", message)[1])


@pytest.mark.parametrize("text_weight", [0.1, 0.5])
def test_collective_ease_advice_is_about_the_matrix_it_factorizes(text_weight):
    """3 users x 4 items, F = I: XᵀX is singular, but XᵀX + w²·FFᵀ is not.

    The smallest eigenvalue of XᵀX + w² I is w² (XᵀX has a null vector), so
    reg must exceed -w²: the advice says so, and following it works.
    """
    model = CollectiveEASERecommender(
        item_embeddings=np.eye(4), text_weight=text_weight, reg=-0.5, dtype=np.float64
    )
    with pytest.raises(ValueError, match=r"XᵀX \+ text_weight²·FFᵀ") as info:
        model.fit(X_SMALL)
    bound = _advised_bound(str(info.value))
    assert bound == pytest.approx(-(text_weight**2), rel=1e-6)
    assert "increase text_weight" in str(info.value)
    model.set_params(reg=bound + 1e-3).fit(X_SMALL)  # the advice works
    # With w = 1 the same reg = -0.5 is fine: the matrix is definite.
    model.set_params(text_weight=1.0, reg=-0.5).fit(X_SMALL)


def test_shift_below_the_smallest_eigenvalue_is_explained_with_it():
    X = random_interactions(np.random.default_rng(0), 40, 10)
    smallest = np.linalg.eigvalsh(X.T @ X)[0]
    reg = -smallest - 1.0
    with pytest.raises(ValueError, match="smallest eigenvalue of XᵀX") as info:
        EASERecommender(reg=reg, dtype=np.float64).fit(X)
    assert _advised_bound(str(info.value)) == pytest.approx(-smallest, rel=1e-5)
    with pytest.raises(ValueError) as info:
        L3AERecommender(reg_X=reg - 2.0, reg_E=2.0, dtype=np.float64).fit(X)
    assert _advised_bound(str(info.value), "reg_X + reg_E") == pytest.approx(
        -smallest, rel=1e-5
    )


def test_dropout_changes_the_matrix_and_the_advice():
    """With dropout the matrix is XᵀX + p/(1−p)·diagMat(diag(XᵀX)) + reg·I."""
    X = random_interactions(np.random.default_rng(1), 30, 8)
    gram = X.T @ X
    M = gram + np.diag(0.5 / 0.5 * np.diag(gram))
    smallest = np.linalg.eigvalsh(M)[0]
    with pytest.raises(ValueError, match="or increase dropout") as info:
        RDLAERecommender(reg=-smallest - 1.0, dropout=0.5, dtype=np.float64).fit(X)
    assert _advised_bound(str(info.value)) == pytest.approx(-smallest, rel=1e-5)


def test_cheap_refusals_come_before_any_dense_work(monkeypatch):
    def no_dense_work(*args, **kwargs):
        raise AssertionError("the Gram matrix was formed")

    monkeypatch.setattr(_solvers._dense, "gram_matrix", no_dense_work)
    X = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], dtype=float)  # item 3: no users
    with pytest.raises(ValueError, match="item column 3 has no interactions"):
        EASERecommender(reg=0.0).fit(X)
    with pytest.raises(ValueError, match=r"fewer users \(2\) than items \(4\)"):
        EASERecommender(reg=-1.0).fit(np.ones((2, 4)))
    # Text rows cover every item of the collective fusion: no refusal there,
    # until the factorization (which the stub refuses to reach).
    with pytest.raises(AssertionError, match="Gram matrix was formed"):
        CollectiveEASERecommender(item_embeddings=np.eye(4), reg=0.0).fit(X)


def test_the_dense_plan_counts_the_arrays_of_the_problem():
    X = random_interactions(np.random.default_rng(2), 30, 12)
    solver = DenseSolver()
    alone = solver.plan(ItemWeightsProblem(X, reg=1.0), "m").estimate
    with_dense_c = solver.plan(
        ItemWeightsProblem(X, reg=1.0, dense_correlation=True), "m"
    ).estimate
    square = 12 * 12 * X.dtype.itemsize
    assert with_dense_c.total - alone.total == square
    kept = solver.plan(ItemWeightsProblem(X, reg=1.0, extra_square=1), "m").estimate
    assert kept.total - alone.total == square
    # The additive fusion keeps its dense C beside EASE's weights: two arrays.
    with pytest.raises(Exception, match="2 dense 12 x 12") as info:
        AdditiveEASERecommender(item_embeddings=np.eye(12)[:, :3], memory_limit=1).fit(
            X
        )
    assert "float32" in str(info.value)


class _RecordingSolver(DenseSolver):
    """A solver that takes an option the dense one does not, and says so."""

    name = "recording"

    def __init__(self):
        self.solved = []

    def accepts(self, options):
        return options.get("recording") is True

    def solve(self, problem):
        self.solved.append(problem)
        return super().solve(problem)


def test_a_new_solver_plugs_in_without_touching_an_estimator(monkeypatch):
    recording = _RecordingSolver()
    monkeypatch.setitem(_solvers.SOLVERS, recording.name, recording)
    assert select_solver() is _solvers.SOLVERS["dense"]
    assert select_solver(recording=True) is recording
    # An estimator whose execution options select it uses it, and gets the
    # weights of the same problem.
    monkeypatch.setattr(
        EASERecommender, "_solver", lambda self: select_solver(recording=True)
    )
    X = random_interactions(np.random.default_rng(3), 50, 9)
    model = EASERecommender(reg=2.0, dtype=np.float64).fit(X)
    (problem,) = recording.solved
    assert problem.reg == 2.0 and problem.n_items == 9
    assert relative_error(model.coef_, ease_reference(X, 2.0)) < 1e-10
