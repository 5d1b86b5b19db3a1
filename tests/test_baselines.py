"""The baselines: API, numerics against direct transcriptions, and errors."""

import sys

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    evaluate,
    make_ranking_scorer,
)
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    SemanticEASERecommender,
)
from sklearn_l3ae.model_selection import random_holdout_split

from ._numerics import assert_scores_match, contributions_bound, product_error_bound
from ._reference import (
    ease_reference,
    random_interactions,
    relative_error,
    semantic_reference,
)
from .test_common import _RECOMMENDER_XFAILS


def _expected_failed_checks(estimator):
    return _RECOMMENDER_XFAILS


@parametrize_with_checks(
    [
        PopularityRecommender(),
        ALSRecommender(factors=3, iterations=3, random_state=0),
        BPRRecommender(factors=3, iterations=5, random_state=0),
        ItemKNNRecommender(n_neighbors=5),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_baseline(estimator, check):
    check(estimator)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = random_interactions(rng, 60, 15, density=0.25)
    F = rng.standard_normal((15, 4))
    return X, F / np.linalg.norm(F, axis=1, keepdims=True)


def _masked(scores, X):
    scores = np.array(scores, dtype=np.float64)
    scores[np.asarray(X) > 0] = -np.inf
    return scores


def test_popularity_scores_are_training_counts(data):
    X, _ = data
    model = PopularityRecommender(top_k=4).fit(X)
    np.testing.assert_array_equal(model.item_popularity_, (X > 0).sum(axis=0))
    X_new = np.zeros((2, 15))
    X_new[0, np.argmax(model.item_popularity_)] = 1
    scores = model.decision_function(X_new)
    np.testing.assert_array_equal(
        scores, _masked(np.tile((X > 0).sum(axis=0), (2, 1)), X_new)
    )
    # Ranked by popularity, ties by lower index, the seen item skipped.
    order = np.lexsort((np.arange(15), -scores[0]))[:4]
    np.testing.assert_array_equal(model.predict(X_new)[0], order)


def test_item_knn_matches_brute_force_cosine(data):
    X, _ = data
    model = ItemKNNRecommender(n_neighbors=15).fit(sparse.csr_array(X))
    norms = np.linalg.norm(X, axis=0)
    cosine = (X.T @ X) / np.outer(norms, norms)
    X_users = X[:10]
    np.testing.assert_allclose(
        model.decision_function(X_users), _masked(X_users @ cosine, X_users), rtol=1e-5
    )


def test_item_knn_keeps_n_neighbors_per_item(data):
    X, _ = data
    similarity = ItemKNNRecommender(n_neighbors=3).fit(X).coef_
    assert np.diff(similarity.indptr).max() <= 3


def test_als_folds_in_users_by_least_squares(data):
    """Fold-in equals the weighted ridge solve of implicit ALS (Hu et al. 2008)."""
    X, _ = data
    alpha, reg = 2.0, 0.1
    model = ALSRecommender(
        factors=4, reg=reg, alpha=alpha, iterations=5, random_state=0
    ).fit(X)
    Y = model.item_factors_.astype(np.float64)
    x_new = np.zeros(15)
    x_new[[1, 4, 7]] = 1.0
    # implicit's convention: confidence alpha·x on observed entries, 1 elsewhere.
    confidence = np.where(x_new > 0, alpha * x_new, 1.0)
    A = Y.T @ (confidence[:, None] * Y) + reg * np.eye(4)
    user = np.linalg.solve(A, Y.T @ (confidence * (x_new > 0)))
    np.testing.assert_allclose(
        model.decision_function(x_new[None, :]),
        _masked((user @ Y.T)[None, :], x_new[None, :]),
        rtol=2e-3,
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: ALSRecommender(factors=4, iterations=4, random_state=3),
        lambda: BPRRecommender(factors=4, iterations=20, random_state=3),
    ],
)
def test_factor_models_are_deterministic_given_random_state(data, make):
    X, _ = data
    first = make().fit(X).decision_function(X)
    # The same call with the same seed: the same bits (BPR runs one thread).
    np.testing.assert_array_equal(first, make().fit(X).decision_function(X))


def test_bpr_scores_training_users_only(data):
    X, _ = data
    model = BPRRecommender(factors=4, iterations=10, random_state=0).fit(X)
    scores = model.decision_function(sparse.csr_array(X))
    # Users sharing a history get the factors of the first of them.
    first = [
        next(v for v in range(len(X)) if (X[v] == X[u]).all()) for u in range(len(X))
    ]
    assert first != list(range(len(X)))  # the data do have shared histories
    users, items = model.user_factors_[first], model.item_factors_
    expected = users.astype(np.float64) @ items.T.astype(np.float64)
    bound = product_error_bound(users, items.T, np.float32)
    assert_scores_match(scores, _masked(expected, X), bound)
    # Training users are recognized by their history, in any order or subset.
    subset = [7, 3, 11]
    assert_scores_match(
        model.decision_function(X[subset]),
        _masked(expected[subset], X[subset]),
        bound[subset],
    )
    X_other = X[:4].copy()
    X_other[2, np.flatnonzero(X[2] == 0)[0]] = 1
    with pytest.raises(ValueError, match=r"1 of the 4 rows of X \(first: row 2\)"):
        model.decision_function(X_other)
    # The check does not modify the caller's matrix.
    X_sparse = sparse.csr_array(X)[:, ::-1][:, ::-1]
    before = X_sparse.indices.copy()
    model.decision_function(X_sparse)
    np.testing.assert_array_equal(X_sparse.indices, before)


def test_missing_implicit_says_how_to_install(data, monkeypatch):
    X, _ = data
    monkeypatch.setitem(sys.modules, "implicit", None)
    monkeypatch.setitem(sys.modules, "implicit.cpu.als", None)
    with pytest.raises(ImportError, match=r"pip install \"sklearn-l3ae\[baselines\]\""):
        ALSRecommender(factors=2).fit(X)


def test_semantic_ease_is_phase_one(data):
    X, F = data
    model = SemanticEASERecommender(item_embeddings=F, dtype=np.float64).fit(X)
    C = semantic_reference(F, 10.0)
    assert relative_error(model.coef_, C) < 1e-8
    assert_scores_match(
        model.decision_function(X[:5]),
        _masked(X[:5] @ model.coef_, X[:5]),
        2 * product_error_bound(X[:5], model.coef_, np.float64),
    )


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_additive_ease_mixes_ease_and_semantic(data, dtype, tol):
    X, F = data
    model = AdditiveEASERecommender(
        item_embeddings=F, reg=5.0, text_share=0.3, dtype=dtype
    ).fit(sparse.csr_array(X))
    expected = 0.7 * ease_reference(X, 5.0) + 0.3 * semantic_reference(F, 10.0)
    assert model.coef_.dtype == dtype
    assert relative_error(model.coef_, expected) < tol


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_collective_ease_is_ease_on_stacked_rows(data, dtype, tol):
    X, F = data
    model = CollectiveEASERecommender(
        item_embeddings=F, reg=5.0, text_weight=3.0, dtype=dtype
    ).fit(sparse.csr_array(X))
    stacked = np.vstack([X, 3.0 * F.T])
    assert relative_error(model.coef_, ease_reference(stacked, 5.0)) < tol
    np.testing.assert_array_equal(np.diag(model.coef_), 0.0)


def test_cold_item_reaches_users_through_text_only(data):
    X, F = data
    X = X.copy()
    X[:, 14] = 0  # item 14: text, no interactions
    for model in (
        SemanticEASERecommender(item_embeddings=F),
        AdditiveEASERecommender(item_embeddings=F, reg=5.0),
        CollectiveEASERecommender(item_embeddings=F, reg=5.0),
    ):
        assert np.abs(model.fit(X).coef_[:, 14]).max() > 0
    assert np.abs(EASERecommender(reg=5.0).fit(X).coef_[:, 14]).max() == 0


@pytest.mark.parametrize(
    "model",
    [SemanticEASERecommender(), AdditiveEASERecommender(), CollectiveEASERecommender()],
)
def test_text_baselines_need_item_data(data, model):
    X, F = data
    with pytest.raises(ValueError, match="needs item_texts or item_embeddings"):
        model.fit(X)
    with pytest.raises(ValueError, match="item_embeddings has 14 entries but X has 15"):
        clone(model).set_params(item_embeddings=F[:14]).fit(X)
    with pytest.raises(ValueError, match="not both"):
        clone(model).set_params(item_embeddings=F, item_texts=["a"] * 15).fit(X)


def test_text_baselines_with_texts_use_the_encoder(data):
    X, _ = data

    class Encoder:  # a deterministic stand-in transformer (no model needed)
        def fit(self, texts, y=None):
            return self

        def transform(self, texts):
            return np.array([[len(t), t.count("a") + 1.0] for t in texts])

        def fit_transform(self, texts, y=None):
            return self.transform(texts)

        def get_params(self, deep=True):
            return {}

    texts = [f"item {'a' * i}" for i in range(15)]
    F = Encoder().transform(texts)
    model = CollectiveEASERecommender(
        Encoder(), item_texts=texts, reg=5.0, text_weight=0.5, dtype=np.float64
    ).fit(X)
    stacked = np.vstack([X, 0.5 * F.T])
    assert relative_error(model.coef_, ease_reference(stacked, 5.0)) < 1e-8


def test_baselines_work_in_grid_search_and_evaluate():
    rng = np.random.default_rng(1)
    X = sparse.csr_array(random_interactions(rng, 120, 30, density=0.2))
    train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    users = np.arange(X.shape[0])
    for model, grid in [
        (ALSRecommender(iterations=3, random_state=0), {"factors": [2, 8]}),
        (BPRRecommender(iterations=10, random_state=0), {"factors": [2, 8]}),
        (ItemKNNRecommender(), {"n_neighbors": [5, 20]}),
        (PopularityRecommender(), {"top_k": [10]}),
    ]:
        search = GridSearchCV(
            model,
            grid,
            scoring=make_ranking_scorer("ndcg", k=10),
            cv=[(users, users)],
        ).fit(train, val)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
        best = clone(search.best_estimator_).fit(train + val)
        report = evaluate(best, train + val, test, ks=(10,))
        assert 0 <= report.score("ndcg", 10) <= 1
        assert report.n_users("tail") > 0


@pytest.mark.parametrize(
    "model, match",
    [
        (
            CollectiveEASERecommender(item_embeddings=np.full((15, 3), 1e30), reg=1.0),
            "weights contain NaN or inf",
        ),
        (
            SemanticEASERecommender(item_embeddings=np.full((15, 3), 1e30)),
            "cannot be computed in floating point",
        ),
        (
            L3AERecommender(item_embeddings=np.full((15, 3), 1e20), reg_X=1.0),
            "cannot be computed in floating point",
        ),
    ],
)
def test_overflowing_embeddings_raise_instead_of_nan_scores(data, model, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        model.fit(X)


def test_item_knn_is_an_item_item_model(data):
    """coef_ is the kept cosine similarity; neighbours and reasons read it."""
    X, _ = data
    model = ItemKNNRecommender(n_neighbors=4).fit(X)
    S = model.coef_.toarray()
    assert sparse.issparse(model.coef_) and S.shape == (15, 15)
    neighbours, scores = model.similar_items([2, 7], n=3, as_labels=False)
    for row, item in enumerate([2, 7]):
        weights = S[item].copy()
        weights[item] = -np.inf
        order = np.lexsort((np.arange(15), -weights))[:3]
        np.testing.assert_array_equal(neighbours[row], order)
        np.testing.assert_array_equal(scores[row], weights[order])
    user = X[5]
    item = int(np.flatnonzero(user == 0)[0])
    history, contributions = model.explain(user, item)
    np.testing.assert_array_equal(np.sort(history), np.flatnonzero(user > 0))
    np.testing.assert_allclose(
        np.sort(contributions), np.sort(S[user > 0, item]), rtol=0, atol=0
    )
    score = model.decision_function(user[None])[0, item]
    bound = contributions_bound(user, S, np.float32)[item]
    assert_scores_match(contributions.sum(), score, bound)
