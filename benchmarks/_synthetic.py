"""Synthetic interactions with Zipf item popularity, and unit text embeddings."""

import numpy as np
from scipy import sparse


def zipf_interactions(n_users, n_items, mean_items_per_user=40, exponent=0.8, seed=0):
    """Binary csr (n_users, n_items); item i is drawn with p ∝ (i + 1)^-exponent.

    Every item gets at least one interaction so that ``XᵀX`` has full support.
    """
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** exponent
    p /= p.sum()
    counts = rng.geometric(1.0 / mean_items_per_user, size=n_users)
    users = np.repeat(np.arange(n_users), counts)
    items = rng.choice(n_items, size=users.size, p=p)
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
