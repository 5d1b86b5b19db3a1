"""Ranking metrics against brute-force per-user loops, scikit-learn and implicit."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse
from sklearn.metrics import ndcg_score

from sklearn_l3ae._core import ranking
from sklearn_l3ae.metrics import (
    coverage_at_k,
    head_item_mask,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

METRIC_FUNCTIONS = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "map": map_at_k,
    "mrr": mrr_at_k,
    "hit_rate": hit_rate_at_k,
    "coverage": coverage_at_k,
}
SETTINGS = settings(max_examples=50, deadline=None)


# --- brute force: plain Python, one user at a time -------------------------


def brute_ranking(scores, k, seen=None):
    """Items by decreasing score then increasing index, without -inf or seen."""
    candidates = [
        item
        for item, score in enumerate(scores)
        if score != -math.inf and (seen is None or seen[item] <= 0)
    ]
    candidates.sort(key=lambda item: (-scores[item], item))
    return candidates[:k]


def brute_metric(metric, rankings, y_true, k, item_mask=None):
    """Average of ``metric`` over users with a relevant held-out item.

    ``rankings`` are per-user lists (may contain -1 for empty slots).
    Returns (value, number of users evaluated).
    """
    n_items = len(y_true[0])
    values, recommended, n_evaluated = [], set(), 0
    for ranked, row in zip(rankings, y_true, strict=True):
        relevant = {
            item
            for item in range(n_items)
            if row[item] > 0 and (item_mask is None or item_mask[item])
        }
        if not relevant:
            continue
        n_evaluated += 1
        top = list(ranked[:k])
        recommended.update(item for item in top if item >= 0)
        hits = [item >= 0 and item in relevant for item in top]
        if metric == "recall":
            values.append(sum(hits) / len(relevant))
        elif metric == "precision":
            values.append(sum(hits) / k)
        elif metric == "ndcg":
            dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
            ideal = sum(
                1 / math.log2(rank + 2) for rank in range(min(k, len(relevant)))
            )
            values.append(dcg / ideal)
        elif metric == "map":
            found, total = 0, 0.0
            for rank, hit in enumerate(hits, start=1):
                if hit:
                    found += 1
                    total += found / rank
            values.append(total / min(k, len(relevant)))
        elif metric == "mrr":
            values.append(next((1 / r for r, hit in enumerate(hits, 1) if hit), 0.0))
        elif metric == "hit_rate":
            values.append(float(any(hits)))
    if n_evaluated == 0:
        return None, 0
    if metric == "coverage":
        catalog = [i for i in range(n_items) if item_mask is None or item_mask[i]]
        return sum(i in recommended for i in catalog) / len(catalog), n_evaluated
    return sum(values) / n_evaluated, n_evaluated


# --- strategies ----------------------------------------------------------------

SCORE_VALUES = st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0, np.inf])


@st.composite
def problems(draw):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 8))
    shape = (n_users, n_items)
    return {
        "scores": draw(arrays(np.float64, shape, elements=SCORE_VALUES)),
        "y_true": draw(arrays(np.int8, shape, elements=st.integers(0, 2))),
        "k": draw(st.integers(1, n_items + 2)),
        "item_mask": draw(st.none() | arrays(bool, n_items)),
        "seen": draw(st.none() | arrays(np.int8, shape, elements=st.integers(0, 1))),
        "sparse_y": draw(st.booleans()),
    }


@st.composite
def ranked_lists(draw, n_users, n_items, width):
    """Per-user rankings of distinct items, padded with trailing -1."""
    rows = []
    for _ in range(n_users):
        items = draw(st.permutations(range(n_items)))[: draw(st.integers(0, width))]
        rows.append(list(items) + [-1] * (width - len(items)))
    return np.array(rows, dtype=np.int64).reshape(n_users, width)


def _held_out(problem):
    y_true = problem["y_true"]
    return sparse.csr_matrix(y_true) if problem["sparse_y"] else y_true


# --- definitions ---------------------------------------------------------------


@SETTINGS
@given(problems())
def test_all_metrics_from_scores_match_brute_force(problem):
    scores, y_true, k = problem["scores"], problem["y_true"], problem["k"]
    seen, mask = problem["seen"], problem["item_mask"]
    rankings = [
        brute_ranking(row, k, None if seen is None else seen[u])
        for u, row in enumerate(scores)
    ]
    names = list(METRIC_FUNCTIONS)
    expected = {name: brute_metric(name, rankings, y_true, k, mask) for name in names}
    n_users = expected["recall"][1]
    kwargs = {"metrics": names, "ks": (k,), "item_mask": mask, "X_seen": seen}
    if n_users == 0:
        with pytest.raises(ValueError, match="No user has a relevant"):
            ranking_metrics(_held_out(problem), scores, **kwargs)
        return
    result = ranking_metrics(_held_out(problem), scores, **kwargs)
    for name in names:
        assert result[f"{name}@{k}"] == pytest.approx(expected[name][0]), name
    assert result["n_users"] == n_users
    assert result["n_skipped_users"] == len(y_true) - n_users


@SETTINGS
@given(st.data())
def test_each_metric_function_from_top_items_matches_brute_force(data):
    n_users = data.draw(st.integers(1, 6))
    n_items = data.draw(st.integers(1, 8))
    k = data.draw(st.integers(1, n_items + 1))
    width = data.draw(st.integers(k, k + 2))
    top_items = data.draw(ranked_lists(n_users, n_items, width))
    y_true = data.draw(arrays(np.int8, (n_users, n_items), elements=st.integers(0, 1)))
    mask = data.draw(st.none() | arrays(bool, n_items))
    name = data.draw(st.sampled_from(list(METRIC_FUNCTIONS)))
    expected, n_users_evaluated = brute_metric(name, top_items, y_true, k, mask)
    function = METRIC_FUNCTIONS[name]
    if n_users_evaluated == 0:
        with pytest.raises(ValueError, match="No user has a relevant"):
            function(y_true, top_items=top_items, k=k, item_mask=mask)
        return
    value = function(y_true, top_items=top_items, k=k, item_mask=mask)
    assert value == pytest.approx(expected)


def test_several_cutoffs_and_batches_match_brute_force(monkeypatch):
    # A tiny batch forces many top-k batches over users.
    monkeypatch.setattr(ranking, "SCORE_BATCH_BYTES", 3 * 9 * 4)  # 3 rows a batch
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(40, 9)).astype(np.float32)
    y_true = sparse.random_array((40, 9), density=0.3, rng=rng, format="csr")
    result = ranking_metrics(y_true, scores, metrics=("ndcg", "map"), ks=(1, 3, 9))
    rankings = [brute_ranking(row, 9) for row in scores]
    dense = y_true.toarray()
    for k in (1, 3, 9):
        for name in ("ndcg", "map"):
            expected, _ = brute_metric(name, rankings, dense, k)
            assert result[f"{name}@{k}"] == pytest.approx(expected)


def test_tie_rule_lower_item_index_first():
    # Items 1, 2, 3 tie; the top 2 are items 1 and 2, in that order.
    scores = np.array([[1.0, 2.0, 2.0, 2.0]])
    assert recall_at_k([[0, 0, 0, 1]], scores, k=2) == 0.0
    assert mrr_at_k([[0, 0, 1, 0]], scores, k=2) == 0.5


def test_recall_denominator_is_number_held_out_not_min_k():
    # 4 held-out items, all 2 recommended ones hit: recall 2/4, not 2/min(2, 4).
    y_true = [[1, 1, 1, 1, 0]]
    scores = [[5.0, 4.0, 0.0, 0.0, 3.0]]
    assert recall_at_k(y_true, scores, k=2) == 0.5
    assert ndcg_at_k(y_true, scores, k=2) == 1.0


def test_x_seen_masks_a_copy_and_matches_minus_inf():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    seen = sparse.csr_matrix([[1, 0, 0, 0]])
    masked = np.array([[-np.inf, 2.0, 1.0, 0.0]])
    y_true = [[0, 0, 1, 1]]
    assert ndcg_at_k(y_true, scores, k=2, X_seen=seen) == ndcg_at_k(y_true, masked, k=2)
    assert scores[0, 0] == 3.0


def test_k_beyond_number_of_items_ranks_everything():
    y_true = [[1, 0, 1]]
    assert precision_at_k(y_true, [[0.3, 0.2, 0.1]], k=5) == pytest.approx(2 / 5)
    assert recall_at_k(y_true, [[0.3, 0.2, 0.1]], k=5) == 1.0


# --- scikit-learn and implicit ---------------------------------------------------


@SETTINGS
@given(st.data())
def test_ndcg_matches_sklearn_ndcg_score_without_ties(data):
    n_users = data.draw(st.integers(1, 6))
    n_items = data.draw(st.integers(2, 8))
    k = data.draw(st.integers(1, n_items))
    y_true = data.draw(arrays(np.int8, (n_users, n_items), elements=st.integers(0, 1)))
    y_true[np.arange(n_users), data.draw(st.integers(0, n_items - 1))] = 1
    # Distinct scores: sklearn averages the gains of tied items instead.
    scores = np.array(
        [data.draw(st.permutations(range(n_items))) for _ in range(n_users)],
        dtype=np.float64,
    )
    assert ndcg_at_k(y_true, scores, k=k) == pytest.approx(
        ndcg_score(y_true, scores, k=k)
    )


def test_sklearn_ndcg_score_counts_users_without_held_out_items_as_zero():
    y_true = np.array([[1, 0, 0], [0, 0, 0]])
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    assert ndcg_at_k(y_true, scores, k=2) == 1.0
    assert ndcg_score(y_true, scores, k=2) == 0.5


class _FixedRecommender:
    """Duck-typed implicit model recommending precomputed rankings."""

    def __init__(self, top_items):
        self.top_items = top_items

    def recommend(self, userids, user_items, N=10, **kwargs):
        ids = self.top_items[np.asarray(userids), :N].astype(np.int32)
        return ids, np.zeros(ids.shape, dtype=np.float32)


def _implicit_metrics(top_items, y_true, k):
    from implicit.evaluation import ranking_metrics_at_k

    y_true = sparse.csr_matrix(y_true, dtype=np.float32)
    return ranking_metrics_at_k(
        _FixedRecommender(top_items), y_true, y_true, K=k, show_progress=False
    )


@SETTINGS
@given(st.data())
def test_ndcg_and_map_match_implicit(data):
    n_users = data.draw(st.integers(1, 6))
    n_items = data.draw(st.integers(2, 8))
    k = data.draw(st.integers(1, n_items))
    top_items = data.draw(ranked_lists(n_users, n_items, k))
    y_true = data.draw(arrays(np.int8, (n_users, n_items), elements=st.integers(0, 1)))
    # implicit divides by zero (in its AUC) for a user with every item held out.
    y_true[:, -1] = 0
    y_true[0, 0] = 1
    expected = _implicit_metrics(top_items, y_true, k)
    ours = ranking_metrics(y_true, top_items=top_items, metrics=("ndcg", "map"), ks=k)
    assert ours[f"ndcg@{k}"] == pytest.approx(expected["ndcg"])
    assert ours[f"map@{k}"] == pytest.approx(expected["map"])


def test_precision_matches_implicit_only_when_every_user_has_k_held_out():
    # implicit's "precision" is Σ hits / Σ min(K, |held-out|) over all users
    # (micro-averaged, capped denominator); ours is the mean of hits / K.
    top_items = np.array([[0, 1], [2, 3], [0, 4]])
    y_true = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1]])
    ours = precision_at_k(y_true, top_items=top_items, k=2)
    assert ours == pytest.approx(_implicit_metrics(top_items, y_true, 2)["precision"])
    y_true[2, 3] = 0  # user 2 now has 1 < K held-out item
    ours = precision_at_k(y_true, top_items=top_items, k=2)
    assert ours == pytest.approx((2 / 2 + 2 / 2 + 1 / 2) / 3)
    assert _implicit_metrics(top_items, y_true, 2)["precision"] == pytest.approx(5 / 5)


# --- head/tail -------------------------------------------------------------------


@SETTINGS
@given(
    arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 3)),
    st.sampled_from([0.05, 0.1, 0.2, 0.29, 0.5, 0.9]),
)
def test_head_item_mask_matches_brute_force(popularity, head_fraction):
    n_head = math.floor(Fraction(str(head_fraction)) * len(popularity))
    by_popularity = sorted(range(len(popularity)), key=lambda i: (-popularity[i], i))
    expected = np.zeros(len(popularity), dtype=bool)
    expected[by_popularity[:n_head]] = True
    np.testing.assert_array_equal(head_item_mask(popularity, head_fraction), expected)


# --- validation ------------------------------------------------------------------

Y = np.array([[1, 0, 1, 0], [0, 1, 0, 0]])
S = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"y_score": S[:, :3]},
            ValueError,
            r"y_score must have y_true's shape \(2, 4\)",
        ),
        ({"y_score": S, "k": 0}, ValueError, "k must be an integer >= 1; got 0"),
        ({"y_score": S, "k": 1.5}, ValueError, "k must be an integer >= 1"),
        ({"y_score": S, "k": True}, ValueError, "k must be an integer >= 1"),
        ({"y_true": -Y}, ValueError, "non-negative.*-1"),
        ({"y_true": np.where(Y, np.nan, 0)}, ValueError, "y_true contains NaN"),
        ({"y_score": np.where(S > 0.35, np.nan, S)}, ValueError, "NaN.*row 0"),
        ({"y_score": Y}, ValueError, "floating-point scores.*top_items"),
        ({"y_score": sparse.csr_matrix(S)}, TypeError, "dense"),
        ({}, ValueError, "exactly one of y_score"),
        ({"y_score": S, "top_items": [[0], [1]]}, ValueError, "exactly one"),
        (
            {"top_items": [[0], [1]]},
            ValueError,
            "ranks 1 items per user, fewer than k=2",
        ),
        ({"top_items": [[0, 4], [1, 2]]}, ValueError, r"in \[0, 4\) or -1"),
        ({"top_items": [[0, -2], [1, 2]]}, ValueError, r"in \[0, 4\) or -1"),
        ({"top_items": [[0, 1], [2, 2]]}, ValueError, "twice for user \\(row\\) 1"),
        ({"top_items": [[0, 1]]}, ValueError, r"shape \(2, >= k\)"),
        ({"top_items": [[0.0, 1.0], [2.0, 3.0]]}, ValueError, "integer item indices"),
        ({"y_score": S, "item_mask": [1, 0, 1, 0]}, ValueError, "boolean array"),
        ({"y_score": S, "item_mask": [True, False]}, ValueError, r"shape \(4,\)"),
        ({"y_score": S, "X_seen": Y[:1]}, ValueError, "X_seen must have"),
        ({"top_items": [[0, 1], [2, 3]], "X_seen": Y}, ValueError, "X_seen masks"),
        ({"y_true": 0 * Y, "y_score": S}, ValueError, "No user has a relevant"),
        (
            {"y_score": S, "item_mask": np.array([False, False, False, True])},
            ValueError,
            "inside item_mask",
        ),
    ],
)
def test_invalid_input_raises_a_specific_error(kwargs, error, match):
    kwargs = {"y_true": Y, "k": 2, **kwargs}
    with pytest.raises(error, match=match):
        ndcg_at_k(**kwargs)


def test_unknown_metric_and_bad_cutoffs_raise():
    with pytest.raises(ValueError, match="Unknown ranking metric 'auc'.*'recall'"):
        ranking_metrics(Y, S, metrics=("recall", "auc"))
    with pytest.raises(ValueError, match="each of ks must be an integer >= 1"):
        ranking_metrics(Y, S, ks=(5, -1))
    with pytest.raises(ValueError, match="at least one"):
        ranking_metrics(Y, S, ks=())


@pytest.mark.parametrize(
    "popularity, head_fraction, match",
    [
        ([1, 2], 0.0, r"head_fraction must be in \(0, 1\)"),
        ([1, 2], 1.0, r"head_fraction must be in \(0, 1\)"),
        ([1, -2], 0.5, "non-negative"),
        ([[1, 2]], 0.5, "1-D"),
        ([1, np.nan], 0.5, "finite"),
    ],
)
def test_head_item_mask_rejects_invalid_input(popularity, head_fraction, match):
    with pytest.raises(ValueError, match=match):
        head_item_mask(popularity, head_fraction)
