"""The dense L3AE fit and batch scoring on every device found, side by side.

For each catalogue size (synthetic Zipf interactions of ``--users`` users,
unit text embeddings of ``--dim`` dimensions, float32, reg_X = 1,
reg_E = 10, λ_F = 10) the same L3AE is fitted with ``device=None``
(NumPy/SciPy, the default), ``device="cpu"`` (PyTorch on the CPU) and, when
a GPU is visible, ``device="cuda"``, in this process, one after the other:

- fit seconds, and their ratio to the *floor*: n³ flops (a Cholesky
  factorization and inverse) at this machine's SGEMM rate, measured in the
  same process just before (NumPy, 4096 x 4096 float32);
- the largest difference of ``B`` from the NumPy fit, relative to
  ``max |B|`` (on 2 000 sampled columns: both matrices are not held at once);
- scoring: seconds of ``predict`` (top 20) for ``--score-users`` users, and
  the share of those users whose top 20 equals the NumPy fit's.

Nothing GPU-specific is claimed unless a CUDA row exists.  Runs unchanged on
a CUDA machine: a size the device cannot hold (refused by the planner, or
out of memory) is recorded as such and the run goes on, and the results are
written after every size, so a long run stopped half-way keeps what it
measured.

Usage: ``python benchmarks/bench_device.py [--sizes 10000 20000 40000]
[--quick]``.  Writes ``benchmarks/results/device.md`` and ``device.json``.
"""

import argparse
import gc
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _report import to_rst
from _synthetic import unit_embeddings, zipf_interactions

from sklearn_l3ae import L3AERecommender, MemoryLimitError, SemanticCorrelation

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLED_COLUMNS = 2000
TOP = 20


def sgemm_rate():
    """float32 GEMM flop/s of NumPy's BLAS here, best of three."""
    a = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    a @ a  # warm up the thread pool
    best = min(_seconds(lambda: a @ a) for _ in range(3))
    return 2 * 4096**3 / best


def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def devices():
    found = [None, "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    return found


def run_size(n_items, n_users, dim, score_users):
    X = zipf_interactions(n_users, n_items, seed=n_items)
    F = unit_embeddings(n_items, dim, seed=n_items)
    rng = np.random.default_rng(n_items)
    columns = np.sort(rng.choice(n_items, min(SAMPLED_COLUMNS, n_items), replace=False))
    users = X[: min(score_users, n_users)]
    rate = sgemm_rate()
    floor = n_items**3 / rate
    rows, reference = [], None
    for device in devices():
        model = L3AERecommender(
            SemanticCorrelation(reg=10.0),
            item_embeddings=F,
            reg_X=1.0,
            reg_E=10.0,
            top_k=TOP,
            device=device,
        )
        label = "None (NumPy)" if device is None else device
        try:
            fit = _seconds(lambda model=model: model.fit(X))
            predict_seconds = _seconds(lambda model=model: model.predict(users))
        except MemoryLimitError as exc:  # this device cannot hold this size
            status = (
                f"refused: needs {exc.needed / 2**30:.1f} GiB, "
                f"{exc.limit / 2**30:.1f} GiB free"
                if exc.needed and exc.limit
                else "out of memory on the device"
            )
            rows.append({"n_items": n_items, "device": label, "status": status})
            print(f"{n_items:>7} {label:>13} refused: {status}", flush=True)
            del model
            gc.collect()
            continue
        top = model.predict(users)
        sample = np.array(model.coef_[:, columns])
        if reference is None:
            reference = (sample, top)
            difference, same_top = 0.0, 1.0
        else:
            difference = float(
                np.abs(sample - reference[0]).max() / np.abs(reference[0]).max()
            )
            same_top = float((top == reference[1]).all(axis=1).mean())
        rows.append(
            {
                "n_items": n_items,
                "device": label,
                "status": "ok",
                "fit_seconds": fit,
                "floor_seconds": floor,
                "vs_floor": fit / floor,
                "sgemm_gflops": rate / 1e9,
                "max_rel_diff_B": difference,
                "predict_seconds": predict_seconds,
                "same_top20_share": same_top,
            }
        )
        print(
            f"{n_items:>7} {rows[-1]['device']:>13} fit {fit:8.2f} s "
            f"({fit / floor:.2f}x floor {floor:.2f} s)  "
            f"predict {predict_seconds:6.2f} s  |ΔB| {difference:.1e}  "
            f"same top-{TOP} {same_top:.3f}",
            flush=True,
        )
        del model
        gc.collect()
    return rows


def write(rows, args):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "device.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        "# Dense L3AE fit and scoring by device",
        "",
        f"`benchmarks/bench_device.py`, float32, {args.users} synthetic users "
        f"(Zipf), d = {args.dim}, predict for {args.score_users} users; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), GPU: {gpu}. "
        "Floor: n³ flops at the SGEMM rate measured just before, in the same "
        "process. ΔB: largest difference from the NumPy fit over max abs(B) "
        f"({SAMPLED_COLUMNS} sampled columns).",
        "",
        "| n_items | device | fit s | floor s | × floor | SGEMM GFLOP/s | "
        f"ΔB / max B | predict s | same top-{TOP} |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['n_items']} | {r['device']} | {r['fit_seconds']:.2f} | "
        f"{r['floor_seconds']:.2f} | {r['vs_floor']:.2f} | {r['sgemm_gflops']:.0f} | "
        f"{r['max_rel_diff_B']:.1e} | {r['predict_seconds']:.2f} | "
        f"{r['same_top20_share']:.3f} |"
        if r.get("status", "ok") == "ok"
        else f"| {r['n_items']} | {r['device']} | {r['status']} | | | | | | |"
        for r in rows
    ]
    (RESULTS / "device.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    rst = to_rst("\n".join(lines))
    (RESULTS / "device_tables.rst").write_text(rst, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000, 40000])
    parser.add_argument("--users", type=int, default=50000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--score-users", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="two small sizes")
    parser.add_argument(
        "--report", action="store_true", help="re-render the tables from device.json"
    )
    parser.add_argument(
        "--update", action="store_true", help="replace only these sizes' rows"
    )
    args = parser.parse_args()
    if args.report:
        write(json.loads((RESULTS / "device.json").read_text()), args)
        return
    if args.quick:
        args.sizes, args.users, args.score_users = [1000, 2000], 5000, 2000
    kept = []
    if args.update:  # replace the rows of these sizes, keep the others
        kept = [
            row
            for row in json.loads((RESULTS / "device.json").read_text())
            if row["n_items"] not in args.sizes
        ]
    rows = []
    for n_items in args.sizes:
        rows += run_size(n_items, args.users, args.dim, args.score_users)
        if not args.quick:  # after every size: a stopped run keeps its rows
            write(sorted(kept + rows, key=lambda row: row["n_items"]), args)


if __name__ == "__main__":
    main()
