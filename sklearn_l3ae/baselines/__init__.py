"""Baselines with the recommenders' API: what users would pick instead of L3AE.

All share ``fit`` / ``decision_function`` / ``predict`` / ``score`` with
:class:`~sklearn_l3ae.EASERecommender`, seen-item masking, batched scoring
and ``item_popularity_`` (for the head/tail scorers), so they drop into the
same Pipelines, searches and :func:`~sklearn_l3ae.evaluate` calls.

- :class:`PopularityRecommender`: most popular unseen items.
- :class:`ALSRecommender`, :class:`BPRRecommender`,
  :class:`ItemKNNRecommender`: matrix factorization and cosine item-kNN from
  the `implicit <https://github.com/benfred/implicit>`_ package
  (``pip install "sklearn-l3ae[baselines]"``).
- :class:`SemanticEASERecommender`: text only, scores ``X·C`` with the
  semantic correlation ``C`` of phase 1.
- :class:`CollectiveEASERecommender` and :class:`AdditiveEASERecommender`:
  the L3AE paper's fusion baselines with dense text embeddings.
- :class:`LightGCN`, :class:`RLMRec` and :class:`AlphaRec`: the neural
  (LLM-enhanced) graph recommenders the L3AE paper compares with, trained on
  PyTorch (``pip install "sklearn-l3ae[text]"``).
"""

from ._alpharec import AlphaRec
from ._fusion import (
    AdditiveEASERecommender,
    CollectiveEASERecommender,
    SemanticEASERecommender,
)
from ._implicit import ALSRecommender, BPRRecommender, ItemKNNRecommender
from ._lightgcn import LightGCN, RLMRec
from ._popularity import PopularityRecommender

__all__ = [
    "ALSRecommender",
    "AlphaRec",
    "AdditiveEASERecommender",
    "BPRRecommender",
    "CollectiveEASERecommender",
    "ItemKNNRecommender",
    "LightGCN",
    "PopularityRecommender",
    "RLMRec",
    "SemanticEASERecommender",
]
