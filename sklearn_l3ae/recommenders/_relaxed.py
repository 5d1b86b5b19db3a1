"""Relaxed and denoising linear autoencoders: RLAE, DLAE/EDLAE and RDLAE.

One closed form covers the family
(:func:`~sklearn_l3ae._core.closed_forms.rdlae_weights`):

``B = argmin ||X − XB||² + ||Λ^{1/2} B||²  s.t. diag(B) ≤ ξ``,
``Λ = λI + (p / (1 − p))·diagMat(diag(XᵀX))``

=====================  ==========  ===========  =====================
paper name             ``reg``     ``dropout``  ``xi``
=====================  ==========  ===========  =====================
EASE (Steck 2019)      λ           0            0
ridge LAE              λ           0            None (unconstrained)
RLAE (Moon 2023)       λ           0            ξ
DLAE (Steck 2020)      λ           p            None
EDLAE (Steck 2020)     λ           p            0
RDLAE (Moon 2023)      λ           p            ξ
=====================  ==========  ===========  =====================
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .._solvers import ItemWeightsProblem
from ._docs import fill_doc
from ._incremental import INCREMENTAL_CONSTRAINTS, IncrementalMixin
from ._item_item import DAN_CONSTRAINTS, SUPPORT_CONSTRAINTS, SolvedItemItemRecommender

_DROPOUT = Interval(Real, 0, 1, closed="left")
_XI = Interval(Real, 0, None, closed="left")


class _RelaxedLinearAutoencoder(IncrementalMixin, SolvedItemItemRecommender):
    """The problem of the RLAE / DLAE / RDLAE estimators.

    Subclasses say which ``(dropout, xi)`` their parameters mean through
    :meth:`_dropout_and_xi`.
    """

    def _dropout_and_xi(self):
        raise NotImplementedError

    def _problem(self, X, item_side):
        dropout, xi = self._dropout_and_xi()
        return ItemWeightsProblem(
            X,
            reg=self.reg,
            dropout=dropout,
            xi=xi,
            also_increase=("dropout",) if dropout else (),
        )


@fill_doc
class RDLAERecommender(_RelaxedLinearAutoencoder):
    """Relaxed denoising linear autoencoder (RDLAE), in closed form.

    Learns ``B = argmin ||X − XB||² + ||Λ^{1/2} B||²  s.t. diag(B) ≤ ξ`` with
    the dropout-emphasis penalty ``Λ = λI + (p/(1−p))·diagMat(diag(XᵀX))``.
    With ``P = (XᵀX + Λ)⁻¹`` the solution is ``B = I − P·(Λ + diagMat(μ))``,
    ``μ_j = max(0, (1 − P_jj Λ_jj − ξ) / P_jj)``: one Cholesky factorization.

    * ``dropout`` (``p``): training on inputs with entries dropped with
      probability ``p`` is, in expectation, the penalty ``Λ``; it penalizes
      popular items' rows more, which counters popularity bias.
    * ``xi`` (ξ): the self-weight ``B_jj`` may reach ξ.  ``xi=0`` forbids it
      (EASE/EDLAE), ``xi=None`` lifts the constraint (DLAE, ridge).  For
      ``reg >= 0`` the unconstrained diagonal lies in ``[0, 1]``, so
      ``xi >= 1`` is the same as ``None``.  Moderate ξ (the paper: 0.1–0.6)
      helps long-tail items, which the zero-diagonal constraint handicaps
      most.

    Parameters
    ----------
    reg : float, default=1000.0
        λ.  ``XᵀX + Λ`` must be positive definite; the error says so otherwise.
    dropout : float in [0, 1), default=0.2
        Dropout probability ``p``.
    xi : float >= 0 or None, default=0.6
        Upper bound ξ on ``diag(B)``; ``None`` for none.
    {n_neighbors}
    {recommender_parameters}
    {keep_inverse}
    {n_jobs}
    {device}
    {dan}

    Attributes
    ----------
    coef_ : {ndarray, csr_array} of shape (n_items, n_items)
        Item-item weights ``B``; its diagonal is at most ξ; sparse with
        ``n_neighbors``.
    {recommender_attributes}
    {incremental_attributes}

    See Also
    --------
    RLAERecommender : ``dropout=0``.
    DLAERecommender : ``xi=None`` (DLAE) or ``xi=0`` (EDLAE).
    EASERecommender : ``dropout=0, xi=0``.
    L3AERecommender : Adds a pull towards a semantic item correlation; has
        ``dropout`` and ``xi`` options too.

    Notes
    -----
    Defaults are the official code's ML-20M setting of RDLAE
    (``reg_p=1000, drop_p=0.2, xi=0.6``).

    References
    ----------
    .. [1] J. Moon, H. Kim, J. Lee, "It's Enough: Relaxing Diagonal Constraints
       in Linear Autoencoders for Recommendation", SIGIR 2023, arXiv:2305.12922.
    .. [2] H. Steck, "Autoencoders that don't overfit towards the Identity",
       NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import RDLAERecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    >>> model = RDLAERecommender(reg=1.0, dropout=0.2, xi=0.1, top_k=2).fit(X)
    >>> np.diagonal(model.coef_).round(3)
    array([0.1, 0.1, 0.1, 0.1], dtype=float32)
    >>> model.predict([[1, 0, 0, 0]])
    array([[1, 2]])
    """

    _parameter_constraints = {
        **_RelaxedLinearAutoencoder._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        **DAN_CONSTRAINTS,
        **INCREMENTAL_CONSTRAINTS,
        "reg": [Interval(Real, None, None, closed="neither")],
        "dropout": [_DROPOUT],
        "xi": [_XI, None],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        reg=1000.0,
        *,
        dropout=0.2,
        xi=0.6,
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
        self.dropout = dropout
        self.xi = xi
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

    def _dropout_and_xi(self):
        return self.dropout, self.xi


@fill_doc
class RLAERecommender(_RelaxedLinearAutoencoder):
    """Relaxed linear autoencoder (RLAE): EASE with ``diag(B) ≤ ξ``.

    Learns ``B = argmin ||X − XB||² + λ||B||²  s.t. diag(B) ≤ ξ``; with
    ``P = (XᵀX + λI)⁻¹``, ``B = I − P·(λI + diagMat(μ))`` and
    ``μ_j = max(0, (1 − λP_jj − ξ) / P_jj)``.  ``xi=0`` is EASE exactly;
    ``xi=None`` (or, for ``reg >= 0``, ``xi >= 1``) the unconstrained ridge LAE
    ``B = P·XᵀX``.  Between them, ξ trades the zero-diagonal constraint's
    protection against the identity for accuracy on unpopular items.

    Parameters
    ----------
    reg : float, default=1000.0
        λ.  ``XᵀX + λI`` must be positive definite.
    xi : float >= 0 or None, default=0.6
        Upper bound ξ on ``diag(B)``; ``None`` for none.
    {n_neighbors}
    {recommender_parameters}
    {keep_inverse}
    {n_jobs}
    {device}
    {dan}

    Attributes
    ----------
    coef_ : {ndarray, csr_array} of shape (n_items, n_items)
        Item-item weights ``B``; its diagonal is at most ξ; sparse with
        ``n_neighbors``.
    {recommender_attributes}
    {incremental_attributes}

    See Also
    --------
    RDLAERecommender : Adds dropout emphasis.
    EASERecommender : ``xi=0``.

    Notes
    -----
    Defaults are the official code's ML-20M setting of RLAE
    (``reg_p=1000, xi=0.6``).

    References
    ----------
    .. [1] J. Moon, H. Kim, J. Lee, "It's Enough: Relaxing Diagonal Constraints
       in Linear Autoencoders for Recommendation", SIGIR 2023, arXiv:2305.12922.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import EASERecommender, RLAERecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    >>> relaxed = RLAERecommender(reg=1.0, xi=0.0, dtype=np.float64).fit(X)
    >>> ease = EASERecommender(reg=1.0, dtype=np.float64).fit(X)
    >>> bool(np.allclose(relaxed.coef_, ease.coef_))
    True
    """

    _parameter_constraints = {
        **_RelaxedLinearAutoencoder._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        **DAN_CONSTRAINTS,
        **INCREMENTAL_CONSTRAINTS,
        "reg": [Interval(Real, None, None, closed="neither")],
        "xi": [_XI, None],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        reg=1000.0,
        *,
        xi=0.6,
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
        self.xi = xi
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

    def _dropout_and_xi(self):
        return 0.0, self.xi


@fill_doc
class DLAERecommender(_RelaxedLinearAutoencoder):
    """Denoising linear autoencoder (DLAE, or EDLAE with ``xi=0``).

    Learns ``B = argmin ||X − XB||² + ||Λ^{1/2} B||²`` with the dropout
    penalty ``Λ = λI + (p/(1−p))·diagMat(diag(XᵀX))``, i.e.
    ``B = (XᵀX + Λ)⁻¹ XᵀX`` (DLAE, ``xi=None``).  With ``xi=0`` the
    constraint ``diag(B) = 0`` is added: ``B = I − P·diagMat(1 / diag(P))``,
    ``P = (XᵀX + Λ)⁻¹``, Steck's emphasized denoising (EDLAE, full emphasis
    on the dropped-out entries).  It is :class:`RDLAERecommender` with
    Steck's defaults and no diagonal bound by default.

    Parameters
    ----------
    reg : float, default=1000.0
        λ.  ``XᵀX + Λ`` must be positive definite.
    dropout : float in [0, 1), default=0.3
        Dropout probability ``p``.
    xi : float >= 0 or None, default=None
        Bound ξ on the self-weights ``diag(B)``: ``None`` (DLAE) leaves them
        free, ``0`` (EDLAE) forbids them.
    {n_neighbors}
    {recommender_parameters}
    {keep_inverse}
    {n_jobs}
    {device}
    {dan}

    Attributes
    ----------
    coef_ : {ndarray, csr_array} of shape (n_items, n_items)
        Item-item weights ``B``; zero diagonal with ``xi=0``; sparse with
        ``n_neighbors``.
    {recommender_attributes}
    {incremental_attributes}

    See Also
    --------
    RDLAERecommender : The same model with the RDLAE authors' defaults.

    Notes
    -----
    Defaults are the RDLAE authors' ML-20M setting of DLAE
    (``reg_p=1000, drop_p=0.3``); for EDLAE they use ``reg_p=400``.

    References
    ----------
    .. [1] H. Steck, "Autoencoders that don't overfit towards the Identity",
       NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import DLAERecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    >>> model = DLAERecommender(reg=1.0, dropout=0.3, xi=0.0).fit(X)
    >>> np.diagonal(model.coef_)
    array([0., 0., 0., 0.], dtype=float32)
    """

    _parameter_constraints = {
        **_RelaxedLinearAutoencoder._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        **DAN_CONSTRAINTS,
        **INCREMENTAL_CONSTRAINTS,
        "reg": [Interval(Real, None, None, closed="neither")],
        "dropout": [_DROPOUT],
        "xi": [_XI, None],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        reg=1000.0,
        *,
        dropout=0.3,
        xi=None,
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
        self.dropout = dropout
        self.xi = xi
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

    def _dropout_and_xi(self):
        return self.dropout, self.xi
