"""save/load: bit-exact round trips, refusal of bad files, atomic writes, pickle."""

import hashlib
import io
import json
import os
import pickle
import zipfile

import joblib
import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline

import sklearn_l3ae
from sklearn_l3ae import (
    AnisotropyControl,
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    persistence,
)
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    AlphaRec,
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    ItemKNNRecommender,
    LightGCN,
    PopularityRecommender,
    RLMRec,
    SemanticEASERecommender,
)
from sklearn_l3ae.persistence import ModelFileError, load, save

from ._reference import random_interactions

N_USERS, N_ITEMS = 50, 14
LABELS = [f"item-{i:02d}" for i in range(N_ITEMS)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = random_interactions(rng, N_USERS, N_ITEMS, density=0.3)
    F = rng.standard_normal((N_ITEMS, 5))
    return X, F


def _estimators(F):
    return {
        "ease": EASERecommender(reg=2.0, item_ids=LABELS),
        "ease-float64": EASERecommender(reg=2.0, dtype=np.float64),
        "l3ae": L3AERecommender(item_embeddings=F, reg_X=-1.0, reg_E=5.0),
        "l3ae-no-item-data": L3AERecommender(reg_X=1.0, reg_E=2.0, top_k=3),
        "l3ae-dense-C": L3AERecommender(
            item_embeddings=np.hstack([F, F, F]), reg_X=1.0, reg_E=5.0
        ),
        "l3ae-pipeline": L3AERecommender(
            semantic=make_pipeline(
                AnisotropyControl(reg=1.0), SemanticCorrelation(reg=3.0)
            ),
            item_embeddings=F,
            item_ids=np.array(LABELS, dtype=object),
            reg_X=1.0,
            reg_E=5.0,
            dropout=0.2,
            xi=None,
            dtype="float64",
        ),
        "rlae": RLAERecommender(reg=2.0, xi=0.3),
        "dlae": DLAERecommender(reg=2.0, dropout=0.4, xi=0.0),
        "rdlae": RDLAERecommender(reg=2.0, item_ids=list(range(100, 100 + N_ITEMS))),
        "semantic-ease": SemanticEASERecommender(item_embeddings=F),
        "additive-ease": AdditiveEASERecommender(
            item_embeddings=F, reg=2.0, text_share=0.3
        ),
        "collective-ease": CollectiveEASERecommender(item_embeddings=F, reg=2.0),
        "popularity": PopularityRecommender(top_k=4),
        "als": ALSRecommender(factors=3, iterations=2, random_state=0),
        "bpr": BPRRecommender(factors=3, iterations=2, random_state=0),
        "item-knn": ItemKNNRecommender(n_neighbors=3, item_ids=LABELS),
        "lightgcn": LightGCN(factors=3, epochs=2, random_state=0),
        "rlmrec": RLMRec(
            item_embeddings=F, alignment="gen", factors=3, epochs=2, random_state=0
        ),
        "alpharec": AlphaRec(
            item_embeddings=F, factors=3, n_negatives=3, epochs=2, random_state=0
        ),
    }


def _fitted(estimator):
    """Every fitted attribute of an estimator and of the estimators it holds."""
    state = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") and name not in ("_fit_dtype", "_dense_coef"):
            continue
        if isinstance(value, Pipeline):
            for i, (_, step) in enumerate(value.steps):
                state.update({f"{name}.{i}.{k}": v for k, v in _fitted(step).items()})
        elif hasattr(value, "get_params"):
            state.update({f"{name}.{k}": v for k, v in _fitted(value).items()})
        elif isinstance(value, tuple):  # LowRankCorrelation
            state.update({f"{name}.{i}": v for i, v in enumerate(value)})
        else:
            state[name] = value
    return state


def _assert_same_fitted_state(loaded, original):
    expected, actual = _fitted(original), _fitted(loaded)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert isinstance(actual[name], np.ndarray), name
            assert actual[name].dtype == value.dtype, name
            assert np.array_equal(actual[name], value), name
        elif sparse.issparse(value):  # comes back as a canonical csr_array
            got, value = actual[name], sparse.csr_array(value)
            assert isinstance(got, sparse.csr_array) and got.dtype == value.dtype
            value.sort_indices()
            for part in ("data", "indices", "indptr"):
                assert np.array_equal(getattr(got, part), getattr(value, part)), name
        else:
            assert actual[name] == value and type(actual[name]) is type(value), name


def _assert_same_params(loaded, original):
    expected = original.get_params(deep=True)
    actual = loaded.get_params(deep=True)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert actual[name].dtype == value.dtype, name
            np.testing.assert_array_equal(actual[name], value)
        elif hasattr(value, "get_params") or name.endswith("steps"):
            assert type(actual[name]) is type(value), name
            assert repr(actual[name]) == repr(value), name
        else:
            assert actual[name] == value and type(actual[name]) is type(value), name


@pytest.mark.parametrize("name", list(_estimators(np.zeros((N_ITEMS, 5)))))
def test_round_trip_is_bit_exact(data, tmp_path, name):
    """The promise of docs/persistence.rst: the loaded model is the saved one
    bit for bit, so the same calls give the same bits."""
    X, F = data
    model = _estimators(F)[name].fit(X)
    path = tmp_path / "model.npz"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model)
    _assert_same_params(loaded, model)
    _assert_same_fitted_state(loaded, model)
    np.testing.assert_array_equal(
        loaded.decision_function(X[:10]), model.decision_function(X[:10])
    )
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for got, expected in zip(
        loaded.recommend(X, n=5), model.recommend(X, n=5), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    if name != "als":  # a reloaded model refits the same
        np.testing.assert_array_equal(loaded.fit(X).predict(X), model.predict(X))


def test_round_trip_keeps_the_semantic_correlation(data, tmp_path):
    X, F = data
    model = _estimators(F)["l3ae-pipeline"].fit(X)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.semantic_[-1]._dense_coef is None  # still structured
    np.testing.assert_array_equal(loaded.semantic_[-1].coef_, model.semantic_[-1].coef_)
    for got, expected in zip(
        loaded.similar_items(LABELS[:3], source="semantic"),
        model.similar_items(LABELS[:3], source="semantic"),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(
        loaded.explain(X[0], int(np.flatnonzero(X[0] == 0)[0]), as_labels=False)[1],
        model.explain(X[0], int(np.flatnonzero(X[0] == 0)[0]), as_labels=False)[1],
    )


def test_round_trip_of_a_dataframe_fit(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, F = data
    frame = pd.DataFrame(X, columns=LABELS)
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(frame)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.feature_names_in_.dtype == object
    _assert_same_fitted_state(loaded, model)
    np.testing.assert_array_equal(
        loaded.recommend(frame, n=3)[0], model.recommend(frame, n=3)[0]
    )


def test_texts_and_sentence_encoder_round_trip(data, tmp_path, monkeypatch):
    """The encoder is rebuilt from its parameters; the model loads lazily."""
    X, F = data

    class FakeModel:
        def get_sentence_embedding_dimension(self):
            return F.shape[1]

    monkeypatch.setattr(SentenceEncoder, "_resolve_model", lambda self: FakeModel())
    monkeypatch.setattr(
        SentenceEncoder,
        "transform",
        lambda self, texts: F[[int(text.split()[-1]) for text in texts]],
    )
    texts = np.array([f"text of item {i}" for i in range(N_ITEMS)], dtype=object)
    encoder = SentenceEncoder(model="/models/minilm", normalize=False, batch_size=8)
    model = L3AERecommender(
        semantic=make_pipeline(encoder, SemanticCorrelation(reg=2.0)),
        item_texts=texts,
        item_ids=LABELS,
        reg_X=1.0,
        reg_E=5.0,
    ).fit(X)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    _assert_same_params(loaded, model)
    _assert_same_fitted_state(loaded, model)
    assert loaded.item_texts.dtype == object
    assert loaded.semantic_[0].get_params() == encoder.get_params()
    summary = _metadata(_members(tmp_path / "model.npz"))["summary"]
    assert summary == {
        "n_items": N_ITEMS,
        "dtype": "float32",
        "item_ids": "model.item_ids_",
        "encoder_model": "/models/minilm",
        "embedding_dim": F.shape[1],
        "normalize_embeddings": False,
    }


def test_metadata_records_versions_and_checksums(data, tmp_path):
    X, F = data
    save(_estimators(F)["l3ae"].fit(X), tmp_path / "model.npz")
    members = _members(tmp_path / "model.npz")
    metadata = _metadata(members)
    assert metadata["format"] == "sklearn-l3ae-model"
    assert metadata["format_version"] == persistence.FORMAT_VERSION
    assert metadata["package_version"] == sklearn_l3ae.__version__
    assert metadata["estimator"]["__estimator__"] == "L3AERecommender"
    assert metadata["estimator"]["params"]["reg_E"] == 5.0
    assert metadata["summary"]["embedding_dim"] == 5
    for member, record in metadata["arrays"].items():
        digest = hashlib.sha256(members[member].tobytes()).hexdigest()
        assert record["sha256"] == digest
    # No member is an object (pickled) array.
    assert all(array.dtype != object for array in members.values())


def test_extras_round_trip(data, tmp_path):
    X, _ = data
    X_csr = sparse.csr_array(X)
    extras = {
        "X": sparse.csr_matrix(X_csr, dtype=np.float32),
        "indices": X_csr.indices,
        "user_ids": np.array([f"user {u}" for u in range(N_USERS)], dtype=object),
        "item_titles": [f"Title {i} — é" for i in range(N_ITEMS)],
        "flags": np.array([True, False]),
        "tuned_reg": np.array(500.0),  # 0-d stays 0-d (not shape (1,))
    }
    model = EASERecommender(reg=2.0).fit(X)
    save(model, tmp_path / "model.npz", extras=extras)
    loaded, got = load(tmp_path / "model.npz", return_extras=True)
    assert isinstance(loaded, EASERecommender)
    assert got.keys() == extras.keys()
    for key, value in extras.items():
        if key != "X":
            np.testing.assert_array_equal(got[key], np.asarray(value))
    assert got["user_ids"].dtype.kind == "U"  # object str arrays come back as 'U'
    assert got["tuned_reg"].shape == ()
    # A sparse matrix comes back as a csr_array, with its dtype and values.
    assert isinstance(got["X"], sparse.csr_array) and got["X"].dtype == np.float32
    np.testing.assert_array_equal(got["X"].toarray(), X.astype(np.float32))
    assert isinstance(load(tmp_path / "model.npz"), EASERecommender)
    save(model, tmp_path / "plain.npz")
    assert load(tmp_path / "plain.npz", return_extras=True)[1] == {}


@pytest.mark.parametrize(
    "extras, error, match",
    [
        ({"bad": np.array([{}, 1], dtype=object)}, TypeError, "object array"),
        ({"bad": np.array([b"x"])}, TypeError, "dtype"),
        ({"a/b": np.zeros(2)}, ValueError, "extras keys"),
        ({"": np.zeros(2)}, ValueError, "extras keys"),
        ({3: np.zeros(2)}, ValueError, "extras keys"),
        ([("a", np.zeros(2))], TypeError, "dict of str to arrays"),
    ],
)
def test_bad_extras_are_refused_before_writing(data, tmp_path, extras, error, match):
    X, _ = data
    with pytest.raises(error, match=match):
        save(EASERecommender(reg=2.0).fit(X), tmp_path / "model.npz", extras=extras)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "model",
    [
        LinearRegression(),
        make_pipeline(SemanticCorrelation()),
    ],
)
def test_unsupported_estimators_are_refused(data, tmp_path, model):
    X, _ = data
    model.fit(X, np.zeros(N_USERS))
    with pytest.raises(TypeError, match="supports .*EASERecommender.*L3AERecommender"):
        save(model, tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_unstorable_parameters_are_refused(data, tmp_path):
    X, F = data
    pytest.importorskip("implicit")
    model = ALSRecommender(
        factors=2, iterations=1, random_state=np.random.RandomState(0)
    )
    with pytest.raises(TypeError, match=r"ALSRecommender\.random_state: a RandomState"):
        save(model.fit(X), tmp_path / "model.npz")
    semantic = make_pipeline(LinearRegression(), SemanticCorrelation(reg=1.0))
    model = L3AERecommender(semantic=semantic, item_embeddings=F)
    model.coef_ = np.zeros((N_ITEMS, N_ITEMS))  # save stops at the class: no fit
    with pytest.raises(TypeError, match="LinearRegression is not one of the classes"):
        save(model, tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_models_are_refused(tmp_path):
    with pytest.raises(NotFittedError):
        save(EASERecommender(), tmp_path / "model.npz")


# --- refusing bad files --------------------------------------------------------


def _members(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _write(path, members):
    with open(path, "wb") as file:
        np.savez(file, **members)


def _metadata(members):
    return json.loads(members["metadata"].tobytes().decode("utf-8"))


def _set_metadata(members, metadata, *, fix_checksum):
    text = json.dumps(metadata).encode("utf-8")
    members["metadata"] = np.frombuffer(text, dtype=np.uint8)
    if fix_checksum:
        members["metadata_sha256"] = np.array(hashlib.sha256(text).hexdigest())


@pytest.fixture
def saved(data, tmp_path):
    X, F = data
    path = tmp_path / "model.npz"
    save(_estimators(F)["l3ae-pipeline"].fit(X), path, extras={"user_ids": ["a"]})
    return path


def test_a_truncated_file_is_refused(saved):
    content = saved.read_bytes()
    saved.write_bytes(content[: len(content) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load(saved)


@pytest.mark.parametrize(
    "content", [b"", b"not a model at all\n" * 10, pickle.dumps({"a": 1})]
)
def test_a_file_that_is_not_a_zip_is_refused(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not a.* sklearn-l3ae model") as error:
        load(path)
    # Never numpy's advice to retry with allow_pickle=True.
    assert "pickle" not in str(error.value)


def test_other_numpy_files_are_refused(tmp_path):
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(ModelFileError, match="single .npy array"):
        load(tmp_path / "array.npy")
    np.savez(tmp_path / "arrays.npz", a=np.arange(3))
    with pytest.raises(ModelFileError, match="no metadata member"):
        load(tmp_path / "arrays.npz")


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.npz")


def test_a_changed_array_is_detected(saved):
    members = _members(saved)
    coef = members["model.coef_"].copy()
    coef[3, 4] = np.nextafter(coef[3, 4], np.inf)  # one ulp
    members["model.coef_"] = coef
    _write(saved, members)
    with pytest.raises(ModelFileError, match="'model.coef_' does not match its"):
        load(saved)


def test_a_changed_extra_is_detected(saved):
    members = _members(saved)
    members["extras.user_ids"] = np.array(["b"])
    _write(saved, members)
    with pytest.raises(ModelFileError, match="'extras.user_ids' does not match"):
        load(saved)


def _forge(members, member, array):
    """Replace an array and re-sign everything: an edit that passes checksums."""
    members[member] = array
    metadata = _metadata(members)
    metadata["arrays"][member] = {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(),
    }
    _set_metadata(members, metadata, fix_checksum=True)


@pytest.mark.parametrize(
    "part, forged",
    [
        ("indptr", lambda indptr: indptr[::-1].copy()),
        ("indices", lambda indices: np.full_like(indices, 10**6)),
        ("data", lambda data: data[:-1].copy()),
    ],
)
def test_sparse_arrays_that_form_no_matrix_are_refused(data, tmp_path, part, forged):
    X, _ = data
    path = tmp_path / "model.npz"
    model = ItemKNNRecommender(n_neighbors=3).fit(X)
    save(model, path, extras={"X": sparse.csr_array(X)})
    for member in (f"model.coef_.{part}", f"extras.X.{part}"):
        members = _members(path)
        _forge(members, member, forged(members[member]))
        _write(tmp_path / "forged.npz", members)
        with pytest.raises(ModelFileError, match="do not form a matrix"):
            load(tmp_path / "forged.npz", return_extras=True)


def test_a_flipped_byte_inside_the_archive_is_detected(saved):
    content = bytearray(saved.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(content))) as archive:
        info = archive.getinfo("model.coef_.npy")
    # Past the local header and the .npy header: inside the array's data.
    position = info.header_offset + 30 + len(info.filename) + 200
    content[position] ^= 0xFF
    saved.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match="model.coef_"):
        load(saved)


def test_edited_metadata_is_detected(saved):
    members = _members(saved)
    metadata = _metadata(members)
    metadata["estimator"]["params"]["reg_E"] = 6.0
    _set_metadata(members, metadata, fix_checksum=False)
    _write(saved, members)
    with pytest.raises(ModelFileError, match="does not match its SHA-256 checksum"):
        load(saved)
    del members["metadata_sha256"]
    _write(saved, members)
    with pytest.raises(ModelFileError, match="does not match its SHA-256 checksum"):
        load(saved)


def test_metadata_that_is_not_json_is_refused(saved):
    members = _members(saved)
    members["metadata"] = np.frombuffer(b"\xff{not json", dtype=np.uint8)
    _write(saved, members)
    with pytest.raises(ModelFileError, match="metadata is not UTF-8 JSON"):
        load(saved)


def test_added_or_removed_members_are_detected(saved):
    members = _members(saved)
    _write(saved, {**members, "model.extra": np.zeros(3)})
    with pytest.raises(ModelFileError, match=r"unlisted: \['model.extra'\]"):
        load(saved)
    del members["model.item_popularity_"]
    _write(saved, members)
    with pytest.raises(ModelFileError, match=r"missing: \['model.item_popularity_'\]"):
        load(saved)


def test_a_newer_format_version_is_refused(saved):
    members = _members(saved)
    metadata = _metadata(members)
    metadata["format_version"] = persistence.FORMAT_VERSION + 1
    metadata["package_version"] = "9.0"
    _set_metadata(members, metadata, fix_checksum=True)
    _write(saved, members)
    newer = persistence.FORMAT_VERSION + 1
    with pytest.raises(
        ModelFileError, match=f"format version {newer} .by sklearn-l3ae 9.0.*upgrade"
    ):
        load(saved)


def test_another_format_is_refused(saved):
    members = _members(saved)
    metadata = _metadata(members)
    metadata["format"] = "something-else"
    _set_metadata(members, metadata, fix_checksum=True)
    _write(saved, members)
    with pytest.raises(ModelFileError, match="not an sklearn-l3ae model file"):
        load(saved)


@pytest.mark.parametrize(
    "class_name", ["LinearRegression", "os.system", "builtins.eval", "BaseEstimator"]
)
def test_classes_outside_the_whitelist_are_refused(saved, class_name):
    """Even with a consistent checksum, a class name is only looked up."""
    members = _members(saved)
    metadata = _metadata(members)
    metadata["estimator"]["params"]["semantic"]["params"]["steps"][0][1][
        "__estimator__"
    ] = class_name
    _set_metadata(members, metadata, fix_checksum=True)
    _write(saved, members)
    with pytest.raises(ModelFileError, match=f"class '{class_name}' is not one"):
        load(saved)


def test_unexpected_parameters_and_attributes_are_refused(saved):
    members = _members(saved)
    metadata = _metadata(members)
    metadata["estimator"]["params"]["__class__"] = None
    _set_metadata(members, metadata, fix_checksum=True)
    _write(saved, members)
    with pytest.raises(ModelFileError, match="has no parameter '__class__'"):
        load(saved)
    metadata["estimator"]["params"].pop("__class__")
    metadata["estimator"]["fitted"]["__dict__"] = None
    _set_metadata(members, metadata, fix_checksum=True)
    _write(saved, members)
    with pytest.raises(ModelFileError, match="unexpected fitted attribute '__dict__'"):
        load(saved)


def test_edits_with_recomputed_checksums_are_still_validated(saved):
    """Checksums are not a signature: what they let through is re-validated."""
    original = _members(saved)

    def load_edited(edit):
        members = dict(original)
        metadata = _metadata(members)
        edit(metadata)
        _set_metadata(members, metadata, fix_checksum=True)
        _write(saved, members)
        return lambda: load(saved, return_extras=True)

    def bad_param(metadata):
        metadata["estimator"]["params"]["reg_E"] = "abc"

    with pytest.raises(ModelFileError, match="invalid parameters.*'reg_E'"):
        load_edited(bad_param)()

    def scalar_coef(metadata):
        metadata["estimator"]["fitted"]["coef_"] = 5

    with pytest.raises(ModelFileError, match=r"coef_ must be a numeric array of"):
        load_edited(scalar_coef)()

    def wrong_item_count(metadata):
        metadata["estimator"]["fitted"]["n_features_in_"] = 3

    with pytest.raises(ModelFileError, match=r"item_popularity_ must be .* \(3,\)"):
        load_edited(wrong_item_count)()

    def phantom_extra(metadata):
        metadata["extras"]["nope"] = {"__array__": "extras.nope"}

    with pytest.raises(ModelFileError, match=r"extras\['nope'\].*missing array"):
        load_edited(phantom_extra)()


def test_save_checks_its_path_before_any_work(data, tmp_path):
    X, _ = data
    model = EASERecommender(reg=1.0).fit(X)
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        save(model, tmp_path / "missing" / "model.npz")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        save(model, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_pickled_member_is_refused(saved):
    members = _members(saved)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in members.items():
            if name == "model.coef_":
                array = np.array([{"evil": 1}], dtype=object)
            with archive.open(f"{name}.npy", "w") as file:
                np.lib.format.write_array(file, array, allow_pickle=True)
    saved.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="'model.coef_' cannot be read"):
        load(saved)


# --- atomic writes -------------------------------------------------------------


def _failing_savez(file, **members):
    file.write(b"PK\x03\x04 half a zip")
    raise OSError("disk full")


def test_a_failed_save_keeps_the_old_file(data, tmp_path, monkeypatch):
    X, F = data
    path = tmp_path / "model.npz"
    old = EASERecommender(reg=2.0).fit(X)
    save(old, path)
    before = path.read_bytes()
    monkeypatch.setattr(persistence.np, "savez", _failing_savez)
    with pytest.raises(OSError, match="disk full"):
        save(EASERecommender(reg=9.0).fit(X), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert load(path).reg == 2.0


def test_a_failed_rename_leaves_no_temporary_file(data, tmp_path, monkeypatch):
    X, _ = data
    path = tmp_path / "model.npz"

    def failing_replace(source, target):
        raise PermissionError("read-only")

    monkeypatch.setattr(persistence.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        save(EASERecommender(reg=2.0).fit(X), path)
    assert list(tmp_path.iterdir()) == []


def test_save_writes_through_a_temporary_file_and_fsyncs(data, tmp_path, monkeypatch):
    X, _ = data
    path = tmp_path / "model.npz"
    synced, replaced = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        persistence.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd)
    )
    monkeypatch.setattr(
        persistence.os,
        "replace",
        lambda source, target: (
            replaced.append((source, target)) or real_replace(source, target)
        ),
    )
    save(EASERecommender(reg=2.0).fit(X), path)
    assert len(replaced) == 1
    source, target = replaced[0]
    assert os.path.dirname(source) == str(tmp_path) and target == path
    assert synced  # data flushed before the rename
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_save_writes_the_path_as_given(data, tmp_path):
    X, _ = data
    save(EASERecommender(reg=2.0).fit(X), tmp_path / "model.l3ae")
    assert [p.name for p in tmp_path.iterdir()] == ["model.l3ae"]
    assert isinstance(load(str(tmp_path / "model.l3ae")), EASERecommender)


# --- pickle keeps working --------------------------------------------------------


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_and_joblib_still_work(data, tmp_path, dump):
    X, F = data
    model = _estimators(F)["l3ae-pipeline"].fit(X)
    path = tmp_path / "model.pkl"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(model))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(model, path)
        loaded = joblib.load(path)
    _assert_same_fitted_state(loaded, model)
    for got, expected in zip(
        loaded.recommend(X, n=4), model.recommend(X, n=4), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
