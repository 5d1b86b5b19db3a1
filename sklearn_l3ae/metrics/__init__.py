"""Ranking metrics for top-k recommendation (SPEC §4), scorers and evaluation.

- the metric functions :func:`recall_at_k`, :func:`ndcg_at_k`,
  :func:`precision_at_k`, :func:`map_at_k`, :func:`mrr_at_k`,
  :func:`hit_rate_at_k`, :func:`coverage_at_k`, the beyond-accuracy
  :func:`novelty_at_k` and :func:`diversity_at_k`, the debiased
  :func:`unbiased_recall_at_k` and :func:`unbiased_ndcg_at_k`, several at once with
  :func:`ranking_metrics`, and :func:`head_item_mask`;
- :func:`make_ranking_metric`: a user's own metric, a function of each
  user's top-k list and held-out items, accepted wherever a metric name is
  (see the user guide page "Custom ranking metrics");
- :func:`make_ranking_scorer`, scorers for scikit-learn's model selection;
- :func:`evaluate` and :class:`RankingReport`: a fitted recommender's
  metrics x cut-offs x item subsets, as a table.

Import rule: this subpackage imports the core only; it knows no estimator
class (it ranks through ``decision_function``, ``predict``, or the
package's own ranking protocol).

Every metric compares held-out interactions ``y_true`` (users x items, sparse
or dense; values > 0 are relevant) with a ranking of the items for each user,
given either as scores ``y_score`` (dense, users x items) or as ranked item
indices ``top_items`` (users x at least ``k``, best first, ``-1`` for an empty
slot, e.g. the output of ``predict``).

Definitions, for one user with held-out set ``L`` and ranked list
``i_1, i_2, …`` (``rel_r = 1`` if ``i_r ∈ L``, else 0):

- Recall@K = ``Σ_{r ≤ K} rel_r / |L|``.  The denominator is ``|L|``, as in
  the paper and its official code, not ``min(K, |L|)``: a user with more than
  K held-out items cannot reach 1.
- Precision@K = ``Σ_{r ≤ K} rel_r / K``.
- NDCG@K = DCG / IDCG with binary gains, ``DCG = Σ_{r ≤ K} rel_r / log2(r + 1)``
  and IDCG the DCG of ``min(K, |L|)`` hits.
- MAP@K: ``AP@K = Σ_{r ≤ K} P@r · rel_r / min(K, |L|)``.
- MRR@K = 1 / (rank of the first hit), 0 without a hit in the top K.
- HitRate@K = 1 if there is a hit in the top K, else 0.
- Coverage@K (catalog coverage) = fraction of the items that appear in the
  top K of at least one evaluated user.  It is a property of the whole set
  of recommendations, not an average over users.
- Novelty@K = mean ``−log₂(pop_i / n_train_users)`` over the list, with
  training popularity; Diversity@K = mean pairwise cosine distance of the
  listed items' embeddings.
- With ``item_weights`` ``w``, Recall@K = ``Σ_{hits} w_i / Σ_{i ∈ L} w_i``
  and NDCG@K has gains ``w_i`` and the ideal DCG of the user's largest
  held-out weights; items of weight 0 are not relevant.

Users with no held-out item (after ``item_mask``) are skipped: the per-user
metrics are averaged over the remaining users, and only their
recommendations count towards coverage.  :func:`ranking_metrics` reports
how many users were evaluated and skipped.

``item_mask`` (boolean, one entry per item) restricts relevance, as in the
paper's head/tail evaluation: only held-out items inside the mask count as
relevant (so only users with one of them are evaluated), while the ranking
still runs over all items; coverage is then the fraction of masked items
recommended.  :func:`head_item_mask` builds the head mask from training
popularity.

Tie rule: items are ranked by decreasing score and, among equal scores, by
increasing item (column) index, so a ranking is deterministic.  Items scored
``-inf`` are never ranked.  Scores are expected with the items a user has
already seen set to ``-inf`` (as the estimators' ``decision_function``
returns them); ``X_seen`` does that masking on a copy instead.  Scores may not
be NaN.  Top-k selection uses a partition, never a full sort, and runs over
batches of users so that memory stays bounded.
"""

from ._custom import make_ranking_metric
from ._evaluate import RankingReport, evaluate
from ._ranking_metrics import (
    coverage_at_k,
    diversity_at_k,
    head_item_mask,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    unbiased_ndcg_at_k,
    unbiased_recall_at_k,
)
from ._scorer import make_ranking_scorer

__all__ = [
    "RankingReport",
    "coverage_at_k",
    "diversity_at_k",
    "evaluate",
    "head_item_mask",
    "hit_rate_at_k",
    "make_ranking_metric",
    "make_ranking_scorer",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "unbiased_ndcg_at_k",
    "unbiased_recall_at_k",
]
