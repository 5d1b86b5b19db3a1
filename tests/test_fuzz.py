"""Fuzz tests of every public entry point with hypothesis (issue 7, item 4).

Bad input must raise a ``ValueError`` or ``TypeError`` (or a documented
subclass) that says what was wrong, raised on purpose: by a ``raise``
statement of this package, or by scikit-learn's input validation, whose
messages the estimators share by design (STYLE.md).  An error escaping from
NumPy, SciPy, LAPACK or `implicit` code fails :func:`assert_clear_error`.
Valid input, however extreme, must give finite scores (``-inf`` only where
documented: seen, filtered or padded items) or such a clear error.

Every test draws a bounded, derandomized number of examples (the ``fuzz``
profile), so the file runs the same way, in well under two minutes, in CI.
"""

import dis
import os
import re
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy import sparse

import sklearn_l3ae
from sklearn_l3ae import (
    AnisotropyControl,
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    mean_cosine_similarity,
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

settings.register_profile(
    "fuzz",
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")

PACKAGE_DIR = Path(sklearn_l3ae.__file__).resolve().parent
# scikit-learn's input validation (check_array, validate_data, parameter
# constraints) lives in sklearn/utils.
SKLEARN_UTILS = f"{os.sep}sklearn{os.sep}utils{os.sep}"


# ------------------------------------------------------------------ contract


def _innermost(exc):
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _is_raise_statement(tb):
    """Whether the frame stopped on a ``raise`` (not inside a call into C).

    Read from the bytecode, not the source: the source files may change
    while the tests run.
    """
    instructions = dis.get_instructions(tb.tb_frame.f_code)
    opname = next((i.opname for i in instructions if i.offset == tb.tb_lasti), None)
    return opname == "RAISE_VARARGS"


def assert_clear_error(exc, match, types=(ValueError, TypeError)):
    """``exc`` is of ``types``, raised on purpose, and its message matches.

    On purpose: the innermost frame of the traceback is a ``raise``
    statement of this package, or is inside scikit-learn's input validation.
    An exception raised by NumPy/SciPy C code called from our code has our
    frame innermost too, but stopped on a call, not on a ``raise``.
    """
    assert isinstance(exc, types), f"{type(exc).__name__}: {exc}"
    tb = _innermost(exc)
    filename = tb.tb_frame.f_code.co_filename
    ours = Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    on_purpose = (ours and _is_raise_statement(tb)) or SKLEARN_UTILS in filename
    assert on_purpose, (
        f"{type(exc).__name__} escaped from {filename}:{tb.tb_lineno}: {exc}"
    )
    assert re.search(match, str(exc), flags=re.IGNORECASE), (
        f"message does not match {match!r}: {exc}"
    )


def raises_clearly(function, match, types=(ValueError, TypeError)):
    """Call ``function``; it must fail with a clear error matching ``match``."""
    with pytest.raises(Exception) as info:
        function()
    assert_clear_error(info.value, match, types)
    return info.value


def assert_scores_finite_except(scores, allowed_minus_inf):
    """No NaN or +inf anywhere; ``-inf`` only where ``allowed_minus_inf``."""
    scores = np.asarray(scores)
    assert not np.isnan(scores).any(), "NaN score"
    assert not np.isposinf(scores).any(), "+inf score"
    unexpected = np.isneginf(scores) & ~np.asarray(allowed_minus_inf, dtype=bool)
    assert not unexpected.any(), f"-inf at {np.argwhere(unexpected)[:5].tolist()}"


# ---------------------------------------------------------------- strategies

N_USERS, N_ITEMS, DIM = 12, 6, 3


def _base_matrix(seed, n_users=N_USERS, n_items=N_ITEMS):
    """A binary matrix where every item and user has an interaction."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, n_items)) < 0.4).astype(np.float64)
    X[np.arange(n_users), np.arange(n_users) % n_items] = 1.0
    X[np.arange(n_items) % n_users, np.arange(n_items)] = 1.0
    return X


def _embeddings(seed, n_items=N_ITEMS, dim=DIM):
    return np.random.default_rng(seed).standard_normal((n_items, dim))


F = _embeddings(0)

# (name, factory) of every recommender; texts-free so that fits are instant.
RECOMMENDERS = {
    "EASE": lambda: EASERecommender(reg=1.0),
    "L3AE": lambda: L3AERecommender(item_embeddings=F, reg_X=-0.5, reg_E=2.0),
    "RDLAE": lambda: RDLAERecommender(reg=1.0),
    "RLAE": lambda: RLAERecommender(reg=1.0),
    "DLAE": lambda: DLAERecommender(reg=1.0),
    "Popularity": lambda: PopularityRecommender(),
    "ALS": lambda: ALSRecommender(factors=2, iterations=2, random_state=0),
    "BPR": lambda: BPRRecommender(factors=2, iterations=2, random_state=0),
    "ItemKNN": lambda: ItemKNNRecommender(),
    "SemanticEASE": lambda: SemanticEASERecommender(item_embeddings=F),
    "AdditiveEASE": lambda: AdditiveEASERecommender(reg=1.0, item_embeddings=F),
    "CollectiveEASE": lambda: CollectiveEASERecommender(reg=1.0, item_embeddings=F),
}
ITEM_ITEM = [
    "EASE",
    "L3AE",
    "RDLAE",
    "RLAE",
    "DLAE",
    "SemanticEASE",
    "AdditiveEASE",
    "CollectiveEASE",
]


def _containers(X):
    """Ways to pass the same matrix."""
    return st.sampled_from(
        [
            lambda: X,
            lambda: X.tolist(),
            lambda: sparse.csr_array(X),
            lambda: sparse.csr_matrix(X),
            lambda: sparse.csc_array(X),
        ]
    ).map(lambda make: make())


@st.composite
def bad_interactions(draw, n_items=N_ITEMS, n_users=N_USERS):
    """``(X, pattern)``: an interaction matrix that must be refused, and the
    pattern its error message must match."""
    X = _base_matrix(draw(st.integers(0, 2**16)), n_users, n_items)
    kind = draw(
        st.sampled_from(
            [
                "nan",
                "inf",
                "negative",
                "complex",
                "3-D",
                "0-D",
                "1-D",
                "no users",
                "no items",
                "words",
                "bytes",
                "object words",
                "ragged",
                "None",
                "mapping",
            ]
        )
    )
    rows, cols = np.nonzero(X)
    position = draw(st.integers(0, len(rows) - 1))
    at = rows[position], cols[position]
    as_sparse = draw(st.booleans())

    def container(matrix):
        return sparse.csr_array(matrix) if as_sparse else matrix

    if kind == "nan":
        X[at] = np.nan
        return container(X), r"NaN"
    if kind == "inf":
        X[at] = draw(st.sampled_from([np.inf, -np.inf]))
        return container(X), r"infinity"
    if kind == "negative":
        X[at] = -draw(st.floats(1e-6, 1e300))
        # Beyond float32's range the value overflows to -inf first.
        return container(X), r"negative values|infinity"
    if kind == "complex":
        X = X.astype(complex)
        X[at] += 1j
        return container(X), r"complex"
    if kind == "3-D":
        return X[None], r"dim 3|3D|3-D"
    if kind == "0-D":
        return np.float64(1.0), r"2D array|scalar"
    if kind == "1-D":
        return X[0], r"2D array"
    if kind == "no users":
        return container(X[:0]), r"0 sample"
    if kind == "no items":
        return container(X[:, :0]), r"0 feature"
    if kind == "words":
        return np.full(X.shape, "like"), r"convert string|string"
    if kind == "bytes":
        return np.full(X.shape, b"\xff\xfe"), r"convert|string|bytes"
    if kind == "object words":
        X = X.astype(object)
        X[at] = "watched"
        return X, r"convert string|string"
    if kind == "ragged":
        rows_list = X.tolist()
        rows_list[at[0]] = rows_list[at[0]][:-1]
        return rows_list, r"inhomogeneous|sequence"
    if kind == "None":
        return None, r"2D array|scalar|None"
    return {"user": [1.0]}, r"dict|real number|2D"


# ---------------------------------------------------------------- estimators


@pytest.mark.parametrize("name", RECOMMENDERS)
@settings(FUZZ, max_examples=15)
@given(bad=bad_interactions())
def test_fit_refuses_bad_interactions(name, bad):
    X, match = bad
    raises_clearly(lambda: RECOMMENDERS[name]().fit(X), match)


@pytest.fixture(scope="module")
def fitted():
    """Every recommender fitted on one matrix (never modified by the tests)."""
    X = _base_matrix(0)
    return X, {name: make().fit(X) for name, make in RECOMMENDERS.items()}


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
    # A 1-D row of n_items values is one user's history for explain.
    assume(not (method == "explain" and match == r"2D array"))
    raises_clearly(calls[method], match)


# Values that parameters of any kind may be fuzzed with.  Integers stay small:
# a huge factors or iterations is valid and would only be slow.
WEIRD_VALUES = st.one_of(
    st.sampled_from(
        [
            np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            1e300,
            -1e300,
            1e-300,
            -1e-300,
            0.5,
            1.0 - 1e-12,
            1.0,
            None,
            True,
            False,
            "1",
            "auto",
            "",
            [1.0],
            1 + 1j,
            np.float32,
            np.int64,
            np.float16,
        ]
    ),
    st.integers(-3, 5),
    st.floats(-1e3, 1e3, allow_nan=False),
)
# Parameters that hold data or estimators, fuzzed by their own tests below.
_DATA_PARAMETERS = {"semantic", "item_texts", "item_embeddings", "encoder", "item_ids"}


def _fuzzable_parameters(name):
    params = RECOMMENDERS[name]().get_params(deep=False)
    return sorted(set(params) - _DATA_PARAMETERS)


def _check_fitted_scores(model, X):
    """The documented output contract of a fitted recommender on ``X``."""
    coef = getattr(model, "coef_", None)
    if coef is not None:
        assert np.isfinite(coef).all(), "non-finite coef_"
    scores = model.decision_function(X)
    seen = (X.toarray() if sparse.issparse(X) else np.asarray(X)) > 0
    assert_scores_finite_except(scores, seen)
    items, ranked = model.recommend(X, n=X.shape[1])
    assert_scores_finite_except(ranked, items == -1)
    assert (ranked[:, :-1] >= ranked[:, 1:]).all(), "recommend scores not sorted"


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
    "make, match",
    [
        (lambda: ALSRecommender(regularization=1e30), r"regularization=1e\+30"),
        (lambda: ALSRecommender(alpha=1e30), r"alpha=1e\+30"),
        (lambda: BPRRecommender(learning_rate=1e30), r"learning_rate=1e\+30"),
        (lambda: BPRRecommender(regularization=1e30), r"regularization=1e\+30"),
    ],
)
def test_diverged_factorizations_raise_a_value_error(make, match):
    # Regression: implicit's ModelFitError (not a ValueError) escaped.
    model = make().set_params(factors=2, iterations=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # implicit's own overflow
        raises_clearly(lambda: model.fit(_base_matrix(0)), "diverged.*" + match)


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


def _is_count(n):
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1


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
    assert not (source == "semantic" and name == "EASE")
    used = _labels_used(LABELS[labels], as_labels)
    queries = _item_positions(items, used)
    assert queries is not None, f"items={items!r} accepted"
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
        np.testing.assert_allclose(contributions.sum(), score, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------ item side data

ITEM_DATA_OWNERS = {
    "L3AE": lambda **kw: L3AERecommender(reg_X=0.5, reg_E=2.0, **kw),
    "SemanticEASE": lambda **kw: SemanticEASERecommender(**kw),
    "AdditiveEASE": lambda **kw: AdditiveEASERecommender(reg=1.0, **kw),
    "CollectiveEASE": lambda **kw: CollectiveEASERecommender(reg=1.0, **kw),
}


@st.composite
def bad_embeddings(draw):
    """``(F, pattern)`` of item embeddings that must be refused."""
    F = _embeddings(draw(st.integers(0, 2**16)))
    kind = draw(
        st.sampled_from(
            [
                "nan",
                "inf",
                "too few",
                "too many",
                "1-D",
                "3-D",
                "words",
                "complex",
                "empty",
                "no dims",
            ]
        )
    )
    at = draw(st.integers(0, N_ITEMS - 1)), draw(st.integers(0, DIM - 1))
    if kind == "nan":
        F[at] = np.nan
        return F, r"NaN"
    if kind == "inf":
        F[at] = np.inf
        return F, r"infinity"
    if kind == "too few":
        return F[: draw(st.integers(1, N_ITEMS - 1))], r"item_embeddings has \d+"
    if kind == "too many":
        return np.vstack([F, F[:2]]), r"item_embeddings has \d+"
    if kind == "1-D":
        return F[:, 0], r"2D array"
    if kind == "3-D":
        return F[None], r"dim 3"
    if kind == "words":
        return np.full(F.shape, "vector"), r"convert string"
    if kind == "complex":
        return F + 1j, r"complex"
    if kind == "empty":
        return F[:0], r"0 sample"
    return F[:, :0], r"0 feature"


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
        model.set_params(encoder=_UnusableEncoder())
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


# -------------------------------------------- phase 1 and anisotropy control


@pytest.mark.parametrize("estimator", ["SemanticCorrelation", "AnisotropyControl"])
@settings(FUZZ, max_examples=20)
@given(bad=bad_embeddings())
def test_phase_one_refuses_bad_embeddings(estimator, bad):
    F, match = bad
    assume(not match.startswith("item_embeddings has"))  # any count is valid here
    model = {
        "SemanticCorrelation": SemanticCorrelation,
        "AnisotropyControl": AnisotropyControl,
    }[estimator]()
    raises_clearly(lambda: model.fit(F), match)


@pytest.mark.parametrize("estimator", ["SemanticCorrelation", "AnisotropyControl"])
@settings(FUZZ, max_examples=25)
@given(
    reg=st.one_of(WEIRD_VALUES, st.floats(1e-300, 1e300)),
    scale=st.sampled_from([0.0, 1e-300, 1e-20, 1.0, 1e20, 1e150, 1e300]),
    n_items=st.integers(1, 8),
    dim=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@example(reg=1e-300, scale=1.0, n_items=2, dim=3, dtype=np.float32)
@example(reg=1e300, scale=1e300, n_items=3, dim=2, dtype=np.float64)
# Regressions: float32 C formed from overflowing factors was NaN; an
# overflowing FᵀF gave a NaN AnisotropyControl or escaped as a LinAlgError.
@example(reg=1e300, scale=1e150, n_items=2, dim=1, dtype=np.float32)
@example(reg=1e300, scale=1e300, n_items=1, dim=3, dtype=np.float32)
def test_phase_one_gives_finite_output_or_a_clear_error(
    estimator, reg, scale, n_items, dim, dtype
):
    F = np.random.default_rng(n_items * dim).standard_normal((n_items, dim)) * scale
    if estimator == "SemanticCorrelation":
        model = SemanticCorrelation(reg=reg, dtype=dtype)
    else:
        model = AnisotropyControl(reg=reg)
    try:
        model.fit(F)
        output = (
            model.coef_ if estimator == "SemanticCorrelation" else model.transform(F)
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"reg|dtype|embedding")
        return
    assert np.isfinite(output).all(), f"non-finite output with reg={reg}"
    if estimator == "SemanticCorrelation":
        assert output.shape == (n_items, n_items)
        np.testing.assert_array_equal(np.diagonal(output), 0.0)
    else:
        raises_clearly(lambda: model.transform(np.hstack([F, F])), "feature")


@settings(FUZZ, max_examples=30)
@given(
    X=st.one_of(
        st.lists(
            st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=2), max_size=5
        ),
        st.sampled_from(
            [
                [[0.0, 0.0], [1.0, 1.0]],
                [[1.0, 2.0]],
                [],
                [[np.nan, 1.0], [1.0, 0.0]],
                "text",
                [["a", "b"], ["c", "d"]],
            ]
        ),
    )
)
def test_mean_cosine_similarity(X):
    try:
        value = mean_cosine_similarity(X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"row|NaN|infinity|sample|2D|convert")
        return
    n = len(X)
    assert np.isfinite(value) and -1 / (n - 1) - 1e-9 <= value <= 1 + 1e-9
    # The definition, on rows rescaled exactly (by powers of two) to ~1.
    rows = np.asarray(X, dtype=np.float64)
    rows = np.ldexp(rows, -np.frexp(np.abs(rows).max(axis=1))[1][:, None])
    units = rows / np.linalg.norm(rows, axis=1)[:, None]
    cosines = units @ units.T
    expected = (cosines.sum() - np.trace(cosines)) / (n * (n - 1))
    np.testing.assert_allclose(value, expected, atol=1e-9)


@settings(FUZZ, max_examples=20)
@given(
    scale=st.sampled_from([1e-300, 1e-200, 1e-20, 1e20, 1e200, 1e300]),
    seed=st.integers(0, 2**16),
)
@example(scale=1e200, seed=0)
def test_mean_cosine_similarity_does_not_depend_on_the_scale(scale, seed):
    X = np.random.default_rng(seed).standard_normal((5, 3))
    np.testing.assert_allclose(
        mean_cosine_similarity(X * scale), mean_cosine_similarity(X), atol=1e-12
    )


# --------------------------------------------------- valid input, properties


@st.composite
def interaction_matrices(draw, min_users=1, max_users=15, min_items=1, max_items=8):
    """A random non-negative matrix, possibly with empty users and items."""
    n_users = draw(st.integers(min_users, max_users))
    n_items = draw(st.integers(min_items, max_items))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    return X


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
