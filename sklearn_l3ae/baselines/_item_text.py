"""Item embeddings ``F`` for the baselines that use text as features."""

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods

from ..recommenders._item_side import item_data_of, validate_phase_one
from ..text import SentenceEncoder


def require_item_data(owner, item_texts, item_embeddings, n_items, purpose):
    """``(item_data, source)``; an error saying what is missing if neither is set."""
    item_data, source = item_data_of(owner, item_texts, item_embeddings, n_items)
    if item_data is None:
        raise ValueError(
            f"{owner} needs item_texts or item_embeddings (one entry per "
            f"column of X): {purpose}."
        )
    return item_data, source


def embed_items(owner, semantic, item_texts, item_embeddings, n_items, purpose):
    """``(F, semantic_)``: the item embeddings in float64 and the fitted step.

    ``semantic`` (a transformer, fitted as a clone) maps the item data to
    ``F``; ``None`` picks :class:`~sklearn_l3ae.SentenceEncoder` for texts
    and takes embeddings as given.
    """
    item_data, source = require_item_data(
        owner, item_texts, item_embeddings, n_items, purpose
    )
    if semantic is None and source == "item_texts":
        semantic = SentenceEncoder()
    fitted = None if semantic is None else clone(semantic)
    if fitted is not None:
        validate_phase_one(fitted)
        item_data = fitted.fit_transform(item_data)
    F = np.asarray(item_data, dtype=np.float64)
    if F.ndim != 2 or len(F) != n_items:
        raise ValueError(
            f"The semantic step must return one embedding row per item "
            f"({n_items}); got shape {F.shape}."
        )
    if not np.isfinite(F).all():
        raise ValueError(f"{owner}'s item embeddings contain NaN or infinity.")
    return F, fitted


# The parameters of the models whose item features are text embeddings.
TEXT_FEATURE_CONSTRAINTS = {
    "semantic": [HasMethods(["fit", "transform"]), None],
    "item_texts": ["array-like", None],
    "item_embeddings": ["array-like", None],
}


class TextFeaturesMixin:
    """Phase 1 as an embedding step: ``F`` and ``semantic_``.

    ``_text_purpose`` says, in the missing-data error, what ``F`` is for;
    ``_text_dtype`` is the precision ``F`` is returned in (None: as phase 1
    gives it).
    """

    _text_purpose = "they are its item features"
    _text_dtype = np.float32

    def _fit_item_side(self, n_items):
        F, self.semantic_ = embed_items(
            type(self).__name__,
            self.semantic,
            self.item_texts,
            self.item_embeddings,
            n_items,
            self._text_purpose,
        )
        return F if self._text_dtype is None else F.astype(self._text_dtype)
