"""Save and load fitted recommenders as one ``.npz`` file, without pickle.

A model file is a zip archive written by :func:`numpy.savez` and read with
``np.load(..., allow_pickle=False)``: loading it never runs code from the
file.  Its members are

* ``metadata``: UTF-8 JSON as a uint8 array — format name and version,
  package version, the estimator's class and parameters (nested estimators
  as class name + parameters), its fitted attributes (scalars inline, arrays
  by member name), a summary (items, dtype, item ids, encoder model,
  embedding dimension, normalization) and the dtype, shape and SHA-256 of
  every array member;
* ``metadata_sha256``: the SHA-256 of those JSON bytes;
* one member per array, named by where it sits in the model: array
  parameters (``model.item_embeddings``, ``model.item_texts``), fitted
  arrays (``model.coef_``, ``model.item_popularity_``, ``model.item_ids_``,
  the phase-1 factors ``model.semantic_.steps.1.correlation_factors_.left``,
  ...), and the caller's ``extras.<key>``; a scipy sparse matrix is stored
  as its CSR ``data``, ``indices`` and ``indptr`` (``<member>.data``, ...).

Classes are reconstructed only from a whitelist, the estimators this package
exports (from ``sklearn_l3ae`` and ``sklearn_l3ae.baselines``) and
:class:`sklearn.pipeline.Pipeline`; a class name in the file is looked up
there, never imported.  Each class says what its fitted state is through
hooks (see ``sklearn_l3ae.persistence._codec``); this module names none.
"""

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._core.atomic import atomic_write
from ._archive import (
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA,
    METADATA_SHA256,
    ModelFileError,
    digest,
    open_archive,
    package_version,
    read_verified,
)
from ._codec import Reader, Writer, whitelist

_EXTRA_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _components(estimator):
    """The estimators inside ``estimator`` (a Pipeline's steps, or itself)."""
    if estimator is None:
        return []
    if isinstance(estimator, Pipeline):
        return [step for _, step in estimator.steps]
    return [estimator]


def _summary(model, item_ids_member):
    """What a reader of the file wants to know without rebuilding the model."""
    summary = {
        "n_items": int(model.n_features_in_),
        "dtype": np.dtype(model._scores_dtype()).name,
        "item_ids": item_ids_member,
        "encoder_model": None,
        "embedding_dim": None,
        "normalize_embeddings": None,
    }
    for component in _components(getattr(model, "semantic_", None)):
        hook = getattr(component, "_file_summary", None)
        for key, value in ({} if hook is None else hook()).items():
            if summary.get(key) is None:
                summary[key] = value
    embeddings = model.get_params().get("item_embeddings")
    if summary["embedding_dim"] is None and embeddings is not None:
        summary["embedding_dim"] = int(np.shape(embeddings)[1])
    return summary


def _check_extras(extras):
    if not isinstance(extras, Mapping):
        raise TypeError(
            f"extras must be a dict of str to arrays, got {type(extras).__name__}."
        )
    for key in extras:
        if not isinstance(key, str) or not _EXTRA_KEY.match(key):
            raise ValueError(
                f"extras keys must be str of letters, digits, '_' and '-' "
                f"(starting with a letter or digit), got {key!r}."
            )
    return extras


def _serialize(model, extras):
    """The members of a model file: metadata, its checksum and the arrays."""
    recommenders, _ = whitelist()
    if recommenders.get(type(model).__name__) is not type(model):
        raise TypeError(
            f"sklearn_l3ae.save supports {', '.join(recommenders)}; got "
            f"{type(model).__name__}.  Other estimators can be pickled (with "
            "the usual caveat that loading a pickle runs code)."
        )
    check_is_fitted(model)
    writer = Writer()
    estimator = writer.estimator(model, "model", type(model).__name__, fitted=True)
    item_ids = getattr(model, "item_ids_", None)
    stored_extras = {}
    for key, value in ({} if extras is None else _check_extras(extras)).items():
        member, where = f"extras.{key}", f"extras[{key!r}]"
        if sparse.issparse(value):
            stored_extras[key] = writer.value(value, member, where)
        else:  # object arrays of str come back as fixed-width str arrays
            stored_extras[key] = {
                "__array__": writer.add_array(member, value, where)["__array__"]
            }
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "written_with": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "estimator": estimator,
        "summary": _summary(model, None if item_ids is None else "model.item_ids_"),
        "extras": stored_extras,
        "arrays": {
            member: {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "sha256": digest(array),
            }
            for member, array in writer.arrays.items()
        },
    }
    text = json.dumps(metadata, ensure_ascii=False, indent=1).encode("utf-8")
    return {
        METADATA: np.frombuffer(text, dtype=np.uint8),
        METADATA_SHA256: np.array(digest(np.frombuffer(text, dtype=np.uint8))),
        **writer.arrays,
    }


def save(model, path, *, extras=None):
    """Write a fitted recommender to one ``.npz`` file, without pickle.

    The file holds the parameters, the fitted arrays and provenance (see
    :mod:`sklearn_l3ae.persistence`); :func:`load` rebuilds the model
    bit for bit.  The write is atomic: a temporary file in the same folder
    is written, flushed to disk and renamed over ``path``, so ``path`` is
    never half written and an existing file survives a failed save.

    Parameters
    ----------
    model : fitted recommender
        Any recommender of the package: :class:`L3AERecommender`,
        :class:`EASERecommender`, :class:`RLAERecommender`,
        :class:`DLAERecommender`, :class:`RDLAERecommender` and the
        baselines of :mod:`sklearn_l3ae.baselines`.  A ``semantic`` phase 1
        may combine :class:`~sklearn.pipeline.Pipeline`,
        :class:`SentenceEncoder`, :class:`AnisotropyControl` and
        :class:`SemanticCorrelation`.
    path : str or path-like
        The file to write, as given (``.npz`` is the customary suffix).
    extras : dict of str to array-like or sparse matrix, default=None
        Arrays stored alongside (e.g. the training matrix and user ids):
        numeric, bool or str, dense or scipy sparse (read back as a
        ``csr_array``); object arrays of str are stored as fixed-width str
        arrays.  Keys are letters, digits, ``_`` and ``-``.

    Raises
    ------
    TypeError
        If the model's class, a parameter or an extra cannot be stored.
    sklearn.exceptions.NotFittedError
        If the model is not fitted.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import sklearn_l3ae
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    >>> model = sklearn_l3ae.EASERecommender(reg=1.0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> sklearn_l3ae.save(model, path, extras={"user_ids": ["u1", "u2", "u3", "u4"]})
    >>> loaded, extras = sklearn_l3ae.load(path, return_extras=True)
    >>> bool(np.array_equal(loaded.coef_, model.coef_)), extras["user_ids"].tolist()
    (True, ['u1', 'u2', 'u3', 'u4'])
    """
    path = check_save_path(path)
    members = _serialize(model, extras)
    with atomic_write(path) as file:
        np.savez(file, **members)


def check_save_path(path):
    """``Path(path)`` if a model file can be written there, else a clear error.

    Checked before any work, so that a long fit is not lost to a typo: the
    folder must exist and ``path`` must not be a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save the model to {path}: it is a folder; pass a file path "
            "such as model.npz."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save the model to {path}: the folder {path.parent} does not exist."
        )
    return path


def load(path, *, return_extras=False):
    """Read a model written by :func:`save`, checking it first.

    Nothing in the file is executed: arrays are read with
    ``allow_pickle=False`` and classes come from a whitelist of this
    package's estimators (and scikit-learn's ``Pipeline``).  Before the
    model is built, the format version, the metadata checksum and the
    SHA-256 of every array are verified; after, every class checks its own
    fitted state.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    return_extras : bool, default=False
        Also return the ``extras`` saved with the model.

    Returns
    -------
    model : fitted recommender
    extras : dict of str to ndarray or csr_array
        Only with ``return_extras=True``.

    Raises
    ------
    ModelFileError
        (a ValueError) If the file is not a model file, is truncated or
        corrupt, was modified after saving, was written in a newer format
        version, or names a class outside the table.
    FileNotFoundError
        If there is no file at ``path``.
    """
    path = os.fspath(path)
    with open_archive(path) as archive:
        metadata, arrays = read_verified(archive, path)
    reader = Reader(arrays, path)
    model = reader.value(metadata["estimator"], "model")
    if type(model).__name__ not in reader.recommenders:
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not a recommender."
        )
    _check_loaded(model, path)
    if not return_extras:
        return model
    extras = {
        key: reader.value(value, f"extras[{key!r}]")
        for key, value in metadata["extras"].items()
    }
    return model, extras


def _check_loaded(model, path):
    """Re-validate what the metadata rebuilt: parameters and fitted state.

    The checksums catch accidental corruption, not an edit that recomputes
    them; these checks make such a file fail here, not deep inside scoring.
    """
    try:
        model._validate_params()
    except ValueError as exc:  # InvalidParameterError is a ValueError
        raise ModelFileError(f"{path}: invalid parameters: {exc}") from exc
    try:
        model._check_fitted_state()
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc


__all__ = ["ModelFileError", "check_save_path", "load", "save"]
