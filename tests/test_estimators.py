"""Behaviour of EASERecommender, SemanticCorrelation and L3AERecommender."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer, StandardScaler

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
)
from sklearn_l3ae._core import ranking
from sklearn_l3ae._core.ranking import top_k

from ._numerics import (
    assert_rankings_match,
    assert_scores_match,
    product_error_bound,
    row_tie_tolerance,
)
from ._reference import (
    ease_reference,
    l3ae_reference,
    random_interactions,
    relative_error,
    semantic_reference,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = random_interactions(rng, 200, 40)
    F = rng.standard_normal((40, 6))
    return X, F


def _l3ae(F, **params):
    params.setdefault("reg_X", -2.0)
    params.setdefault("reg_E", 20.0)
    return L3AERecommender(SemanticCorrelation(reg=3.0), item_embeddings=F, **params)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_l3ae_fit_matches_paper_formula(data, dtype, tol):
    X, F = data
    model = _l3ae(F, dtype=dtype).fit(sparse.csr_array(X))
    expected = l3ae_reference(X, semantic_reference(F, 3.0), -2.0, 20.0)
    assert model.coef_.dtype == dtype
    assert relative_error(model.coef_, expected) < tol
    np.testing.assert_array_equal(np.diagonal(model.coef_), 0.0)
    assert model.semantic_ is not None and model.semantic_ is not model.semantic
    assert model.n_features_in_ == 40
    np.testing.assert_array_equal(model.item_popularity_, (X > 0).sum(axis=0))


def test_ease_fit_matches_steck(data):
    X, _ = data
    model = EASERecommender(reg=11.0, dtype=np.float64).fit(X)
    assert relative_error(model.coef_, ease_reference(X, 11.0)) < 1e-10


def test_default_semantic_for_embeddings_is_semantic_correlation(data):
    X, F = data
    model = L3AERecommender(item_embeddings=F, dtype=np.float64).fit(X)
    assert isinstance(model.semantic_, SemanticCorrelation)
    expected = l3ae_reference(X, semantic_reference(F, 10.0), -50.0, 150.0)
    assert relative_error(model.coef_, expected) < 1e-8


def test_semantic_pipeline_without_structure_uses_dense_path(data):
    """A Pipeline's last step coef_ is used; StandardScaler changes F first."""
    X, F = data
    semantic = make_pipeline(StandardScaler(), SemanticCorrelation(reg=3.0))
    model = L3AERecommender(
        semantic, item_embeddings=F, reg_X=1.0, reg_E=5.0, dtype=np.float64
    ).fit(X)
    F_scaled = StandardScaler().fit_transform(F)
    expected = l3ae_reference(X, semantic_reference(F_scaled, 3.0), 1.0, 5.0)
    assert relative_error(model.coef_, expected) < 1e-8


def test_cold_items_get_semantic_weights():
    """An item without interactions is reached through C only (EASE gives 0)."""
    rng = np.random.default_rng(1)
    X = random_interactions(rng, 100, 12)
    X[:, 11] = 0.0
    F = rng.standard_normal((12, 3))
    l3ae = _l3ae(F, reg_X=1.0, reg_E=5.0).fit(X)
    ease = EASERecommender(reg=6.0).fit(X)
    np.testing.assert_array_equal(ease.coef_[:, 11], 0.0)
    assert np.abs(l3ae.coef_[:, 11]).max() > 1e-3


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "dense"])
def test_input_formats_agree(data, fmt):
    X, F = data
    X_in = X if fmt == "dense" else sparse.coo_matrix(X).asformat(fmt)
    model = _l3ae(F, dtype=np.float64).fit(X_in)
    reference = _l3ae(F, dtype=np.float64).fit(X)
    # Binary X: the Gram matrix is exact integers whatever the format, so the
    # fits factorize the same matrix with the same calls.
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    # Scoring sparse rows and dense rows runs different products.
    scores = reference.decision_function(X)
    bound = 2 * product_error_bound(X, reference.coef_, np.float64)
    assert_scores_match(model.decision_function(X_in), scores, bound)
    assert_rankings_match(
        model.predict(X_in), reference.predict(X), scores, row_tie_tolerance(bound)
    )


def test_fold_in_scores_unseen_users_with_B(data, monkeypatch):
    X, F = data
    model = _l3ae(F, dtype=np.float64).fit(X[:150])
    monkeypatch.setattr(ranking, "SCORE_BATCH_BYTES", 3 * 40 * 8)  # batches of 3
    new_users = X[150:]
    scores = model.decision_function(sparse.csr_array(new_users))
    expected = new_users @ model.coef_
    expected[new_users > 0] = -np.inf
    bound = 2 * product_error_bound(new_users, model.coef_, np.float64)
    assert_scores_match(scores, expected, bound)


def _brute_force_top_k(scores, k):
    """Full stable sort by (-score, index); -inf never recommended."""
    out = []
    for row in scores:
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))
        ranked = [i for i in order if row[i] != -np.inf][:k]
        out.append(ranked + [-1] * (k - len(ranked)))
    return np.array(out, dtype=np.int64).reshape(len(scores), k)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 12),
    st.data(),
)
def test_top_k_matches_brute_force(n_rows, n_items, draw):
    k = draw.draw(st.integers(1, n_items))
    # Few distinct values force ties, also at the selection boundary.
    values = draw.draw(
        st.lists(
            st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0]),
            min_size=n_rows * n_items,
            max_size=n_rows * n_items,
        )
    )
    scores = np.array(values).reshape(n_rows, n_items)
    np.testing.assert_array_equal(top_k(scores, k)[0], _brute_force_top_k(scores, k))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_predict_never_returns_seen_items_and_ranks_by_score(seed):
    rng = np.random.default_rng(seed)
    X = random_interactions(rng, 60, 15, density=0.3)
    model = EASERecommender(reg=2.0, top_k=6, dtype=np.float64).fit(X)
    users = X[:10]
    top = model.predict(users)
    scores = users @ model.coef_
    scores[users > 0] = -np.inf
    np.testing.assert_array_equal(top, _brute_force_top_k(scores, 6))
    for row, items in zip(users, top, strict=True):
        assert not np.any(row[items[items >= 0]] > 0)


def test_predict_pads_with_minus_one_when_few_items_are_unseen():
    X = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    model = EASERecommender(reg=1.0, top_k=3).fit(X)
    np.testing.assert_array_equal(model.predict([[1, 1, 0]])[0, 1:], [-1, -1])
    assert model.predict([[1, 1, 1]]).tolist() == [[-1, -1, -1]]


def test_predict_clips_top_k_to_the_number_of_items():
    X = np.eye(4)[[0, 1, 2, 3, 0, 1]]
    assert EASERecommender(reg=1.0, top_k=50).fit(X).predict(X).shape == (6, 4)


def test_ties_are_broken_by_lower_item_index():
    """A user without history scores every item 0: an exact tie."""
    X = random_interactions(np.random.default_rng(2), 30, 6)
    model = EASERecommender(reg=1.0, top_k=4).fit(X)
    users = np.zeros((2, 6))
    users[1, 1] = 1.0
    np.testing.assert_array_equal(model.decision_function(users[:1]), 0.0)
    assert model.predict(users[:1]).tolist() == [[0, 1, 2, 3]]
    scores = model.decision_function(users[1:])[0]
    expected = sorted(np.flatnonzero(scores > -np.inf), key=lambda i: (-scores[i], i))
    assert model.predict(users[1:]).tolist() == [expected[:4]]


def test_score_is_ndcg_at_top_k(data):
    X, F = data
    rng = np.random.default_rng(3)
    held_out = (rng.random(X.shape) < 0.05) & (X == 0)
    held_out[0] = False  # a user without held-out items is skipped
    model = _l3ae(F, top_k=5).fit(X)
    top = model.predict(X)
    values = []
    for items, relevant in zip(top, held_out, strict=True):
        if relevant.any():
            dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(items) if relevant[i])
            idcg = sum(1 / np.log2(r + 2) for r in range(min(5, relevant.sum())))
            values.append(dcg / idcg)
    assert model.score(X, sparse.csr_array(held_out)) == pytest.approx(np.mean(values))


def test_score_rejects_a_target_of_the_wrong_shape(data):
    X, _ = data
    model = EASERecommender(reg=1.0).fit(X)
    with pytest.raises(ValueError, match=r"held-out interaction matrix.*\(200, 40\)"):
        model.score(X, np.zeros(200))


def test_non_binary_values_are_weights_and_binarizer_composes(data):
    X, F = data
    weighted = X * np.random.default_rng(4).integers(1, 6, X.shape)
    raw = EASERecommender(reg=5.0, dtype=np.float64).fit(weighted)
    assert relative_error(raw.coef_, ease_reference(weighted, 5.0)) < 1e-10
    pipe = make_pipeline(Binarizer(), EASERecommender(reg=5.0, dtype=np.float64))
    pipe.fit(weighted)
    np.testing.assert_allclose(pipe[-1].coef_, ease_reference(X, 5.0), atol=1e-10)
    # The same float64 computation on the same binary values (same shapes,
    # same process): bitwise equal, as the user guide's Reproducibility promises.
    binary = EASERecommender(reg=5.0, dtype=np.float64).fit(X)
    np.testing.assert_array_equal(pipe.predict(weighted), binary.predict(X))


def test_grid_search_over_both_phases_with_held_out_target(data):
    X, F = data
    rng = np.random.default_rng(5)
    y = ((rng.random(X.shape) < 0.05) & (X == 0)).astype(float)
    everyone = np.arange(X.shape[0])
    search = GridSearchCV(
        _l3ae(F, top_k=10),
        {"reg_E": [0.0, 20.0], "semantic__reg": [1.0, 30.0]},
        cv=[(everyone, everyone)],
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = clone(_l3ae(F, top_k=10)).set_params(**search.best_params_).fit(X)
    assert search.best_score_ == pytest.approx(best.score(X, y))
    # The refit is the same call on the same inputs: the same bits.
    np.testing.assert_array_equal(search.best_estimator_.coef_, best.coef_)


def test_pickle_round_trip(data):
    X, F = data
    model = _l3ae(F).fit(X)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.coef_, model.coef_)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_dataframe_columns_become_feature_names(data):
    import pandas as pd

    X, _ = data
    frame = pd.DataFrame(X, columns=[f"item{i}" for i in range(X.shape[1])])
    model = EASERecommender(reg=1.0).fit(frame)
    assert model.feature_names_in_[3] == "item3"
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = model.predict(X)
    np.testing.assert_array_equal(model.predict(frame), from_array)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"reg_E": -1.0}, "reg_E"),
        ({"top_k": 0}, "top_k"),
        ({"reg_X": np.inf}, "reg_X"),
        ({"dtype": np.int32}, "np.float32 or np.float64"),
        ({"dtype": "complex"}, "np.float32 or np.float64"),
        ({"semantic": "not an estimator"}, "semantic"),
    ],
)
def test_bad_parameters_are_rejected(data, params, match):
    X, _ = data
    with pytest.raises((ValueError, TypeError), match=match):
        L3AERecommender(**params).fit(X)


def test_semantic_correlation_rejects_nonpositive_reg():
    with pytest.raises(ValueError, match="reg"):
        SemanticCorrelation(reg=0.0).fit(np.eye(3))


def test_indefinite_regularization_names_parameters_and_bound():
    X = random_interactions(np.random.default_rng(6), 300, 20, density=0.5)
    lam_min = np.linalg.eigvalsh(X.T @ X)[0]
    model = L3AERecommender(reg_X=-lam_min - 60.0, reg_E=50.0)
    with pytest.raises(ValueError, match=r"reg_X \+ reg_E") as info:
        model.fit(X)
    assert f"{-lam_min:.4g}"[:5] in str(info.value)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize(
    "X, reason",
    [
        (random_interactions(np.random.default_rng(7), 10, 20), "fewer users"),
        (
            np.hstack(
                [
                    random_interactions(np.random.default_rng(8), 50, 5),
                    np.zeros((50, 1)),
                ]
            ),
            "item column 5 has no interactions",
        ),
    ],
)
def test_singular_gram_is_refused_before_factorizing(X, reason):
    with pytest.raises(ValueError, match=reason):
        EASERecommender(reg=0.0).fit(X)


def test_item_data_errors(data):
    X, F = data
    with pytest.raises(ValueError, match="either item_texts or item_embeddings"):
        L3AERecommender(item_texts=["a"] * 40, item_embeddings=F).fit(X)
    with pytest.raises(ValueError, match="item_embeddings has 39 entries but X has 40"):
        L3AERecommender(item_embeddings=F[:39]).fit(X)
    with pytest.raises(ValueError, match="no item data"):
        L3AERecommender(SemanticCorrelation()).fit(X)
    with pytest.raises(ValueError, match=r"coef_ of shape \(40, 40\)"):
        L3AERecommender(StandardScaler(), item_embeddings=F).fit(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (-np.eye(3), "Negative values"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.zeros((0, 3)), "0 sample"),
    ],
)
def test_bad_interactions_are_rejected(X, match):
    with pytest.raises(ValueError, match=match):
        EASERecommender().fit(X)


def test_scoring_checks_the_number_of_items(data):
    X, _ = data
    model = EASERecommender(reg=1.0).fit(X)
    with pytest.raises(ValueError, match="40 features"):
        model.predict(X[:, :39])


def test_item_texts_errors_name_the_problem(data):
    X, _ = data
    texts = [f"item {i}" for i in range(40)]
    with pytest.raises(ValueError, match="item_texts has 41 entries but X has 40"):
        L3AERecommender(item_texts=texts + ["one too many"]).fit(X)
    texts[7] = None
    with pytest.raises(TypeError, match="7"):
        L3AERecommender(item_texts=texts).fit(X)
    with pytest.raises(ValueError, match="item_texts"):
        L3AERecommender(item_texts="a single string").fit(X)


def test_numerical_failure_with_positive_reg_says_precision():
    X = (np.random.default_rng(9).random((20, 300)) < 0.9).astype(float)
    with pytest.raises(ValueError, match="too small for the precision.*float64"):
        EASERecommender(reg=1e-6).fit(X)


def test_bad_regularization_is_refused_before_encoding_texts():
    """The default hub model is never loaded (offline it could not be)."""
    X = random_interactions(np.random.default_rng(10), 10, 20)
    texts = [f"item {i}" for i in range(20)]
    with pytest.raises(ValueError, match=r"reg_X \+ reg_E = -50.*choose"):
        L3AERecommender(item_texts=texts, reg_X=-100.0, reg_E=50.0).fit(X)


def test_dense_coef_keeps_the_fit_dtype():
    semantic = SemanticCorrelation(reg=1.0).fit(np.eye(6)[:, :3])
    semantic.set_params(dtype=np.float64)
    assert semantic.coef_.dtype == np.float32


def test_dir_lists_coef_without_forming_it():
    """Tab completion must not form the dense C (n_items² entries)."""
    semantic = SemanticCorrelation(reg=1.0)
    assert "coef_" not in dir(semantic)
    semantic.fit(np.random.default_rng(0).standard_normal((8, 3)))
    names = dir(semantic)
    assert "coef_" in names and "fit" in names and "correlation_factors_" in names
    assert semantic._dense_coef is None  # still structured
    assert semantic.coef_.shape == (8, 8)


@pytest.mark.parametrize(
    "model",
    [
        EASERecommender(reg=1.0),
        L3AERecommender(item_embeddings=np.eye(6, 3), reg_X=1.0, reg_E=2.0),
    ],
    ids=["ease", "l3ae"],
)
def test_overflowing_fit_raises_without_numpy_warnings(model):
    """The finite check reports overflow; NumPy's own warnings stay silent."""
    X = np.ones((8, 6), dtype=np.float32) * 3e30  # XᵀX overflows float32
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="contain NaN or inf"):
            model.fit(X)
