"""The raw GroupLens MovieLens files (100K and 1M), from a folder or the zip."""

import os
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._build import FILTER_CONSTRAINTS, build_dataset, item_text
from ._parse import DelimitedLines, parse_numbers

# Per variant: the file that identifies it, then the files read.
VARIANT_FILES = {
    "ml-100k": ("u.data", "u.item", "u.genre"),
    "ml-1m": ("ratings.dat", "movies.dat"),
}

# GroupLens calls the item files Latin-1, but they are Windows-1252: byte
# 0x85 in movies.dat is "…" ("Et Dieu…Crea la Femme"), not the control
# character U+0085.  Bytes 0x80-0x9F are mapped as in Windows-1252 where it
# defines them, every other byte as in Latin-1, so decoding never fails.
_WINDOWS_1252_C1 = {}
for _byte in range(0x80, 0xA0):
    try:
        _WINDOWS_1252_C1[_byte] = bytes([_byte]).decode("cp1252")
    except UnicodeDecodeError:
        pass
del _byte


def _decode(data):
    return data.decode("latin-1").translate(_WINDOWS_1252_C1)


class _Files:
    """The MovieLens files of a folder or a zip, by base name.

    Files may sit at the top or in one subfolder (the GroupLens zips hold
    ``ml-100k/u.data``), so both the zip and the folder it extracts to (or
    its parent) are accepted.
    """

    def __init__(self, path):
        self.path = Path(path)
        if self.path.is_dir():
            folders = [self.path, *(self.path / variant for variant in VARIANT_FILES)]
            self.members = {}
            # Later updates win: files at the top over those in a subfolder.
            for folder in reversed(folders):
                if folder.is_dir():
                    self.members.update(
                        (file.name, file) for file in folder.iterdir() if file.is_file()
                    )
        elif zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as archive:
                names = archive.namelist()
            self.members = {
                PurePosixPath(name).name: name
                for name in sorted(names, key=lambda name: -name.count("/"))
                if name.count("/") <= 1 and not name.endswith("/")
            }
        elif self.path.exists():
            raise ValueError(
                f"{self.path} is neither a folder nor a zip file; expected the "
                "GroupLens ml-100k.zip / ml-1m.zip or the folder it extracts to."
            )
        else:
            raise FileNotFoundError(f"{self.path} does not exist.")

    def variant(self):
        present = [
            variant
            for variant, files in VARIANT_FILES.items()
            if files[0] in self.members
        ]
        if len(present) > 1:
            raise ValueError(
                f"{self.path} holds both {' and '.join(present)}; pass the folder "
                "(or zip) of one of them."
            )
        if not present:
            expected = "; ".join(
                f"{variant}: {', '.join(files)}"
                for variant, files in VARIANT_FILES.items()
            )
            raise FileNotFoundError(
                f"No MovieLens files in {self.path} (directly or in an ml-100k/ "
                f"or ml-1m/ subfolder); expected {expected}."
            )
        variant = present[0]
        files = VARIANT_FILES[variant]
        missing = [name for name in files if name not in self.members]
        if missing:
            raise FileNotFoundError(
                f"{self.path} has {files[0]} ({variant}) but lacks "
                f"{', '.join(missing)}."
            )
        return variant

    def source(self, name):
        member = self.members[name]
        return str(member) if isinstance(member, Path) else f"{self.path}:{member}"

    def lines(self, name, separator, n_fields, layout):
        member = self.members[name]
        if isinstance(member, Path):
            data = member.read_bytes()
        else:
            with zipfile.ZipFile(self.path) as archive:
                data = archive.read(member)
        return DelimitedLines(
            _decode(data), self.source(name), separator, n_fields, layout
        )


def _ratings(lines):
    users, items, ratings, timestamps = lines.columns
    return (
        users,
        items,
        parse_numbers(ratings, np.float64, "rating", lines.where),
        parse_numbers(timestamps, np.int64, "timestamp", lines.where),
    )


def _catalog(titles, genres, lines):
    """Movie id to (title, ``"Title: <title>. Genres: <g1>, <g2>."``)."""
    catalog = {}
    for row, (item, title, item_genres) in enumerate(
        zip(lines.columns[0], titles, genres, strict=True)
    ):
        if item in catalog:
            raise ValueError(f"{lines.where(row)}: movie id {item!r} is repeated.")
        text = item_text([("Title", title), ("Genres", ", ".join(item_genres))])
        catalog[item] = (title, text)
    return catalog


def _read_100k(files):
    ratings = files.lines("u.data", "\t", 4, "user id, item id, rating, timestamp")
    genre_lines = files.lines("u.genre", "|", 2, "genre, index")
    genre_names, positions = genre_lines.columns
    if list(positions) != [str(i) for i in range(len(positions))]:
        raise ValueError(
            f"{files.source('u.genre')}: genre indices must be 0, 1, 2, ... in "
            f"order; got {', '.join(positions)}."
        )
    n_genres = len(genre_names)
    items = files.lines(
        "u.item",
        "|",
        5 + n_genres,
        f"movie id, title, release date, video release date, IMDb URL and "
        f"{n_genres} genre flags, one per line of u.genre",
    )
    genres = [
        [name for name, flag in zip(genre_names, flags, strict=True) if flag == "1"]
        for flags in zip(*items.columns[5:], strict=True)
    ]
    return _ratings(ratings), ratings, _catalog(items.columns[1], genres, items)


def _read_1m(files):
    ratings = files.lines("ratings.dat", "::", 4, "UserID::MovieID::Rating::Timestamp")
    items = files.lines("movies.dat", "::", 3, "MovieID::Title::Genres")
    genres = [value.split("|") if value else [] for value in items.columns[2]]
    return _ratings(ratings), ratings, _catalog(items.columns[1], genres, items)


_READERS = {"ml-100k": _read_100k, "ml-1m": _read_1m}


@validate_params(
    {"path": [str, os.PathLike], **FILTER_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def load_movielens(
    path,
    *,
    min_rating=None,
    k_core=None,
    missing_text="raise",
    include_cold_items=False,
):
    """Load MovieLens 100K or 1M from the raw GroupLens files.

    ``path`` is the GroupLens zip (``ml-100k.zip``, ``ml-1m.zip``), the folder
    it extracts to, or that folder's parent.  The variant is recognized from
    the files:

    - ml-100k: ``u.data`` (tab-separated user id, item id, rating,
      timestamp), ``u.item`` (``|``-separated: movie id, title, release date,
      video release date, IMDb URL and one 0/1 flag per genre) and
      ``u.genre`` (``name|index``);
    - ml-1m: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) and
      ``movies.dat`` (``MovieID::Title::Genres``, genres ``|``-separated).

    The item files are read as Latin-1, with the bytes 0x80-0x9F as in
    Windows-1252 (``movies.dat`` writes "…" as byte 0x85).  The item text is
    ``"Title: <title>. Genres: <g1>, <g2>."`` with the genres in the
    files' order, as in the normalized MovieLens folders
    (:func:`load_folder`).

    Parameters
    ----------
    path : str or path-like
        The zip file or folder.
    min_rating : float, default=None
        Keep only the interactions rated at least ``min_rating`` (1 to 5).
    k_core : int, default=None
        Iterative k-core, as in :func:`load_folder`.
    missing_text : {"raise", "drop"}, default="raise"
        For rated movies missing from ``u.item`` / ``movies.dat``, as in
        :func:`load_folder`.
    include_cold_items : bool, default=False
        Append the movies without (remaining) ratings as all-zero columns
        after the others.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_folder` (``ratings`` and ``timestamps``
        are always given); ``name`` is ``"ml-100k"`` or ``"ml-1m"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or lacks one of the files.
    ValueError
        With the file and line, for a line with the wrong number of fields,
        a rating or timestamp that is not a number, an empty id, a repeated
        movie id, or as in :func:`load_folder` for the filters.

    See Also
    --------
    fetch_movielens : Download the zip once, then load it with this function.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_l3ae.datasets import load_movielens
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "ratings.dat").write_text(
    ...     "1::10::5::978300760\\n1::20::3::978302109\\n2::10::4::978301968\\n")
    >>> _ = (folder / "movies.dat").write_bytes(
    ...     "10::Misérables, Les (1995)::Drama|War\\n20::Heat (1995)::Action\\n"
    ...     "30::Sabrina (1995)::Comedy|Romance\\n".encode("latin-1"))
    >>> data = load_movielens(folder)
    >>> data.name, data.X.shape
    ('ml-1m', (2, 2))
    >>> data.item_texts.tolist()
    ['Title: Misérables, Les (1995). Genres: Drama, War.', \
'Title: Heat (1995). Genres: Action.']
    >>> data.ratings.toarray()
    array([[5., 3.],
           [4., 0.]], dtype=float32)
    """
    files = _Files(path)
    variant = files.variant()
    (users, items, ratings, timestamps), lines, catalog = _READERS[variant](files)
    return build_dataset(
        users,
        items,
        ratings,
        timestamps,
        catalog,
        where=lines.where,
        name=variant,
        source=lines.source,
        catalog_source=files.source(VARIANT_FILES[variant][1]),
        min_rating=min_rating,
        k_core=k_core,
        missing_text=missing_text,
        include_cold_items=include_cold_items,
    )
