"""RLAE, DLAE/EDLAE, RDLAE and L3AE's xi/dropout options, as estimators."""

import re

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_l3ae import (
    DLAERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    make_ranking_scorer,
)
from sklearn_l3ae.model_selection import random_holdout_split

from ._numerics import assert_approximate_top_k, solve_tolerance
from ._reference import (
    dropout_penalty_reference,
    l3ae_relaxed_reference,
    optimizer_weights,
    random_interactions,
    rdlae_reference,
    relative_error,
    semantic_reference,
)


@pytest.fixture
def X():
    return random_interactions(np.random.default_rng(0), 200, 40)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize(
    "model, reg, dropout, xi",
    [
        (RDLAERecommender(5.0, dropout=0.2, xi=0.3), 5.0, 0.2, 0.3),
        (RLAERecommender(5.0, xi=0.3), 5.0, 0.0, 0.3),
        (DLAERecommender(5.0, dropout=0.4), 5.0, 0.4, None),
        (DLAERecommender(5.0, dropout=0.4, xi=0.0), 5.0, 0.4, 0.0),
    ],
    ids=["RDLAE", "RLAE", "DLAE", "EDLAE"],
)
def test_fit_matches_the_papers(X, dtype, tol, model, reg, dropout, xi):
    model = clone(model).set_params(dtype=dtype).fit(sparse.csr_array(X))
    assert model.coef_.dtype == dtype
    assert relative_error(model.coef_, rdlae_reference(X, reg, dropout, xi)) < tol
    np.testing.assert_array_equal(model.item_popularity_, (X > 0).sum(axis=0))
    assert model.n_features_in_ == 40


def test_float32_and_float64_fits_agree(X):
    fits = [
        RDLAERecommender(10.0, dropout=0.3, xi=0.2, dtype=dtype).fit(X)
        for dtype in (np.float32, np.float64)
    ]
    H = X.T @ X + dropout_penalty_reference(X, 10.0, 0.3)
    tol = solve_tolerance(H, np.float32) + solve_tolerance(H, np.float64)
    assert relative_error(fits[0].coef_, fits[1].coef_) <= tol
    # float32 ranks like float64 up to the near-tie rule.
    assert_approximate_top_k(
        fits[1].decision_function(X[:20]),
        fits[0].decision_function(X[:20]),
        fits[0].predict(X[:20]),
    )


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_l3ae_with_xi_and_dropout_matches_reference(X, dtype, tol):
    F = np.random.default_rng(2).standard_normal((40, 6))
    model = L3AERecommender(
        SemanticCorrelation(3.0),
        item_embeddings=F,
        reg_X=-2.0,
        reg_E=20.0,
        dropout=0.3,
        xi=0.1,
        dtype=dtype,
    ).fit(X)
    expected = l3ae_relaxed_reference(
        X, semantic_reference(F, 3.0), -2.0, 20.0, 0.3, 0.1
    )
    assert relative_error(model.coef_, expected) < tol
    assert np.diagonal(model.coef_).max() <= np.float32(0.1)
    assert np.diagonal(model.coef_).max() > 0


@pytest.mark.parametrize("dropout, xi", [(0.3, 0.1), (0.2, None), (0.0, 0.25)])
def test_l3ae_with_xi_and_dropout_matches_the_optimizer(dropout, xi):
    rng = np.random.default_rng(3)
    X = random_interactions(rng, 50, 7, density=0.3)
    F = rng.standard_normal((7, 3))
    model = L3AERecommender(
        SemanticCorrelation(0.5),
        item_embeddings=F,
        reg_X=-1.0,
        reg_E=8.0,
        dropout=dropout,
        xi=xi,
        dtype=np.float64,
    ).fit(X)
    C = model.semantic_.coef_
    penalty = np.diag(dropout_penalty_reference(X, -1.0, dropout))
    bounds = (None, None) if xi is None else (-xi, xi)
    solved = optimizer_weights(X, penalty, 8.0, C, bounds)
    assert np.max(np.abs(model.coef_ - solved)) < 1e-6


@pytest.mark.parametrize(
    "model, message",
    [
        (
            RDLAERecommender(dropout=1.0),
            r"'dropout' parameter .* range \[0(\.0)?, 1(\.0)?\)",
        ),
        (
            RDLAERecommender(dropout=-0.1),
            r"'dropout' parameter .* range \[0(\.0)?, 1(\.0)?\)",
        ),
        (
            RDLAERecommender(xi=-0.5),
            r"'xi' parameter .* range \[0(\.0)?, inf\) or None",
        ),
        (RLAERecommender(xi="0.5"), r"'xi' parameter"),
        (DLAERecommender(xi="yes"), r"'xi' parameter"),
        (L3AERecommender(dropout=1.5), r"'dropout' parameter"),
        (L3AERecommender(xi=np.nan), r"'xi' parameter"),
    ],
)
def test_invalid_parameters_are_refused(X, model, message):
    with pytest.raises(InvalidParameterError, match=message):
        model.fit(X)


def test_dropout_allows_a_negative_reg_on_a_singular_gram():
    """Fewer users than items: XᵀX is singular, yet XᵀX + Λ can be definite."""
    X = random_interactions(np.random.default_rng(4), 10, 20, density=0.4)
    with pytest.raises(ValueError, match="singular"):
        RLAERecommender(-0.05).fit(X)
    model = RDLAERecommender(-0.05, dropout=0.5, xi=0.0, dtype=np.float64).fit(X)
    assert relative_error(model.coef_, rdlae_reference(X, -0.05, 0.5, 0.0)) < 1e-8


def test_dropout_cannot_rescue_an_item_without_interactions():
    X = random_interactions(np.random.default_rng(5), 30, 10)
    X[:, 4] = 0.0
    with pytest.raises(ValueError, match=r"item column 4 has no interactions.*reg > 0"):
        RDLAERecommender(0.0, dropout=0.5).fit(X)
    with pytest.raises(ValueError, match=r"item column 4.*reg_X \+ reg_E > 0"):
        L3AERecommender(reg_X=-5.0, reg_E=5.0, dropout=0.5).fit(X)


def test_indefinite_penalty_with_dropout_says_what_to_change():
    X = random_interactions(np.random.default_rng(6), 100, 10)
    # The matrix factorized is XᵀX + Λ: the advice is its smallest eigenvalue.
    M = X.T @ X + np.diag(0.1 / 0.9 * np.diag(X.T @ X))
    smallest = np.linalg.eigvalsh(M)[0]
    with pytest.raises(
        ValueError, match=r"smallest eigenvalue.*: choose reg > (-[0-9.]+).*dropout"
    ) as info:
        RDLAERecommender(-1e4, dropout=0.1).fit(X)
    advised = float(re.search(r"choose reg > (-[0-9.]+)", str(info.value))[1])
    assert advised == pytest.approx(-smallest, rel=1e-5)


def test_grid_search_over_xi_and_dropout():
    X = random_interactions(np.random.default_rng(7), 300, 60, density=0.15)
    X_train, y_holdout = random_holdout_split(X, (0.8, 0.2), random_state=0)
    all_users = np.arange(X.shape[0])
    grid = {"xi": [0.0, 0.3, None], "dropout": [0.0, 0.4]}
    search = GridSearchCV(
        RDLAERecommender(reg=20.0, top_k=10),
        grid,
        scoring=make_ranking_scorer("ndcg", k=10),
        cv=[(all_users, all_users)],
    ).fit(X_train, y_holdout)
    results = search.cv_results_
    assert len(results["params"]) == 6
    for params, score in zip(
        results["params"], results["mean_test_score"], strict=True
    ):
        direct = RDLAERecommender(reg=20.0, top_k=10, **params).fit(X_train)
        assert score == pytest.approx(direct.score(X_train, y_holdout), rel=1e-6)
    assert search.best_score_ == results["mean_test_score"].max()
    # The candidates are different models, not one model six times.
    assert len(np.unique(np.round(results["mean_test_score"], 12))) > 1


def test_grid_search_over_l3ae_xi_and_dropout():
    rng = np.random.default_rng(8)
    X = random_interactions(rng, 200, 30, density=0.2)
    X_train, y_holdout = random_holdout_split(X, (0.8, 0.2), random_state=0)
    F = rng.standard_normal((30, 5))
    all_users = np.arange(X.shape[0])
    search = GridSearchCV(
        L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=10.0, top_k=5),
        {"xi": [0.0, 0.2], "dropout": [0.0, 0.3]},
        scoring=make_ranking_scorer("recall", k=5),
        cv=[(all_users, all_users)],
    ).fit(X_train, y_holdout)
    best = clone(search.estimator).set_params(**search.best_params_).fit(X_train)
    scorer = make_ranking_scorer("recall", k=5)
    assert search.best_score_ == pytest.approx(scorer(best, X_train, y_holdout))
