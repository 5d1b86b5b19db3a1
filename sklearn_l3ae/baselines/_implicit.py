"""Wrappers of the `implicit` package's ALS, BPR and cosine item-kNN models."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_limits

from .._atomic import atomic_fit
from .._base import BaseRecommender

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


class _ImplicitRecommender(BaseRecommender):
    """Shared fit plumbing: validation, popularity, BLAS threads pinned to 1.

    `implicit` parallelizes over users itself and warns that a multithreaded
    BLAS underneath slows it down, so fits run under ``threadpool_limits(1)``.
    """

    def _scores_dtype(self):
        return np.dtype(np.float32)

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the `implicit` model on the interactions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions (used as confidence weights by ALS).
        y : None
            Ignored; accepted so that ``GridSearchCV.fit(X, y_holdout)`` can
            pass held-out interactions through to the scorers.

        Returns
        -------
        self : estimator
        """
        X = self._validate_interactions(X, reset=True, dtype=np.float32)
        user_items = _user_items(X)
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit_implicit(user_items)
        self.item_popularity_ = self._item_popularity(X)
        return self


class ALSRecommender(_ImplicitRecommender):
    """Implicit-feedback matrix factorization by alternating least squares.

    Wraps :class:`implicit.cpu.als.AlternatingLeastSquares` (Hu, Koren and
    Volinsky, ICDM 2008).  Users are folded in: :meth:`decision_function`
    solves each user's factors from its row of ``X`` given the fitted item
    factors (one exact least-squares step), so any users can be scored.

    Parameters
    ----------
    factors : int, default=64
        Number of latent factors.
    regularization : float, default=0.01
        L2 regularization of the factors.
    alpha : float, default=1.0
        Confidence weight of the observed interactions.
    iterations : int, default=15
        Number of ALS sweeps.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend` takes and returns.  ``None`` uses the column
        names of a DataFrame ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    n_jobs : int, default=None
        Threads used by `implicit` (``None`` or negative: all cores).
    random_state : int, RandomState instance or None, default=None
        Seed of the factor initialization.
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
    item_factors_ : ndarray of shape (n_items, factors)
        Fitted item factors.
    user_factors_ : ndarray of shape (n_users, factors)
        Fitted factors of the training users.
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
        **_ImplicitRecommender._parameter_constraints,
        "factors": [Interval(Integral, 1, None, closed="left")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        factors=64,
        *,
        regularization=0.01,
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
        self.regularization = regularization
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
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=_n_threads(self.n_jobs),
            random_state=_seed(self.random_state),
        )
        _fit_factors(self, model, user_items, ("regularization", "alpha"))
        self.item_factors_ = np.asarray(model.item_factors)
        self.user_factors_ = np.asarray(model.user_factors)

    def _raw_scores(self, X_batch, rows):
        implicit = _import_implicit(type(self).__name__)
        # A solver over (writable) copies of the fitted item factors: the
        # estimator keeps plain arrays only, so it pickles and memory-maps.
        model = implicit.cpu.als.AlternatingLeastSquares(
            factors=self.item_factors_.shape[1],
            regularization=self.regularization,
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


def _history_keys(X):
    """One hashable key per row of ``X``: the sorted item indices it holds."""
    X = sparse.csr_array(X, copy=True)
    X.eliminate_zeros()
    X.sort_indices()
    indices = X.indices.astype(np.int64)
    return [
        indices[start:stop].tobytes()
        for start, stop in zip(X.indptr[:-1], X.indptr[1:], strict=True)
    ]


class BPRRecommender(_ImplicitRecommender):
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
    regularization : float, default=0.01
        L2 regularization of the factors.
    iterations : int, default=100
        Number of epochs.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend` takes and returns.  ``None`` uses the column
        names of a DataFrame ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    n_jobs : int, default=1
        Threads used by `implicit` (``None`` or negative: all cores).  The
        fit is deterministic for a fixed ``random_state`` only with one
        thread (parallel SGD is lock-free).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization and of the sampled triples.
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
    item_factors_ : ndarray of shape (n_items, factors + 1)
        Fitted item factors (the last column is the item bias).
    user_factors_ : ndarray of shape (n_users, factors + 1)
        Fitted user factors (the last column is 1, multiplying the bias).
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
        **_ImplicitRecommender._parameter_constraints,
        "factors": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        factors=64,
        *,
        learning_rate=0.01,
        regularization=0.01,
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
        self.regularization = regularization
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
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=_n_threads(self.n_jobs),
            random_state=_seed(self.random_state),
        )
        _fit_factors(self, model, user_items, ("learning_rate", "regularization"))
        self.item_factors_ = np.asarray(model.item_factors)
        self.user_factors_ = np.asarray(model.user_factors)
        users = {}
        for user, key in enumerate(_history_keys(user_items)):
            users.setdefault(key, user)
        self._training_users = users

    def _training_rows(self, X):
        """The training user of each row of ``X``, matched by history."""
        rows = [self._training_users.get(key, -1) for key in _history_keys(X)]
        rows = np.asarray(rows, dtype=np.int64)
        unknown = np.flatnonzero(rows < 0)
        if len(unknown):
            raise ValueError(
                f"{type(self).__name__} can only score its training users, "
                "recognized by their training interactions, but "
                f"{len(unknown)} of the {X.shape[0]} rows of X (first: row "
                f"{unknown[0]}) match no training user.  BPR has no fold-in for "
                "new users or changed histories; use ALSRecommender or an "
                "item-item model to score them."
            )
        return rows

    def _raw_scores(self, X_batch, rows):
        users = self._training_rows(X_batch)
        return self.user_factors_[users] @ self.item_factors_.T


class ItemKNNRecommender(_ImplicitRecommender):
    """Cosine item-kNN: scores ``X @ S`` with the sparse top-k cosine similarity.

    Wraps :class:`implicit.nearest_neighbours.CosineRecommender`: ``S[i, j]``
    is the cosine similarity of the user columns of items ``i`` and ``j``,
    kept for the ``n_neighbors`` most similar items of each item.  Users are
    folded in for free (any rows of ``X`` work).

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours kept per item.
    item_ids : array-like of shape (n_items,), default=None
        One label (str or int, unique) per item column of ``X``: the items
        that :meth:`recommend` takes and returns.  ``None`` uses the column
        names of a DataFrame ``X``, if any, else column indices.
    top_k : int, default=20
        Number of items returned by :meth:`predict` and ranked by :meth:`score`.
    n_jobs : int, default=None
        Threads used by `implicit` (``None`` or negative: all cores).
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
    similarity_ : scipy.sparse.csr_array of shape (n_items, n_items)
        The kept cosine similarities.
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
        **_ImplicitRecommender._parameter_constraints,
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
        self.similarity_ = similarity

    def _raw_scores(self, X_batch, rows):
        return (sparse.csr_array(X_batch) @ self.similarity_).toarray()
