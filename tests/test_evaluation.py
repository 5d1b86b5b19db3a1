"""evaluate(): overall/head/tail tables against brute force."""

import math

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae import EASERecommender
from sklearn_l3ae.metrics import evaluate, head_item_mask, ranking_metrics

ALL_METRICS = ("recall", "ndcg", "precision", "map", "mrr", "hit_rate", "coverage")


def brute_force(scores, X, y, k, relevant_items):
    """(recall, ndcg, users evaluated) with per-user loops over unseen items."""
    recalls, ndcgs = [], []
    for u in range(X.shape[0]):
        relevant = {i for i in relevant_items if y[u, i] > 0}
        if not relevant:
            continue
        unseen = [i for i in range(X.shape[1]) if X[u, i] == 0]
        top = sorted(unseen, key=lambda i: (-scores[u, i], i))[:k]
        hits = [r for r, i in enumerate(top) if i in relevant]
        recalls.append(len(hits) / len(relevant))
        ideal = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        ndcgs.append(sum(1 / math.log2(r + 2) for r in hits) / ideal)
    return np.mean(recalls), np.mean(ndcgs), len(recalls)


@pytest.fixture
def fitted():
    rng = np.random.default_rng(7)
    X = (rng.random((60, 20)) < 0.3).astype(np.float64)
    y = ((rng.random((60, 20)) < 0.15) & (X == 0)).astype(np.float64)
    y[:5] = 0  # users without held-out items are skipped
    model = EASERecommender(reg=3.0, dtype=np.float64).fit(X)
    return model, X, y


def test_evaluate_matches_brute_force_per_subset(fitted):
    model, X, y = fitted
    report = evaluate(model, sparse.csr_matrix(X), sparse.csr_matrix(y), ks=(3, 10))
    popularity = (X > 0).sum(axis=0)
    by_popularity = sorted(range(20), key=lambda i: (-popularity[i], i))
    head = set(by_popularity[:4])  # ⌊0.2 · 20⌋ most popular training items
    subsets = {None: set(range(20)), "head": head, "tail": set(range(20)) - head}
    scores = model.decision_function(X)
    for subset, items in subsets.items():
        for k in (3, 10):
            recall, ndcg, n_users = brute_force(scores, X, y, k, items)
            assert report.score("recall", k, subset) == pytest.approx(recall)
            assert report.score("ndcg", k, subset) == pytest.approx(ndcg)
            assert report.n_users(subset) == n_users


def test_evaluate_agrees_with_ranking_metrics_for_every_metric(fitted):
    model, X, y = fitted
    report = evaluate(model, X, y, metrics=ALL_METRICS, ks=(1, 5, 50))
    head = head_item_mask(model.item_popularity_)
    scores = model.decision_function(X)
    for subset, mask in [(None, None), ("head", head), ("tail", ~head)]:
        expected = ranking_metrics(
            y, scores, metrics=ALL_METRICS, ks=(1, 5, 50), item_mask=mask
        )
        for metric in ALL_METRICS:
            for k in (1, 5, 50):
                assert report.score(metric, k, subset) == pytest.approx(
                    expected[f"{metric}@{k}"]
                )
        assert report.n_users(subset) == expected["n_users"]


def test_report_prints_a_table_and_converts_to_a_frame(fitted):
    model, X, y = fitted
    report = evaluate(model, X, y, ks=(5, 20))
    lines = repr(report).splitlines()
    assert lines[0].split() == ["items", "users", "metric", "@5", "@20"]
    assert [line.split()[0] for line in lines[1:]] == ["all"] * 2 + ["head"] * 2 + [
        "tail"
    ] * 2
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert str(report) == repr(report)
    pd = pytest.importorskip("pandas")
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["item_subset", "n_users", "metric", "k", "score"]
    assert set(frame["item_subset"]) == {"all", "head", "tail"}
    assert len(frame) == 3 * 2 * 2


def test_subset_without_users_reports_nan():
    X = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]], dtype=float)
    y = np.array([[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=float)
    model = EASERecommender(reg=1.0).fit(X)
    # ⌊0.2 · 4⌋ = 0 head items: nobody is evaluated on the head.
    report = evaluate(model, X, y, ks=(2,), item_subsets=(None, "head"))
    assert report.n_users("head") == 0
    assert math.isnan(report.score("ndcg", 2, "head"))
    assert report.n_users() == 3
    assert "nan" in repr(report)


def test_report_lookups_raise_key_error_for_missing_entries(fitted):
    model, X, y = fitted
    report = evaluate(model, X, y, ks=(5,), item_subsets=None)
    with pytest.raises(KeyError, match="item_subset='tail'"):
        report.score("ndcg", 5, "tail")
    with pytest.raises(KeyError, match="No item_subset 'head'"):
        report.n_users("head")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metrics": ("ndcg", "auc")}, "Unknown ranking metric 'auc'"),
        ({"ks": (5, 0)}, "each of ks must be an integer >= 1"),
        ({"item_subsets": (None, "middle")}, "item_subsets must be None, .head."),
        ({"head_fraction": 0}, "head_fraction must be in"),
        ({"y": None}, "need y"),
        ({"y": np.zeros((60, 20))}, "No user has a held-out item"),
        ({"y": np.zeros((60, 3))}, "y must hold"),
    ],
)
def test_evaluate_rejects_invalid_input(fitted, kwargs, match):
    model, X, y = fitted
    kwargs = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        evaluate(model, X, **kwargs)
