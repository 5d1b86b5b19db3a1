"""Ranking metrics for top-k recommendation (SPEC §4).

Each metric takes the held-out interactions ``y_true`` (users x items, sparse
or dense; nonzero means relevant) and the ranked recommendations as
``top_items`` (users x k column indices, best first, ``-1`` for empty slots),
and averages over the users with at least one held-out item.
"""

import numpy as np
from scipy import sparse


def _relevance_of_ranked(y_true, top_items):
    """Binary relevance (n_users, k) of each ranked item, and |held-out| per user."""
    y_true = sparse.csr_array(y_true)
    y_true.eliminate_zeros()
    n_users = y_true.shape[0]
    rows = np.arange(n_users)[:, None]
    valid = top_items >= 0
    hits = np.zeros(top_items.shape, dtype=bool)
    hits[valid] = np.asarray(y_true[np.broadcast_to(rows, top_items.shape)[valid],
                                    top_items[valid]]).ravel() != 0
    return hits, np.diff(y_true.indptr)


def ndcg_at_k(y_true, top_items, k):
    """NDCG@k with binary gains, averaged over users with held-out items.

    ``DCG = Σ_{r ≤ k} rel_r / log2(r + 1)`` over the ranked list and ``IDCG``
    over ``min(k, |held-out|)`` positions.

    Parameters
    ----------
    y_true : {ndarray, sparse matrix} of shape (n_users, n_items)
    top_items : ndarray of shape (n_users, k_max), k_max >= k
    k : int

    Returns
    -------
    ndcg : float
    """
    top_items = np.asarray(top_items)[:, :k]
    hits, n_relevant = _relevance_of_ranked(y_true, top_items)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts[: hits.shape[1]]
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_relevant, k)]
    evaluated = n_relevant > 0
    if not evaluated.any():
        raise ValueError("No user has held-out items in y_true; NDCG is undefined.")
    return float(np.mean(dcg[evaluated] / idcg[evaluated]))
