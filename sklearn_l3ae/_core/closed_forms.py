"""Closed-form solutions of the linear-autoencoder family as pure functions.

Every formula of the package lives here; estimators and solvers validate
their inputs, call these functions and store the results.  Notation follows
Moon, Park & Lee, "LLM-Enhanced Linear Autoencoders for Recommendation" (CIKM
2025, L3AE) and Steck, "Embarrassingly Shallow Autoencoders" (WWW 2019, EASE):

* ``G = XᵀX`` is the item-item Gram matrix of the interactions;
* ``F`` holds one text embedding per item (rows);
* phase 1 learns the semantic correlation ``C`` from ``F`` (L3AE eq. 3);
* phase 2 learns the item-item weights ``B`` from ``G`` and ``C`` (L3AE eq. 6);
* the relaxed (RLAE, ``diag(B) ≤ ξ``) and dropout-emphasis (DLAE/EDLAE,
  ``Λ = λI + p/(1−p)·diagMat(diag(G))``) variants of Moon, Kim & Lee (SIGIR
  2023) and Steck (NeurIPS 2020) are options of the same phase-2 solver;
* :func:`anisotropy_control_matrix` is the d x d ridge-LAE map that spreads
  item embeddings out;
* DAN's popularity normalization of ``G`` and ``B`` lives beside, in
  :mod:`~.normalization`.

Memory discipline: a fit holds at most two dense n_items x n_items arrays
(``C`` and ``G``, the latter becoming ``P`` and then ``B`` in the same
buffer).  The only dense factorization of an n x n matrix is the Cholesky
factorization of ``G + Λ_X + λ_E·I`` (:func:`~.linalg.spd_inverse_inplace`).
"""

from typing import NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .linalg import NumpyOps, row_block, spd_solve_many

# Rows of the embeddings handled at once by the phase-1 factors.
_FACTOR_ROWS = 2**16


class LowRankCorrelation(NamedTuple):
    """Structured form of a semantic correlation matrix.

    ``C = diagMat(diagonal) + left @ right.T`` with ``left`` and ``right`` of
    shape (n_items, d).  Phase 1 with the Woodbury identity yields ``C`` in this
    form, which lets phase 2 compute ``P₂C`` in O(n²·d) instead of O(n³).
    """

    diagonal: np.ndarray
    left: np.ndarray
    right: np.ndarray


def semantic_correlation(embeddings, reg, dtype=np.float32, device=None):
    """Phase 1 of L3AE: semantic EASE on item embeddings (L3AE eq. 3).

    ``C = argmin ||Fᵀ − FᵀC||² + λ_F ||C||²  s.t. diag(C) = 0`` has the closed
    form ``C = I − P₁ diagMat(1 / diag(P₁))`` with ``P₁ = (F Fᵀ + λ_F I)⁻¹``.

    When ``d < n_items`` the Woodbury identity
    ``P₁ = (I − F K Fᵀ) / λ_F`` with ``K = (FᵀF + λ_F I_d)⁻¹`` gives, writing
    ``w = diag(F K Fᵀ)`` and ``δ = 1 / (1 − w)``,
    ``C = diagMat(−w·δ) + F (diagMat(δ) F K)ᵀ``: one d x d factorization and
    O(n·d²) work; ``C`` is returned in this structured form and never formed
    (see :func:`dense_correlation`).  Its left factor is ``F`` itself (not a
    copy when ``F`` already has the factors' dtype: at 10⁶ items x 384
    dimensions that is 1.5 GB saved).  Otherwise the n x n inverse is formed
    directly and ``C`` is returned dense.

    Parameters
    ----------
    embeddings : ndarray of shape (n_items, d)
    reg : float > 0
        λ_F.
    dtype : {np.float32, np.float64}
        Precision of the result.  The factors are computed in float64 (in
        blocks of rows) and stored in the wider of ``dtype`` and the
        embeddings' precision (float32 embeddings in a float32 fit: float32
        factors, half the memory); the diagonal stays float64.
    device : str, torch.device or None, default=None
        Where the n x n inverse of the dense case runs (a torch device, see
        :mod:`~.torch_ops`); the low-rank case is O(n·d²) work with one
        d x d factorization and runs on the host.

    Returns
    -------
    C : LowRankCorrelation or ndarray of shape (n_items, n_items)
        Zero diagonal.
    """
    F = np.asarray(embeddings)
    if F.dtype not in (np.float32, np.float64):
        F = F.astype(np.float64)
    n_items, dim = F.shape
    if dim < n_items:
        # In row blocks of float64: no float64 copy of a float32 F, and the
        # factors in the fit's precision (phase 2 reads them in it anyway).
        step = _FACTOR_ROWS
        inner = np.zeros((dim, dim))
        for start in range(0, n_items, step):
            block = F[start : start + step].astype(np.float64, copy=False)
            inner += block.T @ block
        inner.flat[:: dim + 1] += reg
        # K = (FᵀF + λ_F I)⁻¹ formed once: its eigenvalues are at most
        # 1 / λ_F, and n x d products by it are GEMMs (n·d triangular solves
        # took 3x as long at 100 000 x 384).
        factor = cho_factor(inner, lower=True)
        K = cho_solve(factor, np.eye(dim))
        K = (K + K.T) / 2
        factor_dtype = np.result_type(dtype, F.dtype)
        left = np.ascontiguousarray(F, dtype=factor_dtype)
        right = np.empty((n_items, dim), dtype=factor_dtype)
        diagonal = np.empty(n_items)
        for start in range(0, n_items, step):
            block = F[start : start + step].astype(np.float64, copy=False)
            FK = block @ K
            w = np.einsum("ij,ij->i", FK, block)
            delta = 1.0 / (1.0 - w)
            right[start : start + step] = FK * delta[:, None]
            diagonal[start : start + step] = -w * delta
        return LowRankCorrelation(diagonal=diagonal, left=left, right=right)
    F = F.astype(np.float64, copy=False)
    P = np.ascontiguousarray(F.astype(dtype) @ F.T.astype(dtype))
    ops = NumpyOps
    if device is not None:
        from . import torch_ops

        P, ops = (
            torch_ops.to_tensor(P, torch_ops.resolve_device(device)),
            torch_ops.TorchOps,
        )
    ops.add_to_diagonal(P, reg)
    ops.inverse_inplace(P)
    C = _scaled_solution(P, None, 0.0, ops)
    return C if ops is NumpyOps else torch_ops.to_numpy(C)


def dense_correlation(factors, dtype=np.float32):
    """Form ``C = diagMat(diagonal) + left @ right.T`` as a dense array, O(n²·d)."""
    C = factors.left.astype(dtype) @ factors.right.astype(dtype).T
    # diagonal + rowsum(left ∘ right) is 0 by construction; store it exactly.
    C.flat[:: C.shape[0] + 1] = 0.0
    return C


def _scaled_solution(P, scale, diagonal, ops=NumpyOps):
    """Turn ``P`` in place into ``−P·diagMat(scale)`` with the given diagonal.

    With ``scale = 1 / diag(P)`` and ``diagonal = 0`` this is EASE's
    ``I − P·diagMat(1/diag(P))``: the identity only touches the diagonal, which
    the (active) diagonal constraint fixes.
    """
    if scale is None:
        scale = 1.0 / ops.diagonal(P)
    P *= ops.asarray(-scale, like=P)[None, :]
    return ops.set_diagonal(P, np.broadcast_to(diagonal, (P.shape[0],)))


def dropout_penalty(gram_diagonal, reg, dropout):
    """Diagonal of the dropout-emphasis penalty ``Λ`` (Steck 2020, DLAE).

    ``Λ = λ·I + (p / (1 − p))·diagMat(diag(XᵀX))``: dropout with probability
    ``p`` of the input entries is, in expectation, this L2 penalty, heavier on
    popular items.

    Parameters
    ----------
    gram_diagonal : ndarray of shape (n_items,)
        ``diag(XᵀX)``.
    reg : float
        λ.
    dropout : float in [0, 1)
        ``p``.

    Returns
    -------
    penalty : ndarray of shape (n_items,), float64
    """
    return reg + (dropout / (1.0 - dropout)) * np.asarray(gram_diagonal, np.float64)


def ease_weights(gram, reg):
    """EASE item-item weights from a Gram matrix, in place (Steck 2019, eq. 8).

    ``B = I − P·diagMat(1 / diag(P))`` with ``P = (G + λI)⁻¹``.

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg : float
        λ; ``G + λI`` must be positive definite.

    Returns
    -------
    B : ndarray
        ``gram`` itself, now holding B (zero diagonal).
    """
    return l3ae_weights(gram, reg, 0.0, None)


def rdlae_weights(gram, reg, *, dropout=0.0, xi=0.0):
    """Relaxed denoising linear autoencoder weights, in place (RDLAE).

    ``B = argmin ||X − XB||² + ||Λ^{1/2} B||²  s.t. diag(B) ≤ ξ`` with the
    dropout penalty ``Λ = λI + (p/(1−p))·diagMat(diag(G))``
    (:func:`dropout_penalty`).  With ``P = (G + Λ)⁻¹`` the KKT conditions give
    (Moon, Kim & Lee, SIGIR 2023)
    ``B = I − P·(Λ + diagMat(μ))``, ``μ_j = max(0, (1 − P_jj Λ_j − ξ) / P_jj)``.

    Special cases: ``ξ = 0`` is EASE (``p = 0``) or EDLAE (``p > 0``);
    ``xi=None`` (no constraint) is the ridge LAE ``B = P·G`` (``p = 0``) or
    DLAE (``p > 0``); ``p = 0`` is RLAE.  This is :func:`l3ae_weights` with
    ``λ_E = 0``; see there for why the bound is enforced as ``|B_jj| ≤ ξ``
    (identical here whenever ``Λ ⪰ 0``).

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg : float
        λ; ``G + Λ`` must be positive definite.
    dropout : float in [0, 1), default=0.0
        Dropout probability ``p``.
    xi : float >= 0 or None, default=0.0
        Bound ξ on the diagonal; ``None`` or ``inf`` means unconstrained.

    Returns
    -------
    B : ndarray
        ``gram`` itself, now holding B.
    """
    return l3ae_weights(gram, reg, 0.0, None, dropout=dropout, xi=xi)


def l3ae_weights(
    gram,
    reg_X,
    reg_E,
    correlation,
    *,
    dropout=0.0,
    xi=0.0,
    emphasis=None,
    ops=NumpyOps,
    keep_inverse=False,
):
    """Phase 2 of L3AE: semantic-guided EASE, in place (L3AE eq. 6).

    ``B = argmin ||X − XB||² + ||Λ_X^{1/2} B||² + λ_E ||B − C||²``
    ``s.t. −ξ ≤ diag(B) ≤ ξ``, with ``Λ_X = λ_X I + (p/(1−p))·diagMat(diag(G))``
    (``p = 0``: the paper's ``λ_X ||B||²``; ``ξ = 0``: its ``diag(B) = 0``).

    Every column ``b_j`` is a separate strictly convex problem with one bounded
    coordinate ``B_jj``.  With ``Λ = Λ_X + λ_E I`` and ``P = (G + Λ)⁻¹``,
    stationarity of the Lagrangian reads ``(G + Λ)B − G − λ_E C + diagMat(μ)
    = 0``, i.e. ``B = I − PΛ + λ_E PC − P·diagMat(μ)``.  Without the bound
    (``μ = 0``) the diagonal would be ``b⁰_j = 1 − P_jj Λ_j + λ_E (PC)_jj``;
    complementary slackness makes ``B_jj = d_j = clip(b⁰_j, −ξ, ξ)`` and
    ``μ_j = (b⁰_j − d_j) / P_jj``.  Hence, off the diagonal,

    ``B = λ_E PC − P·diagMat(r)``,  ``r = (1 − d + λ_E diag(PC)) / diag(P)``

    (the ``Λ`` terms cancel), and ``diag(B) = d``.  With ``ξ = 0``, ``d = 0``
    and ``r = (1 + λ_E diag(PC)) / diag(P)``: the paper's formula, computed by
    the very same operations.

    Why two-sided: ``b⁰ ∈ [0, 1]`` whenever ``Λ ⪰ 0`` (``P ⪯ Λ⁻¹``), so for the
    RLAE/RDLAE family the lower bound is never active and this is exactly the
    papers' ``diag(B) ≤ ξ``.  With ``λ_E > 0`` (or a negative ``λ_X``) ``b⁰``
    can be negative; the lower bound keeps ``ξ = 0`` the equality constraint of
    L3AE instead of silently allowing negative self-weights.

    With ``C = diagMat(c) + L Rᵀ`` (:class:`LowRankCorrelation`),
    ``B = P diagMat(λ_E c − r) + λ_E (PL) Rᵀ`` off the diagonal and
    ``diag(PC) = diag(P)·c + rowsum((PL) ∘ R)``: O(n²·d), no n³ product.
    A dense ``C`` costs one blockwise n³ product ``PC``.

    Parameters
    ----------
    gram : ndarray of shape (n_items, n_items), C-contiguous, overwritten
    reg_X, reg_E : float
        λ_X (may be negative) and λ_E ≥ 0; ``G + Λ_X + λ_E I`` must be
        positive definite.
    correlation : ndarray of shape (n_items, n_items), LowRankCorrelation or None
        ``C``; ``None`` means ``C = 0`` (EASE with λ = λ_X + λ_E).  A dense
        ``C`` is an array of the backend of ``gram`` (a tensor for torch).
    dropout : float in [0, 1), default=0.0
        Dropout probability ``p`` of the emphasis penalty
        (:func:`dropout_penalty`).
    xi : float >= 0 or None, default=0.0
        Bound ξ on ``|diag(B)|``; ``None`` or ``inf`` means unconstrained.
    emphasis : ndarray of shape (n_items,) or None, default=None
        The diagonal the dropout penalty is built from; None is
        ``diag(gram)`` (DAN's user normalization passes the raw one, see
        :func:`~.normalization.dan_row_scale`).
    ops : default=NumpyOps
        The matrix operations: :class:`~.linalg.NumpyOps` on NumPy arrays,
        or :class:`~._torch.TorchOps` when ``gram`` is a torch tensor.
    keep_inverse : bool, default=False
        Also return ``P``: ``gram`` then holds ``P`` and ``B`` is a new
        array, for the incremental updates of :mod:`~.incremental`.

    Returns
    -------
    B : ndarray or tensor
        ``gram`` itself, now holding B (diagonal ``d``, zero for ``ξ = 0``).
    P : ndarray
        Only with ``keep_inverse``: ``gram``, holding ``P``.
    """
    diagonal = None
    if dropout:
        diagonal = ops.diagonal(gram) if emphasis is None else emphasis
    penalty = item_penalty(diagonal, reg_X, reg_E, dropout)
    ops.add_to_diagonal(gram, penalty)
    P = ops.inverse_inplace(gram)
    if keep_inverse:
        B = weights_from_inverse(
            ops.copy(P), penalty, reg_E, correlation, xi=xi, ops=ops
        )
        return B, P
    return weights_from_inverse(P, penalty, reg_E, correlation, xi=xi, ops=ops)


def item_penalty(gram_diagonal, reg_X, reg_E, dropout):
    """The diagonal ``Λ_X + λ_E`` added to ``G`` before it is inverted.

    A scalar ``λ_X + λ_E`` without dropout; with it, the vector
    :func:`dropout_penalty` of ``gram_diagonal`` (``diag(G)``, or DAN's raw
    one) shifted by ``λ_E``.
    """
    if dropout:
        return dropout_penalty(gram_diagonal, reg_X + reg_E, dropout)
    return reg_X + reg_E


def weights_from_inverse(P, penalty, reg_E, correlation, *, xi=0.0, ops=NumpyOps):
    """Turn ``P = (G + Λ_X + λ_E I)⁻¹`` into the weights ``B``, in place.

    The second half of :func:`l3ae_weights` (see there for the formula);
    ``penalty`` is :func:`item_penalty`.  An incremental update keeps ``P``
    and passes a copy (:mod:`~.incremental`).

    Returns
    -------
    B : ndarray or tensor
        ``P`` itself, now holding B.
    """
    n_items = P.shape[0]
    p_diag = ops.diagonal(P)
    semantic = correlation is not None and reg_E != 0
    if not semantic:
        target = _bounded_diagonal(1.0 - p_diag * penalty, xi)
        return _scaled_solution(P, (1.0 - target) / p_diag, target, ops)
    if isinstance(correlation, LowRankCorrelation):
        PL = P @ ops.asarray(correlation.left, like=P)
        right = ops.asarray(correlation.right, like=P)
        diag_PC = p_diag * correlation.diagonal + ops.rowwise_dot(PL, right)
        target = _bounded_diagonal(1.0 - p_diag * penalty + reg_E * diag_PC, xi)
        r = (1.0 - target + reg_E * diag_PC) / p_diag
        column_scale = ops.asarray(reg_E * correlation.diagonal - r, like=P)
        right *= reg_E
        ops.scale_columns_add_product(P, column_scale, PL, right)
    else:
        C = correlation  # dense: already an array of the backend (not copied)
        step = row_block(n_items, n_items, ops.itemsize(P))
        diag_PC = np.empty(n_items)
        for start in range(0, n_items, step):
            stop = min(start + step, n_items)
            diag_PC[start:stop] = ops.rowwise_dot(P[start:stop], C[:, start:stop].T)
        target = _bounded_diagonal(1.0 - p_diag * penalty + reg_E * diag_PC, xi)
        r = (1.0 - target + reg_E * diag_PC) / p_diag
        minus_r = ops.asarray(-r, like=P)
        for start in range(0, n_items, step):
            block = P[start : start + step]
            PC_block = block @ C
            block *= minus_r[None, :]
            PC_block *= reg_E
            block += PC_block
    return ops.set_diagonal(P, target)


def support_weights(
    matrices, targets, penalties, reg_E=0.0, correlation=None, *, xi=0.0
):
    """Support-constrained phase 2 for a batch of columns (SPEC §7), in place.

    Column ``j`` of ``B`` restricted to ``S'_j = {j} ∪ S_j`` solves the
    same problem as :func:`l3ae_weights` on the principal submatrix of
    ``G`` on ``S'_j``: with ``H = G[S', S'] + diagMat(Λ[S'] + λ_E)`` and
    ``g = G[S', j] + λ_E C[S', j]``,

    ``b⁰ = H⁻¹ g``,  ``z = H⁻¹ e_j``,  ``d = clip(b⁰_j, −ξ, ξ)``,
    ``b = b⁰ − z (b⁰_j − d) / z_j``  (so ``b_j = d``),

    the KKT solution of :func:`l3ae_weights` for one column (there,
    ``B[:, j] = P g − P e_j μ_j``).  For ``ξ = 0`` this equals the SPEC's
    ``B[S_j, j] = (G[S_j, S_j] + Λ[S_j] + λ_E I)⁻¹ (G[S_j, j] + λ_E C[S_j, j])``
    (eliminating ``j`` is a Schur complement), and with ``S_j`` = every
    other item it is the dense solution exactly.

    Parameters
    ----------
    matrices : ndarray of shape (b, m, m)
        ``G[S'_j, S'_j]``, the column itself at position 0; padded slots
        are zero rows and columns.  Overwritten.
    targets : ndarray of shape (b, m)
        ``G[S'_j, j]`` (zero in padded slots).
    penalties : ndarray of shape (b, m)
        ``Λ + λ_E`` on the diagonal of each system; 1 in padded slots.
    reg_E : float, default=0.0
    correlation : ndarray of shape (b, m) or None
        ``C[S'_j, j]`` (zero in padded slots).
    xi : float >= 0 or None, default=0.0
        Bound ξ on ``|B_jj|``; None is unconstrained.

    Returns
    -------
    weights : ndarray of shape (b, m)
        ``B[S'_j, j]``: the self-weight ``d`` at position 0; zero in padded
        slots.

    Raises
    ------
    NotPositiveDefiniteError
        For the first system ``H`` that is not numerically positive
        definite (attribute ``index``).
    """
    n_columns, m = targets.shape
    diagonal = np.arange(m)
    matrices[:, diagonal, diagonal] += penalties.astype(matrices.dtype)
    rhs = np.zeros((n_columns, m, 2), dtype=matrices.dtype)
    rhs[:, :, 0] = targets
    if correlation is not None and reg_E:
        rhs[:, :, 0] += matrices.dtype.type(reg_E) * correlation
    rhs[:, 0, 1] = 1.0
    solved = spd_solve_many(matrices, rhs)
    unconstrained, unit = solved[:, :, 0], solved[:, :, 1]
    if xi is None:
        return unconstrained
    own = unconstrained[:, 0].astype(np.float64)
    target = _bounded_diagonal(own, xi)
    step = ((own - target) / unit[:, 0].astype(np.float64)).astype(matrices.dtype)
    weights = unconstrained - unit * step[:, None]
    weights[:, 0] = target
    return weights


def _bounded_diagonal(unconstrained, xi):
    """``clip(b⁰, −ξ, ξ)``: the diagonal the KKT conditions give ``B``."""
    if xi is None:
        return unconstrained
    if xi == 0:  # the equality constraint diag(B) = 0 of EASE and L3AE
        return np.zeros_like(unconstrained)
    return np.clip(unconstrained, -xi, xi)


def anisotropy_control_matrix(embeddings, reg):
    """The d x d map ``W = (I + FᵀF / λ)^{-1/2}`` of :class:`AnisotropyControl`.

    ``Z = F W`` is the square-root factor of the item-item ridge linear
    autoencoder on the embeddings: ``argmin_B ||Fᵀ − FᵀB||² + λ||B||²`` is
    ``B = F (FᵀF + λI)⁻¹ Fᵀ = Z Zᵀ / λ``.  With ``FᵀF = V diagMat(σ²) Vᵀ``,
    ``W = V diagMat((1 + σ²/λ)^{-1/2}) Vᵀ`` maps a singular value σ of ``F``
    to ``σ / sqrt(1 + σ²/λ) ≤ min(σ, sqrt(λ))``: directions with ``σ² ≪ λ``
    are kept, dominant ones are soft-clipped at ``sqrt(λ)``.  One symmetric
    d x d eigendecomposition, O(n·d² + d³).

    Parameters
    ----------
    embeddings : ndarray of shape (n_items, d)
    reg : float > 0
        λ.

    Returns
    -------
    W : ndarray of shape (d, d), float64, symmetric
    singular_values : ndarray of shape (d,)
        The singular values σ of ``F``, descending.
    """
    F = np.asarray(embeddings, dtype=np.float64)
    eigenvalues, V = np.linalg.eigh(F.T @ F)
    eigenvalues = np.clip(eigenvalues, 0.0, None)[::-1]
    V = V[:, ::-1]
    W = (V / np.sqrt(1.0 + eigenvalues / reg)) @ V.T
    return (W + W.T) / 2.0, np.sqrt(eigenvalues)
