"""Beyond-accuracy metrics of a ranked list: novelty and intra-list diversity.

Both are per-user values of the top-k list alone (no held-out item enters
them); :mod:`._compute` averages them over the evaluated users like the
accuracy metrics.
"""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array

# Users per block of the diversity computation, sized so that a block's
# gathered embeddings stay around this many float64 entries.
_DIVERSITY_BLOCK_ENTRIES = 2**22


def check_popularity(item_popularity, n_train_users, n_items, need_users=True):
    """Validated ``(popularity, n_train_users)`` for novelty and the
    debiased metrics (which need no ``n_train_users``: then None)."""
    if item_popularity is None or (need_users and n_train_users is None):
        raise ValueError(
            "novelty needs item_popularity (the number of training users of each "
            "item) and n_train_users (the number of training users); the "
            "unbiased metrics need item_popularity."
        )
    popularity = np.asarray(item_popularity)
    if (
        popularity.shape != (n_items,)
        or popularity.dtype.kind not in "iuf"
        or not np.isfinite(popularity).all()
        or (popularity < 0).any()
    ):
        raise ValueError(
            f"item_popularity must hold {n_items} finite non-negative counts, one "
            f"per item; got shape {popularity.shape} and dtype {popularity.dtype}."
        )
    if not need_users and n_train_users is None:
        return popularity.astype(np.float64), None
    if (
        isinstance(n_train_users, bool)
        or not isinstance(n_train_users, Integral)
        or n_train_users < 1
        or popularity.max(initial=0) > n_train_users
    ):
        raise ValueError(
            "n_train_users must be a positive int, at least the largest "
            f"item_popularity ({popularity.max(initial=0)}); got {n_train_users!r}."
        )
    return popularity.astype(np.float64), int(n_train_users)


def check_item_embeddings(item_embeddings, n_items):
    """Embeddings as float64 rows scaled to norm 1 (zero rows stay zero)."""
    embeddings = check_array(
        item_embeddings, dtype=np.float64, input_name="item_embeddings"
    )
    if embeddings.shape[0] != n_items:
        raise ValueError(
            f"item_embeddings must have one row per item ({n_items}); got "
            f"{embeddings.shape[0]} rows."
        )
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return np.divide(embeddings, norms, out=np.zeros_like(embeddings), where=norms > 0)


def propensity(popularity):
    """``p_i = max((pop_i / max pop)^0.5, 1e-3)``: the official L3AE code's
    item propensity (``data_handler_*.py``), from training popularity."""
    largest = popularity.max(initial=0.0)
    relative = popularity / largest if largest > 0 else np.zeros_like(popularity)
    return np.maximum(np.sqrt(relative), 1e-3)


def novelty_per_user(top_items, popularity, n_train_users):
    """Mean self-information ``−log₂(pop_i / n_train_users)`` of each list.

    An item no training user has counts as if one had (``log₂
    n_train_users``, the largest finite value); an empty list scores 0.
    """
    information = np.log2(n_train_users) - np.log2(np.maximum(popularity, 1.0))
    filled = top_items >= 0
    total = np.where(filled, information[np.maximum(top_items, 0)], 0.0).sum(axis=1)
    count = filled.sum(axis=1)
    return np.divide(total, count, out=np.zeros(len(top_items)), where=count > 0)


def diversity_per_user(top_items, unit_embeddings):
    """Mean pairwise cosine distance ``1 − cos`` of the items of each list.

    With unit rows ``e`` and ``s = Σ e``, the pairs' cosines sum to
    ``(‖s‖² − Σ‖e‖²) / 2``, so no k x k matrix is formed.  A zero embedding
    has cosine 0 with every item; a list of fewer than two items scores 0.
    """
    n_users, k = top_items.shape
    dim = unit_embeddings.shape[1]
    step = max(1, _DIVERSITY_BLOCK_ENTRIES // max(1, k * dim))
    values = np.zeros(n_users)
    for start in range(0, n_users, step):
        items = top_items[start : start + step]
        filled = items >= 0
        vectors = unit_embeddings[np.maximum(items, 0)] * filled[..., None]
        summed = vectors.sum(axis=1)
        cosines = (
            np.einsum("ij,ij->i", summed, summed) - (vectors**2).sum(axis=(1, 2))
        ) / 2
        count = filled.sum(axis=1)
        pairs = count * (count - 1) / 2
        values[start : start + step] = np.divide(
            pairs - cosines, pairs, out=np.zeros(len(items)), where=pairs > 0
        )
    return values
