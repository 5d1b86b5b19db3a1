"""Fuzz tests of the splitters of :mod:`sklearn_l3ae.model_selection`
(issue 7, item 4): bad interaction matrices, timestamps and parameters must
be refused with a clear error (the contract of :mod:`tests._fuzz`), and valid
input must be partitioned exactly.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import sparse

from sklearn_l3ae.model_selection import (
    leave_last_out_split,
    random_holdout_split,
    strong_generalization_cv,
    temporal_holdout_split,
)

from ._fuzz import (
    FUZZ,
    N_ITEMS,
    N_USERS,
    WEIRD_VALUES,
    assert_clear_error,
    bad_interactions,
    interaction_matrices,
    raises_clearly,
)

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
