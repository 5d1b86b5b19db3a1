"""From interaction rows and an item catalog to the dataset Bunch.

Every loader reads its files into the same pieces — one user id, item id and
optional rating / timestamp per interaction row, and a catalog mapping item
id to (title, text) — and :func:`build_dataset` applies the policies shared
by all of them, in this order:

1. repeated (user, item) rows are merged, keeping the latest row;
2. interacted items without a text are refused or dropped (``missing_text``);
3. ``min_rating``;
4. iterative ``k_core``;
5. cold catalog items are appended as empty columns (``include_cold_items``).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions

from ._interactions import factorize, latest_row_per_pair, sorted_csr

# Shared by the public loaders' @validate_params.
FILTER_CONSTRAINTS = {
    # A finite number (NaN would silently keep nothing).
    "min_rating": [Interval(Real, None, None, closed="neither"), None],
    "k_core": [Interval(Integral, 1, None, closed="left"), None],
    "missing_text": [StrOptions({"raise", "drop"})],
    "include_cold_items": ["boolean"],
}

_IDS_SHOWN = 5


def item_text(parts):
    """One-line item text ``"Label: value. Label: value."`` from (label, value).

    Whitespace inside a value is collapsed to single spaces, empty values are
    skipped, and a value already ending with a period gets no second one.
    """
    sentences = []
    for label, value in parts:
        value = " ".join(value.split())
        if value:
            sentences.append(f"{label}: {value}" + ("" if value.endswith(".") else "."))
    return " ".join(sentences)


def _check_ids(ids, codes, what, where):
    blank = np.flatnonzero(np.char.strip(ids) == "")
    if blank.size:
        row = int(np.flatnonzero(codes == blank[0])[0])
        raise ValueError(f"{where(row)}: empty {what}.")


def _show(ids):
    shown = ", ".join(repr(str(item)) for item in ids[:_IDS_SHOWN])
    return shown + (", ..." if len(ids) > _IDS_SHOWN else "")


def k_core_mask(users, items, k):
    """Interactions kept by the iterative k-core of (users, items).

    Users and items with fewer than ``k`` interactions are dropped,
    repeatedly, until every remaining user and item has at least ``k``.
    """
    keep = np.ones(users.size, dtype=bool)
    n_users = int(users.max(initial=-1)) + 1
    n_items = int(items.max(initial=-1)) + 1
    while True:
        user_counts = np.bincount(users[keep], minlength=n_users)
        item_counts = np.bincount(items[keep], minlength=n_items)
        kept = keep & (user_counts[users] >= k) & (item_counts[items] >= k)
        if kept.sum() == keep.sum():
            return keep
        keep = kept


def build_dataset(
    user_ids,
    item_ids,
    ratings,
    timestamps,
    catalog,
    *,
    where,
    name,
    source,
    catalog_source,
    min_rating,
    k_core,
    missing_text,
    include_cold_items,
):
    """The dataset Bunch of raw interaction rows (see the module docstring).

    Parameters
    ----------
    user_ids, item_ids : sequence of str
        One entry per interaction row, in file order.
    ratings : ndarray of float64 or None
    timestamps : ndarray of int64 or None
    catalog : dict of str to (str, str)
        Item id to (title, text).
    where : callable
        ``where(row)`` names the file and line of row ``row``, for errors.
    name, source, catalog_source : str
        Dataset name; where the interactions and the item texts come from.
    min_rating, k_core, missing_text, include_cold_items
        As in :func:`~sklearn_l3ae.datasets.load_folder`.
    """
    if isinstance(k_core, bool):  # Interval(Integral) lets booleans through
        raise ValueError(f"k_core must be a positive integer or None; got {k_core}.")
    n_rows = len(user_ids)
    if n_rows == 0:
        raise ValueError(f"{source} holds no interactions.")
    if min_rating is not None and ratings is None:
        raise ValueError(
            f"min_rating={min_rating!r} needs ratings, but {source} has none."
        )
    users, user_codes = factorize(user_ids)
    items, item_codes = factorize(item_ids)
    _check_ids(users, user_codes, "user id", where)
    _check_ids(items, item_codes, "item id", where)

    kept_rows = latest_row_per_pair(user_codes, item_codes, items.size, timestamps)
    user_codes, item_codes = user_codes[kept_rows], item_codes[kept_rows]
    ratings = None if ratings is None else ratings[kept_rows]
    timestamps = None if timestamps is None else timestamps[kept_rows]
    n_pairs = kept_rows.size

    has_text = np.array(
        [bool(catalog.get(item, ("", ""))[1].strip()) for item in items.tolist()]
    )
    textless = items[~has_text]
    if textless.size and missing_text == "raise":
        raise ValueError(
            f"{textless.size} interacted item(s) of {source} have no row or an "
            f"empty text in {catalog_source}: {_show(textless)}. Add their texts, "
            "or pass missing_text='drop' to drop these items and their "
            "interactions."
        )
    keep = has_text[item_codes]
    n_textless_pairs = int(n_pairs - keep.sum())
    if min_rating is not None:
        keep &= ratings >= min_rating
    if k_core is not None:
        keep[keep] = k_core_mask(user_codes[keep], item_codes[keep], k_core)

    filters = (
        f"missing_text={missing_text!r} ({textless.size} items without text, "
        f"{n_textless_pairs} of their interactions dropped), "
        f"min_rating={min_rating!r}, k_core={k_core!r}"
    )
    if not keep.any():
        raise ValueError(
            f"No interaction of {source} is left after the filters: {filters}."
        )
    user_codes, item_codes = user_codes[keep], item_codes[keep]
    # Codes are ranks of sorted ids, so the surviving ids stay sorted.
    kept_users, user_codes = np.unique(user_codes, return_inverse=True)
    kept_items, item_codes = np.unique(item_codes, return_inverse=True)
    users, items = users[kept_users], items[kept_items]
    n_warm = items.size
    if include_cold_items:
        cold = sorted(
            set(item for item, (_, text) in catalog.items() if text.strip())
            - set(items.tolist())
        )
        items = np.concatenate([items, np.array(cold, dtype=str)])
    shape = (users.size, items.size)

    cells = (user_codes, item_codes, shape)
    X = sorted_csr(np.ones(user_codes.size, dtype=np.float32), *cells)
    if ratings is not None:
        ratings = sorted_csr(ratings[keep].astype(np.float32), *cells)
    if timestamps is not None:
        timestamps = sorted_csr(timestamps[keep].astype(np.int64), *cells)
    descr = "\n".join(
        [
            f"{name}: {shape[0]} users x {shape[1]} items, {X.nnz} interactions "
            f"(density {X.nnz / (shape[0] * n_warm):.3%} over the {n_warm} items "
            "with interactions).",
            f"Interactions: {source} ({n_rows} rows, {n_pairs} distinct (user, "
            "item) pairs; a repeated pair keeps its latest row).",
            f"Item texts: {catalog_source}.",
            f"Ratings: {'no' if ratings is None else 'yes'}, timestamps: "
            f"{'no' if timestamps is None else 'yes'}.",
            f"Filters: {filters}, include_cold_items={include_cold_items!r}.",
            "Rows are users and columns items, each in sorted id order"
            + (
                f"; the last {shape[1] - n_warm} columns are cold catalog items "
                "(no interaction), in sorted id order too."
                if include_cold_items
                else "."
            ),
        ]
    )
    titles = np.empty(items.size, dtype=object)
    texts = np.empty(items.size, dtype=object)
    titles[:], texts[:] = zip(*(catalog[item] for item in items.tolist()), strict=True)
    return Bunch(
        X=X,
        user_ids=users,
        item_ids=items,
        item_titles=titles,
        item_texts=texts,
        ratings=ratings,
        timestamps=timestamps,
        name=name,
        DESCR=descr,
    )
