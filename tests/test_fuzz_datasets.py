"""Fuzz tests of the loaders of :mod:`sklearn_l3ae.datasets` (issue 7,
item 4): damaged, malformed or mis-encoded dataset folders, MovieLens files
and Amazon Reviews JSON Lines must load into a consistent dataset or be
refused with a clear error (the contract of :mod:`tests._fuzz`), and
``fetch_movielens`` must never download.
"""

import csv
import gzip
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from sklearn_l3ae.datasets import (
    fetch_movielens,
    load_amazon_reviews,
    load_folder,
    load_movielens,
)

from ._fuzz import (
    FUZZ,
    JSON_VALUES,
    WEIRD_VALUES,
    assert_clear_error,
    raises_clearly,
)

# ------------------------------------------------------------------- loaders


def _mostly(valid, invalid):
    """Valid values four times out of five, so that some files load."""
    return st.sampled_from(list(valid) * 4 + list(invalid))


VALID_RATINGS = ["1", "5", "4.5", " 3 ", "1_0", "-1"]

INVALID_RATINGS = ["", "abc", "nan", "inf", "1e999", "٣", "0x1"]

VALID_TIMESTAMPS = ["100", "101", "-5", "١٢"]

INVALID_TIMESTAMPS = ["", "1.5", "abc", "99999999999999999999", "nan"]

TEXTS = _mostly(["A film.", "Café «crème»", "x,y", 'say "hi"'], ["", "  ", "\t"])

VALID_HEADERS = [
    ["user_id", "item_id", "rating", "timestamp"],
    ["item_id", "user_id"],
    ["user_id", "item_id", "rating"],
    [" user_id ", "item_id", "extra"],
]

INVALID_HEADERS = [
    ["user_id", "rating", "timestamp"],
    ["user_id", "item_id", "item_id"],
    [],
]


def _csv_text(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@st.composite
def _corrupted(draw, text, damage):
    """``text`` as UTF-8 bytes, damaged as ``damage`` draws."""
    data = text.encode("utf-8")
    damage = draw(damage)
    if damage == "latin-1":
        data = text.encode("utf-8").replace("é".encode(), b"\xe9")
    elif damage == "byte" and data:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\x80", b"\x00"])) + data[at:]
        )
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage in ("gzip", "cut gzip"):
        data = gzip.compress(data)
        if damage == "cut gzip":
            data = data[: draw(st.integers(2, max(2, len(data) - 1)))]
    elif damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


@st.composite
def dataset_folders(draw):
    """Bytes of ``interactions.csv`` and ``items.csv``: half of them clean."""
    clean = draw(st.booleans())

    def pick(valid, invalid):
        return st.sampled_from(valid) if clean else _mostly(valid, invalid)

    catalog = draw(
        st.lists(
            pick(["i1", "i2", "i3", "é", "x y"], ["", " ", "i1"]),
            min_size=1,
            max_size=4,
            unique=clean,
        )
    )
    header = draw(pick(VALID_HEADERS, INVALID_HEADERS))
    field_of = {
        "user_id": pick(["u1", "u2", "u3", "ü 1"], ["", " "]),
        "item_id": pick(catalog, ["", "zz", " "]),
        "rating": pick(VALID_RATINGS, INVALID_RATINGS),
        "timestamp": pick(VALID_TIMESTAMPS, INVALID_TIMESTAMPS),
    }
    rows = []
    for _ in range(draw(st.integers(int(clean), 6))):
        row = [draw(field_of.get(name.strip(), TEXTS)) for name in header]
        width = draw(pick([len(row)], [len(row) - 1, len(row) + 1]))
        rows.append((row + ["extra"])[: max(width, 0)])
    damage = pick(["none", "bom", "gzip"], ["latin-1", "byte", "cut", "cut gzip"])
    interactions = draw(_corrupted(_csv_text(header, rows), damage))
    text = pick(["A film.", "Café «crème»", "x,y", 'say "hi"'], ["", "  ", "\t"])
    item_rows = [[item, draw(text), draw(text)] for item in catalog]
    item_header = draw(
        pick(
            [["item_id", "title", "text"], ["text", "title", "item_id"]],
            [["item_id", "text"]],
        )
    )
    if item_header[0] == "text":
        item_rows = [row[::-1] for row in item_rows]
    items = draw(_corrupted(_csv_text(item_header, item_rows), damage))
    return interactions, items


LOADER_ERROR = r"interactions\.csv|items\.csv|interactions|no text|item|user"


@settings(FUZZ, max_examples=50)
@given(
    files=dataset_folders(),
    options=st.one_of(
        st.just({}),
        st.just({"missing_text": "drop"}),
        st.fixed_dictionaries(
            {},
            optional={
                "min_rating": st.one_of(st.floats(allow_nan=True), WEIRD_VALUES),
                "k_core": st.one_of(st.integers(-1, 3), WEIRD_VALUES),
                "missing_text": st.sampled_from(["raise", "drop", "ignore", None]),
                "include_cold_items": st.one_of(st.booleans(), WEIRD_VALUES),
            },
        ),
    ),
    compressed_name=st.booleans(),
)
@example(
    files=(
        b"user_id,item_id,rating,timestamp\nu1,i1,5,100\nu2,i1,4,101\n",
        b"item_id,title,text\ni1,One,A film.\n",
    ),
    options={},
    compressed_name=False,
)
def test_load_folder_loads_or_refuses_clearly(files, options, compressed_name):
    interactions, items = files
    with tempfile.TemporaryDirectory() as folder:
        name = "interactions.csv.gz" if compressed_name else "interactions.csv"
        Path(folder, name).write_bytes(interactions)
        Path(folder, "items.csv").write_bytes(items)
        try:
            data = load_folder(folder, **options)
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(
                exc,
                LOADER_ERROR + r"|min_rating|k_core|missing_text|include_cold_items",
                types=(ValueError, TypeError),
            )
            return
        event("loaded")
    n_users, n_items = data.X.shape
    assert n_users >= 1 and n_items >= 1
    assert len(data.user_ids) == n_users and len(data.item_ids) == n_items
    assert len(set(data.user_ids)) == n_users and len(set(data.item_ids)) == n_items
    assert all(text.strip() for text in data.item_texts)
    assert len(data.item_titles) == len(data.item_texts) == n_items
    assert set(np.unique(data.X.data)) <= {1.0}
    for extra in (data.ratings, data.timestamps):
        if extra is not None:
            assert extra.shape == data.X.shape and extra.nnz == data.X.nnz
            assert np.isfinite(extra.data).all()
    if not options:
        # Every interaction line of a valid file is one (user, item) of X.
        if interactions[:2] == b"\x1f\x8b":
            interactions = gzip.decompress(interactions)
        text = interactions.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        header = [name.strip() for name in lines[0]]
        user, item = header.index("user_id"), header.index("item_id")
        pairs = {(row[user], row[item]) for row in lines[1:] if row}
        rows, cols = data.X.nonzero()
        found = zip(data.user_ids[rows], data.item_ids[cols], strict=True)
        assert set(found) == pairs


@pytest.mark.parametrize("present", [(), ("interactions.csv",), ("items.csv",)])
def test_load_folder_names_missing_files(tmp_path, present):
    for name in present:
        (tmp_path / name).write_text("x\n")
    raises_clearly(
        lambda: load_folder(tmp_path), r"interactions\.csv|items\.csv", (OSError,)
    )


@settings(FUZZ, max_examples=40)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.tuples(
                _mostly(["1", "2"], ["", "x", "\xff"]),
                _mostly(["1", "2"], ["", "3", "one"]),
                _mostly(VALID_RATINGS, INVALID_RATINGS),
                _mostly(VALID_TIMESTAMPS, INVALID_TIMESTAMPS),
            ).map("\t".join),
            min_size=1,
            max_size=5,
        ).map(lambda lines: "\n".join(lines).encode("latin-1", "replace")),
    ),
    genres=_mostly(
        [b"unknown|0\nAction|1\n"], [b"unknown|1\n", b"", b"a|b|c\n", b"\xff|0\n"]
    ),
    items=_mostly(
        [
            b"1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n2|Heat|||x|1|1\n",
            b"1|Caf\xe9 \x85|||x|0|0\n2|Again|||x|1|0\n\n",
        ],
        [b"1|Toy|||x|0|1\n1|Again|||x|1|0\n", b"1|short\n", b"\x00\xff"],
    ),
    as_zip=st.booleans(),
)
def test_load_movielens_loads_or_refuses_clearly(data, genres, items, as_zip):
    with tempfile.TemporaryDirectory() as folder:
        files = {"u.data": data, "u.genre": genres, "u.item": items}
        if as_zip:
            path = Path(folder, "ml-100k.zip")
            with zipfile.ZipFile(path, "w") as archive:
                for name, content in files.items():
                    archive.writestr(f"ml-100k/{name}", content)
        else:
            path = Path(folder, "ml-100k")
            path.mkdir()
            for name, content in files.items():
                (path / name).write_bytes(content)
        try:
            dataset = load_movielens(path)
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(exc, r"u\.data|u\.item|u\.genre|movie|interactions")
            return
        event("loaded")
    assert dataset.X.shape == (len(dataset.user_ids), len(dataset.item_ids))
    assert all(text.strip() for text in dataset.item_texts)


def test_load_movielens_refuses_what_is_not_movielens(tmp_path):
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04 not really a zip")
    raises_clearly(
        lambda: load_movielens(tmp_path / "garbage.zip"), r"zip", (ValueError,)
    )
    raises_clearly(lambda: load_movielens(tmp_path), r"No MovieLens files", (OSError,))


def _amazon_records(clean):
    """Strategies of review and metadata records: clean or often malformed."""

    def pick(valid, invalid):
        if clean:
            return st.sampled_from(valid)
        return st.one_of(_mostly(valid, invalid), JSON_VALUES)

    def record(fields):
        if clean:
            return st.fixed_dictionaries(fields)
        return st.fixed_dictionaries({}, optional=fields)

    review = record(
        {
            "user_id": pick(["u1", "u2"], ["", None, 3, ("u",)]),
            "parent_asin": pick(["p1", "p2"], ["", None, 1.5]),
            "rating": pick([1, 4.5, 5.0], ["5", None, 10**400, -(2**70)]),
            "timestamp": pick([1, 2, 10**12], [1.5, "3", None, -(2**70)]),
        }
    )
    meta = record(
        {
            "parent_asin": pick(["p1", "p2"], ["", None, 7]),
            "title": pick(["A pen", "Ink"], ["", None]),
            "features": pick([["blue"]], [[1, None]]),
            "description": pick([["Writes."], "Writes."], [{}]),
            "categories": pick([["Office", "Pens"]], [[]]),
        }
    )
    if clean:
        return review, meta
    bad_review = st.sampled_from(["[1]", "{", "null"])
    bad_meta = st.sampled_from(["[]", "{bad"])
    return st.one_of(review, review, review, bad_review), st.one_of(meta, bad_meta)


def _jsonl(records, damage):
    text = "\n".join(
        record if isinstance(record, str) else json.dumps(record) for record in records
    )
    return _corrupted(text + "\n", damage)


@settings(FUZZ, max_examples=50)
@given(data=st.data(), clean=st.booleans())
def test_load_amazon_reviews_loads_or_refuses_clearly(data, clean):
    review, meta = _amazon_records(clean)
    damage = _mostly(["none", "bom", "gzip"], ["latin-1", "byte", "cut", "cut gzip"])
    damage = st.just("none") if clean else damage
    reviews = data.draw(st.lists(review, min_size=int(clean), max_size=5), "reviews")
    metadata = data.draw(st.lists(meta, min_size=int(clean), max_size=3), "meta")
    with tempfile.TemporaryDirectory() as folder:
        reviews_path = Path(folder, "Pens.jsonl")
        meta_path = Path(folder, "meta_Pens.jsonl")
        reviews_path.write_bytes(data.draw(_jsonl(reviews, damage), "reviews file"))
        meta_path.write_bytes(data.draw(_jsonl(metadata, damage), "meta file"))
        try:
            dataset = load_amazon_reviews(reviews_path, meta_path, missing_text="drop")
        except AssertionError:
            raise
        except Exception as exc:
            event(f"refused: {type(exc).__name__}")
            assert_clear_error(exc, r"Pens\.jsonl|item|interactions|user")
            return
        event("loaded")
    assert dataset.X.shape == (len(dataset.user_ids), len(dataset.item_ids))
    assert dataset.X.nnz >= 1
    assert all(isinstance(t, str) and t.strip() for t in dataset.item_texts)


@pytest.mark.parametrize(
    "key, value",
    [("timestamp", -(2**70)), ("timestamp", 2**63), ("rating", 10**400)],
    ids=["timestamp=-2**70", "timestamp=2**63", "rating=10**400"],
)
def test_amazon_numbers_beyond_their_dtype_name_their_line(tmp_path, key, value):
    # Regression: OverflowError ("Python int too large to convert to C long").
    review = {"user_id": "u1", "parent_asin": "p1", "rating": 5, "timestamp": 1}
    (tmp_path / "Pens.jsonl").write_text(
        json.dumps(review) + "\n" + json.dumps(review | {key: value}) + "\n"
    )
    (tmp_path / "meta_Pens.jsonl").write_text(
        json.dumps({"parent_asin": "p1", "title": "A pen"}) + "\n"
    )
    raises_clearly(
        lambda: load_amazon_reviews(
            tmp_path / "Pens.jsonl", tmp_path / "meta_Pens.jsonl"
        ),
        rf"Pens\.jsonl, line 2: '{key}' is -?\d+, beyond the range",
    )


@settings(FUZZ, max_examples=15)
@given(
    variant=st.one_of(st.sampled_from(["ml-100k", "ml-1m"]), WEIRD_VALUES),
    content=st.one_of(st.none(), st.binary(max_size=64)),
    download=st.one_of(st.just(False), WEIRD_VALUES.filter(lambda v: v is not True)),
)
def test_fetch_movielens_never_downloads_and_refuses_clearly(
    variant, content, download
):
    with tempfile.TemporaryDirectory() as home:
        if content is not None and isinstance(variant, str) and variant:
            Path(home, "sklearn_l3ae").mkdir()
            Path(home, "sklearn_l3ae", f"{variant}.zip").write_bytes(content)
        raises_clearly(
            lambda: fetch_movielens(
                variant, data_home=home, download_if_missing=download
            ),
            r"variant|download|SHA-256|checksum|ml-100k|ml-1m|zip",
            types=(ValueError, TypeError, OSError),
        )
