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
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array

from .._core.ranking import batch_rows, mask_seen_inplace, rank_rows
from .._core.validation import check_k
from ._compute import (
    ItemData,
    Ranking,
    input_rows,
    metric_name,
    metric_values,
    needs_held_out,
    wants_input,
)
from ._ranking_metrics import (
    _check_head_fraction,
    _check_relevance,
    _check_top_items,
    _distinct_metrics,
    beyond_accuracy_data,
    check_item_weights,
    check_popularity,
    check_weighted_metrics,
    restrict_relevance,
)
from ._subsets import (
    final_step,
    parse_item_subsets,
    subset_mask,
    training_item_popularity,
)


def _check_input_and_held_out(X, y, metrics):
    """Validate ``X`` (input interactions) and ``y`` (held-out, same shape).

    Returns ``X`` as CSR or a dense array, and ``y > 0`` as a boolean
    ``csr_array`` (empty when ``y`` is None and no metric needs it).
    """
    X = check_array(X, accept_sparse="csr", input_name="X")
    if y is None:
        if any(needs_held_out(metric) for metric in metrics):
            raise ValueError(
                "Ranking scorers need y, the held-out interactions of the users in "
                "X (pass it to fit, e.g. GridSearchCV(...).fit(X_train, "
                "y_validation))."
            )
        return X, sparse.csr_array(X.shape, dtype=bool)
    relevant = _check_relevance(y)
    if relevant.shape != X.shape:
        raise ValueError(
            f"y must hold the held-out interactions of the users and items of X, "
            f"shape {X.shape}; got shape {relevant.shape}."
        )
    return X, relevant


def ranked_items(estimator, X, k):
    """The :class:`Ranking` of the top ``k`` items of each user of ``X``.

    Items seen in ``X`` are excluded; the ranking carries the items and
    their scores (None from ``predict``).

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
        return Ranking(*rank(X_final, k, seen=X))
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
        return Ranking(_check_top_items(ranked, X.shape, k))

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
    items, scores = rank_rows(
        row_scores, n_users, n_items, k, step=step, dtype=np.float64
    )
    return Ranking(items, scores)


def _n_train_users(estimator):
    final = final_step(estimator)
    n_users = getattr(final, "n_samples_seen_", None)
    if n_users is None:
        raise ValueError(
            "novelty needs the number of training users: the fitted estimator (or "
            "a Pipeline's last step) must expose n_samples_seen_; "
            f"{type(final).__name__} has none (fitted with an older version? "
            "refit it)."
        )
    return n_users


def _estimator_embeddings(estimator):
    embeddings = getattr(final_step(estimator), "_item_embeddings", None)
    found = None if embeddings is None else embeddings()
    if found is None:
        raise ValueError(
            f"diversity needs item embeddings: {type(final_step(estimator)).__name__}"
            " has none (it is fitted without item_texts or item_embeddings); pass "
            "item_embeddings=... (one row per item) to the scorer or evaluate."
        )
    return found


class MetricSet:
    """What one ranking pass computes: validated metrics, cut-offs, subsets and
    the per-item data they use (weights, embeddings), shared by the scorers
    and :func:`~sklearn_l3ae.metrics.evaluate`."""

    def __init__(self, metrics, ks, subsets, head_fraction, item_weights, embeddings):
        self.metrics = _distinct_metrics(metrics)
        self.ks = list(dict.fromkeys(check_k(value) for value in ks))
        self.subsets = subsets
        _check_head_fraction(head_fraction)
        self.head_fraction = head_fraction
        check_weighted_metrics(self.metrics, item_weights)
        if item_weights is not None:
            check_item_weights(item_weights, np.size(item_weights))
        self.item_weights = item_weights
        self.item_embeddings = embeddings
        keys = {}
        for subset, key in self.names():
            full = subset.key(key)
            where = (
                f"{key!r} on "
                f"{'all items' if subset.label is None else repr(subset.label)}"
            )
            if full in keys:
                raise ValueError(
                    f"Two scores would both be named {full!r}: {keys[full]} and "
                    f"{where}. Rename the custom metric or the item subset."
                )
            keys[full] = where

    def names(self):
        """``(subset, key)`` of every value, in order."""
        return [
            (subset, f"{metric_name(metric)}@{k}")
            for subset in self.subsets
            for metric in self.metrics
            for k in self.ks
        ]

    def _item_data(self, estimator, n_items):
        weights = (
            None
            if self.item_weights is None
            else check_item_weights(self.item_weights, n_items)
        )
        return weights, beyond_accuracy_data(
            self.metrics,
            n_items,
            lambda need_users: check_popularity(
                training_item_popularity(estimator),
                _n_train_users(estimator) if need_users else None,
                n_items,
                need_users,
            ),
            lambda: (
                _estimator_embeddings(estimator)
                if self.item_embeddings is None
                else self.item_embeddings
            ),
        )

    def compute(self, estimator, X, relevant):
        """``{subset label: (scores, n_users)}`` from one ranking of the users.

        ``scores`` and ``n_users`` map ``"{metric}@{k}"`` to the value (NaN
        without users) and to the number of users it averages over.
        """
        n_items = X.shape[1]
        weights, beyond = self._item_data(estimator, n_items)
        masks = {
            s.label: subset_mask(estimator, s, self.head_fraction, n_items)
            for s in self.subsets
        }
        restricted = {
            label: restrict_relevance(relevant, mask, weights)
            for label, mask in masks.items()
        }
        # Only users some metric evaluates are ranked.
        if all(needs_held_out(metric) for metric in self.metrics):
            evaluated = np.zeros(X.shape[0], dtype=bool)
            for subset_relevant in restricted.values():
                evaluated |= np.diff(subset_relevant.indptr) > 0
        else:
            evaluated = np.ones(X.shape[0], dtype=bool)
        if not evaluated.any():
            keys = [f"{metric_name(m)}@{k}" for m in self.metrics for k in self.ks]
            return {
                s.label: (dict.fromkeys(keys, np.nan), dict.fromkeys(keys, 0))
                for s in self.subsets
            }
        ranking = ranked_items(estimator, X[evaluated], max(self.ks))
        if any(wants_input(metric) for metric in self.metrics):
            ranking = ranking._replace(X=input_rows(X[evaluated]))
        return {
            label: metric_values(
                restricted[label][evaluated],
                ranking,
                self.metrics,
                self.ks,
                ItemData(weights=weights, mask=masks[label], **beyond),
            )
            for label in masks
        }


class _RankingScorer:
    """``scorer(estimator, X, y)``; see :func:`make_ranking_scorer`."""

    def __init__(self, metric_set, single):
        self.metric_set = metric_set
        self.single = single

    def __call__(self, estimator, X, y=None):
        X, relevant = _check_input_and_held_out(X, y, self.metric_set.metrics)
        results = self.metric_set.compute(estimator, X, relevant)
        values = {
            subset.key(key): (
                results[subset.label][0][key],
                results[subset.label][1][key],
            )
            for subset, key in self.metric_set.names()
        }
        if not any(n_users for _, n_users in values.values()):
            raise ValueError(
                f"No user in y has a relevant held-out item for {self!r}; the "
                f"metric{'' if self.single else 's'} "
                f"{'is' if self.single else 'are'} undefined on this split."
            )
        if self.single:
            ((value, _),) = values.values()
            return value
        return {key: value for key, (value, _) in values.items()}

    def __repr__(self):
        metric_set = self.metric_set

        def shown(values):
            return repr(values[0]) if self.single else repr(list(values))

        options = ""
        if [s.spec for s in metric_set.subsets] != [None]:
            options += (
                f", item_subset={shown(metric_set.subsets)}, "
                f"head_fraction={metric_set.head_fraction}"
            )
        if metric_set.item_weights is not None:
            options += ", item_weights=<array>"
        if metric_set.item_embeddings is not None:
            options += ", item_embeddings=<array>"
        return (
            f"make_ranking_scorer({shown(metric_set.metrics)}, k="
            f"{metric_set.ks[0] if self.single else list(metric_set.ks)}{options})"
        )


def _as_list(value, scalar_types):
    """``(values, was_scalar)``: one value or a sequence of them, as a list."""
    if value is None or isinstance(value, scalar_types) or not np.iterable(value):
        return [value], True
    values = list(value)
    if not values:
        raise ValueError("Expected at least one value; got an empty sequence.")
    return values, False


def make_ranking_scorer(
    metric,
    k,
    *,
    item_subset=None,
    head_fraction=0.2,
    item_weights=None,
    item_embeddings=None,
):
    """Make a scorer ``scorer(estimator, X, y)`` from ranking metrics.

    The scorer ranks all items for each user of ``X`` (items seen in ``X``
    excluded) once, at the largest cut-off, with the estimator's own ranking
    (``decision_function`` for estimators of other packages; ``predict`` if
    there is no ``decision_function``) and compares the top ``k`` with the
    held-out interactions ``y`` of the same users, as the functions of
    :mod:`sklearn_l3ae.metrics` define.  Users without a relevant held-out
    item are skipped (except by custom metrics made with
    ``needs_held_out=False``).  Higher is better for every metric.

    One metric at one cut-off on one item subset gives a scorer returning a
    float.  Several of any (sequences) give one multi-metric scorer returning
    a dict — scikit-learn's ``scoring`` accepts such a callable, and
    ``refit`` then names one of its keys — with keys ``"{metric}@{k}"``,
    prefixed ``"head_"``, ``"tail_"`` or a named subset's ``"{name}_"`` on
    those subsets.  All its values come from one ranking of each user, where
    a dict of single scorers ranks once per scorer.

    Parameters
    ----------
    metric : str, callable or sequence of them
        Built-in metrics by name: ``"recall"``, ``"ndcg"``, ``"precision"``,
        ``"map"``, ``"mrr"``, ``"hit_rate"``, ``"coverage"`` (see
        :mod:`sklearn_l3ae.metrics`), ``"novelty"`` (from the estimator's
        ``item_popularity_`` and ``n_samples_seen_``) and ``"diversity"``
        (from ``item_embeddings``, else the estimator's own item embeddings),
        ``"unbiased_recall"`` and ``"unbiased_ndcg"`` (inverse-propensity,
        propensity from ``item_popularity_``, as the official L3AE code);
        or custom metrics: functions ``fn(top_items, y_true, ...)`` returning
        one value per user, or :func:`~sklearn_l3ae.metrics.make_ranking_metric`.
    k : int or sequence of int
        Cut-offs, each >= 1.
    item_subset : None, "head", "tail", array-like, dict or sequence, default=None
        ``None`` evaluates all items.  ``"head"``/``"tail"`` count only the
        head/tail items as relevant (users without one are skipped) while
        ranking over all items.  The head is the ``⌊head_fraction ·
        n_items⌋`` items most popular in the estimator's training matrix,
        from its fitted ``item_popularity_`` (a Pipeline's last step), ties
        to the lower item index; see :func:`~sklearn_l3ae.metrics.head_item_mask`.
        An explicit subset is a boolean mask (one entry per item) or a list
        of item (column) indices, keyed ``"subset_"``; a dict names several,
        e.g. ``{"promoted": mask, "tail": "tail"}``.  A sequence of any of
        these evaluates each.
    head_fraction : float, default=0.2
        Fraction of the items in the head, in (0, 1).
    item_weights : array-like of shape (n_items,), default=None
        Non-negative item weights (price, margin, a promoted flag): recall
        and NDCG become weighted recall (hit weights over the user's held-out
        weights) and weighted NDCG (gains ``w_i``, the ideal DCG from the
        user's largest held-out weights).  An item of weight 0 is not
        relevant, so users whose held-out items all weigh 0 are skipped.
        Precision, MAP, MRR and hit rate have no weighted form and are
        refused with weights.
    item_embeddings : array-like of shape (n_items, n_dims), default=None
        The embeddings ``"diversity"`` measures distances in; by default the
        fitted estimator's own (of L3AE and the semantic models).

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

    A custom metric, next to NDCG in the same ranking pass:

    >>> price = rng.uniform(1, 50, size=8)
    >>> def revenue_recall(top_items, y_true):
    ...     hit = y_true[np.arange(len(top_items))[:, None], top_items].toarray()
    ...     hit &= top_items >= 0
    ...     return (hit * price[top_items]).sum(1) / (y_true @ price)
    >>> scorer = make_ranking_scorer(["ndcg", revenue_recall], k=5)
    >>> model = EASERecommender(reg=10.0).fit(X)
    >>> sorted(scorer(model, X, y))
    ['ndcg@5', 'revenue_recall@5']
    >>> weighted = make_ranking_scorer("recall", k=5, item_weights=price)
    >>> bool(np.isclose(scorer(model, X, y)["revenue_recall@5"],
    ...                 weighted(model, X, y)))
    True
    """
    metrics, single_metric = _as_list(metric, str)
    ks, single_k = _as_list(k, ())
    subsets, single_subset = parse_item_subsets(item_subset)
    metric_set = MetricSet(
        metrics, ks, subsets, head_fraction, item_weights, item_embeddings
    )
    single = single_metric and single_k and single_subset
    return _RankingScorer(metric_set, single)
