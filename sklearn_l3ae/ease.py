"""EASE: the embarrassingly shallow autoencoder (Steck, WWW 2019)."""

from numbers import Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from ._atomic import atomic_fit
from ._base import (
    ItemItemRecommender,
    check_float_dtype,
    check_regularization,
    solve_item_weights,
)
from ._closed_form import ease_weights, gram_matrix


class EASERecommender(ItemItemRecommender):
    """EASE item-item recommender, in closed form.

    Learns ``B = argmin ||X − XB||² + λ||B||²  s.t. diag(B) = 0``, i.e.
    ``B = I − P·diagMat(1 / diag(P))`` with ``P = (XᵀX + λI)⁻¹``, with one
    Cholesky factorization.  A user's scores are ``x_u B``.

    Interaction values are used as given (weights); the paper setting binarizes
    them, which :class:`sklearn.preprocessing.Binarizer` does in a Pipeline.

    Parameters
    ----------
    reg : float, default=500.0
        L2 regularization λ.  ``XᵀX + λI`` must be positive definite: any
        ``λ > 0`` in exact arithmetic; a tiny λ can still fail numerically in
        float32 (the error then says so).
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
        Item-item weights ``B``, zero diagonal.
    item_popularity_ : ndarray of shape (n_items,)
        Number of training users who interacted with each item (used by the
        head/tail scorers).
    item_ids_ : ndarray of shape (n_items,) or None
        The item labels: ``item_ids``, else the DataFrame column names of
        ``X``, else ``None`` (items are column indices).
    n_features_in_ : int
        Number of items.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Item names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    L3AERecommender : EASE regularized towards a semantic item correlation.

    References
    ----------
    .. [1] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
       WWW 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import EASERecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    >>> model = EASERecommender(reg=1.0, top_k=2).fit(X)
    >>> model.coef_.shape
    (4, 4)
    >>> model.predict([[1, 0, 0, 0]])
    array([[1, 3]])
    """

    _parameter_constraints = {
        **ItemItemRecommender._parameter_constraints,
        "reg": [Interval(Real, None, None, closed="neither")],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        reg=500.0,
        *,
        item_ids=None,
        top_k=20,
        dtype=np.float32,
        batch_size=None,
        memory_limit="auto",
    ):
        self.reg = reg
        self.item_ids = item_ids
        self.top_k = top_k
        self.dtype = dtype
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the item-item weights from interactions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored; accepted so that ``GridSearchCV.fit(X, y_holdout)`` can
            pass held-out interactions through to the scorers.

        Returns
        -------
        self : EASERecommender
        """
        dtype = check_float_dtype(self.dtype)
        X = self._validate_interactions(X, reset=True, dtype=dtype)
        check_regularization(X, self.reg, "reg")
        self._check_fit_memory(X, n_square=1)
        coef = solve_item_weights(
            X, self.reg, "reg", lambda: ease_weights(gram_matrix(X, dtype), self.reg)
        )
        self.coef_ = coef
        self.item_popularity_ = self._item_popularity(X)
        return self
