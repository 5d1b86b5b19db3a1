"""LLM-enhanced linear autoencoders (L3AE) for recommendation, in scikit-learn.

Estimators, by subpackage:

- :mod:`sklearn_l3ae.text` (phase 1): :class:`SentenceEncoder` (item texts
  to embeddings), :class:`AnisotropyControl` (spreads embeddings out),
  :class:`SemanticCorrelation` (the semantic item correlation);
- :mod:`sklearn_l3ae.recommenders` (phase 2 and its family):
  :class:`L3AERecommender` and the linear autoencoders
  :class:`EASERecommender`, :class:`RLAERecommender`,
  :class:`DLAERecommender` and :class:`RDLAERecommender`;
- :mod:`sklearn_l3ae.baselines`: what L3AE is compared with (popularity,
  ALS, BPR, item-kNN, text only, additive and collective EASE).

Ranking metrics, scorers and :func:`evaluate` live in
:mod:`sklearn_l3ae.metrics`, interaction splitters in
:mod:`sklearn_l3ae.model_selection`, dataset loaders in
:mod:`sklearn_l3ae.datasets`; :func:`save` and :func:`load` store fitted
recommenders in a pickle-free file (:mod:`sklearn_l3ae.persistence`), and
:mod:`sklearn_l3ae.cli` is the command line.  Fits and scoring check their
memory needs first and raise :class:`MemoryLimitError` up front instead of
running out of memory (``memory_limit``; :func:`available_memory`).
"""

from ._core.closed_forms import LowRankCorrelation
from ._core.linalg import NotPositiveDefiniteError
from ._core.memory import MemoryLimitError, available_memory
from .metrics import RankingReport, evaluate, make_ranking_metric, make_ranking_scorer
from .persistence import load, save
from .recommenders import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
)
from .text import (
    AnisotropyControl,
    SemanticCorrelation,
    SentenceEncoder,
    mean_cosine_similarity,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AnisotropyControl",
    "DLAERecommender",
    "EASERecommender",
    "L3AERecommender",
    "LowRankCorrelation",
    "MemoryLimitError",
    "NotPositiveDefiniteError",
    "RDLAERecommender",
    "RLAERecommender",
    "RankingReport",
    "SemanticCorrelation",
    "SentenceEncoder",
    "__version__",
    "available_memory",
    "evaluate",
    "load",
    "make_ranking_metric",
    "make_ranking_scorer",
    "mean_cosine_similarity",
    "save",
]
