"""Dataset loaders: policies on tiny files, malformed inputs, raw readers,
the download path through a local HTTP server, and the shared real data."""

import gzip
import hashlib
import json
import re
import socket
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae.datasets import (
    _amazon,
    _fetch,
    fetch_movielens,
    load_amazon_reviews,
    load_folder,
    load_movielens,
)

from ._data import DATA_DIR, load_binary_interactions

# ---------------------------------------------------------------------------
# Helpers


def write_folder(folder, interactions, items, *, gz=False):
    """Write the normalized files; ``interactions`` / ``items`` are CSV lines
    after the header (a str replaces the whole file, header included)."""
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(interactions, list):
        interactions = "user_id,item_id,rating,timestamp\n" + "".join(
            line + "\n" for line in interactions
        )
    data = (
        interactions.encode("utf-8") if isinstance(interactions, str) else interactions
    )
    if gz:
        (folder / "interactions.csv.gz").write_bytes(gzip.compress(data))
    else:
        (folder / "interactions.csv").write_bytes(data)
    if isinstance(items, dict):
        items = "item_id,title,text\n" + "".join(
            f'{item},{item.upper()},"{text}"\n' for item, text in items.items()
        )
    data = items.encode("utf-8") if isinstance(items, str) else items
    (folder / "items.csv").write_bytes(data)
    return folder


def texts(*items):
    return {item: f"Text of {item}." for item in items}


def pairs(data):
    """Set of (user id, item id) of a Bunch."""
    coo = sparse.coo_array(data.X)
    return {
        (data.user_ids[u], data.item_ids[i])
        for u, i in zip(coo.row, coo.col, strict=True)
    }


def value_of(matrix, data, user, item):
    u = data.user_ids.tolist().index(user)
    i = data.item_ids.tolist().index(item)
    return matrix[[u], [i]][0]


def brute_force_k_core(edges, k):
    edges = set(edges)
    while True:
        users, items = {}, {}
        for user, item in edges:
            users[user] = users.get(user, 0) + 1
            items[item] = items.get(item, 0) + 1
        kept = {(u, i) for u, i in edges if users[u] >= k and items[i] >= k}
        if kept == edges:
            return kept
        edges = kept


# ---------------------------------------------------------------------------
# load_folder: structure and policies


def test_load_folder_structure_and_alignment(tmp_path):
    folder = write_folder(
        tmp_path / "toy",
        ["b,y,4,10", "a,x,5,11", "a,y,3,12", "c,z,1,13"],
        {"z": "Zed.", "x": "Ex, with a comma.", "y": "Why?"},
    )
    data = load_folder(folder)
    assert isinstance(data.X, sparse.csr_array)
    assert data.X.dtype == np.float32
    assert data.user_ids.tolist() == ["a", "b", "c"]
    assert data.item_ids.tolist() == ["x", "y", "z"]
    assert data.X.toarray().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert data.item_texts.tolist() == ["Ex, with a comma.", "Why?", "Zed."]
    assert data.item_titles.tolist() == ["X", "Y", "Z"]
    assert isinstance(data.ratings, sparse.csr_array)
    assert data.ratings.dtype == np.float32
    assert data.ratings.toarray().tolist() == [[5, 3, 0], [0, 4, 0], [0, 0, 1]]
    assert data.timestamps.dtype == np.int64
    assert value_of(data.timestamps, data, "c", "z") == 13
    assert (data.ratings.indices == data.X.indices).all()
    assert (data.timestamps.indptr == data.X.indptr).all()
    assert data.name == "toy"
    assert "3 users x 3 items, 4 interactions" in data.DESCR


def test_zero_rating_and_timestamp_stay_stored(tmp_path):
    folder = write_folder(tmp_path, ["a,x,0,0", "a,y,2,5"], texts("x", "y"))
    data = load_folder(folder)
    assert data.ratings.nnz == data.timestamps.nnz == data.X.nnz == 2


def test_dedup_keeps_largest_timestamp_then_last_row(tmp_path):
    folder = write_folder(
        tmp_path,
        [
            "a,x,5,200",  # latest pair (a, x) although earlier in the file
            "a,x,1,100",
            "a,y,2,50",
            "a,y,4,50",  # same timestamp: the last row wins
            "b,x,3,10",
        ],
        texts("x", "y"),
    )
    data = load_folder(folder)
    assert data.X.nnz == 3
    assert set(data.X.data) == {1.0}
    assert value_of(data.ratings, data, "a", "x") == 5
    assert value_of(data.timestamps, data, "a", "x") == 200
    assert value_of(data.ratings, data, "a", "y") == 4
    assert "5 rows, 3 distinct (user, item) pairs" in data.DESCR


def test_dedup_without_timestamps_keeps_last_row(tmp_path):
    folder = write_folder(tmp_path, ["a,x,5,", "a,x,2,", "b,x,3,"], texts("x"))
    data = load_folder(folder)
    assert data.timestamps is None
    assert value_of(data.ratings, data, "a", "x") == 2


def test_no_ratings_no_timestamps(tmp_path):
    folder = write_folder(tmp_path, ["a,x,,", "b,x,,"], texts("x"))
    data = load_folder(folder)
    assert data.ratings is None and data.timestamps is None
    # The two columns may also be absent from the header.
    write_folder(tmp_path, "item_id,user_id\nx,a\nx,b\n", texts("x"))
    other = load_folder(tmp_path)
    assert other.ratings is None and other.timestamps is None
    assert pairs(other) == pairs(data)


def test_min_rating(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a,x,5,1", "a,y,2,2", "b,y,3.5,3", "b,x,1,4", "b,x,4,5"],
        texts("x", "y"),
    )
    data = load_folder(folder, min_rating=3.5)
    # (b, x) is judged on its latest rating, 4.
    assert pairs(data) == {("a", "x"), ("b", "y"), ("b", "x")}
    assert data.ratings.data.min() >= 3.5
    data = load_folder(folder, min_rating=5)
    assert pairs(data) == {("a", "x")}
    assert data.user_ids.tolist() == ["a"]
    with pytest.raises(ValueError, match=r"No interaction .* left.*min_rating=6"):
        load_folder(folder, min_rating=6)
    for not_finite in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="'min_rating' parameter"):
            load_folder(folder, min_rating=not_finite)


def test_min_rating_needs_ratings(tmp_path):
    folder = write_folder(tmp_path, ["a,x,,"], texts("x"))
    with pytest.raises(ValueError, match=r"min_rating=3 needs ratings.*has none"):
        load_folder(folder, min_rating=3)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_k_core_matches_brute_force(tmp_path, seed, k):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 120))
    users = rng.integers(0, 15, n)
    # Skewed items, so that the k-core needs several rounds.
    items = np.minimum(rng.geometric(0.15, n), 25)
    edges = {(f"u{u}", f"i{i}") for u, i in zip(users, items, strict=True)}
    folder = write_folder(
        tmp_path,
        [f"u{u},i{i},," for u, i in zip(users, items, strict=True)],
        texts(*sorted({item for _, item in edges})),
    )
    expected = brute_force_k_core(edges, k)
    if not expected:
        with pytest.raises(ValueError, match="left after the filters"):
            load_folder(folder, k_core=k)
        return
    data = load_folder(folder, k_core=k)
    assert pairs(data) == expected
    assert data.X.sum(axis=0).min() >= k and data.X.sum(axis=1).min() >= k
    assert sorted(data.user_ids) == data.user_ids.tolist()


def test_k_core_needs_several_rounds(tmp_path):
    # Dropping item z (1 interaction) leaves user c with 1: c must go too,
    # and then item y (a, c -> a only) and user a, ...
    folder = write_folder(
        tmp_path,
        ["a,x,,", "a,y,,", "b,x,,", "b,w,,", "d,x,,", "d,w,,", "c,y,,", "c,z,,"],
        texts("w", "x", "y", "z"),
    )
    data = load_folder(folder, k_core=2)
    assert pairs(data) == {("b", "x"), ("b", "w"), ("d", "x"), ("d", "w")}


@pytest.mark.parametrize("k_core", [0, -1, 1.5, True, "2"])
def test_k_core_must_be_a_positive_int(tmp_path, k_core):
    folder = write_folder(tmp_path, ["a,x,,"], texts("x"))
    with pytest.raises(ValueError, match="k_core"):
        load_folder(folder, k_core=k_core)


def test_missing_text_raise_names_count_and_ids(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a,x,,", "a,q1,,", "a,q2,,", "b,blank,,"],
        {"x": "Fine.", "blank": "   "},
    )
    with pytest.raises(ValueError, match=r"3 interacted item\(s\)") as info:
        load_folder(folder)
    message = str(info.value)
    assert "'blank'" in message and "'q1'" in message and "'q2'" in message
    assert "items.csv" in message and "missing_text='drop'" in message


def test_missing_text_drop_happens_before_k_core(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a,x,,", "a,y,,", "b,x,,", "b,y,,", "a,q,,", "c,q,,", "c,x,,"],
        {"x": "Ex.", "y": "Why."},
    )
    data = load_folder(folder, missing_text="drop")
    assert "q" not in data.item_ids
    assert pairs(data) == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "x")}
    assert "1 items without text, 2 of their interactions dropped" in data.DESCR
    # Without q, user c has one interaction left and the 2-core drops it.
    data = load_folder(folder, missing_text="drop", k_core=2)
    assert data.user_ids.tolist() == ["a", "b"]


def test_include_cold_items(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a,x,,", "a,y,,", "b,x,,", "b,y,,", "c,x,,", "c,w,,"],
        {"w": "Double-u.", "x": "Ex.", "y": "Why.", "v": "Vee.", "u": " ", "t": "Tee."},
    )
    data = load_folder(folder, include_cold_items=True)
    # Warm items sorted, then cold items (with a text) sorted.
    assert data.item_ids.tolist() == ["w", "x", "y", "t", "v"]
    assert data.item_texts.tolist() == ["Double-u.", "Ex.", "Why.", "Tee.", "Vee."]
    assert data.X.shape == (3, 5)
    assert data.X[:, [3, 4]].nnz == 0
    # Items the k-core drops become cold items.
    data = load_folder(folder, include_cold_items=True, k_core=2)
    assert data.item_ids.tolist() == ["x", "y", "t", "v", "w"]
    assert data.X.shape == (2, 5)
    assert data.X.toarray()[:, :2].tolist() == [[1, 1], [1, 1]]
    assert data.X[:, [2, 3, 4]].nnz == 0
    assert data.item_texts[4] == "Double-u."
    assert "last 3 columns are cold" in data.DESCR
    assert load_folder(folder).X.shape == (3, 3)


def test_gzip_interactions_load_like_plain(tmp_path):
    lines = ["a,x,5,3", "b,y,4,2", "b,x,1,1", "a,x,2,9"]
    plain = load_folder(write_folder(tmp_path / "plain", lines, texts("x", "y")))
    zipped = load_folder(write_folder(tmp_path / "gz", lines, texts("x", "y"), gz=True))
    assert (plain.X != zipped.X).nnz == 0
    assert (plain.ratings != zipped.ratings).nnz == 0
    assert zipped.item_ids.tolist() == plain.item_ids.tolist()


def test_quoted_fields_bom_and_crlf(tmp_path):
    items = (
        "\ufeffitem_id,title,text\r\n"
        'x,"Title, with comma","Line one\r\nline two, ""quoted"""\r\n'
        "y,Plain,Plain text.\r\n"
    )
    folder = write_folder(tmp_path, "user_id,item_id\r\na,x\r\na,y\r\n", items)
    data = load_folder(folder)
    assert data.item_titles.tolist() == ["Title, with comma", "Plain"]
    assert data.item_texts[0] == 'Line one\r\nline two, "quoted"'


# ---------------------------------------------------------------------------
# load_folder: malformed inputs


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="interactions.csv.*items.csv"):
        load_folder(tmp_path)
    (tmp_path / "interactions.csv").write_text("user_id,item_id\na,x\n")
    with pytest.raises(FileNotFoundError, match=r"No items\.csv in"):
        load_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_folder(tmp_path / "nowhere")


def test_plain_and_gzip_interactions_together_are_ambiguous(tmp_path):
    write_folder(tmp_path, ["a,x,,"], texts("x"))
    write_folder(tmp_path, ["a,x,,"], texts("x"), gz=True)
    with pytest.raises(ValueError, match="both interactions.csv and"):
        load_folder(tmp_path)


@pytest.mark.parametrize(
    "header, missing",
    [
        ("userid,item_id,rating,timestamp", "'user_id'"),
        ("user_id,rating,timestamp", "'item_id'"),
        ("", "'user_id', 'item_id'"),
    ],
)
def test_interactions_header_lacks_columns(tmp_path, header, missing):
    folder = write_folder(tmp_path, header + "\na,x,3,4\n", texts("x"))
    with pytest.raises(ValueError, match="interactions.csv, line 1") as info:
        load_folder(folder)
    assert f"lacks the column(s) {missing}" in str(info.value)
    assert "user_id,item_id,rating,timestamp" in str(info.value)


def test_items_header_lacks_text(tmp_path):
    folder = write_folder(tmp_path, ["a,x,,"], "item_id,title,description\nx,X,d\n")
    with pytest.raises(ValueError, match=r"items\.csv, line 1: .*'text'"):
        load_folder(folder)


def test_repeated_header_column(tmp_path):
    folder = write_folder(tmp_path, "user_id,item_id,item_id\na,x,x\n", texts("x"))
    with pytest.raises(ValueError, match="'item_id' appear more than once"):
        load_folder(folder)


@pytest.mark.parametrize("gz", [False, True])
def test_latin1_bytes_in_interactions(tmp_path, gz):
    content = "user_id,item_id,rating,timestamp\na,x,1,2\nb,caf\xe9,1,2\n"
    folder = write_folder(tmp_path, content.encode("latin-1"), texts("x"), gz=gz)
    name = "interactions.csv.gz" if gz else "interactions.csv"
    pattern = rf"{name}, line 3 \(byte offset 46\): byte b'\\xe9' is not valid UTF-8"
    with pytest.raises(ValueError, match=pattern):
        load_folder(folder)


def test_latin1_bytes_in_items(tmp_path):
    items = "item_id,title,text\nx,X,Fine.\ny,Y,Na\xefve.\n".encode("latin-1")
    folder = write_folder(tmp_path, ["a,x,,"], items)
    with pytest.raises(ValueError, match=r"items\.csv, line 3 .*not valid UTF-8"):
        load_folder(folder)


def test_duplicate_item_ids(tmp_path):
    items = 'item_id,title,text\nx,X,"Multi\nline"\ny,Y,Why.\nx,X2,Again.\n'
    folder = write_folder(tmp_path, ["a,x,,"], items)
    with pytest.raises(ValueError, match="repeated") as info:
        load_folder(folder)
    # Line numbers count the physical lines of the quoted multi-line field.
    assert "items.csv, line 5: item_id 'x' is repeated" in str(info.value)
    assert "items.csv, line 2)" in str(info.value)


@pytest.mark.parametrize(
    "lines, pattern",
    [
        (["a,x,5,1", "a,y,high,2"], r"line 3: rating 'high' is not a finite number"),
        (["a,x,5,1", "a,y,nan,2"], r"line 3: rating 'nan' is not a finite number"),
        (["a,x,5,1", "a,y,4,1.5"], r"line 3: timestamp '1.5' is not an integer"),
        (["a,x,5,1", "a,y,,2"], r"line 3: rating is empty, but it is given at .*2"),
        (["a,x,5", "a,y,4,2"], r"line 2: 3 field\(s\), expected 4"),
        (["a,x,5,1", ",y,4,2"], r"line 3: empty user id"),
        (["a,x,5,1", "b, ,4,2"], r"line 3: empty item id"),
    ],
)
def test_bad_interaction_lines_are_located(tmp_path, lines, pattern):
    folder = write_folder(tmp_path, lines, texts("x", "y"))
    with pytest.raises(ValueError, match=r"interactions\.csv, " + pattern):
        load_folder(folder)


def test_empty_item_id_in_items(tmp_path):
    folder = write_folder(tmp_path, ["a,x,,"], "item_id,title,text\nx,X,T.\n,Y,U.\n")
    with pytest.raises(ValueError, match=r"items\.csv, line 3: empty item_id"):
        load_folder(folder)


def test_empty_files(tmp_path):
    folder = write_folder(tmp_path, "", texts("x"))
    with pytest.raises(ValueError, match="interactions.csv is empty; expected"):
        load_folder(folder)
    write_folder(tmp_path, [], texts("x"))
    with pytest.raises(ValueError, match="holds no interactions"):
        load_folder(folder)
    write_folder(tmp_path, ["a,x,,"], "")
    with pytest.raises(ValueError, match=r"items\.csv is empty"):
        load_folder(folder)


def test_malformed_csv_quoting(tmp_path):
    folder = write_folder(tmp_path, ["a,x,,", 'a,"y"z,,'], texts("x"))
    with pytest.raises(ValueError, match=r"interactions\.csv, line 3: malformed CSV"):
        load_folder(folder)


def test_invalid_gzip(tmp_path):
    (tmp_path / "interactions.csv.gz").write_bytes(b"\x1f\x8bnot really gzip")
    (tmp_path / "items.csv").write_text("item_id,title,text\n")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        load_folder(tmp_path)


# ---------------------------------------------------------------------------
# MovieLens raw files

GENRES_100K = ["unknown", "Action", "Comedy", "Drama"]


def ml100k_files(ratings, items):
    """u.data / u.item / u.genre contents; ``items`` maps id to
    (title, genres)."""
    u_data = "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ratings)
    u_item = "".join(
        f"{item}|{title}|01-Jan-1995||http://example.org|"
        + "|".join("1" if genre in genres else "0" for genre in GENRES_100K)
        + "\n"
        for item, (title, genres) in items.items()
    )
    u_genre = "".join(f"{genre}|{i}\n" for i, genre in enumerate(GENRES_100K)) + "\n"
    return {
        "u.data": u_data.encode("ascii"),
        "u.item": u_item.encode("latin-1"),
        "u.genre": u_genre.encode("ascii"),
    }


def ml1m_files(ratings, items):
    return {
        "ratings.dat": "".join(
            f"{u}::{i}::{r}::{t}\n" for u, i, r, t in ratings
        ).encode("ascii"),
        "movies.dat": "".join(
            f"{item}::{title}::{'|'.join(genres)}\n"
            for item, (title, genres) in items.items()
        ).encode("latin-1"),
    }


def write_files(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def write_zip(path, files, prefix):
    with zipfile.ZipFile(path, "w") as archive:
        if prefix:
            archive.writestr(prefix, "")
        for name, content in files.items():
            archive.writestr(prefix + name, content)
    return path


RATINGS = [(1, 10, 5, 100), (1, 20, 3, 101), (2, 10, 4, 102), (1, 10, 2, 90)]
MOVIES = {
    10: ("Misérables, Les (1995)", ["Drama"]),
    20: ("Heat (1995)", ["Action", "Drama"]),
    30: ("Nobody Rated (1996)", ["Comedy"]),
}


def test_movielens_100k_folder(tmp_path):
    folder = write_files(tmp_path / "ml-100k", ml100k_files(RATINGS, MOVIES))
    data = load_movielens(folder)
    assert data.name == "ml-100k"
    assert data.user_ids.tolist() == ["1", "2"]
    assert data.item_ids.tolist() == ["10", "20"]
    assert data.item_titles.tolist() == [MOVIES[10][0], MOVIES[20][0]]
    assert data.item_texts.tolist() == [
        "Title: Misérables, Les (1995). Genres: Drama.",
        "Title: Heat (1995). Genres: Action, Drama.",
    ]
    # (1, 10) is rated twice; the later timestamp (100) wins over 90.
    assert data.ratings.toarray().tolist() == [[5, 3], [4, 0]]
    assert data.timestamps.toarray().tolist() == [[100, 101], [102, 0]]
    cold = load_movielens(folder, include_cold_items=True)
    assert cold.item_ids.tolist() == ["10", "20", "30"]
    assert cold.item_texts[2] == "Title: Nobody Rated (1996). Genres: Comedy."
    assert pairs(load_movielens(folder, min_rating=4)) == {("1", "10"), ("2", "10")}


def test_movielens_1m_folder_parent_and_zip(tmp_path):
    files = ml1m_files(RATINGS, MOVIES)
    folder = write_files(tmp_path / "data" / "ml-1m", files)
    archive = write_zip(tmp_path / "ml-1m.zip", files, "ml-1m/")
    flat = write_zip(tmp_path / "flat.zip", files, "")
    loaded = [load_movielens(path) for path in (folder, folder.parent, archive, flat)]
    for data in loaded:
        assert data.name == "ml-1m"
        assert data.item_texts.tolist() == [
            "Title: Misérables, Les (1995). Genres: Drama.",
            "Title: Heat (1995). Genres: Action, Drama.",
        ]
        assert data.ratings.toarray().tolist() == [[5, 3], [4, 0]]
        assert data.timestamps.toarray().tolist() == [[100, 101], [102, 0]]
    assert f"{archive}:ml-1m/ratings.dat" in loaded[2].DESCR


def test_movielens_item_files_are_windows_1252(tmp_path):
    # movies.dat writes "…" as byte 0x85 (Windows-1252), plain Latin-1 else.
    files = ml1m_files(RATINGS[:1], {})
    files["movies.dat"] = (
        b"10::Et Dieu\x85Crea la Femme (1956)::Drama\n20::F\xeate (1999)::\n"
    )
    data = load_movielens(write_files(tmp_path, files), include_cold_items=True)
    assert data.item_titles.tolist() == ["Et Dieu…Crea la Femme (1956)", "Fête (1999)"]
    assert data.item_texts[1] == "Title: Fête (1999)."


def test_movielens_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No MovieLens files.*u.data"):
        load_movielens(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_movielens(tmp_path / "missing.zip")
    files = ml1m_files(RATINGS, MOVIES)
    write_files(tmp_path / "a", {"ratings.dat": files["ratings.dat"]})
    with pytest.raises(FileNotFoundError, match="lacks movies.dat"):
        load_movielens(tmp_path / "a")
    bad = dict(files, **{"ratings.dat": files["ratings.dat"] + b"3::10::five::1\n"})
    write_files(tmp_path / "b", bad)
    with pytest.raises(ValueError, match=r"ratings\.dat, line 5: rating 'five'"):
        load_movielens(tmp_path / "b")
    bad = dict(files, **{"movies.dat": files["movies.dat"] + b"40::No genres\n"})
    write_files(tmp_path / "c", bad)
    with pytest.raises(ValueError, match=r"movies\.dat, line 4: 2 field\(s\)"):
        load_movielens(tmp_path / "c")
    files = ml100k_files(RATINGS, MOVIES)
    bad = dict(files, **{"u.item": files["u.item"] + b"40|Short|01-Jan-1995||u|1\n"})
    write_zip(tmp_path / "d.zip", bad, "ml-100k/")
    with pytest.raises(ValueError, match=r"d\.zip:ml-100k/u\.item, line 4: 6 field"):
        load_movielens(tmp_path / "d.zip")
    bad = dict(files, **{"u.data": b"1\t99\t5\t1\n"})
    write_files(tmp_path / "e", bad)
    with pytest.raises(ValueError, match=r"1 interacted item.*u\.item: '99'"):
        load_movielens(tmp_path / "e")
    with pytest.raises(ValueError, match="No interaction .* left"):
        load_movielens(tmp_path / "e", missing_text="drop")
    (tmp_path / "f.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        load_movielens(tmp_path / "f.txt")


# ---------------------------------------------------------------------------
# Amazon Reviews 2023

REVIEWS = [
    {"user_id": "U1", "parent_asin": "P1", "asin": "A1", "rating": 5.0,
     "timestamp": 1_600_000_000_000, "title": "Good", "text": "Fine scale.",
     "verified_purchase": True, "helpful_vote": 2},
    {"user_id": "U1", "parent_asin": "P2", "asin": "A2", "rating": 3.0,
     "timestamp": 1_600_000_001_000, "title": "Ok", "text": "Meh.",
     "verified_purchase": False, "helpful_vote": 0},
    {"user_id": "U2", "parent_asin": "P1", "asin": "A3", "rating": 1,
     "timestamp": 1_600_000_002_000, "title": "Bad", "text": "Broke.",
     "verified_purchase": True, "helpful_vote": 1},
    {"user_id": "U1", "parent_asin": "P1", "asin": "A1", "rating": 2.0,
     "timestamp": 1_500_000_000_000, "title": "Old", "text": "Older review.",
     "verified_purchase": True, "helpful_vote": 0},
]  # fmt: skip
META = [
    {"main_category": "Industrial & Scientific", "title": "Lab  Scale\n200 g",
     "features": ["Accurate"], "description": ["Weighs things.", "Precisely."],
     "store": "Acme", "categories": ["Industrial & Scientific", "Lab", "Scales"],
     "details": {"Brand": "AcmeBrand"}, "parent_asin": "P1"},
    {"main_category": "Industrial & Scientific", "title": "Gloves",
     "features": [], "description": [], "store": None, "categories": [],
     "details": {"Brand": "Safe"}, "parent_asin": "P2"},
    {"main_category": None, "title": "Beaker", "description": ["word " * 400],
     "store": "", "categories": ["Lab"], "details": {}, "parent_asin": "P3"},
]  # fmt: skip


def write_jsonl(path, records, *, gz=False, extra=""):
    content = (
        "\n".join(json.dumps(record) for record in records) + "\n" + extra
    ).encode()
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_amazon_reviews(tmp_path, gz):
    suffix = ".jsonl.gz" if gz else ".jsonl"
    reviews = write_jsonl(tmp_path / f"Industrial{suffix}", REVIEWS, gz=gz)
    meta = write_jsonl(tmp_path / f"meta_Industrial{suffix}", META, gz=gz)
    data = load_amazon_reviews(reviews, meta)
    assert data.name == "Industrial"
    assert data.user_ids.tolist() == ["U1", "U2"]
    assert data.item_ids.tolist() == ["P1", "P2"]
    assert data.X.toarray().tolist() == [[1, 1], [1, 0]]
    # U1 reviewed P1 twice; the later review (5.0) wins over the older 2.0.
    assert data.ratings.toarray().tolist() == [[5, 3], [1, 0]]
    assert value_of(data.timestamps, data, "U1", "P1") == 1_600_000_000_000
    assert data.item_titles[0] == "Lab  Scale\n200 g"
    assert data.item_texts.tolist() == [
        "Title: Lab Scale 200 g. Categories: Industrial & Scientific > Lab > "
        "Scales. Store: Acme. Description: Weighs things. Precisely.",
        "Title: Gloves. Categories: Industrial & Scientific. Brand: Safe.",
    ]
    cold = load_amazon_reviews(reviews, meta, include_cold_items=True)
    assert cold.item_ids.tolist() == ["P1", "P2", "P3"]
    beaker = cold.item_texts[2]
    description = beaker.split("Description: ", 1)[1]
    assert beaker.startswith("Title: Beaker. Categories: Lab. Description: word word")
    assert description.endswith(" ...")
    assert len(description) <= _amazon.DESCRIPTION_MAX_CHARS + len(" ...")
    assert pairs(load_amazon_reviews(reviews, meta, min_rating=3)) == {
        ("U1", "P1"),
        ("U1", "P2"),
    }


def test_amazon_malformed_inputs(tmp_path):
    meta = write_jsonl(tmp_path / "meta.jsonl", META)
    reviews = write_jsonl(tmp_path / "r.jsonl", REVIEWS, extra='{"user_id": "U3",\n')
    with pytest.raises(ValueError, match=r"r\.jsonl, line 5: malformed JSON"):
        load_amazon_reviews(reviews, meta)
    broken = [*REVIEWS[:2], {k: v for k, v in REVIEWS[2].items() if k != "rating"}]
    write_jsonl(reviews, broken)
    with pytest.raises(ValueError, match=r"line 3: the required key 'rating'"):
        load_amazon_reviews(reviews, meta)
    write_jsonl(reviews, [dict(REVIEWS[0], timestamp="yesterday")])
    with pytest.raises(
        ValueError, match=r"line 1: 'timestamp' is 'yesterday', expected an integer"
    ):
        load_amazon_reviews(reviews, meta)
    write_jsonl(reviews, [REVIEWS[0], [1, 2]])
    with pytest.raises(ValueError, match=r"line 2: expected a JSON object, got list"):
        load_amazon_reviews(reviews, meta)
    reviews.write_bytes(
        json.dumps(REVIEWS[0]).encode() + b"\n" + b'{"user_id": "\xff"}\n'
    )
    with pytest.raises(ValueError, match=r"line 2 .*not valid UTF-8"):
        load_amazon_reviews(reviews, meta)
    write_jsonl(reviews, REVIEWS)
    write_jsonl(meta, [*META, META[0]])
    with pytest.raises(
        ValueError, match=r"line 4: parent_asin 'P1' is repeated \(first at line 1\)"
    ):
        load_amazon_reviews(reviews, meta)
    write_jsonl(meta, META[:1])
    with pytest.raises(ValueError, match=r"1 interacted item.*'P2'"):
        load_amazon_reviews(reviews, meta)
    data = load_amazon_reviews(reviews, meta, missing_text="drop")
    assert data.item_ids.tolist() == ["P1"]
    with pytest.raises(FileNotFoundError, match="nothing.jsonl does not exist"):
        load_amazon_reviews(tmp_path / "nothing.jsonl", meta)


# ---------------------------------------------------------------------------
# fetch_movielens through a local HTTP server


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server over ``root`` counting the GET requests."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    stopped = []

    def stop():
        if not stopped:
            httpd.shutdown()
            httpd.server_close()
            thread.join()
            stopped.append(True)

    yield SimpleNamespace(
        root=root, url=f"http://127.0.0.1:{httpd.server_port}", requests=requests,
        stop=stop,
    )  # fmt: skip
    stop()


def publish_ml100k(server, monkeypatch, *, sha256=None):
    archive = write_zip(
        server.root / "ml-100k.zip", ml100k_files(RATINGS, MOVIES), "ml-100k/"
    )
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(
        _fetch.ARCHIVES,
        "ml-100k",
        _fetch.RemoteArchive(f"{server.url}/ml-100k.zip", sha256 or digest),
    )
    return digest


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ml-100k.zip"


def test_fetch_downloads_once_then_uses_the_cache(tmp_path, server, monkeypatch):
    publish_ml100k(server, monkeypatch)
    home = tmp_path / "home"
    data = fetch_movielens(data_home=home, min_rating=4)
    assert server.requests == ["/ml-100k.zip"]
    assert pairs(data) == {("1", "10"), ("2", "10")}
    cache = home / "sklearn_l3ae"
    assert (cache / "ml-100k.zip").is_file()
    assert (cache / "ml-100k" / "u.data").is_file()
    assert sorted(path.name for path in cache.iterdir()) == ["ml-100k", "ml-100k.zip"]
    server.stop()
    again = fetch_movielens(data_home=home)
    assert server.requests == ["/ml-100k.zip"]
    assert again.X.shape == (2, 2)
    assert again.item_texts[0] == "Title: Misérables, Les (1995). Genres: Drama."


def test_fetch_checksum_mismatch_deletes_the_download(tmp_path, server, monkeypatch):
    digest = publish_ml100k(server, monkeypatch, sha256="0" * 64)
    home = tmp_path / "home"
    with pytest.raises(OSError, match="Checksum mismatch") as info:
        fetch_movielens(data_home=home)
    assert f"expected SHA-256 {'0' * 64}, got {digest}" in str(info.value)
    assert list((home / "sklearn_l3ae").iterdir()) == []


def test_fetch_offline_says_where_to_put_the_files(tmp_path, monkeypatch):
    url = closed_port_url()
    monkeypatch.setitem(_fetch.ARCHIVES, "ml-100k", _fetch.RemoteArchive(url, "0" * 64))
    home = tmp_path / "home"
    with pytest.raises(OSError, match="Could not download MovieLens ml-100k") as info:
        fetch_movielens(data_home=home)
    message = str(info.value)
    cache = home / "sklearn_l3ae"
    assert url in message
    assert str(cache / "ml-100k.zip") in message
    assert str(cache / "ml-100k" / "u.data") in message
    assert list(cache.iterdir()) == []


def test_fetch_without_download(tmp_path, monkeypatch):
    monkeypatch.setitem(
        _fetch.ARCHIVES, "ml-1m", _fetch.RemoteArchive(closed_port_url(), "0" * 64)
    )
    home = tmp_path / "home"
    with pytest.raises(OSError, match="download_if_missing is False") as info:
        fetch_movielens("ml-1m", data_home=home, download_if_missing=False)
    assert str(home / "sklearn_l3ae" / "ml-1m" / "ratings.dat") in str(info.value)
    # A zip put there by hand is checked, extracted and loaded offline.
    files = ml1m_files(RATINGS, MOVIES)
    (home / "sklearn_l3ae").mkdir()
    archive = write_zip(home / "sklearn_l3ae" / "ml-1m.zip", files, "ml-1m/")
    with pytest.raises(OSError, match="is not the GroupLens ml-1m zip"):
        fetch_movielens("ml-1m", data_home=home)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(
        _fetch.ARCHIVES, "ml-1m", _fetch.RemoteArchive(closed_port_url(), digest)
    )
    data = fetch_movielens("ml-1m", data_home=home, download_if_missing=False)
    assert data.name == "ml-1m" and data.X.shape == (2, 2)
    assert (home / "sklearn_l3ae" / "ml-1m" / "movies.dat").is_file()


def test_fetch_rejects_unknown_variant(tmp_path):
    with pytest.raises(ValueError, match="variant"):
        fetch_movielens("ml-20m", data_home=tmp_path)


def test_pinned_checksums_are_sha256():
    for variant, archive in _fetch.ARCHIVES.items():
        assert archive.url.endswith(f"/{variant}.zip")
        assert re.fullmatch("[0-9a-f]{64}", archive.sha256)


# ---------------------------------------------------------------------------
# The shared real datasets


def real_folder(name):
    folder = DATA_DIR / name
    if not folder.is_dir():
        pytest.fail(f"Real dataset {folder} is missing (expected ../shared/data).")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, n_users, n_items, n_pairs, has_ratings",
    [
        ("ml-100k", 943, 1682, 100_000, True),
        ("ml-1m", 6040, 3260, 998_539, False),
        ("amazon-scientific", 8442, 4385, 59_136, False),
    ],
)
def test_real_datasets_counts(name, n_users, n_items, n_pairs, has_ratings):
    data = load_folder(real_folder(name))
    assert data.X.shape == (n_users, n_items)
    assert data.X.nnz == n_pairs
    assert len(data.item_texts) == n_items
    assert all(text.strip() for text in data.item_texts)
    assert (data.ratings is not None) == has_ratings
    assert (data.timestamps is not None) == has_ratings
    # Same matrix as the pandas-based test helper (both sort ids).
    X, items = load_binary_interactions(name)
    assert data.item_ids.tolist() == items.tolist()
    assert (sparse.csr_array(X, dtype=np.float32) != data.X).nnz == 0


@pytest.mark.slow
def test_real_ml1m_cold_items():
    data = load_folder(real_folder("ml-1m"), include_cold_items=True)
    assert data.X.shape == (6040, 3883)
    assert data.X[:, 3260:].nnz == 0
    assert data.X[:, :3260].sum(axis=0).min() >= 10  # the upstream item filter


def reference_k_core(X, k):
    """k-core on the matrix: drop low-count rows / columns until stable."""
    rows, cols = np.arange(X.shape[0]), np.arange(X.shape[1])
    while True:
        row_ok = X.sum(axis=1) >= k
        col_ok = X.sum(axis=0) >= k
        if row_ok.all() and col_ok.all():
            return X, rows, cols
        X, rows, cols = X[row_ok][:, col_ok], rows[row_ok], cols[col_ok]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ml-100k", "ml-1m", "amazon-scientific"])
def test_real_datasets_5_core(name):
    full = load_folder(real_folder(name))
    data = load_folder(real_folder(name), k_core=5)
    assert data.X.sum(axis=0).min() >= 5 and data.X.sum(axis=1).min() >= 5
    X, rows, cols = reference_k_core(full.X, 5)
    assert data.user_ids.tolist() == full.user_ids[rows].tolist()
    assert data.item_ids.tolist() == full.item_ids[cols].tolist()
    assert (X != data.X).nnz == 0
    assert "k_core=5" in data.DESCR


@pytest.mark.slow
def test_real_ml100k_agrees_with_the_raw_reader(tmp_path):
    """Rebuild u.data / u.item / u.genre from the normalized ml-100k and read
    them back with load_movielens: same matrix, ratings, times and texts."""
    folder = load_folder(real_folder("ml-100k"))
    genres = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
        "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
        "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]  # fmt: skip
    pattern = re.compile(r"Title: (.*)\. Genres: (.*)\.")
    u_item = []
    for item, title, text in zip(
        folder.item_ids, folder.item_titles, folder.item_texts, strict=True
    ):
        match = pattern.fullmatch(text)
        assert match and match[1] == title, text
        flags = ["1" if g in match[2].split(", ") else "0" for g in genres]
        u_item.append(f"{item}|{title}|||" + "|".join(["", *flags]))
    coo = sparse.coo_array(folder.ratings)
    times = sparse.coo_array(folder.timestamps)
    u_data = [
        f"{folder.user_ids[u]}\t{folder.item_ids[i]}\t{int(r)}\t{t}"
        for u, i, r, t in zip(coo.row, coo.col, coo.data, times.data, strict=True)
    ]
    raw = write_files(
        tmp_path / "ml-100k",
        {
            "u.data": "\n".join(u_data).encode(),
            "u.item": "\n".join(u_item).encode("latin-1"),
            "u.genre": "".join(f"{g}|{i}\n" for i, g in enumerate(genres)).encode(),
        },
    )
    data = load_movielens(raw)
    assert data.item_ids.tolist() == folder.item_ids.tolist()
    assert data.user_ids.tolist() == folder.user_ids.tolist()
    assert data.item_texts.tolist() == folder.item_texts.tolist()
    assert (data.X != folder.X).nnz == 0
    assert (data.ratings != folder.ratings).nnz == 0
    assert (data.timestamps != folder.timestamps).nnz == 0


@pytest.mark.slow
def test_real_ml1m_texts_start_like_the_raw_reader():
    data = load_folder(real_folder("ml-1m"), include_cold_items=True)
    pattern = re.compile(r"Title: (.*?)\. Genres: ([^.]*)\.( Director: .*)?")
    for title, text in zip(data.item_titles, data.item_texts, strict=True):
        match = pattern.match(text)
        assert match and match[1] == title, text
