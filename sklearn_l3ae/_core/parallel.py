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

from joblib import Parallel, delayed, effective_n_jobs

__all__ = ["dask_client", "n_workers", "run_tasks", "split_evenly"]


def n_workers(n_jobs):
    """Workers that ``n_jobs`` means here (joblib's ``effective_n_jobs``)."""
    return max(1, int(effective_n_jobs(n_jobs)))


def dask_client():
    """The Dask client of an active joblib Dask backend, else None."""
    if "distributed" not in sys.modules:
        return None
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return getattr(backend, "client", None) if _is_dask(backend) else None


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
    total = float(sum(sizes))
    n_parts = max(1, min(int(n_parts), len(sizes)))
    groups, start, done = [], 0, 0.0
    for position, size in enumerate(sizes):
        done += size
        boundary = total * (len(groups) + 1) / n_parts
        if done >= boundary or position == len(sizes) - 1:
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
    if n_workers(n_jobs) == 1 or len(tasks) < 2:
        return (function(*shared, *task) for task in tasks)
    return _parallel(function, shared, tasks, n_jobs)


def _parallel(function, shared, tasks, n_jobs):
    client = dask_client()
    if client is not None:
        # Each value scattered as one object: scatter() would split a tuple
        # or list (a SparseGram) into one future per element.  hash=False:
        # scattering from inside a Dask task (nested use) with hashing can
        # cancel futures (dask/distributed#3703).
        shared = tuple(
            client.scatter([value], broadcast=True, hash=False)[0]
            if _worth_scattering(value)
            else value
            for value in shared
        )
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    # The futures in ``shared`` live until the generator is exhausted.
    yield from parallel(delayed(function)(*shared, *task) for task in tasks)


def _worth_scattering(value):
    return value is not None and not isinstance(value, (bool, int, float, str))
