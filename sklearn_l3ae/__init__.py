"""LLM-enhanced linear autoencoders (L3AE) for recommendation, in scikit-learn.

Estimators: :class:`SentenceEncoder` (item texts to embeddings),
:class:`AnisotropyControl` (spreads embeddings out),
:class:`SemanticCorrelation` (phase 1), :class:`L3AERecommender` (phase 2),
and the linear autoencoders :class:`EASERecommender`,
:class:`RLAERecommender`, :class:`DLAERecommender` and
:class:`RDLAERecommender`.  Ranking metrics live in
:mod:`sklearn_l3ae.metrics`, interaction splitters in
:mod:`sklearn_l3ae.model_selection`, dataset loaders in
:mod:`sklearn_l3ae.datasets`, and the baselines L3AE is compared with
(popularity, ALS, BPR, item-kNN, text only, additive and collective EASE) in
:mod:`sklearn_l3ae.baselines`.  :func:`save` and :func:`load` store fitted
recommenders in a pickle-free file (:mod:`sklearn_l3ae.persistence`).
Fits and scoring check their memory needs first and raise
:class:`MemoryLimitError` up front instead of running out of memory
(``memory_limit``; :func:`available_memory`).
"""

from ._closed_form import LowRankCorrelation, NotPositiveDefiniteError
from ._memory import MemoryLimitError, available_memory
from .anisotropy import AnisotropyControl, mean_cosine_similarity
from .ease import EASERecommender
from .evaluation import RankingReport, evaluate
from .l3ae import L3AERecommender
from .persistence import load, save
from .relaxed import DLAERecommender, RDLAERecommender, RLAERecommender
from .scoring import make_ranking_scorer
from .semantic_correlation import SemanticCorrelation
from .sentence_encoder import SentenceEncoder

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
    "make_ranking_scorer",
    "mean_cosine_similarity",
    "save",
]
