"""Item side information (texts or embeddings) of the recommenders that use it.

Item data is constructor data, one entry per column of ``X``; these helpers
check it against ``X``, build the default phase-1 estimator and fit it.
"""

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.validation import check_array, check_is_fitted

from .._core.closed_forms import LowRankCorrelation, dense_correlation
from .._core.validation import check_float_dtype
from ..text import SemanticCorrelation, SentenceEncoder


def item_data_of(owner, item_texts, item_embeddings, n_items):
    """``(item_data, source)`` of an estimator, or ``(None, None)`` without any.

    ``owner`` names the estimator in error messages.
    """
    if item_texts is not None and item_embeddings is not None:
        raise ValueError(
            f"Pass either item_texts or item_embeddings to {owner}, not both: the "
            "semantic side is learned from one of them."
        )
    if item_embeddings is not None:
        # float32 embeddings (sentence-transformers' output) stay float32:
        # a float64 copy would be 1.5 GB at 10⁶ items x 384 dimensions, kept
        # as phase 1's left factor (phase 1 computes in float64 blocks).
        item_data = check_array(
            item_embeddings,
            dtype=[np.float64, np.float32],
            input_name="item_embeddings",
        )
        source = "item_embeddings"
    elif item_texts is not None:
        item_data, source = item_texts, "item_texts"
    else:
        return None, None
    if len(item_data) != n_items:
        raise ValueError(
            f"{source} has {len(item_data)} entries but X has {n_items} item "
            f"columns; pass one entry per item column of X, in column order."
        )
    return item_data, source


def phase_one(owner, semantic, item_texts, item_embeddings, n_items, dtype):
    """The unfitted phase-1 estimator and its input, or ``(None, None)``.

    ``semantic=None`` picks ``make_pipeline(SentenceEncoder(),
    SemanticCorrelation())`` for texts and ``SemanticCorrelation()`` for
    embeddings; otherwise a clone of ``semantic`` is returned.
    """
    item_data, source = item_data_of(owner, item_texts, item_embeddings, n_items)
    if item_data is None:
        if semantic is not None:
            raise ValueError(
                f"{owner} got a `semantic` estimator but no item data: pass "
                "item_texts or item_embeddings (one entry per column of X)."
            )
        return None, None
    if semantic is not None:
        return clone(semantic), item_data
    if source == "item_embeddings":
        return SemanticCorrelation(dtype=dtype), item_data
    return make_pipeline(SentenceEncoder(), SemanticCorrelation(dtype=dtype)), item_data


def validate_phase_one(semantic):
    """Validate the parameters of every step of phase 1 before any runs.

    A step's own ``fit`` validates them too, but only when it is reached:
    after the texts are encoded, for the last step of the default pipeline.
    """
    steps = [semantic]
    if isinstance(semantic, Pipeline):
        steps += [step for _, step in semantic.steps]
    for step in steps:
        validate = getattr(step, "_validate_params", None)
        if validate is not None:
            validate()


def correlation_of(semantic, n_items, dtype):
    """C from a fitted phase-1 estimator, structured when available."""
    final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
    factors = getattr(final, "correlation_factors_", None)
    if isinstance(factors, LowRankCorrelation) and len(factors.diagonal) == n_items:
        return factors
    C = getattr(final, "coef_", None)
    if not (isinstance(C, np.ndarray) and C.shape == (n_items, n_items)):
        raise ValueError(
            f"The semantic estimator's last step ({type(final).__name__}) must "
            f"expose coef_ of shape ({n_items}, {n_items}) after fit (one row "
            f"and column per item); got "
            f"{'no coef_' if C is None else f'shape {np.shape(C)}'}."
        )
    if not np.isfinite(C).all():
        raise ValueError("The semantic correlation coef_ contains NaN or inf.")
    return np.ascontiguousarray(C, dtype=dtype)


def phase_one_footprint(semantic, item_embeddings, n_items, itemsize):
    """``(extra dense n x n arrays, side bytes)`` of phase 1 as phase 2 uses it.

    Computed from the constructor parameters, before any conversion, so
    that a fit can be refused before it allocates anything.  The default
    phase 1 and :class:`SemanticCorrelation` on d < n_items embeddings give
    C in its structured form: no n x n array, O(n·d) float64 factors (plus
    the embeddings' float64 copy) and two n x d arrays in the fit's
    precision in phase 2.  Any other phase 1 (or d >= n_items) yields a
    dense C: one more n x n array.  For texts, d is not known before
    encoding and the O(n·d) arrays are not counted.
    """
    final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
    shape = np.shape(item_embeddings) if item_embeddings is not None else ()
    dim = shape[1] if len(shape) == 2 else None
    structured = (final is None or isinstance(final, SemanticCorrelation)) and (
        dim is None or dim < n_items
    )
    side = 0 if dim is None else n_items * dim * (3 * 8 + 2 * itemsize)
    return (0 if structured else 1), side


class SemanticCorrelationMixin:
    """Phase 1 of the models built on a semantic correlation ``C``.

    ``semantic`` is fitted (as a clone) on ``item_texts`` or
    ``item_embeddings`` and becomes ``semantic_``; phase 1 returns ``C``
    (structured when it can), or None without item data unless
    ``_needs_item_data``.
    """

    _needs_item_data = False
    # Whether phase 2 uses C in its structured form (else it is made dense).
    _structured_correlation = True

    def _fit_item_side(self, n_items):
        owner = type(self).__name__
        dtype = check_float_dtype(self.dtype)
        semantic, item_data = phase_one(
            owner, self.semantic, self.item_texts, self.item_embeddings, n_items, dtype
        )
        if semantic is None and self._needs_item_data:
            raise ValueError(
                f"{owner} needs item_texts or item_embeddings (one entry per column "
                "of X): it is built on the semantic correlation of the items."
            )
        self.semantic_ = semantic
        if semantic is None:
            return None
        validate_phase_one(semantic)
        semantic.fit(item_data)
        return self._correlation_of(semantic, n_items)

    def _correlation_of(self, semantic, n_items):
        """``C`` of a fitted phase 1 as phase 2 uses it (None without one)."""
        if semantic is None:
            return None
        dtype = check_float_dtype(self.dtype)
        correlation = correlation_of(semantic, n_items, dtype)
        if isinstance(correlation, LowRankCorrelation) and not (
            self._structured_correlation
        ):
            correlation = dense_correlation(correlation, dtype)
        return correlation

    def _item_embeddings(self):
        """The item embeddings phase 1 was fitted on (``F``), or None.

        The ranking metrics measure diversity in this space.  They are the
        structured correlation's left factor when phase 1 kept one (no copy),
        else the item data passed through the steps before the last.
        """
        check_is_fitted(self)
        semantic = self.semantic_
        if semantic is None:
            return None
        final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
        factors = getattr(final, "correlation_factors_", None)
        if factors is not None:
            return factors.left
        item_data, _ = item_data_of(
            type(self).__name__,
            self.item_texts,
            self.item_embeddings,
            self.n_features_in_,
        )
        if isinstance(semantic, Pipeline) and len(semantic) > 1:
            return semantic[:-1].transform(item_data)
        return item_data

    def _check_fitted_state(self):
        super()._check_fitted_state()
        semantic = getattr(self, "semantic_", None)
        if semantic is None:
            return
        final = semantic[-1] if isinstance(semantic, Pipeline) else semantic
        if not isinstance(final, SemanticCorrelation):
            raise ValueError(
                "semantic_ must be a fitted SemanticCorrelation or a Pipeline "
                f"ending with one, got {type(final).__name__}."
            )
        final._check_fitted_state(self.n_features_in_)

    def _phase_one_footprint(self, n_items, itemsize):
        """``(dense C, side bytes)`` of phase 1 as this model uses it."""
        extra_square, side_bytes = phase_one_footprint(
            self.semantic, self.item_embeddings, n_items, itemsize
        )
        return bool(extra_square) or not self._structured_correlation, side_bytes
