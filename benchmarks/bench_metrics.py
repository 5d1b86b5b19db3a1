"""Recall@20 and NDCG@20 from dense scores: ours vs a full sort vs a per-user loop.

Synthetic data, 100 000 users x 10 000 items by default: uniform float32
scores with ~30 items per user already seen (``-inf``) and ~10 random
held-out items per user.

(a) ``ours``       ``ranking_metrics(y_true, scores, metrics=("recall", "ndcg"),
                   ks=(20,))`` over all users: batched ``argpartition``-style
                   top-k selection, hits by binary search, no full sort.
(b) ``full sort``  the common vectorized approach: ``np.argsort`` of batches of
                   1 000 score rows, then the same hit and metric arithmetic;
                   run on the first ``--sort-users`` users.
(c) ``naive loop`` per user, a full ``np.argsort`` of the row and Python set
                   look-ups; run on the first ``--naive-users`` users.

(b) and (c) run on a subsample of users and their time is extrapolated
linearly to all users (the work per user is independent of the others); the
output says so.  Their metric values on the subsample are checked against
ours on the same users.  Each measurement runs in a fresh process whose peak
RSS is reset once the inputs exist; peak extra memory is the growth of the
peak over that RSS.

Usage: ``python benchmarks/bench_metrics.py [--users 100000] [--items 10000]``.
Writes ``benchmarks/results/metrics.md``.
"""

import argparse
import math
import multiprocessing
import platform
import time
from pathlib import Path

import numpy as np
from _measure import in_fresh_process, reset_peak_rss, status_bytes
from scipy import sparse

from sklearn_l3ae.metrics import ranking_metrics

RESULTS = Path(__file__).resolve().parent / "results"
K = 20
SEEN_PER_USER = 30
HELD_OUT_PER_USER = 10
BLOCK = 1000  # users generated per seeded block, so subsamples match the full run


def synthetic(n_users, n_items):
    """Scores (n_users, n_items) with seen items at -inf, and held-out csr."""
    scores = np.empty((n_users, n_items), dtype=np.float32)
    rows, cols = [], []
    for block, start in enumerate(range(0, n_users, BLOCK)):
        stop = min(start + BLOCK, n_users)
        rng = np.random.default_rng([0, block])
        rng.random(out=scores[start:stop], dtype=np.float32)
        users = np.arange(start, stop)[:, None]
        seen = rng.integers(0, n_items, size=(stop - start, SEEN_PER_USER))
        scores[np.broadcast_to(users, seen.shape), seen] = -np.inf
        held = rng.integers(0, n_items, size=(stop - start, HELD_OUT_PER_USER))
        rows.append(np.broadcast_to(users, held.shape).ravel())
        cols.append(held.ravel())
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    y_true = sparse.csr_array(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=scores.shape
    )
    y_true.sum_duplicates()
    return scores, y_true


def ours(scores, y_true):
    result = ranking_metrics(y_true, scores, metrics=("recall", "ndcg"), ks=(K,))
    return result[f"recall@{K}"], result[f"ndcg@{K}"]


def full_sort(scores, y_true):
    """Vectorized, but a full argsort of every row."""
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(discounts)
    recall, ndcg = [], []
    for start in range(0, scores.shape[0], 1000):
        batch = scores[start : start + 1000]
        top = np.argsort(-batch, axis=1, kind="stable")[:, :K]
        relevant = y_true[start : start + 1000].toarray() > 0
        hits = np.take_along_axis(relevant, top, axis=1)
        hits &= np.take_along_axis(batch, top, axis=1) > -np.inf
        n_relevant = relevant.sum(axis=1)
        keep = n_relevant > 0
        recall.append(hits.sum(axis=1)[keep] / n_relevant[keep])
        ndcg.append(
            (hits @ discounts)[keep] / ideal[np.minimum(n_relevant, K) - 1][keep]
        )
    return np.concatenate(recall).mean(), np.concatenate(ndcg).mean()


def naive_loop(scores, y_true):
    """One user at a time: full sort, Python sets."""
    recall, ndcg = [], []
    for user in range(scores.shape[0]):
        relevant = set(y_true.indices[y_true.indptr[user] : y_true.indptr[user + 1]])
        if not relevant:
            continue
        row = scores[user]
        top = [i for i in np.argsort(-row, kind="stable")[:K] if row[i] > -np.inf]
        hits = [rank for rank, item in enumerate(top) if item in relevant]
        recall.append(len(hits) / len(relevant))
        ideal = sum(1 / math.log2(r + 2) for r in range(min(K, len(relevant))))
        ndcg.append(sum(1 / math.log2(r + 2) for r in hits) / ideal)
    return float(np.mean(recall)), float(np.mean(ndcg))


METHODS = {"ours": ours, "full sort": full_sort, "naive loop": naive_loop}


def _measure(queue, method, n_users, n_items):
    scores, y_true = synthetic(n_users, n_items)
    reset_peak_rss()
    baseline = status_bytes("VmRSS")
    start = time.perf_counter()
    values = METHODS[method](scores, y_true)
    seconds = time.perf_counter() - start
    peak = max(0, status_bytes("VmHWM") - baseline)
    # Ours on the same users, to check that the subsampled methods agree.
    reference = ours(scores, y_true) if method != "ours" else values
    queue.put((seconds, peak, values, reference))


def measure(method, n_users, n_items):
    return in_fresh_process(_measure, method, n_users, n_items)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--sort-users", type=int, default=10_000)
    parser.add_argument("--naive-users", type=int, default=2_000)
    args = parser.parse_args(argv)
    runs = [
        ("ours", args.users),
        ("full sort", min(args.sort_users, args.users)),
        ("naive loop", min(args.naive_users, args.users)),
    ]
    rows = []
    for method, n_users in runs:
        seconds, peak, values, reference = measure(method, n_users, args.items)
        row = {
            "method": method,
            "users_run": n_users,
            "seconds": seconds,
            "seconds_all": seconds * args.users / n_users,
            "extrapolated": n_users < args.users,
            "peak_extra_bytes": peak,
            "recall": values[0],
            "ndcg": values[1],
            "max_diff_vs_ours": max(
                abs(a - b) for a, b in zip(values, reference, strict=True)
            ),
        }
        rows.append(row)
        print(
            f"{method:10s} {n_users:7d} users: {seconds:8.2f} s measured, "
            f"{row['seconds_all']:8.1f} s for {args.users} users"
            f"{' (extrapolated)' if row['extrapolated'] else ''}, "
            f"peak extra {peak / 2**20:7.1f} MiB",
            flush=True,
        )
    write_report(rows, args)


def write_report(rows, args):
    ours_seconds = rows[0]["seconds_all"]
    lines = [
        "# Ranking metrics at scale: Recall@20 and NDCG@20 from dense scores",
        "",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}. "
        f"Synthetic float32 scores, {args.users} users x {args.items} items "
        f"({args.users * args.items * 4 / 2**30:.1f} GiB), ~{SEEN_PER_USER} seen "
        f"items per user at -inf, ~{HELD_OUT_PER_USER} random held-out items per "
        "user. Both metrics in one call. `full sort` and `naive loop` ran on the "
        "first users only; their time for all users is **extrapolated linearly** "
        "(marked *). `peak extra` is the growth of peak RSS once scores and "
        "held-out matrix exist, each method in a fresh process. `max abs diff vs ours` "
        "compares a method's Recall/NDCG with ours on the same users.",
        "",
        f"| method | users run | seconds run | seconds for {args.users} users | "
        "µs per user | × ours | peak extra (MiB) | Recall@20 | NDCG@20 | "
        "max abs diff vs ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        star = "*" if row["extrapolated"] else ""
        lines.append(
            f"| {row['method']} | {row['users_run']} | {row['seconds']:.2f} | "
            f"{row['seconds_all']:.1f}{star} | "
            f"{row['seconds_all'] / args.users * 1e6:.0f} | "
            f"{row['seconds_all'] / ours_seconds:.1f} | "
            f"{row['peak_extra_bytes'] / 2**20:.0f} | {row['recall']:.5f} | "
            f"{row['ndcg']:.5f} | {row['max_diff_vs_ours']:.1e} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metrics.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
