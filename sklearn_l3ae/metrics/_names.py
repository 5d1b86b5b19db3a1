"""The built-in metric names, by what they need."""

# Accuracy metrics of the (n_users, k) hit matrix; the first two take weights.
ACCURACY_METRICS = ("recall", "ndcg", "precision", "map", "mrr", "hit_rate")
WEIGHTED_METRICS = ("recall", "ndcg")
# Inverse-propensity (debiased) recall and NDCG of the official L3AE code.
DEBIASED_METRICS = ("unbiased_recall", "unbiased_ndcg")
# Metrics of per-item data rather than of the held-out items.
BEYOND_ACCURACY_METRICS = ("novelty", "diversity")
BUILTIN_METRICS = (
    *ACCURACY_METRICS,
    *DEBIASED_METRICS,
    "coverage",
    *BEYOND_ACCURACY_METRICS,
)
# The metrics that read the training popularity of the items.
POPULARITY_METRICS = ("novelty", *DEBIASED_METRICS)
