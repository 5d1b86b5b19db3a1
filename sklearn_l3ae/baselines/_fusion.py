"""Text baselines: text only (semantic EASE) and the L3AE paper's fusions."""

from numbers import Real

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval

from .._atomic import atomic_fit
from .._base import (
    ItemItemRecommender,
    check_float_dtype,
    check_regularization,
    solve_item_weights,
)
from .._closed_form import (
    LowRankCorrelation,
    add_outer_product_inplace,
    dense_correlation,
    ease_weights,
    gram_matrix,
)
from .._item_side import correlation_of, item_data_of, phase_one
from ..sentence_encoder import SentenceEncoder

_ITEM_DATA_CONSTRAINTS = {
    "item_texts": ["array-like", None],
    "item_embeddings": ["array-like", None],
    "dtype": "no_validation",
}


def _fitted_correlation(owner, semantic, item_texts, item_embeddings, n_items, dtype):
    """``(C as a dense array, fitted phase-1 estimator)``; item data required."""
    semantic, item_data = phase_one(
        owner, semantic, item_texts, item_embeddings, n_items, dtype
    )
    if semantic is None:
        raise ValueError(
            f"{owner} needs item_texts or item_embeddings (one entry per column "
            "of X): it is built on the semantic correlation of the items."
        )
    semantic.fit(item_data)
    C = correlation_of(semantic, n_items, dtype)
    if isinstance(C, LowRankCorrelation):
        C = dense_correlation(C, dtype)
    return C, semantic


class SemanticEASERecommender(ItemItemRecommender):
    """Text only: score ``X·C`` with the semantic correlation of phase 1.

    ``C`` is L3AE's phase 1 (semantic EASE on item embeddings, see
    :class:`~sklearn_l3ae.SemanticCorrelation`); the interactions are used
    only as the users' histories, never to learn weights.  This is the
    "text alone" reference: what L3AE would recommend with ``λ_E → ∞``.

    Parameters
    ----------
    semantic : estimator or Pipeline, default=None
        Phase 1, fitted (as a clone) on ``item_texts`` or ``item_embeddings``;
        ``None`` picks ``make_pipeline(SentenceEncoder(), SemanticCorrelation())``
        for texts and ``SemanticCorrelation()`` for embeddings.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend`, :meth:`similar_items` and :meth:`explain`
        take and return.  ``None`` uses the column names of a DataFrame
        ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of ``coef_`` and of the scores.
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
        ``C``, zero diagonal.
    semantic_ : estimator
        The fitted clone of ``semantic``.
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
        "semantic": [HasMethods(["fit"]), None],
        **_ITEM_DATA_CONSTRAINTS,
    }

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

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit phase 1 on the item data; ``X`` only fixes the items.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions (only their shape and popularity are used).
        y : None
            Ignored.

        Returns
        -------
        self : SemanticEASERecommender
        """
        dtype = check_float_dtype(self.dtype)
        X = self._validate_interactions(X, reset=True, dtype=dtype)
        self._check_fit_memory(X, n_square=1)
        self.coef_, self.semantic_ = _fitted_correlation(
            type(self).__name__,
            self.semantic,
            self.item_texts,
            self.item_embeddings,
            X.shape[1],
            dtype,
        )
        self.item_popularity_ = self._item_popularity(X)
        return self


class AdditiveEASERecommender(ItemItemRecommender):
    """Additive fusion: ``B = (1 − α)·B_X + α·C``.

    ``B_X`` is EASE on the interactions (regularization ``reg``) and ``C``
    the semantic correlation of phase 1.  One of the L3AE paper's fusion
    baselines: the two item-item models are learned separately and mixed,
    where L3AE learns ``B`` from both at once.

    Parameters
    ----------
    semantic : estimator or Pipeline, default=None
        Phase 1, as in :class:`~sklearn_l3ae.L3AERecommender`.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.
    reg : float, default=500.0
        λ of EASE on the interactions.
    alpha : float, default=0.5
        Weight of ``C`` in the mix, in [0, 1]; 0 gives EASE, 1 text only.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend`, :meth:`similar_items` and :meth:`explain`
        take and return.  ``None`` uses the column names of a DataFrame
        ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of ``coef_`` and of the scores.
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
        The mixed item-item weights, zero diagonal.
    semantic_ : estimator
        The fitted clone of ``semantic``.
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
    CollectiveEASERecommender : Fusion inside a single EASE fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import AdditiveEASERecommender
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    >>> model = AdditiveEASERecommender(item_embeddings=F, reg=1.0, alpha=0.3)
    >>> model.fit(X).coef_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **ItemItemRecommender._parameter_constraints,
        "semantic": [HasMethods(["fit"]), None],
        "reg": [Interval(Real, None, None, closed="neither")],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        **_ITEM_DATA_CONSTRAINTS,
    }

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        reg=500.0,
        alpha=0.5,
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
        self.alpha = alpha
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit EASE on ``X`` and phase 1 on the item data, then mix them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored.

        Returns
        -------
        self : AdditiveEASERecommender
        """
        dtype = check_float_dtype(self.dtype)
        X = self._validate_interactions(X, reset=True, dtype=dtype)
        check_regularization(X, self.reg, "reg")
        self._check_fit_memory(X, n_square=2)
        C, semantic = _fitted_correlation(
            type(self).__name__,
            self.semantic,
            self.item_texts,
            self.item_embeddings,
            X.shape[1],
            dtype,
        )
        B = solve_item_weights(
            X, self.reg, "reg", lambda: ease_weights(gram_matrix(X, dtype), self.reg)
        )
        B *= dtype.type(1.0 - self.alpha)
        C *= dtype.type(self.alpha)
        B += C
        self.coef_, self.semantic_ = B, semantic
        self.item_popularity_ = self._item_popularity(X)
        return self


class CollectiveEASERecommender(ItemItemRecommender):
    """Collective fusion: EASE on the interactions stacked over ``α·Fᵀ``.

    The item embeddings ``F`` (n_items x d) become ``d`` extra "users" of
    weight ``α``: ``B = argmin ||X − XB||² + α²||Fᵀ − FᵀB||² + λ||B||²
    s.t. diag(B) = 0``, i.e. EASE on the Gram matrix ``XᵀX + α² F Fᵀ``.
    One of the L3AE paper's fusion baselines.

    Parameters
    ----------
    encoder : transformer, default=None
        Turns ``item_texts`` into embeddings (fitted as a clone); ``None``
        picks :class:`~sklearn_l3ae.SentenceEncoder` ``()``.  Unused with
        ``item_embeddings``.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.
    reg : float, default=500.0
        λ; ``XᵀX + α² F Fᵀ + λI`` must be positive definite.
    alpha : float, default=1.0
        Weight ``α ≥ 0`` of the text rows; 0 gives EASE.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend`, :meth:`similar_items` and :meth:`explain`
        take and return.  ``None`` uses the column names of a DataFrame
        ``X``, if any, else column indices.
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
        Item-item weights, zero diagonal.
    encoder_ : transformer or None
        The fitted clone of ``encoder`` (``None`` with ``item_embeddings``).
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
    AdditiveEASERecommender : Fusion by mixing two separate fits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import CollectiveEASERecommender
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    >>> model = CollectiveEASERecommender(item_embeddings=F, reg=1.0, alpha=2.0)
    >>> bool(model.fit(X).coef_[2, 3] > 0)  # item 3 has no users, only text
    True
    """

    _parameter_constraints = {
        **ItemItemRecommender._parameter_constraints,
        "encoder": [HasMethods(["fit", "transform"]), None],
        "reg": [Interval(Real, None, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        **_ITEM_DATA_CONSTRAINTS,
    }

    def __init__(
        self,
        encoder=None,
        *,
        item_texts=None,
        item_embeddings=None,
        reg=500.0,
        alpha=1.0,
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.encoder = encoder
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.reg = reg
        self.alpha = alpha
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Encode the item texts (if any), then fit EASE on the stacked data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored.

        Returns
        -------
        self : CollectiveEASERecommender
        """
        dtype = check_float_dtype(self.dtype)
        X = self._validate_interactions(X, reset=True, dtype=dtype)
        self._check_fit_memory(X, n_square=1)
        owner = type(self).__name__
        item_data, source = item_data_of(
            owner, self.item_texts, self.item_embeddings, X.shape[1]
        )
        if item_data is None:
            raise ValueError(
                f"{owner} needs item_texts or item_embeddings (one entry per "
                "column of X): the embeddings are its extra rows."
            )
        encoder = None
        if source == "item_texts":
            encoder = SentenceEncoder() if self.encoder is None else clone(self.encoder)
            item_data = np.asarray(encoder.fit_transform(item_data), dtype=np.float64)
            if item_data.ndim != 2 or len(item_data) != X.shape[1]:
                raise ValueError(
                    f"The encoder must return one embedding row per item text "
                    f"({X.shape[1]}); got shape {item_data.shape}."
                )
        if self.reg <= 0 and self.alpha == 0:
            check_regularization(X, self.reg, "reg")

        def solve():
            gram = gram_matrix(X, dtype)
            add_outer_product_inplace(gram, self.alpha * item_data)
            return ease_weights(gram, self.reg)

        self.coef_ = solve_item_weights(X, self.reg, "reg", solve)
        self.encoder_ = encoder
        self.item_popularity_ = self._item_popularity(X)
        return self
