"""Ranking scorers that plug into scikit-learn model selection.

A scorer is called as ``scorer(estimator, X, y)``: ``X`` holds the input
interactions of some users (masked from the ranking) and ``y`` the held-out
interactions of the same users.  ``GridSearchCV(...).fit(X, y)`` and
``cross_validate(..., X, y)`` slice both by user, fit on ``X[train]`` (the
estimators ignore ``y``) and score on ``(X[test], y[test])``.  ``y`` may be
sparse for ``GridSearchCV``; ``cross_validate`` and ``cross_val_score``
only accept a dense ``y`` (scikit-learn validates it so): pass
``y.toarray()`` there.

Head/tail scorers split the items by their popularity in the estimator's own
training matrix, read from the fitted ``item_popularity_`` (of the last step
of a Pipeline): inside cross-validation each fold uses its training
popularity, so nothing leaks from the held-out users.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array

from .metrics import (
    _RANK_BATCH_ENTRIES,
    _check_head_fraction,
    _check_k,
    _check_metric,
    _check_relevance,
    _check_top_items,
    _rank_items,
    _ranking_scores,
    _restrict_relevance,
    head_item_mask,
)

_ITEM_SUBSETS = (None, "head", "tail")


def _check_item_subset(item_subset, head_fraction):
    if item_subset not in _ITEM_SUBSETS:
        raise ValueError(
            f"item_subset must be one of {list(_ITEM_SUBSETS)}; got {item_subset!r}."
        )
    _check_head_fraction(head_fraction)


def _training_item_popularity(estimator):
    """The fitted ``item_popularity_`` of ``estimator`` or its last step."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    popularity = getattr(final, "item_popularity_", None)
    if popularity is None:
        raise ValueError(
            "Head/tail scoring needs the fitted estimator (or a Pipeline's last "
            "step) to expose item_popularity_, the number of training users per "
            f"item; {type(final).__name__} has none (is it fitted?)."
        )
    return np.asarray(popularity)


def _item_subset_mask(estimator, item_subset, head_fraction, n_items):
    """Boolean item mask of ``item_subset`` ("head"/"tail"), None for all items."""
    if item_subset is None:
        return None
    popularity = _training_item_popularity(estimator)
    if popularity.shape != (n_items,):
        raise ValueError(
            f"The estimator's item_popularity_ has shape {popularity.shape}, but X "
            f"has {n_items} items."
        )
    head = head_item_mask(popularity, head_fraction)
    return head if item_subset == "head" else ~head


def _check_input_and_held_out(X, y):
    """Validate ``X`` (input interactions) and ``y`` (held-out, same shape).

    Returns ``X`` as CSR or a dense array, and ``y > 0`` as a boolean
    ``csr_array``.
    """
    if y is None:
        raise ValueError(
            "Ranking scorers need y, the held-out interactions of the users in X "
            "(pass it to fit, e.g. GridSearchCV(...).fit(X_train, y_validation))."
        )
    X = check_array(X, accept_sparse="csr", input_name="X")
    relevant = _check_relevance(y)
    if relevant.shape != X.shape:
        raise ValueError(
            f"y must hold the held-out interactions of the users and items of X, "
            f"shape {X.shape}; got shape {relevant.shape}."
        )
    return X, relevant


def _recommend(estimator, X, k):
    """Top-``k`` items for each user of ``X``, items seen in ``X`` excluded.

    Uses ``decision_function`` over batches of users when available (seen
    items are masked again here, so any scorer of items works), else the
    ranked item indices returned by ``predict``.
    """
    n_users, n_items = X.shape
    if not hasattr(estimator, "decision_function"):
        if not hasattr(estimator, "predict"):
            raise TypeError(
                "Ranking needs a fitted recommender, with decision_function "
                f"(item scores) or predict (ranked items); got {estimator!r}."
            )
        ranked = np.asarray(estimator.predict(X))
        if (
            ranked.ndim != 2
            or ranked.shape[0] != n_users
            or ranked.shape[1] < k
            or not np.issubdtype(ranked.dtype, np.integer)
        ):
            raise ValueError(
                f"{type(estimator).__name__}.predict must return at least k={k} "
                f"ranked item indices (integers) per user; got shape "
                f"{ranked.shape} and dtype {ranked.dtype}."
            )
        return _check_top_items(ranked, X.shape, k)
    ranked = np.empty((n_users, k), dtype=np.int64)
    # The estimator's own batch_size if it has one (recommenders do).
    step = getattr(estimator, "batch_size", None)
    if step is None:
        step = max(1, _RANK_BATCH_ENTRIES // n_items)
    for start in range(0, n_users, step):
        X_batch = X[start : start + step]
        scores = np.asarray(estimator.decision_function(X_batch))
        if scores.shape != X_batch.shape:
            raise ValueError(
                f"{type(estimator).__name__}.decision_function must return one "
                f"score per item, shape {X_batch.shape}; got {scores.shape}."
            )
        ranked[start : start + X_batch.shape[0]] = _rank_items(scores, k, X_batch)
    return ranked


class _RankingScorer:
    """``scorer(estimator, X, y)`` computing one ranking metric; see
    :func:`make_ranking_scorer`."""

    def __init__(self, metric, k, item_subset, head_fraction):
        self.metric = metric
        self.k = k
        self.item_subset = item_subset
        self.head_fraction = head_fraction

    def __call__(self, estimator, X, y):
        X, relevant = _check_input_and_held_out(X, y)
        mask = _item_subset_mask(
            estimator, self.item_subset, self.head_fraction, X.shape[1]
        )
        relevant = _restrict_relevance(relevant, mask)
        # Only users with a relevant held-out item are ranked at all.
        evaluated = np.diff(relevant.indptr) > 0
        if not evaluated.any():
            raise ValueError(
                f"No user in y has a relevant held-out item for {self!r}; the "
                "metric is undefined on this split."
            )
        ranked = _recommend(estimator, X[evaluated], self.k)
        scores, _ = _ranking_scores(
            relevant[evaluated], ranked, [self.metric], [self.k], mask
        )
        return scores[f"{self.metric}@{self.k}"]

    def __repr__(self):
        subset = ""
        if self.item_subset is not None:
            subset = (
                f", item_subset={self.item_subset!r}, "
                f"head_fraction={self.head_fraction}"
            )
        return f"make_ranking_scorer({self.metric!r}, k={self.k}{subset})"


def make_ranking_scorer(metric, k, *, item_subset=None, head_fraction=0.2):
    """Make a scorer ``scorer(estimator, X, y)`` from a ranking metric.

    The scorer ranks all items for each user of ``X`` with the estimator's
    ``decision_function`` (items seen in ``X`` excluded; ``predict`` if there
    is no ``decision_function``) and compares the top ``k`` with the held-out
    interactions ``y`` of the same users, as the functions of
    :mod:`sklearn_l3ae.metrics` define.  Users without a relevant held-out
    item are skipped.  Higher is better for every metric.

    Parameters
    ----------
    metric : {"recall", "ndcg", "precision", "map", "mrr", "hit_rate", \
"coverage"}
        Ranking metric.
    k : int
        Cut-off, >= 1.
    item_subset : {None, "head", "tail"}, default=None
        ``None`` evaluates all items.  ``"head"``/``"tail"`` count only the
        head/tail items as relevant (users without one are skipped) while
        ranking over all items.  The head is the ``⌊head_fraction ·
        n_items⌋`` items most popular in the estimator's training matrix,
        from its fitted ``item_popularity_`` (a Pipeline's last step), ties
        to the lower item index; see :func:`~sklearn_l3ae.metrics.head_item_mask`.
    head_fraction : float, default=0.2
        Fraction of the items in the head, in (0, 1).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, usable as ``scoring=`` (alone or
        in a dict) in :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate`.

    See Also
    --------
    sklearn_l3ae.evaluation.evaluate : Many metrics, cut-offs and subsets at
        once.
    sklearn_l3ae.model_selection : Splitters producing ``X`` and ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_l3ae import EASERecommender
    >>> from sklearn_l3ae.scoring import make_ranking_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((60, 8)) < 0.4).astype(float)
    >>> y = (rng.random((60, 8)) < 0.2) & (X == 0)
    >>> all_users = np.arange(60)
    >>> search = GridSearchCV(
    ...     EASERecommender(),
    ...     {"reg": [1.0, 100.0]},
    ...     scoring={"ndcg@5": make_ranking_scorer("ndcg", k=5),
    ...              "tail_recall@5": make_ranking_scorer(
    ...                  "recall", k=5, item_subset="tail")},
    ...     refit="ndcg@5",
    ...     cv=[(all_users, all_users)],
    ... ).fit(X, y)
    >>> sorted(search.best_params_)
    ['reg']
    """
    _check_metric(metric)
    k = _check_k(k)
    _check_item_subset(item_subset, head_fraction)
    return _RankingScorer(metric, k, item_subset, head_fraction)
