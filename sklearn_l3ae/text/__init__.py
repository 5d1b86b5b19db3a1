"""Phase 1: item texts to embeddings to a semantic item-item correlation.

- :class:`SentenceEncoder`: texts to embeddings (sentence-transformers),
  cached per text.
- :class:`AnisotropyControl`: spreads embeddings out before phase 1.
- :class:`SemanticCorrelation`: L3AE's phase 1, the semantic correlation
  ``C`` of item embeddings (:class:`LowRankCorrelation` keeps it structured).
- :func:`mean_cosine_similarity`: how alike a set of embeddings is.

Import rule: this subpackage imports the core only.
"""

from .._core.closed_forms import LowRankCorrelation
from ._anisotropy import AnisotropyControl, mean_cosine_similarity
from ._semantic_correlation import SemanticCorrelation
from ._sentence_encoder import SentenceEncoder

__all__ = [
    "AnisotropyControl",
    "LowRankCorrelation",
    "SemanticCorrelation",
    "SentenceEncoder",
    "mean_cosine_similarity",
]
