"""Neighbour search for support-constrained fits (SPEC §7), arrays in and out.

A support-constrained fit restricts column ``j`` of ``B`` to a support
``S_j``: the strongest co-occurrence neighbours of ``j`` (from ``XᵀX``,
see :mod:`.sparse_gram`) joined with its strongest semantic neighbours,
the largest ``|C[i, j]|``.  For the phase-1 correlation in its structured
form ``C = diagMat(c) + L Rᵀ`` the off-diagonal ``C[i, j] = L_i · R_j`` is
an inner product, so the semantic neighbours of every column are a
maximum-|inner-product| search of the rows of ``R`` over the rows of
``L``: exact in blocks of columns (O(n²·d) work, O(block·n) memory), or
approximate with a faiss inverted-file index.  No dense ``C`` is formed.

Candidate lists (joined into supports by :mod:`.support_lists`) are
``(n_items, k)`` int32 arrays, best first, padded with
``-1``; they never contain the column itself.
"""

import numpy as np

from . import parallel
from .optional import import_optional
from .support_lists import join_candidates

# Exact search beyond this many items would take minutes (n²·d work); the
# "auto" search then uses faiss when it is installed.
EXACT_SEARCH_MAX_ITEMS = 50_000
# Scores computed at once by the exact search: block rows x n_items.
_SEARCH_BLOCK_ENTRIES = 2**24
# faiss inverted file: lists ~ 4·sqrt(n), 16 of them probed per query; its
# k-means trained on 40 rows per list (faiss asks for at least 39) in 10
# iterations.  Building the index is serial work before any search can
# start; with 80 rows per list and faiss's default 25 iterations it took
# twice as long (100 000 topic items, one thread: 13.3 s against 7.0 s) for
# the same probes and recall, there and on the real item texts, since the
# probes are calibrated afterwards (:func:`_calibrate_probes`).
_FAISS_LISTS_PER_SQRT = 4
_FAISS_PROBES = 16
_FAISS_TRAIN_PER_LIST = 40
_FAISS_TRAIN_ITERATIONS = 10
# Columns whose exact neighbours decide whether negative queries are needed,
# and the share of negative neighbours above which they are.
_SIGN_SAMPLE = 256
_NEGATIVE_SHARE = 0.01
# Result slots of one faiss search call (queries x 2(k+1)).
_FAISS_RESULT_ENTRIES = 2**21
# Recall against the exact search that the faiss probes are raised to.
_TARGET_RECALL = 0.95


def top_k_rows(scores, k):
    """Column indices of the ``k`` largest entries of each row, best first.

    Exact.  Instead of a full partition of every row, a threshold per row
    is read off a strided sample of its entries: the ``k``-th largest of a
    subset is at most the ``k``-th largest of the row, so every entry at
    or above it is a candidate and the true top ``k`` are among them; only
    the candidates (about ``16·k`` per row) are sorted.  Ties are broken by
    the lower column index.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_cols), float
        Not modified.  Rows with fewer than ``k`` finite entries are padded
        with ``-1``; ``-inf`` entries are never returned.
    k : int

    Returns
    -------
    indices : ndarray of shape (n_rows, min(k, n_cols)), int64
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0 or n_rows == 0:
        return np.empty((n_rows, k), dtype=np.int64)
    sample_size = max(k, n_cols // 16)
    if sample_size >= n_cols // 2:
        rows, cols = np.nonzero(scores > -np.inf)
    else:
        sample = scores[:, :: n_cols // sample_size]
        threshold = np.partition(sample, sample.shape[1] - k, axis=1)[
            :, sample.shape[1] - k
        ]
        rows, cols = np.nonzero(scores >= threshold[:, None])
    values = scores[rows, cols]
    keep = values > -np.inf
    rows, cols, values = rows[keep], cols[keep], values[keep]
    # Row-major order of nonzero keeps cols increasing within a row, so a
    # stable sort by (row, -value) breaks ties by the lower column.
    order = np.lexsort((-values, rows))
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    rank = np.arange(rows.size) - np.repeat(starts, counts)
    kept = rank < k
    out = np.full((n_rows, k), -1, dtype=np.int64)
    out[rows[kept], rank[kept]] = cols[kept]
    return out


class SemanticSearch:
    """The largest ``|C[i, j]|`` (``i ≠ j``) of columns ``j`` of ``C``.

    Parameters
    ----------
    correlation : LowRankCorrelation or ndarray of shape (n_items, n_items)
        ``C``.  In structured form the search runs on its factors; a dense
        ``C`` (from a custom phase 1) is read column block by column block.
    search : {"exact", "faiss"}, default="exact"
        ``"faiss"`` (structured ``C`` only) searches an approximate inverted
        file index, built once (:meth:`candidates` may be called again).
    dtype : numpy dtype, default=np.float32
        Precision of the exact scores.
    n_jobs : int or None, default=None
        Parallel jobs of the exact search, over blocks of columns
        (:func:`~.parallel.run_tasks`).  The faiss search uses faiss's own
        threads, or on a Dask cluster the workers (:meth:`submit`).
    """

    def __init__(self, correlation, search="exact", dtype=np.float32, n_jobs=None):
        self.correlation = correlation
        self.n_jobs = n_jobs
        left = getattr(correlation, "left", None)
        self.search = search if left is not None else "exact"
        self.dtype = dtype
        self._index = None
        self._signs = None
        self._queries = None
        self._list_of = None
        self._remote = None
        self.recall_ = None

    def candidates(self, k, columns=None):
        """Best first, ``-1`` padded: an int32 array of shape (n_columns, k).

        ``columns`` (default: all) are the columns ``j`` searched.
        """
        correlation = self.correlation
        left = getattr(correlation, "left", None)
        n_items = np.shape(correlation.diagonal if left is not None else correlation)[0]
        columns = (
            np.arange(n_items) if columns is None else np.asarray(columns, np.int64)
        )
        if self.search == "faiss":
            if parallel.dask_client() is not None and parallel.distributes(self.n_jobs):
                return self.submit(k, columns).result()
            if self._index is None:
                (
                    self._index,
                    self._queries,
                    self._list_of,
                    self._signs,
                    self.recall_,
                ) = build_faiss_search(correlation, k)
            order = (
                np.argsort(self._list_of[columns], kind="stable")
                if self._list_of is not None
                else np.arange(columns.size)
            )
            # In process, faiss's own threads search every query.
            found = _faiss_search(
                self._index, self._queries, columns[order], k, self._signs
            )
            out = np.empty_like(found)
            out[order] = found
            return out
        if left is not None:
            shared = (np.asarray(left, dtype=self.dtype), correlation.right, None)
        else:
            shared = (None, None, np.asarray(correlation))
        step = max(1, min(columns.size, _SEARCH_BLOCK_ENTRIES // max(n_items, 1)))
        blocks = [
            columns[start : start + step] for start in range(0, columns.size, step)
        ]
        tasks = [
            (group, k, self.dtype)
            for group in parallel.group_blocks(blocks, self.n_jobs)
        ]
        out = np.full((columns.size, k), -1, dtype=np.int32)
        start = 0
        for found in parallel.run_tasks(_exact_search, shared, tasks, self.n_jobs):
            out[start : start + found.shape[0], : found.shape[1]] = found
            start += found.shape[0]
        return out

    def submit(self, k, columns=None):
        """Start :meth:`candidates`; its ``result()`` waits for them.

        On a Dask cluster (``search="faiss"``, ``n_jobs`` distributing) the
        index is built on a worker and the queries split over the workers
        (:mod:`.faiss_cluster`) while the caller goes on: the sparse fit
        streams ``XᵀX`` meanwhile, and the index is never in this process.
        Elsewhere the candidates are computed now, before the caller goes on.
        """
        if not (
            self.search == "faiss"
            and parallel.dask_client() is not None
            and parallel.distributes(self.n_jobs)
        ):
            return _Finished(self.candidates(k, columns))
        from . import faiss_cluster

        n_items = np.shape(self.correlation.diagonal)[0]
        columns = (
            np.arange(n_items) if columns is None else np.asarray(columns, np.int64)
        )
        if self._remote is None:
            self._remote = faiss_cluster.RemoteSearch(
                parallel.dask_client(), self.correlation, k, self.n_jobs
            )
        return self._remote.submit(columns, k, on_recall=self._set_recall)

    def _set_recall(self, recall):
        self.recall_ = recall


class _Finished:
    """The result of a search that already ran (no worker holds anything)."""

    worker_bytes = 0

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value

    def cancel(self):
        self._value = None


def _exact_search(left, right, C, blocks, k, dtype):
    """Exact candidates of the columns of ``blocks`` (a worker's task).

    ``C[:, j]`` is ``left @ right[j]`` off the diagonal in structured form,
    else the dense ``C``'s column.
    """
    out = []
    for block in blocks:
        if left is not None:
            scores = np.asarray(right[block], dtype=dtype) @ left.T
        else:
            scores = np.array(C[:, block].T, dtype=dtype)
        np.abs(scores, out=scores)
        scores[np.arange(block.size), block] = -np.inf
        found = np.full((block.size, k), -1, dtype=np.int32)
        best = top_k_rows(scores, k)
        found[:, : best.shape[1]] = best
        out.append(found)
    if not out:
        return np.full((0, k), -1, dtype=np.int32)
    return np.concatenate(out)


def build_faiss_search(correlation, k):
    """What the faiss search of ``C``'s columns needs before its queries.

    The database and query vectors (:func:`_search_space`), the index of the
    database and the inverted list of each row (:func:`_faiss_index`), the
    query signs and the probes calibrated on a sample of exact top-``k``
    (:func:`_query_signs`, :func:`_calibrate_probes`).

    Returns
    -------
    index, queries, list_of, signs, recall
        ``list_of`` (the list of each query's row) is None unless the
        queries are the database's own rows, which are then searched in the
        order of their lists: consecutive queries probe mostly the same
        lists, which stay in cache (measured: the search of 100 000 topic
        items 17 % faster, same results).
    """
    database, queries = _search_space(correlation)
    index, lists = _faiss_index(database)
    list_of = lists if database is queries else None
    sample, exact = _exact_sample(database, queries, k)
    signs = _query_signs(database, queries, sample, exact)
    recall = _calibrate_probes(index, queries, sample, exact, signs)
    return index, queries, list_of, signs, recall


def _faiss_index(left, seed=0):
    """An inner-product ``IndexIVFFlat`` of the rows of ``left``, and the
    inverted list of each row (int64).

    About ``4·sqrt(n)`` lists (:func:`train_inverted_file`);
    ``_FAISS_PROBES`` lists are visited per query.
    """
    faiss = import_optional(
        "faiss",
        "neighbor_search='faiss' needs the faiss-cpu package "
        '(pip install "sklearn-l3ae[faiss]").',
    )
    left = np.ascontiguousarray(left, dtype=np.float32)
    n_items, dim = left.shape
    n_lists = int(
        max(
            1,
            min(
                n_items // _FAISS_TRAIN_PER_LIST,
                _FAISS_LISTS_PER_SQRT * np.sqrt(n_items),
            ),
        )
    )
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, n_lists, faiss.METRIC_INNER_PRODUCT)
    train_inverted_file(index, left, seed)
    lists = _add_presized(faiss, index, quantizer, left)
    index.nprobe = min(_FAISS_PROBES, n_lists)
    return index, lists


def train_inverted_file(index, vectors, seed=0):
    """Train ``index``'s k-means on a seeded sample of :data:`_FAISS_TRAIN_PER_LIST`
    rows of ``vectors`` per list, in :data:`_FAISS_TRAIN_ITERATIONS` iterations."""
    n_items = vectors.shape[0]
    n_train = min(n_items, _FAISS_TRAIN_PER_LIST * index.nlist)
    chosen = np.random.default_rng(seed).choice(n_items, n_train, replace=False)
    index.cp.niter = _FAISS_TRAIN_ITERATIONS
    index.train(vectors[np.sort(chosen)])


def _add_presized(faiss, index, quantizer, vectors):
    """``index.add(vectors)`` with each inverted list allocated once at its
    final size.

    ``add`` grows the lists entry by entry, so their capacity ends up to
    twice their size (measured: 1.49x the vectors' bytes at 300 000 x 384).
    Each vector's list is found first (what ``add`` does itself), each list
    is reserved (resized up, then back to empty: the capacity stays), and the
    vectors are added with those lists (``faiss`` is the imported module),
    which are returned.
    """
    _, lists = quantizer.search(vectors, 1)
    lists = np.ascontiguousarray(lists.ravel(), dtype=np.int64)
    counts = np.bincount(lists, minlength=index.nlist)
    inverted = index.invlists
    for number in np.flatnonzero(counts):
        inverted.resize(int(number), int(counts[number]))
        inverted.resize(int(number), 0)
    index.add_core(
        vectors.shape[0], faiss.swig_ptr(vectors), None, faiss.swig_ptr(lists)
    )
    return lists


def _search_space(correlation, n_sample=None, seed=0):
    """Database and query vectors whose inner products rank like ``C[i, j]``.

    Phase 1's ``C[i, j] = F_i · δ_j K F_j`` (``left = F``, ``right = F K
    diagMat(δ)``, ``K`` symmetric positive definite, ``δ_j = 1 − c_jj > 0``).
    With ``W = F K^{1/2}`` it is ``δ_j (W_i · W_j)``: per column ``j`` the
    same order as ``W_i · W_j``, a search whose queries come from the
    database itself — which an inverted-file index serves far better than
    the raw ``F_i · R_j`` (recall@128 on real item texts: 0.48–0.82 raw).
    ``K`` is read back from a sample of rows by least squares; when the
    factors do not have this form the raw ``(left, right)`` are returned.
    """
    left = np.asarray(correlation.left)
    right = np.asarray(correlation.right)
    n_items, dim = left.shape
    delta = 1.0 - np.asarray(correlation.diagonal, dtype=np.float64)
    rng = np.random.default_rng(seed)
    sample = rng.choice(n_items, min(n_items, n_sample or 8 * dim), replace=False)
    A = left[sample].astype(np.float64)
    target = right[sample].astype(np.float64) / delta[sample, None]
    K, *_ = np.linalg.lstsq(A, target, rcond=None)
    # Directions the embeddings do not span are unidentifiable (and do not
    # matter): symmetrize, keep the positive part, and check the result on
    # the sample's own entries of C instead.
    eigenvalues, vectors = np.linalg.eigh((K + K.T) / 2)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    rebuilt = (A @ (vectors * eigenvalues) @ vectors.T) @ A.T * delta[sample]
    expected = A @ right[sample].astype(np.float64).T
    error = np.abs(rebuilt - expected).max() / max(np.abs(expected).max(), 1e-300)
    if not np.all(delta > 0) or error > 1e-3:
        return left, right
    # float32 like the index: a float64 root would upcast every block of F.
    root = ((vectors * np.sqrt(eigenvalues)) @ vectors.T).astype(np.float32)
    W = np.empty((n_items, dim), dtype=np.float32)
    for start in range(0, n_items, 65_536):
        W[start : start + 65_536] = left[start : start + 65_536] @ root
    return W, W


def _exact_sample(left, right, k, n_sample=_SIGN_SAMPLE, seed=0):
    """A sample of columns and their exact top-``k`` by ``|left_i · right_j|``
    (the reference of :func:`_query_signs` and :func:`_calibrate_probes`)."""
    n_items = left.shape[0]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n_items, min(n_sample, n_items), replace=False))
    left32 = np.asarray(left, np.float32)
    found = np.full((sample.size, min(k, n_items)), -1, dtype=np.int64)
    signed = np.zeros(found.shape, dtype=np.float32)
    # A few columns at a time: 256 x n_items scores would be 1 GB at 10^6.
    step = max(1, _SEARCH_BLOCK_ENTRIES // max(n_items, 1))
    for start in range(0, sample.size, step):
        block = sample[start : start + step]
        scores = np.asarray(right[block], np.float32) @ left32.T
        scores[np.arange(block.size), block] = 0.0
        top = top_k_rows(np.abs(scores), k)
        found[start : start + block.size] = top
        signed[start : start + block.size] = np.take_along_axis(
            scores, np.maximum(top, 0), axis=1
        )
    return sample, (found, signed)


def _query_signs(left, right, sample, exact):
    """``(1, -1)`` if large negative ``C[i, j]`` are among the strongest
    neighbours, else ``(1,)``.

    An inner-product index finds the largest ``C[i, j]``; the largest
    ``|C[i, j]|`` also need the query ``−R_j``, which doubles the search.
    The exact top-``k`` by ``|C|`` of a sample of columns tells whether it is
    needed: the negative queries run when more than
    :data:`_NEGATIVE_SHARE` of those neighbours are negative (real item
    texts: 7–28 % measured; topic-clustered embeddings: none).
    """
    found, signed = exact
    chosen = signed[found >= 0]
    negative = float(np.mean(chosen < 0)) if chosen.size else 0.0
    return (1, -1) if negative > _NEGATIVE_SHARE else (1,)


def _calibrate_probes(index, right, sample, exact, signs):
    """Raise ``index.nprobe`` (doubling from :data:`_FAISS_PROBES`) until the
    sample's recall against the exact search reaches :data:`_TARGET_RECALL`
    or every list is probed; the recall reached is returned.

    How many inverted lists a query needs depends on the embeddings: topic
    clusters are found in 16, real sentence embeddings (nearly isotropic
    once whitened by ``K``) need many more for the same recall.
    """
    found, _ = exact
    k = found.shape[1]
    valid = found >= 0
    while True:
        approximate = _faiss_search(index, right, sample, k, signs)
        hits = sum(
            np.isin(a, f[m]).sum()
            for a, f, m in zip(approximate, found, valid, strict=True)
        )
        recall = float(hits / max(1, valid.sum()))
        if recall >= _TARGET_RECALL or index.nprobe >= index.nlist:
            return recall
        index.nprobe = min(index.nlist, 2 * index.nprobe)


def faiss_batch(k):
    """Queries per faiss search call: each query's 2(k+1) results and their
    sort take ~60 bytes a slot, :data:`_FAISS_RESULT_ENTRIES` slots a call."""
    return max(1, min(65_536, _FAISS_RESULT_ENTRIES // (2 * (k + 1))))


def _faiss_search(index, right, columns, k, signs=(1, -1)):
    """Approximate top-|C| of ``columns``: the queries ``R_j`` and, with
    ``signs=(1, -1)``, ``−R_j`` (so that large negative ``C[i, j]`` count as
    well), merged by ``|C|``."""
    out = np.full((columns.size, k), -1, dtype=np.int32)
    step = faiss_batch(k)
    for start in range(0, columns.size, step):
        block = columns[start : start + step]
        queries = np.ascontiguousarray(right[block], dtype=np.float32)
        results = [index.search(sign * queries, k + 1) for sign in signs]
        values = np.concatenate([values for values, _ in results], axis=1)
        found = np.concatenate([found for _, found in results], axis=1)
        keep = (found >= 0) & (found != block[:, None])
        scores = np.where(keep, np.abs(values), -np.inf).astype(np.float32)
        # An item found by both searches has C[i, j] = 0: either copy will do,
        # but only one may be kept.
        order = np.argsort(-scores, axis=1, kind="stable")
        found = np.take_along_axis(found, order, axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
        found[scores == -np.inf] = -1
        chosen = join_candidates(found, found[:, :0], found[:, :0], k)
        out[start : start + block.size] = chosen
    return out
