"""The values of every metric from one ranking: the core of the metric functions,
the scorers and :func:`~sklearn_l3ae.metrics.evaluate`.

Inputs are validated by the callers; nothing here checks user input except
what only a metric's own computation can find (a custom metric's return
value, see :mod:`._custom`).
"""

from typing import NamedTuple

import numpy as np
from scipy import sparse

from .._core.ranking import batch_rows
from .._core.validation import entry_positions
from ._beyond_accuracy import diversity_per_user, novelty_per_user, propensity
from ._custom import CustomMetric


class Ranking(NamedTuple):
    """The ranked lists of some users, and what custom metrics may read.

    ``items`` (n_users, >= k) ranked column indices, ``-1`` in empty slots;
    ``scores`` their scores or None (a ranking from ``predict``); ``X`` the
    users' input rows as CSR, or None.
    """

    items: np.ndarray
    scores: np.ndarray | None = None
    X: object = None

    def rows(self, selected):
        return Ranking(
            self.items[selected],
            None if self.scores is None else self.scores[selected],
            None if self.X is None else self.X[selected],
        )


class ItemData(NamedTuple):
    """Per-item data some metrics need, validated, one entry per item.

    ``weights`` (non-negative float64) turn recall and NDCG into their
    weighted forms; ``mask`` restricts coverage; ``popularity`` (training
    users per item) and ``n_train_users`` define novelty; ``embeddings``
    (rows of norm 1 or 0) define diversity.
    """

    weights: np.ndarray | None = None
    mask: np.ndarray | None = None
    popularity: np.ndarray | None = None
    n_train_users: int | None = None
    embeddings: np.ndarray | None = None


def metric_name(metric):
    """The name a metric is reported under: its own, or a custom metric's."""
    return metric.name if isinstance(metric, CustomMetric) else metric


def needs_held_out(metric):
    """Whether a metric only evaluates users with a relevant held-out item."""
    return not isinstance(metric, CustomMetric) or metric.needs_held_out


def wants_input(metric):
    """Whether a metric reads the users' input rows ``X``."""
    return isinstance(metric, CustomMetric) and "X" in metric.inputs


def input_rows(X):
    """Validated input interactions as the ``csr_array`` custom metrics get."""
    if not sparse.issparse(X):
        X = np.asarray(X)
        X = X.astype(np.result_type(X.dtype, np.float32), copy=False)
    return sparse.csr_array(X)


def hits_of(relevant, top_items):
    """Boolean (n_users, k): is ``top_items[u, r]`` relevant for user ``u``."""
    rows = np.arange(relevant.shape[0])[:, None]
    # An empty slot (-1) would otherwise address the previous row's last item.
    return (top_items >= 0) & (entry_positions(relevant, rows, top_items) >= 0)


def _discounts(k):
    return 1.0 / np.log2(np.arange(2, k + 2))


def _ideal_gains(relevant, weights, k):
    """(n_users, k): each user's ``k`` largest held-out weights, 0-padded."""
    n_users = relevant.shape[0]
    rows = np.repeat(np.arange(n_users), np.diff(relevant.indptr))
    # Sorted by user, then by decreasing weight; position = rank within the user.
    held_out = weights[relevant.indices]
    order = np.lexsort((-held_out, rows))
    position = np.arange(rows.size) - relevant.indptr[rows]
    ideal = np.zeros((n_users, k))
    kept = position < k
    ideal[rows[kept], position[kept]] = held_out[order][kept]
    return ideal


def _row_sums(relevant, values):
    """``Σ_{i ∈ L_u} values_i`` for every row ``u`` of canonical CSR ``relevant``."""
    rows = np.repeat(np.arange(relevant.shape[0]), np.diff(relevant.indptr))
    return np.bincount(rows, values[relevant.indices], minlength=relevant.shape[0])


class _Judged:
    """The hits of the evaluated users, their gains when weighted, and their
    inverse-propensity gains for the debiased metrics."""

    def __init__(self, relevant, top_items, weights, popularity=None):
        self.n_relevant = np.diff(relevant.indptr)
        self.hits = hits_of(relevant, top_items)
        self.gains = self.ideal = self.total = None
        if weights is not None:
            self.gains = np.where(self.hits, weights[np.maximum(top_items, 0)], 0.0)
            self.ideal = _ideal_gains(relevant, weights, top_items.shape[1])
            self.total = _row_sums(relevant, weights)
        self.inverse_gains = self.inverse_total = None
        if popularity is not None:
            inverse = 1.0 / propensity(popularity)
            self.inverse_gains = np.where(
                self.hits, inverse[np.maximum(top_items, 0)], 0.0
            )
            self.inverse_total = _row_sums(relevant, inverse)

    def values(self, metric, k):
        hits, n_relevant = self.hits[:, :k], self.n_relevant
        discounts = _discounts(k)
        if metric == "unbiased_recall":  # SPEC §10
            return self.inverse_gains[:, :k].sum(axis=1) / self.inverse_total
        if metric == "unbiased_ndcg":  # the official normalization, SPEC §10
            ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
            dcg = self.inverse_gains[:, :k] @ discounts
            return dcg / ideal / self.inverse_total
        if metric == "recall":
            if self.gains is not None:
                return self.gains[:, :k].sum(axis=1) / self.total
            return hits.sum(axis=1) / n_relevant
        if metric == "ndcg":
            if self.gains is not None:
                return self.gains[:, :k] @ discounts / (self.ideal[:, :k] @ discounts)
            ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
            return hits @ discounts / ideal
        if metric == "precision":
            return hits.sum(axis=1) / k
        if metric == "map":
            precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
            return (precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k)
        if metric == "mrr":
            return np.where(hits.any(axis=1), 1.0 / (hits.argmax(axis=1) + 1), 0.0)
        assert metric == "hit_rate", metric
        return hits.any(axis=1).astype(np.float64)


def _coverage(top_items, item_mask, n_items):
    recommended = np.zeros(n_items, dtype=bool)
    recommended[top_items[top_items >= 0]] = True
    return recommended.mean() if item_mask is None else recommended[item_mask].mean()


def _custom_values(metric, relevant, ranking, k):
    """A custom metric's per-user values, called over batches of users."""
    n_users, n_items = relevant.shape
    step = batch_rows(n_items, 8)
    return np.concatenate(
        [
            metric.per_user(
                relevant[start : start + step],
                ranking.rows(slice(start, start + step)),
                k,
            )
            for start in range(0, n_users, step)
        ]
    )


def metric_values(relevant, ranking, metrics, ks, item_data):
    """Every metric at every cut-off, from validated inputs.

    Parameters
    ----------
    relevant : csr_array of bool, canonical
        Held-out relevance of the ranked users, already restricted to the
        item subset and to positive weights.
    ranking : Ranking
        Of the same users, at least ``max(ks)`` positions.
    metrics : sequence of str or CustomMetric
    ks : sequence of int
    item_data : ItemData

    Returns
    -------
    scores : dict
        ``"{name}@{k}"`` to float, NaN for a metric without users.
    n_users : dict
        ``"{name}@{k}"`` to the number of users it averages over (for
        coverage: whose recommendations count).
    """
    n_items = relevant.shape[1]
    has_held_out = np.diff(relevant.indptr) > 0
    held_out_users = int(has_held_out.sum())
    judged_relevant = relevant[has_held_out]
    judged_ranking = ranking.rows(has_held_out)
    judged = None
    scores, n_users = {}, {}
    for metric in metrics:
        for k in ks:
            key = f"{metric_name(metric)}@{k}"
            if needs_held_out(metric):
                users, metric_relevant, metric_ranking = (
                    held_out_users,
                    judged_relevant,
                    judged_ranking,
                )
            else:
                users, metric_relevant, metric_ranking = (
                    relevant.shape[0],
                    relevant,
                    ranking,
                )
            n_users[key] = users
            if users == 0:
                scores[key] = np.nan
                continue
            top_items = metric_ranking.items[:, :k]
            if isinstance(metric, CustomMetric):
                value = _custom_values(
                    metric, metric_relevant, metric_ranking, k
                ).mean()
            elif metric == "coverage":
                value = _coverage(top_items, item_data.mask, n_items)
            elif metric == "novelty":
                value = novelty_per_user(
                    top_items, item_data.popularity, item_data.n_train_users
                ).mean()
            elif metric == "diversity":
                value = diversity_per_user(top_items, item_data.embeddings).mean()
            else:
                if judged is None:
                    judged = _Judged(
                        judged_relevant,
                        judged_ranking.items[:, : max(ks)],
                        item_data.weights,
                        item_data.popularity,
                    )
                value = judged.values(metric, k).mean()
            scores[key] = float(value)
    return scores, n_users
