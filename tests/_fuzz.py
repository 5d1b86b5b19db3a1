"""Shared pieces of the fuzz tests, ``test_fuzz_*.py`` (issue 7, item 4).

They fuzz every public entry point with hypothesis.  Bad input must raise a
``ValueError`` or ``TypeError`` (or a documented subclass) that says what was
wrong, raised on purpose: by a ``raise`` statement of this package, or by
scikit-learn's input validation, whose messages the estimators share by
design (STYLE.md).  An error escaping from NumPy, SciPy, LAPACK or
`implicit` code fails :func:`assert_clear_error`.  Valid input, however
extreme, must give finite scores (``-inf`` only where documented: seen,
filtered or padded items) or such a clear error.

Every test draws a bounded, derandomized number of examples (the ``fuzz``
profile), so the fuzz modules run the same way, in well under two minutes,
in CI.
"""

import dis
import os
import re
from pathlib import Path

# Before anything imports huggingface_hub: never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, settings
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


def _is_count(n):
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1


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


@st.composite
def interaction_matrices(draw, min_users=1, max_users=15, min_items=1, max_items=8):
    """A random non-negative matrix, possibly with empty users and items."""
    n_users = draw(st.integers(min_users, max_users))
    n_items = draw(st.integers(min_items, max_items))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    return X


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


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def fitted():
    """Every recommender fitted on one matrix (never modified by the tests)."""
    X = _base_matrix(0)
    return X, {name: make().fit(X) for name, make in RECOMMENDERS.items()}
