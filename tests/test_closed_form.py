"""The private closed forms against dense float64 transcriptions of the paper."""

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae import _closed_form
from sklearn_l3ae._closed_form import (
    LowRankCorrelation,
    NotPositiveDefiniteError,
    dense_correlation,
    ease_weights,
    gram_matrix,
    l3ae_weights,
    semantic_correlation,
    spd_inverse_inplace,
)

from ._reference import (
    ease_reference,
    l3ae_reference,
    random_interactions,
    relative_error,
    semantic_reference,
)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Force many row blocks so that blockwise code paths are exercised."""
    monkeypatch.setattr(_closed_form, "_BLOCK_BYTES", 7 * 8 * 40)
    monkeypatch.setattr(_closed_form, "_GRAM_ROWS", 5)


def _spd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("n", [1, 2, 57])
def test_spd_inverse_inplace_matches_numpy(dtype, tol, n, tiny_blocks):
    A = _spd(np.random.default_rng(n), n)
    work = A.astype(dtype)
    result = spd_inverse_inplace(work)
    assert result is work
    assert result.dtype == dtype
    assert relative_error(result, np.linalg.inv(A)) < tol
    np.testing.assert_array_equal(result, result.T)


def test_spd_inverse_rejects_indefinite_matrix_with_minor_order():
    A = np.diag([2.0, 1.0, -1.0, 3.0])
    with pytest.raises(NotPositiveDefiniteError, match="order 3") as info:
        spd_inverse_inplace(A)
    assert info.value.order == 3
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "A, error, match",
    [
        (np.eye(3)[:, :2].copy(), ValueError, "square"),
        (np.eye(3, dtype=np.int64), TypeError, "float32 or float64"),
        (
            np.asfortranarray(np.eye(3) + np.triu(np.ones((3, 3)), 1)),
            ValueError,
            "C-contiguous",
        ),
    ],
)
def test_spd_inverse_rejects_bad_arrays(A, error, match):
    with pytest.raises(error, match=match):
        spd_inverse_inplace(A)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_matrix_equals_dense_product(fmt, dtype, tiny_blocks):
    X = random_interactions(np.random.default_rng(0), 40, 23, density=0.2)
    X[3, 5] = 4.0  # non-binary weights are used as given
    X_in = X if fmt == "dense" else sparse.coo_array(X).asformat(fmt)
    gram = gram_matrix(X_in, dtype)
    assert gram.dtype == dtype and gram.flags.c_contiguous
    np.testing.assert_allclose(gram, X.T @ X, rtol=1e-6)


def _dense(correlation, dtype=np.float64):
    if isinstance(correlation, LowRankCorrelation):
        return dense_correlation(correlation, dtype)
    return correlation


@pytest.mark.parametrize("n_items, dim", [(60, 8), (30, 30), (12, 40)])
def test_semantic_correlation_matches_paper(n_items, dim, tiny_blocks):
    F = np.random.default_rng(1).standard_normal((n_items, dim))
    correlation = semantic_correlation(F, 2.0, np.float64)
    assert isinstance(correlation, LowRankCorrelation) == (dim < n_items)
    C = _dense(correlation)
    assert relative_error(C, semantic_reference(F, 2.0)) < 1e-10
    np.testing.assert_array_equal(np.diagonal(C), 0.0)
    if isinstance(correlation, LowRankCorrelation):
        structured = (
            np.diag(correlation.diagonal) + correlation.left @ correlation.right.T
        )
        assert relative_error(structured, semantic_reference(F, 2.0)) < 1e-10


@pytest.mark.parametrize("dim", [16, 100])
def test_semantic_correlation_float32_is_close_to_float64(dim):
    F = np.random.default_rng(2).standard_normal((80, dim))
    C32 = _dense(semantic_correlation(F, 1.0, np.float32), np.float32)
    assert C32.dtype == np.float32
    assert relative_error(C32, semantic_reference(F, 1.0)) < 1e-5


def test_ease_weights_match_steck():
    X = random_interactions(np.random.default_rng(3), 120, 35)
    B = ease_weights(gram_matrix(X, np.float64), 7.0)
    assert relative_error(B, ease_reference(X, 7.0)) < 1e-10
    np.testing.assert_array_equal(np.diagonal(B), 0.0)


@pytest.mark.parametrize("structured", [True, False])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
@pytest.mark.parametrize("reg_X, reg_E", [(-3.0, 10.0), (5.0, 0.5), (0.0, 300.0)])
def test_l3ae_weights_match_paper(structured, dtype, tol, reg_X, reg_E, tiny_blocks):
    rng = np.random.default_rng(4)
    X = random_interactions(rng, 150, 45)
    F = rng.standard_normal((45, 6))
    factors = semantic_correlation(F, 2.0, dtype)
    B = l3ae_weights(
        gram_matrix(sparse.csr_array(X), dtype),
        reg_X,
        reg_E,
        factors if structured else dense_correlation(factors, dtype),
    )
    assert B.dtype == dtype
    expected = l3ae_reference(X, semantic_reference(F, 2.0), reg_X, reg_E)
    assert relative_error(B, expected) < tol
    np.testing.assert_array_equal(np.diagonal(B), 0.0)


def test_l3ae_with_arbitrary_dense_correlation():
    """Any C (not symmetric, nonzero diagonal) goes through the dense path."""
    rng = np.random.default_rng(5)
    X = random_interactions(rng, 90, 25)
    C = rng.standard_normal((25, 25))
    B = l3ae_weights(gram_matrix(X, np.float64), 1.0, 4.0, C)
    assert relative_error(B, l3ae_reference(X, C, 1.0, 4.0)) < 1e-10


def test_l3ae_with_zero_semantic_weight_is_ease():
    rng = np.random.default_rng(6)
    X = random_interactions(rng, 70, 20)
    factors = semantic_correlation(rng.standard_normal((20, 4)), 1.0, np.float64)
    B = l3ae_weights(gram_matrix(X, np.float64), 9.0, 0.0, factors)
    np.testing.assert_array_equal(B, ease_weights(gram_matrix(X, np.float64), 9.0))


def test_low_rank_correlation_is_not_mutated():
    rng = np.random.default_rng(7)
    X = random_interactions(rng, 50, 15)
    factors = semantic_correlation(rng.standard_normal((15, 3)), 1.0, np.float64)
    before = LowRankCorrelation(*(np.copy(a) for a in factors))
    l3ae_weights(gram_matrix(X, np.float64), 1.0, 3.0, factors)
    for kept, original in zip(factors, before, strict=True):
        np.testing.assert_array_equal(kept, original)


def test_l3ae_weights_raise_when_shift_makes_gram_indefinite():
    X = random_interactions(np.random.default_rng(8), 10, 20)
    with pytest.raises(NotPositiveDefiniteError):
        l3ae_weights(gram_matrix(X, np.float64), -5.0, 1.0, None)
