"""The popularity baseline: the same ranking of unseen items for everyone."""

import numpy as np
from sklearn.base import _fit_context

from .._atomic import atomic_fit
from .._base import BaseRecommender


class PopularityRecommender(BaseRecommender):
    """Recommend the unseen items that most training users interacted with.

    The score of an item is its number of training users; it ignores the
    user except for masking the items they already have.  Any recommender
    should beat it; on long-tail items it scores almost nothing.

    Parameters
    ----------
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend` takes and returns.  ``None`` uses the column
        names of a DataFrame ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    batch_size : int, default=None
        Users scored per batch by ``predict``, ``recommend``,
        ``decision_function`` and the ranking scorers; ``None`` picks about
        64 MiB of scores per batch.  Memory stays bounded for any number of
        users (``decision_function`` still returns all their scores).
    memory_limit : "auto", int or None, default="auto"
        Memory budget in bytes, checked before scoring: beyond it a
        :class:`~sklearn_l3ae.MemoryLimitError` says so before anything is
        allocated.  ``"auto"`` is the memory available at that moment (the
        kernel's ``MemAvailable`` and the cgroup limits); ``None`` skips the
        check.

    Attributes
    ----------
    item_popularity_ : ndarray of shape (n_items,)
        Number of training users who interacted with each item (the scores).
    item_ids_ : ndarray of shape (n_items,) or None
        The item labels: ``item_ids``, else the DataFrame column names of
        ``X``, else ``None`` (items are column indices).
    n_features_in_ : int
        Number of items.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Item names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    sklearn_l3ae.EASERecommender : The item-item model that this baseline bounds
        from below.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import PopularityRecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    >>> model = PopularityRecommender(top_k=2).fit(X)
    >>> model.item_popularity_
    array([2, 3, 1, 1])
    >>> model.predict([[0, 1, 0, 0]])  # item 1 is seen; ties go to the lower index
    array([[0, 2]])
    """

    _parameter_constraints = {
        **BaseRecommender._parameter_constraints,
    }

    def __init__(
        self, *, item_ids=None, top_k=20, batch_size=None, memory_limit="auto"
    ):
        self.item_ids = item_ids
        self.top_k = top_k
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Count the training users of each item.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored.

        Returns
        -------
        self : PopularityRecommender
        """
        X = self._validate_interactions(X, reset=True, dtype=(np.float64, np.float32))
        self.item_popularity_ = self._item_popularity(X)
        return self

    def _scores_dtype(self):
        return np.dtype(np.float32)

    def _raw_scores(self, X_batch, rows):
        return np.tile(self.item_popularity_.astype(np.float32), (X_batch.shape[0], 1))
