"""One-call evaluation of a fitted recommender: metrics x cut-offs x item subsets."""

from ._compute import metric_name, needs_held_out
from ._ranking_metrics import _check_metrics_and_ks
from ._scorer import MetricSet, _check_input_and_held_out
from ._subsets import parse_item_subsets


def _format_table(table, left=()):
    """Rows of str cells as aligned text: columns in ``left`` left, others right."""
    widths = [max(len(cell) for cell in column) for column in zip(*table, strict=True)]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    )


class RankingReport:
    """Ranking metrics as a tidy table: one record per (subset, metric, k).

    Returned by :func:`evaluate`.  ``print(report)`` shows one line per
    subset and metric with the cut-offs as columns; :meth:`to_frame` gives
    the tidy table as a pandas DataFrame.

    Parameters
    ----------
    records : list of dict
        Each with keys ``item_subset`` (``"all"``, ``"head"`` or ``"tail"``),
        ``n_users``, ``metric``, ``k``, ``score``.

    Attributes
    ----------
    records : list of dict
        The table, one dict per row.
    """

    def __init__(self, records):
        self.records = records

    def score(self, metric, k, item_subset=None):
        """The score of ``metric`` at cut-off ``k`` on ``item_subset``.

        ``item_subset`` is None (all items, the report's ``"all"``),
        ``"head"`` or ``"tail"``.
        """
        label = _label(item_subset)
        for record in self.records:
            if (record["item_subset"], record["metric"], record["k"]) == (
                label,
                metric,
                k,
            ):
                return record["score"]
        raise KeyError(
            f"No score for item_subset={item_subset!r}, metric={metric!r}, k={k}."
        )

    def n_users(self, item_subset=None):
        """Users evaluated on ``item_subset`` (with a relevant held-out item)."""
        label = _label(item_subset)
        for record in self.records:
            if record["item_subset"] == label:
                return record["n_users"]
        raise KeyError(f"No item_subset {item_subset!r} in this report.")

    def to_frame(self):
        """The records as a pandas DataFrame (requires pandas)."""
        import pandas as pd

        return pd.DataFrame.from_records(
            self.records, columns=["item_subset", "n_users", "metric", "k", "score"]
        )

    def __repr__(self):
        ks = list(dict.fromkeys(record["k"] for record in self.records))
        lines = {}
        for record in self.records:
            row = (record["item_subset"], record["n_users"], record["metric"])
            lines.setdefault(row, {})[record["k"]] = record["score"]
        header = ["items", "users", "metric", *(f"@{k}" for k in ks)]
        table = [header] + [
            [subset, str(n_users), metric, *(f"{scores[k]:.4f}" for k in ks)]
            for (subset, n_users, metric), scores in lines.items()
        ]
        return _format_table(table, left=(0, 2))


def evaluate(
    estimator,
    X,
    y,
    *,
    metrics=("recall", "ndcg"),
    ks=(5, 10, 20, 50),
    item_subsets=(None, "head", "tail"),
    head_fraction=0.2,
    item_weights=None,
    item_embeddings=None,
):
    """Evaluate a fitted recommender on held-out interactions.

    Ranks all items once per user of ``X`` (items seen in ``X`` excluded, as
    in :func:`~sklearn_l3ae.metrics.make_ranking_scorer`) at the largest
    cut-off, then computes every metric at every cut-off on all items and on
    the head and tail items.  The head is the ``⌊head_fraction · n_items⌋``
    items most popular in the estimator's training matrix (its fitted
    ``item_popularity_``); on a subset only its items count as relevant and
    only users with one of them held out are evaluated.  A subset without
    such users is reported with 0 users and NaN scores.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        Exposes ``decision_function`` (or ``predict`` returning ranked item
        indices) and, for head/tail, ``item_popularity_`` (on its last step).
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Input interactions of the evaluated users (masked from the ranking).
    y : {array-like, sparse matrix} of shape (n_users, n_items) or None
        Held-out interactions of the same users; values > 0 are relevant.
        None only when no metric needs held-out items (custom metrics made
        with ``needs_held_out=False``).
    metrics : sequence of str or callable, default=("recall", "ndcg")
        Built-in names (``"recall"``, ``"ndcg"``, ``"precision"``,
        ``"map"``, ``"mrr"``, ``"hit_rate"``, ``"coverage"``,
        ``"novelty"``, ``"diversity"``, ``"unbiased_recall"``,
        ``"unbiased_ndcg"``) or custom metrics, as in
        :func:`~sklearn_l3ae.metrics.make_ranking_scorer`.
    ks : sequence of int, default=(5, 10, 20, 50)
        Cut-offs.
    item_subsets : sequence or dict, default=(None, "head", "tail")
        Item subsets to report: ``None`` is all items (reported as
        ``"all"``), ``"head"``, ``"tail"``, explicit boolean masks or item
        index lists (reported as ``"subset"``), or a dict naming them, as
        ``item_subset`` of :func:`~sklearn_l3ae.metrics.make_ranking_scorer`.
    head_fraction : float, default=0.2
        Fraction of the items in the head, in (0, 1).
    item_weights : array-like of shape (n_items,), default=None
        Weighted recall and NDCG; see
        :func:`~sklearn_l3ae.metrics.make_ranking_scorer`.
    item_embeddings : array-like of shape (n_items, n_dims), default=None
        For ``"diversity"``; by default the estimator's own.

    Returns
    -------
    report : RankingReport
        Tidy table with columns item_subset, n_users, metric, k, score.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae import EASERecommender
    >>> from sklearn_l3ae.metrics import evaluate
    >>> X = np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 1, 0],
    ...               [1, 1, 1, 0, 1], [0, 0, 1, 1, 1]])
    >>> y = np.array([[0, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0],
    ...               [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]])
    >>> model = EASERecommender(reg=1.0).fit(X)
    >>> report = evaluate(model, X, y, ks=(1, 3))
    >>> print(report)
    items  users  metric      @1      @3
    all        4  recall  0.7500  1.0000
    all        4  ndcg    0.7500  0.9077
    head       1  recall  1.0000  1.0000
    head       1  ndcg    1.0000  1.0000
    tail       3  recall  0.6667  1.0000
    tail       3  ndcg    0.6667  0.8770
    >>> round(report.score("ndcg", 3, item_subset="tail"), 4)
    0.877
    """
    metrics, ks = _check_metrics_and_ks(metrics, ks)
    subsets, _ = parse_item_subsets(item_subsets, param="item_subsets")
    metric_set = MetricSet(
        metrics, ks, subsets, head_fraction, item_weights, item_embeddings
    )
    X, relevant = _check_input_and_held_out(X, y, metric_set.metrics)
    if not relevant.nnz and all(map(needs_held_out, metric_set.metrics)):
        raise ValueError("No user has a held-out item in y; nothing to evaluate.")
    results = metric_set.compute(estimator, X, relevant)
    return RankingReport(
        [
            {
                "item_subset": _label(subset.label),
                "n_users": results[subset.label][1][key],
                "metric": metric_name(metric),
                "k": k,
                "score": results[subset.label][0][key],
            }
            for subset in metric_set.subsets
            for metric in metric_set.metrics
            for k in metric_set.ks
            for key in [f"{metric_name(metric)}@{k}"]
        ]
    )


def _label(item_subset):
    """How reports name an item subset: ``None`` is ``"all"``."""
    return "all" if item_subset is None else item_subset
