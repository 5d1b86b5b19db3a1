"""The faiss semantic search of a sparse fit on a Dask cluster (SPEC §8).

Everything runs on the workers; the client only submits and collects:

1. one worker computes the search space, builds the index and calibrates
   its probes (:func:`~.neighbors.build_faiss_search`, the code of the
   search in one process) from ``C``'s factors, which are scattered to it;
2. the queries, in the order of their inverted lists, are split into
   ranges, one task each, over all the workers; the built index (serialized)
   and the query vectors move to the other workers as that task's result,
   worker to worker, and each worker deserializes the index once.

Both are submitted at once, so the caller goes on meanwhile: the sparse
fit streams ``XᵀX`` while the index is built, so that the client's two
longest serial phases overlap, and the index is never in the client's
memory.  Each query is searched in the batches of the serial search, so
the candidates equal the one-process search's.
"""

import threading
import weakref
from collections import namedtuple

import numpy as np

from . import neighbors, parallel
from .optional import import_optional

__all__ = ["RemoteSearch"]

# What the build task returns: the serialized index (uint8 array), the
# query vectors, the inverted list of each query's row (or None), the query
# signs and the recall of the calibrated probes.
# Query tasks per worker (at most one per batch of faiss_batch queries):
# query ranges in list order take unequal times; with 4 per worker, two
# workers of a 100 000-item search finished 2.1 s apart.
_QUERY_TASKS_PER_WORKER = 8

BuiltSearch = namedtuple(
    "BuiltSearch", ["serialized", "queries", "list_of", "signs", "recall"]
)


class RemoteSearch:
    """A faiss search of ``correlation``'s columns built on a Dask worker.

    Parameters
    ----------
    client : distributed.Client
    correlation : LowRankCorrelation
        ``C`` in structured form.
    k : int
        Neighbours per column that the probes are calibrated for.
    n_jobs : int or None
        joblib's ``n_jobs``: the number of query ranges (a few per worker).
    """

    def __init__(self, client, correlation, k, n_jobs):
        self.client = client
        self.n_jobs = n_jobs
        n_items, dim = np.shape(correlation.left)
        # The build worker holds C's factors, the search space W, the index
        # (a copy of W) and its serialization: three n x d float32 arrays
        # beside the factors; every searching worker holds the last two and
        # its deserialized index.
        extra = 3 * n_items * dim * 4
        parallel.check_worker_memory(
            client, (correlation,), "the faiss index build", extra_bytes=extra
        )
        # What a worker may hold for the search until it ends.
        self._worker_bytes = parallel.shared_nbytes(correlation) + extra
        # hash=False: a key of its own (see parallel._parallel).
        # Not kept here: Dask holds the factors until the build has run.
        [factors] = client.scatter([correlation], hash=False)
        self._built = client.submit(_build_task, factors, k, pure=False)

    def submit(self, columns, k, on_recall=None):
        """Submit the search of ``columns``; a :class:`PendingSearch`."""
        step = neighbors.faiss_batch(k)
        # The columns are shipped once (the tasks hold a future of them).
        [shipped] = self.client.scatter([columns], hash=False)
        futures = [
            self.client.submit(
                _search_task, self._built, shipped, k, start, stop, pure=False
            )
            for start, stop in parallel.batch_ranges(
                columns.size, step, self.n_jobs, per_worker=_QUERY_TASKS_PER_WORKER
            )
        ]
        recall = self.client.submit(_recall_task, self._built, pure=False)
        return PendingSearch(
            futures, recall, columns.size, k, on_recall, self._worker_bytes
        )


class PendingSearch:
    """The submitted search of some columns: :meth:`result` waits for it.

    ``worker_bytes``: what a worker may hold for it until it ends.
    """

    def __init__(self, futures, recall, n_columns, k, on_recall, worker_bytes):
        self.worker_bytes = worker_bytes
        self._futures = futures
        self._recall = recall
        self._shape = (n_columns, k)
        self._on_recall = on_recall

    def result(self):
        """Best first, ``-1`` padded: an int32 array (n_columns, k)."""
        out = np.full(self._shape, -1, dtype=np.int32)
        for future in self._futures:
            positions, found = future.result()
            out[positions] = found
        if self._on_recall is not None:
            self._on_recall(self._recall.result())
        self.cancel()
        return out

    def cancel(self):
        """Release the futures (cancelling what has not run): the workers
        then free the built index (:func:`_forget_index`)."""
        for future in [*(self._futures or ()), self._recall]:
            if future is not None:
                future.release()
        self._futures = self._recall = self._on_recall = None


def _build_task(correlation, k):
    """:func:`~.neighbors.build_faiss_search` on a worker, index serialized."""
    faiss = _import_faiss()
    index, queries, list_of, signs, recall = neighbors.build_faiss_search(
        correlation, k
    )
    return BuiltSearch(faiss.serialize_index(index), queries, list_of, signs, recall)


def _recall_task(built):
    return built.recall


# The index a worker process deserialized last, with a weak reference to
# the serialized bytes it came from: when Dask releases the built search on
# the worker (the fit no longer holds its futures), the bytes are freed and
# the callback drops the index too.  The lock: the threads of one worker
# deserialize it once.
_WORKER_INDEX = {}
_WORKER_INDEX_LOCK = threading.Lock()


def _worker_index(serialized):
    faiss = _import_faiss()
    with _WORKER_INDEX_LOCK:
        cached = _WORKER_INDEX.get("index")
        if cached is not None and cached[0]() is serialized:
            return cached[1]
        index = faiss.deserialize_index(serialized)
        _WORKER_INDEX["index"] = (weakref.ref(serialized, _forget_index), index)
        return index


def _forget_index(reference):
    with _WORKER_INDEX_LOCK:
        cached = _WORKER_INDEX.get("index")
        if cached is not None and cached[0] is reference:
            del _WORKER_INDEX["index"]


def _import_faiss():
    return import_optional(
        "faiss",
        "neighbor_search='faiss' needs the faiss-cpu package on every Dask "
        'worker (pip install "sklearn-l3ae[faiss]" there).',
    )


def _search_task(built, columns, k, start, stop):
    """Positions ``start:stop`` of ``columns`` in the order of their lists,
    and their candidates (a worker's task)."""
    index = _worker_index(built.serialized)
    if built.list_of is not None:
        order = np.argsort(built.list_of[columns], kind="stable")
    else:
        order = np.arange(columns.size)
    positions = order[start:stop]
    found = neighbors._faiss_search(
        index, built.queries, columns[positions], k, built.signs
    )
    return positions, found
