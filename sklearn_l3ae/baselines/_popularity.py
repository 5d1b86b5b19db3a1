"""The popularity baseline: the same ranking of unseen items for everyone."""

import numpy as np

from ..recommenders import BaseRecommender
from ..recommenders._docs import fill_doc


@fill_doc
class PopularityRecommender(BaseRecommender):
    """Recommend the unseen items that most training users interacted with.

    The score of an item is its number of training users; it ignores the
    user except for masking the items they already have.  Any recommender
    should beat it; on long-tail items it scores almost nothing.

    Parameters
    ----------
    {scoring_parameters}

    Attributes
    ----------
    {recommender_attributes}
        The popularity is the score of every item.

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

    def _fit_dtype(self):
        return (np.float64, np.float32)

    def _fit(self, X, item_side):
        """Nothing to learn: the scores are ``item_popularity_``."""

    def _scores_dtype(self):
        return np.dtype(np.float32)

    def _raw_scores(self, X_batch):
        return np.tile(self.item_popularity_.astype(np.float32), (X_batch.shape[0], 1))
