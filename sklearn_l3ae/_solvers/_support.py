"""The support-constrained solver: exact sparse weights past the dense limit.

SPEC §7: column ``j`` of ``B`` is restricted to a support ``S_j`` of at most
``n_neighbors`` items (``j ∉ S_j``), the strongest co-occurrence and
semantic neighbours of ``j``; the objective then splits into one small
ridge problem per column, solved exactly.  Memory is O(n_items ·
n_neighbors) plus the sparse ``XᵀX``; no n x n array is formed.
"""

import warnings

import numpy as np
from scipy import sparse

from .._core import neighbors, parallel, sparse_gram, support_fit, support_lists
from .._core.linalg import NotPositiveDefiniteError
from .._core.memory import FitPlan, MemoryEstimate, format_bytes
from ._dense import check_finite_weights
from ._diagnosis import _empty_item, check_in_range, or_float64

_SEARCH_AUTO = "auto"
# Bytes per entry of G alive while a block of rows is streamed (the product,
# its row and owner indices, the sort keys of the candidates), measured
# with tracemalloc (tests/test_support_fit.py).
_STREAM_BYTES_PER_ENTRY = 96
# Seconds per column on 2 cores of the benchmark machine (AMD EPYC, n_jobs=2;
# benchmarks/results/large.md): a constant, the support's gather (k²) and
# its factorizations (k³; two rounds, the listed support of 3k/4 and the
# grown one: 1.42 k³); and the faiss search, ~n^1.5.  For advice only.
_COLUMN_SECONDS = (2e-4, 2.5e-8, 4.3e-11)
_SEARCH_SECONDS_PER_N15 = 5e-10
# Chunks of column blocks per worker.  Equal column counts are not equal
# times on a shared machine: with 4 chunks of ~37 s per worker, two Dask
# workers of a 100 000-item fit finished 10 s apart (one run in three);
# with 16, a worker that is slower picks up fewer of the last chunks.
_SOLVE_TASKS_PER_WORKER = 16
_EXACT_SEARCH_SECONDS_PER_N2 = 1.2e-8


def faiss_available():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def estimated_seconds(n_items, n_neighbors, n_jobs=2):
    """A rough wall time of a support-constrained fit (for advice only)."""
    constant, gather, factor = _COLUMN_SECONDS
    k = max(n_neighbors, 16)
    per_column = constant + gather * k**2 + factor * k**3
    seconds = n_items * per_column * 2 / max(1, min(n_jobs, 2))
    if n_items > neighbors.EXACT_SEARCH_MAX_ITEMS:
        seconds += _SEARCH_SECONDS_PER_N15 * n_items**1.5
    else:
        seconds += _EXACT_SEARCH_SECONDS_PER_N2 * n_items**2
    return seconds


def gram_layout(X, dtype):
    """Column bounds of ``XᵀX`` and its hubs (:mod:`~.._core.sparse_gram`)."""
    bounds = sparse_gram.column_entry_bounds(X)
    hubs = sparse_gram.choose_hubs(bounds, itemsize=np.dtype(dtype).itemsize)
    return bounds, hubs


def support_fit_plan(
    owner,
    X,
    dtype,
    n_neighbors,
    *,
    embedding_dim=None,
    dense_correlation=False,
):
    """The :class:`~sklearn_l3ae._core.memory.FitPlan` of a sparse fit.

    Parameters
    ----------
    owner : str
    X : {ndarray, sparse matrix} of shape (n_users, n_items)
        The interactions (their pattern sizes the sparse ``XᵀX``).
    dtype : numpy dtype
    n_neighbors : int
    embedding_dim : int or None
        Dimension of the item embeddings of phase 1 (None: no phase 1).
    dense_correlation : bool
        Phase 1 gives a dense ``C`` (one n x n array).
    """
    dtype = np.dtype(dtype)
    itemsize = dtype.itemsize
    n_items = X.shape[1]
    nnz = X.nnz if sparse.issparse(X) else int(np.count_nonzero(X))
    bounds, hubs = gram_layout(X, dtype)
    is_hub = np.zeros(n_items, dtype=bool)
    is_hub[hubs] = True
    # Stored entries of the non-hub columns (an upper bound) and of the
    # largest block of G rows in the streamed pass.
    gram_entries = int(bounds[~is_hub].sum())
    streamed = max(
        min(sparse_gram._BLOCK_ENTRIES, int(bounds.sum())), int(bounds.max(initial=0))
    )
    k = min(n_neighbors, max(n_items - 1, 1))
    index_size = 4 if n_items * (k + 1) < 2**31 else 8
    slots = n_items * (k + 1)
    columns = support_fit.max_block_columns(k, itemsize)
    union = min(support_fit.MAX_UNION, n_items) + 1
    slot_bytes = slots * (itemsize + index_size)
    lists = n_items * k * 4
    # The fit runs in phases whose large arrays are never alive together
    # (the semantic search, the streamed G and the solves, the conversion of
    # B to CSR); the peak is the largest phase, beside the inputs.
    phases = {
        "search": [("semantic candidates", lists)],
        "solve": [
            ("sparse XᵀX (non-hub columns)", gram_entries * (itemsize + 4)),
            (f"dense XᵀX of {hubs.size} hub items", hubs.size**2 * itemsize),
            ("supports and candidate lists", 3 * lists),
            (f"B, {k + 1} slots per column", slot_bytes),
            ("X by columns", nnz * (itemsize + 4) + (n_items + 1) * 8),
            (
                "work buffers",
                streamed * _STREAM_BYTES_PER_ENTRY
                + union**2 * itemsize
                + 2 * columns * (k + 1) ** 2 * itemsize,
            ),
        ],
        "convert": [("B as CSC and CSR", 2 * slot_bytes)],
    }
    if embedding_dim and n_items > neighbors.EXACT_SEARCH_MAX_ITEMS:
        # The whitened embeddings W, the index's copy of them, a block of
        # exact scores (the recall sample) and of faiss results.
        phases["search"] += [
            (
                "faiss index and its vectors",
                2 * n_items * embedding_dim * 4 + 8 * n_items,
            ),
            (
                "search blocks",
                neighbors._SEARCH_BLOCK_ENTRIES * 12
                + neighbors._FAISS_RESULT_ENTRIES * 64,
            ),
        ]
    if embedding_dim:
        # Phase 1 computes C's factor in float64 blocks of 65 536 rows.
        phases["phase 1"] = [("phase-1 row blocks", 3 * 65_536 * embedding_dim * 8)]
    if embedding_dim and n_items <= neighbors.EXACT_SEARCH_MAX_ITEMS:
        # A block of exact |C| scores (float32), its masks and selections.
        block = min(neighbors._SEARCH_BLOCK_ENTRIES, n_items * n_items)
        phases["search"].append(("exact search blocks", block * 12))
    peak = max(phases.values(), key=lambda part: sum(size for _, size in part))
    # Freed blocks the allocator keeps, per-thread arenas of the parallel
    # solves, and what the phases leave behind: measured at 5-15 % of the
    # largest phase (benchmarks/bench_large.py).
    slack = sum(size for _, size in peak) * 3 // 20
    parts = [*peak, ("allocator and thread overhead", slack)]
    if embedding_dim:
        # The embeddings and C's right factor (its left one is F itself).
        parts.append(
            ("embeddings and C's factor", n_items * embedding_dim * (4 + itemsize))
        )
    if dense_correlation:
        parts.append((f"dense {n_items} x {n_items} C", n_items * n_items * itemsize))
    estimate = MemoryEstimate(
        what=(
            f"Fitting {owner} on {n_items} items in {dtype.name} with "
            f"n_neighbors={n_neighbors}"
        ),
        parts=tuple(parts),
    )

    def advice(limit):
        steps = []
        if dtype == np.float64:
            steps.append("use dtype=np.float32")
        per_neighbor = max(1, estimate.total // max(k, 1))
        fitting = max(1, int(limit // per_neighbor * 0.9))
        if fitting < k:
            steps.append(f"use n_neighbors={fitting} or fewer")
        return steps

    return FitPlan(estimate, advice)


def problem_plan(problem, owner, n_neighbors):
    """:func:`support_fit_plan` of an ``ItemWeightsProblem``.

    The embedding dimension is read back from ``problem.side_bytes``, which
    the estimators count as ``n·d·(3·8 + 2·itemsize)`` for the dense fit's
    float64 work on the factors (``recommenders._item_side``); the sparse
    fit keeps only the embeddings and one factor in the fit's precision.
    """
    n_items, itemsize = problem.n_items, problem.dtype.itemsize
    dim = problem.side_bytes // max(1, n_items * (3 * 8 + 2 * itemsize))
    return support_fit_plan(
        owner,
        problem.X,
        problem.dtype,
        n_neighbors,
        embedding_dim=int(dim) or None,
        dense_correlation=problem.dense_correlation,
    )


# The support size suggested when a dense fit does not fit in memory.
SUGGESTED_NEIGHBORS = 256


def with_support_alternative(plan, problem, owner):
    """``plan`` (a dense fit's) whose advice also offers ``n_neighbors``.

    When the dense fit is refused, the first remedy named is the
    support-constrained fit with :data:`SUGGESTED_NEIGHBORS`, with its own
    memory estimate and a rough time, if it fits the same budget.
    """
    n_neighbors = min(SUGGESTED_NEIGHBORS, max(1, problem.n_items - 1))
    alternative = problem_plan(problem, owner, n_neighbors).estimate.total

    def advice(limit):
        steps = list(plan.advice(limit))
        if alternative <= limit:
            minutes = estimated_seconds(problem.n_items, n_neighbors, 2) / 60
            steps.insert(
                0,
                f"set n_neighbors={n_neighbors} for the exact support-constrained "
                f"fit (each item's weights on its {n_neighbors} strongest "
                f"neighbours; about {format_bytes(alternative)}, roughly "
                f"{max(1, round(minutes))} min on 2 cores)",
            )
        return steps

    return FitPlan(plan.estimate, advice)


class SupportSolver:
    """Exact support-constrained weights (SPEC §7), sparse ``B``.

    Parameters
    ----------
    n_neighbors : int
        Largest support ``|S_j|``.
    semantic_share : float in [0, 1], default=0.0
        Share of the support taken from the semantic neighbours when the
        problem has a correlation ``C``.
    neighbor_search : {"auto", "exact", "faiss"}, default="auto"
        How the semantic neighbours are found.
    n_jobs : int or None, default=None
        Parallel blocks of columns (joblib).
    """

    name = "support"

    def __init__(
        self, n_neighbors=None, semantic_share=0.0, neighbor_search="auto", n_jobs=None
    ):
        self.n_neighbors = n_neighbors
        self.semantic_share = semantic_share
        self.neighbor_search = neighbor_search
        self.n_jobs = n_jobs

    def accepts(self, options):
        return options.get("n_neighbors") is not None

    def configured(self, options):
        """A solver with the estimator's execution ``options``."""
        return SupportSolver(
            n_neighbors=options["n_neighbors"],
            semantic_share=options.get("semantic_share", 0.0),
            neighbor_search=options.get("neighbor_search", "auto"),
            n_jobs=options.get("n_jobs"),
        )

    # ------------------------------------------------------------------ check

    def check(self, problem):
        """Cheap refusals: a shift out of range, an empty item with shift <= 0.

        Unlike the dense solver, too few users is no refusal: each column's
        system is small and may be definite although ``XᵀX`` is singular.
        """
        if problem.extra_rows is not None or problem.extra_rows_pending:
            raise ValueError(  # pragma: no cover - no such estimator has n_neighbors
                "n_neighbors does not support extra rows stacked under X."
            )
        dtype = problem.dtype
        check_in_range(problem.shift, dtype, problem.shift_name)
        if problem.reg_E:
            check_in_range(problem.reg_E, dtype, "reg_E")
        if problem.shift > 0:
            return
        item = _empty_item(problem)
        if item is not None:
            raise ValueError(
                f"{problem.shifted_matrix_text()} restricted to each column's "
                f"support must be positive definite, but item column {item} has "
                f"no interactions, so its diagonal entry is {problem.shift_name} "
                f"= {problem.shift:g}: choose {problem.shift_name} > 0."
            )

    # ------------------------------------------------------------------- plan

    def plan(self, problem, owner):
        return problem_plan(problem, owner, self.n_neighbors)

    # ------------------------------------------------------------------ solve

    def _search(self, n_items):
        search = self.neighbor_search
        if search == "faiss" and not faiss_available():
            raise ImportError(
                "neighbor_search='faiss' needs the faiss-cpu package "
                '(pip install "sklearn-l3ae[faiss]"); or use '
                "neighbor_search='exact'."
            )
        if search != _SEARCH_AUTO:
            return search
        if n_items <= neighbors.EXACT_SEARCH_MAX_ITEMS:
            return "exact"
        if faiss_available():
            return "faiss"
        warnings.warn(
            f"The exact semantic neighbour search over {n_items} items does "
            "O(n_items²·d) work; install faiss-cpu (pip install "
            '"sklearn-l3ae[faiss]") for the approximate search, which '
            "neighbor_search='auto' then uses.",
            UserWarning,
            stacklevel=4,
        )
        return "exact"

    def _semantic_candidates(self, correlation, n_items, k):
        """Start the search of the ``k`` strongest semantic neighbours of
        every column; its ``result()`` waits for them.

        In this process they are searched now, before ``XᵀX`` is streamed, so
        that the search's index and the sparse Gram matrix are never in
        memory together; on a Dask cluster the workers search while ``XᵀX``
        is streamed (:meth:`~.._core.neighbors.SemanticSearch.submit`).
        ``k`` of them (not only the semantic share) let the columns without
        enough co-occurrences fill their support with semantic neighbours.
        """
        search = neighbors.SemanticSearch(
            correlation, self._search(n_items), dtype=np.float32, n_jobs=self.n_jobs
        )
        return search.submit(k)

    def solve(self, problem):
        """Sparse ``B`` (CSR) of ``problem`` with supports of ``n_neighbors``."""
        return self._solve(problem, keep_supports=False)[0]

    def solve_with_supports(self, problem):
        """``(B, supports)``: the supports ``S_j`` (n_items x n_neighbors,
        ``-1`` padded) kept for :meth:`resolve`."""
        return self._solve(problem, keep_supports=True)

    def resolve(self, problem, supports, columns, previous):
        """``previous`` with ``columns`` solved again on their fixed
        ``supports`` (:func:`~._support_update.resolve_columns`)."""
        from ._support_update import resolve_columns

        return resolve_columns(problem, supports, columns, previous, self.n_jobs)

    def _solve(self, problem, keep_supports):
        dtype = problem.dtype
        X = sparse.csr_array(problem.X, dtype=dtype)
        n_items = X.shape[1]
        k = max(0, min(self.n_neighbors, n_items - 1))
        complete = k >= n_items - 1
        correlation = problem.correlation if problem.reg_E else None
        pending = semantic = None
        if correlation is not None and not complete:
            pending = self._semantic_candidates(correlation, n_items, k)
        try:
            bounds, hubs = gram_layout(X, dtype)
            with np.errstate(over="ignore", invalid="ignore"):
                gram, cooccurrence = sparse_gram.stream_gram(
                    X, k, hubs, dtype, bounds=bounds
                )
            # On Dask, the blocks' G and C travel while the workers search.
            shared_gram, shared_correlation = parallel.scatter_shared(
                (gram, correlation),
                self.n_jobs,
                "_solve_chunk",
                extra_bytes=0 if pending is None else pending.worker_bytes,
                extra="faiss search still running on the workers",
            )
            if pending is not None:
                semantic = pending.result()
        finally:
            # A search still running on a cluster is cancelled, not left
            # holding the workers' memory.
            if pending is not None:
                pending.cancel()
            del pending
        grow = support_fit.grown_places(k, complete)
        if complete:
            # Complete supports: every other item, the dense problem exactly.
            supports = support_lists.all_other_items(n_items)
        else:
            # The lists fill k − grow places; the KKT gradient the rest.
            supports = support_lists.supports(
                cooccurrence, semantic, k - grow, self.semantic_share
            )
        del cooccurrence, semantic
        order = support_fit.order_columns(supports, gram.hub_position)
        blocks = support_fit.column_blocks(
            supports,
            order,
            max_columns=support_fit.max_block_columns(k, dtype.itemsize),
        )
        arrays = support_fit.empty_weights(supports, dtype, grow)
        parameters = _parameters(problem, shared_correlation, grow)
        final = np.full((n_items, k), -1, np.int32) if keep_supports and grow else None
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for columns, rows, weights in _run_blocks(
                    shared_gram, supports, blocks, parameters, self.n_jobs
                ):
                    support_fit.write_weights(arrays, columns, rows, weights)
                    if final is not None:
                        final[columns] = rows[:, 1:]
        except NotPositiveDefiniteError as error:
            raise ValueError(_explain(problem, error)) from error
        # Free G (and the supports unless kept) before B is converted; on
        # Dask, the workers free their copies of G and C.
        del gram, shared_gram, shared_correlation, parameters, blocks
        if final is not None:
            supports = final
        if not keep_supports:
            supports = None
        coef = support_fit.weights_matrix(arrays, n_items)
        check_finite_weights(coef.data)
        return coef, supports


def _parameters(problem, correlation, grow=0):
    """The keyword arguments of :func:`~.._core.support_fit.solve_block`."""
    return dict(
        grow=grow,
        reg=problem.reg,
        reg_E=problem.reg_E,
        correlation=correlation,
        dropout=problem.dropout,
        xi=problem.xi,
        emphasis=problem.emphasis,
    )


def _solve_chunk(gram, supports, correlation, chunk, parameters):
    """Solve a list of blocks; a worker's task."""
    results = []
    for columns in chunk:
        try:
            rows, weights = support_fit.solve_block(
                gram, supports, columns, correlation=correlation, **parameters
            )
        except NotPositiveDefiniteError as error:
            error.column = int(columns[error.index])
            raise
        results.append((columns, rows, weights))
    return results


def _run_blocks(gram, supports, blocks, parameters, n_jobs):
    """Yield ``(columns, rows, weights)`` of every block, in parallel if asked.

    ``G``, the supports and ``C`` are shipped to each worker once
    (:func:`~.._core.parallel.run_tasks`); a task holds its blocks' column
    indices (``gram`` and the correlation may already be on the workers:
    :func:`~.._core.parallel.scatter_shared`).  :data:`_SOLVE_TASKS_PER_WORKER`
    chunks of blocks per worker, the last ones cut smaller, balance the load.
    """
    parameters = dict(parameters)
    correlation = parameters.pop("correlation")
    groups = parallel.group_blocks(
        blocks, n_jobs, per_worker=_SOLVE_TASKS_PER_WORKER, taper=True
    )
    chunks = [(group, parameters) for group in groups]
    for results in parallel.run_tasks(
        _solve_chunk, (gram, supports, correlation), chunks, n_jobs
    ):
        yield from results


def _explain(problem, error):
    """The message of a failed support solve: the failing system recorded
    its column (:func:`_solve_chunk`) and size
    (:func:`~.._core.support_fit.solve_block`) on ``error``."""
    column = getattr(error, "column", None)
    size = getattr(error, "size", 0)
    where = f"item column {column}'s" if column is not None else "a column's"
    return (
        f"{problem.shifted_matrix_text()} restricted to {where} support ({size} "
        f"items) must be positive definite, but {problem.shift_name} = "
        f"{problem.shift:g} is too small there for {problem.dtype} arithmetic "
        f"(the Cholesky factorization failed or lost every digit): increase "
        f"{problem.shift_name}{or_float64(problem.dtype)}."
    )
