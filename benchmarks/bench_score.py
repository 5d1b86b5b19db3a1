"""Scoring throughput and memory: batched recommend/predict vs bare ``X @ B``.

One EASE model (float32) is fitted on synthetic Zipf interactions and saved;
then, each in a fresh process that loads it, the top-20 items of 100 000 users
(~40 interactions each) are computed by:

``bare``          ``S = X @ B`` for all users at once, then
                  ``argpartition`` of each row (unsorted top 20, seen items not
                  masked): the floor, and what a one-liner does;
``bare batched``  the same in batches of about 64 MiB of scores;
``recommend``     ``model.recommend(X, n=20)``: seen items masked, top 20
                  sorted with the documented tie rule, scores returned;
``predict``       ``model.predict(X)`` (``top_k=20``): the same, indices only;
``scorer``        ``make_ranking_scorer("ndcg", 20)`` against a held-out item
                  per user (what ``GridSearchCV`` calls).

Recorded: seconds, users per second, the ratio to ``bare`` (the issue's target
is at most 2x) and the peak RSS growth over the loaded inputs.

Usage: ``python benchmarks/bench_score.py [--users 100000 --items 10000]``.
``bare`` needs ~12 GB at the default size (dense scores plus argpartition's
int64 indices).  Writes ``benchmarks/results/score.md`` and ``score.json``.
"""

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from sklearn_l3ae import EASERecommender, load, make_ranking_scorer, save

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import in_fresh_process, reset_peak_rss, status_bytes  # noqa: E402
from _synthetic import zipf_interactions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
K = 20
BATCH_BYTES = 64 * 2**20


def _held_out(X, seed):
    """One random item per user, outside the user's interactions."""
    rng = np.random.default_rng(seed)
    n_users, n_items = X.shape
    items = rng.integers(0, n_items, n_users)
    y = sparse.csr_array(
        (np.ones(n_users, np.float32), (np.arange(n_users), items)), X.shape
    )
    return y - y.multiply(X > 0)


def _run(queue, method, model_path, data_path):
    model = load(model_path)
    data = np.load(data_path)
    X = sparse.csr_array(
        (data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"])
    )
    y = _held_out(X, seed=1) if method == "scorer" else None
    B = model.coef_
    reset_peak_rss()
    baseline = status_bytes("VmRSS")
    start = time.perf_counter()
    if method == "bare":
        S = X @ B
        top = np.argpartition(S, -K, axis=1)[:, -K:]
    elif method == "bare batched":
        top = np.empty((X.shape[0], K), dtype=np.int64)
        step = BATCH_BYTES // (B.shape[0] * B.itemsize)
        for begin in range(0, X.shape[0], step):
            S = X[begin : begin + step] @ B
            top[begin : begin + step] = np.argpartition(S, -K, axis=1)[:, -K:]
    elif method == "recommend":
        top, _ = model.recommend(X, n=K)
    elif method == "predict":
        top = model.predict(X)
    else:
        top = make_ranking_scorer("ndcg", K)(model, X, y)
    seconds = time.perf_counter() - start
    queue.put(
        {
            "method": method,
            "seconds": seconds,
            "peak_growth_bytes": status_bytes("VmHWM") - baseline,
            "checksum": float(np.sum(top)),
        }
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args(argv)
    X = zipf_interactions(args.users, args.items, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "ease.npz")
        data_path = os.path.join(tmp, "X.npz")
        start = time.perf_counter()
        model = EASERecommender(reg=200.0, top_k=K).fit(X)
        print(f"fit EASE on {X.shape}: {time.perf_counter() - start:.1f} s")
        save(model, model_path)
        np.savez(
            data_path,
            data=X.data,
            indices=X.indices,
            indptr=X.indptr,
            shape=np.asarray(X.shape),
        )
        rows = []
        for method in ("bare", "bare batched", "recommend", "predict", "scorer"):
            row = in_fresh_process(_run, method, model_path, data_path)
            rows.append(row)
            print(
                f"{method:13s} {row['seconds']:7.1f} s, peak growth "
                f"{row['peak_growth_bytes'] / 2**30:6.2f} GiB",
                flush=True,
            )
    bare = rows[0]["seconds"]
    for row in rows:
        row["users_per_second"] = args.users / row["seconds"]
        row["vs_bare"] = row["seconds"] / bare
    write_report(rows, X, os.getloadavg())


def write_report(rows, X, load_average):
    n_users, n_items = X.shape
    lines = [
        "# Scoring throughput: batched ranking vs bare `X @ B` + `argpartition`",
        "",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}. "
        f"EASE float32 on synthetic Zipf interactions: {n_users} users x "
        f"{n_items} items, {X.nnz} interactions; top {K} per user. Each row runs "
        "in a fresh process that loads the saved model; `peak growth` is the "
        "growth of peak RSS during the call. `bare` computes all scores at once "
        "and leaves the top items unsorted and seen items unmasked. Load "
        f"average at the end: {load_average[0]:.2f}.",
        "",
        "| method | seconds | users / s | × bare | peak growth (GiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['seconds']:.1f} | "
            f"{row['users_per_second']:.0f} | {row['vs_bare']:.2f} | "
            f"{row['peak_growth_bytes'] / 2**30:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "score.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "score.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
