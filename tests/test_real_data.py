"""Closed forms on ../shared/data/ml-100k against the paper's dense formulas."""

import numpy as np
import pytest

from sklearn_l3ae import EASERecommender, L3AERecommender, SemanticCorrelation

from ._data import load_binary_interactions
from ._reference import (
    ease_reference,
    l3ae_reference,
    relative_error,
    semantic_reference,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ml100k():
    X, _ = load_binary_interactions("ml-100k")
    # Unit-norm embeddings as a sentence encoder produces (d = 64 < n_items).
    F = np.random.default_rng(0).standard_normal((X.shape[1], 64))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return X, F


@pytest.fixture(scope="module")
def reference(ml100k):
    X, F = ml100k
    return l3ae_reference(X.toarray(), semantic_reference(F, 5.0), -50.0, 150.0)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_l3ae_matches_paper_formula_on_ml100k(ml100k, reference, dtype, tol):
    X, F = ml100k
    model = L3AERecommender(
        SemanticCorrelation(reg=5.0),
        item_embeddings=F,
        reg_X=-50.0,
        reg_E=150.0,
        dtype=dtype,
    ).fit(X)
    assert relative_error(model.coef_, reference) < tol
    np.testing.assert_array_equal(np.diagonal(model.coef_), 0.0)


def test_ease_matches_steck_on_ml100k(ml100k):
    X, _ = ml100k
    model = EASERecommender(reg=300.0).fit(X)
    assert relative_error(model.coef_, ease_reference(X.toarray(), 300.0)) < 1e-4
