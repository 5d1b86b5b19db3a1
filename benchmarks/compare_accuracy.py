"""Compare two runs of ``bench_accuracy.py``: is every shared number the same?

A refactoring that must not change results (a new layout, a new solver seam)
is checked by running ``bench_accuracy.py --quick`` before and after it and
comparing the two ``accuracy.json`` files::

    python benchmarks/compare_accuracy.py BEFORE/accuracy.json AFTER/accuracy.json

For every dataset and model in both runs it compares the test metrics and the
validation NDCG@20 (times are left out), prints one row per model and the
models found in only one run, and exits 1 if any shared number differs by
more than ``--rtol`` (default 0: bitwise equal).  Renamed hyperparameters are
matched by value: the best parameters must be the same values in the same
order.
"""

import argparse
import json
import math
import sys


def _numbers(model):
    numbers = dict(model["test"])
    numbers["validation_ndcg@20"] = model.get("validation_ndcg@20")
    return {k: v for k, v in numbers.items() if v is not None}


def compare(before, after, rtol=0.0):
    """Rows ``(dataset, model, n_equal, n_different, params_match)`` and the
    models found in one run only."""
    rows, only = [], []
    for dataset in sorted(set(before) | set(after)):
        old = before.get(dataset, {}).get("models", {})
        new = after.get(dataset, {}).get("models", {})
        only += [(dataset, name, "before") for name in sorted(set(old) - set(new))]
        only += [(dataset, name, "after") for name in sorted(set(new) - set(old))]
        for name in sorted(set(old) & set(new)):
            a, b = _numbers(old[name]), _numbers(new[name])
            shared = sorted(set(a) & set(b))
            equal = sum(
                math.isclose(a[key], b[key], rel_tol=rtol, abs_tol=0.0)
                for key in shared
            )
            params = list(old[name]["params"].values()) == list(
                new[name]["params"].values()
            )
            rows.append((dataset, name, equal, len(shared) - equal, params))
    return rows, only


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rtol", type=float, default=0.0)
    args = parser.parse_args(argv)
    with open(args.before) as f, open(args.after) as g:
        before, after = json.load(f)["results"], json.load(g)["results"]
    rows, only = compare(before, after, args.rtol)
    print("| dataset | model | equal | different | same best parameters |")
    print("|---|---|---:|---:|---|")
    for dataset, name, equal, different, params in rows:
        print(f"| {dataset} | {name} | {equal} | {different} | {params} |")
    for dataset, name, where in only:
        print(f"\n{dataset}: {name} only {where}")
    bad = [row for row in rows if row[3] or not row[4]]
    total = sum(row[2] for row in rows)
    print(
        f"\n{total} numbers equal, {sum(r[3] for r in rows)} different, "
        f"{len(bad)} model(s) with a difference"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
