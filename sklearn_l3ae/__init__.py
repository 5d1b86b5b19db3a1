"""LLM-enhanced linear autoencoders (L3AE) for recommendation, in scikit-learn."""

from ._closed_form import LowRankCorrelation, NotPositiveDefiniteError
from .ease import EASERecommender
from .l3ae import L3AERecommender
from .semantic_correlation import SemanticCorrelation

__version__ = "0.1.0.dev0"

__all__ = [
    "EASERecommender",
    "L3AERecommender",
    "LowRankCorrelation",
    "NotPositiveDefiniteError",
    "SemanticCorrelation",
    "__version__",
]
