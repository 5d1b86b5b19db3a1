"""Item-item recommenders: scores ``X @ coef_``, neighbours and explanations."""

import dataclasses
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._core import torch_ops
from .._core.closed_forms import LowRankCorrelation
from .._core.memory import MemoryEstimate, check_memory
from .._core.normalization import dan_item_rescale, dan_scaled_rows
from .._core.ranking import SparseScores, mask_scores_inplace, rank_rows
from .._core.validation import check_k, ndim_or_none
from .._solvers import select_solver, with_support_alternative
from ._base import BaseRecommender, check_state_array


class ItemItemRecommender(BaseRecommender):
    """Base class: fitted item-item weights ``coef_`` and scores ``X @ coef_``.

    ``coef_`` (n_items, n_items) is a dense array or a scipy sparse matrix;
    ``coef_[j, i]`` is the weight with which history item ``j`` scores item
    ``i``.  Subclasses implement ``_fit`` and set it.
    """

    def _scores_dtype(self):
        return np.dtype(self.coef_.dtype)

    def _raw_scores(self, X_batch):
        scores = X_batch @ self.coef_
        return scores.toarray() if sparse.issparse(scores) else scores

    def _check_fitted_state(self):
        super()._check_fitted_state()
        n_items = self.n_features_in_
        check_state_array("coef_", self, (n_items, n_items))
        torch_ops.check_device_form(getattr(self, "device", None))

    # A sparse score entry in a ranking batch: value, column, row and sort
    # temporaries, in bytes beyond the value itself.
    _SPARSE_ENTRY_OVERHEAD = 24

    def _sparse_row_bytes(self, X):
        """Bytes of a user's sparse scores with a sparse ``coef_``: at most
        ``Σ_j nnz(coef_[j])`` entries over the items ``j`` of the history
        (the mean over the users of ``X``), never more than ``n_items``;
        None for a dense ``coef_`` or no ``X``."""
        coef = self.coef_
        if not sparse.issparse(coef) or X is None:
            return None
        coef = sparse.csr_array(coef)
        row_nnz = np.diff(coef.indptr).astype(np.float64)
        if sparse.issparse(X):
            X = sparse.csr_array(X)
            pattern = sparse.csr_array(
                (np.ones(X.nnz), X.indices, X.indptr), shape=X.shape
            )
            bound = pattern @ row_nnz
        else:
            bound = (np.asarray(X) != 0) @ row_nnz
        entries = min(
            float(self.n_features_in_), float(np.mean(bound)) if bound.size else 1.0
        )
        itemsize = self._scores_dtype().itemsize
        return int(np.ceil(entries * (itemsize + self._SPARSE_ENTRY_OVERHEAD)))

    def _ranks_sparse(self, X):
        """Rank from sparse scores when they take less memory than dense rows
        (a sparse ``coef_`` on a large catalogue); else densify each batch's
        ``X @ coef_``, whose dense ranking is faster."""
        sparse_bytes = self._sparse_row_bytes(X)
        return sparse_bytes is not None and sparse_bytes < super()._score_row_bytes(X)

    def _score_row_bytes(self, X=None):
        """With a sparse ``coef_`` a user's scores may be sparse too (see
        :meth:`_sparse_row_bytes`)."""
        dense = super()._score_row_bytes(X)
        sparse_bytes = self._sparse_row_bytes(X)
        return dense if sparse_bytes is None else min(dense, sparse_bytes)

    def _row_scores(self, X, *, seen=None, excluded=None, candidates=None):
        """Dense batches for a dense ``coef_``; for a sparse one, the
        :class:`~sklearn_l3ae._core.ranking.SparseScores` of each batch:
        only the items some history item points to are stored; with
        ``device``, torch tensors on that device."""
        if getattr(self, "device", None) is not None and not sparse.issparse(
            self.coef_
        ):
            return self._device_row_scores(X, seen, excluded, candidates)
        if not self._ranks_sparse(X):
            return super()._row_scores(
                X, seen=seen, excluded=excluded, candidates=candidates
            )
        X, seen, blocked = self._score_masks(X, seen, excluded, candidates)
        coef = sparse.csr_array(self.coef_)
        dtype = self._scores_dtype()

        def row_scores(start, stop):
            X_batch = X[start:stop]
            if not sparse.issparse(X_batch):
                X_batch = sparse.csr_array(np.asarray(X_batch, dtype=dtype))
            scores = sparse.csr_array(X_batch @ coef, dtype=dtype)
            self._check_finite_scores(scores.data, X_batch)
            rows_seen = None if seen is False else seen[start:stop]
            return SparseScores(scores, blocked, rows_seen)

        return row_scores

    def _device_row_scores(self, X, seen, excluded, candidates):
        """Masked dense scores of batches of ``X`` as tensors on ``device``:
        ``coef_`` is moved there once per call (shared on the CPU)."""
        device = torch_ops.resolve_device(self.device)
        X, seen, blocked = self._score_masks(X, seen, excluded, candidates)
        dtype = self._scores_dtype()
        batch = self._batch_rows(X)
        self._check_device_memory(device, batch)
        coef = torch_ops.to_tensor(self.coef_, device)
        if blocked is not None:
            blocked = torch_ops.to_tensor(np.flatnonzero(blocked), device)

        def row_scores(start, stop):
            X_batch = X[start:stop]
            if sparse.issparse(X_batch):
                rows = torch_ops.sparse_to_tensor(X_batch, device, dtype)
            else:
                rows = torch_ops.to_tensor(X_batch, device, dtype)
            scores = rows @ coef
            if not bool(scores.isfinite().all()):
                self._check_finite_scores(torch_ops.to_numpy(scores), X_batch)
            return mask_scores_inplace(scores, seen, blocked, slice(start, stop))

        return row_scores

    def _scoring_errors(self, n_users):
        """On a torch device, running out of its memory while scoring becomes
        a MemoryLimitError with the fixes."""
        if getattr(self, "device", None) is None or sparse.issparse(self.coef_):
            return super()._scoring_errors(n_users)
        return torch_ops.out_of_memory_reported(
            torch_ops.resolve_device(self.device),
            f"scoring {n_users} users on {self.n_features_in_} items",
            "To score: use a smaller batch_size, or score with device=None (on "
            "the host).",
        )

    def _check_device_memory(self, device, batch_rows):
        """Refuse up front a scoring call whose ``coef_`` and score batches
        would not fit in the CUDA device's free memory."""
        free = torch_ops.device_free_bytes(device)
        if free is None or getattr(self, "memory_limit", "auto") is None:
            return
        itemsize = self._scores_dtype().itemsize
        n_items = self.n_features_in_
        batch = batch_rows * n_items
        parts = (
            (f"coef_ on {device}", n_items * n_items * itemsize),
            # Its input rows and scores; then the scores and top-k's masks.
            (
                f"a batch of {batch_rows} users' rows, scores and ranking",
                batch * max(2 * itemsize, itemsize + torch_ops.TOP_K_BYTES_PER_SCORE),
            ),
        )
        check_memory(
            MemoryEstimate(f"Scoring with {type(self).__name__} on {device}", parts),
            free,
            advice=["use a smaller batch_size", "score with device=None (on the host)"],
        )

    def _weight_rows(self, rows):
        """Rows ``rows`` of ``coef_`` as a new dense array."""
        block = self.coef_[rows]
        block = block.toarray() if sparse.issparse(block) else block
        return np.array(block, dtype=self._scores_dtype())

    def similar_items(self, items, n=10, *, source="weights", as_labels=None):
        """The items most related to each given item, with their scores.

        The items of ``items[q]`` are those recommended to a user whose
        history is that item alone: row ``i`` of ``coef_`` (``B``),
        excluding ``i`` itself, best first.  With ``source="semantic"`` the
        row of the semantic correlation ``C`` is used instead: neighbours by
        text alone.  Only the needed rows of ``C`` are formed, never the
        dense n_items x n_items matrix.

        Parameters
        ----------
        items : item or array-like of items
            Labels, or column indices (see ``as_labels``).
        n : int, default=10
            Number of neighbours per item.
        source : {"weights", "semantic"}, default="weights"
            ``"weights"``: the fitted ``B``.  ``"semantic"``: ``C``, for
            models fitted with item texts or embeddings and a semantic
            correlation (L3AE, the semantic and additive EASE baselines).
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        neighbours : ndarray of shape (n,) for one item, (n_queries, n) else
            Best first; ``-1`` (``""`` for str labels) when fewer remain.
        scores : ndarray of the same shape
            ``B[i, j]`` (or ``C[i, j]``); ``-inf`` in the padded slots.
        """
        check_is_fitted(self)
        n = check_k(n, "n")
        if source not in ("weights", "semantic"):
            raise ValueError(f"source must be 'weights' or 'semantic', got {source!r}.")
        labels = self._labels(as_labels)
        queries = self._item_indices(items, labels, "items")
        rows_of = self._weight_rows if source == "weights" else self._semantic_rows
        flat = queries.reshape(-1)
        self._check_scoring_memory(
            len(flat), full_output=False, n_out=n, what="query items"
        )

        # Rows of a sparse coef_ are ranked sparse: a handful of entries each.
        sparse_rows = source == "weights" and sparse.issparse(self.coef_)

        def row_scores(start, stop):
            block = flat[start:stop]
            if sparse_rows:
                # The query item itself is excluded like a seen item.
                own = sparse.csr_array(
                    (np.ones(len(block)), (np.arange(len(block)), block)),
                    shape=(len(block), self.n_features_in_),
                )
                rows = sparse.csr_array(self.coef_[block], dtype=self._scores_dtype())
                return SparseScores(rows, None, own)
            scores = rows_of(block)
            scores[np.arange(len(block)), block] = -np.inf
            return scores

        neighbours, scores = rank_rows(
            row_scores,
            len(flat),
            self.n_features_in_,
            n,
            step=self._batch_rows(),
            dtype=self._scores_dtype(),
        )
        neighbours = self._labelled(neighbours, labels)
        if queries.ndim == 0:
            return neighbours[0], scores[0]
        return neighbours, scores

    def _semantic_rows(self, rows):
        """Rows ``rows`` of the semantic correlation ``C`` of the fitted model."""
        semantic = getattr(self, "semantic_", None)
        final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
        factors = getattr(final, "correlation_factors_", None)
        dtype = self._scores_dtype()
        if isinstance(factors, LowRankCorrelation):
            # The rows of dense_correlation's left @ right.T, O(len(rows)·n·d).
            return factors.left[rows].astype(dtype) @ factors.right.astype(dtype).T
        if getattr(final, "coef_", None) is None:
            raise ValueError(
                f"source='semantic' needs a semantic correlation C, which this "
                f"{type(self).__name__} has only when it is fitted with "
                "item_texts or item_embeddings and a phase 1 ending with a "
                "semantic correlation (L3AERecommender and the semantic and "
                "additive EASE baselines)."
            )
        return np.array(final.coef_[rows], dtype=dtype)

    def explain(self, user_row, item, n=None, *, as_labels=None):
        """Why ``item`` scores what it does for one user: its history's shares.

        The score of item ``i`` for user ``u`` is ``x_u B[:, i] = Σ_j x_uj ·
        B[j, i]`` over the items ``j`` of the user's history: each term is an
        exact contribution, not a heuristic.  Together they sum to
        ``decision_function(user_row)[0, i]``.

        Parameters
        ----------
        user_row : {array-like, sparse matrix} of shape (n_items,) or (1, n_items)
            The user's interactions.
        item : item
            The item to explain: a label or a column index (see
            ``as_labels``); not in the user's history.
        n : int, default=None
            Keep the ``n`` largest contributions; ``None`` keeps all.
        as_labels : bool, default=None
            Items in and out are labels (``item_ids_``) if True, column
            indices if False; ``None`` means labels when the model knows them.

        Returns
        -------
        history_items : ndarray of shape (n_contributions,)
            Items of the user's history (``x_uj > 0``), by decreasing
            contribution (ties by increasing index).
        contributions : ndarray of shape (n_contributions,)
            ``x_uj · B[j, i]`` for each of them.

        Raises
        ------
        ValueError
            If ``item`` is unknown or out of range, or in the user's history
            (it is masked from the recommendations, so there is no score to
            explain), or ``user_row`` is not one row.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_l3ae import EASERecommender
        >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
        >>> model = EASERecommender(reg=1.0, dtype=np.float64).fit(X)
        >>> user = [1, 0, 3, 0]  # item 2 weighs three times item 0
        >>> model.decision_function([user]).round(2)
        array([[-inf,  1.6, -inf,  1. ]])
        >>> items, contributions = model.explain(user, 1)
        >>> items, contributions.round(2)
        (array([2, 0]), array([1.2, 0.4]))
        """
        check_is_fitted(self)
        if n is not None:
            n = check_k(n, "n")
        labels = self._labels(as_labels)
        if not sparse.issparse(user_row) and ndim_or_none(user_row) == 1:
            user_row = np.asarray(user_row).reshape(1, -1)
        X = self._validate_interactions(
            user_row, reset=False, dtype=self._scores_dtype()
        )
        if X.shape[0] != 1:
            raise ValueError(
                f"explain takes one user's interactions, got {X.shape[0]} rows."
            )
        target = self._item_indices(item, labels, "item")
        if target.ndim != 0:
            raise ValueError("explain takes a single item, not a sequence.")
        target = int(target)
        if sparse.issparse(X):
            row = sparse.csr_array(X)
            row.sum_duplicates()
            positive = row.data > 0
            history = row.indices[positive].astype(np.int64)
            weights = row.data[positive]
        else:
            history = np.flatnonzero(X[0] > 0)
            weights = X[0, history]
        if target in history:
            raise ValueError(
                f"item {item!r} is in the user's history: it is masked (scored "
                "-inf) and never recommended, so there is no score to explain."
            )
        column = self.coef_[history, target]
        if sparse.issparse(column):  # a sparse coef_ (n_neighbors) gives coo
            column = column.toarray()
        contributions = weights * np.asarray(column, dtype=self._scores_dtype()).ravel()
        order = np.argsort(-contributions, kind="stable")[:n]
        return self._labelled(history[order], labels), contributions[order]


# Parameters of the support-constrained solver (SPEC §7), for the models
# that offer it; their values select and configure the solver.
SUPPORT_CONSTRAINTS = {
    "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
    "n_jobs": [Integral, None],
    # None, a str or a torch.device: checked by the torch solver at fit time.
    "device": "no_validation",
}
# DAN normalization (SPEC §9): 0 switches each off.
DAN_CONSTRAINTS = {
    "user_norm": [Interval(Real, 0, None, closed="left")],
    "item_norm": [Interval(Real, 0, None, closed="left")],
}
SEMANTIC_SUPPORT_CONSTRAINTS = {
    "semantic_share": [Interval(Real, 0, 1, closed="both")],
    "neighbor_search": [StrOptions({"auto", "exact", "faiss"})],
}
_SOLVER_OPTIONS = (
    "n_neighbors",
    "semantic_share",
    "neighbor_search",
    "n_jobs",
    "device",
)


class SolvedItemItemRecommender(ItemItemRecommender):
    """Item-item models whose weights an ``ItemWeightsProblem`` defines.

    A subclass says what its problem is (``_problem``) and, if it keeps
    more than the solver's weights, how (``_fit_weights``); the solver plans
    the memory, refuses impossible problems, solves, and explains failures.
    The solver is chosen by the execution parameters the model has
    (``n_neighbors``, ``semantic_share``, ``neighbor_search``, ``n_jobs``).
    """

    def _problem(self, X, item_side):
        """The ``ItemWeightsProblem`` of ``X``; ``item_side`` is None before phase 1."""
        raise NotImplementedError

    def _solver(self):
        params = self.get_params(deep=False)
        return select_solver(
            **{name: params[name] for name in _SOLVER_OPTIONS if name in params}
        )

    def _normalized_problem(self, problem):
        """``problem`` with DAN's user normalization (``user_norm`` β, SPEC
        §9): rows of ``X`` scaled by ``|x_u|^(−β/2)``, so that every solver
        forms ``Xᵀ diagMat(|x_u|^(−β)) X``; the dropout penalty keeps the raw
        ``diag(XᵀX)``."""
        beta = getattr(self, "user_norm", 0.0)
        if not beta:
            return problem
        X = problem.X
        scaled = dan_scaled_rows(X, beta)
        emphasis = None
        if problem.dropout:
            squares = X.multiply(X) if sparse.issparse(X) else np.square(X)
            emphasis = np.asarray(squares.sum(axis=0), dtype=np.float64).ravel()
        return dataclasses.replace(problem, X=scaled, emphasis=emphasis)

    def _fit_problem(self, X, item_side):
        """The problem a fit on ``X`` solves: the model's, DAN-normalized."""
        return self._normalized_problem(self._problem(X, item_side))

    def _check_incremental_solver(self, solver):
        """Refuse options the solver cannot run (see ``keep_inverse``)."""

    def _plan_fit(self, X):
        problem = self._fit_problem(X, None)
        solver = self._solver()
        self._check_incremental_solver(solver)
        solver.check(problem)
        plan = solver.plan(problem, type(self).__name__)
        if "n_neighbors" in self.get_params(deep=False) and solver.name == "dense":
            plan = with_support_alternative(plan, problem, type(self).__name__)
        return plan

    def _fit(self, X, item_side):
        coef = self._solve(self._fit_problem(X, item_side), X)
        self.coef_ = self._item_normalized(coef, X)

    def _item_normalized(self, coef, X):
        """``coef`` with DAN's item normalization (``item_norm`` α) on the raw
        item counts of ``X`` (a dense ``coef`` in place); itself without it."""
        alpha = getattr(self, "item_norm", 0.0)
        if not alpha:
            return coef
        counts = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        return dan_item_rescale(coef, counts, alpha)

    def _solve(self, problem, X=None):
        """Check (again: phase 1 may have filled the problem in) and solve."""
        solver = self._solver()
        solver.check(problem)
        return self._solve_fit(X, problem, solver)

    def _solve_fit(self, X, problem, solver):
        """The weights of ``problem`` (fitted on ``X``) from ``solver``."""
        return solver.solve(problem)
