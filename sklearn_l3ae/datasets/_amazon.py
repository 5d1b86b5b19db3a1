"""Amazon Reviews 2023 JSON-lines files (McAuley Lab), plain or gzip."""

import gzip
import json
import os
import zlib
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._build import FILTER_CONSTRAINTS, build_dataset, item_text
from ._parse import GZIP_MAGIC

# Keeps one item text within what a sentence encoder reads (all-MiniLM-L6-v2
# truncates at 256 word pieces, roughly 1,000 characters).
DESCRIPTION_MAX_CHARS = 500


def _open(path):
    with open(path, "rb") as file:
        compressed = file.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _records(path):
    """(line number, dict) of each non-blank line of a JSON-lines file.

    Streamed line by line: a category's reviews can take gigabytes.
    """
    with _open(path) as file:
        try:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"{path}, line {number} (byte {exc.start} of the line): "
                        f"byte {line[exc.start : exc.start + 1]!r} is not valid "
                        "UTF-8; the file must be UTF-8 encoded."
                    ) from None
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f"{path}, line {number}: malformed JSON ({exc.msg} at "
                        f"column {exc.colno}); expected one JSON object per line."
                    ) from None
                if not isinstance(record, dict):
                    raise ValueError(
                        f"{path}, line {number}: expected a JSON object, got "
                        f"{type(record).__name__}."
                    )
                yield number, record
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc}).") from None


def _field(record, key, types, expected, path, number):
    if key not in record:
        raise ValueError(f"{path}, line {number}: the required key {key!r} is missing.")
    value = record[key]
    if not isinstance(value, types) or isinstance(value, bool):
        raise ValueError(
            f"{path}, line {number}: {key!r} is {value!r}, expected {expected}."
        )
    return value


def _strings(value):
    """The str entries of a str / list-of-str metadata field (None -> [])."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, str)]
    return []


def _description(parts):
    text = " ".join(" ".join(parts).split())
    if len(text) <= DESCRIPTION_MAX_CHARS:
        return text
    cut = text[:DESCRIPTION_MAX_CHARS].rsplit(" ", 1)[0]
    return cut + " ..."


def amazon_item_text(record):
    """``"Title: … Categories: … Store: … Description: …"`` of a metadata record.

    Categories are the category path joined by " > " (``main_category`` when
    the path is empty); ``Store`` falls back to ``details["Brand"]`` (then
    labelled ``Brand``); the description's paragraphs are joined and cut to
    :data:`DESCRIPTION_MAX_CHARS` characters at a word boundary.  Empty parts
    are skipped.
    """
    categories = " > ".join(_strings(record.get("categories"))) or " ".join(
        _strings(record.get("main_category"))
    )
    store = " ".join(_strings(record.get("store")))
    details = record.get("details")
    brand = (
        " ".join(_strings(details.get("Brand"))) if isinstance(details, dict) else ""
    )
    return item_text(
        [
            ("Title", " ".join(_strings(record.get("title")))),
            ("Categories", categories),
            ("Store", store) if store else ("Brand", brand),
            ("Description", _description(_strings(record.get("description")))),
        ]
    )


def _read_reviews(path):
    users, items, ratings, timestamps, lines = [], [], [], [], []
    for number, record in _records(path):
        users.append(_field(record, "user_id", str, "a string", path, number))
        items.append(_field(record, "parent_asin", str, "a string", path, number))
        ratings.append(_field(record, "rating", Real, "a number", path, number))
        timestamps.append(
            _field(record, "timestamp", Integral, "an integer", path, number)
        )
        lines.append(number)
    ratings = _as_array(ratings, np.float64, "rating", path, lines)
    if not np.isfinite(ratings).all():
        row = int(np.flatnonzero(~np.isfinite(ratings))[0])
        raise ValueError(f"{path}, line {lines[row]}: 'rating' is not finite.")
    timestamps = _as_array(timestamps, np.int64, "timestamp", path, lines)
    return users, items, ratings, timestamps, lines


def _as_array(values, dtype, key, path, lines):
    """JSON numbers as a ``dtype`` array; one beyond its range names its line."""
    try:
        return np.array(values, dtype=dtype)
    except OverflowError:  # Python ints are unbounded, JSON integers too
        pass
    for row, value in enumerate(values):
        try:
            np.array(value, dtype=dtype)
        except OverflowError:
            raise ValueError(
                f"{path}, line {lines[row]}: {key!r} is {value}, beyond the range "
                f"of {np.dtype(dtype)}."
            ) from None
    raise AssertionError("unreachable: no value overflows alone")


def _read_catalog(path):
    catalog = {}
    first_line = {}
    for number, record in _records(path):
        item = _field(record, "parent_asin", str, "a string", path, number)
        if item in catalog:
            raise ValueError(
                f"{path}, line {number}: parent_asin {item!r} is repeated (first "
                f"at line {first_line[item]}); expected one record per item."
            )
        title = " ".join(_strings(record.get("title")))
        catalog[item] = (title, amazon_item_text(record))
        first_line[item] = number
    return catalog


@validate_params(
    {
        "reviews_path": [str, os.PathLike],
        "meta_path": [str, os.PathLike],
        **FILTER_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def load_amazon_reviews(
    reviews_path,
    meta_path,
    *,
    min_rating=None,
    k_core=None,
    missing_text="raise",
    include_cold_items=False,
):
    """Load one category of Amazon Reviews 2023 (McAuley Lab).

    Reads the reviews file ``<category>.jsonl`` and the item metadata file
    ``meta_<category>.jsonl``, one JSON object per line, UTF-8, plain or
    gzip-compressed (``.jsonl.gz``).  Items are identified by
    ``parent_asin`` (all variants of a product share it).

    Each review needs the keys ``user_id``, ``parent_asin``, ``rating``
    (number) and ``timestamp`` (integer, milliseconds since the epoch, kept
    as is); other keys (``title``, ``text``, ``asin``,
    ``verified_purchase``, ``helpful_vote``, ...) are ignored.  Each
    metadata record needs ``parent_asin``; its item text is

    ``"Title: <title>. Categories: <c1> > <c2>. Store: <store>.
    Description: <description>."``

    with ``main_category`` when ``categories`` is empty, ``Brand:
    <details["Brand"]>`` when ``store`` is empty, the description's
    paragraphs joined and cut at a word boundary to
    ``DESCRIPTION_MAX_CHARS`` (500) characters (marked " ..."), and empty
    parts skipped.

    Parameters
    ----------
    reviews_path : str or path-like
        The reviews file.
    meta_path : str or path-like
        The item metadata file.
    min_rating : float, default=None
        Keep only the reviews rated at least ``min_rating`` (1 to 5).
    k_core : int, default=None
        Iterative k-core, as in :func:`load_folder`.
    missing_text : {"raise", "drop"}, default="raise"
        For reviewed items without metadata or with an empty text, as in
        :func:`load_folder`.
    include_cold_items : bool, default=False
        Append the items of the metadata file without (remaining) reviews as
        all-zero columns after the others.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_folder`; a user who reviewed an item
        several times counts once, with the latest review's rating and
        timestamp.  ``name`` is the reviews file's name without extensions.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        With the file and line, for bytes that are not UTF-8, a line that is
        not a JSON object, a missing required key or a value of the wrong
        type, a repeated ``parent_asin`` in the metadata, an empty id, or as
        in :func:`load_folder` for the filters.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from sklearn_l3ae.datasets import load_amazon_reviews
    >>> folder = Path(tempfile.mkdtemp())
    >>> reviews = [
    ...     {"user_id": "U1", "parent_asin": "B1", "rating": 5.0,
    ...      "timestamp": 1600000000000, "text": "Great scale."},
    ...     {"user_id": "U2", "parent_asin": "B1", "rating": 2.0,
    ...      "timestamp": 1600000001000, "text": "Broke."}]
    >>> meta = [{"parent_asin": "B1", "title": "Lab Scale",
    ...          "categories": ["Industrial & Scientific", "Lab Supplies"],
    ...          "store": "Acme", "description": ["Weighs up to 200 g."]}]
    >>> for name, records in [("Scientific.jsonl", reviews),
    ...                       ("meta_Scientific.jsonl", meta)]:
    ...     _ = (folder / name).write_text(
    ...         "\\n".join(json.dumps(record) for record in records))
    >>> data = load_amazon_reviews(folder / "Scientific.jsonl",
    ...                            folder / "meta_Scientific.jsonl")
    >>> data.name, data.X.shape
    ('Scientific', (2, 1))
    >>> print(data.item_texts[0])
    Title: Lab Scale. Categories: Industrial & Scientific > Lab Supplies. \
Store: Acme. Description: Weighs up to 200 g.
    """
    reviews_path, meta_path = Path(reviews_path), Path(meta_path)
    for path in (reviews_path, meta_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (or is not a file).")
    users, items, ratings, timestamps, lines = _read_reviews(reviews_path)
    return build_dataset(
        users,
        items,
        ratings,
        timestamps,
        _read_catalog(meta_path),
        where=lambda row: f"{reviews_path}, line {lines[row]}",
        name=reviews_path.name.split(".")[0],
        source=str(reviews_path),
        catalog_source=str(meta_path),
        min_rating=min_rating,
        k_core=k_core,
        missing_text=missing_text,
        include_cold_items=include_cold_items,
    )
