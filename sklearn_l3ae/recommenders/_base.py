"""The base class of every recommender: the fit template and the scoring API."""

import contextlib
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from .._core import parallel
from .._core.atomic import atomic_fit
from .._core.memory import MemoryEstimate, check_memory, check_plan
from .._core.ranking import batch_rows, dense_rows, mask_scores_inplace, rank_rows
from .._core.validation import (
    all_finite,
    check_float_dtype,
    check_k,
    item_popularity,
    label_array,
    ndim_or_none,
)
from ..metrics import ndcg_at_k
from ._input import check_interaction_input, column_labels, texts_instead_of_numbers


def check_state_array(name, owner, shape):
    """Raise ValueError unless ``owner.<name>`` is a finite numeric array of
    ``shape`` (``None`` entries match any size); dense or scipy sparse."""
    value = getattr(owner, name, None)
    data = value.data if sparse.issparse(value) else value
    if not (
        (isinstance(value, np.ndarray) or sparse.issparse(value))
        and value.ndim == len(shape)
        and all(
            want in (None, got) for want, got in zip(shape, value.shape, strict=True)
        )
        and data.dtype.kind in "fiub"
        and np.isfinite(data).all()
    ):
        raise ValueError(
            f"{name} must be a numeric array of shape {shape} without NaN or "
            f"inf, got {type(value).__name__}"
            f"{f' of shape {value.shape}' if hasattr(value, 'shape') else ''}."
        )
    return value


class BaseRecommender(BaseEstimator):
    """Base class of the recommenders: the fit template, batched scoring, ranking.

    **Fit.**  :meth:`fit` validates ``X`` (in ``_fit_dtype()``), asks
    ``_plan_fit(X)`` for the memory the fit will need (refusing impossible
    parameters cheaply on the way) and checks it against ``memory_limit``,
    runs phase 1 where the model has one (``_fit_item_side``), calls
    ``_fit(X, item_side)`` and records ``item_popularity_``; a fit that
    raises leaves the estimator as it was.  A model is its ``_fit`` (a
    formula) and its ``_plan_fit`` (a footprint).

    **Scoring.**  Subclasses implement ``_scores_dtype()`` and
    ``_raw_scores(X_batch)``, the dense scores of a batch of users before
    seen items are masked.  Every ranking runs through the one batched loop
    :func:`~sklearn_l3ae._core.ranking.rank_rows`, in batches of
    ``batch_size`` users.

    Items given to and returned by :meth:`predict`, :meth:`recommend` (and
    the item-item models' ``similar_items`` and ``explain``) are item labels
    when the model knows them (``item_ids_``), column indices otherwise;
    ``as_labels=False`` asks for column indices anyway.
    """

    # The parameters every recommender has; subclasses start their own
    # constraints with ``**Parent._parameter_constraints``.
    _parameter_constraints = {
        "item_ids": ["array-like", None],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "memory_limit": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ fit

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Learn the model from interactions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Non-negative interactions.
        y : None
            Ignored; accepted so that ``GridSearchCV.fit(X, y_holdout)`` can
            pass held-out interactions through to the scorers.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X = self._validate_interactions(X, reset=True, dtype=self._fit_dtype())
        plan = self._plan_fit(X)
        if plan is not None:
            check_plan(plan, self.memory_limit)
        item_side = self._fit_item_side(X.shape[1])
        self._fit(X, item_side)
        self.item_popularity_ = item_popularity(X)
        self.n_samples_seen_ = X.shape[0]
        return self

    def _fit_dtype(self):
        """The precision ``X`` is validated in."""
        return check_float_dtype(self.dtype)

    def _plan_fit(self, X):
        """The fit's :class:`~sklearn_l3ae._core.memory.FitPlan`, or None.

        Called before phase 1 and any heavy work: raise here the errors that
        cheap checks can find.
        """
        return None

    def _fit_item_side(self, n_items):
        """Phase 1 on the item data, where the model has one; None otherwise."""
        return None

    def _fit(self, X, item_side):
        raise NotImplementedError

    # ---------------------------------------------------------- persistence

    def _check_fitted_state(self):
        """Raise ValueError if the fitted attributes are inconsistent.

        Called by :func:`~sklearn_l3ae.load` on a rebuilt model; subclasses
        add their own arrays.
        """
        n_items = getattr(self, "n_features_in_", None)
        if not isinstance(n_items, int) or isinstance(n_items, bool) or n_items < 1:
            raise ValueError(f"n_features_in_ must be a positive int, got {n_items!r}.")
        check_state_array("item_popularity_", self, (n_items,))
        item_ids = getattr(self, "item_ids_", None)
        if item_ids is not None:
            if not isinstance(item_ids, np.ndarray):
                raise ValueError(
                    f"item_ids_ must be None or an array of labels, got "
                    f"{type(item_ids).__name__}."
                )
            try:
                label_array(item_ids, n_items, type(self).__name__)
            except ValueError as exc:
                raise ValueError(f"invalid item_ids_: {exc}") from exc

    # ----------------------------------------------------------- validation

    def _validate_interactions(self, X, *, reset, dtype):
        owner = type(self).__name__
        check_interaction_input(X, self, fitting=reset)
        labels = column_labels(X)
        try:
            X = validate_data(
                self,
                X,
                accept_sparse=("csr", "csc"),
                dtype=dtype,
                reset=reset,
            )
        except ValueError as exc:
            clearer = texts_instead_of_numbers(exc, self)
            if clearer is None:
                raise
            raise clearer from exc
        check_non_negative(X, f"{owner} (interaction matrix X)")
        if reset:
            self.item_ids_ = self._fitted_item_ids(X.shape[1], labels)
        elif labels is not None:
            self._check_column_labels(labels)
        return X

    def _fitted_item_ids(self, n_items, column_labels=None):
        """``item_ids``, else the DataFrame column labels of ``X``, else None.

        Column labels are scikit-learn's ``feature_names_in_`` when they are
        str, or ``column_labels`` when they are integers.
        """
        owner = type(self).__name__
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = column_labels
        item_ids = getattr(self, "item_ids", None)
        if item_ids is None:
            return None if names is None else label_array(names, n_items, owner)
        ids = label_array(item_ids, n_items, owner)
        if names is not None and not np.array_equal(ids.astype(str), names.astype(str)):
            raise ValueError(
                f"{owner} got item_ids that differ from the column names of the "
                "DataFrame X; pass one of them, or the same labels in both."
            )
        return ids

    def _check_column_labels(self, labels):
        """Integer column labels of a scored frame must be the items, in order."""
        item_ids = getattr(self, "item_ids_", None)
        if (
            item_ids is not None
            and item_ids.dtype.kind in "iu"
            and not np.array_equal(labels, item_ids)
        ):
            raise ValueError(
                f"The columns of this DataFrame are not the items of the "
                f"{type(self).__name__} (item_ids_), in order; reorder them, e.g. "
                "frame[model.item_ids_]."
            )

    def _labels(self, as_labels):
        """The item labels to use (``item_ids_``) or None for column indices."""
        # Not `in (None, True, False)`, which 0, 1 and 1.0 would pass.
        if as_labels is not None and not isinstance(as_labels, (bool, np.bool_)):
            raise ValueError(
                f"as_labels must be None, True or False, got {as_labels!r}."
            )
        labels = getattr(self, "item_ids_", None)
        if as_labels and labels is None:
            raise ValueError(
                f"as_labels=True, but this {type(self).__name__} knows no item "
                "labels: pass item_ids=... to its constructor, or fit it on a "
                "DataFrame with the item labels as column names."
            )
        return None if as_labels is not None and not as_labels else labels

    def _item_indices(self, items, labels, name):
        """Column indices of ``items`` (labels, or indices when ``labels`` is None).

        Keeps the shape of ``items`` (a scalar gives a 0-d array).
        """
        values = np.asarray(items)
        if values.ndim > 1:
            raise ValueError(
                f"{name} must be one item or a 1-D sequence of items, got an "
                f"array of shape {values.shape}."
            )
        n_items = self.n_features_in_
        if values.size == 0:
            return np.zeros(values.shape, dtype=np.int64)
        if labels is None:
            if values.dtype.kind not in "iu":
                raise ValueError(
                    f"{name} must be item column indices (integers), got values "
                    f"of dtype {values.dtype}: items are column indices without "
                    "item labels or with as_labels=False."
                )
            indices = values.astype(np.int64)
            outside = indices[(indices < 0) | (indices >= n_items)]
            if outside.size:
                raise ValueError(
                    f"{name} has item indices out of range [0, {n_items}): "
                    f"{outside[:5].tolist()}."
                )
            return indices
        position = dict(zip(labels.tolist(), range(len(labels)), strict=True))
        flat = values.ravel().tolist()
        unknown = [value for value in flat if value not in position]
        if unknown:
            raise ValueError(
                f"{name} has {len(unknown)} unknown item ids (first: "
                f"{unknown[:5]}); items are given by their labels (item_ids_) "
                "here: pass as_labels=False to give column indices instead."
            )
        return np.array([position[value] for value in flat], dtype=np.int64).reshape(
            values.shape
        )

    @staticmethod
    def _labelled(indices, labels):
        """``indices`` as labels (``-1`` padding becomes ``""`` or ``-1``)."""
        if labels is None:
            return indices
        items = labels[indices]
        items[indices < 0] = "" if labels.dtype.kind == "U" else -1
        return items

    # -------------------------------------------------------------- scoring

    def _scores_dtype(self):
        raise NotImplementedError

    def _raw_scores(self, X_batch):
        raise NotImplementedError

    def _score_row_bytes(self, X=None):
        """Bytes of one user's scores in a batch (``X``: the users scored).

        Dense rows of ``n_items`` scores here; models with sparse scores
        (a sparse ``coef_``) say less.
        """
        return self.n_features_in_ * self._scores_dtype().itemsize

    def _batch_rows(self, X=None):
        """Users per scoring batch: ``batch_size``, else about 64 MiB of scores."""
        return batch_rows(
            max(1, self._score_row_bytes(X)), 1, getattr(self, "batch_size", None)
        )

    def _check_scoring_memory(
        self, n_users, *, full_output, n_out=0, what="users", X=None, concurrent=1
    ):
        """Refuse scoring whose batch or output exceeds ``memory_limit``.

        A batch holds the dense scores of its users, the ranking's copy and
        masks (about 4 bytes per score more) and its selected indices;
        ``full_output`` adds the n_users x n_items result of
        :meth:`decision_function`, ``n_out`` the n_users x n_out items and
        scores of :meth:`recommend` and ``similar_items``.
        """
        n_items = self.n_features_in_
        itemsize = self._scores_dtype().itemsize
        rows = min(self._batch_rows(X), max(n_users, 1))
        row_bytes = self._score_row_bytes(None if full_output else X)
        batches = (
            f"a batch of {rows} users"
            if concurrent == 1
            else f"{concurrent} parallel batches of {rows} users"
        )
        parts = [
            (
                f"scores of {batches}",
                concurrent * rows * row_bytes * (2 * itemsize + 4) // itemsize,
            )
        ]
        advice = []
        if full_output:
            parts.append(
                (
                    f"the {n_users} x {n_items} score matrix",
                    n_users * n_items * itemsize,
                )
            )
            advice.append(
                "rank with predict or recommend, which keep only the top items "
                "of each batch of users, or pass fewer users at a time"
            )
        if n_out:
            parts.append(
                (
                    f"{n_out} items and scores for each of {n_users} {what}",
                    n_users * n_out * (8 + itemsize),
                )
            )
            if n_out > n_items:
                advice.append(
                    f"ask for at most n={n_items} items (the catalogue's size; "
                    "the rest would be padding)"
                )
        if getattr(self, "batch_size", None) is not None:
            advice.append("use a smaller batch_size (or None for automatic)")
        check_memory(
            MemoryEstimate(
                what=f"Scoring {n_users} {what} with {type(self).__name__}",
                parts=tuple(parts),
            ),
            getattr(self, "memory_limit", "auto"),
            advice=advice,
        )

    def _finite_raw_scores(self, X_batch):
        """``_raw_scores`` in the scores' dtype; an overflow raises a ValueError."""
        scores = np.asarray(self._raw_scores(X_batch), dtype=self._scores_dtype())
        self._check_finite_scores(scores, X_batch)
        return scores

    def _check_finite_scores(self, values, X_batch):
        """A ValueError if scores ``values`` of ``X_batch`` overflowed."""
        if not all_finite(values):
            raise ValueError(
                f"The scores of these users overflow {values.dtype}: their "
                f"interaction values (largest {X_batch.max():.3g}) are too large "
                f"for this {type(self).__name__} and its parameters. Rescale X, "
                "e.g. binarize it as for training."
            )

    def _row_scores(self, X, *, seen=None, excluded=None, candidates=None):
        """``row_scores(start, stop)``: masked dense scores of rows of ``X``.

        Items with ``seen[u, i] > 0`` (``seen`` defaults to ``X``; pass
        False to mask nothing), the items of ``excluded`` and, when
        ``candidates`` is given, every item outside it score ``-inf``.
        """
        X, seen, blocked = self._score_masks(X, seen, excluded, candidates)

        def row_scores(start, stop):
            scores = self._finite_raw_scores(X[start:stop])
            return mask_scores_inplace(scores, seen, blocked, slice(start, stop))

        return row_scores

    def _score_masks(self, X, seen, excluded, candidates):
        """``X`` and ``seen`` as CSR where sparse; ``blocked``, a bool mask
        of the items no row may rank (None if there are none)."""
        if sparse.issparse(X):
            X = sparse.csr_array(X)
        seen = X if seen is None else seen
        if seen is not False and sparse.issparse(seen):
            seen = sparse.csr_array(seen)
        blocked = None
        if candidates is not None:
            blocked = np.ones(self.n_features_in_, dtype=bool)
            blocked[candidates] = False
        if excluded is not None:
            if blocked is None:
                blocked = np.zeros(self.n_features_in_, dtype=bool)
            blocked[excluded] = True
        return X, seen, blocked

    def _rank(self, X, k, *, seen=None, excluded=None, candidates=None):
        """Top-``k`` column indices and scores of every user of validated ``X``.

        With ``n_jobs``, consecutive batches of users are ranked in parallel
        (:func:`~sklearn_l3ae._core.parallel.run_tasks`; the model, ``X``
        and the masks are shipped to each worker once).  The batches are
        those of the serial loop, so the result does not depend on
        ``n_jobs``.
        """
        n_users = X.shape[0]
        step = self._batch_rows(X)
        n_jobs = getattr(self, "n_jobs", None)
        # On a torch device the batches run in this process, one at a time.
        parallel_run = (
            n_users > step
            and parallel.distributes(n_jobs)
            and getattr(self, "device", None) is None
        )
        workers = parallel.n_workers(n_jobs) if parallel_run else 1
        # Threads and local processes hold their batches in this machine's
        # memory at the same time; Dask workers each hold their own.
        concurrent = 1 if parallel.dask_client() is not None else workers
        self._check_scoring_memory(
            n_users, full_output=False, n_out=k, X=X, concurrent=concurrent
        )
        tasks = [
            (start, stop, k, step)
            for start, stop in parallel.batch_ranges(
                n_users, step, n_jobs if parallel_run else 1
            )
        ]
        items = np.full((n_users, k), -1, dtype=np.int64)
        scores = np.full((n_users, k), -np.inf, dtype=self._scores_dtype())
        with self._scoring_errors(n_users):
            results = parallel.run_tasks(
                _rank_users, (self, X, seen, excluded, candidates), tasks, n_jobs
            )
            for (start, stop, _, _), (part_items, part_scores) in zip(
                tasks, results, strict=True
            ):  # results come as the tasks finish
                items[start:stop], scores[start:stop] = part_items, part_scores
        return items, scores

    def _rank_for_scoring(self, X, k, seen):
        """Ranked column indices and their scores for the scorers: ``seen``
        (the users' own input) is masked, whatever transformed ``X`` is
        scored."""
        check_is_fitted(self)
        X = self._validate_interactions(X, reset=False, dtype=self._scores_dtype())
        return self._rank(X, k, seen=seen)

    def decision_function(self, X):
        """Scores of every item for each user (``X @ coef_`` for item-item models).

        Items a user already interacted with (``X[u, i] > 0``) score ``-inf``
        so that they never rank.  Users need not have been seen in ``fit``
        (fold-in): any rows over the same item columns work, except for
        models that say otherwise (BPR).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of the users to score.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        check_is_fitted(self)
        dtype = self._scores_dtype()
        X = self._validate_interactions(X, reset=False, dtype=dtype)
        self._check_scoring_memory(X.shape[0], full_output=True)
        scores = np.empty((X.shape[0], self.n_features_in_), dtype=dtype)
        with self._scoring_errors(X.shape[0]):
            row_scores, step = self._row_scores(X), self._batch_rows()
            for start in range(0, X.shape[0], step):
                stop = min(start + step, X.shape[0])
                scores[start:stop] = dense_rows(row_scores(start, stop))
        return scores

    def _scoring_errors(self, n_users):
        """A context for scoring ``n_users`` users that turns failures of the
        backend into clear errors (none here; see the item-item models'
        ``device``)."""
        return contextlib.nullcontext()

    def predict(self, X):
        """Top-``top_k`` unseen items for each user, best first.

        Users are processed in batches, so memory stays bounded for any number
        of users.  Equal scores are ordered by increasing item index.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)

        Returns
        -------
        items : ndarray of shape (n_users, min(top_k, n_items))
            Item labels (``item_ids_``) when the model knows them, else
            column indices (int64), as :meth:`recommend` returns them.  Slots
            beyond the user's unseen items hold ``-1`` (``""`` for str
            labels).
        """
        check_is_fitted(self)
        X = self._validate_interactions(X, reset=False, dtype=self._scores_dtype())
        # int(): True passes the Integral constraint but is no array size.
        k = min(int(self.top_k), self.n_features_in_)
        items, _ = self._rank(X, k)
        return self._labelled(items, self._labels(None))

    def score(self, X, y):
        """NDCG@``top_k`` of the recommendations for ``X`` against ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Input interactions (masked from the ranking).
        y : {array-like, sparse matrix} of shape (n_users, n_items)
            Held-out interactions of the same users; nonzero means relevant.
            Users without held-out items are skipped.

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            If ``y`` is not shaped like ``X`` or no user has held-out items.
        """
        check_is_fitted(self)
        X = self._validate_interactions(X, reset=False, dtype=self._scores_dtype())
        y_shape = None if ndim_or_none(y) is None else np.shape(y)  # None: ragged
        if y is None or y_shape != X.shape:
            got = "a ragged sequence" if y_shape is None else f"shape {y_shape}"
            raise ValueError(
                f"y must be the held-out interaction matrix of the same users and "
                f"items as X, shape {X.shape}; got {'None' if y is None else got}."
            )
        k = min(int(self.top_k), self.n_features_in_)
        top_items, _ = self._rank(X, k)
        return ndcg_at_k(y, top_items=top_items, k=k)

    def recommend(
        self,
        X_users,
        n=10,
        *,
        filter_seen=True,
        filter_items=None,
        items=None,
        as_labels=None,
    ):
        """The ``n`` best items for each user, with their scores, best first.

        The verb of the `implicit` package: users' rows of interactions in,
        items and scores out.  Users are scored in batches, so memory stays
        bounded for any number of users.  Equal scores are ordered by
        increasing item index.

        Parameters
        ----------
        X_users : {array-like, sparse matrix} of shape (n_users, n_items) \
or (n_items,)
            Interactions of the users (any users: rows over the training
            item columns).  One user's 1-D row gives 1-D results.
        n : int, default=10
            Number of items per user.
        filter_seen : bool, default=True
            Never recommend an item the user interacted with (``X_users[u, i]
            > 0``), as :meth:`decision_function` and :meth:`predict` do.
        filter_items : array-like of items, default=None
            Items never to recommend to anyone (labels or column indices, as
            returned).
        items : array-like of items, default=None
            Rank only these candidate items (labels or column indices);
            ``None`` ranks the whole catalogue.
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        items : ndarray of shape (n_users, n), or (n,) for a 1-D row
            Best first.  Column indices (int64), or labels.  When fewer than
            ``n`` items remain, the rest hold ``-1`` (``""`` for str labels).
            Integer labels may themselves be ``-1``: tell padding by its
            ``-inf`` score.
        scores : ndarray of the same shape
            The items' scores; ``-inf`` in the padded slots (and only there).

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer, or ``filter_items`` or
            ``items`` hold unknown labels or out-of-range indices.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_l3ae import EASERecommender
        >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
        >>> model = EASERecommender(reg=1.0, item_ids=["a", "b", "c", "d"]).fit(X)
        >>> items, scores = model.recommend([[1, 0, 0, 0]], n=2)
        >>> items
        array([['b', 'd']], dtype='<U1')
        >>> model.recommend([1, 0, 0, 0], n=2, filter_items=["b"])[0]
        array(['d', 'c'], dtype='<U1')
        >>> model.recommend([1, 0, 0, 0], n=2, items=["c", "d"])[0]
        array(['d', 'c'], dtype='<U1')
        """
        check_is_fitted(self)
        n = check_k(n, "n")
        labels = self._labels(as_labels)
        one_row = not sparse.issparse(X_users) and ndim_or_none(X_users) == 1
        if one_row:
            X_users = np.asarray(X_users).reshape(1, -1)
        X = self._validate_interactions(
            X_users, reset=False, dtype=self._scores_dtype()
        )
        masks = {"seen": None if filter_seen else False}
        if filter_items is not None:
            masks["excluded"] = self._item_indices(filter_items, labels, "filter_items")
        if items is not None:
            masks["candidates"] = self._item_indices(items, labels, "items")
        ranked, scores = self._rank(X, n, **masks)
        ranked = self._labelled(ranked, labels)
        return (ranked[0], scores[0]) if one_row else (ranked, scores)


def _rank_users(model, X, seen, excluded, candidates, start, stop, k, step):
    """Top-``k`` of users ``start:stop`` of ``X`` (a worker's task).

    ``start`` is a multiple of ``step``: the batches are the serial loop's.
    """
    row_scores = model._row_scores(
        X, seen=seen, excluded=excluded, candidates=candidates
    )
    return rank_rows(
        lambda first, last: row_scores(start + first, start + last),
        stop - start,
        model.n_features_in_,
        k,
        step=step,
        dtype=model._scores_dtype(),
    )
