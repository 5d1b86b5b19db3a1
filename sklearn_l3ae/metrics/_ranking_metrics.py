"""The ranking metric functions; see :mod:`sklearn_l3ae.metrics`."""

import math
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_array

from .._core.ranking import batch_rows, mask_seen_inplace, rank_rows
from .._core.validation import (
    check_k,
    check_number_vector,
    check_storable,
    float_vector_or_none,
)
from ._beyond_accuracy import check_item_embeddings, check_popularity
from ._compute import ItemData, Ranking, input_rows, metric_name, metric_values
from ._custom import CustomMetric, make_ranking_metric
from ._names import (
    ACCURACY_METRICS,
    BUILTIN_METRICS,
    DEBIASED_METRICS,
    POPULARITY_METRICS,
    WEIGHTED_METRICS,
)


def _check_metric(metric):
    """A built-in metric name or a custom metric; a function becomes one."""
    if isinstance(metric, CustomMetric):
        return metric
    if isinstance(metric, str):
        if metric in BUILTIN_METRICS:
            return metric
    elif callable(metric) and not isinstance(metric, type):
        return make_ranking_metric(metric)
    raise ValueError(
        f"Unknown ranking metric {metric!r}; expected one of "
        f"{list(BUILTIN_METRICS)} or a function (see make_ranking_metric)."
    )


def _distinct_metrics(metrics):
    """Validated metrics, repeats dropped; two metrics may not share a name."""
    named = {}
    for metric in map(_check_metric, metrics):
        seen = named.setdefault(metric_name(metric), metric)
        if (
            seen is not metric
            and seen != metric
            and not (isinstance(seen, CustomMetric) and seen.same_as(metric))
        ):
            raise ValueError(
                f"Two ranking metrics are named {metric_name(metric)!r}; give custom "
                "metrics distinct names with make_ranking_metric(fn, name=...)."
            )
    return list(named.values())


def _check_metrics_and_ks(metrics, ks):
    """Distinct, validated metric names and cut-offs; a bare name or int is one."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(ks, Integral):
        ks = [ks]
    for name, value in (("metrics", metrics), ("ks", ks)):
        if not np.iterable(value):
            raise TypeError(
                f"{name} must be one entry or a sequence of them; got {value!r}."
            )
    metrics = _distinct_metrics(metrics)
    ks = list(dict.fromkeys(check_k(k, "each of ks") for k in ks))
    if not metrics or not ks:
        raise ValueError("metrics and ks must each name at least one entry.")
    return metrics, ks


def _check_relevance(y_true):
    """Validate held-out interactions; return ``y_true > 0`` as canonical CSR.

    The result is a ``csr_array`` of booleans with one stored ``True`` per
    relevant (user, item), sorted indices and no duplicates.
    """
    y = sparse.csr_array(check_storable(y_true, "y_true"), copy=True)
    y.sum_duplicates()
    if y.data.size and y.data.min() < 0:
        raise ValueError(
            "y_true must hold non-negative held-out interactions (> 0 means "
            f"relevant); found the negative value {y.data.min()!r}."
        )
    y.data = y.data > 0
    y.eliminate_zeros()
    return y


def _restrict_relevance(relevant, item_mask):
    """Keep only the relevant items inside ``item_mask`` (None keeps all)."""
    if item_mask is None:
        return relevant
    restricted = relevant.copy()
    restricted.data = item_mask[restricted.indices]
    restricted.eliminate_zeros()
    return restricted


def _check_item_mask(item_mask, n_items):
    """Validate a boolean mask with one entry per item."""
    mask = np.asarray(item_mask)
    if mask.dtype != bool or mask.shape != (n_items,):
        raise ValueError(
            f"item_mask must be a boolean array of shape ({n_items},), one entry "
            f"per item; got dtype {mask.dtype} and shape {mask.shape}."
        )
    return mask


def _check_top_items(top_items, shape, k):
    """Validate ranked item indices for ``shape`` = (n_users, n_items)."""
    n_users, n_items = shape
    top_items = np.asarray(top_items)
    if top_items.ndim != 2 or top_items.shape[0] != n_users:
        raise ValueError(
            f"top_items must have shape ({n_users}, >= k): one row of ranked item "
            f"indices per user of y_true; got shape {top_items.shape}."
        )
    if not np.issubdtype(top_items.dtype, np.integer):
        raise ValueError(
            f"top_items must hold integer item indices; got dtype {top_items.dtype}."
            " Scores go in y_score."
        )
    if top_items.shape[1] < k:
        raise ValueError(
            f"top_items ranks {top_items.shape[1]} items per user, fewer than k={k}."
        )
    top_items = top_items[:, :k]
    if ((top_items < -1) | (top_items >= n_items)).any():
        raise ValueError(
            f"top_items must be item indices in [0, {n_items}) or -1 for an empty "
            f"slot; got values in [{top_items.min()}, {top_items.max()}]."
        )
    ordered = np.sort(top_items, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        user = int(np.flatnonzero(repeated.any(axis=1))[0])
        raise ValueError(f"top_items ranks an item twice for user (row) {user}.")
    return top_items


def _rank_items(y_score, k, X_seen=None):
    """Top-``k`` item indices of each row of dense scores, best first.

    Rows are ranked in batches (:func:`~sklearn_l3ae._core.ranking.rank_rows`);
    ``X_seen`` (optional, same shape) sets the scores of seen items to
    ``-inf`` on a copy of each batch.  Ties follow the module's rule; slots
    without a rankable item hold ``-1``.
    """
    n_users, n_items = y_score.shape

    def row_scores(start, stop):
        batch = y_score[start:stop]
        if np.isnan(batch).any():
            row = start + int(np.flatnonzero(np.isnan(batch).any(axis=1))[0])
            raise ValueError(f"y_score contains NaN (first in row {row}).")
        batch = np.array(batch)
        if X_seen is not None:
            mask_seen_inplace(batch, X_seen[start:stop])
        return batch

    step = batch_rows(n_items, y_score.dtype.itemsize)
    return rank_rows(row_scores, n_users, n_items, k, step=step, dtype=y_score.dtype)


def _check_ranking(y_true, y_score, top_items, k, X_seen):
    """The :class:`Ranking` from exactly one of ``y_score``/``top_items``."""
    if (y_score is None) == (top_items is None):
        raise ValueError("Pass exactly one of y_score (scores) or top_items.")
    if top_items is not None:
        if X_seen is not None:
            raise ValueError(
                "X_seen masks scores; it cannot be combined with top_items, which "
                "are taken as already ranked without seen items."
            )
        return Ranking(_check_top_items(top_items, y_true.shape, k))
    if sparse.issparse(y_score):
        raise TypeError("y_score must be a dense array of scores, not sparse.")
    y_score = np.asarray(y_score)
    if y_score.shape != y_true.shape:
        raise ValueError(
            f"y_score must have y_true's shape {y_true.shape}; got {y_score.shape}. "
            "Ranked item indices (e.g. from predict) go in top_items."
        )
    if not np.issubdtype(y_score.dtype, np.floating):
        raise ValueError(
            f"y_score must hold floating-point scores; got dtype {y_score.dtype}. "
            "Ranked item indices (e.g. from predict) go in top_items; cast integer "
            "scores to float."
        )
    if X_seen is not None:
        X_seen = check_array(X_seen, accept_sparse="csr", input_name="X_seen")
        if X_seen.shape != y_true.shape:
            raise ValueError(
                f"X_seen must have y_true's shape {y_true.shape}; got {X_seen.shape}."
            )
    items, scores = _rank_items(y_score, k, X_seen)
    return Ranking(items, scores, None if X_seen is None else input_rows(X_seen))


def check_item_weights(item_weights, n_items):
    """Validated non-negative float64 weights, one per item."""
    return check_number_vector(
        item_weights, n_items, "item_weights", "item", non_negative=True
    )


def check_weighted_metrics(metrics, item_weights):
    """Refuse ``item_weights`` with accuracy metrics that have no weighted form."""
    if item_weights is None:
        return
    unweighted = [
        m
        for m in metrics
        if m in (*ACCURACY_METRICS, *DEBIASED_METRICS) and m not in WEIGHTED_METRICS
    ]
    if unweighted:
        raise ValueError(
            f"item_weights defines weighted {' and '.join(WEIGHTED_METRICS)} only; "
            f"{unweighted} have no weighted form here. Compute them without "
            "item_weights, or as a custom metric (make_ranking_metric)."
        )


def restrict_relevance(relevant, item_mask, weights):
    """Relevant items inside ``item_mask`` with positive weight (None: all)."""
    if weights is not None:
        positive = weights > 0
        item_mask = positive if item_mask is None else item_mask & positive
    return _restrict_relevance(relevant, item_mask)


def ranking_metrics(
    y_true,
    y_score=None,
    *,
    top_items=None,
    metrics=("recall", "ndcg"),
    ks=(20,),
    item_mask=None,
    X_seen=None,
    item_weights=None,
    item_popularity=None,
    n_train_users=None,
    item_embeddings=None,
):
    """Several ranking metrics at several cut-offs, with the users evaluated.

    The ranking is computed once, at the largest cut-off.  See the module
    documentation for the definitions, the tie rule and skipped users.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        Held-out interactions; values > 0 are relevant.  Must be
        non-negative.
    y_score : array-like of shape (n_users, n_items), default=None
        Floating-point scores, higher is better, ``-inf`` for items never to
        recommend (already seen).  Exactly one of ``y_score`` and
        ``top_items`` must be given.
    top_items : array-like of int of shape (n_users, >= max(ks)), default=None
        Ranked item indices, best first, ``-1`` for empty slots (the output
        of an estimator's ``predict``).
    metrics : sequence of str or callable, default=("recall", "ndcg")
        Names from ``"recall"``, ``"ndcg"``, ``"precision"``, ``"map"``,
        ``"mrr"``, ``"hit_rate"``, ``"coverage"``, ``"novelty"``,
        ``"diversity"``, ``"unbiased_recall"``, ``"unbiased_ndcg"``, or
        custom metrics (functions, or :func:`make_ranking_metric`).
    ks : sequence of int, default=(20,)
        Cut-offs, each >= 1.  A cut-off beyond ``n_items`` ranks all items.
    item_mask : array-like of bool of shape (n_items,), default=None
        Only masked held-out items are relevant (e.g. the tail items); users
        without one are skipped.  The ranking still covers all items.
    X_seen : {array-like, sparse matrix} of shape (n_users, n_items), \
            default=None
        With ``y_score`` only: items with ``X_seen > 0`` are excluded from
        the ranking (``y_score`` itself is not modified).  Custom metrics
        that take ``X`` receive these rows.
    item_weights : array-like of shape (n_items,), default=None
        Non-negative item weights (price, margin, a promoted flag) turning
        recall and NDCG into their weighted forms; items of weight 0 are not
        relevant.  Only with recall, NDCG and metrics that need no hits.
    item_popularity : array-like of shape (n_items,), default=None
        For novelty and the unbiased metrics: the number of training users
        of each item.
    n_train_users : int, default=None
        For novelty: the number of training users.
    item_embeddings : array-like of shape (n_items, n_dims), default=None
        For diversity: one embedding per item.

    Returns
    -------
    results : dict
        ``"{metric}@{k}"`` to float, plus ``"n_users"`` (users with a
        relevant held-out item, whom the metrics average over, except custom
        metrics made with ``needs_held_out=False``, which average over all
        users) and ``"n_skipped_users"`` (the others).

    Raises
    ------
    ValueError
        If no user has a relevant held-out item (unless no metric needs
        one), or on invalid input.

    See Also
    --------
    recall_at_k, ndcg_at_k : The same metrics one at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.metrics import ranking_metrics
    >>> y_true = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.0],
    ...                     [0.1, 0.2, 0.3, 0.4],
    ...                     [0.5, 0.4, 0.3, 0.2]])
    >>> ranking_metrics(y_true, y_score, metrics=("recall", "mrr"), ks=(1, 2))
    {'recall@1': 0.25, 'recall@2': 0.75, 'mrr@1': 0.5, 'mrr@2': 0.75, \
'n_users': 2, 'n_skipped_users': 1}
    """
    metrics, ks = _check_metrics_and_ks(metrics, ks)
    relevant = _check_relevance(y_true)
    n_items = relevant.shape[1]
    if item_mask is not None:
        item_mask = _check_item_mask(item_mask, n_items)
    check_weighted_metrics(metrics, item_weights)
    item_data = ItemData(
        weights=None
        if item_weights is None
        else check_item_weights(item_weights, n_items),
        mask=item_mask,
        **beyond_accuracy_data(
            metrics,
            n_items,
            lambda need_users: check_popularity(
                item_popularity, n_train_users, n_items, need_users
            ),
            lambda: item_embeddings,
        ),
    )
    relevant = restrict_relevance(relevant, item_mask, item_data.weights)
    ranking = _check_ranking(relevant, y_score, top_items, max(ks), X_seen)
    scores, n_users = metric_values(relevant, ranking, metrics, ks, item_data)
    held_out_users = int((np.diff(relevant.indptr) > 0).sum())
    if not any(n_users.values()):
        raise ValueError(
            "No user has a relevant held-out item in y_true"
            + ("" if item_mask is None else " inside item_mask")
            + ("" if item_weights is None else " with a positive weight")
            + "; the metrics are undefined."
        )
    return {
        **scores,
        "n_users": held_out_users,
        "n_skipped_users": relevant.shape[0] - held_out_users,
    }


def beyond_accuracy_data(metrics, n_items, popularity, embeddings):
    """The :class:`ItemData` fields novelty and diversity need, if asked for.

    ``popularity(need_users)`` returns validated ``(counts, n_train_users)``
    (``n_train_users`` only for novelty) and ``embeddings()`` the raw
    embeddings; each is called only when needed.
    """
    data = {}
    if any(metric in POPULARITY_METRICS for metric in metrics):
        data["popularity"], data["n_train_users"] = popularity("novelty" in metrics)
    if "diversity" in metrics:
        found = embeddings()
        if found is None:
            raise ValueError(
                "diversity needs item embeddings (one row per item): pass "
                "item_embeddings=..."
            )
        data["embeddings"] = check_item_embeddings(found, n_items)
    return data


def _metric_at_k(metric, y_true, y_score, top_items, k, item_mask, X_seen, **data):
    """One metric at one cut-off through :func:`ranking_metrics`; ``data``
    are its per-item inputs (``item_popularity``, ``item_embeddings``...)."""
    k = check_k(k)
    results = ranking_metrics(
        y_true,
        y_score,
        top_items=top_items,
        metrics=(metric,),
        ks=(k,),
        item_mask=item_mask,
        X_seen=X_seen,
        **data,
    )
    return results[f"{metric}@{k}"]


_PARAMETERS = """\
Parameters
----------
y_true : {array-like, sparse matrix} of shape (n_users, n_items)
    Held-out interactions; values > 0 are relevant.  Must be non-negative.
y_score : array-like of shape (n_users, n_items), default=None
    Floating-point scores, higher is better, ``-inf`` for items never to
    recommend (already seen).  Exactly one of ``y_score`` and ``top_items``
    must be given.
k : int
    Cut-off, >= 1.  A cut-off beyond ``n_items`` ranks all items.
top_items : array-like of int of shape (n_users, >= k), default=None
    Ranked item indices, best first, ``-1`` for empty slots (the output of an
    estimator's ``predict``).
item_mask : array-like of bool of shape (n_items,), default=None
    Only masked held-out items are relevant (e.g. the tail items); users
    without one are skipped.  The ranking still covers all items.
X_seen : {array-like, sparse matrix} of shape (n_users, n_items), default=None
    With ``y_score`` only: items with ``X_seen > 0`` are excluded from the
    ranking (``y_score`` itself is not modified).

Returns
-------
score : float
    Averaged over the users with at least one relevant held-out item;
    :func:`ranking_metrics` also reports how many there are.

Raises
------
ValueError
    If no user has a relevant held-out item, or on invalid input.

"""


def _with_parameters(function):
    """Insert the shared Parameters/Returns/Raises sections into a docstring."""
    indented = "\n".join(
        "    " + line if line else line for line in _PARAMETERS.splitlines()
    )
    function.__doc__ = function.__doc__.replace("    {parameters}", indented)
    return function


@_with_parameters
def recall_at_k(
    y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None
):
    """Recall@K = ``|top-K ∩ held-out| / |held-out|``, averaged over users.

    The denominator is the number of held-out items, not
    ``min(K, |held-out|)`` (paper and official code).

    {parameters}
    See Also
    --------
    ranking_metrics : Several metrics and cut-offs at once.

    Examples
    --------
    >>> from sklearn_l3ae.metrics import recall_at_k
    >>> y_true = [[1, 0, 1, 0]]
    >>> recall_at_k(y_true, [[0.9, 0.8, 0.1, 0.0]], k=2)
    0.5
    >>> recall_at_k(y_true, top_items=[[2, 1]], k=2)
    0.5
    """
    return _metric_at_k("recall", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def ndcg_at_k(y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None):
    """NDCG@K with binary gains, averaged over users.

    ``DCG = Σ_{r ≤ K} rel_r / log2(r + 1)``; ``IDCG`` is the DCG of
    ``min(K, |held-out|)`` hits.

    {parameters}
    See Also
    --------
    sklearn.metrics.ndcg_score : Equal on binary relevance without ties,
        except that it scores users without relevant items as 0.

    Examples
    --------
    >>> from sklearn_l3ae.metrics import ndcg_at_k
    >>> y_true = [[1, 0, 1, 0]]
    >>> round(ndcg_at_k(y_true, [[0.9, 0.8, 0.1, 0.0]], k=2), 4)
    0.6131
    """
    return _metric_at_k("ndcg", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def precision_at_k(
    y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None
):
    """Precision@K = ``|top-K ∩ held-out| / K``, averaged over users.

    {parameters}
    Examples
    --------
    >>> from sklearn_l3ae.metrics import precision_at_k
    >>> precision_at_k([[1, 0, 1, 0]], [[0.9, 0.8, 0.1, 0.0]], k=2)
    0.5
    """
    return _metric_at_k("precision", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def map_at_k(y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None):
    """Mean average precision: ``AP@K = Σ_{r ≤ K} P@r · rel_r / min(K, |held-out|)``.

    {parameters}
    Examples
    --------
    >>> from sklearn_l3ae.metrics import map_at_k
    >>> map_at_k([[1, 0, 1, 0]], [[0.9, 0.8, 0.1, 0.0]], k=3)
    0.8333333333333333
    """
    return _metric_at_k("map", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def mrr_at_k(y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None):
    """Mean reciprocal rank of the first hit in the top K (0 without a hit).

    {parameters}
    Examples
    --------
    >>> from sklearn_l3ae.metrics import mrr_at_k
    >>> mrr_at_k([[0, 0, 1, 0]], [[0.9, 0.8, 0.1, 0.0]], k=3)
    0.3333333333333333
    """
    return _metric_at_k("mrr", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def hit_rate_at_k(
    y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None
):
    """Fraction of users with at least one held-out item in their top K.

    {parameters}
    Examples
    --------
    >>> from sklearn_l3ae.metrics import hit_rate_at_k
    >>> hit_rate_at_k([[0, 0, 1, 0], [1, 0, 0, 0]], top_items=[[0, 1], [0, 1]], k=2)
    0.5
    """
    return _metric_at_k("hit_rate", y_true, y_score, top_items, k, item_mask, X_seen)


@_with_parameters
def coverage_at_k(
    y_true, y_score=None, *, k, top_items=None, item_mask=None, X_seen=None
):
    """Catalog coverage: fraction of items in some evaluated user's top K.

    Only users with a relevant held-out item count; with ``item_mask``, it is
    the fraction of the masked items that are recommended.  The score is not
    an average over users.

    {parameters}
    Examples
    --------
    >>> from sklearn_l3ae.metrics import coverage_at_k
    >>> coverage_at_k([[0, 0, 1, 0], [1, 0, 0, 0]], top_items=[[0, 1], [0, 2]], k=2)
    0.75
    """
    return _metric_at_k("coverage", y_true, y_score, top_items, k, item_mask, X_seen)


def _check_head_fraction(head_fraction):
    if (
        isinstance(head_fraction, bool)
        or not isinstance(head_fraction, Real)
        or not 0 < head_fraction < 1
    ):
        raise ValueError(f"head_fraction must be in (0, 1); got {head_fraction!r}.")


def head_item_mask(item_popularity, head_fraction=0.2):
    """Boolean mask of the head items: the most popular ``head_fraction``.

    The head holds the ``⌊head_fraction · n_items⌋`` items with the largest
    popularity (the official L3AE code's rule, ``int(n_items * 0.2)``); among
    equally popular items the lower index is taken first, so the split is
    deterministic.  The other items are the tail.  Compute popularity on the
    training matrix only (estimators record it as ``item_popularity_``).

    Parameters
    ----------
    item_popularity : array-like of shape (n_items,)
        Non-negative popularity, e.g. the number of training users per item.
    head_fraction : float, default=0.2
        Fraction of the items in the head, in (0, 1).

    Returns
    -------
    mask : ndarray of bool of shape (n_items,)
        True for head items; ``~mask`` is the tail.

    Examples
    --------
    >>> from sklearn_l3ae.metrics import head_item_mask
    >>> head_item_mask([5, 9, 9, 1, 0], head_fraction=0.4)
    array([False,  True,  True, False, False])
    """
    popularity = float_vector_or_none(item_popularity)
    if (
        popularity is None
        or not np.isfinite(popularity).all()
        or (popularity < 0).any()
    ):
        raise ValueError(
            "item_popularity must be a 1-D array of finite non-negative counts, "
            "one per item."
        )
    _check_head_fraction(head_fraction)
    # The tolerance keeps e.g. 0.29 * 100 = 28.999… at 29 items.
    n_head = math.floor(head_fraction * popularity.size + 1e-9)
    mask = np.zeros(popularity.size, dtype=bool)
    mask[np.argsort(-popularity, kind="stable")[:n_head]] = True
    return mask


def novelty_at_k(
    y_true,
    y_score=None,
    *,
    k,
    item_popularity,
    n_train_users,
    top_items=None,
    item_mask=None,
    X_seen=None,
):
    """Novelty: mean self-information of the recommended items, in bits.

    For a user's top-K list ``R``, ``novelty = mean_{i ∈ R} −log₂(pop_i /
    n_train_users)`` with ``pop_i`` the number of training users of item
    ``i``: recommending an item every user knows scores 0, one item in a
    thousand users scores about 10.  An item no training user has counts as
    if one had; an empty list scores 0.  Averaged over the users with a
    relevant held-out item, like the accuracy metrics (``y_true`` and
    ``item_mask`` only select them).

    Parameters
    ----------
    y_true, y_score, k, top_items, item_mask, X_seen
        As for :func:`recall_at_k`.
    item_popularity : array-like of shape (n_items,)
        Training users per item (a fitted estimator's ``item_popularity_``).
    n_train_users : int
        Training users (a fitted estimator's ``n_samples_seen_``).

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_l3ae.metrics import novelty_at_k
    >>> novelty_at_k([[0, 0, 1, 1]], top_items=[[0, 3]], k=2,
    ...              item_popularity=[8, 4, 2, 1], n_train_users=8)
    1.5
    """
    return _metric_at_k(
        "novelty",
        y_true,
        y_score,
        top_items,
        k,
        item_mask,
        X_seen,
        item_popularity=item_popularity,
        n_train_users=n_train_users,
    )


def diversity_at_k(
    y_true,
    y_score=None,
    *,
    k,
    item_embeddings,
    top_items=None,
    item_mask=None,
    X_seen=None,
):
    """Intra-list diversity: mean pairwise cosine distance within the top K.

    For a user's top-K list ``R`` of ``m`` items with embeddings ``e``,
    ``diversity = Σ_{a < b} (1 − cos(e_a, e_b)) / (m(m − 1)/2)``, in [0, 2]
    (0: all recommended items point the same way).  A list of fewer than two
    items scores 0; a zero embedding has cosine 0 with every item.  Averaged
    over the users with a relevant held-out item, like the accuracy metrics.

    Parameters
    ----------
    y_true, y_score, k, top_items, item_mask, X_seen
        As for :func:`recall_at_k`.
    item_embeddings : array-like of shape (n_items, n_dims)
        One embedding per item, e.g. of the item texts.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_l3ae.metrics import diversity_at_k
    >>> embeddings = [[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]]
    >>> diversity_at_k([[1, 0, 0]], top_items=[[0, 1, 2]], k=3,
    ...                item_embeddings=embeddings)
    0.6666666666666666
    """
    return _metric_at_k(
        "diversity",
        y_true,
        y_score,
        top_items,
        k,
        item_mask,
        X_seen,
        item_embeddings=item_embeddings,
    )


def unbiased_recall_at_k(
    y_true, y_score=None, *, k, item_popularity, top_items=None, X_seen=None
):
    """Inverse-propensity Recall@K of the official L3AE/DAN evaluation.

    With propensity ``p_i = max((pop_i / max pop)^0.5, 1e-3)`` from training
    popularity and ``Z = Σ_{i ∈ L} 1/p_i``: ``Σ_{i ∈ R ∩ L} (1/p_i) / Z``,
    averaged over the users with a held-out item.  A hit on a rare item
    counts more than one on a popular item.

    Parameters
    ----------
    y_true, y_score, k, top_items, X_seen
        As for :func:`recall_at_k`.
    item_popularity : array-like of shape (n_items,)
        Training users per item (a fitted estimator's ``item_popularity_``).

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_l3ae.metrics import unbiased_recall_at_k
    >>> unbiased_recall_at_k([[1, 0, 1, 0]], top_items=[[2, 1]], k=2,
    ...                      item_popularity=[16, 16, 4, 1])
    0.6666666666666666
    """
    return _metric_at_k(
        "unbiased_recall",
        y_true,
        y_score,
        top_items,
        k,
        None,
        X_seen,
        item_popularity=item_popularity,
    )


def unbiased_ndcg_at_k(
    y_true, y_score=None, *, k, item_popularity, top_items=None, X_seen=None
):
    """Inverse-propensity NDCG@K, normalized as the official L3AE code does.

    ``(Σ_{r: R_r ∈ L} 1 / (p_{R_r} log₂(r + 1))) / IDCG@K / Z`` with the
    binary ``IDCG`` over ``min(K, |L|)`` positions and ``p``, ``Z`` as in
    :func:`unbiased_recall_at_k` — kept so that numbers compare with the
    paper's.

    Parameters
    ----------
    y_true, y_score, k, top_items, X_seen
        As for :func:`recall_at_k`.
    item_popularity : array-like of shape (n_items,)
        Training users per item.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_l3ae.metrics import unbiased_ndcg_at_k
    >>> round(unbiased_ndcg_at_k([[1, 0, 1, 0]], top_items=[[2, 1]], k=2,
    ...                          item_popularity=[16, 16, 4, 1]), 4)
    0.4088
    """
    return _metric_at_k(
        "unbiased_ndcg",
        y_true,
        y_score,
        top_items,
        k,
        None,
        X_seen,
        item_popularity=item_popularity,
    )
