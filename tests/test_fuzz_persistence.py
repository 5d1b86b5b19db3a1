"""Fuzz tests of ``save`` and ``load`` (issue 7, item 4): damaged model
files and forged (re-signed) metadata must be refused with a clear
``ModelFileError`` (the contract of :mod:`tests._fuzz`) or load into a model
that keeps the output contract, and ``save`` must refuse what it cannot store
without leaving a file behind.
"""

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import sklearn_l3ae
from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    load,
    save,
)
from sklearn_l3ae.baselines import (
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    PopularityRecommender,
)
from sklearn_l3ae.persistence import ModelFileError

from ._fuzz import (
    FUZZ,
    JSON_VALUES,
    WEIRD_VALUES,
    F,
    _base_matrix,
    _check_fitted_scores,
    assert_clear_error,
    assert_scores_finite_except,
    raises_clearly,
)

# --------------------------------------------------------------- persistence


SAVED = {
    "EASE": lambda: EASERecommender(reg=1.0, item_ids=list("abcdef")),
    "L3AE": lambda: L3AERecommender(item_embeddings=F, reg_X=0.5, reg_E=2.0),
    "Popularity": lambda: PopularityRecommender(item_ids=[3, 1, 4, 5, 9, 2]),
    "ALS": lambda: ALSRecommender(factors=2, iterations=2, random_state=0),
    "Collective": lambda: CollectiveEASERecommender(reg=1.0, item_embeddings=F),
}


class _QuietDict(dict):
    """A dict whose repr does not flood failure reports with file bytes."""

    def __repr__(self):
        return f"<{len(self)} model files>"


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Bytes of a saved model file of each kind (with extras)."""
    folder = tmp_path_factory.mktemp("models")
    files = _QuietDict()
    for name, make in SAVED.items():
        path = folder / f"{name}.npz"
        save(make().fit(_base_matrix(0)), path, extras={"ids": np.arange(3)})
        files[name] = path.read_bytes()
    return files


def _load_bytes(data, **kwargs):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "model.npz")
        path.write_bytes(data)
        return load(path, **kwargs)


def _check_loaded_model(model):
    """A model that load accepted must score without NaN (or refuse clearly)."""
    X = _base_matrix(3)
    try:
        items = model.predict(X)
        assert items.shape[0] == X.shape[0]
        _check_fitted_scores(model, X)
        if hasattr(model, "similar_items"):
            semantic = getattr(model, "semantic_", None) is not None
            _, scores = model.similar_items(
                0, 3, source="semantic" if semantic else "weights", as_labels=False
            )
            assert_scores_finite_except(scores, np.isneginf(scores))
    except (AssertionError, MemoryError):
        raise
    except Exception as exc:
        # Parameters that fit accepts as well (True passes scikit-learn's
        # Integral and Real constraints), refused when used; or a parameter
        # edited after the fit (ALS's alpha) that overflows the scores.
        assert_clear_error(exc, r"batch_size|top_k|memory_limit|overflow")


@pytest.mark.parametrize("name", SAVED)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_load_refuses_damaged_files(model_files, name, data):
    original = model_files[name]
    damage = data.draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if damage == "truncate":
        damaged = original[: data.draw(st.integers(0, len(original) - 1))]
    elif damage == "flip":
        at = data.draw(st.integers(0, len(original) - 1))
        bit = 1 << data.draw(st.integers(0, 7))
        damaged = original[:at] + bytes([original[at] ^ bit]) + original[at + 1 :]
    elif damage == "insert":
        at = data.draw(st.integers(0, len(original)))
        damaged = (
            original[:at] + data.draw(st.binary(min_size=1, max_size=8)) + original[at:]
        )
    else:
        damaged = data.draw(
            st.one_of(
                st.binary(max_size=300),
                st.just(b"PK\x03\x04" + bytes(40)),
                st.just(b"\x93NUMPY" + bytes(20)),
            )
        )
    try:
        model = _load_bytes(damaged)
    except AssertionError:
        raise
    except Exception as exc:
        event(f"refused: {type(exc).__name__}")
        assert_clear_error(
            exc,
            r"model file|modified|corrupt|npz|checksum|SHA-256",
            types=(ModelFileError,),
        )
        return
    # Bytes outside the zip members (e.g. its comment) may change harmlessly.
    event("loaded")
    _check_loaded_model(model)


@pytest.mark.parametrize("field, value", [("method", 99), ("flags", 1)])
def test_load_refuses_unreadable_zip_members(model_files, field, value):
    # Regression: zipfile's NotImplementedError (compression method) and
    # RuntimeError (encrypted member) escaped from load.
    data = bytearray(model_files["EASE"])
    directory = data.rindex(b"PK\x01\x02")  # the last member's central entry
    offset = {"method": 10, "flags": 8}[field]
    data[directory + offset : directory + offset + 2] = value.to_bytes(2, "little")
    raises_clearly(
        lambda: _load_bytes(bytes(data)), r"cannot be read", types=(ModelFileError,)
    )


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
            for name in archive.namelist()
        }


def _signed(members, metadata):
    """A model file with ``metadata``, its checksum recomputed (a forgery)."""
    text = json.dumps(metadata).encode("utf-8")
    members = {name[: -len(".npy")]: value for name, value in members.items()}
    members["metadata"] = np.frombuffer(text, dtype=np.uint8)
    members["metadata_sha256"] = np.array(hashlib.sha256(text).hexdigest())
    out = io.BytesIO()
    np.savez(out, **members)
    return out.getvalue()


def _paths(value, prefix=()):
    """Every path to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@pytest.mark.parametrize("name", SAVED)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_load_revalidates_edited_metadata(model_files, name, data):
    members = _members(model_files[name])
    metadata = json.loads(members["metadata.npy"].tobytes())
    paths = [path for path in _paths(metadata["estimator"]) if path]
    path = data.draw(st.sampled_from(paths), "path")
    replacement = data.draw(
        st.one_of(
            JSON_VALUES,
            WEIRD_VALUES.filter(lambda v: isinstance(v, (int, float, str, type(None)))),
            st.sampled_from(
                [
                    {"__array__": "model.coef_"},
                    {"__array__": "extras.ids"},
                    {"__estimator__": "Pipeline", "params": {}},
                    {"__dtype__": "<U3"},
                    {"__scalar_type__": "object"},
                    {"__path__": "/etc"},
                    {"__low_rank__": {}},
                ]
            ),
        ),
        "replacement",
    )
    parent = metadata["estimator"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    try:
        model = _load_bytes(_signed(members, metadata))
    except AssertionError:
        raise
    except Exception as exc:
        event(f"refused: {type(exc).__name__}")
        assert_clear_error(exc, r"model\.npz", types=(ModelFileError,))
        return
    event("loaded")
    try:
        _check_loaded_model(model)
    except MemoryError as exc:  # a valid, tiny memory_limit
        assert isinstance(exc, sklearn_l3ae.MemoryLimitError)
        assert model.memory_limit not in (None, "auto")


@pytest.mark.parametrize(
    "name, path, replacement",
    [
        ("EASE", ("fitted", "coef_", "__array__"), []),
        ("EASE", ("params", "item_ids", "__array__"), {"__array__": "model.coef_"}),
        ("EASE", ("fitted", "item_ids_"), np.nan),
        ("EASE", ("fitted", "item_ids_"), {"__array__": "model.item_popularity_"}),
        ("ALS", ("fitted", "item_factors_"), np.nan),
        ("ALS", ("fitted", "item_factors_"), {"__array__": "extras.ids"}),
        ("Collective", ("fitted", "coef_"), None),
        ("L3AE", ("fitted", "semantic_"), np.nan),
        ("L3AE", ("fitted", "semantic_", "fitted", "correlation_factors_"), None),
    ],
)
def test_forged_metadata_regressions(model_files, name, path, replacement):
    # Regressions: raw TypeErrors (unhashable member names) and models that
    # loaded but failed deep inside scoring (AttributeError, IndexError).
    members = _members(model_files[name])
    metadata = json.loads(members["metadata.npy"].tobytes())
    parent = metadata["estimator"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    raises_clearly(
        lambda: _load_bytes(_signed(members, metadata)),
        path[1] if path[0] == "fitted" else "missing array",
        types=(ModelFileError,),
    )


@settings(FUZZ, max_examples=30)
@given(
    model=st.sampled_from(
        ["fitted", "unfitted", "SemanticCorrelation", "BPR", "pipeline", None, "a"]
    ),
    path=st.sampled_from(["ok", "folder", "missing parent", "empty"]),
    extras=st.one_of(
        st.none(),
        st.just({"ids": np.arange(3)}),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["a", "b-c", "../x", "", "é", " "]), st.integers()
            ),
            st.one_of(
                st.just(np.arange(2)),
                st.just(np.array(["x"], dtype=object)),
                st.just([1, 2]),
                st.just(np.array(1 + 1j)),
                st.just({"nested": 1}),
                st.just(None),
                st.just("text"),
            ),
            max_size=2,
        ),
        st.just([("ids", np.arange(3))]),
    ),
)
def test_save_refuses_what_it_cannot_store(model, path, extras):
    from sklearn.pipeline import make_pipeline

    X = _base_matrix(0)
    estimator = {
        "fitted": lambda: EASERecommender(reg=1.0).fit(X),
        "unfitted": lambda: EASERecommender(),
        "SemanticCorrelation": lambda: SemanticCorrelation().fit(F),
        "BPR": lambda: BPRRecommender(factors=2, iterations=1).fit(X),
        "pipeline": lambda: make_pipeline(EASERecommender(reg=1.0)).fit(X),
        None: lambda: None,
        "a": lambda: "a",
    }[model]()
    with tempfile.TemporaryDirectory() as folder:
        target = {
            "ok": Path(folder, "model.npz"),
            "folder": Path(folder),
            "missing parent": Path(folder, "nowhere", "model.npz"),
            "empty": "",
        }[path]
        try:
            save(estimator, target, extras=extras)
        except AssertionError:
            raise
        except Exception as exc:
            assert_clear_error(
                exc,
                r"save|extras|fitted|folder|support|store|model",
                types=(ValueError, TypeError, OSError),
            )
            assert not Path(folder, "model.npz").exists() or path != "ok"
            assert sorted(os.listdir(folder)) in ([], ["model.npz"]), "left a file"
            return
        assert model == "fitted" and path == "ok"
        loaded, stored = load(target, return_extras=True)
        np.testing.assert_array_equal(loaded.coef_, estimator.coef_)
        assert set(stored) == set(extras or {})
