"""One-call evaluation of a fitted recommender: metrics x cut-offs x item subsets."""

import numpy as np

from ._ranking_metrics import _check_head_fraction, _check_metrics_and_ks
from ._scorer import ITEM_SUBSETS, _check_input_and_held_out, subset_scores


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
    item_subsets=ITEM_SUBSETS,
    head_fraction=0.2,
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
    y : {array-like, sparse matrix} of shape (n_users, n_items)
        Held-out interactions of the same users; values > 0 are relevant.
    metrics : sequence of str, default=("recall", "ndcg")
        Names from ``"recall"``, ``"ndcg"``, ``"precision"``, ``"map"``,
        ``"mrr"``, ``"hit_rate"``, ``"coverage"``; see
        :mod:`sklearn_l3ae.metrics`.
    ks : sequence of int, default=(5, 10, 20, 50)
        Cut-offs.
    item_subsets : sequence of {None, "head", "tail"}, \
default=(None, "head", "tail")
        Item subsets to report; ``None`` is all items (reported as
        ``"all"``).
    head_fraction : float, default=0.2
        Fraction of the items in the head, in (0, 1).

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
    if item_subsets is None or isinstance(item_subsets, str):
        item_subsets = [item_subsets]
    if not np.iterable(item_subsets):
        raise TypeError(
            f"item_subsets must be one of {list(ITEM_SUBSETS)} or a sequence of "
            f"them; got {item_subsets!r}."
        )
    item_subsets = list(item_subsets)
    for subset in item_subsets:
        if subset is not None and not (
            isinstance(subset, str) and subset in ITEM_SUBSETS
        ):
            raise ValueError(
                f"item_subsets must be among {list(ITEM_SUBSETS)}; got {subset!r}."
            )
    item_subsets = list(dict.fromkeys(item_subsets))
    if not item_subsets:
        raise ValueError("item_subsets must name at least one entry.")
    _check_head_fraction(head_fraction)
    X, relevant = _check_input_and_held_out(X, y)
    if not relevant.nnz:
        raise ValueError("No user has a held-out item in y; nothing to evaluate.")
    results = subset_scores(
        estimator, X, relevant, metrics, ks, item_subsets, head_fraction
    )
    return RankingReport(
        [
            {
                "item_subset": _label(subset),
                "n_users": results[subset][1],
                "metric": metric,
                "k": k,
                "score": results[subset][0][f"{metric}@{k}"],
            }
            for subset in item_subsets
            for metric in metrics
            for k in ks
        ]
    )


def _label(item_subset):
    """How reports name an item subset: ``None`` is ``"all"``."""
    return "all" if item_subset is None else item_subset
