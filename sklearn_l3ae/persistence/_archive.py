"""The model file as an archive: its format constants and its verified reading."""

import hashlib
import json
import zipfile

import numpy as np

FORMAT_NAME = "sklearn-l3ae-model"
# 2: sparse arrays (fitted or extras) and extras of any stored value.
FORMAT_VERSION = 2

METADATA = "metadata"
METADATA_SHA256 = "metadata_sha256"


class ModelFileError(ValueError):
    """A model file that :func:`load` refuses: corrupt, modified or unsupported."""


def package_version():
    from .. import __version__

    return __version__


def digest(array):
    """SHA-256 of an array's bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _member(archive, name, path):
    try:
        return archive[name]
    except (
        zipfile.BadZipFile,
        ValueError,
        EOFError,
        OSError,
        KeyError,
        # zipfile, for a damaged compression method or encryption flag:
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise ModelFileError(
            f"{path}: the member {name!r} cannot be read (the file is corrupt or "
            f"was modified): {exc}"
        ) from exc


def open_archive(path):
    """The ``NpzFile`` of ``path``, or a :class:`ModelFileError` saying why not."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except ValueError as exc:
        # numpy's own message here suggests loading with allow_pickle=True,
        # which is precisely what a model file must never need.
        raise ModelFileError(
            f"{path} is not an sklearn-l3ae model file: it is not an .npz archive "
            "(written by sklearn_l3ae.save); it may be truncated or corrupt."
        ) from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelFileError(
            f"{path} is not a readable sklearn-l3ae model file (an .npz archive "
            f"written by sklearn_l3ae.save); it may be truncated or corrupt: {exc}"
        ) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(
            f"{path} holds a single .npy array, not an sklearn-l3ae model file."
        )
    return archive


def read_verified(archive, path):
    """The metadata dict and the arrays of a model file, all checks passed."""
    if METADATA not in archive.files:
        raise ModelFileError(
            f"{path} is an .npz archive but not an sklearn-l3ae model file "
            "(it has no metadata member)."
        )
    raw = _member(archive, METADATA, path)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"a {raw.dtype} array of shape {raw.shape}")
        text = raw.tobytes()
        metadata = json.loads(text.decode("utf-8"))
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise ModelFileError(
            f"{path}: the metadata is not UTF-8 JSON ({exc}); the file is "
            "corrupt or was modified."
        ) from exc
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{path} is not an sklearn-l3ae model file (format "
            f"{metadata.get('format')!r}, expected {FORMAT_NAME!r})."
        )
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model file format version {version} (by "
            f"sklearn-l3ae {metadata.get('package_version')}); this "
            f"sklearn-l3ae ({package_version()}) reads format versions up to "
            f"{FORMAT_VERSION}: upgrade sklearn-l3ae to load it."
        )
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model file format version {version} by a "
            f"development version of sklearn-l3ae "
            f"({metadata.get('package_version')}); this one reads version "
            f"{FORMAT_VERSION}: refit the model and save it again."
        )
    stored = None
    if METADATA_SHA256 in archive.files:
        stored = _member(archive, METADATA_SHA256, path)
    checksum = hashlib.sha256(text).hexdigest()
    if stored is None or stored.shape != () or str(stored) != checksum:
        raise ModelFileError(
            f"{path}: the metadata does not match its SHA-256 checksum; the "
            "file was modified after saving or is corrupt."
        )
    listed = metadata.get("arrays")
    if not isinstance(listed, dict) or not isinstance(metadata.get("extras"), dict):
        raise ModelFileError(f"{path}: the metadata lists no arrays.")
    present = set(archive.files) - {METADATA, METADATA_SHA256}
    if present != set(listed):
        raise ModelFileError(
            f"{path}: the archive's members differ from those its metadata "
            f"lists (unlisted: {sorted(present - set(listed))}, missing: "
            f"{sorted(set(listed) - present)}); the file was modified."
        )
    arrays = {}
    for member, expected in listed.items():
        array = _member(archive, member, path)
        if (
            array.dtype.str != expected.get("dtype")
            or list(array.shape) != expected.get("shape")
            or digest(array) != expected.get("sha256")
        ):
            raise ModelFileError(
                f"{path}: the array {member!r} does not match its recorded "
                "dtype, shape and SHA-256; the file was modified after saving "
                "or is corrupt."
            )
        arrays[member] = array
    return metadata, arrays
