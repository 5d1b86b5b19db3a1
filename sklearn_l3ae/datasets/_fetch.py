"""Download MovieLens once into the scikit-learn data home, then load it."""

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import namedtuple
from pathlib import Path

from sklearn.datasets import get_data_home
from sklearn.utils._param_validation import StrOptions, validate_params

from .._core.atomic import atomic_write
from ._build import FILTER_CONSTRAINTS
from ._movielens import VARIANT_FILES, load_movielens

RemoteArchive = namedtuple("RemoteArchive", ["url", "sha256"])

# SHA-256 of the GroupLens zips as pinned by TensorFlow Datasets,
# tensorflow/datasets @ 1c076ac3c19c8ea83e1d1a75e0623c9a699e0d7c,
# tensorflow_datasets/url_checksums/movielens.txt (4,924,029 and 5,917,549
# bytes); the same values are pinned by several other projects.  Their MD5s,
# 0e33842e24a9c977be4e0107933c0723 and c4d9eecfca2ab87c1945afe126590906, are
# the ones GroupLens publishes.
ARCHIVES = {
    "ml-100k": RemoteArchive(
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    ),
    "ml-1m": RemoteArchive(
        "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
}

DOWNLOAD_TIMEOUT = 60  # seconds without data before giving up
_CHUNK = 1 << 20


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_steps(variant, home):
    archive = ARCHIVES[variant]
    return (
        f"To install it by hand, download {archive.url} and put it at "
        f"{home / f'{variant}.zip'} (its SHA-256 must be {archive.sha256}), or "
        f"extract it so that {home / variant / VARIANT_FILES[variant][0]} exists."
    )


def _is_extracted(folder, variant):
    return all((folder / name).is_file() for name in VARIANT_FILES[variant])


def _download(variant, target):
    """Download ``variant``'s zip to ``target`` through a verified temp file."""
    archive = ARCHIVES[variant]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # Raising inside the block deletes the partial download.
    with atomic_write(target) as file:
        try:
            with urllib.request.urlopen(
                archive.url, timeout=DOWNLOAD_TIMEOUT
            ) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    file.write(chunk)
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise OSError(
                f"Could not download MovieLens {variant} from {archive.url} "
                f"({reason}). {_manual_steps(variant, target.parent)}"
            ) from exc
        got = digest.hexdigest()
        if got != archive.sha256:
            raise OSError(
                f"Checksum mismatch for {archive.url}: expected SHA-256 "
                f"{archive.sha256}, got {got}. The download was deleted; try again "
                f"later. {_manual_steps(variant, target.parent)}"
            )


def _extract(archive, folder):
    """Extract ``archive`` to ``folder`` through a temp folder renamed at once."""
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(scratch)
        extracted = scratch / folder.name
        try:
            os.replace(extracted if extracted.is_dir() else scratch, folder)
        except OSError:
            # Another process may have extracted it meanwhile.
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@validate_params(
    {
        "variant": [StrOptions(set(ARCHIVES))],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        **FILTER_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def fetch_movielens(
    variant="ml-100k",
    *,
    data_home=None,
    download_if_missing=True,
    min_rating=None,
    k_core=None,
    missing_text="raise",
    include_cold_items=False,
):
    """Load MovieLens 100K or 1M, downloading it from GroupLens if needed.

    The data live in ``<data_home>/sklearn_l3ae/<variant>/``, the folder the
    GroupLens zip extracts to.  When that folder is missing, the zip
    ``<data_home>/sklearn_l3ae/<variant>.zip`` is extracted, after checking
    its SHA-256; when the zip is missing too, it is downloaded to a temporary
    file, checked, renamed into place and extracted.  The files are then
    read by :func:`load_movielens`.

    The MovieLens data may be used for research only, must be acknowledged
    in publications and may not be redistributed (see the README in the
    zip).

    Parameters
    ----------
    variant : {"ml-100k", "ml-1m"}, default="ml-100k"
        Which dataset.
    data_home : str or path-like, default=None
        The scikit-learn data folder; by default ``~/scikit_learn_data`` or
        ``$SCIKIT_LEARN_DATA`` (see :func:`sklearn.datasets.get_data_home`).
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading.
    min_rating, k_core, missing_text, include_cold_items
        Filters and options of :func:`load_movielens`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_movielens`.

    Raises
    ------
    OSError
        If the data are not cached and cannot be downloaded (offline, or
        ``download_if_missing=False``), or if the zip's checksum is wrong;
        the message says where to put the zip or the extracted folder by
        hand.

    Examples
    --------
    Without network access, extract the zip by hand into the data home (here
    a tiny stand-in for ``ml-100k``); nothing is downloaded then.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_l3ae.datasets import fetch_movielens
    >>> data_home = Path(tempfile.mkdtemp())
    >>> folder = data_home / "sklearn_l3ae" / "ml-100k"
    >>> folder.mkdir(parents=True)
    >>> _ = (folder / "u.data").write_text(
    ...     "1\\t1\\t5\\t874965758\\n2\\t1\\t3\\t876893171\\n")
    >>> _ = (folder / "u.genre").write_text("Comedy|0\\nDrama|1\\n")
    >>> _ = (folder / "u.item").write_text(
    ...     "1|Toy Story (1995)|01-Jan-1995||http://example.org|1|0\\n")
    >>> data = fetch_movielens("ml-100k", data_home=data_home,
    ...                        download_if_missing=False)
    >>> data.X.shape, data.item_texts[0]
    ((2, 1), 'Title: Toy Story (1995). Genres: Comedy.')
    """
    home = Path(get_data_home(data_home)) / "sklearn_l3ae"
    folder = home / variant
    if not _is_extracted(folder, variant):
        archive = home / f"{variant}.zip"
        if archive.is_file():
            got = _sha256(archive)
            if got != ARCHIVES[variant].sha256:
                raise OSError(
                    f"{archive} is not the GroupLens {variant} zip: expected "
                    f"SHA-256 {ARCHIVES[variant].sha256}, got {got}. Delete it "
                    "to download the zip again."
                )
        elif not download_if_missing:
            raise OSError(
                f"MovieLens {variant} is not in {home} and download_if_missing "
                f"is False. {_manual_steps(variant, home)}"
            )
        else:
            _download(variant, archive)
        if folder.exists() and not folder.is_dir():
            raise OSError(f"{folder} exists but is not a folder; remove it.")
        if folder.is_dir() and any(folder.iterdir()):
            raise OSError(
                f"{folder} exists but lacks some of "
                f"{', '.join(VARIANT_FILES[variant])}; remove it to extract "
                f"{archive} again."
            )
        if folder.is_dir():
            folder.rmdir()
        _extract(archive, folder)
    return load_movielens(
        folder,
        min_rating=min_rating,
        k_core=k_core,
        missing_text=missing_text,
        include_cold_items=include_cold_items,
    )
