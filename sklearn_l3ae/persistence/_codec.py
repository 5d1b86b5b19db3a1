"""Estimators to JSON metadata plus named arrays, and back, without pickle.

The format knows no estimator by name.  The classes it builds are a
whitelist read from the package's public namespaces (``sklearn_l3ae`` and
``sklearn_l3ae.baselines``, plus scikit-learn's ``Pipeline``), and each
class tells what its fitted state is through optional hooks:

- ``_fitted_state()``: the fitted attributes to store, a dict (default:
  every attribute whose name ends with an underscore);
- ``_restore_fitted_state(state)``: set them back (default: ``setattr``);
- ``_check_fitted_state()``: raise ``ValueError`` if the restored state is
  inconsistent (called on load, after the parameters were validated);
- ``_file_summary()``: entries for the file's human-readable summary.
"""

import re
from numbers import Integral, Real
from pathlib import Path, PurePath

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from .._core.closed_forms import LowRankCorrelation
from ._archive import ModelFileError

_FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
# Array dtype kinds stored: bool, integers, floats, complex, fixed-width str.
_ARRAY_KINDS = "biufcU"
_DTYPE_KINDS = "biufc"


def whitelist():
    """``(recommenders, components)``: the classes a model file may hold, by name.

    Recommenders are the public classes with ``recommend``; components are
    the other public estimators (phase-1 steps) and ``Pipeline``.
    """
    import sklearn_l3ae
    import sklearn_l3ae.baselines

    classes = {}
    for namespace in (sklearn_l3ae, sklearn_l3ae.baselines):
        for name in namespace.__all__:
            value = getattr(namespace, name)
            if isinstance(value, type) and issubclass(value, BaseEstimator):
                classes[name] = value
    recommenders = {n: c for n, c in classes.items() if hasattr(c, "recommend")}
    components = {n: c for n, c in classes.items() if n not in recommenders}
    return recommenders, {**components, "Pipeline": Pipeline}


def fitted_state(estimator):
    """The fitted attributes that restore ``estimator``'s behaviour."""
    hook = getattr(estimator, "_fitted_state", None)
    if hook is not None:
        return hook()
    return {
        key: value for key, value in vars(estimator).items() if _FITTED_NAME.match(key)
    }


def restore_fitted_state(estimator, state):
    hook = getattr(estimator, "_restore_fitted_state", None)
    if hook is not None:
        hook(state)
        return
    for key, value in state.items():
        setattr(estimator, key, value)


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
    # Not ascontiguousarray, which turns a 0-d array into shape (1,).
    return np.require(array, requirements="C"), restore


class Writer:
    """Turns estimators and values into JSON-able metadata plus named arrays."""

    def __init__(self):
        self.arrays = {}
        self.recommenders, self.components = whitelist()

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
        if type(value).__module__ == "torch" and type(value).__name__ == "device":
            return str(value)  # device="cuda:0" is the same parameter
        if isinstance(value, LowRankCorrelation):
            return {
                "__low_rank__": {
                    field: self.add_array(
                        f"{member}.{field}", array, f"{where}.{field}"
                    )
                    for field, array in value._asdict().items()
                }
            }
        if sparse.issparse(value):
            csr = sparse.csr_array(value)
            csr.sort_indices()
            return {
                "__sparse__": {
                    "shape": [int(n) for n in csr.shape],
                    **{
                        part: self.add_array(
                            f"{member}.{part}", getattr(csr, part), f"{where}.{part}"
                        )
                        for part in ("data", "indices", "indptr")
                    },
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
            "numeric, bool or str arrays, dense or scipy sparse)."
        )

    def estimator(self, estimator, member, where, *, fitted):
        cls = type(estimator)
        name = cls.__name__
        known = {**self.recommenders, **self.components}
        if known.get(name) is not cls:
            raise TypeError(
                f"Cannot save {where}: {name} is not one of the classes a model "
                f"file holds (recommenders: {', '.join(self.recommenders)}; "
                f"inside them: {', '.join(self.components)})."
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
                for key, value in fitted_state(estimator).items()
            }
        return encoded


class Reader:
    """Rebuilds values and estimators from verified metadata and arrays."""

    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path
        self.recommenders, self.components = whitelist()

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
        if "__sparse__" in value and isinstance(value["__sparse__"], dict):
            return self.sparse(value["__sparse__"], where)
        return self.fail(where, f"unexpected value {value!r}")

    def sparse(self, fields, where):
        shape = fields.get("shape")
        if set(fields) != {"shape", "data", "indices", "indptr"} or not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(isinstance(n, int) and n >= 0 for n in shape)
        ):
            self.fail(where, "malformed sparse matrix")
        parts = [
            self.array(fields[part], where) for part in ("data", "indices", "indptr")
        ]
        try:
            matrix = sparse.csr_array(tuple(parts), shape=tuple(shape))
            matrix.check_format(full_check=True)
        except (TypeError, ValueError) as exc:
            self.fail(
                where, f"its data, indices and indptr do not form a matrix ({exc})"
            )
        return matrix

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
        known = {**self.recommenders, **self.components}
        cls = known.get(name) if isinstance(name, str) else None
        if cls is None:
            self.fail(
                where,
                f"class {name!r} is not one sklearn_l3ae.load builds (it never "
                f"imports classes named in a file); it builds {', '.join(known)}",
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
        fitted = value.get("fitted")
        if fitted is None:
            return estimator
        if not isinstance(fitted, dict):
            self.fail(where, "malformed fitted state")
        state = {}
        for key, raw in fitted.items():
            if not _FITTED_NAME.match(key):
                self.fail(where, f"unexpected fitted attribute {key!r}")
            state[key] = self.value(raw, f"{where}.{key}")
        restore_fitted_state(estimator, state)
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
