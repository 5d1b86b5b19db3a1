"""Fuzz tests of the recommenders (issue 7, item 4): bad interaction
matrices, parameters, arguments of ``recommend``, ``similar_items`` and
``explain``, and bad item side data (embeddings, texts, ids) must be refused
with a clear error, and valid input, however extreme or random, must keep the
output contract of :mod:`tests._fuzz`.
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st
from scipy import sparse

import sklearn_l3ae
from sklearn_l3ae import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
)
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    PopularityRecommender,
    SemanticEASERecommender,
)

from ._fuzz import (
    FUZZ,
    N_ITEMS,
    N_USERS,
    RECOMMENDERS,
    WEIRD_VALUES,
    F,
    _base_matrix,
    _check_fitted_scores,
    _embeddings,
    _is_count,
    assert_clear_error,
    assert_scores_finite_except,
    bad_embeddings,
    bad_interactions,
    interaction_matrices,
    raises_clearly,
)
from ._fuzz import fitted as fitted  # a pytest fixture, re-exported
from ._numerics import (
    assert_rankings_match,
    assert_scores_match,
    contributions_bound,
    product_error_bound,
    row_tie_tolerance,
)

# ---------------------------------------------------------------- estimators


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=15)
@given(bad=bad_interactions())
def test_fit_refuses_bad_interactions(name, bad):
    X, match = bad
    raises_clearly(lambda: RECOMMENDERS[name]().fit(X), match)


def _scoring_calls(model, X):
    calls = {
        "predict": lambda: model.predict(X),
        "decision_function": lambda: model.decision_function(X),
        "recommend": lambda: model.recommend(X, n=3),
        "score": lambda: model.score(X, X),
    }
    if hasattr(model, "explain"):
        calls["explain"] = lambda: model.explain(X, 0)
    return calls


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=20)
@example(bad=([[1.0, 0.0, 1.0], [1.0]], r"inhomogeneous"), method="explain")
@given(
    bad=bad_interactions(n_users=3),
    method=st.sampled_from(
        ["predict", "decision_function", "recommend", "score", "explain"]
    ),
)
def test_scoring_refuses_bad_interactions(fitted, name, bad, method):
    X, match = bad
    model = fitted[1][name]
    calls = _scoring_calls(model, X)
    assume(method in calls)
    # A 1-D row of n_items values is one user's history for explain and
    # recommend.
    assume(not (method in ("explain", "recommend") and match == r"2D array"))
    raises_clearly(calls[method], match)


# Parameters that hold data or estimators, fuzzed by their own tests below.
_DATA_PARAMETERS = {"semantic", "item_texts", "item_embeddings", "item_ids"}


def _fuzzable_parameters(name):
    params = RECOMMENDERS[name]().get_params(deep=False)
    return sorted(set(params) - _DATA_PARAMETERS)


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_parameters_are_validated_or_give_finite_scores(name, data):
    parameter = data.draw(st.sampled_from(_fuzzable_parameters(name)), "parameter")
    value = data.draw(WEIRD_VALUES, "value")
    X = _base_matrix(data.draw(st.integers(0, 2**16), "seed"))
    model = RECOMMENDERS[name]().set_params(**{parameter: value})
    try:
        model.fit(X)
        _check_fitted_scores(model, X)
    except MemoryError as exc:  # MemoryLimitError: a budget below the need
        assert parameter == "memory_limit", exc
        assert isinstance(exc, sklearn_l3ae.MemoryLimitError)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, re.escape(parameter).replace("_", "[_ ]?") + "|reg")


@pytest.mark.parametrize(
    "make, parameter",
    [
        (lambda: EASERecommender(reg=1e300), r"\breg = 1e\+300"),
        (lambda: RLAERecommender(reg=-1e39), r"\breg = -1e\+39"),
        (lambda: RDLAERecommender(reg=1e300), r"\breg = 1e\+300"),
        (lambda: DLAERecommender(reg=1e300), r"\breg = 1e\+300"),
        (lambda: AdditiveEASERecommender(reg=1e300, item_embeddings=F), r"\breg = "),
        (lambda: L3AERecommender(reg_X=1e300), r"reg_X \+ reg_E = 1e\+300"),
        (
            lambda: L3AERecommender(item_embeddings=F, reg_X=-1e300, reg_E=1e300),
            r"reg_E = 1e\+300",
        ),
    ],
)
def test_regularization_beyond_float32_is_refused_up_front(make, parameter):
    # Regression: a NaN fit blamed "the inputs", after RuntimeWarnings.
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raises_clearly(lambda: model.fit(_base_matrix(0)), parameter + ".*float32")
    model.set_params(dtype=np.float64)
    if abs(model.get_params().get("reg", 0.0)) < 1e300:
        return  # -1e39 with float64 is a legitimate (refused) negative shift
    assert np.isfinite(model.fit(_base_matrix(0)).coef_).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda: EASERecommender(reg=5e-324, dtype=np.float64),
        lambda: RDLAERecommender(reg=5e-324, dropout=0.3, dtype=np.float64),
    ],
)
def test_float64_failures_do_not_advise_float64(make):
    # Regression: "... is not positive definite in float64 ...: increase reg
    # or dropout, or use dtype=np.float64."
    X = np.zeros((3, 4))
    X[0, 0] = 1.0
    error = raises_clearly(lambda: make().fit(X), r"float64.*[Ii]ncrease reg")
    assert "use dtype=np.float64" not in str(error)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ALSRecommender(reg=1e30), r"reg=1e\+30"),
        (lambda: ALSRecommender(alpha=1e30), r"alpha=1e\+30"),
        (lambda: BPRRecommender(learning_rate=1e30), r"learning_rate=1e\+30"),
        (lambda: BPRRecommender(reg=1e30), r"reg=1e\+30"),
        (lambda: BPRRecommender(learning_rate=196.0), r"learning_rate=196\.0"),
    ],
)
def test_diverged_factorizations_raise_a_value_error(make, match):
    # Regression: implicit's ModelFitError (not a ValueError) escaped, and
    # huge finite factors gave +inf scores.
    model = make().set_params(factors=2, iterations=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # implicit's own overflow
        raises_clearly(lambda: model.fit(_base_matrix(0)), "diverged.*" + match)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ALSRecommender(factors=True, iterations=2, random_state=0),
        lambda: EASERecommender(reg=1.0, top_k=True),
    ],
)
def test_true_for_an_integer_parameter_means_1_as_in_scikit_learn(make):
    # Regressions: True passes the Integral constraints, then NumPy's "an
    # integer is required" TypeError escaped from implicit (factors) and
    # from predict (top_k).
    X = _base_matrix(0)
    model = make().fit(X)
    if isinstance(model, ALSRecommender):
        assert model.item_factors_.shape == (N_ITEMS, 1)
    assert model.predict(X).shape == (N_USERS, min(int(model.top_k), N_ITEMS))
    _check_fitted_scores(model, X)


# ------------------------------------------------------- arguments of methods

ARGUMENTS = st.one_of(
    WEIRD_VALUES,
    st.integers(-10, 10),
    st.lists(st.integers(-8, 8), max_size=4),
    st.lists(st.sampled_from(["a", "b", "z", ""]), max_size=3),
    st.just([[0, 1], [2, 3]]),
    st.just(np.array([1.0, 2.0])),
    st.just(np.int64(2)),
    st.just(np.array(3)),
)

LABELS = {
    None: None,
    "str": np.array(["a", "b", "c", "d", "e", "f"]),
    "int": np.array([10, 11, 12, 13, -1, 15]),
}


AS_LABELS = st.sampled_from([None, True, False, np.True_, np.False_])


def _labels_used(labels, as_labels):
    """The labels items are given in, or None for column indices (or raise)."""
    assert as_labels is None or isinstance(as_labels, (bool, np.bool_))
    if as_labels is not None and not as_labels:
        return None
    assert not (as_labels and labels is None)
    return labels


@pytest.fixture(scope="module")
def labelled_models():
    X = _base_matrix(1)
    F = _embeddings(1)
    models = {}
    for key, ids in LABELS.items():
        models[key, "EASE"] = EASERecommender(reg=1.0, item_ids=ids).fit(X)
        models[key, "L3AE"] = L3AERecommender(
            item_embeddings=F, item_ids=ids, reg_X=0.5, reg_E=2.0
        ).fit(X)
        models[key, "Popularity"] = PopularityRecommender(item_ids=ids).fit(X)
    return X, models


def _item_positions(items, labels):
    """Column indices of ``items`` if they are valid items, else None."""
    values = (
        np.asarray(items, dtype=object) if not isinstance(items, np.ndarray) else items
    )
    if values.ndim > 1:
        return None
    flat = values.ravel().tolist()
    if labels is None:
        if not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in flat
        ):
            return None if flat else np.zeros(0, dtype=int)
        return (
            np.array(flat, dtype=int) if all(0 <= v < N_ITEMS for v in flat) else None
        )
    known = labels.tolist()
    if not all(not isinstance(v, bool) and v in known for v in flat):
        return None
    return np.array([known.index(v) for v in flat], dtype=int)


def _check_ranking(items, scores, labels, n, excluded_rows):
    """Shape, order and padding of ``recommend``/``similar_items`` output."""
    items, scores = np.atleast_2d(items), np.atleast_2d(scores)
    assert items.shape == scores.shape and items.shape[1] == n
    assert (scores[:, :-1] >= scores[:, 1:]).all(), "scores not sorted"
    padded = np.isneginf(scores)
    assert_scores_finite_except(scores, padded)
    pad = "" if labels is not None and labels.dtype.kind == "U" else -1
    if labels is None or labels.dtype.kind == "U":  # int labels may be -1 too
        assert ((items == pad) == padded).all(), "padding is not -inf"
    positions = np.full(items.shape, -1)
    if labels is None:
        positions = np.where(padded, -1, items)
    else:
        lookup = {label: i for i, label in enumerate(labels.tolist())}
        for (u, r), label in np.ndenumerate(items):
            positions[u, r] = -1 if padded[u, r] else lookup[label]
    for row, excluded in zip(positions, excluded_rows, strict=True):
        ranked = row[row >= 0]
        assert len(set(ranked.tolist())) == len(ranked), "an item ranked twice"
        assert not set(ranked.tolist()) & set(excluded), "excluded item ranked"


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("name", ["EASE", "L3AE", "Popularity"])
@settings(FUZZ, max_examples=40)
@given(
    n=ARGUMENTS,
    filter_items=st.one_of(st.none(), ARGUMENTS),
    as_labels=st.one_of(AS_LABELS, WEIRD_VALUES),
    filter_seen=st.booleans(),
)
@example(n=3, filter_items=[], as_labels=None, filter_seen=True)
@example(n=3, filter_items=["a", "b"], as_labels=None, filter_seen=True)
@example(n=6, filter_items=[0, 5], as_labels=False, filter_seen=False)
# Regressions: 0 passed as False, and np.False_ gave labels.
@example(n=1, filter_items=None, as_labels=0, filter_seen=False)
@example(n=2, filter_items=None, as_labels=np.False_, filter_seen=True)
def test_recommend_arguments(
    labelled_models, name, labels, n, filter_items, as_labels, filter_seen
):
    X, models = labelled_models
    model = models[labels, name]
    users = X[:4]
    try:
        items, scores = model.recommend(
            users,
            n,
            filter_seen=filter_seen,
            filter_items=filter_items,
            as_labels=as_labels,
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"\bn\b|filter_items|as_labels|item")
        return
    # It succeeded: every argument must have been valid.
    assert _is_count(n)
    used = _labels_used(LABELS[labels], as_labels)
    excluded = np.zeros(0, dtype=int)
    if filter_items is not None:
        excluded = _item_positions(filter_items, used)
        assert excluded is not None, f"filter_items={filter_items!r} accepted"
    seen = [np.flatnonzero(row) if filter_seen else [] for row in users]
    _check_ranking(items, scores, used, n, [list(excluded) + list(s) for s in seen])


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("name", ["EASE", "L3AE"])
@settings(FUZZ, max_examples=40)
@given(
    items=ARGUMENTS,
    n=ARGUMENTS,
    source=st.one_of(st.sampled_from(["weights", "semantic"]), WEIRD_VALUES),
    as_labels=AS_LABELS,
)
@example(items=["a", "f"], n=2, source="semantic", as_labels=None)
@example(items=3, n=10, source="weights", as_labels=False)
def test_similar_items_arguments(
    labelled_models, name, labels, items, n, source, as_labels
):
    model = labelled_models[1][labels, name]
    try:
        neighbours, scores = model.similar_items(
            items, n, source=source, as_labels=as_labels
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"\bn\b|items|source|as_labels|semantic")
        return
    assert _is_count(n) and source in ("weights", "semantic")
    used = _labels_used(LABELS[labels], as_labels)
    queries = _item_positions(items, used)
    assert queries is not None, f"items={items!r} accepted"
    # EASE has no semantic correlation, which only matters for some item.
    assert not (source == "semantic" and name == "EASE" and queries.size)
    if np.ndim(items) == 0:
        assert np.ndim(neighbours) == 1
    excluded = [[q] for q in np.atleast_1d(queries)]
    _check_ranking(neighbours, scores, used, n, excluded)


@pytest.mark.parametrize("labels", list(LABELS))
@settings(FUZZ, max_examples=40)
@given(
    row=st.integers(0, N_USERS - 1),
    item=ARGUMENTS,
    n=st.one_of(st.none(), ARGUMENTS),
    as_labels=AS_LABELS,
    dense=st.booleans(),
)
def test_explain_arguments(labelled_models, labels, row, item, n, as_labels, dense):
    X, models = labelled_models
    model = models[labels, "L3AE"]
    user = X[row] if dense else sparse.csr_array(X[row : row + 1])
    try:
        history, contributions = model.explain(user, item, n, as_labels=as_labels)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"\bn\b|item|as_labels|history")
        return
    assert n is None or _is_count(n)
    used = _labels_used(LABELS[labels], as_labels)
    target = _item_positions(item, used)
    assert target is not None and np.ndim(item) == 0, f"item={item!r} accepted"
    assert X[row, int(target[0])] == 0, "explained an item of the history"
    assert np.isfinite(contributions).all()
    assert (contributions[:-1] >= contributions[1:]).all()
    score = model.decision_function(X[row : row + 1])[0, int(target[0])]
    if n is None:
        assert len(history) == X[row].sum()
        bound = contributions_bound(X[row], model.coef_, model.coef_.dtype)
        assert_scores_match(contributions.sum(), score, bound[int(target[0])])


# ------------------------------------------------------------ item side data

ITEM_DATA_OWNERS = {
    "L3AE": lambda **kw: L3AERecommender(reg_X=0.5, reg_E=2.0, **kw),
    "SemanticEASE": lambda **kw: SemanticEASERecommender(**kw),
    "AdditiveEASE": lambda **kw: AdditiveEASERecommender(reg=1.0, **kw),
    "CollectiveEASE": lambda **kw: CollectiveEASERecommender(reg=1.0, **kw),
}


@pytest.mark.parametrize("owner", ITEM_DATA_OWNERS)
@settings(FUZZ, max_examples=20)
@given(bad=bad_embeddings(), as_sparse=st.booleans())
def test_bad_item_embeddings_are_refused(owner, bad, as_sparse):
    F, match = bad
    X = _base_matrix(0)
    model = ITEM_DATA_OWNERS[owner](item_embeddings=F)
    raises_clearly(lambda: model.fit(sparse.csr_array(X) if as_sparse else X), match)


@pytest.mark.parametrize("owner", ITEM_DATA_OWNERS)
@settings(FUZZ, max_examples=20)
@given(
    scale=st.sampled_from([1e-300, 1e-30, 1e-8, 1e8, 1e30, 1e150, 1e300]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
# Regression: NaN coef_ of the semantic and additive EASE baselines.
@example(scale=1e150, dtype=np.float32, seed=0)
def test_extreme_item_embeddings_give_finite_scores_or_a_clear_error(
    owner, scale, dtype, seed
):
    X = _base_matrix(seed)
    model = ITEM_DATA_OWNERS[owner](item_embeddings=_embeddings(seed) * scale)
    model.set_params(dtype=dtype)
    try:
        model.fit(X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"embedding|too large|reg")
        return
    _check_fitted_scores(model, X)


@pytest.mark.parametrize("owner", ITEM_DATA_OWNERS)
@settings(FUZZ, max_examples=10)
@given(n_texts=st.integers(0, 2 * N_ITEMS).filter(lambda n: n != N_ITEMS))
def test_item_texts_of_the_wrong_length_are_refused_before_encoding(owner, n_texts):
    # The encoder cannot load: a refusal after encoding would fail on it.
    texts = [f"item {i}" for i in range(n_texts)]
    model = ITEM_DATA_OWNERS[owner](item_texts=texts)
    if owner == "CollectiveEASE":
        model.set_params(semantic=_UnusableEncoder())
    else:
        model.set_params(semantic=_UnusableEncoder())
    raises_clearly(lambda: model.fit(_base_matrix(0)), r"item_texts has \d+ entries")


class _UnusableEncoder:
    """A phase-1 stand-in that fails loudly if it is ever fitted."""

    def fit(self, X, y=None):
        raise AssertionError("fitted although the input was invalid")

    def fit_transform(self, X, y=None):
        raise AssertionError("fitted although the input was invalid")

    transform = fit_transform

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


def test_both_item_texts_and_embeddings_are_refused():
    for owner, make in ITEM_DATA_OWNERS.items():
        model = make(item_texts=["t"] * N_ITEMS, item_embeddings=F)
        raises_clearly(lambda m=model: m.fit(_base_matrix(0)), "not both"), owner


ITEM_IDS = st.one_of(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), max_size=8),
    st.lists(st.integers(-3, 10), max_size=8),
    st.lists(st.one_of(st.integers(0, 5), st.text(max_size=2)), max_size=7),
    st.lists(st.floats(allow_nan=True), min_size=N_ITEMS, max_size=N_ITEMS),
    st.lists(st.booleans(), min_size=N_ITEMS, max_size=N_ITEMS),
    st.just([["a", "b", "c"], ["d", "e", "f"]]),
    st.just("abcdef"),
    st.just([None] * N_ITEMS),
    st.just([b"a", b"b", b"c", b"d", b"e", b"f"]),
)


@pytest.mark.parametrize("name", ["EASE", "Popularity", "ALS", "L3AE"])
@settings(FUZZ, max_examples=30)
@given(item_ids=ITEM_IDS)
@example(item_ids=["a", "b", "c", "d", "e", "a"])
@example(item_ids=[1, 2, 3, 4, 5, 1])
@example(item_ids=["a", "b", "c", "d", "e", "f"])
@example(item_ids=[0, 1, 2, 3, 4, ""])  # Regression: silently all str
def test_item_ids_are_validated(name, item_ids):
    X = _base_matrix(0)
    model = RECOMMENDERS[name]().set_params(item_ids=item_ids)
    try:
        model.fit(X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"item_ids")
        return
    kinds = {type(v) for v in np.asarray(item_ids, dtype=object).ravel()}
    assert kinds in ({str}, {int}), f"item_ids={item_ids!r} accepted"
    assert len(item_ids) == N_ITEMS and len(set(item_ids)) == N_ITEMS
    np.testing.assert_array_equal(model.item_ids_, np.asarray(item_ids))
    items, _ = model.recommend(X[:2], n=2)
    assert set(items.ravel().tolist()) <= set(item_ids) | {"", -1}


# --------------------------------------------------- valid input, properties


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=15)
@given(
    scale=st.sampled_from([1e-30, 1e-6, 1.0, 1e6, 1e15, 1e30, 3e38]),
    seed=st.integers(0, 2**16),
    as_sparse=st.booleans(),
)
# Regression: +inf ItemKNN similarities (item norms underflowed to 0).
@example(scale=1e-30, seed=0, as_sparse=False)
def test_extreme_interaction_values_give_finite_scores_or_a_clear_error(
    name, scale, seed, as_sparse
):
    X = _base_matrix(seed) * scale
    X_in = sparse.csr_array(X) if as_sparse else X
    model = RECOMMENDERS[name]()
    try:
        model.fit(X_in)
        _check_fitted_scores(model, X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(
            exc, r"too (large|small)|reg|diverged|infinity|positive definite"
        )


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=10)
@given(
    scale=st.sampled_from([1e-38, 1e-30, 1e30, 1e36, 3e38]),
    users=st.integers(1, 4),
    as_sparse=st.booleans(),
)
# Regressions: +inf scores (ItemKNN) and a LAPACK error from implicit (ALS).
@example(scale=3e38, users=1, as_sparse=False)
def test_scoring_extreme_users_gives_finite_scores_or_a_clear_error(
    fitted, name, scale, users, as_sparse
):
    X_fit, models = fitted
    X = X_fit[:users] * scale
    if name == "BPR":  # scores its training users only
        X = X_fit[:users]
    model = models[name]
    try:
        _check_fitted_scores(model, sparse.csr_array(X) if as_sparse else X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"too large|infinity|overflow")


# ------------------------------------------------ valid random input: contract

ITEM_ITEM_FACTORIES = {
    "EASE": lambda d: EASERecommender(reg=d(st.floats(1e-3, 1e4))),
    "L3AE": lambda d: L3AERecommender(
        item_embeddings=d(st.sampled_from(["normal", "tiny", "collinear"])),
        reg_X=d(st.floats(-5.0, 5.0)),
        reg_E=d(st.floats(0.0, 50.0)),
        dropout=d(st.sampled_from([0.0, 0.3, 0.9])),
        xi=d(st.sampled_from([0.0, 0.3, None])),
    ),
    "RDLAE": lambda d: RDLAERecommender(
        reg=d(st.floats(-1.0, 1e3)),
        dropout=d(st.floats(0.0, 0.95)),
        xi=d(st.sampled_from([0.0, 0.5, 1.0, None])),
    ),
    "DLAE": lambda d: DLAERecommender(
        reg=d(st.floats(1e-3, 1e3)),
        dropout=d(st.floats(0.0, 0.95)),
        xi=d(st.sampled_from([None, 0.0, 0.3])),
    ),
}


def _embeddings_of(kind, n_items):
    rng = np.random.default_rng(n_items)
    if kind == "normal":
        return rng.standard_normal((n_items, 3))
    if kind == "tiny":
        return rng.standard_normal((n_items, 3)) * 1e-6
    return np.outer(np.arange(1, n_items + 1), [1.0, 2.0])  # rank one


@pytest.mark.parametrize("name", ITEM_ITEM_FACTORIES)
@settings(FUZZ, max_examples=30)
@given(
    X=interaction_matrices(min_items=2),
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_valid_random_input_keeps_the_output_contract(name, X, data, dtype):
    model = ITEM_ITEM_FACTORIES[name](data.draw).set_params(dtype=dtype)
    if name == "L3AE":
        model.set_params(
            item_embeddings=_embeddings_of(model.item_embeddings, X.shape[1])
        )
    as_sparse = data.draw(st.booleans(), "sparse")
    try:
        model.fit(sparse.csr_array(X) if as_sparse else X)
    except AssertionError:
        raise
    except Exception as exc:
        # Only a penalty that cannot make the system definite may be refused:
        # never a clearly positive one in float64.
        assert_clear_error(exc, r"positive definite|reg", types=(ValueError,))
        params = model.get_params()
        penalty = params.get("reg", params.get("reg_X", 0) + params.get("reg_E", 0))
        assert not (dtype == np.float64 and penalty >= 1e-3), exc
        event("refused")
        return
    event("fitted")
    n_items = X.shape[1]
    assert model.coef_.shape == (n_items, n_items) and model.coef_.dtype == dtype
    assert np.isfinite(model.coef_).all()
    params = model.get_params()
    if name == "DLAE":
        bound = params["xi"]
    else:
        bound = params.get("xi", 0.0)  # EASE's diagonal is 0
    if bound == 0.0:
        np.testing.assert_array_equal(np.diagonal(model.coef_), 0.0)
    elif bound is not None:
        assert (np.diagonal(model.coef_) <= bound + 1e-4).all()
    _check_fitted_scores(model, X)
    top = model.predict(X)
    for row, items in zip(X, top, strict=True):
        ranked = items[items >= 0]
        assert not row[ranked].any(), "predict returned a seen item"
        n_unseen = int((row == 0).sum())
        assert len(ranked) == min(n_unseen, top.shape[1])
        assert (items[len(ranked) :] == -1).all(), "padding before an item"
    # Sparse rows run another product than dense ones: equal up to ties.
    bound = 2 * product_error_bound(X, model.coef_, dtype)
    assert_rankings_match(
        model.predict(sparse.csr_array(X)),
        top,
        X @ model.coef_.astype(np.float64),
        row_tie_tolerance(bound),
    )
    user = data.draw(st.integers(0, X.shape[0] - 1), "user")
    unseen = np.flatnonzero(X[user] == 0)
    if unseen.size:
        item = int(unseen[0])
        _, contributions = model.explain(X[user], item)
        score = model.decision_function(X[user : user + 1])[0, item]
        bound = contributions_bound(X[user], model.coef_, dtype)[item]
        assert_scores_match(contributions.sum(), score, bound)
