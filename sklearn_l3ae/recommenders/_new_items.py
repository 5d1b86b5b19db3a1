"""Items added to a fitted dense item-item model, exactly (``add_items``).

New items add a block row and column to ``G + Λ``; the kept inverse grows
by a Schur complement (:func:`~sklearn_l3ae._core.incremental.extend_inverse`)
in O(n²·k) for k items, phase 1 is refitted on the old items' embeddings
plus the new ones (O(n·d²), no old text encoded again), and ``B`` is formed
from the larger inverse.  The row updates it shares live in
:mod:`._incremental`.
"""

import copy

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array, check_non_negative

from .._core.incremental import extend_inverse
from .._core.linalg import NotPositiveDefiniteError
from .._core.memory import MemoryEstimate, check_memory
from .._core.normalization import dan_scaled_rows
from .._core.validation import label_array
from .._solvers._diagnosis import explain_failure
from ._item_side import item_data_of


class ItemAdditionMixin:
    """:meth:`add_items` of the models with ``keep_inverse`` (see
    :class:`~._incremental.IncrementalMixin`, which it is part of)."""

    def add_items(self, X, *, item_texts=None, item_embeddings=None, item_ids=None):
        """Add items (their interactions and texts) to the fitted model, exactly.

        The model becomes the one :meth:`fit` gives on the training
        interactions with these columns appended (to float round-off), with
        phase 1 on the old items' embeddings plus the new ones (the old
        texts are not encoded again): the kept inverse grows by a Schur
        complement in O(n_items²·k) for k items.  Cold-start items (empty
        columns) are recommendable at once through the pull towards ``C``.
        The constructor's item data (``item_texts`` or ``item_embeddings``,
        and ``item_ids`` when given) are extended too, so that
        ``clone(model).fit(model.interactions_)`` refits the same model.

        With DAN's ``user_norm``, interactions with the new items change the
        users' row sums, hence every row's weight: the model is then refitted
        from its kept interactions (exact, the cost of a fit).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (`n_samples_seen_`, n_new_items)
            The training users' interactions with the new items (rows as in
            ``interactions_``); all zero for items nobody has seen yet.
        item_texts : sequence of str, default=None
            One text per new item, for a model fitted with ``item_texts``.
        item_embeddings : array-like of shape (n_new_items, d), default=None
            One embedding per new item, for a model fitted with
            ``item_embeddings``.
        item_ids : array-like of shape (n_new_items,), default=None
            Labels of the new items; required when the model has
            ``item_ids_``, refused otherwise.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_l3ae import L3AERecommender
        >>> X = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
        >>> F = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0]])
        >>> model = L3AERecommender(
        ...     item_embeddings=F, reg_X=1.0, reg_E=5.0, item_ids=["a", "b", "c"],
        ...     keep_inverse=True,
        ... ).fit(X)
        >>> nobody_yet = np.zeros((4, 1))  # a new item without interactions
        >>> model = model.add_items(
        ...     nobody_yet, item_embeddings=[[0.9, 0.1]], item_ids=["d"]
        ... )
        >>> model.item_ids_
        array(['a', 'b', 'c', 'd'], dtype='<U1')
        >>> scores = model.decision_function([[1, 0, 0, 0], [0, 0, 1, 0]])
        >>> bool(scores[0, 3] > 0 > scores[1, 3])  # "d" is close to "a" by text
        True
        """
        self._require_inverse("add_items", sparse_ok=False)
        owner = type(self).__name__
        dtype = self.inverse_.dtype
        Y = check_array(X, accept_sparse="csr", dtype=dtype, input_name="X")
        check_non_negative(Y, f"{owner}.add_items (X)")
        n_rows = self.interactions_.shape[0]
        if Y.shape[0] != n_rows:
            raise ValueError(
                f"add_items takes the training users' interactions with the new "
                f"items: X must have {n_rows} rows (those of interactions_), got "
                f"{Y.shape[0]}."
            )
        Y = sparse.csr_array(Y, dtype=dtype)
        k, n = Y.shape[1], self.n_features_in_
        labels = self._new_labels(item_ids, k)
        semantic, params = self._extended_phase_one(item_texts, item_embeddings, k)
        if getattr(self, "item_ids", None) is not None:
            params["item_ids"] = list(self.item_ids) + labels[n:].tolist()
        interactions = sparse.hstack([self.interactions_, Y], format="csr")
        self._check_item_memory(n + k)
        correlation = self._correlation_of(semantic, n + k) if semantic else None
        state = dict(vars(self))
        # The old B is held here only until the larger P exists (see _extend);
        # after that a failure forms it again from the old P, which is kept.
        held = [state.pop("coef_")]
        try:
            self._set_items(n + k, labels, semantic)
            beta = getattr(self, "user_norm", 0.0)
            if beta and Y.nnz:
                self._refactor(interactions, correlation, required=True)
            else:
                self._extend(interactions, Y, correlation, held)
            self._record_rows(interactions)
            self.set_params(**params)
        except BaseException:
            vars(self).clear()
            vars(self).update(state)
            if held:
                self.coef_ = held[0]
            else:
                P = self.inverse_
                problem = self._problem_of(self.interactions_, self._correlation())
                self.coef_ = self._form_weights(
                    np.empty_like(P), P, problem, self.interactions_
                )
            raise
        return self

    def _extend(self, interactions, Y, correlation, held):
        problem = self._problem_of(interactions, correlation)
        beta = getattr(self, "user_norm", 0.0)
        X_old = dan_scaled_rows(self.interactions_, beta)
        # With user_norm, Y is empty here (else add_items refits): the users'
        # row sums, hence their weights, are unchanged.
        Y_scaled = dan_scaled_rows(Y, beta)
        new_penalty = np.broadcast_to(
            self._penalty(problem, interactions), (interactions.shape[1],)
        )[X_old.shape[1] :]
        corner = np.asarray((Y_scaled.T @ Y_scaled).toarray(), dtype=np.float64)
        corner.flat[:: corner.shape[0] + 1] += new_penalty
        try:
            inverse = extend_inverse(
                self.inverse_, sparse.csr_array(X_old.T @ Y_scaled), corner
            )
        except NotPositiveDefiniteError as exc:
            raise ValueError(explain_failure(problem)) from exc
        # B from the larger P: the old B is let go first (peak: the old and
        # new P and the new B); on failure add_items forms it from the old P.
        held.clear()
        self.coef_ = None
        self.coef_ = self._form_weights(
            np.empty_like(inverse), inverse, problem, interactions
        )
        self.inverse_ = inverse
        self.n_updates_ += 1
        self._check_drift(problem, interactions, correlation)

    def _check_item_memory(self, n_total):
        """Refuse an item addition whose new arrays do not fit the budget: the
        larger P and B, less the old B let go before the new B is formed."""
        itemsize = self.inverse_.dtype.itemsize
        n = self.n_features_in_
        estimate = MemoryEstimate(
            f"Adding {n_total - n} items to {type(self).__name__}",
            (
                (f"the {n_total} x {n_total} inverse", n_total * n_total * itemsize),
                ("the larger weights, less the old", (n_total**2 - n**2) * itemsize),
            ),
        )
        check_memory(
            estimate,
            self.memory_limit,
            advice=["use dtype=np.float32", "refit with the new items instead"],
        )

    def _new_labels(self, item_ids, k):
        owner = type(self).__name__
        old = getattr(self, "item_ids_", None)
        if old is None:
            if item_ids is not None:
                raise ValueError(
                    f"This {owner} has no item labels (item_ids_ is None): its items "
                    "are column indices, so add_items takes no item_ids."
                )
            return None
        if item_ids is None:
            raise ValueError(
                f"This {owner} names its items (item_ids_): pass item_ids, one "
                f"label per new item ({k})."
            )
        labels = label_array(item_ids, k, owner)
        combined = np.concatenate([old, labels])
        if old.dtype.kind != labels.dtype.kind and not (
            old.dtype.kind in "iu" and labels.dtype.kind in "iu"
        ):
            raise ValueError(
                f"item_ids must be labels of the same kind as item_ids_ "
                f"({old.dtype.kind!r} labels), got {labels.dtype.kind!r}."
            )
        return label_array(combined, len(combined), owner)

    def _set_items(self, n_total, labels, semantic):
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            self.feature_names_in_ = labels.astype(str).astype(object)
        self.n_features_in_ = n_total
        self.item_ids_ = labels
        if semantic is not None:
            self.semantic_ = semantic

    def _extended_phase_one(self, item_texts, item_embeddings, k):
        """``(semantic_, params)`` after adding ``k`` items' data."""
        owner = type(self).__name__
        semantic = getattr(self, "semantic_", None)
        if semantic is None:
            if item_texts is not None or item_embeddings is not None:
                raise ValueError(
                    f"This {owner} has no phase 1 (it was fitted without item "
                    "data): add_items takes no item_texts or item_embeddings."
                )
            return None, {}
        source = "item_texts" if self.item_texts is not None else "item_embeddings"
        given = {"item_texts": item_texts, "item_embeddings": item_embeddings}
        if given[source] is None or any(
            value is not None for name, value in given.items() if name != source
        ):
            raise ValueError(
                f"This {owner} was fitted on {source}: pass {source}= for the "
                f"{k} new items (one per column of X), and nothing else."
            )
        new_data, _ = item_data_of(owner, item_texts, item_embeddings, k)
        old_F = self._item_embeddings()
        steps = semantic.steps if isinstance(semantic, Pipeline) else None
        if steps is not None and len(steps) > 1:
            new_F = semantic[:-1].transform(new_data)
        else:
            new_F = new_data
        new_F = np.asarray(new_F, dtype=np.asarray(old_F).dtype)
        final = clone(steps[-1][1] if steps is not None else semantic)
        final.fit(np.vstack([old_F, new_F]))
        if steps is None:
            extended = final
        else:
            extended = copy.copy(semantic)
            extended.steps = list(steps[:-1]) + [(steps[-1][0], final)]
        old = getattr(self, source)
        if source == "item_texts":
            params = {source: list(old) + list(new_data)}
        else:
            params = {source: np.vstack([np.asarray(old), new_data])}
        return extended, params
