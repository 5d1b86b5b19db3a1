"""Splitting user-item interactions for evaluation and model selection.

Every splitter returns sparse matrices of the input's shape (``csr_array``
for a ``sparray`` input, else ``csr_matrix``) whose sum is the input: each
stored nonzero interaction lands in exactly one part, with its value.

- :func:`random_holdout_split`: per user, a random fraction of the
  interactions is held out (train/test or train/validation/test).
- :func:`temporal_holdout_split`: the same fractions, taken per user in time
  order (the latest interactions are held out).
- :func:`leave_last_out_split`: each user's last interaction(s) are held out.
- :func:`strong_generalization_cv`: K-fold over users, for
  ``GridSearchCV(cv=...)``: held-out users are folded in with part of their
  interactions and scored on the rest.

The paper's protocol (weak generalization, as in the official L3AE code) is
a random 8:1:1 split per user.  The model is fitted on the training matrix of
all users, tuned on the validation matrix, and tested on the test matrix,
each time with the training interactions as the (masked) input::

    train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    all_users = np.arange(X.shape[0])
    search = GridSearchCV(model, grid, scoring=make_ranking_scorer("ndcg", k=20),
                          cv=[(all_users, all_users)])  # fit on train, score on val
    search.fit(train, val)                              # X = train, y = validation
    evaluate(search.best_estimator_, train, test)

With ``cv=[(all_users, all_users)]`` the single "fold" fits on every user's
training rows and scores the same users' validation interactions, and
``refit`` refits on ``train``.
"""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._core.validation import check_storable, entry_positions, float_vector_or_none


def _check_interactions(X):
    """Canonical ``csr_array`` copy of ``X`` without explicit zeros."""
    X = sparse.csr_array(check_storable(X, "X"), copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def _like_input(matrices, X):
    """Return ``matrices`` as ``csr_array`` if ``X`` is a sparse array, else
    ``csr_matrix``."""
    if isinstance(X, sparse.sparray):
        return tuple(matrices)
    return tuple(sparse.csr_matrix(matrix) for matrix in matrices)


def _check_fractions(fractions):
    values = float_vector_or_none(fractions)
    if (
        values is None
        or values.size not in (2, 3)
        or not (values > 0).all()
        or not np.isclose(values.sum(), 1.0)
    ):
        raise ValueError(
            "fractions must be 2 (train, test) or 3 (train, validation, test) "
            f"positive numbers summing to 1; got {fractions!r}."
        )
    return values


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _part_sizes(counts, held_out, min_interactions):
    """Sizes (n_users, 1 + n_held_out) of each user's parts, train first.

    A user is split only with at least ``min_interactions`` interactions and
    at least one left for training; otherwise everything stays in train.
    """
    eligible = (counts >= min_interactions) & (held_out.sum(axis=1) < counts)
    held_out = np.where(eligible[:, None], held_out, 0)
    return np.column_stack([counts - held_out.sum(axis=1), held_out])


def _fraction_sizes(counts, fractions, min_interactions):
    # Each held-out part gets round-half-up(fraction · n) interactions and at
    # least one, so every split user is evaluated on every held-out part.
    held_out = np.floor(np.outer(counts, fractions[1:]) + 0.5).astype(np.int64)
    return _part_sizes(counts, np.maximum(held_out, 1), min_interactions)


def _split_in_order(X, key, sizes):
    """Split each user's interactions, in increasing ``key`` order, by ``sizes``.

    ``X`` is canonical CSR, ``key`` has one value per stored interaction; equal
    keys keep increasing item order (the sort is stable on column-sorted rows).
    """
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    # Sorted by user then key; rows are already sorted, so position p of the
    # order is the (p - indptr[rows[p]])-th interaction of user rows[p].
    order = np.lexsort((key, rows))
    rank_in_user = np.arange(X.nnz) - X.indptr[rows]
    starts = np.cumsum(sizes, axis=1)[:, :-1]
    part = np.empty(X.nnz, dtype=np.int64)
    part[order] = (rank_in_user[:, None] >= starts[rows]).sum(axis=1)
    parts = []
    for j in range(sizes.shape[1]):
        # Selecting in storage order keeps each part canonical CSR.
        chosen = part == j
        indptr = np.concatenate([[0], np.cumsum(sizes[:, j])])
        parts.append(
            sparse.csr_array((X.data[chosen], X.indices[chosen], indptr), shape=X.shape)
        )
    return parts


def _timestamps_of(X, timestamps):
    """The timestamp of each stored interaction of canonical ``X``."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    if not sparse.issparse(timestamps):
        timestamps = check_array(timestamps, input_name="timestamps")
        if timestamps.shape != X.shape:
            raise ValueError(
                f"timestamps must have X's shape {X.shape}; got {timestamps.shape}."
            )
        return timestamps[rows, X.indices]
    timestamps = sparse.csr_array(timestamps, copy=True)
    if timestamps.shape != X.shape:
        raise ValueError(
            f"timestamps must have X's shape {X.shape}; got {timestamps.shape}."
        )
    timestamps.sum_duplicates()
    position = entry_positions(timestamps, rows, X.indices)
    if (position < 0).any():
        first = int(np.flatnonzero(position < 0)[0])
        raise ValueError(
            "timestamps must store a value for every interaction of X; none for "
            f"user (row) {rows[first]}, item (column) {X.indices[first]}."
        )
    return check_array(
        timestamps.data[position],
        ensure_2d=False,
        ensure_min_samples=0,
        input_name="timestamps",
    )


def random_holdout_split(
    X, fractions=(0.8, 0.2), *, min_interactions=1, random_state=None
):
    """Hold out a random fraction of each user's interactions.

    Each user's interactions are shuffled and cut into parts: every held-out
    part gets ``round(fraction · n)`` of the user's ``n`` interactions (half
    rounded up) and at least one, training keeps the rest.  Users with fewer
    than ``min_interactions`` interactions, or too few to leave one for
    training, stay entirely in train.  The paper's protocol is
    ``fractions=(0.8, 0.1, 0.1)``; see the module documentation for running
    it inside ``GridSearchCV``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions; stored nonzero entries are the interactions.
    fractions : tuple of float, default=(0.8, 0.2)
        ``(train, test)`` or ``(train, validation, test)`` fractions, positive
        and summing to 1.
    min_interactions : int, default=1
        Users with fewer interactions are kept in train.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle, for reproducible splits.

    Returns
    -------
    parts : tuple of sparse matrices of shape (n_users, n_items)
        ``(train, test)`` or ``(train, validation, test)``, summing to ``X``.

    See Also
    --------
    temporal_holdout_split : The same split in time order.
    strong_generalization_cv : Cross-validation over users.

    Examples
    --------
    The paper's protocol: tune on validation with the training matrix as
    input, then test.

    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_l3ae import EASERecommender
    >>> from sklearn_l3ae.metrics import evaluate
    >>> from sklearn_l3ae.model_selection import random_holdout_split
    >>> from sklearn_l3ae.metrics import make_ranking_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((100, 12)) < 0.5).astype(np.float32)
    >>> train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    >>> bool(((train + val + test).toarray() == X).all())
    True
    >>> all_users = np.arange(X.shape[0])
    >>> search = GridSearchCV(EASERecommender(), {"reg": [10.0, 100.0]},
    ...                       scoring=make_ranking_scorer("ndcg", k=5),
    ...                       cv=[(all_users, all_users)]).fit(train, val)
    >>> report = evaluate(search.best_estimator_, train, test, ks=(5,))
    """
    fractions = _check_fractions(fractions)
    min_interactions = _check_count(min_interactions, "min_interactions", 1)
    interactions = _check_interactions(X)
    key = check_random_state(random_state).random_sample(interactions.nnz)
    sizes = _fraction_sizes(np.diff(interactions.indptr), fractions, min_interactions)
    return _like_input(_split_in_order(interactions, key, sizes), X)


def temporal_holdout_split(X, timestamps, fractions=(0.8, 0.2), *, min_interactions=1):
    """Hold out the latest fraction of each user's interactions.

    As :func:`random_holdout_split`, with each user's interactions ordered
    by time instead of shuffled: training gets the oldest, the test part the
    newest (the validation part what lies between).  Equal timestamps are
    ordered by increasing item index (the higher index counts as later).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions; stored nonzero entries are the interactions.
    timestamps : {array-like, sparse matrix} of shape (n_users, n_items)
        The time of each interaction.  A sparse matrix must store a value at
        every interaction of ``X`` (build it from the same (user, item)
        pairs, without duplicates, which would be summed); others are ignored.
    fractions : tuple of float, default=(0.8, 0.2)
        ``(train, test)`` or ``(train, validation, test)`` fractions.
    min_interactions : int, default=1
        Users with fewer interactions are kept in train.

    Returns
    -------
    parts : tuple of sparse matrices of shape (n_users, n_items)
        ``(train, test)`` or ``(train, validation, test)``, summing to ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.model_selection import temporal_holdout_split
    >>> X = np.array([[1, 1, 1, 1, 1]])
    >>> timestamps = np.array([[50, 10, 40, 20, 30]])
    >>> train, test = temporal_holdout_split(X, timestamps, (0.6, 0.4))
    >>> test.toarray()
    array([[1, 0, 1, 0, 0]])
    """
    fractions = _check_fractions(fractions)
    min_interactions = _check_count(min_interactions, "min_interactions", 1)
    interactions = _check_interactions(X)
    key = _timestamps_of(interactions, timestamps)
    sizes = _fraction_sizes(np.diff(interactions.indptr), fractions, min_interactions)
    return _like_input(_split_in_order(interactions, key, sizes), X)


def leave_last_out_split(X, timestamps, *, n_test=1, n_val=0, min_interactions=1):
    """Hold out each user's last interaction(s) in time.

    The latest ``n_test`` interactions of each user form the test part and,
    with ``n_val > 0``, the ``n_val`` before them the validation part.  Users
    with fewer than ``min_interactions`` interactions, or fewer than
    ``n_test + n_val + 1``, stay entirely in train.  Ties in time are broken
    as in :func:`temporal_holdout_split`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions; stored nonzero entries are the interactions.
    timestamps : {array-like, sparse matrix} of shape (n_users, n_items)
        The time of each interaction, as in :func:`temporal_holdout_split`.
    n_test : int, default=1
        Interactions per user in the test part, >= 1.
    n_val : int, default=0
        Interactions per user in the validation part, >= 0.
    min_interactions : int, default=1
        Users with fewer interactions are kept in train.

    Returns
    -------
    parts : tuple of sparse matrices of shape (n_users, n_items)
        ``(train, test)``, or ``(train, validation, test)`` when ``n_val > 0``;
        they sum to ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.model_selection import leave_last_out_split
    >>> X = np.array([[1, 1, 1, 0], [0, 1, 0, 0]])
    >>> timestamps = np.array([[3, 1, 2, 0], [0, 7, 0, 0]])
    >>> train, test = leave_last_out_split(X, timestamps)
    >>> test.toarray()
    array([[1, 0, 0, 0],
           [0, 0, 0, 0]])
    """
    n_test = _check_count(n_test, "n_test", 1)
    n_val = _check_count(n_val, "n_val", 0)
    min_interactions = _check_count(min_interactions, "min_interactions", 1)
    interactions = _check_interactions(X)
    key = _timestamps_of(interactions, timestamps)
    counts = np.diff(interactions.indptr)
    held_out = np.tile([n_val, n_test] if n_val else [n_test], (counts.size, 1))
    sizes = _part_sizes(counts, held_out, min_interactions)
    return _like_input(_split_in_order(interactions, key, sizes), X)


def strong_generalization_cv(
    X, n_splits=5, *, target_fraction=0.2, min_interactions=1, random_state=None
):
    """K-fold cross-validation over users, with fold-in for held-out users.

    In strong generalization the users scored in a fold are not used for
    fitting: the model is fitted on the other users' full interactions, and
    each held-out user's interactions are split at random into a fold-in part
    (the input ``X`` of the scorer, masked from the ranking) and a target
    part (its ``y``).  ``GridSearchCV`` slices one ``X`` by user, so the
    fold-in rows are stacked under the full rows, and the folds point into
    the stack: fit on the full rows of the training users, score on the
    fold-in rows of the held-out users.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions of all users.
    n_splits : int, default=5
        Number of folds over users, >= 2.
    target_fraction : float, default=0.2
        Fraction of each held-out user's interactions to predict, in (0, 1);
        split as in :func:`random_holdout_split` (users with too few
        interactions have no target and are not scored).
    min_interactions : int, default=1
        Users with fewer interactions get no target.
    random_state : int, RandomState instance or None, default=None
        Seed of the fold-in/target split and of the fold assignment.

    Returns
    -------
    X_cv : sparse matrix of shape (2 * n_users, n_items)
        ``X`` stacked over the fold-in parts; pass it to ``fit``.
    y_cv : sparse matrix of shape (2 * n_users, n_items)
        Empty rows stacked over the target parts; pass it to ``fit``.
    folds : list of (train, test) index arrays
        Pass it as ``cv=``.  ``train`` indexes full rows, ``test`` fold-in
        rows.

    Notes
    -----
    Refit the best model on ``X`` itself (``refit=False``, then
    ``clone(model).set_params(**search.best_params_).fit(X)``): refitting on
    ``X_cv`` would also train on the stacked fold-in copies.
    ``cross_validate`` accepts only a dense ``y``: pass ``y_cv.toarray()``
    there (``GridSearchCV`` takes the sparse ``y_cv``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_l3ae import EASERecommender
    >>> from sklearn_l3ae.model_selection import strong_generalization_cv
    >>> from sklearn_l3ae.metrics import make_ranking_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((100, 12)) < 0.5).astype(np.float32)
    >>> X_cv, y_cv, folds = strong_generalization_cv(X, n_splits=3, random_state=0)
    >>> X_cv.shape, len(folds)
    ((200, 12), 3)
    >>> search = GridSearchCV(EASERecommender(), {"reg": [10.0, 100.0]},
    ...                       scoring=make_ranking_scorer("recall", k=5),
    ...                       cv=folds, refit=False).fit(X_cv, y_cv)
    >>> model = EASERecommender(**search.best_params_).fit(X)
    """
    if (
        not isinstance(target_fraction, Real)
        or isinstance(target_fraction, bool)
        or not 0 < target_fraction < 1
    ):
        raise ValueError(f"target_fraction must be in (0, 1); got {target_fraction!r}.")
    rng = check_random_state(random_state)
    interactions = _check_interactions(X)
    n_users = interactions.shape[0]
    fold_in, target = random_holdout_split(
        interactions,
        (1 - target_fraction, target_fraction),
        min_interactions=min_interactions,
        random_state=rng,
    )
    X_cv = sparse.vstack([interactions, fold_in], format="csr")
    y_cv = sparse.vstack(
        [sparse.csr_array(target.shape, dtype=target.dtype), target], format="csr"
    )
    kfold = KFold(n_splits, shuffle=True, random_state=rng)
    folds = [(train, test + n_users) for train, test in kfold.split(np.empty(n_users))]
    return (*_like_input((X_cv, y_cv), X), folds)
