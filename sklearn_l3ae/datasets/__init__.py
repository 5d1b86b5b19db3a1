"""Dataset loaders returning a :class:`sklearn.utils.Bunch`.

- :func:`load_folder`: a folder in the normalized format
  (``interactions.csv[.gz]`` + ``items.csv``).
- :func:`load_movielens`: the raw GroupLens MovieLens 100K / 1M files.
- :func:`load_amazon_reviews`: Amazon Reviews 2023 JSON-lines files.
- :func:`fetch_movielens`: download (once, checksum-verified) and load
  MovieLens.

All of them return the users x items interaction matrix ``X`` (binary
``csr_array``) with the ids of its rows and columns, the item titles and
texts aligned with the columns, and the ratings / timestamps when the source
has them.

- :func:`interactions_from_frame`: the same matrix and ids from a long
  table of your own (one row per user-item interaction);
- :func:`recommendations_to_frame`: recommendations back to a long table.
"""

from ._amazon import load_amazon_reviews
from ._fetch import fetch_movielens
from ._folder import load_folder
from ._interactions import interactions_from_frame, recommendations_to_frame
from ._movielens import load_movielens

__all__ = [
    "fetch_movielens",
    "interactions_from_frame",
    "load_amazon_reviews",
    "load_folder",
    "load_movielens",
    "recommendations_to_frame",
]
