"""The one way the package runs independent blocks of work in parallel.

SPEC §8: every parallel loop (the sparse fit's column blocks, the user
blocks of scoring, the exact semantic neighbour search) goes through
:func:`run_tasks`, so any joblib backend runs it: threads by default (the
work is in NumPy, SciPy and LAPACK calls that release the GIL, and threads
share the inputs), loky processes or a Dask cluster when the caller sets
one with :func:`joblib.parallel_backend` / :func:`joblib.parallel_config`.

Large inputs are passed as ``shared`` arguments and shipped to each worker
once, not once per task:

- with the Dask backend they are scattered to every worker before the tasks
  are submitted (``client.scatter(..., broadcast=True)``), and the tasks
  receive futures that Dask resolves in place, so a task message holds
  only its own small arguments.  joblib's own automatic scattering would
  miss them: it skips tuples (``SparseGram`` and ``LowRankCorrelation`` are
  named tuples) and objects that ``dask.sizeof`` sees as small (an
  estimator);
- with loky, joblib memory-maps the NumPy arrays inside the arguments
  (those over its ``max_nbytes``), including the arrays of sparse matrices
  and estimators;
- with threads, nothing is copied.

Tasks are independent and their results are returned in task order, so
the result of a parallel run is the same as with ``n_jobs=1``.
"""

import sys

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from .memory import MemoryLimitError, format_bytes

__all__ = [
    "batch_ranges",
    "dask_client",
    "distributes",
    "group_blocks",
    "n_workers",
    "on_dask_worker",
    "Scattered",
    "run_tasks",
    "scatter_shared",
    "split_at",
    "split_evenly",
    "tapered_bounds",
]


def n_workers(n_jobs):
    """Workers that ``n_jobs`` means here (joblib's ``effective_n_jobs``)."""
    return max(1, int(effective_n_jobs(n_jobs)))


def dask_client():
    """The Dask client of an active joblib Dask backend, else None.

    None inside a Dask task too (see :func:`on_dask_worker`).
    """
    if "distributed" not in sys.modules or on_dask_worker():
        return None
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return getattr(backend, "client", None) if _is_dask(backend) else None


def on_dask_worker():
    """Whether this code runs inside a task on a Dask worker."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def distributes(n_jobs):
    """Whether :func:`run_tasks` runs tasks in parallel for ``n_jobs``.

    When ``n_jobs`` means more than one worker (joblib's
    ``effective_n_jobs``: with the Dask backend, the cluster's threads,
    unless ``n_jobs=1``), except inside a Dask task: the loop that submitted
    it already uses the cluster (joblib's Dask backend is active there too,
    and nested submissions would ship the inputs again).  joblib itself runs
    a loop in the calling process when ``n_jobs`` means one worker.
    """
    return not on_dask_worker() and n_workers(n_jobs) > 1


# Tasks per worker: a few, so that uneven blocks balance out; each task
# carries only its own small arguments.
TASKS_PER_WORKER = 4


def group_blocks(blocks, n_jobs, per_worker=TASKS_PER_WORKER, taper=False):
    """``blocks`` (index arrays) in consecutive groups of about equal total
    length, ``per_worker`` groups per worker that ``n_jobs`` means.

    With ``taper``, the last group of each worker's share is cut into
    :data:`TAPER_PIECES` smaller ones (:func:`tapered_bounds`): the workers
    then finish within a fraction of a group of each other.
    """
    workers = n_workers(n_jobs)
    n_parts = per_worker * workers
    sizes = [len(block) for block in blocks]
    if taper and workers > 1:
        groups = split_at(sizes, tapered_bounds(n_parts, workers))
    else:
        groups = split_evenly(sizes, n_parts)
    return [[blocks[i] for i in group] for group in groups]


# Pieces that each of the last groups is cut into by group_blocks(taper=True).
TAPER_PIECES = 4


def tapered_bounds(n_parts, n_workers):
    """Upper bounds (fractions of the total work) of ``n_parts`` equal groups
    whose last ``n_workers`` are each cut into :data:`TAPER_PIECES` pieces.

    Tasks run in order, so the last ones decide how far apart the workers
    finish: about half a task on average.  Measured (100 000-item sparse
    fit, 2 Dask workers, 32 equal chunks of 6–9 s): the workers finished
    3.9 s apart.
    """
    n_workers = max(1, min(n_workers, n_parts))
    whole = n_parts - n_workers
    bounds = [part / n_parts for part in range(1, whole + 1)]
    pieces = n_workers * TAPER_PIECES
    bounds += [
        (whole + piece / TAPER_PIECES) / n_parts for piece in range(1, pieces + 1)
    ]
    return bounds


def batch_ranges(n, step, n_jobs, per_worker=TASKS_PER_WORKER):
    """``(start, stop)`` runs of consecutive batches of ``step`` of ``n`` rows.

    Every ``start`` is a multiple of ``step``, so a task that walks its run
    in batches of ``step`` meets the serial loop's batches; about
    ``per_worker`` runs per worker that ``n_jobs`` means (fewer if there
    are fewer batches).
    """
    starts = range(0, n, step)
    sizes = [min(step, n - start) for start in starts]
    return [
        (starts[group.start], starts[group.stop - 1] + sizes[group.stop - 1])
        for group in split_evenly(sizes, per_worker * n_workers(n_jobs))
    ]


def _is_dask(backend):
    return type(backend).__name__ == "DaskDistributedBackend"


def split_evenly(sizes, n_parts):
    """Consecutive groups of ``sizes``' positions with about equal sums.

    Parameters
    ----------
    sizes : sequence of int
        Work of each unit (columns of a block, rows of a batch).
    n_parts : int
        Number of groups wanted (fewer if there are fewer units).

    Returns
    -------
    groups : list of range
        Positions of the units of each non-empty group, in order.
    """
    n_parts = max(1, min(int(n_parts), len(sizes)))
    return split_at(sizes, [part / n_parts for part in range(1, n_parts + 1)])


def split_at(sizes, bounds):
    """Consecutive groups of ``sizes``' positions, cut where the running sum
    reaches the next of ``bounds`` (increasing fractions of the total; the
    last group ends with the last unit).  At most one group per unit; none
    empty."""
    total = float(sum(sizes))
    groups, start, done = [], 0, 0.0
    for position, size in enumerate(sizes):
        done += size
        cut = len(groups) < len(bounds) and done >= total * bounds[len(groups)]
        if cut or position == len(sizes) - 1:
            groups.append(range(start, position + 1))
            start = position + 1
    return groups


def run_tasks(function, shared, tasks, n_jobs):
    """``[function(*shared, *task) for task in tasks]``, in parallel if asked.

    Parameters
    ----------
    function : callable
        A module-level function (picklable for process and Dask workers).
    shared : tuple
        Arguments common to every task, shipped to each worker once.
    tasks : list of tuple
        Each task's own (small) arguments.
    n_jobs : int or None
        joblib's ``n_jobs``; ``None`` means 1 unless a joblib backend
        context says otherwise.

    Returns
    -------
    results : iterator
        The tasks' results, in task order, as they complete in order.
    """
    tasks = list(tasks)
    if len(tasks) < 2 or not distributes(n_jobs):
        local = tuple(_local(value) for value in shared)
        return (function(*local, *task) for task in tasks)
    return _parallel(function, shared, tasks, n_jobs)


class Scattered:
    """A shared input already on every Dask worker (:func:`scatter_shared`):
    the local ``value``, its ``future`` and its ``nbytes``."""

    def __init__(self, value, future):
        self.value, self.future = value, future
        self.nbytes = shared_nbytes(value)


def scatter_shared(values, n_jobs, what, extra_bytes=0, extra="work"):
    """Ship shared inputs of a later :func:`run_tasks` to every worker now.

    While the client would otherwise wait (the sparse fit waits for the
    workers' faiss search), the large inputs of the next loop can already
    travel: with an active Dask client and ``n_jobs`` meaning more than one
    worker, each value worth scattering becomes a :class:`Scattered`, which
    :func:`run_tasks` passes on as it is; otherwise ``values`` is returned
    unchanged.  ``extra_bytes``: what each worker may hold meanwhile (the
    search being waited for), which ``extra`` names in the error.  The
    memory check counts these values again when the loop runs, with the
    rest of its inputs.
    """
    client = dask_client() if distributes(n_jobs) else None
    if client is None:
        return tuple(values)
    check_worker_memory(client, values, what, extra_bytes, extra)
    return tuple(
        Scattered(value, _broadcast(client, value))
        if _worth_scattering(value)
        else value
        for value in values
    )


def _broadcast(client, value):
    # One object: scatter() would split a tuple or list (a SparseGram) into
    # one future per element.  hash=False: fresh keys, never shared with
    # another scatter of equal data (whose release would cancel them,
    # dask/distributed#3703).
    return client.scatter([value], broadcast=True, hash=False)[0]


def _local(value):
    return value.value if isinstance(value, Scattered) else value


def _parallel(function, shared, tasks, n_jobs):
    client = dask_client()
    if client is not None:
        check_worker_memory(client, shared, function.__name__)
        shared = tuple(
            value.future
            if isinstance(value, Scattered)
            else _broadcast(client, value)
            if _worth_scattering(value)
            else value
            for value in shared
        )
    else:
        shared = tuple(_local(value) for value in shared)
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    # The futures in ``shared`` live until the generator is exhausted.
    yield from parallel(delayed(function)(*shared, *task) for task in tasks)


def _worth_scattering(value):
    return value is not None and not isinstance(value, (bool, int, float, str))


def shared_nbytes(value):
    """Bytes of the arrays inside ``value`` (arrays, sparse matrices, named
    tuples and lists of them, objects such as estimators)."""
    return _nbytes(value, set())


def _nbytes(value, seen):
    if value is None or id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, Scattered):
        return value.nbytes
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if hasattr(value, "indptr") and hasattr(value, "data"):  # scipy sparse
        return sum(
            int(getattr(value, name).nbytes) for name in ("data", "indices", "indptr")
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(item, seen) for item in value)
    if isinstance(value, dict):
        return sum(_nbytes(item, seen) for item in value.values())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(_nbytes(item, seen) for item in vars(value).values())
    return 0


def check_worker_memory(client, shared, what, extra_bytes=0, extra="task's own arrays"):
    """Refuse to scatter ``shared`` beyond the smallest Dask worker's budget.

    Each worker receives a copy of the shared inputs; Dask pauses a worker
    at ``distributed.worker.memory.pause`` (80 %) of its ``memory_limit``,
    and a worker holding more could never run its task.  ``extra_bytes``:
    the arrays the task makes beside them (or that the worker holds
    meanwhile), which the error calls "the ``extra``".  Workers without a
    limit are not checked.
    """
    import dask

    needed = sum(shared_nbytes(value) for value in shared) + int(extra_bytes)
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    limits = [info.get("memory_limit") or 0 for info in workers.values()]
    if not limits or min(limits) <= 0:
        return
    fraction = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    budget = int(min(limits) * fraction)
    if needed > budget:
        raise MemoryLimitError(
            f"Shipping the shared inputs of {what} to each Dask worker needs "
            f"{format_bytes(needed)}"
            + (f" with the {extra}" if extra_bytes else "")
            + f", but the smallest worker's memory_limit is "
            f"{format_bytes(min(limits))} and Dask pauses a worker at "
            f"{fraction:.0%} of it ({format_bytes(budget)}). Start the workers "
            "with more memory (LocalCluster(memory_limit=...), dask worker "
            "--memory-limit), or make the inputs smaller (float32, fewer "
            "n_neighbors, fewer users per call).",
            needed,
            budget,
        )
