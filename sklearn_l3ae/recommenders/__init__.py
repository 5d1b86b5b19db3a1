"""The linear-autoencoder recommenders: L3AE, EASE and the relaxed family.

- :class:`L3AERecommender`: EASE regularized towards the semantic
  correlation of item texts (phase 2 of L3AE).
- :class:`EASERecommender`, :class:`RLAERecommender`,
  :class:`DLAERecommender`, :class:`RDLAERecommender`: the closed-form
  linear autoencoders without text.
- :class:`BaseRecommender`, :class:`ItemItemRecommender`: the bases of
  every recommender of the package (the fit template, the scoring API).

Import rule: this subpackage imports the core, the solvers, the text
subpackage and the metrics (for ``score``); nothing imports it but the
baselines, persistence and the command line.
"""

from ._base import BaseRecommender
from ._ease import EASERecommender
from ._item_item import ItemItemRecommender
from ._l3ae import L3AERecommender
from ._relaxed import DLAERecommender, RDLAERecommender, RLAERecommender

__all__ = [
    "BaseRecommender",
    "DLAERecommender",
    "EASERecommender",
    "ItemItemRecommender",
    "L3AERecommender",
    "RDLAERecommender",
    "RLAERecommender",
]
