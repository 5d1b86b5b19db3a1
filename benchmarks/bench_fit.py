"""Fit time and memory of L3AE: ours vs the paper's formula vs a bare SPD inverse.

For each n_items, in one run and on the same synthetic data (Zipf popularity,
4·n_items users, unit random embeddings with d = 384):

(a) ``paper``   the paper-formula transcription in float64: two dense inverses
                (``numpy.linalg.inv``) and the n³ product ``P₂ @ C``;
(b) ``ours``    ``L3AERecommender(item_embeddings=F).fit(X)`` in float32 and
                float64, phase 1 included;
(c) ``floor``   a bare LAPACK SPD inverse (potrf + potri) of the same
                ``XᵀX + λI`` in the same dtype: the cost no exact method avoids.

Each measurement runs in a fresh process whose peak RSS is reset once the
inputs exist; peak extra memory is the growth of the peak over that RSS.

Usage: ``python benchmarks/bench_fit.py [--sizes 1000 3000 6000 10000]``.
Writes ``benchmarks/results/fit.md`` and ``fit.json``.
"""

import argparse
import json
import multiprocessing
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.linalg import lapack

from sklearn_l3ae import L3AERecommender, SemanticCorrelation
from sklearn_l3ae._core.linalg import gram_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import in_fresh_process, reset_peak_rss, status_bytes  # noqa: E402
from _synthetic import unit_embeddings, zipf_interactions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REG_F, REG_X, REG_E = 5.0, -50.0, 150.0


def _paper(X, F):
    n = X.shape[1]
    X = X.toarray().astype(np.float64)
    F = F.astype(np.float64)
    P1 = np.linalg.inv(F @ F.T + REG_F * np.eye(n))
    C = np.eye(n) - P1 / np.diag(P1)
    P2 = np.linalg.inv(X.T @ X + (REG_X + REG_E) * np.eye(n))
    P2C = P2 @ C
    return np.eye(n) + REG_E * P2C - P2 * ((1 + REG_E * np.diag(P2C)) / np.diag(P2))


def _ours(X, F, dtype):
    model = L3AERecommender(
        SemanticCorrelation(reg=REG_F),
        item_embeddings=F,
        reg_X=REG_X,
        reg_E=REG_E,
        dtype=dtype,
    )
    return model.fit(X).coef_


def _floor(X, dtype):
    """Seconds of the Gram matrix and of a bare potrf + potri on it."""
    start = time.perf_counter()
    gram = gram_matrix(X, dtype)
    gram_seconds = time.perf_counter() - start
    gram.flat[:: gram.shape[0] + 1] += REG_X + REG_E
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (gram,))
    start = time.perf_counter()
    factor, info = potrf(gram.T, lower=0, overwrite_a=1, clean=0)
    potri(factor, lower=0, overwrite_c=1)
    return gram_seconds, time.perf_counter() - start


def _measure(queue, method, n_items, dtype_name):
    dtype = np.dtype(dtype_name)
    X = zipf_interactions(4 * n_items, n_items, seed=n_items)
    F = unit_embeddings(n_items, seed=n_items)
    reset_peak_rss()
    baseline = status_bytes("VmRSS")
    gram_seconds = float("nan")
    if method == "floor":
        gram_seconds, seconds = _floor(X, dtype)
    else:
        start = time.perf_counter()
        _paper(X, F) if method == "paper" else _ours(X, F, dtype)
        seconds = time.perf_counter() - start
    queue.put((seconds, gram_seconds, max(0, status_bytes("VmHWM") - baseline)))


def measure(method, n_items, dtype_name):
    return in_fresh_process(_measure, method, n_items, dtype_name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 3000, 6000, 10000]
    )
    args = parser.parse_args(argv)
    runs = [
        ("paper", "float64"),
        ("ours", "float32"),
        ("ours", "float64"),
        ("floor", "float32"),
        ("floor", "float64"),
    ]
    rows = []
    for n_items in args.sizes:
        timing = {}
        for method, dtype_name in runs:
            seconds, gram_seconds, peak = measure(method, n_items, dtype_name)
            timing[method, dtype_name] = seconds
            if method == "floor":
                timing["gram", dtype_name] = gram_seconds
            rows.append(
                {
                    "n_items": n_items,
                    "method": method,
                    "dtype": dtype_name,
                    "seconds": seconds,
                    "gram_seconds": gram_seconds,
                    "peak_extra_bytes": peak,
                    "peak_extra_over_n2": peak
                    / (n_items**2 * np.dtype(dtype_name).itemsize),
                }
            )
            print(
                f"n={n_items:6d} {method:5s} {dtype_name}: {seconds:8.2f} s, "
                f"peak extra {peak / 2**20:8.1f} MiB",
                flush=True,
            )
        for row in rows[-len(runs) :]:
            key = (row["method"], row["dtype"])
            floor = timing["floor", row["dtype"]]
            row["vs_floor_same_dtype"] = timing[key] / floor
            row["vs_gram_plus_floor"] = timing[key] / (
                floor + timing["gram", row["dtype"]]
            )
            row["paper_speedup"] = timing["paper", "float64"] / timing[key]
    write_report(rows)


def write_report(rows):
    lines = [
        "# L3AE fit: ours vs paper formula vs bare SPD inverse",
        "",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}. "
        "Synthetic Zipf interactions (4·n users, ~40 items each), d = 384, "
        f"λ_F = {REG_F}, λ_X = {REG_X}, λ_E = {REG_E}. "
        "Each cell is one fit in a fresh process; `peak extra` is the growth of "
        "peak RSS once the inputs exist, in units of n²·itemsize of the dtype. "
        "`× floor`: time over the bare potrf + potri of the same dtype; "
        "`× (Gram + floor)`: over that plus forming XᵀX from sparse X, which "
        "every method needs (floor rows: Gram time "
        + ", ".join(
            f"{r['dtype']} n={r['n_items']}: {r['gram_seconds']:.2f} s"
            for r in rows
            if r["method"] == "floor"
        )
        + ").",
        "",
        "| n_items | method | dtype | seconds | × floor | × (Gram + floor) | "
        "speed-up vs paper | peak extra (MiB) | peak extra / n²·itemsize |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['n_items']} | {row['method']} | {row['dtype']} | "
            f"{row['seconds']:.2f} | {row['vs_floor_same_dtype']:.2f} | "
            f"{row['vs_gram_plus_floor']:.2f} | "
            f"{row['paper_speedup']:.1f} | {row['peak_extra_bytes'] / 2**20:.0f} | "
            f"{row['peak_extra_over_n2']:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fit.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "fit.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
