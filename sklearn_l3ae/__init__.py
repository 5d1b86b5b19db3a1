"""LLM-enhanced linear autoencoders (L3AE) for recommendation, in scikit-learn.

Estimators: :class:`SentenceEncoder` (item texts to embeddings),
:class:`SemanticCorrelation` (phase 1), :class:`L3AERecommender` (phase 2)
and :class:`EASERecommender`.  Ranking metrics live in
:mod:`sklearn_l3ae.metrics`, interaction splitters in
:mod:`sklearn_l3ae.model_selection`.
"""

from ._closed_form import LowRankCorrelation, NotPositiveDefiniteError
from .ease import EASERecommender
from .evaluation import RankingReport, evaluate
from .l3ae import L3AERecommender
from .scoring import make_ranking_scorer
from .semantic_correlation import SemanticCorrelation
from .sentence_encoder import SentenceEncoder

__version__ = "0.1.0.dev0"

__all__ = [
    "EASERecommender",
    "L3AERecommender",
    "LowRankCorrelation",
    "NotPositiveDefiniteError",
    "RankingReport",
    "SemanticCorrelation",
    "SentenceEncoder",
    "__version__",
    "evaluate",
    "make_ranking_scorer",
]
