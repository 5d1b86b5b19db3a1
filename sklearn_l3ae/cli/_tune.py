"""The ``tune`` command: grid-search the regularization on a validation split."""

import itertools

import numpy as np
from scipy import sparse
from sklearn.model_selection import GridSearchCV, ParameterGrid

from .. import save
from ..metrics import make_ranking_scorer
from ..persistence import check_save_path
from ..recommenders import EASERecommender
from ._commands import (
    FLAGS,
    TUNED_EASE_REG,
    fit,
    l3ae,
    load_data,
    protocol_k_core,
    scale_options,
    split,
    training_extras,
)
from ._encoder import check_encoder_available
from ._errors import CommandError, in_flags, progress, step

# Around the paper's best settings on its datasets and ours (bench_accuracy):
# λ_X from -50 to 0, λ_E from 50 to 1000, phase 1's reg 1 or 10.
GRIDS = {
    "reg_X": [-50.0, 0.0],
    "reg_E": [50.0, 150.0, 600.0, 1000.0],
    "semantic_reg": [1.0, 10.0],
    "ease_reg": [100.0, 200.0, 500.0, 1000.0],
}
_METRIC = "ndcg@20"


def _l3ae_grid(args):
    """L3AE candidates, those with ``reg_X + reg_E <= 0`` left out (they cannot
    be positive definite)."""
    grid = [
        {
            "reg_X": [reg_X],
            "reg_E": [reg_E],
            "semantic__semanticcorrelation__reg": list(args.semantic_reg),
        }
        for reg_X, reg_E in itertools.product(args.reg_X, args.reg_E)
        if reg_X + reg_E > 0
    ]
    if not grid:
        raise CommandError(
            "every combination of --reg-X and --reg-E has reg_X + reg_E <= 0, which "
            "cannot make the fit positive definite: give a --reg-E larger than "
            "minus the smallest --reg-X"
        )
    return grid


def _search(estimator, grid, train, val, name):
    """The grid search of ``estimator`` on train, scored on validation."""
    everyone = np.arange(train.shape[0])
    scorer = make_ranking_scorer(["ndcg", "recall"], k=20)
    search = GridSearchCV(
        estimator,
        grid,
        scoring=scorer,
        refit=False,
        cv=[(everyone, everyone)],
        error_score="raise",
    )
    with step(f"tuning {name} ({len(ParameterGrid(grid))} candidates)"):
        try:
            search.fit(train, val)
        except ValueError as exc:
            flags = {"reg": "--ease-reg"} if name == "EASE" else FLAGS
            raise CommandError(in_flags(str(exc), flags)) from exc
    results = search.cv_results_
    order = np.argsort(-np.asarray(results[f"mean_test_{_METRIC}"]), kind="stable")
    return search, results, order


def _print_table(name, results, order, shown=5):
    print(f"{name}: best {min(shown, len(order))} of {len(order)} (validation)")
    for rank, index in enumerate(order[:shown], start=1):
        params = ", ".join(
            f"{_SHORT.get(key, key)}={value:g}"
            for key, value in sorted(results["params"][index].items())
        )
        print(
            f"  {rank}. NDCG@20 {results[f'mean_test_{_METRIC}'][index]:.4f}  "
            f"Recall@20 {results['mean_test_recall@20'][index]:.4f}  {params}"
        )


_SHORT = {"semantic__semanticcorrelation__reg": "semantic reg"}


def cmd_tune(args):
    check_save_path(args.model)  # before the long encode and searches
    grid = _l3ae_grid(args)
    dtype = np.dtype(args.dtype).type
    k_core = protocol_k_core(args)
    data = load_data(args.data, k_core or None)
    check_encoder_available(args.encoder)
    train, val, _ = split(data, args)  # the test part stays for `evaluate`
    train = sparse.csr_array(train)
    model = l3ae(
        data,
        args,
        encoder=args.encoder,
        reg_X=GRIDS["reg_X"][0],
        reg_E=GRIDS["reg_E"][0],
        semantic_reg=GRIDS["semantic_reg"][0],
        dtype=dtype,
    )
    _, results, order = _search(model, grid, train, val, "L3AE")
    best = results["params"][order[0]]
    ease = EASERecommender(
        dtype=dtype, memory_limit=args.memory_limit, **scale_options(args)
    )
    _, ease_results, ease_order = _search(
        ease, {"reg": list(args.ease_reg)}, train, val, "EASE"
    )
    ease_reg = float(ease_results["params"][ease_order[0]]["reg"])
    _print_table("L3AE", results, order)
    _print_table("EASE", ease_results, ease_order)
    progress("refitting the best L3AE on all interactions")
    model.set_params(**best)
    fit(model, data.X, "L3AE")
    extras = {**training_extras(data), TUNED_EASE_REG: np.array(ease_reg)}
    with step(f"saving {args.model}"):
        save(model, args.model, extras=extras)
    semantic_reg = best["semantic__semanticcorrelation__reg"]
    print(
        f"Saved the best L3AE (reg_X={best['reg_X']:g}, reg_E={best['reg_E']:g}, "
        f"semantic reg={semantic_reg:g}; best EASE reg={ease_reg:g}) on "
        f"{data.X.shape[0]} users x {data.X.shape[1]} items to {args.model}; "
        f"compare them on test with `evaluate --data {args.data} --model "
        f"{args.model}`"
    )
    return 0
