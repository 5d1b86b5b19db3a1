"""Shared machinery of the recommenders: validation, scoring and ranking."""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from scipy.linalg import eigh
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from . import _closed_form
from ._closed_form import (
    _BLOCK_BYTES,
    _GRAM_ROWS,
    LowRankCorrelation,
    NotPositiveDefiniteError,
    _available_cores,
    gram_matrix,
)
from ._memory import MemoryEstimate, check_dense_fit, check_memory
from ._ranking import mask_seen_inplace, top_k, top_k_indices
from .metrics import _check_k, ndcg_at_k

# Users are scored in batches of about this many bytes of dense scores.
_SCORE_BATCH_BYTES = 64 * 2**20
# Above this many items the smallest Gram eigenvalue is not computed for an
# error message (it would cost a dense eigendecomposition).
_MAX_ITEMS_FOR_EIGENVALUE = 3000


def check_float_dtype(dtype, name="dtype"):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(
            f"The '{name}' parameter must be np.float32 or np.float64, got {dtype!r}."
        ) from exc
    if resolved not in (np.float32, np.float64):
        raise ValueError(
            f"The '{name}' parameter must be np.float32 or np.float64, got {dtype!r}."
        )
    return resolved


def _singular_reason(X):
    """Why ``XᵀX`` is exactly singular, if it is for a cheap-to-see reason."""
    n_users, n_items = X.shape
    if n_users < n_items:
        return f"fewer users ({n_users}) than items ({n_items})"
    counts = np.asarray(abs(X).sum(axis=0)).ravel()
    if (counts == 0).any():
        return f"item column {int(np.flatnonzero(counts == 0)[0])} has no interactions"
    return None


def _or_float64(dtype):
    """Advice to refit in float64, for float32 fits only."""
    return " or use dtype=np.float64" if np.dtype(dtype) == np.float32 else ""


def _gram_diagnosis(X, total, param_text):
    """Explain why ``XᵀX + total·I`` is not positive definite."""
    head = (
        f"XᵀX + ({param_text})·I must be positive definite, but {param_text} = "
        f"{total:g}"
    )
    numerical = (
        f"{head} is too small for the precision of the fit ({X.dtype}): the "
        "Cholesky factorization failed numerically, or the matrix is too "
        "ill-conditioned for its inverse to keep a correct digit. Increase "
        f"{param_text}{_or_float64(X.dtype)}."
    )
    reason = _singular_reason(X)
    if reason is not None:
        if total > 0:
            return f"{numerical} (XᵀX is singular: {reason}.)"
        return (
            f"{head} and XᵀX is singular ({reason}), so its smallest eigenvalue "
            f"is 0: choose {param_text} > 0."
        )
    if X.shape[1] <= _MAX_ITEMS_FOR_EIGENVALUE:
        gram = gram_matrix(X, np.float64)
        smallest = float(eigh(gram, eigvals_only=True, subset_by_index=[0, 0])[0])
        if total > -smallest:
            return numerical
        return (
            f"{head} and the smallest eigenvalue of XᵀX is {smallest:.6g}: choose "
            f"{param_text} > {-smallest:.6g}"
            + (" (with a margin in float32)." if X.dtype == np.float32 else ".")
        )
    return (
        f"{head}, which is not numerically positive definite: increase "
        f"{param_text} (it must exceed minus the smallest eigenvalue of XᵀX)"
        f"{_or_float64(X.dtype)}."
    )


def check_in_range(value, dtype, param_text):
    """Refuse a regularization that the fit's precision cannot represent."""
    largest = float(np.finfo(dtype).max)
    if not abs(value) <= largest:
        raise ValueError(
            f"{param_text} = {value:g} is beyond the range of {np.dtype(dtype)}, the "
            f"precision of the fit (|value| <= {largest:.3g}): choose a smaller "
            f"{param_text}{_or_float64(dtype)}."
        )


def check_regularization(X, total, param_text):
    """Refuse, before any dense work, a shift that cannot make XᵀX definite.

    With ``total <= 0`` and an exactly singular ``XᵀX`` (fewer users than
    items, or an item without interactions) no factorization can succeed.
    A ``total`` beyond the range of ``X.dtype`` is refused too.
    """
    check_in_range(total, X.dtype, param_text)
    if total <= 0 and _singular_reason(X) is not None:
        raise ValueError(_gram_diagnosis(X, total, param_text))


def solve_item_weights(X, total, param_text, solve):
    """Run ``solve()`` and turn a failed Cholesky into an actionable ValueError.

    ``total`` is the diagonal shift of the Gram matrix (e.g. ``reg_X + reg_E``)
    and ``param_text`` how the user spells it.  Call
    :func:`check_regularization` first, before any expensive work.
    Overflow inside ``solve`` is reported by :func:`check_finite_weights`
    as a ValueError, so NumPy's floating-point warnings are silenced.
    """
    try:
        with _overflow_reported_later():
            coef = solve()
    except NotPositiveDefiniteError as exc:
        raise ValueError(_gram_diagnosis(X, total, param_text)) from exc
    return check_finite_weights(coef)


def _overflow_reported_later():
    """Silence NumPy's overflow warnings where the finite check follows."""
    return np.errstate(over="ignore", divide="ignore", invalid="ignore")


def _all_finite(values):
    """Whether ``values`` holds no NaN or inf.

    Two reductions (NaN propagates through min and max) instead of an
    ``isfinite`` temporary, which for n x n weights would be a quarter of
    their size.
    """
    return values.size == 0 or bool(np.isfinite([values.min(), values.max()]).all())


def check_finite_weights(coef):
    """``coef`` if all finite, else a ValueError instead of NaN scores later.

    Overflow in a Gram or embedding product (values near the dtype's
    limits) can leave NaN or inf in weights whose factorization succeeded.
    """
    if not _all_finite(coef):
        raise ValueError(
            f"The fitted item-item weights contain NaN or inf: the inputs (the "
            f"interaction values or the item embeddings) or the regularization "
            f"are too large for {coef.dtype} arithmetic. Rescale them (e.g. "
            "normalize the embeddings, binarize X) or use dtype=np.float64."
        )
    return coef


def _ndim(values):
    """``np.ndim(values)``, or None when NumPy cannot make an array of them."""
    try:
        return np.ndim(values)
    except ValueError:  # a ragged nested sequence: validate_data will say so
        return None


def _label_array(item_ids, n_items, owner):
    """``item_ids`` as a 1-D array of unique str or int labels, one per item."""
    # A list of mixed ints and strs would silently become all str.
    ids = (
        item_ids
        if isinstance(item_ids, np.ndarray)
        else np.asarray(item_ids, dtype=object)
    )
    if ids.dtype == object:
        values = ids.ravel().tolist()
        if all(isinstance(value, str) for value in values):
            ids = ids.astype(str)
        elif all(
            isinstance(value, Integral) and not isinstance(value, bool)
            for value in values
        ):
            ids = ids.astype(np.int64)
    if ids.ndim != 1 or ids.dtype.kind not in "iuU":
        raise ValueError(
            f"{owner}'s item_ids must be a 1-D sequence of str or int labels, "
            f"one per item column of X; got {ids.ndim}-D values of dtype {ids.dtype}."
        )
    if len(ids) != n_items:
        raise ValueError(
            f"item_ids has {len(ids)} entries but X has {n_items} item columns; "
            "pass one label per item column of X, in column order."
        )
    labels, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"item_ids must be unique, but {labels[counts > 1][0]!r} appears "
            f"{counts[counts > 1][0]} times."
        )
    return ids


def check_penalty(X, reg, dropout, param_text):
    """Refuse, before any dense work, a penalty that cannot make XᵀX + Λ definite.

    Without dropout this is :func:`~sklearn_l3ae._base.check_regularization`.
    With dropout, ``XᵀX + Λ`` can be definite for ``reg <= 0`` even when
    ``XᵀX`` is singular, except that an item without interactions keeps the
    diagonal entry ``reg`` alone.
    """
    if not dropout:
        check_regularization(X, reg, param_text)
        return
    check_in_range(reg, X.dtype, param_text)
    if reg > 0:
        return
    counts = np.asarray(abs(X).sum(axis=0)).ravel()
    if (counts == 0).any():
        item = int(np.flatnonzero(counts == 0)[0])
        raise ValueError(
            f"XᵀX + Λ must be positive definite, but item column {item} has no "
            f"interactions, so its diagonal entry is {param_text} = {reg:g} "
            f"whatever the dropout: choose {param_text} > 0."
        )


def solve_penalized_weights(X, reg, dropout, param_text, solve):
    """Run ``solve()``; turn a failed Cholesky into an actionable ValueError.

    Without dropout the diagnosis of
    :func:`~sklearn_l3ae._base.solve_item_weights` applies (a uniform shift of
    ``XᵀX``); with dropout the penalty is not uniform and the message says so.
    """
    if not dropout:
        return solve_item_weights(X, reg, param_text, solve)
    try:
        with _overflow_reported_later():
            coef = solve()
        return check_finite_weights(coef)
    except NotPositiveDefiniteError as exc:
        raise ValueError(
            f"XᵀX + Λ with Λ = ({param_text})·I + dropout / (1 − dropout)·"
            f"diagMat(diag(XᵀX)), {param_text} = {reg:g} and dropout = "
            f"{dropout:g}, is not positive definite in {X.dtype} (the Cholesky "
            f"factorization failed): increase {param_text} or dropout"
            f"{_or_float64(X.dtype)}."
        ) from exc


class BaseRecommender(BaseEstimator):
    """Base class of the recommenders: validation, batched scoring, ranking.

    Subclasses implement ``fit`` (setting ``item_popularity_`` and the
    ``n_features_in_`` of :func:`~sklearn.utils.validation.validate_data`),
    ``_scores_dtype`` and ``_raw_scores(X_batch, rows)``, the dense scores
    of a batch of users (rows ``rows`` of the validated input) before seen
    items are masked.  Their ``item_ids`` constructor parameter, if any,
    becomes ``item_ids_`` when ``fit`` validates ``X``.

    Items given to and returned by :meth:`recommend` (and the item-item
    models' ``similar_items`` and ``explain``) are item labels when the
    model knows them (``item_ids_``), column indices otherwise;
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

    def _validate_interactions(self, X, *, reset, dtype):
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=dtype,
            reset=reset,
        )
        check_non_negative(X, f"{type(self).__name__} (interaction matrix X)")
        if reset:
            self.item_ids_ = self._fitted_item_ids(X.shape[1])
        return X

    def _fitted_item_ids(self, n_items):
        """``item_ids``, else the DataFrame column names of ``X``, else None."""
        owner = type(self).__name__
        names = getattr(self, "feature_names_in_", None)
        item_ids = getattr(self, "item_ids", None)
        if item_ids is None:
            return None if names is None else _label_array(names, n_items, owner)
        ids = _label_array(item_ids, n_items, owner)
        if names is not None and not np.array_equal(ids.astype(str), names.astype(str)):
            raise ValueError(
                f"{owner} got item_ids that differ from the column names of the "
                "DataFrame X; pass one of them, or the same labels in both."
            )
        return ids

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

    @staticmethod
    def _item_popularity(X):
        """Number of users with a positive interaction, per item."""
        if sparse.issparse(X):
            return np.asarray((X > 0).sum(axis=0)).ravel().astype(np.int64)
        return (X > 0).sum(axis=0).astype(np.int64)

    def _scores_dtype(self):
        raise NotImplementedError

    def _raw_scores(self, X_batch, rows):
        raise NotImplementedError

    def _check_fit_memory(self, X, *, n_square, side_bytes=0):
        """Refuse, before allocating, a fit beyond ``memory_limit``.

        ``n_square`` is the number of dense n_items x n_items arrays alive
        at the fit's peak and ``side_bytes`` its O(n_items·d) arrays; the
        row blocks of the products and, for sparse ``X``, the transposed
        copy that :func:`~sklearn_l3ae._closed_form.gram_matrix` makes are
        added here.
        """
        n_items = X.shape[1]
        dtype = np.dtype(X.dtype)
        work = 2 * min(_BLOCK_BYTES, n_items * n_items * dtype.itemsize)
        if n_items > _closed_form._LAPACK_MAX_ORDER:
            # The blocked inverse's panels: about three n x block arrays.
            work += 3 * n_items * _closed_form._INVERSE_BLOCK * dtype.itemsize
        if sparse.issparse(X):
            # XᵀX in row blocks, one per thread, each a sparse product of up
            # to _GRAM_ROWS dense-ish rows; plus the transposed copy of X.
            rows = min(_GRAM_ROWS, n_items) * _available_cores()
            work += rows * n_items * (dtype.itemsize + 8)
            work += X.nnz * (dtype.itemsize + 4) + (n_items + 1) * 8
        check_dense_fit(
            type(self).__name__,
            n_items,
            dtype,
            n_square=n_square,
            memory_limit=getattr(self, "memory_limit", "auto"),
            side_bytes=side_bytes,
            work_bytes=work,
        )

    def _batch_rows(self):
        """Users per scoring batch: ``batch_size``, else about 64 MiB of scores."""
        batch_size = getattr(self, "batch_size", None)
        if batch_size is None:
            itemsize = self._scores_dtype().itemsize
            return max(1, _SCORE_BATCH_BYTES // (self.n_features_in_ * itemsize))
        if (
            not isinstance(batch_size, Integral)
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise ValueError(
                f"batch_size must be a positive integer (users per scoring "
                f"batch) or None, got {batch_size!r}."
            )
        return int(batch_size)

    def _check_scoring_memory(self, n_users, *, full_output, n_out=0, what="users"):
        """Refuse scoring whose batch or output exceeds ``memory_limit``.

        A batch holds the dense scores of its users, the ranking's copy and
        masks (about 4 bytes per score more) and its selected indices;
        ``full_output`` adds the n_users x n_items result of
        :meth:`decision_function`, ``n_out`` the n_users x n_out items and
        scores of :meth:`recommend` and ``similar_items``.
        """
        n_items = self.n_features_in_
        itemsize = self._scores_dtype().itemsize
        rows = min(self._batch_rows(), max(n_users, 1))
        parts = [
            (
                f"scores of a batch of {rows} users",
                rows * n_items * (2 * itemsize + 4),
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

    def _batches(self, X):
        step = self._batch_rows()
        if sparse.issparse(X):
            X = sparse.csr_array(X)
        for start in range(0, X.shape[0], step):
            yield slice(start, min(start + step, X.shape[0])), X[start : start + step]

    def _batch_scores(self, X_batch, rows):
        return mask_seen_inplace(self._finite_raw_scores(X_batch, rows), X_batch)

    def _finite_raw_scores(self, X_batch, rows):
        """``_raw_scores`` in the scores' dtype; an overflow raises a ValueError."""
        scores = np.asarray(self._raw_scores(X_batch, rows), dtype=self._scores_dtype())
        if not _all_finite(scores):
            raise ValueError(
                f"The scores of these users overflow {scores.dtype}: their "
                f"interaction values (largest {X_batch.max():.3g}) are too large "
                f"for this {type(self).__name__} and its parameters. Rescale X, "
                "e.g. binarize it as for training."
            )
        return scores

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
        for rows, X_batch in self._batches(X):
            scores[rows] = self._batch_scores(X_batch, rows)
        return scores

    def predict(self, X):
        """Top-``top_k`` unseen items for each user, best first.

        Users are processed in batches, so memory stays bounded for any number
        of users.  Equal scores are ordered by increasing item index; slots
        beyond the user's unseen items hold ``-1``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)

        Returns
        -------
        items : ndarray of shape (n_users, min(top_k, n_items)), dtype int64
            Item column indices.
        """
        check_is_fitted(self)
        X = self._validate_interactions(X, reset=False, dtype=self._scores_dtype())
        return self._top_items(X)

    def _top_items(self, X):
        self._check_scoring_memory(X.shape[0], full_output=False)
        # int(): True passes the Integral constraint but is no array size.
        k = min(int(self.top_k), self.n_features_in_)
        items = np.empty((X.shape[0], k), dtype=np.int64)
        for rows, X_batch in self._batches(X):
            items[rows] = top_k_indices(self._batch_scores(X_batch, rows), k)
        return items

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
        y_shape = None if _ndim(y) is None else np.shape(y)  # None: ragged
        if y is None or y_shape != X.shape:
            got = "a ragged sequence" if y_shape is None else f"shape {y_shape}"
            raise ValueError(
                f"y must be the held-out interaction matrix of the same users and "
                f"items as X, shape {X.shape}; got {'None' if y is None else got}."
            )
        top_items = self._top_items(X)
        return ndcg_at_k(y, top_items=top_items, k=top_items.shape[1])

    def recommend(
        self, X_users, n=10, *, filter_seen=True, filter_items=None, as_labels=None
    ):
        """The ``n`` best items for each user, with their scores, best first.

        The verb of the `implicit` package, for a batch of users: their
        rows of interactions in, items and scores out.  Users are scored in
        batches, so memory stays bounded for any number of users.  Equal
        scores are ordered by increasing item index.

        Parameters
        ----------
        X_users : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of the users (any users: rows over the training
            item columns).
        n : int, default=10
            Number of items per user.
        filter_seen : bool, default=True
            Never recommend an item the user interacted with (``X_users[u, i]
            > 0``), as :meth:`decision_function` and :meth:`predict` do.
        filter_items : array-like of items, default=None
            Items never to recommend to anyone (labels or column indices, as
            returned).
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        items : ndarray of shape (n_users, n)
            Best first.  Column indices (int64), or labels.  When fewer than
            ``n`` items remain, the rest hold ``-1`` (``""`` for str labels).
            Integer labels may themselves be ``-1``: tell padding by its
            ``-inf`` score.
        scores : ndarray of shape (n_users, n)
            The items' scores; ``-inf`` in the padded slots (and only there).

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer, or ``filter_items`` holds
            unknown labels or out-of-range indices.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_l3ae import EASERecommender
        >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
        >>> model = EASERecommender(reg=1.0, item_ids=["a", "b", "c", "d"]).fit(X)
        >>> items, scores = model.recommend([[1, 0, 0, 0]], n=2)
        >>> items
        array([['b', 'd']], dtype='<U1')
        >>> model.recommend([[1, 0, 0, 0]], n=2, filter_items=["b"])[0]
        array([['d', 'c']], dtype='<U1')
        """
        check_is_fitted(self)
        n = _check_k(n, "n")
        labels = self._labels(as_labels)
        dtype = self._scores_dtype()
        X = self._validate_interactions(X_users, reset=False, dtype=dtype)
        excluded = None
        if filter_items is not None:
            excluded = self._item_indices(filter_items, labels, "filter_items")
        self._check_scoring_memory(X.shape[0], full_output=False, n_out=n)
        k = min(n, self.n_features_in_)
        items = np.full((X.shape[0], n), -1, dtype=np.int64)
        scores = np.full((X.shape[0], n), -np.inf, dtype=dtype)
        for rows, X_batch in self._batches(X):
            if filter_seen:
                batch = self._batch_scores(X_batch, rows)
            else:
                batch = self._finite_raw_scores(X_batch, rows)
            if excluded is not None:
                batch[:, excluded] = -np.inf
            items[rows, :k], scores[rows, :k] = top_k(batch, k)
        return self._labelled(items, labels), scores


class ItemItemRecommender(BaseRecommender):
    """Base class: fitted item-item weights ``coef_`` and scores ``X @ coef_``.

    Subclasses implement ``fit`` and set ``coef_`` (n_items, n_items) and
    ``item_popularity_``.
    """

    def _scores_dtype(self):
        return self.coef_.dtype

    def _raw_scores(self, X_batch, rows):
        return X_batch @ self.coef_

    def similar_items(self, items, n=10, *, source="weights", as_labels=None):
        """The items most related to each given item, with their scores.

        The items of ``items[q]`` are those recommended to a user whose
        history is that item alone: row ``i`` of ``coef_`` (``B``),
        excluding ``i`` itself, best first.  With ``source="semantic"`` the
        row of the semantic correlation ``C`` is used instead: neighbours by
        text alone.  Only the needed rows of ``C`` are formed, never the
        dense n_items x n_items matrix.

        Parameters
        ----------
        items : item or array-like of items
            Labels, or column indices (see ``as_labels``).
        n : int, default=10
            Number of neighbours per item.
        source : {"weights", "semantic"}, default="weights"
            ``"weights"``: the fitted ``B``.  ``"semantic"``: ``C``, for
            models fitted with item texts or embeddings and a semantic
            correlation (L3AE, the semantic and additive EASE baselines).
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        neighbours : ndarray of shape (n,) for one item, (n_queries, n) else
            Best first; ``-1`` (``""`` for str labels) when fewer remain.
        scores : ndarray of the same shape
            ``B[i, j]`` (or ``C[i, j]``); ``-inf`` in the padded slots.
        """
        check_is_fitted(self)
        n = _check_k(n, "n")
        if source not in ("weights", "semantic"):
            raise ValueError(f"source must be 'weights' or 'semantic', got {source!r}.")
        labels = self._labels(as_labels)
        queries = self._item_indices(items, labels, "items")
        rows_of = self.coef_.__getitem__
        if source == "semantic":
            rows_of = self._semantic_rows
        dtype = self._scores_dtype()
        n_items = self.n_features_in_
        flat = queries.reshape(-1)
        self._check_scoring_memory(
            len(flat), full_output=False, n_out=n, what="query items"
        )
        k = min(n, n_items)
        neighbours = np.full((len(flat), n), -1, dtype=np.int64)
        scores = np.full((len(flat), n), -np.inf, dtype=dtype)
        step = self._batch_rows()
        for start in range(0, len(flat), step):
            block = flat[start : start + step]
            batch = np.array(rows_of(block), dtype=dtype)
            batch[np.arange(len(block)), block] = -np.inf
            stop = start + len(block)
            neighbours[start:stop, :k], scores[start:stop, :k] = top_k(batch, k)
        neighbours = self._labelled(neighbours, labels)
        if queries.ndim == 0:
            return neighbours[0], scores[0]
        return neighbours, scores

    def _semantic_rows(self, rows):
        """Rows ``rows`` of the semantic correlation ``C`` of the fitted model."""
        semantic = getattr(self, "semantic_", None)
        if semantic is None:
            raise ValueError(
                f"source='semantic' needs a semantic correlation C, which this "
                f"{type(self).__name__} has only when it is fitted with "
                "item_texts or item_embeddings (L3AERecommender and the "
                "semantic and additive EASE baselines)."
            )
        final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
        factors = getattr(final, "correlation_factors_", None)
        if isinstance(factors, LowRankCorrelation):
            # The rows of dense_correlation's left @ right.T, O(len(rows)·n·d).
            dtype = self._scores_dtype()
            return factors.left[rows].astype(dtype) @ factors.right.astype(dtype).T
        return final.coef_[rows]

    def explain(self, user_row, item, n=None, *, as_labels=None):
        """Why ``item`` scores what it does for one user: its history's shares.

        The score of item ``i`` for user ``u`` is ``x_u B[:, i] = Σ_j x_uj ·
        B[j, i]`` over the items ``j`` of the user's history: each term is an
        exact contribution, not a heuristic.  Together they sum to
        ``decision_function(user_row)[0, i]``.

        Parameters
        ----------
        user_row : {array-like, sparse matrix} of shape (n_items,) or (1, n_items)
            The user's interactions.
        item : item
            The item to explain: a label or a column index (see
            ``as_labels``); not in the user's history.
        n : int, default=None
            Keep the ``n`` largest contributions; ``None`` keeps all.
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        history_items : ndarray of shape (n_contributions,)
            Items of the user's history (``x_uj > 0``), by decreasing
            contribution (ties by increasing index).
        contributions : ndarray of shape (n_contributions,)
            ``x_uj · B[j, i]`` for each of them.

        Raises
        ------
        ValueError
            If ``item`` is unknown or out of range, or in the user's history
            (it is masked from the recommendations, so there is no score to
            explain), or ``user_row`` is not one row.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_l3ae import EASERecommender
        >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
        >>> model = EASERecommender(reg=1.0, dtype=np.float64).fit(X)
        >>> user = [1, 0, 3, 0]  # item 2 weighs three times item 0
        >>> model.decision_function([user]).round(2)
        array([[-inf,  1.6, -inf,  1. ]])
        >>> items, contributions = model.explain(user, 1)
        >>> items, contributions.round(2)
        (array([2, 0]), array([1.2, 0.4]))
        """
        check_is_fitted(self)
        if n is not None:
            n = _check_k(n, "n")
        labels = self._labels(as_labels)
        if not sparse.issparse(user_row) and _ndim(user_row) == 1:
            user_row = np.asarray(user_row).reshape(1, -1)
        X = self._validate_interactions(
            user_row, reset=False, dtype=self._scores_dtype()
        )
        if X.shape[0] != 1:
            raise ValueError(
                f"explain takes one user's interactions, got {X.shape[0]} rows."
            )
        target = self._item_indices(item, labels, "item")
        if target.ndim != 0:
            raise ValueError("explain takes a single item, not a sequence.")
        target = int(target)
        if sparse.issparse(X):
            row = sparse.csr_array(X)
            row.sum_duplicates()
            positive = row.data > 0
            history = row.indices[positive].astype(np.int64)
            weights = row.data[positive]
        else:
            history = np.flatnonzero(X[0] > 0)
            weights = X[0, history]
        if target in history:
            raise ValueError(
                f"item {item!r} is in the user's history: it is masked (scored "
                "-inf) and never recommended, so there is no score to explain."
            )
        contributions = weights * self.coef_[history, target]
        order = np.argsort(-contributions, kind="stable")[:n]
        return self._labelled(history[order], labels), contributions[order]
