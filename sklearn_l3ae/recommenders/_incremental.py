"""Exact incremental updates of the dense item-item models (``keep_inverse``).

A model fitted with ``keep_inverse=True`` keeps ``P = (G + Λ)⁻¹`` (the
matrix its weights come from, one more n x n array) and its training
interactions (sparse).  :meth:`~IncrementalMixin.partial_fit` then takes
new users, or more interactions of known users, by the Woodbury identity in
O(n²·m) for m changed rows; :meth:`~IncrementalMixin.add_items` takes new
items (their interactions and texts) by a Schur complement in O(n²·k); both
re-form ``B`` from the updated ``P`` (O(n²·d) for L3AE).  The result is the
model a fresh ``fit`` on everything seen so far gives, to round-off (see
:doc:`/incremental`).
"""

import dataclasses
import warnings

import numpy as np
from scipy import sparse

from .._core.closed_forms import (
    dropout_penalty,
    item_penalty,
    weights_from_inverse,
)
from .._core.incremental import (
    inverse_residual,
    low_rank_update_inplace,
)
from .._core.linalg import _BLOCK_BYTES, NotPositiveDefiniteError
from .._core.memory import (
    MemoryEstimate,
    MemoryLimitError,
    check_memory,
    check_plan,
    format_bytes,
)
from .._core.normalization import dan_scaled_rows
from .._core.validation import item_popularity
from .._solvers import check_finite_weights
from ._base import check_state_array
from ._new_items import ItemAdditionMixin

INCREMENTAL_CONSTRAINTS = {"keep_inverse": ["boolean"]}

# The Woodbury update of m rows costs about 2·n²·m flops, a refactorization
# about n³ (Cholesky and inverse): beyond m = n / 4 changed rows (users,
# and items whose dropout penalty moved) the kept interactions are refitted.
_REFACTOR_RANK_SHARE = 0.25
# A kept P whose measured residual exceeds this many times the residual
# measured right after its factorization is refactored from the
# interactions (see inverse_residual and docs/incremental.rst).
DRIFT_FACTOR = 10.0


def _square_rows(X):
    """``Σ_u x_ui²`` per item (the raw ``diag(XᵀX)``), float64."""
    return np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()


class IncrementalMixin(ItemAdditionMixin):
    """``partial_fit`` and ``add_items`` of the dense item-item models.

    Put before :class:`SolvedItemItemRecommender` in the bases; the class
    has a ``keep_inverse`` parameter.  Fitted with it, the model also has
    ``inverse_`` (``P``), ``interactions_`` (the training rows, CSR),
    ``inverse_residual_`` (the last measured residual of ``P``),
    ``factorization_residual_`` (the residual right after the last
    factorization) and ``n_updates_`` (updates since then).
    """

    # ------------------------------------------------------------------ fit

    def _fit_problem(self, X, item_side):
        problem = super()._fit_problem(X, item_side)
        if not self._keeps_inverse():
            return problem
        # A CSR copy of X, and P beside B (dense) or the supports (sparse).
        nbytes = int(X.nnz) if sparse.issparse(X) else int(np.count_nonzero(X))
        nbytes = nbytes * (X.dtype.itemsize + 4) + (X.shape[0] + 1) * 8
        n_neighbors = getattr(self, "n_neighbors", None)
        if n_neighbors is not None:
            nbytes += X.shape[1] * min(n_neighbors, X.shape[1]) * 4
        return dataclasses.replace(
            problem,
            extra_square=problem.extra_square + int(n_neighbors is None),
            side_bytes=problem.side_bytes + nbytes,
        )

    def _keeps_inverse(self):
        """``keep_inverse``, or the first :meth:`partial_fit` (which fits)."""
        return self.keep_inverse or getattr(self, "_first_partial_fit", False)

    def _check_incremental_solver(self, solver):
        if not self._keeps_inverse():
            return
        what = (
            "Keeping what partial_fit needs (keep_inverse=True, or a first partial_fit)"
        )
        if hasattr(solver, "solve_with_supports") and getattr(self, "item_norm", 0):
            raise ValueError(
                f"{what} with n_neighbors does not support DAN's item_norm "
                f"(={self.item_norm!r}) yet: the sparse weights it rescales are "
                "not kept. Use item_norm=0, or n_neighbors=None."
            )

    def _solve_fit(self, X, problem, solver):
        if not self._keeps_inverse():
            return super()._solve_fit(X, problem, solver)
        self.interactions_ = sparse.csr_array(X, copy=True)
        self.interactions_.sum_duplicates()
        self.n_updates_ = 0
        if hasattr(solver, "solve_with_supports"):
            coef, self.supports_ = solver.solve_with_supports(problem)
            return coef
        return self._factorize(problem, solver, self.interactions_)

    def _factorize(self, problem, solver, interactions):
        """``B`` of ``problem`` (before DAN's item normalization), keeping
        ``inverse_`` and its residual, with no update since."""
        coef, self.inverse_ = solver.solve_with_inverse(problem)
        penalty = self._penalty(problem, interactions)
        residual = inverse_residual(self.inverse_, problem.X, penalty)
        self.inverse_residual_ = self.factorization_residual_ = residual
        self.n_updates_ = 0
        return coef

    # ------------------------------------------------------------ helpers

    def _require_inverse(self, what, *, sparse_ok=True):
        owner = type(self).__name__
        if sparse_ok and getattr(self, "supports_", None) is not None:
            return
        if getattr(self, "supports_", None) is not None:
            raise ValueError(
                f"{owner}.{what} needs the dense fit: a model with "
                f"n_neighbors={self.n_neighbors!r} has no inverse to extend, and "
                "new items need their own supports. Refit with the new columns."
            )
        if getattr(self, "inverse_", None) is None:
            n = self.n_features_in_
            size = format_bytes(n * n * np.dtype(self.coef_.dtype).itemsize)
            raise ValueError(
                f"{owner}.{what} needs the inverse P = (XᵀX + Λ)⁻¹ kept at fit "
                "time (the supports, for n_neighbors models), which this model "
                "was not fitted with: set keep_inverse=True and fit again (a "
                f"dense model keeps one more {n} x {n} array, {size}, and the "
                "training interactions)."
            )

    def _problem_of(self, interactions, correlation):
        """The problem (DAN-scaled) a fit on ``interactions`` would solve."""
        return self._normalized_problem(self._problem(interactions, correlation))

    @staticmethod
    def _penalty(problem, interactions):
        """``Λ_X + λ_E`` of ``problem``, from the raw ``interactions``."""
        emphasis = _square_rows(interactions) if problem.dropout else None
        return item_penalty(emphasis, problem.reg, problem.reg_E, problem.dropout)

    def _form_weights(self, B, P, problem, interactions):
        """``B`` (overwritten) from ``P``: the fit's closed form and DAN's
        item normalization, as :meth:`fit` would give them."""
        np.copyto(B, P)
        penalty = self._penalty(problem, interactions)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            weights_from_inverse(
                B, penalty, problem.reg_E, problem.correlation, xi=problem.xi
            )
        return check_finite_weights(self._item_normalized(B, interactions))

    def _refactor(self, interactions, correlation, *, required):
        """Refit ``P`` and ``B`` from ``interactions`` (exact, O(n³)).

        Returns False, leaving the model as it is, when the fit's memory
        plan is refused and the refactorization is not ``required``.
        """
        try:
            check_plan(self._plan_for(interactions, correlation), self.memory_limit)
        except MemoryLimitError:
            if required:
                raise
            return False
        problem = self._problem_of(interactions, correlation)
        coef = self._factorize(problem, self._solver(), interactions)
        self.coef_ = self._item_normalized(coef, interactions)
        return True

    def _plan_for(self, interactions, correlation):
        problem = self._fit_problem(interactions, correlation)
        return self._solver().plan(problem, type(self).__name__)

    def _check_drift(self, problem, interactions, correlation):
        """Measure the residual of the updated ``P``; refactor past the bound."""
        penalty = self._penalty(problem, interactions)
        residual = inverse_residual(self.inverse_, problem.X, penalty)
        self.inverse_residual_ = residual
        if residual > DRIFT_FACTOR * max(
            self.factorization_residual_, np.finfo(self.inverse_.dtype).eps
        ):
            if not self._refactor(interactions, correlation, required=False):
                warnings.warn(
                    f"The kept inverse of {type(self).__name__} has drifted "
                    f"(residual {residual:.2g}, {DRIFT_FACTOR:g}x more than after "
                    "its factorization) and there is not enough memory to "
                    "refactor it: refit the model.",
                    RuntimeWarning,
                    stacklevel=3,
                )

    # ------------------------------------------------------------ updates

    def partial_fit(self, X, y=None, *, users=None):
        """Take in more interactions, exactly, without refitting.

        The model becomes the one :meth:`fit` gives on every interaction
        seen so far (to float round-off): ``P`` is updated by the Woodbury
        identity in O(n_items²·m) for m changed rows, then ``B`` is formed
        from it (O(n_items²·d) for L3AE).  Needs a model fitted with
        ``keep_inverse=True``; an unfitted one is fitted on ``X``, keeping
        the inverse whatever ``keep_inverse`` says (as scikit-learn's
        ``partial_fit`` starts a model).

        Every option updates exactly: DAN's user normalization weighs each
        row by its own sum; the dropout penalty adds one rank per item whose
        count changed, so with ``dropout > 0`` and many touched items (more
        than a quarter of the catalogue) the model is refitted from its kept
        interactions instead, which is then cheaper.  The kept inverse's
        residual is measured after each update (``inverse_residual_``); past
        10 times its value after the last factorization the model refactors
        itself.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_rows, n_items)
            New users' interactions (one row each) or, with ``users``,
            interactions to add to known users' rows.
        y : None
            Ignored.
        users : array-like of int of shape (n_rows,), default=None
            Rows of the training interactions (``interactions_``, in the
            order they were fitted and added) that ``X``'s rows add to;
            distinct.  None appends ``X``'s rows as new users.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.base import clone
        >>> from sklearn_l3ae import EASERecommender
        >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1]])
        >>> new_users = np.array([[1, 1, 1, 0], [0, 0, 1, 1]])
        >>> model = EASERecommender(reg=1.0, dtype=np.float64, keep_inverse=True)
        >>> model = model.fit(X).partial_fit(new_users)
        >>> refit = clone(model).fit(np.vstack([X, new_users]))
        >>> bool(np.allclose(model.coef_, refit.coef_, rtol=1e-10, atol=1e-12))
        True
        >>> model.n_samples_seen_
        5
        """
        if not hasattr(self, "coef_"):
            if users is not None:
                raise ValueError(
                    "users= names rows of the training interactions, but this "
                    f"{type(self).__name__} is not fitted yet: fit it first."
                )
            # The first call fits, keeping what later calls update.
            self._first_partial_fit = True
            try:
                return self.fit(X)
            finally:
                del self._first_partial_fit
        self._require_inverse("partial_fit")
        dtype = np.dtype(self.coef_.dtype)
        X = sparse.csr_array(
            self._validate_interactions(X, reset=False, dtype=dtype), dtype=dtype
        )
        X.sum_duplicates()
        old = self.interactions_
        if users is None:
            interactions = sparse.vstack([old, X], format="csr")
            new_rows, old_rows = X, None
        else:
            users = _check_users(users, X.shape[0], old.shape[0])
            changed = np.flatnonzero(np.diff(X.indptr))
            users, X = users[changed], X[changed]
            old_rows = sparse.csr_array(old[users])
            new_rows = sparse.csr_array(old_rows + X)
            placement = sparse.csr_array(
                (np.ones(len(users), dtype=dtype), (users, np.arange(len(users)))),
                shape=(old.shape[0], len(users)),
            )
            interactions = sparse.csr_array(old + placement @ X)
        interactions.sum_duplicates()
        self._update_rows(interactions, new_rows, old_rows, old)
        return self

    def _update_rows(self, interactions, new_rows, old_rows, old):
        correlation = self._correlation()
        problem = self._problem_of(interactions, correlation)
        if getattr(self, "supports_", None) is not None:
            return self._update_support_rows(problem, interactions, new_rows)
        beta = getattr(self, "user_norm", 0.0)
        parts = [dan_scaled_rows(new_rows, beta)]
        weights = [np.ones(new_rows.shape[0])]
        if old_rows is not None:
            parts.append(dan_scaled_rows(old_rows, beta))
            weights.append(-np.ones(old_rows.shape[0]))
        if problem.dropout:
            counts = _square_rows(interactions) - _square_rows(old)
            moved = dropout_penalty(counts, 0.0, problem.dropout)
            items = np.flatnonzero(moved)
            parts.append(
                sparse.csr_array(
                    (np.ones(len(items)), (np.arange(len(items)), items)),
                    shape=(len(items), interactions.shape[1]),
                )
            )
            weights.append(moved[items])
        V = sparse.vstack(parts, format="csr")
        weights = np.concatenate(weights)
        keep = np.diff(V.indptr) > 0
        V, weights = V[keep], weights[keep]
        self._check_update_memory(V.shape[0])
        state = dict(vars(self))
        if V.shape[0] > _REFACTOR_RANK_SHARE * interactions.shape[1] and self._refactor(
            interactions, correlation, required=False
        ):
            self._record_rows(interactions)
            return
        P, updated = self.inverse_, False
        try:
            try:
                low_rank_update_inplace(P, V, weights)
            except NotPositiveDefiniteError:
                # P is unchanged.  The downdate is numerically singular or leaves
                # G + Λ indefinite: the factorization decides (and diagnoses).
                self._refactor(interactions, correlation, required=True)
                self._record_rows(interactions)
                return
            updated = True
            self._form_weights(self.coef_, P, problem, interactions)
            self._record_rows(interactions)
            self.n_updates_ += 1
            self._check_drift(problem, interactions, correlation)
        except BaseException:
            vars(self).clear()
            vars(self).update(state)
            if updated:  # P back to the old inverse, B back from it
                low_rank_update_inplace(P, V, -weights)
                old_problem = self._problem_of(old, correlation)
                self._form_weights(self.coef_, P, old_problem, old)
            raise

    def _check_update_memory(self, rank):
        """Refuse a row update whose O(n·m) temporaries exceed the budget."""
        n, itemsize = self.n_features_in_, self.inverse_.dtype.itemsize
        estimate = MemoryEstimate(
            f"Updating {type(self).__name__} by {rank} rows",
            (
                (f"{rank} x {n} update factors", rank * n * (2 * itemsize + 16)),
                ("row blocks", 2 * min(_BLOCK_BYTES, n * n * itemsize)),
            ),
        )
        check_memory(
            estimate,
            self.memory_limit,
            advice=["call partial_fit with fewer rows at a time"],
        )

    def _update_support_rows(self, problem, interactions, new_rows):
        """Solve again the columns whose systems hold a changed item.

        An item is changed when a changed row has it: its entries of
        ``XᵀX`` (and its dropout penalty) moved, and with DAN's user_norm
        every item of a changed row is.  Column ``j``'s system is on
        ``{j} ∪ S_j``; the supports themselves are kept.
        """
        changed = np.zeros(interactions.shape[1], dtype=bool)
        changed[np.unique(new_rows.indices)] = True
        supports = self.supports_
        touched = changed[np.maximum(supports, 0)] & (supports >= 0)
        columns = np.flatnonzero(changed | touched.any(axis=1))
        coef = self._solver().resolve(problem, supports, columns, self.coef_)
        self.coef_ = coef
        self._record_rows(interactions)
        self.n_updates_ += 1

    def _record_rows(self, interactions):
        self.interactions_ = interactions
        self.item_popularity_ = item_popularity(interactions)
        self.n_samples_seen_ = interactions.shape[0]

    def _correlation(self):
        """The fitted ``C`` (None for the models without phase 1)."""
        correlation_of = getattr(self, "_correlation_of", None)
        if correlation_of is None:
            return None
        return correlation_of(self.semantic_, self.n_features_in_)

    def _check_fitted_state(self):
        super()._check_fitted_state()
        supports = getattr(self, "supports_", None)
        inverse = getattr(self, "inverse_", None)
        if inverse is None and supports is None:
            return
        n = self.n_features_in_
        if supports is not None:
            check_state_array("supports_", self, (n, supports.shape[1]))
        else:
            check_state_array("inverse_", self, (n, n))
        interactions = getattr(self, "interactions_", None)
        if not sparse.issparse(interactions) or interactions.shape != (
            self.n_samples_seen_,
            n,
        ):
            raise ValueError(
                f"interactions_ must be a sparse ({self.n_samples_seen_}, {n}) "
                "matrix beside inverse_."
            )


def _check_users(users, n_rows, n_users):
    users = np.asarray(users)
    if users.ndim != 1 or users.dtype.kind not in "iu" or len(users) != n_rows:
        raise ValueError(
            f"users must be a 1-D array of {n_rows} int row indices of "
            f"interactions_ (one per row of X), got shape {users.shape} of "
            f"dtype {users.dtype}."
        )
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(
            f"users must index rows of interactions_ (0 to {n_users - 1}), got "
            f"values from {users.min()} to {users.max()}; append new users "
            "with users=None."
        )
    if len(np.unique(users)) != len(users):
        raise ValueError(
            "users must be distinct: sum the rows of one user into one row of X."
        )
    return users.astype(np.int64)
