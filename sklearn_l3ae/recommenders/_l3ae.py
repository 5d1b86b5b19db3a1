"""Phase 2 of L3AE: EASE regularized towards the semantic item correlation."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval

from .._solvers import ItemWeightsProblem
from ._docs import fill_doc
from ._incremental import INCREMENTAL_CONSTRAINTS, IncrementalMixin
from ._item_item import (
    DAN_CONSTRAINTS,
    SEMANTIC_SUPPORT_CONSTRAINTS,
    SUPPORT_CONSTRAINTS,
    SolvedItemItemRecommender,
)
from ._item_side import SemanticCorrelationMixin


@fill_doc
class L3AERecommender(
    SemanticCorrelationMixin, IncrementalMixin, SolvedItemItemRecommender
):
    """L3AE: LLM-enhanced linear autoencoder recommender.

    Phase 1 turns item texts (or embeddings) into a semantic item-item
    correlation ``C`` with ``semantic`` (by default :class:`SemanticCorrelation`,
    after a :class:`SentenceEncoder` for texts).  Phase 2 learns

    ``B = argmin ||X − XB||² + λ_X ||B||² + λ_E ||B − C||²  s.t. diag(B) = 0``

    in closed form, ``B = I + λ_E P₂C − P₂ diagMat((1 + λ_E diag(P₂C)) /
    diag(P₂))`` with ``P₂ = (XᵀX + (λ_X + λ_E) I)⁻¹``.  A user's scores are
    ``x_u B``.  When ``C`` comes from :class:`SemanticCorrelation` (identity
    plus low rank), ``P₂C`` costs O(n²·d): the fit costs one Cholesky
    factorization of an n_items x n_items matrix plus O(n²·d).

    Two options borrowed from the relaxed/denoising autoencoders (both off by
    default, which is the paper's model exactly):

    * ``dropout`` = p replaces ``λ_X ||B||²`` by the dropout-emphasis penalty
      ``||Λ_X^{1/2} B||²``, ``Λ_X = λ_X I + (p/(1−p))·diagMat(diag(XᵀX))``
      (Steck 2020), which shrinks popular items' rows more;
    * ``xi`` = ξ relaxes ``diag(B) = 0`` to ``|diag(B)| ≤ ξ`` (RLAE, Moon et
      al. 2023), letting each item keep some self-weight.

    The closed form stays one factorization, with ``P = (XᵀX + Λ_X + λ_E I)⁻¹``:
    ``B = λ_E PC − P·diagMat((1 − d + λ_E diag(PC)) / diag(P))`` off the
    diagonal and ``diag(B) = d = clip(diag(I − P(Λ_X + λ_E I) + λ_E PC), −ξ, ξ)``.

    Item side information is constructor data, one entry per column of ``X``
    (not a ``fit`` argument, which ``GridSearchCV`` would slice by user).

    Interaction values are used as given (weights); the paper binarizes them,
    which :class:`sklearn.preprocessing.Binarizer` does in a Pipeline.

    Parameters
    ----------
    {semantic}
    {item_texts}
    {item_embeddings}
        With neither ``item_texts`` nor ``item_embeddings`` the model is
        EASE with λ = ``reg_X + reg_E``.
    reg_X : float, default=-50.0
        λ_X, the L2 weight on ``B``.  May be negative: only
        ``XᵀX + (reg_X + reg_E)·I`` must be positive definite.
    reg_E : float, default=150.0
        λ_E ≥ 0, the weight pulling ``B`` towards ``C``.  0 gives EASE.
    dropout : float in [0, 1), default=0.0
        Dropout probability ``p`` of the emphasis penalty ``Λ_X``; then
        ``XᵀX + Λ_X + λ_E I`` must be positive definite.  0 is the paper's
        ``λ_X ||B||²``.
    xi : float >= 0 or None, default=0.0
        Bound ξ on the self-weights, ``|diag(B)| ≤ ξ``.  0 is the paper's
        ``diag(B) = 0``; ``None`` drops the constraint.  With
        ``dropout=p`` and ``reg_E=0`` this is RDLAE (RLAE for ``p=0``).
    {n_neighbors_semantic}
    {semantic_share}
    {neighbor_search}
    {recommender_parameters}
    {keep_inverse}
    {n_jobs}
    {device}
    {dan}

    Attributes
    ----------
    coef_ : {ndarray, csr_array} of shape (n_items, n_items)
        Item-item weights ``B``; zero diagonal unless ``xi > 0``; sparse
        with ``n_neighbors``.
    {semantic_}
    {recommender_attributes}
    {incremental_attributes}

    See Also
    --------
    EASERecommender : The model without text (``reg_E = 0``).
    RDLAERecommender : The model without text with ``dropout`` and ``xi``.
    SemanticCorrelation : Phase 1.

    Notes
    -----
    **Cold-start items.**  An item column of ``X`` without any interaction
    but with a text (or embedding) still gets weights: its column of ``B``
    comes from the pull towards ``C``, so users whose history is
    semantically close to it are recommended it.  EASE gives such an item
    an all-zero column, and the score 0 for every user.

    **Items added after fit.**  ``B`` has one row and one column per item
    column of the training ``X``; scoring input with more columns is
    refused.  A model fitted with ``keep_inverse=True`` takes new items
    exactly with :meth:`add_items` (their interactions, texts or
    embeddings, and labels): the result equals a refit with the new
    columns, at O(n_items²·k) instead of a factorization, and phase 1 is
    refitted on the kept embeddings plus the new ones (no old text is
    encoded again).  Without it, refit with the new texts added to
    ``item_texts`` (and labels to ``item_ids``) and the new columns, empty
    if nobody has seen them yet, added to ``X``; the :class:`SentenceEncoder`
    cache encodes only the new texts.  See :doc:`/incremental`.

    References
    ----------
    .. [1] J. Moon, C. Park, J. Lee, "LLM-Enhanced Linear Autoencoders for
       Recommendation", CIKM 2025, arXiv:2508.13500.
    .. [2] J. Moon, H. Kim, J. Lee, "It's Enough: Relaxing Diagonal Constraints
       in Linear Autoencoders for Recommendation", SIGIR 2023, arXiv:2305.12922.
    .. [3] H. Steck, "Autoencoders that don't overfit towards the Identity",
       NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import L3AERecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    >>> F = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9]])
    >>> model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0, top_k=2)
    >>> model.fit(X).coef_.shape
    (4, 4)
    >>> float(model.coef_[2, 3]) > 0  # item 3 has no interactions, text only
    True
    """

    _parameter_constraints = {
        **SolvedItemItemRecommender._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        **DAN_CONSTRAINTS,
        **INCREMENTAL_CONSTRAINTS,
        **SEMANTIC_SUPPORT_CONSTRAINTS,
        "semantic": [HasMethods(["fit"]), None],
        "item_texts": ["array-like", None],
        "item_embeddings": ["array-like", None],
        "reg_X": [Interval(Real, None, None, closed="neither")],
        "reg_E": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "xi": [Interval(Real, 0, None, closed="left"), None],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        reg_X=-50.0,
        reg_E=150.0,
        dropout=0.0,
        xi=0.0,
        n_neighbors=None,
        semantic_share=0.0,
        neighbor_search="auto",
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
        keep_inverse=False,
        n_jobs=None,
        device=None,
        user_norm=0.0,
        item_norm=0.0,
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.reg_X = reg_X
        self.reg_E = reg_E
        self.dropout = dropout
        self.xi = xi
        self.n_neighbors = n_neighbors
        self.semantic_share = semantic_share
        self.neighbor_search = neighbor_search
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit
        self.keep_inverse = keep_inverse
        self.n_jobs = n_jobs
        self.device = device
        self.user_norm = user_norm
        self.item_norm = item_norm

    def _problem(self, X, item_side):
        dense_correlation, side_bytes = self._phase_one_footprint(
            X.shape[1], X.dtype.itemsize
        )
        return ItemWeightsProblem(
            X,
            reg=self.reg_X,
            reg_E=self.reg_E,
            correlation=item_side,
            dropout=self.dropout,
            xi=self.xi,
            shift_name="reg_X + reg_E",
            also_increase=("dropout",) if self.dropout else (),
            dense_correlation=dense_correlation,
            side_bytes=side_bytes,
        )
