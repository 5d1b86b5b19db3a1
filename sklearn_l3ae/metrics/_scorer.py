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

Every scorer ranks each user once, at its largest cut-off, and computes all
its metrics from that ranking; a multi-metric scorer (several metrics,
cut-offs or item subsets, returning a dict) is how a search gets several
numbers from one ranking pass.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array

from .._core.ranking import batch_rows, mask_seen_inplace, rank_rows
from .._core.validation import check_k
from ._ranking_metrics import (
    _check_head_fraction,
    _check_metric,
    _check_relevance,
    _check_top_items,
    _ranking_scores,
    _restrict_relevance,
    head_item_mask,
)

ITEM_SUBSETS = (None, "head", "tail")


def _check_item_subset(item_subset):
    if item_subset is not None and not (
        isinstance(item_subset, str) and item_subset in ITEM_SUBSETS
    ):
        raise ValueError(
            f"item_subset must be one of {list(ITEM_SUBSETS)}; got {item_subset!r}."
        )
    return item_subset


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


def ranked_items(estimator, X, k):
    """Top-``k`` items for each user of ``X``, items seen in ``X`` excluded.

    A recommender of this package (or a Pipeline ending with one) ranks
    through its own batched loop; any other estimator is ranked from its
    ``decision_function`` over batches of users (seen items masked here, so
    any scorer of items works), else from the ranked item indices that
    ``predict`` returns.
    """
    final, X_final = estimator, X
    if isinstance(estimator, Pipeline):
        final = estimator[-1]
        if len(estimator) > 1:
            X_final = estimator[:-1].transform(X)
    rank = getattr(final, "_rank_for_scoring", None)
    if rank is not None:
        return rank(X_final, k, seen=X)
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

    def row_scores(start, stop):
        X_batch = X[start:stop]
        scores = np.array(estimator.decision_function(X_batch), dtype=np.float64)
        if scores.shape != X_batch.shape:
            raise ValueError(
                f"{type(estimator).__name__}.decision_function must return one "
                f"score per item, shape {X_batch.shape}; got {scores.shape}."
            )
        if np.isnan(scores).any():
            raise ValueError(
                f"{type(estimator).__name__}.decision_function returned NaN scores."
            )
        return mask_seen_inplace(scores, X_batch)

    step = batch_rows(n_items, 8, getattr(estimator, "batch_size", None))
    return rank_rows(row_scores, n_users, n_items, k, step=step, dtype=np.float64)[0]


def subset_scores(estimator, X, relevant, metrics, ks, item_subsets, head_fraction):
    """Every metric at every cut-off on every item subset, from one ranking.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
    X : validated input interactions
    relevant : csr_array of bool, held-out ``y > 0``
    metrics, ks : validated metric names and cut-offs
    item_subsets : sequence of None, "head", "tail"
    head_fraction : float

    Returns
    -------
    results : dict
        ``item_subset`` to ``(scores, n_users)``, ``scores`` mapping
        ``"{metric}@{k}"`` to a float (NaN for a subset without users).
    """
    n_items = X.shape[1]
    masks = {
        subset: _item_subset_mask(estimator, subset, head_fraction, n_items)
        for subset in item_subsets
    }
    restricted = {
        subset: _restrict_relevance(relevant, mask) for subset, mask in masks.items()
    }
    # Only users with a relevant held-out item in some subset are ranked.
    evaluated = np.zeros(X.shape[0], dtype=bool)
    for subset_relevant in restricted.values():
        evaluated |= np.diff(subset_relevant.indptr) > 0
    if not evaluated.any():
        undefined = dict.fromkeys((f"{m}@{k}" for m in metrics for k in ks), np.nan)
        return {subset: (dict(undefined), 0) for subset in item_subsets}
    ranked = ranked_items(estimator, X[evaluated], max(ks))
    return {
        subset: _ranking_scores(
            restricted[subset][evaluated], ranked, metrics, ks, masks[subset]
        )
        for subset in item_subsets
    }


def _score_name(item_subset, metric, k):
    return f"{'' if item_subset is None else item_subset + '_'}{metric}@{k}"


class _RankingScorer:
    """``scorer(estimator, X, y)``; see :func:`make_ranking_scorer`."""

    def __init__(self, metrics, ks, item_subsets, head_fraction, single):
        self.metrics = metrics
        self.ks = ks
        self.item_subsets = item_subsets
        self.head_fraction = head_fraction
        self.single = single

    def __call__(self, estimator, X, y):
        X, relevant = _check_input_and_held_out(X, y)
        results = subset_scores(
            estimator,
            X,
            relevant,
            self.metrics,
            self.ks,
            self.item_subsets,
            self.head_fraction,
        )
        if self.single:
            (subset,), (metric,), (k,) = self.item_subsets, self.metrics, self.ks
            scores, n_users = results[subset]
            if n_users == 0:
                raise ValueError(
                    f"No user in y has a relevant held-out item for {self!r}; the "
                    "metric is undefined on this split."
                )
            return scores[f"{metric}@{k}"]
        if not any(n_users for _, n_users in results.values()):
            raise ValueError(
                f"No user in y has a relevant held-out item for {self!r}; the "
                "metrics are undefined on this split."
            )
        return {
            _score_name(subset, metric, k): results[subset][0][f"{metric}@{k}"]
            for subset in self.item_subsets
            for metric in self.metrics
            for k in self.ks
        }

    def __repr__(self):
        def shown(values):
            return repr(values[0]) if self.single else repr(list(values))

        subset = ""
        if self.item_subsets != [None]:
            subset = (
                f", item_subset={shown(self.item_subsets)}, "
                f"head_fraction={self.head_fraction}"
            )
        return (
            f"make_ranking_scorer({shown(self.metrics)}, k="
            f"{self.ks[0] if self.single else list(self.ks)}{subset})"
        )


def _as_list(value, scalar_types):
    """``(values, was_scalar)``: one value or a sequence of them, as a list."""
    if value is None or isinstance(value, scalar_types) or not np.iterable(value):
        return [value], True
    values = list(value)
    if not values:
        raise ValueError("Expected at least one value; got an empty sequence.")
    return values, False


def make_ranking_scorer(metric, k, *, item_subset=None, head_fraction=0.2):
    """Make a scorer ``scorer(estimator, X, y)`` from ranking metrics.

    The scorer ranks all items for each user of ``X`` (items seen in ``X``
    excluded) once, at the largest cut-off, with the estimator's own ranking
    (``decision_function`` for estimators of other packages; ``predict`` if
    there is no ``decision_function``) and compares the top ``k`` with the
    held-out interactions ``y`` of the same users, as the functions of
    :mod:`sklearn_l3ae.metrics` define.  Users without a relevant held-out
    item are skipped.  Higher is better for every metric.

    One metric at one cut-off on one item subset gives a scorer returning a
    float.  Several of any (sequences) give one multi-metric scorer returning
    a dict — scikit-learn's ``scoring`` accepts such a callable, and
    ``refit`` then names one of its keys — with keys ``"{metric}@{k}"``,
    prefixed ``"head_"`` or ``"tail_"`` on those subsets.  All its values
    come from one ranking of each user, where a dict of single scorers ranks
    once per scorer.

    Parameters
    ----------
    metric : str or sequence of str
        From ``"recall"``, ``"ndcg"``, ``"precision"``, ``"map"``,
        ``"mrr"``, ``"hit_rate"``, ``"coverage"``.
    k : int or sequence of int
        Cut-offs, each >= 1.
    item_subset : {None, "head", "tail"} or sequence of them, default=None
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
        ``scorer(estimator, X, y)``, a float or a dict of floats, usable as
        ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate`.

    See Also
    --------
    sklearn_l3ae.metrics.evaluate : Many metrics, cut-offs and subsets at
        once, as a table.
    sklearn_l3ae.model_selection : Splitters producing ``X`` and ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_l3ae import EASERecommender, make_ranking_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((60, 8)) < 0.4).astype(float)
    >>> y = (rng.random((60, 8)) < 0.2) & (X == 0)
    >>> all_users = np.arange(60)
    >>> scorer = make_ranking_scorer(["ndcg", "recall"], k=5,
    ...                              item_subset=[None, "tail"])
    >>> search = GridSearchCV(
    ...     EASERecommender(), {"reg": [1.0, 100.0]}, scoring=scorer,
    ...     refit="ndcg@5", cv=[(all_users, all_users)],
    ... ).fit(X, y)
    >>> sorted(key for key in search.cv_results_ if key.startswith("mean_test"))
    ['mean_test_ndcg@5', 'mean_test_recall@5', 'mean_test_tail_ndcg@5', \
'mean_test_tail_recall@5']
    """
    metrics, single_metric = _as_list(metric, str)
    ks, single_k = _as_list(k, ())
    item_subsets, single_subset = _as_list(item_subset, str)
    metrics = list(dict.fromkeys(_check_metric(name) for name in metrics))
    ks = list(dict.fromkeys(check_k(value) for value in ks))
    item_subsets = list(dict.fromkeys(_check_item_subset(s) for s in item_subsets))
    _check_head_fraction(head_fraction)
    single = single_metric and single_k and single_subset
    return _RankingScorer(metrics, ks, item_subsets, head_fraction, single)
