"""The problem every item-item solver answers, described once."""

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class ItemWeightsProblem:
    """Penalized least squares for the item-item weights ``B`` (SPEC §2, §7).

    ``B = argmin ||X − XB||² + ||E − EB||² + ||Λ^{1/2} B||² + λ_E ||B − C||²``
    ``s.t. −ξ ≤ diag(B) ≤ ξ``, with ``Λ = λ·I + p/(1 − p)·diagMat(diag(XᵀX))``.

    The matrix a solver factorizes is ``H = M + (λ + λ_E)·I`` with
    ``M = XᵀX + EᵀE + p/(1 − p)·diagMat(diag(XᵀX))``, positive
    semi-definite: ``H`` is definite exactly when ``λ + λ_E`` exceeds minus
    the smallest eigenvalue of ``M``.  EASE is ``E = 0, p = 0, λ_E = 0,
    ξ = 0``; L3AE adds ``λ_E`` and ``C``; the collective fusion baseline
    stacks its text rows in ``E``.

    Attributes
    ----------
    X : {ndarray, sparse matrix} of shape (n_users, n_items)
        Validated interactions, in the precision of the fit.
    reg : float
        λ (L3AE's λ_X); may be negative.
    reg_E : float
        λ_E >= 0, the pull towards ``correlation``.
    correlation : LowRankCorrelation, ndarray or None
        ``C``; None until phase 1 has run, or without item data.
    dropout : float
        ``p`` of the emphasis penalty.
    xi : float or None
        Bound ξ on ``|diag(B)|``; None is unconstrained.
    extra_rows : ndarray of shape (n_rows, n_items) or None
        ``E``, rows stacked under ``X`` (e.g. weighted text embeddings).
        None with an ``extra_name``: the rows exist but are not known yet
        (before phase 1), so checks that need them are left out.
    shift_name : str
        How the user spells ``λ + λ_E`` (``"reg"``, ``"reg_X + reg_E"``).
    extra_name : str or None
        How the user spells ``EᵀE`` (e.g. ``"text_weight²·FFᵀ"``).
    also_increase : tuple of str
        Other parameters that make ``H`` more definite when increased.
    dense_correlation : bool
        Phase 1 will give a dense ``C`` (one more n x n array); known before
        phase 1 runs, for the memory plan.
    side_bytes : int
        O(n_items·d) arrays of phase 1, for the memory plan.
    extra_square : int
        Dense n x n arrays the model itself keeps beside the solver's.
    emphasis : ndarray of shape (n_items,) or None
        The diagonal the dropout penalty ``Λ`` is built from, when it is not
        ``diag(XᵀX)`` of ``X`` itself: DAN's user normalization reweights
        the rows of ``X`` but keeps ``Λ`` on the raw item counts (SPEC §9).
    """

    X: object
    reg: float
    reg_E: float = 0.0
    correlation: object = None
    dropout: float = 0.0
    xi: float | None = 0.0
    extra_rows: object = None
    shift_name: str = "reg"
    extra_name: str | None = None
    also_increase: tuple = field(default=())
    dense_correlation: bool = False
    side_bytes: int = 0
    extra_square: int = 0
    emphasis: object = None

    @property
    def dtype(self):
        return np.dtype(self.X.dtype)

    @property
    def n_items(self):
        return self.X.shape[1]

    @property
    def extra_rows_pending(self):
        """Extra rows exist but are not computed yet (before phase 1)."""
        return self.extra_name is not None and self.extra_rows is None

    @property
    def shift(self):
        """``λ + λ_E``, the uniform diagonal shift of ``M``."""
        return self.reg + self.reg_E

    def shifted_matrix_text(self):
        """``H`` as the user reads it, e.g. ``XᵀX + (reg)·I``."""
        return f"{self.base_matrix_text()} + ({self.shift_name})·I"

    def base_matrix_text(self):
        """``M`` as the user reads it."""
        parts = ["XᵀX"]
        if self.extra_name is not None:
            parts.append(self.extra_name)
        if self.dropout:
            parts.append("dropout/(1 − dropout)·diagMat(diag(XᵀX))")
        return " + ".join(parts)

    def base_matrix(self):
        """``M`` as a dense float64 array (for diagnosis of small problems)."""
        X = self.X
        M = (X.T @ X).toarray() if sparse.issparse(X) else X.T @ X
        M = np.asarray(M, dtype=np.float64)
        if self.dropout:
            emphasis = np.diagonal(M) if self.emphasis is None else self.emphasis
            M.flat[:: M.shape[0] + 1] += self.dropout / (1.0 - self.dropout) * emphasis
        if self.extra_rows is not None:
            E = np.asarray(self.extra_rows, dtype=np.float64)
            M += E.T @ E
        return M
