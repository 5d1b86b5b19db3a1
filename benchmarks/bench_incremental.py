"""Exact incremental updates against refits: ``partial_fit`` and ``add_items``.

For each catalogue size n (synthetic Zipf interactions of 2·n users, unit
text embeddings of ``--dim`` dimensions, float32, L3AE with reg_X = 1,
reg_E = 10, λ_F = 10) one model is fitted with ``keep_inverse=True``, then
updated in sequence, each step timed with the peak memory it adds:

- ``partial_fit`` of r ∈ {10, 100, 1 000} new users (cumulative);
- ``add_items`` of k ∈ {10, 100} new items with embeddings, their
  interactions with the existing users drawn like the others' (a fifth of
  them left empty: cold-start items).

A refit (``keep_inverse=False``) on everything seen is timed at the end;
up to ``--compare-every-step`` items every step is also compared with its
own refit, above it only the final state.  ``max rel diff`` is
``max |B − B_refit| / max |B_refit|``.

The sparse table: ``partial_fit`` of an ``n_neighbors`` model
(``--sparse-items``, ``--sparse-neighbors``): the share of columns of ``B``
that changed and the time against a refit.

The drift table: ``--drift-steps`` successive ``partial_fit`` calls of
``--drift-users`` users each on a ``--drift-items`` catalogue, in float32
and float64, then compared with a refit; ``inverse_residual_`` and whether
the model refactored itself are shown.

Usage: ``python benchmarks/bench_incremental.py [--sizes 10000 20000 40000]
[--quick]``.  Writes ``benchmarks/results/incremental.md`` and
``incremental.json`` (and ``incremental_tables.rst`` for the docs).
"""

import argparse
import gc
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from _measure import reset_peak_rss, status_bytes
from _report import to_rst
from _synthetic import unit_embeddings, zipf_interactions
from scipy import sparse

from sklearn_l3ae import L3AERecommender, SemanticCorrelation

RESULTS = Path(__file__).resolve().parent / "results"
GIB = 2**30


def make_model(F, dtype=np.float32, keep_inverse=True):
    return L3AERecommender(
        SemanticCorrelation(reg=10.0, dtype=dtype),
        item_embeddings=F,
        reg_X=1.0,
        reg_E=10.0,
        dtype=dtype,
        keep_inverse=keep_inverse,
        memory_limit=None,
    )


def measured(call):
    """``(seconds, peak bytes added)`` of ``call()`` (VmHWM above VmRSS)."""
    gc.collect()
    reset_peak_rss()
    before = status_bytes("VmRSS")
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    return seconds, max(0, status_bytes("VmHWM") - before)


def max_relative_difference(B, reference):
    """``max |B − B_ref| / max |B_ref|`` by row blocks (no n x n temporary)."""
    scale, worst, step = 0.0, 0.0, 1024
    for start in range(0, B.shape[0], step):
        block = reference[start : start + step].astype(np.float64)
        scale = max(scale, float(np.abs(block).max()))
        difference = np.abs(B[start : start + step].astype(np.float64) - block)
        worst = max(worst, float(difference.max()))
    return worst / scale


def refit_of(model):
    """A fresh fit (no inverse kept) on everything ``model`` has seen."""
    fresh = make_model(model.item_embeddings, model.dtype, keep_inverse=False)
    return fresh.fit(model.interactions_)


def new_columns(n_users, k, seed, per_item=40):
    """(n_users, k) binary csr: ``per_item`` users each, a fifth left empty."""
    rng = np.random.default_rng(seed)
    filled = k - k // 5
    users = rng.integers(0, n_users, size=filled * per_item)
    items = np.repeat(np.arange(filled), per_item)
    Y = sparse.csr_array(
        (np.ones(users.size, dtype=np.float32), (users, items)), shape=(n_users, k)
    )
    Y.sum_duplicates()
    Y.data[:] = 1.0
    return Y


def run_size(n_items, dim, compare_every_step, users_steps, item_steps):
    n_users = 2 * n_items
    X = zipf_interactions(n_users, n_items, seed=n_items)
    F = unit_embeddings(n_items + sum(item_steps), dim, seed=n_items)
    model = make_model(F[:n_items])
    fit_seconds, fit_peak = measured(lambda: model.fit(X))
    rows = [
        {
            "n_items": n_items,
            "step": "fit (keep_inverse=True)",
            "seconds": fit_seconds,
            "peak_gib": fit_peak / GIB,
        }
    ]
    print(f"{n_items}: fit with keep_inverse {fit_seconds:.1f} s", flush=True)
    steps = [("users", r) for r in users_steps] + [("items", k) for k in item_steps]
    added_items = 0
    for number, (kind, size) in enumerate(steps):
        seed = 10_000 + number
        if kind == "users":
            new = zipf_rows(size, model.n_features_in_, seed)

            def call(new=new):
                model.partial_fit(new)

            label = f"partial_fit +{size} users"
        else:
            Y = new_columns(model.n_samples_seen_, size, seed)
            embeddings = F[n_items + added_items : n_items + added_items + size]
            added_items += size

            def call(Y=Y, embeddings=embeddings):
                model.add_items(Y, item_embeddings=embeddings)

            label = f"add_items +{size} items"
        seconds, peak = measured(call)
        row = {
            "n_items": n_items,
            "step": label,
            "seconds": seconds,
            "peak_gib": peak / GIB,
            "n_updates": model.n_updates_,
            "residual": model.inverse_residual_,
        }
        if n_items <= compare_every_step:
            reference = refit_of(model)
            row["max_rel_diff"] = max_relative_difference(model.coef_, reference.coef_)
            del reference
        rows.append(row)
        print(f"  {label}: {seconds:.2f} s {row.get('max_rel_diff', '')}", flush=True)
    # The final comparison: P is let go first (the refit needs its memory).
    model.inverse_ = None
    gc.collect()
    holder = {}
    refit_seconds, refit_peak = measured(lambda: holder.update(ref=refit_of(model)))
    final = max_relative_difference(model.coef_, holder["ref"].coef_)
    rows.append(
        {
            "n_items": model.n_features_in_,
            "step": "refit on everything",
            "seconds": refit_seconds,
            "peak_gib": refit_peak / GIB,
            "max_rel_diff": final,
        }
    )
    print(f"  refit {refit_seconds:.1f} s, final max rel diff {final:.2e}", flush=True)
    for row in rows:
        row["share_of_refit"] = row["seconds"] / refit_seconds
    return rows


def zipf_rows(n_rows, n_items, seed):
    """``n_rows`` new users drawn like the training ones (Zipf popularity)."""
    return zipf_interactions(n_rows, n_items, seed=seed, every_item=False)


def run_sparse(n_items, n_neighbors, dim, users_steps):
    """partial_fit of an n_neighbors model: columns solved again, vs a refit."""
    X = zipf_interactions(2 * n_items, n_items, seed=n_items)
    F = unit_embeddings(n_items, dim, seed=n_items)
    model = make_model(F).set_params(n_neighbors=n_neighbors)
    fit_seconds, _ = measured(lambda: model.fit(X))
    rows = []
    for number, size in enumerate(users_steps):
        new = zipf_rows(size, n_items, 20_000 + number)
        before = model.coef_
        seconds, peak = measured(lambda new=new: model.partial_fit(new))
        changed = np.diff(sparse.csc_array(model.coef_ - before).indptr) > 0
        rows.append(
            {
                "n_items": n_items,
                "n_neighbors": n_neighbors,
                "step": f"partial_fit +{size} users",
                "seconds": seconds,
                "peak_gib": peak / GIB,
                "columns_changed": float(changed.mean()),
            }
        )
        print(f"sparse {rows[-1]}", flush=True)
    fresh = make_model(F, keep_inverse=False).set_params(n_neighbors=n_neighbors)
    refit_seconds, _ = measured(lambda: fresh.fit(model.interactions_))
    for row in rows:
        row["refit_seconds"] = refit_seconds
        row["fit_seconds"] = fit_seconds
    return rows


def run_drift(n_items, dim, steps, users):
    rows = []
    for dtype in (np.float32, np.float64):
        X = zipf_interactions(2 * n_items, n_items, seed=7)
        F = unit_embeddings(n_items, dim, seed=7)
        model = make_model(F, dtype).fit(X)
        refactored = 0
        start = time.perf_counter()
        for step in range(steps):
            model.partial_fit(zipf_rows(users, n_items, 1000 + step))
            refactored += model.n_updates_ == 0
        seconds = time.perf_counter() - start
        reference = refit_of(model)
        rows.append(
            {
                "dtype": np.dtype(dtype).name,
                "n_items": n_items,
                "updates": steps,
                "users_per_update": users,
                "seconds_per_update": seconds / steps,
                "max_rel_diff": max_relative_difference(model.coef_, reference.coef_),
                "residual_after_fit": model.factorization_residual_,
                "residual_now": model.inverse_residual_,
                "refactored": int(refactored),
            }
        )
        print(f"drift {rows[-1]}", flush=True)
    return rows


def report(results):
    lines = [
        "# Incremental updates vs refits",
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; float32, L3AE (reg_X = 1, reg_E = 10, "
        f"λ_F = 10), d = {results['dim']}; interactions: 2·n users, Zipf.",
        "Each model is updated in sequence (users, then items); `× refit` is "
        "the step's time over the final refit's.",
        "",
        "| n_items | step | seconds | × refit | peak added | updates since "
        "factorization | residual | max rel diff vs refit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["sizes"]:
        diff = row.get("max_rel_diff")
        lines.append(
            f"| {row['n_items']:,} | {row['step']} | {row['seconds']:.2f} | "
            f"{row['share_of_refit']:.3f} | {row['peak_gib']:.2f} GiB | "
            f"{row.get('n_updates', '')} | "
            f"{'' if 'residual' not in row else format(row['residual'], '.1e')} | "
            f"{'' if diff is None else format(diff, '.1e')} |"
        )
    if results["sparse"]:
        lines += [
            "",
            "## Support-constrained models (n_neighbors)",
            "",
            "Columns whose system holds an item of a new row are solved again on "
            "the kept supports; the refit also searches the supports anew.",
            "",
            "| n_items | n_neighbors | step | seconds | refit seconds | × refit "
            "| columns changed |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for row in results["sparse"]:
            lines.append(
                f"| {row['n_items']:,} | {row['n_neighbors']} | {row['step']} | "
                f"{row['seconds']:.2f} | {row['refit_seconds']:.2f} | "
                f"{row['seconds'] / row['refit_seconds']:.3f} | "
                f"{100 * row['columns_changed']:.1f} % |"
            )
    lines += [
        "",
        "## Drift after many updates",
        "",
        "| dtype | n_items | updates × users | s / update | residual after fit "
        "| residual now | refactored | max rel diff vs refit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["drift"]:
        lines.append(
            f"| {row['dtype']} | {row['n_items']:,} | {row['updates']} × "
            f"{row['users_per_update']} | {row['seconds_per_update']:.3f} | "
            f"{row['residual_after_fit']:.1e} | {row['residual_now']:.1e} | "
            f"{row['refactored']} | {row['max_rel_diff']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000, 40000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--compare-every-step", type=int, default=20000)
    parser.add_argument("--drift-items", type=int, default=5000)
    parser.add_argument("--drift-steps", type=int, default=100)
    parser.add_argument("--drift-users", type=int, default=10)
    parser.add_argument("--sparse-items", type=int, default=50000)
    parser.add_argument("--sparse-neighbors", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a try")
    args = parser.parse_args()
    users_steps, item_steps = [10, 100, 1000], [10, 100]
    if args.quick:
        args.sizes, args.drift_items, args.drift_steps = [2000], 1000, 20
        args.sparse_items = 3000
    results = {"dim": args.dim, "sizes": [], "drift": [], "sparse": []}
    for n_items in args.sizes:
        results["sizes"] += run_size(
            n_items, args.dim, args.compare_every_step, users_steps, item_steps
        )
        gc.collect()
    if args.sparse_items:
        results["sparse"] = run_sparse(
            args.sparse_items, args.sparse_neighbors, args.dim, [10, 100]
        )
    results["drift"] = run_drift(
        args.drift_items, args.dim, args.drift_steps, args.drift_users
    )
    markdown = report(results)
    print(markdown)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "incremental.md").write_text(markdown, encoding="utf-8")
        (RESULTS / "incremental.json").write_text(json.dumps(results, indent=2))
        (RESULTS / "incremental_tables.rst").write_text(
            to_rst(markdown.split("\n", 2)[2]), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
