"""Synthetic interactions with Zipf item popularity, and unit text embeddings."""

import numpy as np
from scipy import sparse


def zipf_interactions(
    n_users, n_items, mean_items_per_user=40, exponent=0.8, seed=0, every_item=True
):
    """Binary csr (n_users, n_items); item i is drawn with p ∝ (i + 1)^-exponent.

    With ``every_item`` every item gets at least one interaction so that
    ``XᵀX`` has full support; without it the rows follow the law alone (new
    users arriving at a fitted model).
    """
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** exponent
    p /= p.sum()
    counts = rng.geometric(1.0 / mean_items_per_user, size=n_users)
    users = np.repeat(np.arange(n_users), counts)
    items = rng.choice(n_items, size=users.size, p=p)
    if every_item:
        users = np.concatenate([users, rng.integers(0, n_users, n_items)])
        items = np.concatenate([items, np.arange(n_items)])
    X = sparse.csr_array(
        (np.ones(users.size, dtype=np.float32), (users, items)),
        shape=(n_users, n_items),
    )
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def unit_embeddings(n_items, dim=384, seed=0):
    """Random unit-norm rows, as a normalized sentence encoder produces."""
    F = np.random.default_rng(seed).standard_normal((n_items, dim)).astype(np.float32)
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F


def topic_catalogue(
    n_items,
    n_users=None,
    items_per_user=20,
    items_per_topic=500,
    exponent=0.8,
    in_topic=0.8,
    dim=384,
    seed=0,
):
    """Interactions and text embeddings that share a topic structure.

    Real catalogues are not random: items fall into topics (genres, product
    categories), users favour a few topics, and item texts are closer within
    a topic than across.  Here every item has a topic and a global Zipf
    popularity (``p ∝ rank^-exponent``, ranks shuffled); each user picks one
    to three topics (by their popularity) and draws about ``items_per_user``
    items, a share ``in_topic`` of them within those topics (by popularity)
    and the rest from the whole catalogue.  Embeddings are unit rows: the
    topic's centre plus noise (cosine ~0.5 within a topic, ~0 across).

    Returns
    -------
    X : csr_array of float32, (n_users, n_items), binary
    F : ndarray of float32, (n_items, dim), unit rows
    """
    rng = np.random.default_rng(seed)
    n_users = n_items if n_users is None else n_users
    n_topics = max(1, n_items // items_per_topic)
    topic = rng.integers(0, n_topics, n_items)
    weight = 1.0 / rng.permutation(np.arange(1, n_items + 1)) ** exponent
    # Items sorted by topic, with cumulative weights within each topic.
    order = np.argsort(topic, kind="stable")
    starts = np.searchsorted(topic[order], np.arange(n_topics + 1))
    cumulative = np.cumsum(weight[order])
    topic_weight = np.add.reduceat(weight[order], starts[:-1])
    topic_weight = np.where(np.diff(starts) > 0, topic_weight, 0.0)
    topic_p = topic_weight / topic_weight.sum()

    counts = np.maximum(1, rng.poisson(items_per_user, n_users))
    users = np.repeat(np.arange(n_users), counts)
    n_draws = users.size
    favourite = rng.choice(n_topics, size=(n_users, 3), p=topic_p)
    n_favourite = rng.integers(1, 4, n_users)
    pick = (rng.random(n_draws) * n_favourite[users]).astype(np.int64)
    draw_topic = favourite[users, pick]
    local = rng.random(n_draws) < in_topic
    items = np.empty(n_draws, dtype=np.int64)
    # Within the topic: inverse CDF over the topic's slice of `cumulative`.
    t = draw_topic[local]
    low = np.where(starts[t] > 0, cumulative[starts[t] - 1], 0.0)
    high = cumulative[starts[t + 1] - 1]
    target = low + rng.random(t.size) * (high - low)
    position = np.searchsorted(cumulative, target, side="right")
    position = np.clip(position, starts[t], starts[t + 1] - 1)
    items[local] = order[position]
    p = weight / weight.sum()
    items[~local] = rng.choice(n_items, size=int((~local).sum()), p=p)
    X = sparse.csr_array(
        (np.ones(n_draws, dtype=np.float32), (users, items)),
        shape=(n_users, n_items),
    )
    X.sum_duplicates()
    X.data[:] = 1.0

    centres = rng.standard_normal((n_topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    F = rng.standard_normal((n_items, dim)).astype(np.float32)
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F += centres[topic]
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return X, F
