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
  ...), and the caller's ``extras.<key>``.

Classes are reconstructed only from a fixed table of this package's
estimators and :class:`sklearn.pipeline.Pipeline`; a class name in the file
is looked up there, never imported.
"""

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path, PurePath

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._atomic import atomic_write
from ._base import ItemItemRecommender, _label_array
from ._closed_form import LowRankCorrelation
from .anisotropy import AnisotropyControl
from .baselines import (
    AdditiveEASERecommender,
    ALSRecommender,
    CollectiveEASERecommender,
    PopularityRecommender,
    SemanticEASERecommender,
)
from .ease import EASERecommender
from .l3ae import L3AERecommender
from .relaxed import DLAERecommender, RDLAERecommender, RLAERecommender
from .semantic_correlation import SemanticCorrelation
from .sentence_encoder import SentenceEncoder

FORMAT_NAME = "sklearn-l3ae-model"
FORMAT_VERSION = 1

_METADATA = "metadata"
_METADATA_SHA256 = "metadata_sha256"

#: The estimators :func:`save` writes, by class name.
RECOMMENDERS = {
    cls.__name__: cls
    for cls in (
        EASERecommender,
        L3AERecommender,
        RLAERecommender,
        DLAERecommender,
        RDLAERecommender,
        SemanticEASERecommender,
        AdditiveEASERecommender,
        CollectiveEASERecommender,
        PopularityRecommender,
        ALSRecommender,
    )
}
# Estimators allowed inside a recommender (its `semantic` or `encoder`).
_COMPONENTS = {
    cls.__name__: cls
    for cls in (Pipeline, SentenceEncoder, AnisotropyControl, SemanticCorrelation)
}
_CLASSES = {**RECOMMENDERS, **_COMPONENTS}

# Fitted state that does not follow the trailing-underscore convention.
_PRIVATE_STATE = {SemanticCorrelation: ("_fit_dtype", "_dense_coef")}
_FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
_EXTRA_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Array dtype kinds stored: bool, integers, floats, complex, fixed-width str.
_ARRAY_KINDS = "biufcU"
_DTYPE_KINDS = "biufc"


class ModelFileError(ValueError):
    """A model file that :func:`load` refuses: corrupt, modified or unsupported."""


def _supported():
    return ", ".join(RECOMMENDERS)


def _array_of(value, where):
    """``(array, restore)``: ``value`` as an array npz stores without pickle.

    Object arrays of str become fixed-width str arrays, and ``restore`` is
    ``"object"`` to turn them back on load (else None).
    """
    array = np.asarray(value)
    restore = None
    if array.dtype == object:
        if not all(isinstance(item, str) for item in array.ravel().tolist()):
            raise TypeError(
                f"{where} is an object array that does not hold only str; a "
                "model file stores numeric, bool or str arrays only."
            )
        array, restore = array.astype(str), "object"
    if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields is not None:
        raise TypeError(
            f"{where} has dtype {array.dtype}; a model file stores numeric, "
            "bool or str (fixed-width 'U') arrays only."
        )
    return np.ascontiguousarray(array), restore


class _Writer:
    """Turns an estimator into JSON-able metadata plus named arrays."""

    def __init__(self):
        self.arrays = {}

    def add_array(self, member, value, where):
        array, restore = _array_of(value, where)
        if member in self.arrays:  # pragma: no cover - paths are unique
            raise RuntimeError(f"Two arrays would be stored as {member!r}.")
        self.arrays[member] = array
        return {"__array__": member, **({"restore": restore} if restore else {})}

    def value(self, value, member, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, Integral):
            return int(value)
        if isinstance(value, Real):
            return float(value)
        if isinstance(value, np.dtype):
            return {"__dtype__": value.name}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"__scalar_type__": np.dtype(value).name}
        if isinstance(value, PurePath):
            return {"__path__": str(value)}
        if isinstance(value, LowRankCorrelation):
            return {
                "__low_rank__": {
                    field: self.add_array(
                        f"{member}.{field}", array, f"{where}.{field}"
                    )
                    for field, array in value._asdict().items()
                }
            }
        if isinstance(value, BaseEstimator):
            return self.estimator(value, member, where, fitted=True)
        if isinstance(value, (list, tuple)):
            if np.asarray(value).dtype.kind == "U" and not all(
                isinstance(item, str)
                for item in np.asarray(value, dtype=object).ravel()
            ):
                raise TypeError(
                    f"Cannot save {where}: a list mixing str and other values."
                )
            array = self.add_array(member, value, where)
            return {**array, "container": type(value).__name__}
        if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
            return self.add_array(member, value, where)
        raise TypeError(
            f"Cannot save {where}: a {type(value).__name__} is not stored by "
            "sklearn_l3ae.save (only numbers, str, None, numpy dtypes and "
            "numeric, bool or str arrays)."
        )

    def estimator(self, estimator, member, where, *, fitted):
        cls = type(estimator)
        name = cls.__name__
        if _CLASSES.get(name) is not cls:
            raise TypeError(
                f"Cannot save {where}: {name} is not one of the classes a model "
                f"file holds (recommenders: {_supported()}; inside them: "
                f"{', '.join(_COMPONENTS)})."
            )
        params = {}
        for key, value in estimator.get_params(deep=False).items():
            if cls is Pipeline and key == "steps":
                params[key] = [
                    [
                        step,
                        self.estimator(
                            step_estimator,
                            f"{member}.steps.{i}",
                            f"{where}.steps[{i}]",
                            fitted=fitted,
                        ),
                    ]
                    for i, (step, step_estimator) in enumerate(value)
                ]
            elif isinstance(value, BaseEstimator):
                params[key] = self.estimator(
                    value, f"{member}.{key}", f"{where}.{key}", fitted=False
                )
            else:
                params[key] = self.value(value, f"{member}.{key}", f"{where}.{key}")
        encoded = {"__estimator__": name, "params": params}
        if fitted and cls is not Pipeline:
            encoded["fitted"] = {
                key: self.value(value, f"{member}.{key}", f"{where}.{key}")
                for key, value in _fitted_state(estimator).items()
            }
        return encoded


def _fitted_state(estimator):
    """The fitted attributes that restore ``estimator``'s behaviour."""
    state = {
        key: value for key, value in vars(estimator).items() if _FITTED_NAME.match(key)
    }
    if isinstance(estimator, SemanticCorrelation):
        state["_fit_dtype"] = np.dtype(estimator._fit_dtype)
        if estimator.correlation_factors_ is None:
            state["_dense_coef"] = estimator._dense_coef
    return state


def _steps(estimator):
    if estimator is None:
        return []
    if isinstance(estimator, Pipeline):
        return [step for _, step in estimator.steps]
    return [estimator]


def _summary(model, item_ids_member):
    """What a reader of the file wants to know without rebuilding the model."""
    components = _steps(getattr(model, "semantic_", None)) + _steps(
        getattr(model, "encoder_", None)
    )
    encoder = next((c for c in components if isinstance(c, SentenceEncoder)), None)
    correlation = next(
        (c for c in components if isinstance(c, SemanticCorrelation)), None
    )
    dimension = None
    if encoder is not None:
        dimension = int(encoder.embedding_dim_)
    elif correlation is not None:
        dimension = int(correlation.n_features_in_)
    elif getattr(model, "item_embeddings", None) is not None:
        dimension = int(np.shape(model.item_embeddings)[1])
    return {
        "n_items": int(model.n_features_in_),
        "dtype": np.dtype(model._scores_dtype()).name,
        "item_ids": item_ids_member,
        "encoder_model": None if encoder is None else os.fspath(encoder.model),
        "embedding_dim": dimension,
        "normalize_embeddings": None if encoder is None else bool(encoder.normalize),
    }


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _serialize(model, extras):
    """``(metadata bytes, members)`` of a model file."""
    if type(model).__name__ not in RECOMMENDERS or not isinstance(
        model, RECOMMENDERS[type(model).__name__]
    ):
        raise TypeError(
            f"sklearn_l3ae.save supports {_supported()}; got "
            f"{type(model).__name__}.  Other estimators can be pickled (with "
            "the usual caveat that loading a pickle runs code)."
        )
    check_is_fitted(model)
    writer = _Writer()
    estimator = writer.estimator(model, "model", type(model).__name__, fitted=True)
    item_ids = getattr(model, "item_ids_", None)
    extra_names = []
    for key, value in ({} if extras is None else _check_extras(extras)).items():
        writer.add_array(f"extras.{key}", value, f"extras[{key!r}]")
        extra_names.append(key)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": _package_version(),
        "written_with": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "estimator": estimator,
        "summary": _summary(model, None if item_ids is None else "model.item_ids_"),
        "extras": extra_names,
        "arrays": {
            member: {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "sha256": _digest(array),
            }
            for member, array in writer.arrays.items()
        },
    }
    text = json.dumps(metadata, ensure_ascii=False, indent=1).encode("utf-8")
    members = {
        _METADATA: np.frombuffer(text, dtype=np.uint8),
        _METADATA_SHA256: np.array(hashlib.sha256(text).hexdigest()),
        **writer.arrays,
    }
    return members


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


def _package_version():
    from . import __version__

    return __version__


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
        One of :class:`EASERecommender`, :class:`L3AERecommender`,
        :class:`RLAERecommender`, :class:`DLAERecommender`,
        :class:`RDLAERecommender` and the baselines
        ``SemanticEASERecommender``, ``AdditiveEASERecommender``,
        ``CollectiveEASERecommender``, ``PopularityRecommender`` and
        ``ALSRecommender``.  A ``semantic`` phase 1 may combine
        :class:`~sklearn.pipeline.Pipeline`, :class:`SentenceEncoder`,
        :class:`AnisotropyControl` and :class:`SemanticCorrelation`.
    path : str or path-like
        The file to write, as given (``.npz`` is the customary suffix).
    extras : dict of str to array-like, default=None
        Arrays stored alongside (e.g. the training matrix and user ids):
        numeric, bool or str; object arrays of str are stored as
        fixed-width str arrays.  Keys are letters, digits, ``_`` and ``-``.

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
    ``allow_pickle=False`` and classes come from a fixed table of this
    package's estimators (and scikit-learn's ``Pipeline``).  Before the
    model is built, the format version, the metadata checksum and the
    SHA-256 of every array are verified.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    return_extras : bool, default=False
        Also return the ``extras`` saved with the model.

    Returns
    -------
    model : fitted recommender
    extras : dict of str to ndarray
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
    with archive:
        metadata, arrays = _read_verified(archive, path)
    model = _Reader(arrays, path).value(metadata["estimator"], "model")
    if not isinstance(model, tuple(RECOMMENDERS.values())):
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not a recommender."
        )
    _check_loaded(model, path)
    missing = [key for key in metadata["extras"] if f"extras.{key}" not in arrays]
    if missing:
        raise ModelFileError(
            f"{path}: the metadata lists extras {missing} that the file does not "
            "hold; the file was modified."
        )
    if not return_extras:
        return model
    extras = {key: arrays[f"extras.{key}"] for key in metadata["extras"]}
    return model, extras


def _check_loaded(model, path):
    """Re-validate what the metadata rebuilt: parameters and fitted arrays.

    The checksums catch accidental corruption, not an edit that recomputes
    them; these checks make such a file fail here, not deep inside scoring.
    """
    try:
        model._validate_params()
    except ValueError as exc:  # InvalidParameterError is a ValueError
        raise ModelFileError(f"{path}: invalid parameters: {exc}") from exc
    n_items = getattr(model, "n_features_in_", None)
    if not isinstance(n_items, int) or n_items < 1:
        raise ModelFileError(
            f"{path}: n_features_in_ must be a positive int, got {n_items!r}."
        )
    expected = {"item_popularity_": (n_items,)}
    if isinstance(model, ItemItemRecommender):
        expected["coef_"] = (n_items, n_items)
    if isinstance(model, ALSRecommender):
        expected["item_factors_"] = (n_items, model.factors)
        expected["user_factors_"] = (None, model.factors)
    arrays = [
        (name, getattr(model, name, None), shape) for name, shape in expected.items()
    ]
    for name, value, shape in arrays + _semantic_arrays(model, n_items, path):
        if not (
            isinstance(value, np.ndarray)
            and value.ndim == len(shape)
            and all(
                want in (None, got)
                for want, got in zip(shape, value.shape, strict=True)
            )
            and value.dtype.kind in "fiu"
            and np.isfinite(value).all()
        ):
            raise ModelFileError(
                f"{path}: {name} must be a numeric array of shape {shape} "
                f"without NaN or inf, got {type(value).__name__}"
                f"{f' of shape {value.shape}' if hasattr(value, 'shape') else ''}."
            )
    item_ids = getattr(model, "item_ids_", None)
    if item_ids is not None:
        if not isinstance(item_ids, np.ndarray):
            raise ModelFileError(
                f"{path}: item_ids_ must be None or an array of labels, got "
                f"{type(item_ids).__name__}."
            )
        try:
            _label_array(item_ids, n_items, type(model).__name__)
        except ValueError as exc:
            raise ModelFileError(f"{path}: invalid item_ids_: {exc}") from exc


def _semantic_arrays(model, n_items, path):
    """``(name, array, expected shape)`` of the fitted semantic correlation C."""
    semantic = getattr(model, "semantic_", None)
    if semantic is None:
        return []
    final = semantic
    if isinstance(semantic, Pipeline) and semantic.steps:
        final = semantic[-1]
    if not isinstance(final, SemanticCorrelation):
        raise ModelFileError(
            f"{path}: semantic_ must be a fitted SemanticCorrelation or a Pipeline "
            f"ending with one, got {type(final).__name__}."
        )
    factors = getattr(final, "correlation_factors_", None)
    if isinstance(factors, LowRankCorrelation):
        dim = np.shape(factors.left)[-1] if np.ndim(factors.left) == 2 else -1
        return [
            ("semantic_ diagonal", factors.diagonal, (n_items,)),
            ("semantic_ left factor", factors.left, (n_items, dim)),
            ("semantic_ right factor", factors.right, (n_items, dim)),
        ]
    return [
        ("semantic_ coef_", getattr(final, "_dense_coef", None), (n_items, n_items))
    ]


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


def _read_verified(archive, path):
    """The metadata dict and the arrays of a model file, all checks passed."""
    if _METADATA not in archive.files:
        raise ModelFileError(
            f"{path} is an .npz archive but not an sklearn-l3ae model file "
            "(it has no metadata member)."
        )
    raw = _member(archive, _METADATA, path)
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
            f"sklearn-l3ae ({_package_version()}) reads format versions up to "
            f"{FORMAT_VERSION}: upgrade sklearn-l3ae to load it."
        )
    stored = None
    if _METADATA_SHA256 in archive.files:
        stored = _member(archive, _METADATA_SHA256, path)
    checksum = hashlib.sha256(text).hexdigest()
    if stored is None or stored.shape != () or str(stored) != checksum:
        raise ModelFileError(
            f"{path}: the metadata does not match its SHA-256 checksum; the "
            "file was modified after saving or is corrupt."
        )
    listed = metadata.get("arrays")
    if not isinstance(listed, dict) or not isinstance(metadata.get("extras"), list):
        raise ModelFileError(f"{path}: the metadata lists no arrays.")
    present = set(archive.files) - {_METADATA, _METADATA_SHA256}
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
            or _digest(array) != expected.get("sha256")
        ):
            raise ModelFileError(
                f"{path}: the array {member!r} does not match its recorded "
                "dtype, shape and SHA-256; the file was modified after saving "
                "or is corrupt."
            )
        arrays[member] = array
    return metadata, arrays


class _Reader:
    """Rebuilds values and estimators from verified metadata and arrays."""

    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path

    def fail(self, where, problem):
        raise ModelFileError(f"{self.path}: {where}: {problem}")

    def value(self, value, where):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if not isinstance(value, dict) or len(value) == 0:
            self.fail(where, f"unexpected value {value!r}")
        if "__array__" in value:
            return self.array(value, where)
        if "__estimator__" in value:
            return self.estimator(value, where)
        if "__dtype__" in value:
            return self.dtype(value["__dtype__"], where)
        if "__scalar_type__" in value:
            return self.dtype(value["__scalar_type__"], where).type
        if "__path__" in value and isinstance(value["__path__"], str):
            return Path(value["__path__"])
        if "__low_rank__" in value and isinstance(value["__low_rank__"], dict):
            fields = value["__low_rank__"]
            if set(fields) != set(LowRankCorrelation._fields):
                self.fail(where, "malformed structured correlation")
            return LowRankCorrelation(
                **{key: self.array(fields[key], where) for key in fields}
            )
        return self.fail(where, f"unexpected value {value!r}")

    def dtype(self, name, where):
        try:
            dtype = np.dtype(name) if isinstance(name, str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in _DTYPE_KINDS:
            self.fail(where, f"unsupported dtype {name!r}")
        return dtype

    def array(self, value, where):
        member = value.get("__array__") if isinstance(value, dict) else None
        if not isinstance(member, str) or member not in self.arrays:
            self.fail(where, f"refers to a missing array {member!r}")
        array = self.arrays[member]
        if value.get("restore") == "object":
            array = array.astype(object)
        container = value.get("container")
        if container == "list":
            return array.tolist()
        if container == "tuple":
            return tuple(array.tolist())
        return array

    def estimator(self, value, where):
        name = value["__estimator__"]
        cls = _CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            self.fail(
                where,
                f"class {name!r} is not one sklearn_l3ae.load builds (it never "
                "imports classes named in a file); it builds "
                f"{', '.join(_CLASSES)}",
            )
        raw_params = value.get("params")
        if not isinstance(raw_params, dict):
            self.fail(where, f"{name} without parameters")
        allowed = set(cls().get_params(deep=False)) if cls is not Pipeline else None
        params = {}
        for key, raw in raw_params.items():
            if allowed is not None and key not in allowed:
                self.fail(where, f"{name} has no parameter {key!r}")
            if cls is Pipeline and key == "steps":
                params[key] = self.steps(raw, f"{where}.steps")
            else:
                params[key] = self.value(raw, f"{where}.{key}")
        try:
            estimator = cls(**params)
        except TypeError as exc:
            self.fail(where, f"cannot build {name}: {exc}")
        fitted = value.get("fitted", {})
        if not isinstance(fitted, dict):
            self.fail(where, "malformed fitted state")
        private = _PRIVATE_STATE.get(cls, ())
        for key, raw in fitted.items():
            if not (_FITTED_NAME.match(key) or key in private):
                self.fail(where, f"unexpected fitted attribute {key!r}")
            setattr(estimator, key, self.value(raw, f"{where}.{key}"))
        if cls is SemanticCorrelation and fitted and "_dense_coef" not in fitted:
            estimator._dense_coef = None
        return estimator

    def steps(self, raw, where):
        if not isinstance(raw, list) or not raw:
            self.fail(where, "malformed Pipeline steps")
        steps = []
        for i, step in enumerate(raw):
            if not (
                isinstance(step, list) and len(step) == 2 and isinstance(step[0], str)
            ):
                self.fail(where, "malformed Pipeline step")
            steps.append((step[0], self.value(step[1], f"{where}[{i}]")))
        return steps
