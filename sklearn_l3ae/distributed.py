"""Running the recommenders on a Dask cluster (the ``distributed`` extra).

Fitting and tuning need nothing from this module: every parallel loop of
the package goes through joblib (SPEC §8), so the ordinary scikit-learn
calls run on a cluster inside ``joblib.parallel_backend("dask")``::

    from dask.distributed import Client
    import joblib

    client = Client(address)           # or LocalCluster(), dask-jobqueue, ...
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(model, grid, n_jobs=-1, ...).fit(X, y)
        sparse_model = L3AERecommender(..., n_neighbors=256, n_jobs=-1).fit(X)

Inside a Dask task, :class:`~sklearn_l3ae.SentenceEncoder` shares its
embeddings through the scheduler, so a search encodes the item texts once
for the whole cluster (:func:`clear_embeddings` frees them).  This module
adds what joblib cannot express: scoring a Dask DataFrame of interactions
partition by partition (:func:`recommend_partitions`).

See the user guide's *Distributed* page (``docs/distributed.rst``).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._core.validation import check_k
from .datasets import interactions_from_frame, recommendations_to_frame
from .text._cluster_cache import DATASET_PREFIX

__all__ = ["clear_embeddings", "recommend_partitions"]


def _dask_dataframe():
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(
            "sklearn_l3ae.distributed needs Dask: install the distributed extra "
            '(pip install "sklearn-l3ae[distributed]").'
        ) from None
    return dask, dd


def recommend_partitions(
    model,
    frame,
    n=10,
    user_col="user_id",
    item_col="item_id",
    weight_col=None,
    *,
    filter_seen=True,
    shuffle=None,
):
    """Top-``n`` recommendations of every user of a Dask DataFrame of interactions.

    Each partition of ``frame`` becomes the sparse interaction matrix of its
    users (:func:`~sklearn_l3ae.datasets.interactions_from_frame` over the
    model's item catalogue), scored by ``model.recommend`` on the worker
    that holds it, and comes back as a long table
    (:func:`~sklearn_l3ae.datasets.recommendations_to_frame`).  The fitted
    model is sent to each worker once, whatever the number of partitions:
    with a ``distributed`` client it is scattered to every worker by this
    call (the graph holds only its future); with a local scheduler it is
    one node of the graph.  Nothing is computed until the
    result is (``.compute()``, ``.to_parquet(...)``).

    Parameters
    ----------
    model : fitted recommender
        Any recommender of the package (``recommend``); its items are
        ``item_ids_`` when it knows them, else column indices.
    frame : dask.dataframe.DataFrame
        One row per interaction: ``user_col`` (a column, or the index's
        name), ``item_col``, and ``weight_col`` if given.  Items must be in
        the model's catalogue.  A (user, item) pair repeated keeps its last
        row, as in :func:`~sklearn_l3ae.datasets.interactions_from_frame`.
    n : int, default=10
        Items per user.
    user_col, item_col : str, default="user_id", "item_id"
    weight_col : str, default=None
        Interaction values; ``None`` gives 1 (implicit feedback, as the
        model was most likely trained).
    filter_seen : bool, default=True
        Never recommend an item the user interacted with.
    shuffle : bool, default=None
        Whether to first move each user's rows into one partition
        (``frame.shuffle(on=user_col)``), so that a user spread over
        several partitions is scored on all of its history.  ``None``
        shuffles unless ``frame`` is indexed by ``user_col`` with known
        divisions (e.g. ``dd.read_parquet(..., index=user_col,
        calculate_divisions=True)`` on files written sorted by user), which
        already guarantees it.  Pass False for data you know is partitioned
        by user: a user split over partitions then gets one list per
        partition.

    Returns
    -------
    recommendations : dask.dataframe.DataFrame
        Columns ``user_col``, ``rank`` (1 = best), ``item_col``, ``score``;
        users sorted within each partition, items best first.  Users with
        fewer than ``n`` unseen items get fewer rows.  The rows are those
        of ``model.recommend`` on the same users' rows: each user is
        scored from its own row, so partitioning changes nothing.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer or a column is missing (now);
        if a partition holds items outside the model's catalogue (when
        computed, naming them).

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from sklearn_l3ae import EASERecommender
    >>> from sklearn_l3ae.datasets import interactions_from_frame
    >>> from sklearn_l3ae.distributed import recommend_partitions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 3],
    ...                     "item_id": ["a", "b", "b", "c", "a", "c", "d"]})
    >>> data = interactions_from_frame(log)
    >>> model = EASERecommender(reg=1.0, item_ids=data.item_ids).fit(data.X)
    >>> frame = dd.from_pandas(log, npartitions=2)
    >>> top = recommend_partitions(model, frame, n=2).compute()
    >>> list(top.columns)
    ['user_id', 'rank', 'item_id', 'score']
    >>> top = top.sort_values(["user_id", "rank"])
    >>> top[["user_id", "rank", "item_id"]].values.tolist()
    [[1, 1, 'c'], [1, 2, 'd'], [2, 1, 'a'], [2, 2, 'd'], [3, 1, 'b']]
    >>> model.recommend(data.X, n=2)[0].tolist()
    [['c', 'd'], ['a', 'd'], ['b', '']]
    """
    dask, dd = _dask_dataframe()
    check_is_fitted(model)
    n = check_k(n, "n")
    if not isinstance(frame, dd.DataFrame):
        raise TypeError(
            "recommend_partitions needs a dask.dataframe.DataFrame of "
            f"interactions, got {type(frame).__name__}; for a pandas frame use "
            "interactions_from_frame and model.recommend, or "
            "dask.dataframe.from_pandas(frame, npartitions=...)."
        )
    index_name = frame.index.name
    needed = [item_col] + ([] if weight_col is None else [weight_col])
    if user_col != index_name:
        needed.insert(0, user_col)
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise ValueError(
            f"The frame has no column {missing[0]!r} (its columns are "
            f"{list(frame.columns)}, index {index_name!r}): pass "
            "user_col=, item_col= or weight_col= naming the right ones."
        )
    if shuffle is None:
        shuffle = not (user_col == index_name and frame.known_divisions)
    if user_col == index_name:
        frame = frame.reset_index()
    frame = frame[[user_col, item_col] + ([] if weight_col is None else [weight_col])]
    if shuffle:
        frame = frame.shuffle(on=user_col)
    labels = model._labels(None)
    meta = _empty_result(frame[user_col].dtype, labels, n, user_col, item_col, model)
    client = _default_client()
    if client is not None:
        # Sent to every worker now, once; the graph holds only its future.
        model_node = client.scatter([model], broadcast=True, hash=False)[0]
    else:
        # One graph node (local schedulers): computed once, shared by tasks.
        model_node = dask.delayed(model, pure=False, traverse=False)
    return frame.map_partitions(
        _recommend_partition,
        model_node,
        n=n,
        user_col=user_col,
        item_col=item_col,
        weight_col=weight_col,
        filter_seen=filter_seen,
        meta=meta,
    )


def _default_client():
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _empty_result(user_dtype, labels, n, user_col, item_col, model):
    try:
        user_kind = np.dtype(user_dtype).kind
    except TypeError:  # a pandas extension dtype (str, categorical, ...)
        user_kind = "O"
    users = np.empty(0, dtype=np.int64 if user_kind in "iu" else str)
    items = np.empty((0, n), dtype=np.int64 if labels is None else labels.dtype)
    scores = np.empty((0, n), dtype=model._scores_dtype())
    return recommendations_to_frame(
        items, scores, users, user_col=user_col, item_col=item_col
    )


def _recommend_partition(
    part, model, *, n, user_col, item_col, weight_col, filter_seen
):
    """``recommend`` for the users of one partition (a worker's task)."""
    labels = model._labels(None)
    meta = _empty_result(part[user_col].dtype, labels, n, user_col, item_col, model)
    if len(part) == 0:
        return meta
    catalogue = np.arange(model.n_features_in_) if labels is None else labels
    if labels is None:
        _check_column_indices(part[item_col], model.n_features_in_, item_col)
    data = interactions_from_frame(
        part,
        user_col=user_col,
        item_col=item_col,
        weight_col=weight_col,
        item_ids=catalogue,
    )
    items, scores = model.recommend(
        data.X, n=n, filter_seen=filter_seen, as_labels=labels is not None
    )
    result = recommendations_to_frame(
        items, scores, data.user_ids, user_col=user_col, item_col=item_col
    )
    return result.astype(meta.dtypes.to_dict())


def _check_column_indices(items, n_items, item_col):
    """Items of a model fitted without ``item_ids`` are its column indices."""
    items = np.asarray(items)
    if items.dtype.kind not in "iu":
        raise ValueError(
            f"The model was fitted without item_ids, so the frame's {item_col!r} "
            f"must hold its column indices (integers 0..{n_items - 1}); got "
            f"{items.dtype} values such as {items[:1].tolist()}."
        )
    strays = np.unique(items[(items < 0) | (items >= n_items)])
    if strays.size:
        raise ValueError(
            f"{strays.size} item(s) of the frame are not column indices of the "
            f"model (0..{n_items - 1}; it was fitted without item_ids): "
            f"{', '.join(map(str, strays[:5].tolist()))}"
            f"{', ...' if strays.size > 5 else ''}."
        )


def clear_embeddings(client=None):
    """Drop the item embeddings that encoders shared on a Dask cluster.

    Inside Dask tasks, :class:`~sklearn_l3ae.SentenceEncoder` publishes the
    embeddings of each set of texts it encodes as a dataset of the
    scheduler, so that the other workers fetch them instead of encoding
    again (see :mod:`sklearn_l3ae.distributed`).  They stay on the cluster
    until this call (or the scheduler's end).

    Parameters
    ----------
    client : distributed.Client, default=None
        The cluster's client; ``None`` uses the current one
        (``distributed.get_client()``).

    Returns
    -------
    names : list of str
        The datasets dropped.
    """
    try:
        from distributed import get_client
    except ImportError:
        raise ImportError(
            "clear_embeddings needs dask.distributed: install the distributed "
            'extra (pip install "sklearn-l3ae[distributed]").'
        ) from None
    client = get_client() if client is None else client
    names = [
        name
        for name in client.list_datasets()
        if isinstance(name, str) and name.startswith(DATASET_PREFIX)
    ]
    for name in names:
        client.unpublish_dataset(name)
    return names
