"""The supports ``S_j`` of a support-constrained fit (SPEC §7), as lists.

Candidate lists are ``(n_items, k)`` int32 arrays, best first, padded with
``-1`` (:mod:`.neighbors` and :mod:`.sparse_gram` produce them); the
functions here join the co-occurrence and semantic candidates into each
column's support.
"""

import numpy as np


def join_candidates(first, second, third, k):
    """Per row, the distinct valid entries of ``first | second | third``, in
    that priority order, the first ``k`` of them (``-1`` padded).

    Parameters
    ----------
    first, second, third : ndarray of shape (n_rows, m_i), int
        Candidate lists (``-1`` is no candidate); any may have 0 columns.
    k : int

    Returns
    -------
    joined : ndarray of shape (n_rows, k), int32
    """
    candidates = np.concatenate([first, second, third], axis=1).astype(np.int64)
    n_rows, width = candidates.shape
    if width < k:
        candidates = np.pad(candidates, ((0, 0), (0, k - width)), constant_values=-1)
    missing = np.iinfo(np.int64).max
    key = np.where(candidates < 0, missing, candidates)
    order = np.argsort(key, axis=1, kind="stable")
    sorted_key = np.take_along_axis(key, order, axis=1)
    invalid_sorted = sorted_key == missing
    invalid_sorted[:, 1:] |= sorted_key[:, 1:] == sorted_key[:, :-1]
    invalid = np.empty_like(invalid_sorted)
    np.put_along_axis(invalid, order, invalid_sorted, axis=1)
    # Valid entries first, in priority order (a stable sort on the flag).
    compact = np.argsort(invalid, axis=1, kind="stable")[:, :k]
    joined = np.take_along_axis(candidates, compact, axis=1)
    joined[np.take_along_axis(invalid, compact, axis=1)] = -1
    return joined.astype(np.int32)


def supports(cooccurrence, semantic, n_neighbors, semantic_share):
    """The supports ``S_j``: co-occurrence and semantic candidates joined.

    ``round(semantic_share·n_neighbors)`` places go to the best semantic
    candidates and the rest to the best co-occurrence ones; places a side
    cannot fill (too few candidates, or candidates the other side already
    took) go to the other side's next candidates, co-occurrence first.  An
    item without interactions gets semantic neighbours only, an EASE fit
    (``semantic=None``) co-occurrence ones only.

    Parameters
    ----------
    cooccurrence : ndarray of shape (n_items, m), int
        Co-occurrence candidates, best first (``-1`` padded).
    semantic : ndarray of shape (n_items, m'), int or None
        Semantic candidates, best first; ``m' = n_neighbors`` lets semantic
        neighbours fill every place of a column without co-occurrences.
    n_neighbors : int
    semantic_share : float in [0, 1]

    Returns
    -------
    supports : ndarray of shape (n_items, n_neighbors), int32
        ``-1`` padded; the valid entries of a row are distinct and never
        the row's own item.
    """
    n_items = cooccurrence.shape[0]
    if semantic is None:
        semantic = np.empty((n_items, 0), dtype=np.int32)
        semantic_share = 0.0
    n_semantic = int(round(semantic_share * n_neighbors))
    n_cooccurrence = n_neighbors - n_semantic
    out = np.empty((n_items, n_neighbors), dtype=np.int32)
    # In row chunks: the join's temporaries are int64 n x 3k arrays.
    step = max(1, 2**22 // max(1, 3 * n_neighbors))
    for start in range(0, n_items, step):
        rows = slice(start, start + step)
        out[rows] = join_candidates(
            cooccurrence[rows, :n_cooccurrence],
            semantic[rows, :n_semantic],
            np.concatenate(
                [cooccurrence[rows, n_cooccurrence:], semantic[rows, n_semantic:]],
                axis=1,
            ),
            n_neighbors,
        )
    return out


def all_other_items(n_items):
    """Complete supports: row ``j`` lists every item but ``j``, increasing."""
    items = np.arange(n_items, dtype=np.int32)
    others = np.broadcast_to(items, (n_items, n_items))
    keep = ~np.eye(n_items, dtype=bool)
    return others[keep].reshape(n_items, max(n_items - 1, 0))
