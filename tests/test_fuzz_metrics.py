"""Fuzz tests of evaluation (issue 7, item 4): the ranking metrics,
``ranking_metrics`` and ``head_item_mask``, the scorers of
``make_ranking_scorer`` and ``evaluate`` must refuse bad held-out
interactions, scores, rankings and arguments with a clear error (the contract
of :mod:`tests._fuzz`), and give values in [0, 1] for valid ones.
"""

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import sparse

from sklearn_l3ae import (
    EASERecommender,
    evaluate,
    make_ranking_scorer,
    metrics,
)
from sklearn_l3ae.metrics import head_item_mask, ranking_metrics
from sklearn_l3ae.metrics._names import ACCURACY_METRICS

from ._fuzz import (
    FUZZ,
    N_ITEMS,
    WEIRD_VALUES,
    _base_matrix,
    _is_count,
    assert_clear_error,
    bad_interactions,
    raises_clearly,
)
from ._fuzz import fitted as fitted  # a pytest fixture, re-exported

# ------------------------------------------------------------------- metrics

# The built-in metrics that need no per-item data (novelty and diversity do).
PLAIN_METRICS = (*ACCURACY_METRICS, "coverage")


METRIC_FUNCTIONS = [
    metrics.recall_at_k,
    metrics.ndcg_at_k,
    metrics.precision_at_k,
    metrics.map_at_k,
    metrics.mrr_at_k,
    metrics.hit_rate_at_k,
    metrics.coverage_at_k,
]


@st.composite
def bad_held_out(draw, shape=(4, 5)):
    """``(y_true, pattern)``: held-out interactions that must be refused."""
    y = (np.random.default_rng(draw(st.integers(0, 99))).random(shape) < 0.5) * 1.0
    y[0, 0] = 1.0
    kind = draw(
        st.sampled_from(
            ["nan", "inf", "negative", "words", "complex", "3-D", "1-D", "None"]
        )
    )
    if kind == "nan":
        y[0, 0] = np.nan
        return y, r"NaN"
    if kind == "inf":
        y[0, 0] = np.inf
        return y, r"infinity"
    if kind == "negative":
        y[0, 0] = -1.0
        return y, r"non-negative|negative"
    if kind == "words":
        return np.where(y > 0, "yes", "no"), r"string|convert|numeric"
    if kind == "complex":
        return y + 1j, r"complex"
    if kind == "3-D":
        return y[None], r"dim 3"
    if kind == "1-D":
        return y[0], r"2D array"
    return None, r"2D array|scalar|None"


# dtypes that scipy.sparse does not store, and object arrays of numbers.
ODD_DTYPES = st.sampled_from([np.float16, object, np.int8, np.uint64, bool])


@settings(FUZZ, max_examples=30)
@given(bad=bad_held_out(), metric=st.sampled_from(METRIC_FUNCTIONS))
def test_metrics_refuse_bad_held_out_interactions(bad, metric):
    y_true, match = bad
    y_score = np.zeros((4, 5))
    raises_clearly(lambda: metric(y_true, y_score, k=2), match)


@settings(FUZZ, max_examples=20)
@given(dtype=ODD_DTYPES, seed=st.integers(0, 99), with_scores=st.booleans())
@example(dtype=np.float16, seed=0, with_scores=True)
@example(dtype=object, seed=0, with_scores=False)
def test_metrics_accept_held_out_of_any_numeric_dtype(dtype, seed, with_scores):
    y = np.random.default_rng(seed).random((4, 5)) < 0.5
    y[:, 0] = True
    scores = np.random.default_rng(seed + 1).random((4, 5))
    top = np.argsort(-scores, axis=1, kind="stable")
    expected = ranking_metrics(y, scores, metrics=("recall", "ndcg"), ks=(2,))
    ranking = {"y_score": scores} if with_scores else {"top_items": top}
    got = ranking_metrics(y.astype(dtype), **ranking, metrics=("recall", "ndcg"), ks=2)
    assert got == expected


RANKING_ARGUMENTS = st.one_of(
    WEIRD_VALUES,
    st.lists(st.integers(-3, 30), max_size=3),
    st.lists(st.sampled_from(["recall", "ndcg", "coverage", "auc", ""]), max_size=3),
    st.just(np.array([[0, 1], [1, 0]])),
)


@settings(FUZZ, max_examples=50)
@given(
    metrics_=RANKING_ARGUMENTS,
    ks=RANKING_ARGUMENTS,
    item_mask=st.one_of(st.none(), RANKING_ARGUMENTS, st.just([True] * 5)),
    seen=st.sampled_from(["none", "valid", "wrong shape", "nan", "sparse"]),
)
@example(metrics_=["recall"], ks=[1, 3], item_mask=None, seen="valid")
@example(metrics_="ndcg", ks=True, item_mask=None, seen="none")
# Regressions: a raw TypeError ('float' object is not iterable) and NumPy's
# "truth value of an array is ambiguous".
@example(metrics_=0.5, ks=[1], item_mask=None, seen="none")
@example(metrics_=np.array([[0, 1], [1, 0]]), ks=[1], item_mask=None, seen="none")
def test_ranking_metrics_arguments(metrics_, ks, item_mask, seen):
    rng = np.random.default_rng(0)
    y_true = (rng.random((4, 5)) < 0.5) * 1.0
    y_true[:, 1] = 1.0
    y_score = rng.random((4, 5))
    X_seen = {
        "none": None,
        "valid": (rng.random((4, 5)) < 0.3) * 1.0,
        "wrong shape": np.zeros((4, 4)),
        "nan": np.full((4, 5), np.nan),
        "sparse": sparse.csr_array((rng.random((4, 5)) < 0.3) * 1.0),
    }[seen]
    try:
        result = ranking_metrics(
            y_true,
            y_score,
            metrics=metrics_,
            ks=ks,
            item_mask=item_mask,
            X_seen=X_seen,
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"metric|\bks?\b|item_mask|X_seen|held-out")
        return
    names = [metrics_] if isinstance(metrics_, str) else list(metrics_)
    cutoffs = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
    assert names and all(name in PLAIN_METRICS for name in names)
    assert cutoffs and all(_is_count(k) for k in cutoffs)
    assert seen in ("none", "valid", "sparse")
    assert item_mask is None or np.asarray(item_mask).dtype == bool
    for key, value in result.items():
        if key not in ("n_users", "n_skipped_users"):
            assert 0.0 <= value <= 1.0, (key, value)
    assert result["n_users"] + result["n_skipped_users"] == 4


@settings(FUZZ, max_examples=40)
@given(
    y_score=st.one_of(
        st.sampled_from(["nan", "+inf", "ints", "sparse", "wrong shape", "words"]),
        st.just("valid"),
    ),
    top_items=st.sampled_from(
        [
            None,
            [[0, 1], [1, 0], [2, 3], [4, 4]],
            [[0, 1], [1, 0], [2, 3], [4, 5]],
            [[0.0, 1.0]] * 4,
            [[0, -2]] * 4,
            [[0, -1]] * 4,
            [[0]] * 4,
            [0, 1],
            [["a", "b"]] * 4,
        ]
    ),
    k=st.one_of(st.integers(-1, 8), WEIRD_VALUES),
)
def test_ranking_inputs_are_validated(y_score, top_items, k):
    rng = np.random.default_rng(1)
    y_true = sparse.csr_array((rng.random((4, 5)) < 0.5) * 1.0 + np.eye(4, 5))
    scores = {
        "nan": np.where(rng.random((4, 5)) < 0.3, np.nan, 0.5),
        "+inf": np.full((4, 5), np.inf),
        "ints": np.ones((4, 5), dtype=int),
        "sparse": sparse.csr_array(np.ones((4, 5))),
        "wrong shape": np.ones((4, 6)),
        "words": np.full((4, 5), "high"),
        "valid": rng.random((4, 5)),
    }[y_score]
    if top_items is not None:
        scores = None if y_score == "valid" else scores
    for metric in METRIC_FUNCTIONS:
        try:
            value = metric(y_true, scores, k=k, top_items=top_items)
        except AssertionError:
            raise
        except Exception as exc:
            assert_clear_error(exc, r"y_score|top_items|\bk\b|NaN|exactly one")
            continue
        assert _is_count(k) and 0.0 <= value <= 1.0
        if top_items is None:
            assert y_score in ("valid", "+inf")
        else:
            assert scores is None
            ranked = np.asarray(top_items)[:, :k]
            assert ranked.dtype.kind == "i" and ranked.shape[1] == k
            assert ((ranked >= -1) & (ranked < 5)).all()
            for row in ranked:
                assert len(set(row[row >= 0])) == (row >= 0).sum(), "repeated item"


@settings(FUZZ, max_examples=30)
@given(
    n_users=st.integers(1, 6),
    n_items=st.integers(1, 7),
    k=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    ties=st.booleans(),
)
def test_metrics_of_scores_equal_those_of_their_ranking(
    n_users, n_items, k, seed, ties
):
    rng = np.random.default_rng(seed)
    y_true = rng.random((n_users, n_items)) < 0.4
    assume(y_true.any())
    scores = (
        rng.integers(0, 3, (n_users, n_items))
        if ties
        else rng.random((n_users, n_items))
    )
    scores = scores.astype(np.float64)
    scores[rng.random((n_users, n_items)) < 0.2] = -np.inf  # seen items
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ranked = np.where(np.take_along_axis(scores, ranked, 1) == -np.inf, -1, ranked)
    if ranked.shape[1] < k:
        ranked = np.hstack([ranked, np.full((n_users, k - ranked.shape[1]), -1)])
    names = tuple(PLAIN_METRICS)
    from_scores = ranking_metrics(y_true, scores, metrics=names, ks=(k,))
    from_ranking = ranking_metrics(y_true, top_items=ranked, metrics=names, ks=(k,))
    assert from_scores == from_ranking
    hits = y_true[np.arange(n_users)[:, None], np.maximum(ranked, 0)] & (ranked >= 0)
    evaluated = y_true.any(axis=1)
    recall = (hits.sum(1)[evaluated] / y_true.sum(1)[evaluated]).mean()
    np.testing.assert_allclose(from_scores[f"recall@{k}"], recall)


@settings(FUZZ, max_examples=40)
@given(
    popularity=st.one_of(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6),
        st.lists(st.integers(-2, 9), max_size=6),
        st.just([[1, 2], [3, 4]]),
        st.just(["1", "2"]),
        st.just(["a", "b"]),
        st.just(5),
    ),
    head_fraction=st.one_of(st.floats(allow_nan=True), WEIRD_VALUES),
)
@example(popularity=["a", "b"], head_fraction=0.2)  # Regression: NumPy's message
def test_head_item_mask(popularity, head_fraction):
    try:
        mask = head_item_mask(popularity, head_fraction)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"item_popularity|head_fraction")
        return
    values = np.asarray(popularity, dtype=np.float64)
    assert values.ndim == 1 and np.isfinite(values).all() and (values >= 0).all()
    assert isinstance(head_fraction, float | int) and 0 < head_fraction < 1
    assert mask.dtype == bool and mask.shape == values.shape
    if mask.any() and not mask.all():
        assert values[mask].min() >= values[~mask].max()


# ------------------------------------------------------- scorers, evaluation


def _explicit_subset(value):
    """Whether ``value`` is one explicit item subset: a list of item indices."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int | np.integer | np.bool_) for v in value)
    )


def _as_values(value):
    """One value or a sequence (not a str) as a list, as the scorers read it."""
    if value is None or isinstance(value, str) or not np.iterable(value):
        return [value], True
    return list(value), False


@settings(FUZZ, max_examples=60)
@given(
    metric=st.one_of(st.sampled_from(list(PLAIN_METRICS)), RANKING_ARGUMENTS),
    k=st.one_of(st.integers(-2, 8), RANKING_ARGUMENTS),
    item_subset=st.one_of(
        st.sampled_from([None, "head", "tail"]),
        WEIRD_VALUES,
        st.lists(st.sampled_from([None, "head", "tail", "middle"]), max_size=3),
    ),
    head_fraction=st.one_of(st.floats(-1, 2), WEIRD_VALUES),
)
@example(metric="recall", k=3, item_subset="tail", head_fraction=0.5)
@example(
    metric=["recall", "ndcg"], k=[3, 5], item_subset=[None, "tail"], head_fraction=0.5
)
def test_make_ranking_scorer_arguments(fitted, metric, k, item_subset, head_fraction):
    try:
        scorer = make_ranking_scorer(
            metric, k, item_subset=item_subset, head_fraction=head_fraction
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"metric|\bk\b|item_subset|head_fraction|value")
        return
    metrics_, single_metric = _as_values(metric)
    ks, single_k = _as_values(k)
    explicit = _explicit_subset(item_subset)
    subsets, single_subset = (
        ([item_subset], True) if explicit else _as_values(item_subset)
    )
    assert metrics_ and all(m in PLAIN_METRICS for m in metrics_)
    assert ks and all(_is_count(value) for value in ks)
    assert explicit or (subsets and all(s in (None, "head", "tail") for s in subsets))
    assert isinstance(head_fraction, float | int) and 0 < head_fraction < 1
    X, models = fitted
    try:
        value = scorer(models["EASE"], X, np.eye(*X.shape))
    except ValueError as exc:  # a subset with no held-out item, or out of range
        assert any(s is not None for s in subsets)
        assert_clear_error(
            exc,
            r"No user in y has a relevant held-out item|item subset .* outside"
            if explicit
            else r"No user in y has a relevant held-out item",
        )
        return
    if single_metric and single_k and single_subset:
        assert 0.0 <= value <= 1.0
        return
    assert isinstance(value, dict)
    if explicit:
        subsets = ["subset"]
    prefix = {None: "", "head": "head_", "tail": "tail_", "subset": "subset_"}
    assert set(value) == {
        f"{prefix[s]}{m}@{c}" for s in subsets for m in metrics_ for c in ks
    }
    assert all(np.isnan(v) or 0.0 <= v <= 1.0 for v in value.values())


class _NotARecommender:
    """Has predict, but returns item scores instead of ranked items."""

    def predict(self, X):
        return np.asarray(X, dtype=float)


@settings(FUZZ, max_examples=40)
@given(
    which=st.sampled_from(["X", "y"]),
    bad=st.one_of(
        bad_interactions(n_users=4),
        st.sampled_from(
            [
                (None, r"held-out|2D array|scalar"),
                (np.ones((4, N_ITEMS + 1)), r"shape|features"),
                (np.ones((3, N_ITEMS)), r"shape|samples"),
                (np.ones((4, N_ITEMS), dtype=np.float16), r"^$"),  # valid
            ]
        ),
    ),
    subset=st.sampled_from([None, "head", "tail"]),
    entry=st.sampled_from(["scorer", "evaluate", "score"]),
)
@example(
    which="y", bad=([[1.0, 0.0], [1.0]], r"inhomogeneous"), subset=None, entry="score"
)  # Regression: np.ndim(y) raised NumPy's "inhomogeneous shape" in score
@example(
    which="y",
    bad=(np.ones((4, N_ITEMS), dtype=np.float16), r"^$"),
    subset=None,
    entry="score",
)  # Regression: scipy.sparse's "does not support dtype float16"
def test_scorers_and_evaluate_refuse_bad_input(fitted, which, bad, subset, entry):
    X_fit, models = fitted
    bad_value, match = bad
    X, y = X_fit[:4], np.ones((4, N_ITEMS)) - X_fit[:4]
    if which == "X" and "negative" in match:
        # Only the rows of evaluated users reach the estimator, which refuses
        # negative values (a Pipeline may map them, e.g. with a Binarizer).
        y = np.ones((4, N_ITEMS))
    X, y = (bad_value, y) if which == "X" else (X, bad_value)
    if entry == "scorer":
        scorer = make_ranking_scorer("ndcg", 3, item_subset=subset)
        call = lambda: scorer(models["L3AE"], X, y)  # noqa: E731
    elif entry == "evaluate":
        call = lambda: evaluate(models["L3AE"], X, y, ks=3, item_subsets=subset)  # noqa: E731
    else:
        call = lambda: models["L3AE"].score(X, y)  # noqa: E731
    if match == r"^$":
        call()  # float16 held-out interactions are fine
        return
    if which == "y" and match == r"negative values|infinity":
        match = r"negative|infinity"
    raises_clearly(call, match + r"|held-out")


@pytest.mark.parametrize(
    "estimator, match",
    [
        (EASERecommender(), r"not fitted"),
        (_NotARecommender(), r"predict must return"),
        (object(), r"predict|decision_function|recommender"),
    ],
)
@pytest.mark.parametrize("entry", ["scorer", "evaluate"])
def test_scorers_and_evaluate_refuse_what_is_not_a_fitted_recommender(
    estimator, match, entry
):
    X = _base_matrix(0)[:4]
    if entry == "scorer":
        call = lambda: make_ranking_scorer("recall", 2)(estimator, X, X)  # noqa: E731
    else:
        call = lambda: evaluate(estimator, X, X, ks=2, item_subsets=None)  # noqa: E731
    raises_clearly(call, match, types=(ValueError, TypeError, AttributeError))


@settings(FUZZ, max_examples=40)
@given(
    metrics_=RANKING_ARGUMENTS,
    ks=RANKING_ARGUMENTS,
    subsets=st.one_of(
        RANKING_ARGUMENTS,
        st.lists(st.sampled_from([None, "head", "tail", "middle"]), max_size=3),
    ),
    head_fraction=st.one_of(st.floats(-1, 2), WEIRD_VALUES),
)
@example(metrics_=("recall",), ks=(1, 2), subsets=["head", "tail"], head_fraction=0.5)
@example(metrics_=["recall"], ks=1, subsets=np.nan, head_fraction=0.5)  # Regression
@example(metrics_=["recall"], ks=1, subsets=np.eye(2), head_fraction=0.5)  # Regression
def test_evaluate_arguments(fitted, metrics_, ks, subsets, head_fraction):
    X, models = fitted
    y = np.ones(X.shape) - X
    try:
        report = evaluate(
            models["EASE"],
            X,
            y,
            metrics=metrics_,
            ks=ks,
            item_subsets=subsets,
            head_fraction=head_fraction,
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(
            exc, r"metric|\bks?\b|item_subsets|item subset|head_fraction|held-out"
        )
        return
    names = [metrics_] if isinstance(metrics_, str) else list(metrics_)
    cutoffs = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
    assert names and all(name in PLAIN_METRICS for name in names)
    assert cutoffs and all(_is_count(k) for k in cutoffs)
    explicit = _explicit_subset(subsets)
    wanted = ["subset"] if explicit else _as_values(subsets)[0]
    assert explicit or (wanted and set(wanted) <= {None, "head", "tail"})
    assert isinstance(head_fraction, float | int) and 0 < head_fraction < 1
    for subset in dict.fromkeys(wanted):
        for name in names:
            for k in cutoffs:
                try:
                    value = report.score(name, k, subset)
                except KeyError:  # a subset without held-out items
                    continue
                assert np.isnan(value) or 0.0 <= value <= 1.0
