"""Exact L3AE fits up to the machine's limit, and the planner's refusal beyond it.

For each n_items (default 10 000, 20 000, 30 000, 40 000), in a fresh process:
synthetic interactions with Zipf item popularity (2·n_items users, ~40 items
each, every item used at least once) and unit random embeddings (d = 384);
``L3AERecommender(item_embeddings=F, dtype=np.float32).fit(X)`` with the
memory planner on (``memory_limit="auto"``).  Recorded: wall time, peak RSS
of the process and its growth during the fit, the planner's estimate of that
growth (read from a ``memory_limit=1`` fit, which is refused at once with the
estimate attached), and the relative KKT residual of a few columns of the
solution in float64 (exactness check: off the diagonal,
``(XᵀX + Λ)b_j − XᵀX e_j − λ_E C e_j = 0``).

Then a 200 000-item fit is attempted with the default ``memory_limit="auto"``:
it must be refused up front; its refusal time and the memory traced during it
are recorded.

Usage: ``python benchmarks/bench_scale.py [--sizes 10000 20000 30000 40000]``.
Needs about 7 GB of free memory per 40 000 items in float32 and a quiet
machine (~25 min on 2 cores).  Writes ``benchmarks/results/scale.md`` and
``scale.json``.
"""

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_info

from sklearn_l3ae import L3AERecommender, MemoryLimitError, SemanticCorrelation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import in_fresh_process, reset_peak_rss, status_bytes  # noqa: E402
from _synthetic import unit_embeddings, zipf_interactions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REG_F, REG_X, REG_E = 5.0, -50.0, 150.0
DIM = 384
USERS_PER_ITEM = 2
N_CHECKED_COLUMNS = 4


def _model(F, **params):
    return L3AERecommender(
        SemanticCorrelation(reg=REG_F),
        item_embeddings=F,
        reg_X=REG_X,
        reg_E=REG_E,
        dtype=np.float32,
        **params,
    )


def _kkt_residual(X, B, factors, columns):
    """Largest relative off-diagonal residual of the stationarity condition."""
    X = sparse.csr_array(X, dtype=np.float64)
    worst = 0.0
    for j in columns:
        b = B[:, j].astype(np.float64)
        gram_b = X.T @ (X @ b)
        gram_j = X.T @ X[:, [j]].toarray().ravel()
        c_j = factors.left @ factors.right[j]  # column j of L Rᵀ
        c_j[j] = 0.0  # C = diagMat(c) + L Rᵀ has a zero diagonal
        residual = gram_b + (REG_X + REG_E) * b - gram_j - REG_E * c_j
        residual[j] = 0.0  # the multiplier of diag(B) = 0 absorbs this entry
        scale = np.abs(gram_j).sum() + REG_E * np.abs(c_j).sum() + 1.0
        worst = max(worst, float(np.abs(residual).max() / scale))
    return worst


def _fit(queue, n_items):
    X = zipf_interactions(USERS_PER_ITEM * n_items, n_items, seed=n_items)
    F = unit_embeddings(n_items, DIM, seed=n_items)
    try:
        _model(F, memory_limit=1).fit(X)
        raise RuntimeError("memory_limit=1 did not refuse the fit")
    except MemoryLimitError as exc:
        estimate = exc.needed
    load_before = os.getloadavg()[0]
    reset_peak_rss()
    baseline = status_bytes("VmRSS")
    start = time.perf_counter()
    model = _model(F).fit(X)
    seconds = time.perf_counter() - start
    peak = status_bytes("VmHWM")
    load_after = os.getloadavg()[0]
    factors = model.semantic_.correlation_factors_
    columns = np.random.default_rng(0).choice(n_items, N_CHECKED_COLUMNS, replace=False)
    residual = _kkt_residual(X, model.coef_, factors, columns)
    queue.put(
        {
            "n_items": n_items,
            "n_users": X.shape[0],
            "nnz": int(X.nnz),
            "seconds": seconds,
            "peak_rss_bytes": peak,
            "fit_growth_bytes": peak - baseline,
            "planner_estimate_bytes": estimate,
            "n2_bytes": n_items * n_items * 4,
            "kkt_relative_residual": residual,
            "load_before": load_before,
            "load_after": load_after,
        }
    )


def _refuse(queue, n_items):
    X = zipf_interactions(20_000, n_items, mean_items_per_user=5, seed=1)
    F = unit_embeddings(n_items, DIM, seed=1)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        _model(F).fit(X)
        outcome = "fitted (not refused!)"
    except MemoryLimitError as exc:
        outcome = str(exc)
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    queue.put(
        {
            "n_items": n_items,
            "seconds": seconds,
            "traced_peak_bytes": traced_peak,
            "message": outcome,
        }
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 20_000, 30_000, 40_000]
    )
    parser.add_argument("--refused", type=int, default=200_000)
    parser.add_argument(
        "--update",
        action="store_true",
        help="re-measure only --sizes and keep the other rows of scale.json",
    )
    args = parser.parse_args(argv)
    rows = []
    if args.update:
        previous = json.loads((RESULTS / "scale.json").read_text())["fits"]
        rows = [row for row in previous if row["n_items"] not in args.sizes]
    for n_items in args.sizes:
        row = in_fresh_process(_fit, n_items)
        rows.append(row)
        print(
            f"n={n_items:6d}: {row['seconds']:8.1f} s, peak RSS "
            f"{row['peak_rss_bytes'] / 2**30:6.2f} GiB (fit +"
            f"{row['fit_growth_bytes'] / 2**30:.2f} GiB, planner "
            f"{row['planner_estimate_bytes'] / 2**30:.2f} GiB), KKT "
            f"{row['kkt_relative_residual']:.1e}, load "
            f"{row['load_before']:.2f}->{row['load_after']:.2f}",
            flush=True,
        )
    rows.sort(key=lambda row: row["n_items"])
    refusal = in_fresh_process(_refuse, args.refused)
    print(
        f"n={args.refused}: {refusal['seconds'] * 1000:.0f} ms, traced "
        f"{refusal['traced_peak_bytes'] / 2**20:.1f} MiB: {refusal['message']}",
        flush=True,
    )
    write_report(rows, refusal)


def write_report(rows, refusal):
    blas = ", ".join(
        f"{info['internal_api']} {info.get('version')} ({info['num_threads']} threads)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )
    lines = [
        "# Exact L3AE fits at scale (float32)",
        "",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} "
        f"GiB RAM, Python {platform.python_version()}, numpy {np.__version__}, "
        f"BLAS: {blas}. Synthetic Zipf interactions ({USERS_PER_ITEM}·n users, "
        f"~40 items each), unit random embeddings d = {DIM}, λ_F = {REG_F}, "
        f"λ_X = {REG_X}, λ_E = {REG_E}, phase 1 included, memory planner on. "
        "One fit per size, each in a fresh process. `peak RSS` is the whole "
        "process (Python, libraries, X and F included); `fit growth` its growth "
        "during the fit, next to the planner's estimate of it and to one "
        "n×n float32 array. `KKT` is the largest relative off-diagonal residual "
        f"of the optimality condition on {N_CHECKED_COLUMNS} random columns, in "
        "float64 (float32 round-off is ~1e-7 per operation). `load` is the "
        "1-minute load average before and after the fit.",
        "",
        "| n_items | users | nnz | seconds | peak RSS (GiB) | fit growth (GiB) | "
        "planner estimate (GiB) | n² float32 (GiB) | growth / n² | KKT | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['n_items']} | {row['n_users']} | {row['nnz']} | "
            f"{row['seconds']:.1f} | {row['peak_rss_bytes'] / 2**30:.2f} | "
            f"{row['fit_growth_bytes'] / 2**30:.2f} | "
            f"{row['planner_estimate_bytes'] / 2**30:.2f} | "
            f"{row['n2_bytes'] / 2**30:.2f} | "
            f"{row['fit_growth_bytes'] / row['n2_bytes']:.2f} | "
            f"{row['kkt_relative_residual']:.1e} | "
            f"{row['load_before']:.2f} → {row['load_after']:.2f} |"
        )
    lines += [
        "",
        f"## Refused: {refusal['n_items']} items",
        "",
        f"`fit` raised `MemoryLimitError` after {refusal['seconds'] * 1000:.0f} ms "
        f"with {refusal['traced_peak_bytes'] / 2**20:.1f} MiB traced by "
        "tracemalloc during the call (NumPy reports its allocations to it):",
        "",
        "> " + refusal["message"],
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "scale.json").write_text(
        json.dumps({"fits": rows, "refusal": refusal}, indent=1) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
