"""Text baselines: text only (semantic EASE) and the L3AE paper's fusions."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval

from .._core.memory import dense_fit_plan
from .._solvers import ItemWeightsProblem
from ..recommenders._docs import fill_doc
from ..recommenders._item_item import ItemItemRecommender, SolvedItemItemRecommender
from ..recommenders._item_side import (
    SemanticCorrelationMixin,
)
from ._item_text import TextFeaturesMixin, require_item_data

_ITEM_DATA_CONSTRAINTS = {
    "semantic": [HasMethods(["fit"]), None],
    "item_texts": ["array-like", None],
    "item_embeddings": ["array-like", None],
    "dtype": "no_validation",
}


@fill_doc
class SemanticEASERecommender(SemanticCorrelationMixin, ItemItemRecommender):
    """Text only: score ``X·C`` with the semantic correlation of phase 1.

    ``C`` is L3AE's phase 1 (semantic EASE on item embeddings, see
    :class:`~sklearn_l3ae.SemanticCorrelation`); the interactions are used
    only as the users' histories, never to learn weights.  This is the
    "text alone" reference: what L3AE would recommend with ``λ_E → ∞``.

    Parameters
    ----------
    {semantic}
    {item_texts}
    {item_embeddings}
    {recommender_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        ``C``, zero diagonal.
    {semantic_}
    {recommender_attributes}

    See Also
    --------
    sklearn_l3ae.L3AERecommender : Interactions regularized towards ``C``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import SemanticEASERecommender
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> X = np.array([[1, 0, 0, 0], [0, 0, 1, 0]])
    >>> model = SemanticEASERecommender(item_embeddings=F, top_k=1).fit(X)
    >>> model.predict(X)  # each user gets the item whose text is closest
    array([[1],
           [3]])
    """

    _parameter_constraints = {
        **ItemItemRecommender._parameter_constraints,
        **_ITEM_DATA_CONSTRAINTS,
    }
    _needs_item_data = True
    _structured_correlation = False

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _plan_fit(self, X):
        _, side_bytes = self._phase_one_footprint(X.shape[1], X.dtype.itemsize)
        return dense_fit_plan(
            type(self).__name__,
            X.shape[1],
            X.dtype,
            n_square=1,
            side_bytes=side_bytes,
        )

    def _fit(self, X, item_side):
        self.coef_ = item_side


@fill_doc
class AdditiveEASERecommender(SemanticCorrelationMixin, SolvedItemItemRecommender):
    """Additive fusion: ``B = (1 − w)·B_X + w·C``.

    ``B_X`` is EASE on the interactions (regularization ``reg``) and ``C``
    the semantic correlation of phase 1, mixed with the share ``w`` of the
    text (``text_share``).  One of the L3AE paper's fusion baselines: the
    two item-item models are learned separately and mixed, where L3AE learns
    ``B`` from both at once.

    Parameters
    ----------
    {semantic}
    {item_texts}
    {item_embeddings}
    reg : float, default=500.0
        λ of EASE on the interactions.
    text_share : float, default=0.5
        Share ``w`` of ``C`` in the mix, in [0, 1]; 0 gives EASE, 1 text only.
    {recommender_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        The mixed item-item weights, zero diagonal.
    {semantic_}
    {recommender_attributes}

    See Also
    --------
    CollectiveEASERecommender : Fusion inside a single EASE fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import AdditiveEASERecommender
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    >>> model = AdditiveEASERecommender(item_embeddings=F, reg=1.0, text_share=0.3)
    >>> model.fit(X).coef_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **SolvedItemItemRecommender._parameter_constraints,
        "reg": [Interval(Real, None, None, closed="neither")],
        "text_share": [Interval(Real, 0, 1, closed="both")],
        **_ITEM_DATA_CONSTRAINTS,
    }
    _needs_item_data = True
    _structured_correlation = False

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        reg=500.0,
        text_share=0.5,
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.reg = reg
        self.text_share = text_share
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _problem(self, X, item_side):
        # EASE alone; the dense C is kept beside it for the mix.
        _, side_bytes = self._phase_one_footprint(X.shape[1], X.dtype.itemsize)
        return ItemWeightsProblem(
            X, reg=self.reg, side_bytes=side_bytes, extra_square=1
        )

    def _fit(self, X, item_side):
        B = self._solve(self._problem(X, None))
        dtype = B.dtype.type
        B *= dtype(1.0 - self.text_share)
        C = item_side
        C *= dtype(self.text_share)
        B += C
        self.coef_ = B


_EXTRA_ROWS = "the embeddings are its extra rows"


@fill_doc
class CollectiveEASERecommender(TextFeaturesMixin, SolvedItemItemRecommender):
    """Collective fusion: EASE on the interactions stacked over ``w·Fᵀ``.

    The item embeddings ``F`` (n_items x d) become ``d`` extra "users" of
    weight ``w`` (``text_weight``): ``B = argmin ||X − XB||² + w²||Fᵀ −
    FᵀB||² + λ||B||²  s.t. diag(B) = 0``, i.e. EASE on the Gram matrix
    ``XᵀX + w² F Fᵀ``.  One of the L3AE paper's fusion baselines.

    Parameters
    ----------
    semantic : transformer, default=None
        Phase 1 here is an embedding step: fitted (as a clone) on
        ``item_texts`` or ``item_embeddings``, its output is ``F``.  ``None``
        picks :class:`~sklearn_l3ae.SentenceEncoder` ``()`` for texts and
        uses embeddings as given.
    {item_texts}
    {item_embeddings}
    reg : float, default=500.0
        λ; ``XᵀX + w² F Fᵀ + λI`` must be positive definite.
    text_weight : float, default=1.0
        Weight ``w ≥ 0`` of the text rows; 0 gives EASE.
    {recommender_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        Item-item weights, zero diagonal.
    semantic_ : transformer or None
        The fitted clone of ``semantic`` (``None`` when embeddings are used
        as given).
    {recommender_attributes}

    See Also
    --------
    AdditiveEASERecommender : Fusion by mixing two separate fits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import CollectiveEASERecommender
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    >>> model = CollectiveEASERecommender(item_embeddings=F, reg=1.0, text_weight=2.0)
    >>> bool(model.fit(X).coef_[2, 3] > 0)  # item 3 has no users, only text
    True
    """

    # F stays as phase 1 gives it: _problem weights it and casts it to the
    # fit's precision.
    _text_purpose = _EXTRA_ROWS
    _text_dtype = None

    _parameter_constraints = {
        **SolvedItemItemRecommender._parameter_constraints,
        "semantic": [HasMethods(["fit", "transform"]), None],
        "reg": [Interval(Real, None, None, closed="neither")],
        "text_weight": [Interval(Real, 0, None, closed="left")],
        **{k: v for k, v in _ITEM_DATA_CONSTRAINTS.items() if k != "semantic"},
    }

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        reg=500.0,
        text_weight=1.0,
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.reg = reg
        self.text_weight = text_weight
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _check_fitted_state(self):
        super()._check_fitted_state()
        semantic = getattr(self, "semantic_", None)
        if semantic is not None and not hasattr(semantic, "transform"):
            raise ValueError(
                "semantic_ must be None or a fitted transformer of the item "
                f"data, got {type(semantic).__name__}."
            )

    def _item_data(self, n_items):
        return require_item_data(
            type(self).__name__,
            self.item_texts,
            self.item_embeddings,
            n_items,
            _EXTRA_ROWS,
        )

    def _problem(self, X, item_side):
        if not self.text_weight:  # EASE
            return ItemWeightsProblem(X, reg=self.reg)
        side_bytes = 0
        if item_side is None:
            # Before phase 1 the text rows are unknown; embeddings given as
            # such are copied in float64 and weighted in the fit's precision.
            item_data, source = self._item_data(X.shape[1])
            if source == "item_embeddings" and self.semantic is None:
                side_bytes = np.size(item_data) * (8 + X.dtype.itemsize)
        else:
            item_side = (self.text_weight * item_side.T).astype(X.dtype)
        return ItemWeightsProblem(
            X,
            reg=self.reg,
            extra_rows=item_side,
            extra_name="text_weight²·FFᵀ",
            also_increase=("text_weight",),
            side_bytes=side_bytes,
        )
