"""The ranking metric functions; see :mod:`sklearn_l3ae.metrics`."""

import math
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_array

from .._core.ranking import batch_rows, mask_seen_inplace, rank_rows
from .._core.validation import (
    check_k,
    check_storable,
    entry_positions,
    float_vector_or_none,
)


def _recall(hits, n_relevant):
    return hits.sum(axis=1) / n_relevant


def _precision(hits, n_relevant):
    return hits.sum(axis=1) / hits.shape[1]


def _ndcg(hits, n_relevant):
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return hits @ discounts / ideal


def _average_precision(hits, n_relevant):
    k = hits.shape[1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k)


def _reciprocal_rank(hits, n_relevant):
    return np.where(hits.any(axis=1), 1.0 / (hits.argmax(axis=1) + 1), 0.0)


def _hit_rate(hits, n_relevant):
    return hits.any(axis=1).astype(np.float64)


# Per-user metrics: functions of the (n_users, k) hit matrix and |held-out|.
_PER_USER_METRICS = {
    "recall": _recall,
    "ndcg": _ndcg,
    "precision": _precision,
    "map": _average_precision,
    "mrr": _reciprocal_rank,
    "hit_rate": _hit_rate,
}
_METRICS = (*_PER_USER_METRICS, "coverage")


def _check_metric(metric):
    """Return ``metric`` if it is a known metric name, else raise."""
    if not isinstance(metric, str) or metric not in _METRICS:
        raise ValueError(
            f"Unknown ranking metric {metric!r}; expected one of {list(_METRICS)}."
        )
    return metric


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
    metrics = list(dict.fromkeys(_check_metric(metric) for metric in metrics))
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
    return rank_rows(row_scores, n_users, n_items, k, step=step, dtype=y_score.dtype)[0]


def _check_ranking(y_true, y_score, top_items, k, X_seen):
    """Ranked items (n_users, k) from exactly one of ``y_score``/``top_items``."""
    if (y_score is None) == (top_items is None):
        raise ValueError("Pass exactly one of y_score (scores) or top_items.")
    if top_items is not None:
        if X_seen is not None:
            raise ValueError(
                "X_seen masks scores; it cannot be combined with top_items, which "
                "are taken as already ranked without seen items."
            )
        return _check_top_items(top_items, y_true.shape, k)
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
    return _rank_items(y_score, k, X_seen)


def _hits(relevant, top_items):
    """Boolean (n_users, k): is ``top_items[u, r]`` relevant for user ``u``."""
    rows = np.arange(relevant.shape[0])[:, None]
    # An empty slot (-1) would otherwise address the previous row's last item.
    return (top_items >= 0) & (entry_positions(relevant, rows, top_items) >= 0)


def _ranking_scores(relevant, top_items, metrics, ks, item_mask=None):
    """Metric values of validated inputs; the shared core of this module.

    Parameters
    ----------
    relevant : csr_array of bool, from :func:`_check_relevance`
    top_items : ndarray of shape (n_users, >= max(ks)), validated
    metrics : sequence of metric names
    ks : sequence of int
    item_mask : ndarray of bool or None
        Only used for coverage (relevance is already restricted).

    Returns
    -------
    scores : dict
        ``"{metric}@{k}"`` to float, NaN when no user is evaluated.
    n_users : int
        Number of users with at least one relevant held-out item.
    """
    n_relevant = np.diff(relevant.indptr)
    evaluated = n_relevant > 0
    n_users = int(evaluated.sum())
    top_items = top_items[evaluated]
    hits = _hits(relevant[evaluated], top_items) if n_users else None
    scores = {}
    for metric in metrics:
        for k in ks:
            if n_users == 0:
                value = np.nan
            elif metric == "coverage":
                value = _coverage(top_items[:, :k], item_mask, relevant.shape[1])
            else:
                per_user = _PER_USER_METRICS[metric](hits[:, :k], n_relevant[evaluated])
                value = per_user.mean()
            scores[f"{metric}@{k}"] = float(value)
    return scores, n_users


def _coverage(top_items, item_mask, n_items):
    recommended = np.zeros(n_items, dtype=bool)
    recommended[top_items[top_items >= 0]] = True
    return recommended.mean() if item_mask is None else recommended[item_mask].mean()


def ranking_metrics(
    y_true,
    y_score=None,
    *,
    top_items=None,
    metrics=("recall", "ndcg"),
    ks=(20,),
    item_mask=None,
    X_seen=None,
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
    metrics : sequence of str, default=("recall", "ndcg")
        Names from ``"recall"``, ``"ndcg"``, ``"precision"``, ``"map"``,
        ``"mrr"``, ``"hit_rate"``, ``"coverage"``.
    ks : sequence of int, default=(20,)
        Cut-offs, each >= 1.  A cut-off beyond ``n_items`` ranks all items.
    item_mask : array-like of bool of shape (n_items,), default=None
        Only masked held-out items are relevant (e.g. the tail items); users
        without one are skipped.  The ranking still covers all items.
    X_seen : {array-like, sparse matrix} of shape (n_users, n_items), \
            default=None
        With ``y_score`` only: items with ``X_seen > 0`` are excluded from
        the ranking (``y_score`` itself is not modified).

    Returns
    -------
    results : dict
        ``"{metric}@{k}"`` to float, plus ``"n_users"`` (users evaluated)
        and ``"n_skipped_users"`` (users without a relevant held-out item).

    Raises
    ------
    ValueError
        If no user has a relevant held-out item, or on invalid input.

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
    if item_mask is not None:
        item_mask = _check_item_mask(item_mask, relevant.shape[1])
        relevant = _restrict_relevance(relevant, item_mask)
    ranked = _check_ranking(relevant, y_score, top_items, max(ks), X_seen)
    scores, n_users = _ranking_scores(relevant, ranked, metrics, ks, item_mask)
    if n_users == 0:
        raise ValueError(
            "No user has a relevant held-out item in y_true"
            + ("" if item_mask is None else " inside item_mask")
            + "; the metrics are undefined."
        )
    return {
        **scores,
        "n_users": n_users,
        "n_skipped_users": relevant.shape[0] - n_users,
    }


def _metric_at_k(metric, y_true, y_score, top_items, k, item_mask, X_seen):
    k = check_k(k)
    results = ranking_metrics(
        y_true,
        y_score,
        top_items=top_items,
        metrics=(metric,),
        ks=(k,),
        item_mask=item_mask,
        X_seen=X_seen,
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
