"""Phase 2 of L3AE: EASE regularized towards the semantic item correlation."""

from numbers import Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval

from ._atomic import atomic_fit
from ._base import (
    ItemItemRecommender,
    check_float_dtype,
    check_in_range,
    check_penalty,
    solve_penalized_weights,
)
from ._closed_form import gram_matrix, l3ae_weights
from ._item_side import correlation_of, phase_one, phase_one_footprint


class L3AERecommender(ItemItemRecommender):
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
    semantic : estimator or Pipeline, default=None
        Phase 1, fitted (as a clone) on ``item_texts`` or ``item_embeddings``;
        its last step must expose ``coef_`` of shape (n_items, n_items).
        ``None`` picks ``make_pipeline(SentenceEncoder(), SemanticCorrelation())``
        for texts and ``SemanticCorrelation()`` for embeddings.  Pass it
        explicitly to tune its parameters (``semantic__...``) in a search.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.  With neither ``item_texts``
        nor ``item_embeddings`` the model is EASE with λ = ``reg_X + reg_E``.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend`, :meth:`similar_items` and :meth:`explain`
        take and return.  ``None`` uses the column names of a DataFrame
        ``X``, if any, else column indices.
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
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of the fit and of the scores.
    batch_size : int, default=None
        Users scored per batch by ``predict``, ``recommend``,
        ``decision_function`` and the ranking scorers; ``None`` picks about
        64 MiB of scores per batch.  Memory stays bounded for any number of
        users (``decision_function`` still returns all their scores).
    memory_limit : "auto", int or None, default="auto"
        Memory budget in bytes, checked before fitting and scoring: beyond it a
        :class:`~sklearn_l3ae.MemoryLimitError` says so before anything is
        allocated.  ``"auto"`` is the memory available at that moment (the
        kernel's ``MemAvailable`` and the cgroup limits); ``None`` skips the
        check.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        Item-item weights ``B``; zero diagonal unless ``xi > 0``.
    semantic_ : estimator or None
        The fitted clone of ``semantic`` (``None`` without item data).
    item_popularity_ : ndarray of shape (n_items,)
        Number of training users who interacted with each item.
    item_ids_ : ndarray of shape (n_items,) or None
        The item labels: ``item_ids``, else the DataFrame column names of
        ``X``, else ``None`` (items are column indices).
    n_features_in_ : int
        Number of items.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Item names, when ``X`` is a DataFrame with string column names.

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
    refused.  To recommend a new item, refit with its text added to
    ``item_texts`` (and its label to ``item_ids``) and a column, empty if it
    has no interactions yet, added to ``X``.  Phase 1 is cheap to redo (the
    :class:`SentenceEncoder` cache encodes only the new text), and phase 2
    is one factorization.  There is no approximate extension of a fitted
    ``B``: a new item also changes the weights of the existing ones.

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
        **ItemItemRecommender._parameter_constraints,
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
        item_ids=None,
        reg_X=-50.0,
        reg_E=150.0,
        dropout=0.0,
        xi=0.0,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.item_ids = item_ids
        self.reg_X = reg_X
        self.reg_E = reg_E
        self.dropout = dropout
        self.xi = xi
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit phase 1 on the item data, then phase 2 on the interactions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored; accepted so that ``GridSearchCV.fit(X, y_holdout)`` can
            pass held-out interactions through to the scorers.

        Returns
        -------
        self : L3AERecommender
        """
        dtype = check_float_dtype(self.dtype)
        X = self._validate_interactions(X, reset=True, dtype=dtype)
        n_items = X.shape[1]
        # Cheap refusals first: phase 1 may encode thousands of texts.
        total = self.reg_X + self.reg_E
        check_penalty(X, total, self.dropout, "reg_X + reg_E")
        check_in_range(self.reg_E, dtype, "reg_E")
        extra_square, side_bytes = phase_one_footprint(
            self.semantic, self.item_embeddings, n_items, dtype.itemsize
        )
        self._check_fit_memory(X, n_square=1 + extra_square, side_bytes=side_bytes)
        semantic, item_data = phase_one(
            type(self).__name__,
            self.semantic,
            self.item_texts,
            self.item_embeddings,
            n_items,
            dtype,
        )
        correlation = None
        if semantic is not None:
            semantic.fit(item_data)
            correlation = correlation_of(semantic, n_items, dtype)
        coef = solve_penalized_weights(
            X,
            total,
            self.dropout,
            "reg_X + reg_E",
            lambda: l3ae_weights(
                gram_matrix(X, dtype),
                self.reg_X,
                self.reg_E,
                correlation,
                dropout=self.dropout,
                xi=self.xi,
            ),
        )
        self.coef_ = coef
        self.semantic_ = semantic
        self.item_popularity_ = self._item_popularity(X)
        return self
