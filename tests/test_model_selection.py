"""Interaction splitters: nothing lost or duplicated, sizes and order per user."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from sklearn_l3ae.model_selection import (
    leave_last_out_split,
    random_holdout_split,
    strong_generalization_cv,
    temporal_holdout_split,
)

SETTINGS = settings(max_examples=50, deadline=None)
FRACTIONS = st.sampled_from(
    [(0.8, 0.2), (0.5, 0.5), (0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.1, 0.45, 0.45)]
)
CONTAINERS = [np.asarray, sparse.csr_matrix, sparse.csr_array, sparse.coo_matrix]


@st.composite
def interaction_matrices(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 10))
    return draw(arrays(np.int8, (n_users, n_items), elements=st.integers(0, 3)))


def assert_partition(parts, X, container):
    """Each interaction of X in exactly one part, with its value."""
    X = np.asarray(X)
    expected_type = (
        sparse.csr_array if container is sparse.csr_array else sparse.csr_matrix
    )
    stored = np.zeros(X.shape, dtype=int)
    for part in parts:
        assert type(part) is expected_type
        assert part.shape == X.shape
        dense = part.toarray()
        np.testing.assert_array_equal(dense[dense != 0], X[dense != 0])
        stored += dense != 0
    np.testing.assert_array_equal(stored, X != 0)


def expected_sizes(n, fractions, min_interactions):
    """Per-user part sizes by the documented rule, in exact arithmetic."""
    held_out = [
        max(1, math.floor(Fraction(str(f)) * n + Fraction(1, 2))) for f in fractions[1:]
    ]
    if n < min_interactions or sum(held_out) >= n:
        return [n] + [0] * len(held_out)
    return [n - sum(held_out), *held_out]


def part_sizes(parts, user):
    return [int((part.toarray()[user] != 0).sum()) for part in parts]


@SETTINGS
@given(
    interaction_matrices(),
    FRACTIONS,
    st.integers(1, 5),
    st.integers(0, 2**16),
    st.sampled_from(CONTAINERS),
)
def test_random_holdout_partitions_each_user(X, fractions, min_interactions, seed, box):
    parts = random_holdout_split(
        box(X), fractions, min_interactions=min_interactions, random_state=seed
    )
    assert len(parts) == len(fractions)
    assert_partition(parts, X, box)
    for user in range(X.shape[0]):
        n = int((X[user] != 0).sum())
        assert part_sizes(parts, user) == expected_sizes(n, fractions, min_interactions)
    again = random_holdout_split(
        box(X), fractions, min_interactions=min_interactions, random_state=seed
    )
    for part, same in zip(parts, again, strict=True):
        assert (part != same).nnz == 0


def test_random_holdout_is_random_and_seeded():
    X = np.ones((50, 20))
    first = random_holdout_split(X, random_state=0)[1]
    assert (first != random_holdout_split(X, random_state=0)[1]).nnz == 0
    assert (first != random_holdout_split(X, random_state=1)[1]).nnz > 0
    # Held-out items are spread over the catalog, not the first or last ones.
    assert (first.sum(axis=0) > 0).all()


@st.composite
def timed_interactions(draw):
    X = draw(interaction_matrices())
    timestamps = draw(arrays(np.int64, X.shape, elements=st.integers(1, 4)))
    return X, timestamps


def time_order(X, timestamps, user):
    """The user's items from oldest to newest, equal times by item index."""
    items = [i for i in range(X.shape[1]) if X[user, i] != 0]
    return sorted(items, key=lambda i: (timestamps[user, i], i))


@SETTINGS
@given(timed_interactions(), FRACTIONS, st.integers(1, 4), st.booleans())
def test_temporal_holdout_holds_out_the_latest(data, fractions, min_interactions, sp):
    X, timestamps = data
    # A sparse timestamp matrix only needs values at the interactions.
    times = sparse.csr_matrix(timestamps * (X != 0)) if sp else timestamps
    parts = temporal_holdout_split(
        X, times, fractions, min_interactions=min_interactions
    )
    assert_partition(parts, X, np.asarray)
    for user in range(X.shape[0]):
        order = time_order(X, timestamps, user)
        sizes = expected_sizes(len(order), fractions, min_interactions)
        assert part_sizes(parts, user) == sizes
        bounds = np.cumsum([0, *sizes])
        for part, start, stop in zip(parts, bounds[:-1], bounds[1:], strict=True):
            assert set(np.flatnonzero(part.toarray()[user])) == set(order[start:stop])


@SETTINGS
@given(timed_interactions(), st.integers(1, 3), st.integers(0, 2), st.integers(1, 6))
def test_leave_last_out_matches_brute_force(data, n_test, n_val, min_interactions):
    X, timestamps = data
    parts = leave_last_out_split(
        sparse.csr_array(X),
        timestamps,
        n_test=n_test,
        n_val=n_val,
        min_interactions=min_interactions,
    )
    assert len(parts) == (3 if n_val else 2)
    assert_partition(parts, X, sparse.csr_array)
    for user in range(X.shape[0]):
        order = time_order(X, timestamps, user)
        if len(order) < max(min_interactions, n_test + n_val + 1):
            expected = [order] + [[]] * (len(parts) - 1)
        else:
            cut = len(order) - n_test - n_val
            expected = [order[:cut], order[cut : cut + n_val], order[cut + n_val :]]
            expected = expected if n_val else [expected[0], expected[2]]
        for part, items in zip(parts, expected, strict=True):
            assert set(np.flatnonzero(part.toarray()[user])) == set(items)


@SETTINGS
@given(interaction_matrices(), st.integers(2, 4), st.integers(0, 2**16))
def test_strong_generalization_folds(X, n_splits, seed):
    n_users = X.shape[0]
    if n_users < n_splits:
        with pytest.raises(ValueError, match="n_splits"):
            strong_generalization_cv(X, n_splits, random_state=seed)
        return
    X_cv, y_cv, folds = strong_generalization_cv(X, n_splits, random_state=seed)
    X_cv, y_cv = X_cv.toarray(), y_cv.toarray()
    np.testing.assert_array_equal(X_cv[:n_users], X)
    assert not y_cv[:n_users].any()
    # Each user's fold-in and target rows partition its interactions.
    np.testing.assert_array_equal(X_cv[n_users:] + y_cv[n_users:], X)
    assert not (X_cv[n_users:] * y_cv[n_users:]).any()
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(n_users, 2 * n_users))
    for train, test in folds:
        assert set(train) == set(range(n_users)) - {u - n_users for u in test}


@pytest.mark.parametrize("box", CONTAINERS)
def test_duplicates_are_summed_and_explicit_zeros_dropped(box):
    rows, cols = np.array([0, 0, 0, 1, 1]), np.array([1, 1, 2, 0, 3])
    X = sparse.coo_matrix((np.array([1, 2, 0, 5, 1]), (rows, cols)), shape=(2, 4))
    parts = random_holdout_split(
        box(X.toarray()) if box is np.asarray else X, random_state=0
    )
    np.testing.assert_array_equal(sum(part.toarray() for part in parts), X.toarray())
    assert sum(part.nnz for part in parts) == 3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, T: random_holdout_split(X, (0.8, 0.3)), "summing to 1"),
        (lambda X, T: random_holdout_split(X, (1.0,)), "2 .* or 3"),
        (lambda X, T: random_holdout_split(X, (0.0, 1.0)), "positive"),
        (lambda X, T: random_holdout_split(X, min_interactions=0), "min_interactions"),
        (lambda X, T: temporal_holdout_split(X, T[:, :2]), "timestamps must have"),
        (
            lambda X, T: temporal_holdout_split(X, sparse.csr_matrix(T * 0)),
            r"none for user \(row\) 0, item \(column\) 0",
        ),
        (lambda X, T: leave_last_out_split(X, T, n_test=0), "n_test must be"),
        (lambda X, T: leave_last_out_split(X, T, n_val=-1), "n_val must be"),
        (
            lambda X, T: strong_generalization_cv(X, target_fraction=1.0),
            r"target_fraction must be in \(0, 1\)",
        ),
    ],
)
def test_invalid_input_raises(call, match):
    X = np.ones((6, 3))
    T = np.arange(18).reshape(6, 3)
    with pytest.raises(ValueError, match=match):
        call(X, T)
