"""Debiased (inverse-propensity) Recall and NDCG against a transcription of
the official L3AE evaluation (``encoder/trainer/metrics.py``, ``recall`` and
``ndcg`` with ``pscore``; propensity from ``data_handler_*.py``)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_l3ae import EASERecommender, evaluate, make_ranking_scorer
from sklearn_l3ae.metrics import (
    ranking_metrics,
    unbiased_ndcg_at_k,
    unbiased_recall_at_k,
)


def official_propensity(item_popularity):
    pscore = (item_popularity / item_popularity.max()) ** 0.5
    return pscore.clip(min=1e-3)


def official_unbiased(test_data, rated, pscore, k):
    """The official arithmetic: ``r`` the 0/1 hit matrix of the ranked lists,
    ``inv_pscore_sum`` each user's Σ 1/p over the ground truth; the sums are
    divided by the number of test users as ``unbiased_eval`` does."""
    r = np.array(
        [
            [item in truth for item in row]
            for truth, row in zip(test_data, rated, strict=True)
        ],
        dtype=float,
    )
    batch_pscore = pscore[rated]
    inv_pscore_sum = np.array([(1 / pscore[list(t)]).sum() for t in test_data])
    # recall
    recall = np.sum((r[:, :k] / batch_pscore[:, :k]).sum(1) / inv_pscore_sum)
    # ndcg
    test_matrix = np.zeros((len(r), k))
    for i, items in enumerate(test_data):
        test_matrix[i, : min(k, len(items))] = 1
    idcg = np.sum(test_matrix * 1.0 / np.log2(np.arange(2, k + 2)), axis=1)
    dcg = np.sum(
        r[:, :k] * ((1.0 / np.log2(np.arange(2, k + 2))) / batch_pscore[:, :k]), axis=1
    )
    idcg[idcg == 0.0] = 1.0
    ndcg = dcg / idcg
    ndcg[np.isnan(ndcg)] = 0.0
    ndcg /= inv_pscore_sum
    return recall / len(r), np.sum(ndcg) / len(r)


@pytest.mark.parametrize("k", [1, 5, 20])
def test_unbiased_metrics_equal_the_official_code(k):
    rng = np.random.default_rng(0)
    n_users, n_items = 80, 40
    popularity = rng.integers(0, 60, size=n_items).astype(float)
    popularity[3] = 0.0  # clipped at 1e-3
    y_true = (rng.random((n_users, n_items)) < 0.1).astype(float)
    y_true[y_true.sum(1) == 0, 0] = 1.0  # every user has a test item
    top = np.array([rng.permutation(n_items)[:20] for _ in range(n_users)])
    truth = [set(np.flatnonzero(row)) for row in y_true]
    recall, ndcg = official_unbiased(truth, top, official_propensity(popularity), k)
    got = ranking_metrics(
        y_true,
        top_items=top,
        metrics=["unbiased_recall", "unbiased_ndcg"],
        ks=[k],
        item_popularity=popularity,
    )
    assert_allclose(got[f"unbiased_recall@{k}"], recall, rtol=1e-12)
    assert_allclose(got[f"unbiased_ndcg@{k}"], ndcg, rtol=1e-12)
    assert_allclose(
        unbiased_recall_at_k(y_true, top_items=top, k=k, item_popularity=popularity),
        recall,
        rtol=1e-12,
    )
    assert_allclose(
        unbiased_ndcg_at_k(y_true, top_items=top, k=k, item_popularity=popularity),
        ndcg,
        rtol=1e-12,
    )
    # Uniform popularity: p = 1 for every item, unbiased recall is recall.
    flat = ranking_metrics(
        y_true,
        top_items=top,
        metrics=["unbiased_recall", "recall"],
        ks=[k],
        item_popularity=np.full(n_items, 7.0),
    )
    assert_allclose(flat[f"unbiased_recall@{k}"], flat[f"recall@{k}"], rtol=1e-12)


def test_unbiased_scorers_read_the_folds_training_popularity():
    rng = np.random.default_rng(1)
    X = (rng.random((120, 30)) < 0.2).astype(float)
    y = ((rng.random((120, 30)) < 0.1) & (X == 0)).astype(float)
    model = EASERecommender(reg=10.0, dtype=np.float64).fit(X[:80])
    scorer = make_ranking_scorer(["unbiased_recall", "unbiased_ndcg"], k=[5, 10])
    got = scorer(model, X[80:], y[80:])
    model.top_k = 10
    top = model.predict(X[80:])
    keep = y[80:].sum(1) > 0
    truth = [set(np.flatnonzero(row)) for row in y[80:][keep]]
    pscore = official_propensity(model.item_popularity_.astype(float))
    for k in (5, 10):
        recall, ndcg = official_unbiased(truth, top[keep], pscore, k)
        assert_allclose(got[f"unbiased_recall@{k}"], recall, rtol=1e-12)
        assert_allclose(got[f"unbiased_ndcg@{k}"], ndcg, rtol=1e-12)
    report = evaluate(model, X[80:], y[80:], metrics=["unbiased_recall"], ks=[10])
    assert_allclose(report.score("unbiased_recall", 10), got["unbiased_recall@10"])
    with pytest.raises(ValueError, match="weighted"):
        make_ranking_scorer("unbiased_recall", k=5, item_weights=np.ones(30))
    with pytest.raises(ValueError, match="item_popularity"):
        ranking_metrics(
            y,
            top_items=np.zeros((120, 5), int) + np.arange(5),
            metrics=["unbiased_ndcg"],
            ks=[5],
        )
