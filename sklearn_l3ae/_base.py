"""Shared machinery of the item-item recommenders: validation and scoring."""

import numpy as np
from scipy import sparse
from scipy.linalg import eigh
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from ._closed_form import NotPositiveDefiniteError, gram_matrix
from ._ranking import mask_seen_inplace, top_k_indices
from .metrics import ndcg_at_k

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


def _gram_diagnosis(X, total, param_text):
    """Explain why ``XᵀX + total·I`` is not positive definite."""
    head = (
        f"XᵀX + ({param_text})·I must be positive definite, but {param_text} = "
        f"{total:g}"
    )
    numerical = (
        f"{head} is too small for the precision of the fit ({X.dtype}): the "
        "Cholesky factorization failed numerically. Increase "
        f"{param_text} or use dtype=np.float64."
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
            f"{param_text} > {-smallest:.6g} (with a margin in float32)."
        )
    return (
        f"{head}, which is not numerically positive definite: increase "
        f"{param_text} (it must exceed minus the smallest eigenvalue of XᵀX), "
        "or use dtype=np.float64."
    )


def check_regularization(X, total, param_text):
    """Refuse, before any dense work, a shift that cannot make XᵀX definite.

    With ``total <= 0`` and an exactly singular ``XᵀX`` (fewer users than
    items, or an item without interactions) no factorization can succeed.
    """
    if total <= 0 and _singular_reason(X) is not None:
        raise ValueError(_gram_diagnosis(X, total, param_text))


def solve_item_weights(X, total, param_text, solve):
    """Run ``solve()`` and turn a failed Cholesky into an actionable ValueError.

    ``total`` is the diagonal shift of the Gram matrix (e.g. ``reg_X + reg_E``)
    and ``param_text`` how the user spells it.  Call
    :func:`check_regularization` first, before any expensive work.
    """
    try:
        return solve()
    except NotPositiveDefiniteError as exc:
        raise ValueError(_gram_diagnosis(X, total, param_text)) from exc


class BaseRecommender(BaseEstimator):
    """Base class of the recommenders: validation, batched scoring, ranking.

    Subclasses implement ``fit`` (setting ``item_popularity_`` and the
    ``n_features_in_`` of :func:`~sklearn.utils.validation.validate_data`),
    ``_scores_dtype`` and ``_raw_scores(X_batch, rows)``, the dense scores
    of a batch of users (rows ``rows`` of the validated input) before seen
    items are masked.
    """

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
        return X

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

    def _batches(self, X):
        n_items = self.n_features_in_
        step = max(1, _SCORE_BATCH_BYTES // (n_items * self._scores_dtype().itemsize))
        if sparse.issparse(X):
            X = sparse.csr_array(X)
        for start in range(0, X.shape[0], step):
            yield slice(start, min(start + step, X.shape[0])), X[start : start + step]

    def _batch_scores(self, X_batch, rows):
        scores = np.asarray(self._raw_scores(X_batch, rows), dtype=self._scores_dtype())
        return mask_seen_inplace(scores, X_batch)

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
        k = min(self.top_k, self.n_features_in_)
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
        if y is None or np.ndim(y) != 2 or np.shape(y) != X.shape:
            raise ValueError(
                f"y must be the held-out interaction matrix of the same users and "
                f"items as X, shape {X.shape}; got "
                f"{'None' if y is None else f'shape {np.shape(y)}'}."
            )
        top_items = self._top_items(X)
        return ndcg_at_k(y, top_items=top_items, k=top_items.shape[1])


class ItemItemRecommender(BaseRecommender):
    """Base class: fitted item-item weights ``coef_`` and scores ``X @ coef_``.

    Subclasses implement ``fit`` and set ``coef_`` (n_items, n_items) and
    ``item_popularity_``.
    """

    def _scores_dtype(self):
        return self.coef_.dtype

    def _raw_scores(self, X_batch, rows):
        return X_batch @ self.coef_
