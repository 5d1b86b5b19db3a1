"""Phase 1 of L3AE: the semantic item-item correlation of item embeddings."""

import contextlib
import warnings
from numbers import Real

import numpy as np
from scipy.linalg import LinAlgError
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from .._core import torch_ops
from .._core.atomic import atomic_fit
from .._core.closed_forms import (
    LowRankCorrelation,
    dense_correlation,
    semantic_correlation,
)
from .._core.validation import check_float_dtype


class SemanticCorrelation(BaseEstimator):
    """Semantic EASE: an item-item correlation learned from item embeddings.

    Phase 1 of L3AE.  Items are the samples: ``fit(F)`` takes one embedding
    per item (rows) and learns
    ``C = argmin ||Fᵀ − FᵀC||² + λ_F ||C||²  s.t. diag(C) = 0``, in closed form
    ``C = I − P₁·diagMat(1 / diag(P₁))`` with ``P₁ = (F Fᵀ + λ_F I)⁻¹``.
    When the embedding dimension is smaller than the number of items, ``P₁``
    comes from the Woodbury identity with a d x d factorization only, and
    ``C`` is kept in its structured form ``diagMat(c) + L Rᵀ`` (O(n_items·d)
    memory): the dense ``coef_`` is formed, at O(n_items²·d) cost, the first
    time it is read.  :class:`L3AERecommender` never needs it dense.

    Parameters
    ----------
    reg : float, default=10.0
        L2 regularization λ_F (> 0).  Larger values shrink the correlations.
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of ``coef_``.  The structured factors are computed in
        float64 and stored in the wider of ``dtype`` and the precision of
        the embeddings.
    device : str, torch.device or None, default=None
        Where the n x n inverse runs when the embeddings have at least as
        many dimensions as there are items (``"cpu"``, ``"cuda"``, a
        :class:`torch.device`; None is NumPy).  The structured case (fewer
        dimensions than items) is O(n·d²) work with one d x d factorization
        and always runs on the host.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        The semantic correlation ``C``, zero diagonal.  Column ``j`` holds the
        weights with which the other items' embeddings reconstruct item ``j``'s.
        Formed from ``correlation_factors_`` on first access, then kept.
    correlation_factors_ : LowRankCorrelation or None
        ``C`` in structured form ``diagMat(diagonal) + left @ right.T`` when it
        was computed through the Woodbury identity (``None`` otherwise);
        :class:`L3AERecommender` uses it to avoid O(n³) work and n² memory.
    n_features_in_ : int
        Embedding dimension d.

    See Also
    --------
    L3AERecommender : Phase 2, which regularizes EASE towards ``coef_``.

    References
    ----------
    .. [1] J. Moon, C. Park, J. Lee, "LLM-Enhanced Linear Autoencoders for
       Recommendation", CIKM 2025, arXiv:2508.13500.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import SemanticCorrelation
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> C = SemanticCorrelation(reg=0.1).fit(F).coef_
    >>> C.shape
    (3, 3)
    >>> bool(C[1, 0] > C[2, 0])  # item 1 is the closer neighbour of item 0
    True
    """

    _parameter_constraints = {
        "reg": [Interval(Real, 0, None, closed="neither")],
        "dtype": "no_validation",
        "device": "no_validation",
    }

    def __init__(self, reg=10.0, *, dtype=np.float32, device=None):
        self.reg = reg
        self.dtype = dtype
        self.device = device

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the semantic correlation of the items.

        Parameters
        ----------
        X : array-like of shape (n_items, d)
            One embedding per item.
        y : None
            Ignored.

        Returns
        -------
        self : SemanticCorrelation
        """
        dtype = check_float_dtype(self.dtype)
        F = validate_data(self, X, dtype=[np.float64, np.float32])
        errors = contextlib.nullcontext()
        if self.device is not None:
            errors = torch_ops.out_of_memory_reported(
                torch_ops.resolve_device(self.device),  # its own clear error
                f"computing the semantic correlation of {F.shape[0]} items",
                "To fit: use dtype=np.float32, or device=None (NumPy on the host).",
            )
        try:
            with errors, np.errstate(over="ignore", invalid="ignore"):
                correlation = semantic_correlation(
                    F, self.reg, dtype, device=self.device
                )
            parts = (
                correlation
                if isinstance(correlation, LowRankCorrelation)
                else (correlation,)
            )
            # In the fit's precision: C is formed from the factors cast to it.
            # Without copies (n x d each): finite and inside dtype's range,
            # from each part's extremes (NaN propagates to them and fails).
            largest = np.finfo(dtype).max
            if not all(
                np.abs([part.min(initial=0), part.max(initial=0)]).max() <= largest
                for part in parts
            ):
                raise ValueError("non-finite correlation")
        except (LinAlgError, ValueError) as exc:
            raise ValueError(
                "The semantic correlation of these item embeddings cannot be "
                f"computed in floating point with reg={self.reg:g}: F Fᵀ + reg·I "
                "overflowed or is not numerically positive definite (largest "
                f"|embedding entry| {np.abs(F).max():.3g}). Normalize the "
                "embeddings (SentenceEncoder(normalize=True) does) or increase reg."
            ) from exc
        self._fit_dtype = dtype
        if isinstance(correlation, LowRankCorrelation):
            self.correlation_factors_, self._dense_coef = correlation, None
        else:
            self.correlation_factors_, self._dense_coef = None, correlation
        return self

    @property
    def coef_(self):
        """The semantic correlation ``C`` (n_items, n_items), zero diagonal."""
        if not self._has_correlation():
            raise AttributeError(
                "This SemanticCorrelation instance is not fitted yet: call "
                "fit with item embeddings before reading coef_."
            )
        if self._dense_coef is None:
            self._dense_coef = dense_correlation(
                self.correlation_factors_, self._fit_dtype
            )
        return self._dense_coef

    def _has_correlation(self):
        """Whether a fit left ``C``, dense or as its factors."""
        return (
            getattr(self, "_dense_coef", None) is not None
            or getattr(self, "correlation_factors_", None) is not None
        )

    def __dir__(self):
        # BaseEstimator.__dir__'s filter (the names for which hasattr holds,
        # hiding available_if methods), except that hasattr(self, "coef_")
        # would form the dense C (n_items² entries: a MemoryError at 10⁵
        # items) on a tab completion: coef_ is listed when fitted, unread.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            names = [
                name
                for name in object.__dir__(self)
                if name != "coef_" and hasattr(self, name)
            ]
        return names + ["coef_"] if self._has_correlation() else names

    # Persistence hooks (sklearn_l3ae.save / load): C is stored as its
    # factors when it has them, else dense; its precision with it.

    def _fitted_state(self):
        state = {
            "n_features_in_": self.n_features_in_,
            "correlation_factors_": self.correlation_factors_,
            "dtype_": np.dtype(self._fit_dtype),
        }
        if self.correlation_factors_ is None:
            state["coef_"] = self._dense_coef
        return state

    def _restore_fitted_state(self, state):
        self.n_features_in_ = state.get("n_features_in_")
        self.correlation_factors_ = state.get("correlation_factors_")
        self._fit_dtype = state.get("dtype_")
        self._dense_coef = state.get("coef_")

    def _check_fitted_state(self, n_items):
        """Raise ValueError unless the state is a correlation of ``n_items`` items."""
        factors = self.correlation_factors_
        if isinstance(factors, LowRankCorrelation):
            dim = np.shape(factors.left)[-1] if np.ndim(factors.left) == 2 else -1
            expected = [
                ("diagonal", factors.diagonal, (n_items,)),
                ("left factor", factors.left, (n_items, dim)),
                ("right factor", factors.right, (n_items, dim)),
            ]
        else:
            expected = [("coef_", self._dense_coef, (n_items, n_items))]
        for name, value, shape in expected:
            if not (
                isinstance(value, np.ndarray)
                and value.shape == shape
                and value.dtype.kind == "f"
                and np.isfinite(value).all()
            ):
                raise ValueError(
                    f"semantic_ {name} must be a float array of shape {shape} "
                    f"without NaN or inf, got {type(value).__name__}"
                    f"{f' of shape {value.shape}' if hasattr(value, 'shape') else ''}."
                )
        if self._fit_dtype not in (np.float32, np.float64):
            raise ValueError("semantic_ dtype_ must be float32 or float64.")

    def _file_summary(self):
        return {"embedding_dim": int(self.n_features_in_)}
