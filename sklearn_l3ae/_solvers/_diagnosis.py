"""Why ``H = M + shift·I`` of an :class:`ItemWeightsProblem` is not definite.

Every solver factorizes (a part of) the same matrix, so the diagnosis is
shared: cheap refusals before any heavy work, and the explanation of a
failed factorization, naming the matrix and the parameters that move it.
"""

import numpy as np
from scipy.linalg import eigh

# Above this many items the smallest eigenvalue of M is not computed for an
# error message (it would cost a dense eigendecomposition).
MAX_ITEMS_FOR_EIGENVALUE = 3000


def or_float64(dtype):
    """Advice to refit in float64, for float32 fits only."""
    return " or use dtype=np.float64" if np.dtype(dtype) == np.float32 else ""


def check_in_range(value, dtype, param_text):
    """Refuse a regularization that the fit's precision cannot represent."""
    largest = float(np.finfo(dtype).max)
    if not abs(value) <= largest:
        raise ValueError(
            f"{param_text} = {value:g} is beyond the range of {np.dtype(dtype)}, the "
            f"precision of the fit (|value| <= {largest:.3g}): choose a smaller "
            f"{param_text}{or_float64(dtype)}."
        )


def _column_counts(matrix):
    counts = abs(matrix).sum(axis=0)
    return np.asarray(counts).ravel()


def _empty_item(problem):
    """An item whose column of ``X`` (and of the extra rows) is all zero, or None."""
    counts = _column_counts(problem.X)
    if problem.extra_rows is not None:
        counts = counts + _column_counts(np.asarray(problem.extra_rows))
    empty = np.flatnonzero(counts == 0)
    return int(empty[0]) if empty.size else None


def _rank_deficiency(problem):
    """Why ``M`` is singular for a reason seen without factorizing, or None."""
    n_users, n_items = problem.X.shape
    n_rows = n_users
    rows = "users"
    if problem.extra_rows is not None:
        n_rows += np.shape(problem.extra_rows)[0]
        rows = "users and text rows"
    if n_rows < n_items and not problem.dropout:
        return f"fewer {rows} ({n_rows}) than items ({n_items})"
    return None


def _increase(problem):
    """``"increase reg (or dropout)"``: every parameter that makes H definite."""
    others = " or ".join(problem.also_increase)
    return f"increase {problem.shift_name}" + (f" (or {others})" if others else "")


def check_problem(problem):
    """Refuse, before any dense work, a problem whose ``H`` cannot be definite.

    A shift beyond the dtype's range is refused; with ``shift <= 0``, an item
    without interactions (and without extra rows) keeps the diagonal entry
    ``shift`` alone, and a rank-deficient ``M`` (fewer rows than items, no
    dropout) has the eigenvalue 0.
    """
    dtype = problem.dtype
    check_in_range(problem.shift, dtype, problem.shift_name)
    if problem.reg_E:
        check_in_range(problem.reg_E, dtype, "reg_E")
    if problem.shift > 0 or problem.extra_rows_pending:
        return
    head = (
        f"{problem.shifted_matrix_text()} must be positive definite, but "
        f"{problem.shift_name} = {problem.shift:g}"
    )
    item = _empty_item(problem)
    if item is not None:
        text = " or text" if problem.extra_rows is not None else ""
        whatever = " whatever the dropout" if problem.dropout else ""
        raise ValueError(
            f"{problem.shifted_matrix_text()} must be positive definite, but item "
            f"column {item} has no interactions{text}, so its diagonal entry is "
            f"{problem.shift_name} = {problem.shift:g}{whatever}: choose "
            f"{problem.shift_name} > 0."
        )
    reason = _rank_deficiency(problem)
    if reason is not None:
        raise ValueError(
            f"{head} and {problem.base_matrix_text()} is singular ({reason}), so "
            f"its smallest eigenvalue is 0: choose {problem.shift_name} > 0."
        )


def explain_failure(problem):
    """The message of a factorization of ``H`` that failed."""
    dtype = problem.dtype
    H, M = problem.shifted_matrix_text(), problem.base_matrix_text()
    shift = problem.shift_name
    head = f"{H} must be positive definite, but {shift} = {problem.shift:g}"
    numerical = (
        f"{head} is too small for the precision of the fit ({dtype}): the "
        "Cholesky factorization failed numerically, or the matrix is too "
        "ill-conditioned for its inverse to keep a correct digit. "
        f"{_capitalized(_increase(problem))}{or_float64(dtype)}."
    )
    if problem.n_items > MAX_ITEMS_FOR_EIGENVALUE:
        return (
            f"{head}, which is not numerically positive definite (the Cholesky "
            f"factorization failed): {_increase(problem)} ({shift} must exceed "
            f"minus the smallest eigenvalue of {M}){or_float64(dtype)}."
        )
    # M is positive semi-definite: a negative eigenvalue is round-off.
    smallest = max(
        0.0,
        float(
            eigh(problem.base_matrix(), eigvals_only=True, subset_by_index=[0, 0])[0]
        ),
    )
    if problem.shift > -smallest:
        reason = _rank_deficiency(problem)
        item = _empty_item(problem)
        if reason is None and item is not None:
            reason = f"item column {item} has no interactions"
        return numerical + (f" ({M} is singular: {reason}.)" if reason else "")
    margin = " (with a margin in float32)" if dtype == np.float32 else ""
    others = " or ".join(problem.also_increase)
    return (
        f"{head} and the smallest eigenvalue of {M} is {smallest:.6g}: choose "
        f"{shift} > {-smallest:.6g}{margin}"
        + (f", or increase {others}" if others else "")
        + " (the Cholesky factorization failed)."
    )


def _capitalized(text):
    return text[:1].upper() + text[1:]
