"""Scoring the training users of transductive models, recognized by history.

Models with a free embedding per training user (BPR, LightGCN, RLMRec) have
no fold-in for new users: a row of ``X`` is matched to the training user
with the same interactions (the first one when several share a history).
In the paper's protocol the evaluated users' input is their training row.
"""

import numpy as np
from scipy import sparse


def history_keys(X):
    """One hashable key per row of ``X``: the sorted item indices it holds."""
    X = sparse.csr_array(X, copy=True)
    X.eliminate_zeros()
    X.sort_indices()
    indices = X.indices.astype(np.int64)
    return [
        indices[start:stop].tobytes()
        for start, stop in zip(X.indptr[:-1], X.indptr[1:], strict=True)
    ]


def binary_histories(X):
    """``X > 0`` as a ``csr_array`` with sorted indices."""
    histories = sparse.csr_array(sparse.csr_array(X) > 0)
    histories.sort_indices()
    return histories


class TrainingUserRows:
    """Mixin: ``user_histories_`` and the rows of ``X`` matched to them.

    The fitted ``user_histories_`` (a boolean ``csr_array``) is stored; the
    index from history to user is derived from it, on fit and on load.
    """

    # How the error names what the model lacks.
    _no_fold_in = "it has no fold-in for new users or changed histories"

    def _set_user_histories(self, X):
        self.user_histories_ = binary_histories(X)
        self._index_histories()

    def _index_histories(self):
        """The first training user of each history, derived from the histories."""
        users = {}
        for user, key in enumerate(history_keys(self.user_histories_)):
            users.setdefault(key, user)
        self._training_users = users

    def _restore_fitted_state(self, state):
        """Persistence hook: the history index is derived, not stored."""
        for key, value in state.items():
            setattr(self, key, value)
        self._index_histories()

    def _training_rows(self, X):
        """The training user of each row of ``X``, matched by history."""
        rows = [self._training_users.get(key, -1) for key in history_keys(X)]
        rows = np.asarray(rows, dtype=np.int64)
        unknown = np.flatnonzero(rows < 0)
        if len(unknown):
            raise ValueError(
                f"{type(self).__name__} can only score its training users, "
                "recognized by their training interactions, but "
                f"{len(unknown)} of the {X.shape[0]} rows of X (first: row "
                f"{unknown[0]}) match no training user: {self._no_fold_in}. "
                "Use ALSRecommender, AlphaRec or an item-item model to score "
                "them."
            )
        return rows
