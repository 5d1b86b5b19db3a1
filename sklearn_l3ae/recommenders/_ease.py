"""EASE: the embarrassingly shallow autoencoder (Steck, WWW 2019)."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .._solvers import ItemWeightsProblem
from ._docs import fill_doc
from ._incremental import INCREMENTAL_CONSTRAINTS, IncrementalMixin
from ._item_item import DAN_CONSTRAINTS, SUPPORT_CONSTRAINTS, SolvedItemItemRecommender


@fill_doc
class EASERecommender(IncrementalMixin, SolvedItemItemRecommender):
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
    {n_neighbors}
    {recommender_parameters}
    {keep_inverse}
    {n_jobs}
    {device}
    {dan}

    Attributes
    ----------
    coef_ : {ndarray, csr_array} of shape (n_items, n_items)
        Item-item weights ``B``, zero diagonal; sparse with ``n_neighbors``.
    {recommender_attributes}
    {incremental_attributes}

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

    With ``n_neighbors`` each column of ``B`` keeps at most that many items
    (its strongest co-occurrences), solved exactly, and ``coef_`` is sparse:

    >>> sparse_model = EASERecommender(reg=1.0, n_neighbors=2).fit(X)
    >>> type(sparse_model.coef_).__name__, int(sparse_model.coef_.nnz)
    ('csr_array', 8)
    """

    _parameter_constraints = {
        **SolvedItemItemRecommender._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        **DAN_CONSTRAINTS,
        **INCREMENTAL_CONSTRAINTS,
        "reg": [Interval(Real, None, None, closed="neither")],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        reg=500.0,
        *,
        n_neighbors=None,
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
        self.reg = reg
        self.n_neighbors = n_neighbors
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
        return ItemWeightsProblem(X, reg=self.reg)
