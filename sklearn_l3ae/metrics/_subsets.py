"""Item subsets of the scorers and :func:`~sklearn_l3ae.metrics.evaluate`.

A subset restricts relevance to some items (the ranking still covers all
of them): ``None`` (all items), ``"head"``/``"tail"`` (by training
popularity), or an explicit boolean mask or list of item indices, named by
the keys of a dict.
"""

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.pipeline import Pipeline

from ._ranking_metrics import head_item_mask

POPULARITY_SUBSETS = ("head", "tail")
_EXPLICIT_LABEL = "subset"


class ItemSubset:
    """One validated item subset: its ``label`` and what it is (``spec``).

    ``label`` is None for all items, else the prefix of its score keys;
    ``spec`` is None, ``"head"``, ``"tail"`` or a 1-D array (a boolean mask
    or item indices), checked against the catalogue when scoring.
    """

    def __init__(self, label, spec):
        self.label = label
        self.spec = spec

    def same_as(self, other):
        if isinstance(self.spec, np.ndarray) or isinstance(other.spec, np.ndarray):
            return self.spec is other.spec
        return self.spec == other.spec

    def key(self, name):
        """A score key ``name`` on this subset, e.g. ``"tail_ndcg@20"``."""
        return name if self.label is None else f"{self.label}_{name}"

    def __repr__(self):
        if isinstance(self.spec, np.ndarray):
            kind = "mask" if self.spec.dtype == bool else "indices"
            return f"<{self.label}: {kind} of {self.spec.size} items>"
        return repr(self.spec)


def _is_index(value):
    return isinstance(value, Integral | np.bool_)


def _subset(value, label=None, param="item_subset"):
    if value is None or (isinstance(value, str) and value in POPULARITY_SUBSETS):
        return ItemSubset(value if label is None else label, value)
    if isinstance(value, str):
        raise ValueError(
            f"{param} must be None, 'head', 'tail', a boolean mask or a list "
            f"of item indices (or a dict naming them); got {value!r}."
        )
    array = np.asarray(value) if np.iterable(value) else None
    if (
        array is None
        or array.ndim != 1
        or not (array.dtype == bool or np.issubdtype(array.dtype, np.integer))
    ):
        raise ValueError(
            f"An explicit {param} must be a 1-D boolean mask (one entry per "
            f"item) or a 1-D list of item indices; got {value!r}."
        )
    return ItemSubset(_EXPLICIT_LABEL if label is None else label, array)


def _named(mapping, param):
    subsets = []
    for label, value in mapping.items():
        reserved = {"all": None, "head": "head", "tail": "tail"}
        if not isinstance(label, str) or not label:
            raise ValueError(
                f"The names of item subsets in {param} must be non-empty str; got "
                f"{label!r}."
            )
        if label in reserved and value is not reserved[label]:
            raise ValueError(
                f"The {param} name {label!r} is reserved for "
                f"{reserved[label]!r}; name this subset otherwise."
            )
        subsets.append(_subset(value, None if label == "all" else label, param))
    return subsets


def parse_item_subsets(item_subset, param="item_subset"):
    """``(subsets, single)``: validated :class:`ItemSubset` list.

    ``single`` is True for one subset given bare (not in a sequence or
    dict).  A sequence of integers or booleans is one explicit subset.
    ``param`` names the argument in error messages.
    """
    if isinstance(item_subset, Mapping):
        subsets, single = _named(item_subset, param), False
    elif (
        item_subset is None
        or isinstance(item_subset, str | np.ndarray)
        or not np.iterable(item_subset)
    ):
        subsets, single = [_subset(item_subset, param=param)], True
    else:
        values = list(item_subset)
        if values and all(_is_index(value) for value in values):
            subsets, single = [_subset(values, param=param)], True
        else:
            subsets = [_subset(value, param=param) for value in values]
            single = False
    if not subsets:
        raise ValueError(f"{param} must name at least one item subset.")
    distinct = {}
    for subset in subsets:
        seen = distinct.setdefault(subset.label, subset)
        if seen is not subset and not seen.same_as(subset):
            raise ValueError(
                f"Two item subsets of {param} are named {subset.label!r}; name "
                f"explicit subsets with a dict, e.g. {param}={{'promoted': mask, "
                "'new': other_mask}."
            )
    return list(distinct.values()), single


def final_step(estimator):
    """The estimator itself, or a Pipeline's last step (the recommender)."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def training_item_popularity(estimator):
    """The fitted ``item_popularity_`` of ``estimator`` or its last step."""
    final = final_step(estimator)
    popularity = getattr(final, "item_popularity_", None)
    if popularity is None:
        raise ValueError(
            "Head/tail scoring and novelty need the fitted estimator (or a "
            "Pipeline's last step) to expose item_popularity_, the number of "
            f"training users per item; {type(final).__name__} has none (is it "
            "fitted?)."
        )
    return np.asarray(popularity)


def subset_mask(estimator, subset, head_fraction, n_items):
    """Boolean item mask of ``subset``, None for all items."""
    spec = subset.spec
    if spec is None:
        return None
    if isinstance(spec, np.ndarray):
        if spec.dtype == bool:
            if spec.shape != (n_items,):
                raise ValueError(
                    f"The item subset mask {subset.label!r} has {spec.size} entries, "
                    f"but X has {n_items} items: pass one boolean per item."
                )
            return spec
        if spec.size and (spec.min() < 0 or spec.max() >= n_items):
            raise ValueError(
                f"The item subset {subset.label!r} lists item indices in "
                f"[{spec.min()}, {spec.max()}], outside [0, {n_items}) for X's "
                f"{n_items} items."
            )
        mask = np.zeros(n_items, dtype=bool)
        mask[spec] = True
        return mask
    popularity = training_item_popularity(estimator)
    if popularity.shape != (n_items,):
        raise ValueError(
            f"The estimator's item_popularity_ has shape {popularity.shape}, but X "
            f"has {n_items} items."
        )
    head = head_item_mask(popularity, head_fraction)
    return head if spec == "head" else ~head
