"""Wrappers of the `implicit` package's ALS, BPR and cosine item-kNN models."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_limits

from ..recommenders import BaseRecommender, ItemItemRecommender
from ..recommenders._base import check_state_array
from ..recommenders._docs import fill_doc
from ._history import TrainingUserRows

_INSTALL_HINT = (
    "The {name} baseline needs the `implicit` package: pip install "
    '"sklearn-l3ae[baselines]" (or pip install implicit).'
)


def _import_implicit(name):
    try:
        import implicit.cpu.als
        import implicit.cpu.bpr
        import implicit.nearest_neighbours
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT.format(name=name)) from exc
    return implicit


def _user_items(X):
    """``X`` as the float32 ``csr_matrix`` that `implicit` expects."""
    return sparse.csr_matrix(X, dtype=np.float32)


def _seed(random_state):
    """An int seed for `implicit` from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _fit_factors(estimator, model, user_items, parameters):
    """``model.fit(user_items)``; factors that diverged raise a ValueError.

    `implicit` raises its own ``ModelFitError`` (not a ValueError) on NaN
    factors only; infinite ones would give infinite scores.
    """
    from implicit.recommender_base import ModelFitError

    try:
        model.fit(user_items, show_progress=False)
        users, items = np.abs(model.user_factors), np.abs(model.item_factors)
        # |u·v| <= k·max|u|·max|v|: beyond float32, scores would be inf.
        bound = users.max(initial=0) * items.max(initial=0) * users.shape[1]
        diverged = not bound < np.finfo(np.float32).max  # NaN included
    except ModelFitError:
        diverged = True
    if diverged:
        values = ", ".join(
            f"{name}={getattr(estimator, name)!r}" for name in parameters
        )
        raise ValueError(
            f"{type(estimator).__name__}'s factors diverged (to NaN, inf, or "
            f"scores beyond float32) while fitting with {values}: too large "
            "for float32 arithmetic. Choose smaller values (or rescale X, e.g. "
            "binarize it)."
        )


def _n_threads(n_jobs):
    """`implicit`'s ``num_threads`` (0 = all cores) from ``n_jobs``."""
    return 0 if n_jobs is None or n_jobs < 0 else int(n_jobs)


class _ImplicitFit:
    """Shared fit plumbing: float32 input, BLAS threads pinned to 1.

    `implicit` parallelizes over users itself and warns that a multithreaded
    BLAS underneath slows it down, so fits run under ``threadpool_limits(1)``.
    """

    def _fit_dtype(self):
        return np.dtype(np.float32)

    def _fit(self, X, item_side):
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit_implicit(_user_items(X))


class _FactorRecommender(_ImplicitFit, BaseRecommender):
    """Scores ``user_factors · item_factors_ᵀ`` in float32."""

    _parameter_constraints = {
        **BaseRecommender._parameter_constraints,
        "factors": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, None, closed="left")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def _scores_dtype(self):
        return np.dtype(np.float32)

    def _check_fitted_state(self):
        super()._check_fitted_state()
        items = check_state_array("item_factors_", self, (self.n_features_in_, None))
        users = check_state_array("user_factors_", self, (None, items.shape[1]))
        if hasattr(self, "user_histories_"):
            check_state_array(
                "user_histories_", self, (users.shape[0], self.n_features_in_)
            )


@fill_doc
class ALSRecommender(_FactorRecommender):
    """Implicit-feedback matrix factorization by alternating least squares.

    Wraps :class:`implicit.cpu.als.AlternatingLeastSquares` (Hu, Koren and
    Volinsky, ICDM 2008).  Users are folded in: :meth:`decision_function`
    solves each user's factors from its row of ``X`` given the fitted item
    factors (one exact least-squares step), so any users can be scored.

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    reg : float, default=0.01
        L2 regularization of the factors (implicit's ``regularization``).
    alpha : float, default=1.0
        Confidence weight of the observed interactions.
    iterations : int, default=15
        Number of ALS sweeps.
    {item_ids}
    {top_k}
    n_jobs : int, default=None
        Threads used by `implicit` (``None`` or negative: all cores).
    random_state : int, RandomState instance or None, default=None
        Seed of the factor initialization.
    {batch_size}
    {memory_limit_scoring}

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, factors)
        Fitted item factors.
    user_factors_ : ndarray of shape (n_users, factors)
        Fitted factors of the training users.
    {recommender_attributes}

    See Also
    --------
    BPRRecommender : Factorization trained for pairwise ranking.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import ALSRecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> model = ALSRecommender(factors=2, top_k=2, random_state=0).fit(X)
    >>> model.item_factors_.shape
    (4, 2)
    >>> model.predict(X).shape
    (4, 2)
    """

    _parameter_constraints = {
        **_FactorRecommender._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        factors=64,
        *,
        reg=0.01,
        alpha=1.0,
        iterations=15,
        item_ids=None,
        top_k=20,
        n_jobs=None,
        random_state=None,
        batch_size=None,
        memory_limit="auto",
    ):
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.item_ids = item_ids
        self.top_k = top_k
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _fit_implicit(self, user_items):
        implicit = _import_implicit(type(self).__name__)
        model = implicit.cpu.als.AlternatingLeastSquares(
            # int(): True passes the Integral constraint but not implicit.
            factors=int(self.factors),
            regularization=self.reg,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=_n_threads(self.n_jobs),
            random_state=_seed(self.random_state),
        )
        _fit_factors(self, model, user_items, ("reg", "alpha"))
        self.item_factors_ = np.asarray(model.item_factors)
        self.user_factors_ = np.asarray(model.user_factors)

    def _raw_scores(self, X_batch):
        implicit = _import_implicit(type(self).__name__)
        # A solver over (writable) copies of the fitted item factors: the
        # estimator keeps plain arrays only, so it pickles and memory-maps.
        model = implicit.cpu.als.AlternatingLeastSquares(
            factors=self.item_factors_.shape[1],
            regularization=self.reg,
            alpha=self.alpha,
            num_threads=_n_threads(self.n_jobs),
        )
        model.item_factors = np.array(self.item_factors_, dtype=np.float32)
        users = np.arange(X_batch.shape[0])
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                factors = model.recalculate_user(users, _user_items(X_batch))
            except ValueError as exc:  # implicit's LAPACK solve failed
                raise ValueError(
                    f"{type(self).__name__} cannot fold in these users: solving "
                    f"for their factors failed in float32 ({exc}). Their "
                    "interaction values are probably too large: rescale X, e.g. "
                    "binarize it as for training."
                ) from exc
        return np.asarray(factors).reshape(len(users), -1) @ self.item_factors_.T


@fill_doc
class BPRRecommender(TrainingUserRows, _FactorRecommender):
    """Matrix factorization trained with Bayesian personalized ranking.

    Wraps :class:`implicit.cpu.bpr.BayesianPersonalizedRanking` (Rendle et
    al., UAI 2009).  BPR has no closed-form fold-in: only the training users
    can be scored.  A row of ``X`` is matched to the training user with the
    same interactions (the first one, when several users share a history) —
    in the paper's protocol the input of the evaluated users is their
    training row — and a row that matches no training user raises an error.

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    learning_rate : float, default=0.01
        SGD step size.
    reg : float, default=0.01
        L2 regularization of the factors (implicit's ``regularization``).
    iterations : int, default=100
        Number of epochs.
    {item_ids}
    {top_k}
    n_jobs : int, default=1
        Threads used by `implicit` (``None`` or negative: all cores).  The
        fit is deterministic for a fixed ``random_state`` only with one
        thread (parallel SGD is lock-free).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization and of the sampled triples.
    {batch_size}
    {memory_limit_scoring}

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, factors + 1)
        Fitted item factors (the last column is the item bias).
    user_factors_ : ndarray of shape (n_users, factors + 1)
        Fitted user factors (the last column is 1, multiplying the bias).
    user_histories_ : scipy.sparse.csr_array of shape (n_users, n_items)
        The training users' interactions (``True`` where ``X > 0``), by
        which rows of ``X`` are matched to training users.
    {recommender_attributes}

    See Also
    --------
    ALSRecommender : Factorization by least squares, with fold-in.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import BPRRecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> model = BPRRecommender(factors=2, top_k=2, random_state=0).fit(X)
    >>> model.predict(X).shape
    (4, 2)
    >>> model.predict(X[[2, 0]]).shape  # training users, by their history
    (2, 2)
    >>> model.predict([[0, 0, 1, 1]])
    Traceback (most recent call last):
    ...
    ValueError: BPRRecommender can only score its training users...
    """

    _parameter_constraints = {
        **_FactorRecommender._parameter_constraints,
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        factors=64,
        *,
        learning_rate=0.01,
        reg=0.01,
        iterations=100,
        item_ids=None,
        top_k=20,
        n_jobs=1,
        random_state=None,
        batch_size=None,
        memory_limit="auto",
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.reg = reg
        self.iterations = iterations
        self.item_ids = item_ids
        self.top_k = top_k
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _fit_implicit(self, user_items):
        implicit = _import_implicit(type(self).__name__)
        model = implicit.cpu.bpr.BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.reg,
            iterations=self.iterations,
            num_threads=_n_threads(self.n_jobs),
            random_state=_seed(self.random_state),
        )
        _fit_factors(self, model, user_items, ("learning_rate", "reg"))
        self.item_factors_ = np.asarray(model.item_factors)
        self.user_factors_ = np.asarray(model.user_factors)
        self._set_user_histories(user_items)

    def _raw_scores(self, X_batch):
        users = self._training_rows(X_batch)
        return self.user_factors_[users] @ self.item_factors_.T


@fill_doc
class ItemKNNRecommender(_ImplicitFit, ItemItemRecommender):
    """Cosine item-kNN: scores ``X @ S`` with the sparse top-k cosine similarity.

    Wraps :class:`implicit.nearest_neighbours.CosineRecommender`: ``S[i, j]``
    is the cosine similarity of the user columns of items ``i`` and ``j``,
    kept for the ``n_neighbors`` most similar items of each item.  Users are
    folded in for free (any rows of ``X`` work).

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours kept per item.
    {item_ids}
    {top_k}
    n_jobs : int, default=None
        Threads used by `implicit` (``None`` or negative: all cores).
    {batch_size}
    {memory_limit_scoring}

    Attributes
    ----------
    coef_ : scipy.sparse.csr_array of shape (n_items, n_items)
        The kept cosine similarities: ``coef_[j, i]`` weighs history item
        ``j`` in the score of item ``i``, as an item-item model's weights
        (:meth:`similar_items` and :meth:`explain` read it).
    {recommender_attributes}

    See Also
    --------
    sklearn_l3ae.EASERecommender : Item-item weights learned by regression.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import ItemKNNRecommender
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> model = ItemKNNRecommender(n_neighbors=2, top_k=1).fit(X)
    >>> model.predict([[0, 0, 0, 1]])  # item 0 co-occurs most with item 3
    array([[0]])
    """

    _parameter_constraints = {
        **BaseRecommender._parameter_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_neighbors=100,
        *,
        item_ids=None,
        top_k=20,
        n_jobs=None,
        batch_size=None,
        memory_limit="auto",
    ):
        self.n_neighbors = n_neighbors
        self.item_ids = item_ids
        self.top_k = top_k
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _fit_implicit(self, user_items):
        implicit = _import_implicit(type(self).__name__)
        model = implicit.nearest_neighbours.CosineRecommender(
            K=self.n_neighbors, num_threads=_n_threads(self.n_jobs)
        )
        with warnings.catch_warnings():
            # implicit converts its own internal COO matrix and warns about it.
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(user_items, show_progress=False)
        similarity = sparse.csr_array(model.similarity, dtype=np.float32)
        if not np.isfinite(similarity.data).all():
            # implicit divides by each item's norm, which underflows to 0.
            raise ValueError(
                f"{type(self).__name__}'s cosine similarities are not finite: the "
                "interaction values are too small for float32 arithmetic "
                f"(smallest {user_items.data.min():.3g}). Rescale X, e.g. "
                "binarize it."
            )
        self.coef_ = similarity
