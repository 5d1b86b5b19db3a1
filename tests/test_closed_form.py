"""The private closed forms against dense float64 transcriptions of the papers.

The relaxed/dropout variants are also checked against a generic bounded
optimizer (L-BFGS-B over all entries of B), which knows no closed form.
"""

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae._core import blocked_lapack, linalg
from sklearn_l3ae._core.closed_forms import (
    LowRankCorrelation,
    anisotropy_control_matrix,
    dense_correlation,
    dropout_penalty,
    ease_weights,
    l3ae_weights,
    rdlae_weights,
    semantic_correlation,
)
from sklearn_l3ae._core.linalg import (
    NotPositiveDefiniteError,
    gram_matrix,
    spd_inverse_inplace,
)

from ._numerics import inverse_tolerance
from ._reference import (
    dropout_penalty_reference,
    ease_reference,
    l3ae_reference,
    l3ae_relaxed_reference,
    optimizer_weights,
    random_interactions,
    rdlae_reference,
    relative_error,
    ridge_lae_reference,
    semantic_reference,
)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Force many row blocks so that blockwise code paths are exercised."""
    monkeypatch.setattr(linalg, "_BLOCK_BYTES", 7 * 8 * 40)
    monkeypatch.setattr(linalg, "_GRAM_ROWS", 5)


def _spd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 57])
def test_spd_inverse_inplace_matches_numpy(dtype, n, tiny_blocks):
    A = _spd(np.random.default_rng(n), n)
    work = A.astype(dtype)
    result = spd_inverse_inplace(work)
    assert result is work
    assert result.dtype == dtype
    stored = A.astype(dtype).astype(np.float64)  # the matrix inverted
    exact = np.linalg.inv(stored)
    assert relative_error(result, exact) <= inverse_tolerance(stored, dtype)
    # Symmetrized by copying the lower triangle: exact.
    np.testing.assert_array_equal(result, result.T)


def test_spd_inverse_rejects_indefinite_matrix_with_minor_order():
    A = np.diag([2.0, 1.0, -1.0, 3.0])
    with pytest.raises(NotPositiveDefiniteError, match="order 3") as info:
        spd_inverse_inplace(A)
    assert info.value.order == 3
    assert isinstance(info.value, ValueError)


@pytest.fixture
def blocked_inverse(monkeypatch):
    """Route spd_inverse_inplace through its blocked path, blocks of 7."""
    monkeypatch.setattr(linalg, "_LAPACK_MAX_ORDER", 0)
    monkeypatch.setattr(linalg, "_INVERSE_BLOCK", 7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 6, 7, 8, 50, 71])
def test_blocked_spd_inverse_matches_numpy(dtype, n, blocked_inverse):
    """Orders below, at, just above and many times the block size."""
    A = _spd(np.random.default_rng(n), n).astype(dtype)
    result = spd_inverse_inplace(A.copy())
    exact = np.linalg.inv(A.astype(np.float64))
    assert relative_error(result, exact) <= inverse_tolerance(A, dtype)
    np.testing.assert_array_equal(result, result.T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block", [1, 3, 16, 200])
def test_blocked_cholesky_and_inverse_steps(block, dtype):
    """Each blocked step against a direct computation of what it stands for
    (float64 NumPy), on every block layout: one block, ragged last blocks,
    blocks of one column."""
    rng = np.random.default_rng(block)
    A = _spd(rng, 40)
    work = A.astype(dtype)
    assert blocked_lapack.cholesky_inplace(work, block) == 0
    L = np.tril(work)
    # Cholesky is backward stable: the factor's error is about κ(A)·eps.
    tolerance = inverse_tolerance(A, dtype)
    assert relative_error(L, np.linalg.cholesky(A)) <= tolerance
    blocked_lapack.inverse_from_cholesky_inplace(work, block)
    assert relative_error(np.tril(work), np.tril(np.linalg.inv(A))) <= tolerance


@pytest.mark.parametrize(
    "array",
    [np.eye(4, dtype=np.float32).T[:, :3], np.eye(4, dtype=np.int64), np.eye(4)[::2]],
)
def test_blocked_routines_refuse_buffers_they_cannot_address(array):
    """Their pointer arithmetic needs one C-ordered square float buffer."""
    with pytest.raises(ValueError, match="C-contiguous square"):
        blocked_lapack.cholesky_inplace(array, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 130])
def test_symmetric_one_norm_reads_only_the_lower_triangle(dtype, n):
    """LAPACK ``lansy`` against the largest absolute column sum in float64;
    whatever the strict upper triangle holds is not read."""
    rng = np.random.default_rng(n)
    lower = np.tril(rng.standard_normal((n, n)))
    symmetric = lower + np.tril(lower, -1).T
    expected = np.abs(symmetric).sum(axis=0).max()
    work = np.tril(symmetric).astype(dtype)
    work[np.triu_indices(n, 1)] = np.nan  # never read
    # lansy sums in the working precision: n terms, each within eps.
    tolerance = 4 * n * np.finfo(dtype).eps * expected
    assert abs(blocked_lapack.symmetric_one_norm(work) - expected) <= tolerance


def test_symmetric_one_norm_propagates_nan_and_inf():
    A = np.eye(4)
    A[2, 1] = np.nan
    assert np.isnan(blocked_lapack.symmetric_one_norm(A))
    A[2, 1] = np.inf
    assert blocked_lapack.symmetric_one_norm(A) == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d", [(1, 1), (9, 3), (70, 16), (5, 0)])
def test_add_product_inplace_matches_numpy(dtype, n, d):
    """``A += left @ right.T`` in place, for left != right (a transposed
    operand would give ``right @ left.T``), against float64 NumPy."""
    rng = np.random.default_rng(n + d)
    A = rng.standard_normal((n, n))
    left = rng.standard_normal((n, d))
    right = rng.standard_normal((n, d))
    expected = A + left @ right.T
    work = A.astype(dtype)
    out = blocked_lapack.add_product_inplace(
        work, left.astype(dtype), np.asfortranarray(right.astype(dtype))
    )
    assert out is work
    bound = np.abs(A) + np.abs(left) @ np.abs(right).T
    tolerance = 4 * (d + 2) * np.finfo(dtype).eps * bound
    assert np.all(np.abs(work - expected) <= tolerance)


def test_add_product_inplace_refuses_mismatched_factors():
    with pytest.raises(ValueError, match=r"two \(4, d\) factors"):
        blocked_lapack.add_product_inplace(np.eye(4), np.ones((4, 2)), np.ones((3, 2)))


def test_blocked_spd_inverse_reports_minor_order(blocked_inverse):
    A = np.eye(20)
    A[10, 10] = -1.0  # in the second block of 7
    with pytest.raises(NotPositiveDefiniteError, match="order 11") as info:
        spd_inverse_inplace(A)
    assert info.value.order == 11


def test_estimator_weights_equal_through_the_blocked_inverse(monkeypatch):
    from sklearn_l3ae import EASERecommender, L3AERecommender

    X = random_interactions(np.random.default_rng(1), 300, 45, density=0.1)
    F = np.random.default_rng(2).standard_normal((45, 8))
    models = [
        EASERecommender(reg=3.0, dtype=np.float64),
        L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=4.0, dtype=np.float64),
    ]
    direct = [model.fit(X).coef_.copy() for model in models]
    monkeypatch.setattr(linalg, "_LAPACK_MAX_ORDER", 10)
    monkeypatch.setattr(linalg, "_INVERSE_BLOCK", 8)
    for model, expected in zip(models, direct, strict=True):
        assert relative_error(model.fit(X).coef_, expected) < 1e-12


def _rotated(rng, eigenvalues):
    """A dense SPD matrix with the given spectrum: Q diagMat(λ) Qᵀ."""
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    A = (Q * eigenvalues) @ Q.T
    return (A + A.T) / 2


@pytest.mark.parametrize("path", ["lapack", "blocked"])
def test_spd_inverse_refuses_matrices_without_a_correct_digit(path, monkeypatch):
    """κ ≈ 1e9: fine in float64, noise in float32 (1 / eps ≈ 8e6)."""
    if path == "blocked":
        monkeypatch.setattr(linalg, "_LAPACK_MAX_ORDER", 0)
        monkeypatch.setattr(linalg, "_INVERSE_BLOCK", 3)
    n = 10
    eigenvalues = np.logspace(0, 9, n)
    A = _rotated(np.random.default_rng(0), eigenvalues)
    tol = inverse_tolerance(A, np.float64)
    assert relative_error(spd_inverse_inplace(A.copy()), np.linalg.inv(A)) <= tol
    # A diagonal matrix factorizes exactly (square roots of its entries, no
    # sums), so the Cholesky factorization cannot break down on any CPU: only
    # the condition estimate can refuse it.
    with pytest.raises(NotPositiveDefiniteError) as info:
        spd_inverse_inplace(np.diag(eigenvalues).astype(np.float32))
    assert "too ill-conditioned for float32" in str(info.value)
    assert info.value.order == 0
    # Rotated, the float32 factorization may or may not break down, depending
    # on the kernel's rounding: either refusal is correct.
    with pytest.raises(NotPositiveDefiniteError) as info:
        spd_inverse_inplace(A.astype(np.float32))
    if info.value.order == 0:
        assert "too ill-conditioned for float32" in str(info.value)
    else:
        assert 1 <= info.value.order <= n
        assert f"order {info.value.order} is not positive" in str(info.value)
    # κ ≈ 1e5 keeps about two digits in float32: accepted.
    B = _rotated(np.random.default_rng(0), np.logspace(0, 5, n)).astype(np.float32)
    tol = inverse_tolerance(B.astype(np.float64), np.float32)
    assert relative_error(spd_inverse_inplace(B.copy()), np.linalg.inv(B)) <= tol


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


# ---- relaxed diagonal (RLAE) and dropout emphasis (DLAE/EDLAE/RDLAE) --------


def test_dropout_penalty_matches_steck():
    X = random_interactions(np.random.default_rng(9), 40, 12)
    penalty = dropout_penalty(np.diag(X.T @ X), 3.0, 0.25)
    np.testing.assert_allclose(
        np.diag(penalty), dropout_penalty_reference(X, 3.0, 0.25), rtol=1e-14
    )


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize(
    "reg, dropout, xi",
    [(7.0, 0.0, 0.3), (7.0, 0.3, 0.0), (2.0, 0.2, 0.1), (2.0, 0.5, None)],
)
def test_rdlae_weights_match_paper(dtype, tol, reg, dropout, xi):
    X = random_interactions(np.random.default_rng(10), 120, 35)
    B = rdlae_weights(gram_matrix(X, dtype), reg, dropout=dropout, xi=xi)
    assert B.dtype == dtype
    assert relative_error(B, rdlae_reference(X, reg, dropout, xi)) < tol
    if xi is not None:
        assert np.diagonal(B).max() <= xi


@pytest.mark.parametrize("xi", [None, np.inf, 1.0, 25.0])
def test_unconstrained_rlae_is_the_ridge_autoencoder(xi):
    """The unconstrained diagonal lies in [0, 1], so any ξ >= 1 is inactive."""
    X = random_interactions(np.random.default_rng(12), 80, 30)
    B = rdlae_weights(gram_matrix(X, np.float64), 4.0, xi=xi)
    assert relative_error(B, ridge_lae_reference(X, 4.0)) < 1e-10


def test_edlae_is_the_zero_diagonal_solution_with_dropout_penalty():
    X = random_interactions(np.random.default_rng(13), 90, 25)
    Lam = dropout_penalty_reference(X, 2.0, 0.3)
    P = np.linalg.inv(X.T @ X + Lam)
    expected = np.eye(25) - P / np.diag(P)[None, :]
    B = rdlae_weights(gram_matrix(X, np.float64), 2.0, dropout=0.3, xi=0.0)
    assert relative_error(B, expected) < 1e-10
    np.testing.assert_array_equal(np.diagonal(B), 0.0)


def test_relaxed_l3ae_reference_reduces_to_the_paper():
    """The reference transcriptions agree where their models coincide."""
    rng = np.random.default_rng(14)
    X = random_interactions(rng, 60, 10)
    C = semantic_reference(rng.standard_normal((10, 3)), 1.0)
    assert (
        relative_error(
            l3ae_relaxed_reference(X, C, -1.0, 5.0), l3ae_reference(X, C, -1.0, 5.0)
        )
        < 1e-12
    )
    zero = np.zeros((10, 10))
    assert (
        relative_error(
            l3ae_relaxed_reference(X, zero, 2.0, 0.0, 0.2, 0.3),
            rdlae_reference(X, 2.0, 0.2, 0.3),
        )
        < 1e-12
    )


@pytest.mark.parametrize("structured", [True, False])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
@pytest.mark.parametrize(
    "reg_X, reg_E, dropout, xi",
    [(-3.0, 10.0, 0.2, 0.0), (5.0, 0.5, 0.0, 0.1), (0.0, 300.0, 0.4, None)],
)
def test_relaxed_l3ae_weights_match_reference(
    structured, dtype, tol, reg_X, reg_E, dropout, xi, tiny_blocks
):
    rng = np.random.default_rng(4)
    X = random_interactions(rng, 150, 45)
    F = rng.standard_normal((45, 6))
    factors = semantic_correlation(F, 2.0, dtype)
    B = l3ae_weights(
        gram_matrix(sparse.csr_array(X), dtype),
        reg_X,
        reg_E,
        factors if structured else dense_correlation(factors, dtype),
        dropout=dropout,
        xi=xi,
    )
    assert B.dtype == dtype
    C = semantic_reference(F, 2.0)
    expected = l3ae_relaxed_reference(X, C, reg_X, reg_E, dropout, xi)
    assert relative_error(B, expected) < tol


def _bounds(xi):
    return (None, None) if xi is None else (-xi, xi)


# n_items 5-8; each case is (n_users, n_items, reg_X, reg_E, dropout, xi).
_OPTIMIZER_CASES = [
    (40, 6, 2.0, 0.0, 0.0, 0.0),  # EASE
    (40, 6, 2.0, 0.0, 0.0, 0.2),  # RLAE
    (40, 6, 2.0, 0.0, 0.0, None),  # ridge LAE
    (50, 7, 1.0, 0.0, 0.3, None),  # DLAE
    (50, 7, 1.0, 0.0, 0.3, 0.0),  # EDLAE
    (50, 7, 1.0, 0.0, 0.3, 0.15),  # RDLAE
    (60, 8, -1.0, 6.0, 0.0, 0.0),  # L3AE
    (60, 8, -1.0, 6.0, 0.25, 0.1),  # L3AE + dropout + ξ
    (30, 5, 0.5, 20.0, 0.5, None),  # L3AE + dropout, unconstrained
]


@pytest.mark.parametrize(
    "n_users, n_items, reg_X, reg_E, dropout, xi", _OPTIMIZER_CASES
)
def test_closed_forms_match_a_generic_optimizer(
    n_users, n_items, reg_X, reg_E, dropout, xi
):
    rng = np.random.default_rng(n_items)
    X = random_interactions(rng, n_users, n_items, density=0.3)
    factors = semantic_correlation(rng.standard_normal((n_items, 3)), 0.5, np.float64)
    C = dense_correlation(factors, np.float64)
    B = l3ae_weights(
        gram_matrix(X, np.float64), reg_X, reg_E, factors, dropout=dropout, xi=xi
    )
    penalty = np.diag(dropout_penalty_reference(X, reg_X, dropout))
    solved = optimizer_weights(X, penalty, reg_E, C, _bounds(xi))
    assert np.max(np.abs(B - solved)) < 1e-6


def test_lower_diagonal_bound_matches_the_optimizer():
    """A C that pushes self-weights below 0: the bound −ξ becomes active.

    There ξ = 0 is the paper's equality constraint, not merely diag(B) ≤ 0.
    """
    rng = np.random.default_rng(16)
    X = random_interactions(rng, 40, 6, density=0.3)
    C = -3.0 * (np.ones((6, 6)) - np.eye(6)) + 0.5 * rng.standard_normal((6, 6))
    reg_X, reg_E = 1.0, 30.0
    G = X.T @ X
    unconstrained = np.linalg.solve(G + (reg_X + reg_E) * np.eye(6), G + reg_E * C)
    assert np.diagonal(unconstrained).min() < -0.1
    penalty = np.full(6, reg_X)
    for xi in (0.0, 0.1):
        B = l3ae_weights(gram_matrix(X, np.float64), reg_X, reg_E, C, xi=xi)
        assert (
            np.max(np.abs(B - optimizer_weights(X, penalty, reg_E, C, (-xi, xi))))
            < 1e-6
        )
        assert np.diagonal(B).min() == pytest.approx(-xi)
    np.testing.assert_array_equal(
        np.diagonal(l3ae_weights(gram_matrix(X, np.float64), reg_X, reg_E, C)), 0.0
    )
    assert (
        relative_error(
            l3ae_weights(gram_matrix(X, np.float64), reg_X, reg_E, C),
            l3ae_reference(X, C, reg_X, reg_E),
        )
        < 1e-10
    )


def test_dropout_makes_a_singular_gram_definite():
    """Λ = p/(1−p)·diag(XᵀX) can make XᵀX + Λ definite with a negative λ."""
    X = random_interactions(np.random.default_rng(17), 10, 20, density=0.4)
    with pytest.raises(NotPositiveDefiniteError):
        rdlae_weights(gram_matrix(X, np.float64), -0.05)
    B = rdlae_weights(gram_matrix(X, np.float64), -0.05, dropout=0.5, xi=0.0)
    assert relative_error(B, rdlae_reference(X, -0.05, 0.5, 0.0)) < 1e-8


# ---- anisotropy control ------------------------------------------------------


@pytest.mark.parametrize("n_items, dim", [(50, 8), (6, 10)])
def test_anisotropy_control_is_the_square_root_of_the_ridge_autoencoder(n_items, dim):
    F = np.random.default_rng(18).standard_normal((n_items, dim)) + 2.0
    reg = 3.0
    W, singular_values = anisotropy_control_matrix(F, reg)
    np.testing.assert_array_equal(W, W.T)
    Z = F @ W
    B = np.linalg.solve(F.T @ F + reg * np.eye(dim), F.T).T @ F.T  # F(FᵀF+λI)⁻¹Fᵀ
    assert relative_error(Z @ Z.T / reg, B) < 1e-10
    expected = np.linalg.svd(F, compute_uv=False)
    np.testing.assert_allclose(singular_values[: len(expected)], expected, rtol=1e-10)
    shrunk = np.linalg.svd(Z, compute_uv=False)
    np.testing.assert_allclose(
        shrunk, expected / np.sqrt(1 + expected**2 / reg), rtol=1e-8, atol=1e-12
    )
