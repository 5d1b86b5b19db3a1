"""The normalized dataset folder: ``interactions.csv[.gz]`` + ``items.csv``."""

import os
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._build import FILTER_CONSTRAINTS, build_dataset
from ._parse import CsvTable, decode_utf8, parse_numbers, read_bytes

INTERACTION_FILES = ("interactions.csv", "interactions.csv.gz")
ITEM_FILE = "items.csv"


def _interactions_file(folder):
    found = [folder / name for name in INTERACTION_FILES if (folder / name).is_file()]
    if not found:
        raise FileNotFoundError(
            f"No interactions file in {folder}: expected {INTERACTION_FILES[0]} "
            f"or {INTERACTION_FILES[1]} (plus {ITEM_FILE})."
        )
    if len(found) > 1:
        raise ValueError(
            f"{folder} holds both {INTERACTION_FILES[0]} and "
            f"{INTERACTION_FILES[1]}; keep only one."
        )
    return found[0]


def read_item_catalog(path):
    """Item id to (title, text) of an ``items.csv``, in file order."""
    table = CsvTable(
        decode_utf8(read_bytes(path), path), path, ("item_id", "title", "text")
    )
    columns = table.columns
    catalog = {}
    first_row = {}
    for row, (item, title, text) in enumerate(
        zip(columns["item_id"], columns["title"], columns["text"], strict=True)
    ):
        if not item.strip():
            raise ValueError(f"{table.where(row)}: empty item_id.")
        if item in catalog:
            raise ValueError(
                f"{table.where(row)}: item_id {item!r} is repeated (first at "
                f"{table.where(first_row[item])}); item ids must be unique."
            )
        catalog[item] = (title, text)
        first_row[item] = row
    return catalog


@validate_params(
    {"path": [str, os.PathLike], **FILTER_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def load_folder(
    path,
    *,
    min_rating=None,
    k_core=None,
    missing_text="raise",
    include_cold_items=False,
):
    """Load a dataset folder in the normalized CSV format.

    The folder holds ``interactions.csv`` (or gzip-compressed
    ``interactions.csv.gz``) with the header ``user_id,item_id,rating,timestamp``
    and ``items.csv`` with the header ``item_id,title,text``, both UTF-8 and
    CSV-quoted.  Ids are kept as strings.  ``rating`` and ``timestamp`` may be
    missing from the header or empty on every line (the source lacks them);
    other columns are ignored.

    Parameters
    ----------
    path : str or path-like
        The folder.
    min_rating : float, default=None
        Keep only the interactions rated at least ``min_rating``.  The data
        must have ratings.
    k_core : int, default=None
        Iterative k-core: users and items with fewer than ``k_core``
        interactions are dropped, repeatedly, until every remaining user and
        item has at least ``k_core``.
    missing_text : {"raise", "drop"}, default="raise"
        What to do with interacted items that have no row in ``items.csv``
        or an empty (or whitespace) text: raise a ``ValueError`` naming
        how many and the first few ids, or drop those items and all their
        interactions.
    include_cold_items : bool, default=False
        Append the items of ``items.csv`` that have a text but no remaining
        interaction as all-zero columns after the others (cold-start items,
        for text-based recommenders).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X : scipy.sparse.csr_array of shape (n_users, n_items), float32
            1.0 per distinct (user, item) pair.
        user_ids : ndarray of str of shape (n_users,)
            The id of each row, sorted.
        item_ids : ndarray of str of shape (n_items,)
            The id of each column: the items with interactions, sorted, then
            (with ``include_cold_items``) the cold items, sorted.
        item_titles, item_texts : ndarray of object (str) of shape (n_items,)
            Title and text of each column, from ``items.csv``.
        ratings : scipy.sparse.csr_array of float32 or None
            The rating of each pair of ``X`` (same sparsity structure; a
            rating of 0 stays stored), or None without ratings.
        timestamps : scipy.sparse.csr_array of int64 or None
            The timestamp of each pair of ``X``, or None without timestamps.
        name : str
            The folder's name.
        DESCR : str
            Counts, sources and the filters applied.

    Raises
    ------
    FileNotFoundError
        If the folder lacks one of the files.
    ValueError
        With the file and line, for content that does not fit the format: a
        header without the needed columns, bytes that are not UTF-8, a line
        with the wrong number of fields, an empty id, a repeated item id in
        ``items.csv``, a rating or timestamp that is not a number (timestamps
        are integers) or empty on some lines only, no interactions at all,
        interacted items without text (``missing_text="raise"``), or nothing
        left after the filters.

    Notes
    -----
    The policies, applied in this order:

    1. Repeated (user, item) rows count once.  Their rating and timestamp
       come from the latest row: the largest timestamp, and among equal
       timestamps (or without timestamps) the last row in the file.
    2. ``missing_text``, on all interacted items.
    3. ``min_rating``, on the kept ratings.
    4. ``k_core``.
    5. ``include_cold_items``: items dropped by steps 3–4 become cold items
       too; items without text are never appended.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_l3ae.datasets import load_folder
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "interactions.csv").write_text(
    ...     "user_id,item_id,rating,timestamp\\n"
    ...     "u1,i1,4,100\\nu1,i2,5,101\\nu2,i1,2,102\\nu1,i1,3,103\\n")
    >>> _ = (folder / "items.csv").write_text(
    ...     "item_id,title,text\\n"
    ...     'i1,Alpha,"Title: Alpha. Genres: Drama."\\n'
    ...     'i2,Beta,"Title: Beta. Genres: Comedy, Drama."\\n'
    ...     'i3,Gamma,"Title: Gamma. Genres: Horror."\\n')
    >>> data = load_folder(folder)
    >>> data.X.toarray()
    array([[1., 1.],
           [1., 0.]], dtype=float32)
    >>> data.user_ids.tolist(), data.item_ids.tolist()
    (['u1', 'u2'], ['i1', 'i2'])
    >>> data.ratings.toarray()  # u1 rated i1 twice: the latest rating is kept
    array([[3., 5.],
           [2., 0.]], dtype=float32)
    >>> load_folder(folder, include_cold_items=True).item_texts.tolist()
    ['Title: Alpha. Genres: Drama.', 'Title: Beta. Genres: Comedy, Drama.', \
'Title: Gamma. Genres: Horror.']
    >>> load_folder(folder, min_rating=3).X.toarray()
    array([[1., 1.]], dtype=float32)
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is not a folder; expected a folder holding "
            f"{INTERACTION_FILES[0]} (or {INTERACTION_FILES[1]}) and {ITEM_FILE}."
        )
    interactions_path = _interactions_file(folder)
    items_path = folder / ITEM_FILE
    if not items_path.is_file():
        raise FileNotFoundError(
            f"No {ITEM_FILE} in {folder}: expected it beside "
            f"{interactions_path.name} (header item_id,title,text)."
        )
    table = CsvTable(
        decode_utf8(read_bytes(interactions_path), interactions_path),
        interactions_path,
        ("user_id", "item_id"),
        ("rating", "timestamp"),
    )
    columns = table.columns
    numbers = {}
    for column, dtype in (("rating", np.float64), ("timestamp", np.int64)):
        values = columns.get(column)
        numbers[column] = (
            None
            if values is None
            else parse_numbers(values, dtype, column, table.where)
        )
    return build_dataset(
        columns["user_id"],
        columns["item_id"],
        numbers["rating"],
        numbers["timestamp"],
        read_item_catalog(items_path),
        where=table.where,
        name=folder.resolve().name,
        source=str(interactions_path),
        catalog_source=str(items_path),
        min_rating=min_rating,
        k_core=k_core,
        missing_text=missing_text,
        include_cold_items=include_cold_items,
    )
