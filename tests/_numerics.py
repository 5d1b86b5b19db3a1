"""Tolerances for floating results, derived from the dtype and the computation.

The package promises bitwise equality only for the same call on the same
inputs, shapes and BLAS thread count, in one process or a fresh one on the
same machine (``docs/user_guide.rst``, *Reproducibility*).  Results reached
through another code path — sparse instead of dense input, other batch
sizes, another thread count, another CPU kernel — agree to round-off, and
the tests compare them with the bounds below:

* a dot product of ``m`` nonzero terms computed in precision ``u`` (unit
  round-off, ``eps / 2``) in any summation order, with or without FMA, is
  within ``γ_m · Σ|a_i b_i|`` of the exact value, ``γ_m = m·u / (1 − m·u)``
  (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1).  Two
  such computations differ by at most twice that;
* a solve with a matrix of condition number ``κ`` determines its result to a
  relative accuracy of about ``κ·ε`` (first-order perturbation theory); the
  fits are held to ``(κ + 16)·ε`` relative to the largest reference entry,
  the ``16·ε`` covering the final rounding of well-conditioned problems;
* a ranking computed from scores that are off by at most ``δ`` may differ
  from the exact ranking only between items whose exact scores are within
  ``2δ`` of each other: the r-th best score moves by at most ``δ``.
"""

import numpy as np
from scipy import sparse


def unit_roundoff(dtype):
    """``u = eps / 2`` of a floating dtype."""
    return float(np.finfo(dtype).eps) / 2


def gamma(n_terms, dtype):
    """Higham's ``γ_n = n·u / (1 − n·u)``: the relative error of an n-term sum."""
    nu = n_terms * unit_roundoff(dtype)
    assert nu < 1, f"{n_terms} terms exhaust the precision of {np.dtype(dtype)}"
    return nu / (1 - nu)


def _terms_per_row(A):
    """Nonzero terms of each row of ``A`` (the length of its dot products)."""
    if sparse.issparse(A):
        A = sparse.csr_array(A)
        A.eliminate_zeros()
        return np.diff(A.indptr)
    return np.count_nonzero(np.asarray(A), axis=1)


def product_error_bound(A, B, dtype):
    """Elementwise bound on ``|fl(A @ B) − A @ B|`` in precision ``dtype``.

    ``γ_m · (|A| @ |B|)`` with ``m`` the nonzero terms of each row of ``A``
    (exact zeros add no rounding), for any blocking, summation order or
    kernel.  Rows of ``A`` are rounded to ``dtype`` before the product, as
    the estimators do.
    """
    if sparse.issparse(A):
        absolute_A = abs(sparse.csr_array(A).astype(dtype).astype(np.float64))
    else:
        absolute_A = np.abs(np.asarray(A, dtype=dtype).astype(np.float64))
    magnitude = absolute_A @ np.abs(np.asarray(B, dtype=np.float64))
    terms = np.maximum(_terms_per_row(A), 1)
    return np.asarray(magnitude) * np.array([gamma(m, dtype) for m in terms])[:, None]


def contributions_bound(user_row, coef, dtype):
    """Bound on ``|Σ_j x_uj·B[j, i] − score_i|`` for :meth:`explain`.

    Each contribution is one rounded product; their sum and the score are
    two sums of ``m + 1`` rounded terms (``m`` the history's length), each
    within ``γ_{m+1}·Σ_j |x_uj·B[j, i]|`` of the exact value.
    """
    weights = np.abs(np.asarray(user_row, dtype=dtype).astype(np.float64)).ravel()
    terms = int(np.count_nonzero(weights)) + 1
    return 2 * gamma(terms, dtype) * (weights @ np.abs(np.asarray(coef, np.float64)))


def assert_scores_match(actual, expected, bound):
    """Equal ``-inf`` masks, and finite scores within ``bound`` of each other."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    masked = np.isneginf(expected)
    np.testing.assert_array_equal(np.isneginf(actual), masked)
    bound = np.broadcast_to(bound, expected.shape)
    difference = np.abs(actual[~masked] - expected[~masked])
    excess = difference - bound[~masked]
    assert (excess <= 0).all(), (
        f"scores differ by up to {difference.max():.3g}, beyond the round-off "
        f"bound by {excess.max():.3g}"
    )


def assert_rankings_match(items, expected_items, reference_scores, tie):
    """Two rankings that agree except between near-tied items.

    Wherever ``items`` and ``expected_items`` hold different items at the
    same position, both must be real items (not ``-1`` padding) whose
    ``reference_scores`` are within ``tie`` of each other (a scalar or one
    value per row).  With ``tie`` the bound of :func:`assert_scores_match`
    doubled (each ranking moves its r-th score by at most the bound), this is
    exactly what round-off can change.
    """
    items = np.asarray(items)
    expected_items = np.asarray(expected_items)
    assert items.shape == expected_items.shape
    reference_scores = np.asarray(reference_scores, dtype=np.float64)
    tie = np.broadcast_to(np.asarray(tie, dtype=np.float64), (len(items),))
    rows, positions = np.nonzero(items != expected_items)
    for row, position in zip(rows, positions, strict=True):
        got, want = items[row, position], expected_items[row, position]
        assert got >= 0 and want >= 0, (
            f"row {row}, rank {position}: item {got} against {want}; padding "
            "(-1) depends on the mask only, never on round-off"
        )
        gap = abs(reference_scores[row, got] - reference_scores[row, want])
        assert gap <= tie[row], (
            f"row {row}, rank {position}: item {got} against {want}, whose "
            f"scores differ by {gap:.3g}, more than a round-off tie ({tie[row]:.3g})"
        )


def row_tie_tolerance(bound):
    """Per-row tie tolerance of :func:`assert_rankings_match` from a score bound."""
    return 2 * np.asarray(bound).max(axis=1, initial=0.0)


def condition_number(H):
    """``κ₂(H)`` of a symmetric positive-definite matrix."""
    eigenvalues = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))
    return float(eigenvalues[-1] / eigenvalues[0])


def inverse_tolerance(A, dtype):
    """``(n·κ + 16)·ε``: how closely an SPD inverse meets the exact one.

    ``n·κ·ε`` is the first-order bound of a Cholesky-based inverse; the
    ``16·ε`` covers the final roundings of tiny, well-conditioned matrices.
    """
    return (A.shape[0] * condition_number(A) + 16) * float(np.finfo(dtype).eps)


def solve_tolerance(H, dtype):
    """``(κ + 16)·ε``: how closely a fit that factorizes ``H`` meets its reference."""
    return (condition_number(H) + 16) * float(np.finfo(dtype).eps)


def assert_approximate_top_k(reference_scores, scores, top_items):
    """``top_items`` (ranked on ``scores``) is a top-k of ``reference_scores``.

    With ``δ = max |scores − reference_scores|`` the r-th best score moves by
    at most δ, so the item ranked r-th on ``scores`` scores at least the r-th
    best reference score minus 2δ.  Returns δ.
    """
    reference_scores = np.asarray(reference_scores, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    masked = np.isneginf(reference_scores)
    np.testing.assert_array_equal(np.isneginf(scores), masked)
    assert np.isfinite(reference_scores[~masked]).all()
    assert np.isfinite(scores[~masked]).all()
    delta = float(np.abs(scores[~masked] - reference_scores[~masked]).max())
    k = top_items.shape[1]
    best = -np.sort(-reference_scores, axis=1)[:, :k]
    got = np.take_along_axis(reference_scores, top_items, axis=1)
    assert (top_items >= 0).all()
    assert (got >= best - 2 * delta).all()
    return delta
