"""Ranking scorers: definitions against brute force, and model selection use."""

import math

import numpy as np
import pytest
import sklearn
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer

from sklearn_l3ae import EASERecommender
from sklearn_l3ae.metrics import (
    evaluate,
    head_item_mask,
    make_ranking_scorer,
    ranking_metrics,
)
from sklearn_l3ae.model_selection import random_holdout_split, strong_generalization_cv

from ._data import load_binary_interactions


def brute_force_score(metric, k, scores, X, y, head=None):
    """Per-user Python loops: rank unseen items (ties to the lower index)."""
    values, recommended = [], set()
    for u in range(X.shape[0]):
        relevant = {i for i in range(X.shape[1]) if y[u, i] > 0}
        if head is not None:
            relevant = {i for i in relevant if i in head}
        if not relevant:
            continue
        unseen = [i for i in range(X.shape[1]) if X[u, i] <= 0]
        top = sorted(unseen, key=lambda i: (-scores[u, i], i))[:k]
        recommended.update(top)
        hits = [i in relevant for i in top]
        if metric == "recall":
            values.append(sum(hits) / len(relevant))
        elif metric == "ndcg":
            dcg = sum(1 / math.log2(r + 2) for r, hit in enumerate(hits) if hit)
            ideal = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
            values.append(dcg / ideal)
        elif metric == "precision":
            values.append(sum(hits) / k)
    if metric == "coverage":
        catalog = range(X.shape[1]) if head is None else head
        return sum(i in recommended for i in catalog) / len(catalog)
    return sum(values) / len(values)


def brute_force_head(popularity, head_fraction):
    by_popularity = sorted(range(len(popularity)), key=lambda i: (-popularity[i], i))
    return set(by_popularity[: int(head_fraction * len(popularity) + 1e-9)])


class PopularityRanker(BaseEstimator):
    """Scores every item by its training popularity (many ties)."""

    def fit(self, X, y=None):
        self.item_popularity_ = np.asarray((X > 0).sum(axis=0)).ravel()
        return self

    def decision_function(self, X):
        return np.tile(self.item_popularity_.astype(float), (X.shape[0], 1))


class FixedRanking(BaseEstimator):
    """No decision_function: predict returns the same ranked items for all."""

    def __init__(self, items=(0, 1, 2)):
        self.items = items

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return np.tile(np.asarray(self.items), (X.shape[0], 1))


@pytest.fixture
def interactions():
    rng = np.random.default_rng(42)
    X_train = (rng.random((80, 15)) < 0.3).astype(np.float64)
    X = (rng.random((30, 15)) < 0.3).astype(np.float64)
    y = ((rng.random((30, 15)) < 0.25) & (X == 0)).astype(np.float64)
    return X_train, X, y


@pytest.mark.parametrize("metric", ["recall", "ndcg", "precision", "coverage"])
@pytest.mark.parametrize("item_subset", [None, "head", "tail"])
def test_scorer_matches_brute_force(interactions, metric, item_subset):
    X_train, X, y = interactions
    model = EASERecommender(reg=5.0, dtype=np.float64).fit(X_train)
    head = None
    if item_subset is not None:
        # Popularity of the model's training matrix, not of the scored users.
        head = brute_force_head((X_train > 0).sum(axis=0), 0.3)
        if item_subset == "tail":
            head = set(range(X.shape[1])) - head
    scorer = make_ranking_scorer(
        metric, k=4, item_subset=item_subset, head_fraction=0.3
    )
    expected = brute_force_score(metric, 4, model.decision_function(X), X, y, head)
    assert scorer(model, sparse.csr_matrix(X), sparse.csr_matrix(y)) == pytest.approx(
        expected
    )


def test_scorer_follows_the_tie_rule(interactions):
    X_train, X, y = interactions
    model = PopularityRanker().fit(X_train)
    scores = np.tile((X_train > 0).sum(axis=0).astype(float), (X.shape[0], 1))
    expected = brute_force_score("ndcg", 5, scores, X, y)
    assert make_ranking_scorer("ndcg", k=5)(model, X, y) == pytest.approx(expected)


def test_scorer_reads_popularity_from_pipeline_last_step(interactions):
    X_train, X, y = interactions
    counts = X_train * 3  # Binarizer restores the 0/1 matrix
    pipe = make_pipeline(Binarizer(), EASERecommender(reg=5.0, dtype=np.float64))
    pipe.fit(counts)
    tail = set(range(15)) - brute_force_head((X_train > 0).sum(axis=0), 0.2)
    expected = brute_force_score("recall", 3, pipe.decision_function(X), X, y, tail)
    scorer = make_ranking_scorer("recall", k=3, item_subset="tail")
    assert scorer(pipe, X, y) == pytest.approx(expected)


def test_scorer_falls_back_to_predict():
    X = np.zeros((2, 4))
    y = np.array([[1, 0, 0, 0], [0, 0, 0, 1]])
    assert make_ranking_scorer("hit_rate", k=2)(FixedRanking(), X, y) == 0.5
    with pytest.raises(ValueError, match="at least k=5 ranked item indices"):
        make_ranking_scorer("hit_rate", k=5)(FixedRanking(), X, y)


def test_head_tail_scoring_is_fold_aware():
    rng = np.random.default_rng(3)
    X = (rng.random((90, 12)) < 0.35).astype(np.float64)
    X_cv, y_cv, folds = strong_generalization_cv(X, n_splits=3, random_state=0)
    scorer = make_ranking_scorer("ndcg", k=5, item_subset="tail")
    result = cross_validate(
        EASERecommender(reg=10.0, dtype=np.float64),
        X_cv,
        y_cv.toarray(),  # cross_validate refuses a sparse y
        cv=folds,
        scoring={"tail": scorer},
        return_estimator=True,
    )
    for (train, test), model, score in zip(
        folds, result["estimator"], result["test_tail"], strict=True
    ):
        X_fit, X_test, y_test = X_cv[train], X_cv[test].toarray(), y_cv[test].toarray()
        popularity = np.asarray((X_fit > 0).sum(axis=0)).ravel()
        tail = set(range(12)) - brute_force_head(popularity, 0.2)
        scores = model.decision_function(X_test)
        expected = brute_force_score("ndcg", 5, scores, X_test, y_test, tail)
        assert score == pytest.approx(expected)


def test_scorers_work_in_grid_search_with_metadata_routing(interactions):
    X_train, _, _ = interactions
    train, val = random_holdout_split(X_train, (0.8, 0.2), random_state=0)
    all_users = np.arange(X_train.shape[0])
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            EASERecommender(),
            {"reg": [1.0, 10.0]},
            scoring={
                "ndcg": make_ranking_scorer("ndcg", k=5),
                "tail": make_ranking_scorer("ndcg", k=5, item_subset="tail"),
            },
            refit="ndcg",
            cv=[(all_users, all_users)],
        ).fit(train, val)
    assert np.isfinite(search.cv_results_["mean_test_tail"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metric": "auc", "k": 5}, "Unknown ranking metric 'auc'"),
        ({"metric": "ndcg", "k": 0}, "k must be an integer >= 1"),
        ({"metric": "ndcg", "k": 5, "item_subset": "middle"}, "item_subset must be"),
        ({"metric": "ndcg", "k": 5, "head_fraction": 1.5}, "head_fraction must be"),
    ],
)
def test_make_ranking_scorer_rejects_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ranking_scorer(**kwargs)


def test_scorer_rejects_invalid_calls(interactions):
    X_train, X, y = interactions
    model = EASERecommender(reg=5.0).fit(X_train)
    scorer = make_ranking_scorer("ndcg", k=5)
    with pytest.raises(ValueError, match="need y, the held-out interactions"):
        scorer(model, X, None)
    with pytest.raises(ValueError, match=r"y must hold .* shape \(30, 15\)"):
        scorer(model, X, y[:, :5])
    with pytest.raises(ValueError, match="No user in y has a relevant held-out"):
        scorer(model, X, 0 * y)
    tail = make_ranking_scorer("ndcg", k=5, item_subset="tail")
    with pytest.raises(ValueError, match="expose item_popularity_"):
        tail(FixedRanking(), X, y)
    assert repr(tail) == (
        "make_ranking_scorer('ndcg', k=5, item_subset='tail', head_fraction=0.2)"
    )


@pytest.mark.slow
def test_grid_search_on_movielens_with_head_and_tail_scorers():
    X, _ = load_binary_interactions("ml-100k")
    train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    all_users = np.arange(X.shape[0])
    scoring = {
        "ndcg@20": make_ranking_scorer("ndcg", k=20),
        "recall@20": make_ranking_scorer("recall", k=20),
        "head_ndcg@20": make_ranking_scorer("ndcg", k=20, item_subset="head"),
        "tail_ndcg@20": make_ranking_scorer("ndcg", k=20, item_subset="tail"),
    }
    search = GridSearchCV(
        EASERecommender(),
        {"reg": [50.0, 500.0]},
        scoring=scoring,
        refit="ndcg@20",
        cv=[(all_users, all_users)],
    ).fit(train, val)

    # The values inside the search are the metrics of the refitted model.
    best = search.best_index_
    scores = search.best_estimator_.decision_function(train)
    popularity = np.asarray(train.sum(axis=0)).ravel()
    head = head_item_mask(popularity)
    assert head.sum() == int(0.2 * X.shape[1])
    for name, mask in [("", None), ("head_", head), ("tail_", ~head)]:
        expected = ranking_metrics(
            val, scores, metrics=("ndcg", "recall"), ks=(20,), item_mask=mask
        )
        assert search.cv_results_[f"mean_test_{name}ndcg@20"][best] == pytest.approx(
            expected["ndcg@20"], rel=1e-6
        )
    assert search.cv_results_["mean_test_recall@20"][best] == pytest.approx(
        ranking_metrics(val, scores, ks=(20,))["recall@20"], rel=1e-6
    )
    report = evaluate(search.best_estimator_, train, test, ks=(20,))
    assert report.score("ndcg", 20) > 0.2  # EASE on ML-100K: far above random
    assert 0 < report.n_users("tail") < report.n_users() <= X.shape[0]


@pytest.mark.slow
def test_strong_generalization_cross_validation_on_movielens():
    X, _ = load_binary_interactions("ml-100k")
    X_cv, y_cv, folds = strong_generalization_cv(X, n_splits=2, random_state=0)
    result = cross_validate(
        EASERecommender(reg=200.0),
        X_cv,
        y_cv.toarray(),  # cross_validate refuses a sparse y
        cv=folds,
        scoring={
            "ndcg@20": make_ranking_scorer("ndcg", k=20),
            "tail_recall@20": make_ranking_scorer("recall", k=20, item_subset="tail"),
        },
    )
    assert ((result["test_ndcg@20"] > 0.2) & (result["test_ndcg@20"] < 1)).all()
    assert (
        (result["test_tail_recall@20"] >= 0) & (result["test_tail_recall@20"] < 1)
    ).all()


def _count_ranked_users(monkeypatch, estimator_class):
    calls = []
    original = estimator_class._raw_scores

    def counting(self, X_batch):
        calls.append(X_batch.shape[0])
        return original(self, X_batch)

    monkeypatch.setattr(estimator_class, "_raw_scores", counting)
    return calls


def test_a_multi_metric_scorer_ranks_each_user_once(interactions, monkeypatch):
    """One ranking pass gives every metric, cut-off and item subset."""
    X_train, X, y = interactions
    model = EASERecommender(reg=5.0, dtype=np.float64).fit(X_train)
    calls = _count_ranked_users(monkeypatch, EASERecommender)
    scorer = make_ranking_scorer(
        ["ndcg", "recall", "coverage"], k=[2, 4], item_subset=[None, "tail"]
    )
    scores = scorer(model, X, y)
    n_evaluated = int((np.asarray(y).sum(axis=1) > 0).sum())
    assert sum(calls) == n_evaluated  # each evaluated user scored once
    assert len(scores) == 3 * 2 * 2
    # Each value is what the single scorer computes on its own.  The single
    # scorers rank other sets of users (other product shapes); the float64
    # scores have no near ties, so round-off cannot reorder them.
    scores_all = np.sort(model.decision_function(X), axis=1)
    gaps = np.diff(scores_all[:, np.isfinite(scores_all).all(axis=0)], axis=1)
    assert gaps.min() > 1e-9
    for subset in (None, "tail"):
        for metric in ("ndcg", "recall", "coverage"):
            for k in (2, 4):
                name = f"{'' if subset is None else subset + '_'}{metric}@{k}"
                single = make_ranking_scorer(metric, k, item_subset=subset)
                assert scores[name] == pytest.approx(single(model, X, y), rel=1e-12)


def test_grid_search_with_a_multi_metric_scorer_ranks_once_per_candidate(
    interactions, monkeypatch
):
    X_train, X, y = interactions
    everyone = np.arange(X.shape[0])
    multi = make_ranking_scorer(["ndcg", "recall"], k=[3, 5])
    search = GridSearchCV(
        EASERecommender(dtype=np.float64),
        {"reg": [1.0, 10.0]},
        scoring=multi,
        refit="ndcg@5",
        cv=[(everyone, everyone)],
    )
    calls = _count_ranked_users(monkeypatch, EASERecommender)
    search.fit(X, y)
    n_evaluated = int((np.asarray(y).sum(axis=1) > 0).sum())
    assert sum(calls) == 2 * n_evaluated  # two candidates, one pass each
    assert set(search.cv_results_) >= {"mean_test_ndcg@5", "mean_test_recall@3"}
    # A dict of single scorers gives the same numbers, one pass per scorer.
    calls.clear()
    singles = {
        f"{metric}@{k}": make_ranking_scorer(metric, k)
        for metric in ("ndcg", "recall")
        for k in (3, 5)
    }
    again = GridSearchCV(
        EASERecommender(dtype=np.float64),
        {"reg": [1.0, 10.0]},
        scoring=singles,
        refit="ndcg@5",
        cv=[(everyone, everyone)],
    ).fit(X, y)
    assert sum(calls) == 2 * 4 * n_evaluated
    for name in singles:
        np.testing.assert_array_equal(
            again.cv_results_[f"mean_test_{name}"],
            search.cv_results_[f"mean_test_{name}"],
        )
