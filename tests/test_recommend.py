"""recommend / similar_items / explain: against brute force, labels, errors."""

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    AnisotropyControl,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    SemanticCorrelation,
)
from sklearn_l3ae._core import ranking
from sklearn_l3ae.baselines import (
    ALSRecommender,
    CollectiveEASERecommender,
    PopularityRecommender,
    SemanticEASERecommender,
)

from ._numerics import (
    assert_rankings_match,
    assert_scores_match,
    contributions_bound,
    product_error_bound,
    row_tie_tolerance,
)
from ._reference import random_interactions

N_USERS, N_ITEMS = 40, 12
LABELS = [f"item-{i:02d}" for i in range(N_ITEMS)]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = random_interactions(rng, N_USERS, N_ITEMS, density=0.3)
    F = rng.standard_normal((N_ITEMS, 4))
    return X, F


def _models(F):
    return {
        "ease": EASERecommender(reg=2.0),
        "l3ae": L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0),
        "rdlae": RDLAERecommender(reg=2.0, dtype=np.float64),
        "popularity": PopularityRecommender(),
        "semantic": SemanticEASERecommender(item_embeddings=F),
    }


def _brute_force(scores, n):
    """Items by decreasing score, ties by lower index, -inf dropped and padded."""
    items = np.full((len(scores), n), -1, dtype=np.int64)
    values = np.full((len(scores), n), -np.inf)
    for u, row in enumerate(scores):
        order = np.lexsort((np.arange(len(row)), -row))
        order = order[np.isfinite(row[order]) | (row[order] > 0)][:n]
        items[u, : len(order)], values[u, : len(order)] = order, row[order]
    return items, values


@pytest.mark.parametrize("name", ["ease", "l3ae", "rdlae", "popularity", "semantic"])
@pytest.mark.parametrize("n", [1, 5, N_ITEMS, N_ITEMS + 3])
def test_recommend_is_the_sorted_decision_function(data, name, n):
    """Bitwise: recommend, predict and decision_function score the same rows
    in the same batch with the same call."""
    X, F = data
    model = _models(F)[name].fit(X)
    items, scores = model.recommend(X, n=n)
    expected_items, expected_scores = _brute_force(model.decision_function(X), n)
    assert items.shape == scores.shape == (N_USERS, n)
    assert items.dtype == np.int64
    np.testing.assert_array_equal(items, expected_items)
    np.testing.assert_array_equal(scores, expected_scores)
    assert not np.take_along_axis(X, np.maximum(items, 0), axis=1)[items >= 0].any()
    k = min(n, N_ITEMS)
    np.testing.assert_array_equal(items[:, :k], model.set_params(top_k=k).predict(X))


def test_recommend_without_filtering_seen_items(data):
    X, F = data
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    items, scores = model.recommend(sparse.csr_matrix(X), n=N_ITEMS, filter_seen=False)
    exact = X @ model.coef_.astype(np.float64)
    expected_items, expected_scores = _brute_force(exact, N_ITEMS)
    bound = product_error_bound(X, model.coef_, np.float32)
    assert_scores_match(scores, expected_scores, bound.max(axis=1, keepdims=True))
    assert_rankings_match(items, expected_items, exact, row_tie_tolerance(bound))
    assert (items >= 0).all()  # seen items fill the list too


def test_filter_items_are_never_recommended(data):
    X, F = data
    model = EASERecommender(reg=2.0, dtype=np.float64).fit(X)
    banned = [3, 7, 7, 0]
    items, scores = model.recommend(X, n=N_ITEMS, filter_items=banned)
    expected = model.decision_function(X)
    expected[:, banned] = -np.inf
    np.testing.assert_array_equal((items, scores), _brute_force(expected, N_ITEMS))
    assert not np.isin(items, banned).any()
    # An empty filter filters nothing.
    np.testing.assert_array_equal(
        model.recommend(X, filter_items=[])[0], model.recommend(X)[0]
    )


def test_padding_when_few_items_remain():
    X = np.array([[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=float)
    model = EASERecommender(reg=1.0, item_ids=["a", "b", "c", "d"]).fit(X)
    items, scores = model.recommend([[1, 1, 0, 1]], n=3, filter_items=["c"])
    assert items.tolist() == [["", "", ""]]
    assert np.isneginf(scores).all()
    items, scores = model.recommend([[1, 1, 1, 0]], n=6, as_labels=False)
    assert items.tolist() == [[3, -1, -1, -1, -1, -1]]
    assert np.isfinite(scores[0, 0]) and np.isneginf(scores[0, 1:]).all()


def test_int_labels_pad_with_minus_one():
    X = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float)
    model = EASERecommender(reg=1.0, item_ids=[10, 20, 30]).fit(X)
    items, _ = model.recommend([[1, 1, 0]], n=2)
    assert items.tolist() == [[30, -1]]
    assert model.recommend([[1, 0, 0]], n=1, filter_items=[20])[0].tolist() == [[30]]


def test_recommend_scores_in_bounded_batches(data, monkeypatch):
    X, F = data
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    expected = model.recommend(X, n=4, filter_items=[2])
    batch_sizes = []
    raw_scores = type(model)._raw_scores

    def spy(self, X_batch):
        batch_sizes.append(X_batch.shape[0])
        return raw_scores(self, X_batch)

    monkeypatch.setattr(type(model), "_raw_scores", spy)
    monkeypatch.setattr(ranking, "SCORE_BATCH_BYTES", 3 * N_ITEMS * 4)
    items, scores = model.recommend(sparse.csr_array(X), n=4, filter_items=[2])
    assert max(batch_sizes) == 3 and sum(batch_sizes) == N_USERS
    # Sparse rows in batches of 3 against dense rows in one GEMM: the same
    # scores up to the round-off of their dot products, in any order.
    bound = 2 * product_error_bound(X, model.coef_, np.float32)
    reference = X @ model.coef_.astype(np.float64)
    # The r-th best score moves by at most the row's largest bound.
    assert_scores_match(scores, expected[1], bound.max(axis=1, keepdims=True))
    assert_rankings_match(items, expected[0], reference, row_tie_tolerance(bound))


def test_item_ids_become_labels(data):
    X, F = data
    model = L3AERecommender(item_embeddings=F, item_ids=LABELS, reg_X=1.0, reg_E=5.0)
    assert model.get_params()["item_ids"] is LABELS
    model.fit(X)
    np.testing.assert_array_equal(model.item_ids_, LABELS)
    labelled, scores = model.recommend(X, n=5, filter_items=["item-03"])
    indices, same_scores = model.recommend(X, n=5, filter_items=[3], as_labels=False)
    np.testing.assert_array_equal(labelled, np.asarray(LABELS)[indices])
    np.testing.assert_array_equal(scores, same_scores)
    assert "item-03" not in labelled
    # predict returns the labels recommend does, top_k of them.
    np.testing.assert_array_equal(model.predict(X), model.recommend(X, n=N_ITEMS)[0])
    assert clone(model).get_params()["item_ids"] == LABELS


def test_dataframe_columns_become_labels(data):
    pd = pytest.importorskip("pandas")
    X, _ = data
    frame = pd.DataFrame(X, columns=LABELS)
    model = EASERecommender(reg=2.0).fit(frame)
    np.testing.assert_array_equal(model.item_ids_, LABELS)
    assert model.item_ids_.dtype.kind == "U"
    items, _ = model.recommend(frame, n=3)
    assert items.dtype.kind == "U"
    # The same labels in both places are fine; different ones are refused.
    EASERecommender(reg=2.0, item_ids=np.array(LABELS)).fit(frame)
    with pytest.raises(ValueError, match="differ from the column names"):
        EASERecommender(reg=2.0, item_ids=LABELS[::-1]).fit(frame)


def test_models_without_labels_use_indices(data):
    X, _ = data
    model = EASERecommender(reg=2.0).fit(X)
    assert model.item_ids_ is None
    items, _ = model.recommend(X, n=3)
    assert items.dtype == np.int64
    with pytest.raises(ValueError, match="knows no item labels"):
        model.recommend(X, as_labels=True)


@pytest.mark.parametrize(
    "item_ids, match",
    [
        (LABELS[:-1], "11 entries but X has 12"),
        (LABELS[:-1] + ["item-00"], "must be unique"),
        ([[label] for label in LABELS], "1-D sequence"),
        ([1.5] * N_ITEMS, "str or int labels"),
    ],
)
def test_bad_item_ids_are_refused_at_fit(data, item_ids, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        EASERecommender(reg=2.0, item_ids=item_ids).fit(X)


def test_object_item_ids_are_normalized(data):
    X, _ = data
    ids = np.array(LABELS, dtype=object)
    assert EASERecommender(reg=2.0, item_ids=ids).fit(X).item_ids_.dtype.kind == "U"
    ints = np.arange(N_ITEMS).astype(object) + 100
    model = EASERecommender(reg=2.0, item_ids=ints).fit(X)
    assert model.item_ids_.dtype == np.int64


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "3", None])
def test_bad_n_is_refused(data, n):
    X, _ = data
    model = EASERecommender(reg=2.0).fit(X)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        model.recommend(X, n=n)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        model.similar_items(0, n=n)


def test_bad_filter_items_are_refused(data):
    X, _ = data
    model = EASERecommender(reg=2.0).fit(X)
    with pytest.raises(ValueError, match=r"out of range \[0, 12\): \[12, -1\]"):
        model.recommend(X, filter_items=[0, 12, -1])
    with pytest.raises(ValueError, match="must be item column indices"):
        model.recommend(X, filter_items=["item-00"])
    with pytest.raises(ValueError, match="shape"):
        model.recommend(X, filter_items=[[0, 1]])
    labelled = EASERecommender(reg=2.0, item_ids=LABELS).fit(X)
    with pytest.raises(ValueError, match=r"1 unknown item ids \(first: \['nope'\]\)"):
        labelled.recommend(X, filter_items=["item-01", "nope"])
    with pytest.raises(ValueError, match="pass as_labels=False"):
        labelled.recommend(X, filter_items=[3])
    with pytest.raises(ValueError, match="as_labels must be"):
        labelled.recommend(X, as_labels="yes")


def test_recommend_checks_the_input(data):
    X, _ = data
    model = EASERecommender(reg=2.0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.recommend(X[:, :-1])
    with pytest.raises(ValueError, match="(?i)negative"):
        model.recommend(-X)


def test_als_recommends_like_its_decision_function(data):
    pytest.importorskip("implicit")
    X, _ = data
    model = ALSRecommender(factors=3, iterations=3, random_state=0).fit(X)
    items, scores = model.recommend(X, n=4)
    np.testing.assert_array_equal(
        (items, scores), _brute_force(model.decision_function(X), 4)
    )


# --- similar_items -----------------------------------------------------------


def test_similar_items_are_rows_of_B(data):
    X, F = data
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    queries = [4, 0, 4, 11]
    items, scores = model.similar_items(queries, n=5)
    rows = model.coef_[queries].copy()
    rows[np.arange(len(queries)), queries] = -np.inf
    np.testing.assert_array_equal((items, scores), _brute_force(rows, 5))
    # They are what a user with that single item gets recommended: a score
    # with one nonzero term, 1·B[4, j], is exact in any product.
    single = np.zeros((1, N_ITEMS))
    single[0, 4] = 1
    np.testing.assert_array_equal(items[0], model.recommend(single, n=5)[0][0])


def test_similar_items_of_one_item_is_one_dimensional(data):
    X, _ = data
    model = EASERecommender(reg=2.0, item_ids=LABELS).fit(X)
    items, scores = model.similar_items("item-05", n=N_ITEMS + 1)
    assert items.shape == scores.shape == (N_ITEMS + 1,)
    assert "item-05" not in items and items[-2:].tolist() == ["", ""]
    indices, _ = model.similar_items(np.int64(5), n=3, as_labels=False)
    np.testing.assert_array_equal(np.asarray(LABELS)[indices], items[:3])


@pytest.mark.parametrize("n_dims", [4, 20])  # structured C, and dense C (d >= n)
def test_semantic_similar_items_are_rows_of_C(data, n_dims):
    X, _ = data
    F = np.random.default_rng(3).standard_normal((N_ITEMS, n_dims))
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    C = model.semantic_.coef_
    queries = np.arange(N_ITEMS)
    items, scores = model.similar_items(queries, n=N_ITEMS, source="semantic")
    rows = C.copy()
    rows[queries, queries] = -np.inf
    expected_items, expected_scores = _brute_force(rows, N_ITEMS)
    factors = model.semantic_.correlation_factors_
    if factors is None:  # d >= n: C is stored dense and its rows are read
        bound = np.zeros_like(rows)
    else:  # rows of left @ right.T, formed in float32 with other shapes than C
        left, right = (np.asarray(f, np.float32) for f in factors[1:])
        bound = 2 * product_error_bound(left, right.T, np.float32)
    assert_scores_match(scores, expected_scores, bound.max(axis=1, keepdims=True))
    assert_rankings_match(items, expected_items, rows, row_tie_tolerance(bound))


def test_semantic_similar_items_never_form_the_dense_C(data, monkeypatch):
    X, F = data
    semantic = make_pipeline(AnisotropyControl(reg=1.0), SemanticCorrelation(reg=2.0))
    model = L3AERecommender(semantic=semantic, item_embeddings=F, reg_X=1.0, reg_E=5.0)
    model.fit(X)
    expected = model.semantic_[-1].coef_
    model = clone(model).fit(X)
    from sklearn_l3ae.text import _semantic_correlation as semantic_correlation

    def refuse(*args, **kwargs):
        raise AssertionError("the dense C was formed")

    monkeypatch.setattr(semantic_correlation, "dense_correlation", refuse)
    items, scores = model.similar_items([1, 2], n=3, source="semantic")
    factors = model.semantic_[-1].correlation_factors_
    left, right = (np.asarray(f, np.float32) for f in factors[1:])
    bound = 2 * product_error_bound(left, right.T, np.float32)
    for row, query in enumerate([1, 2]):
        assert_scores_match(
            scores[row], expected[query, items[row]], bound[query, items[row]]
        )


def test_semantic_similar_items_need_a_semantic_correlation(data):
    X, F = data
    for model in (
        EASERecommender(reg=2.0),
        L3AERecommender(reg_X=1.0, reg_E=5.0),
        CollectiveEASERecommender(item_embeddings=F, reg=2.0),
    ):
        model.fit(X)
        with pytest.raises(ValueError, match="needs a semantic correlation C"):
            model.similar_items(0, source="semantic")
    with pytest.raises(ValueError, match="source must be"):
        model.similar_items(0, source="text")
    with pytest.raises(ValueError, match="out of range"):
        model.similar_items([N_ITEMS])


# --- explain -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dense-1d", "dense-2d", "csr"])
def test_explain_contributions_sum_to_the_score(data, fmt):
    X, F = data
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    user = X[7] * np.linspace(1.0, 3.0, N_ITEMS)  # weighted interactions
    row = {
        "dense-1d": user,
        "dense-2d": user[None],
        "csr": sparse.csr_array(user[None]),
    }
    scores = model.decision_function(user[None])[0]
    history = np.flatnonzero(user > 0)
    weights = user.astype(np.float32).astype(np.float64)  # as the model reads it
    bound = contributions_bound(user, model.coef_, np.float32)
    for item in np.flatnonzero(user == 0):
        items, contributions = model.explain(row[fmt], item)
        assert sorted(items.tolist()) == history.tolist()
        assert_scores_match(contributions.sum(), scores[item], bound[item])
        np.testing.assert_allclose(
            contributions,
            weights[items] * model.coef_[items, item],
            rtol=np.finfo(np.float32).eps / 2,
        )
        assert (np.diff(contributions) <= 0).all()


def test_explain_keeps_the_n_largest_with_labels(data):
    X, _ = data
    model = EASERecommender(reg=2.0, item_ids=LABELS, dtype=np.float64).fit(X)
    user = np.zeros(N_ITEMS)
    user[[1, 2, 5, 9]] = 1
    items, contributions = model.explain(user, "item-00", n=2)
    full_items, full = model.explain(user, "item-00")
    assert len(items) == 2 and len(full_items) == 4
    np.testing.assert_array_equal(items, full_items[:2])
    np.testing.assert_array_equal(contributions, full[:2])
    assert set(full_items) == {"item-01", "item-02", "item-05", "item-09"}
    indices, _ = model.explain(user, 0, as_labels=False)
    np.testing.assert_array_equal(np.asarray(LABELS)[indices], full_items)


def test_explain_breaks_ties_by_lower_index():
    X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]])
    model = EASERecommender(reg=1.0, dtype=np.float64).fit(X)
    items, contributions = model.explain([1, 0, 1, 0], 1)
    assert contributions[0] == pytest.approx(contributions[1])
    assert items.tolist() == [0, 2]


def test_explain_errors(data):
    X, _ = data
    model = EASERecommender(reg=2.0, item_ids=LABELS).fit(X)
    user = np.zeros(N_ITEMS)
    user[[1, 2]] = 1
    with pytest.raises(ValueError, match="in the user's history: it is masked"):
        model.explain(user, "item-02")
    with pytest.raises(ValueError, match="unknown item ids"):
        model.explain(user, "item-99")
    with pytest.raises(ValueError, match="out of range"):
        model.explain(user, N_ITEMS, as_labels=False)
    with pytest.raises(ValueError, match="one user's interactions, got 2 rows"):
        model.explain(np.vstack([user, user]), "item-00")
    with pytest.raises(ValueError, match="single item"):
        model.explain(user, ["item-00"])
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        model.explain(user, "item-00", n=0)
    with pytest.raises(ValueError, match="features"):
        model.explain(user[:-1], "item-00")


def test_one_user_row_gives_one_dimensional_results(data):
    X, F = data
    model = EASERecommender(reg=2.0, item_ids=LABELS).fit(X)
    items, scores = model.recommend(X[3], n=4)
    assert items.shape == scores.shape == (4,)
    as_batch = model.recommend(X[3:4], n=4)
    assert as_batch[0].shape == (1, 4)  # a 2-D batch of one stays 2-D
    np.testing.assert_array_equal(items, as_batch[0][0])  # the same call, row 0
    np.testing.assert_array_equal(scores, as_batch[1][0])


def test_candidate_items_restrict_the_ranking(data):
    X, F = data
    model = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0).fit(X)
    candidates = [1, 4, 5, 8, 11]
    items, scores = model.recommend(X, n=3, items=candidates)
    expected = model.decision_function(X)
    outside = np.setdiff1d(np.arange(N_ITEMS), candidates)
    expected[:, outside] = -np.inf
    np.testing.assert_array_equal((items, scores), _brute_force(expected, 3))
    assert np.isin(items[items >= 0], candidates).all()
    # Candidates and filtered items combine; more slots than candidates pad.
    items, scores = model.recommend(X, n=6, items=candidates, filter_items=[4])
    assert not np.isin(items, [4]).any()
    assert (items[:, 4:] == -1).all() and np.isneginf(scores[:, 4:]).all()
    labelled = L3AERecommender(
        item_embeddings=F, item_ids=LABELS, reg_X=1.0, reg_E=5.0
    ).fit(X)
    by_label, _ = labelled.recommend(X, n=3, items=[LABELS[i] for i in candidates])
    indices, _ = model.recommend(X, n=3, items=candidates)
    padded = np.where(indices >= 0, np.asarray(LABELS)[indices], "")
    np.testing.assert_array_equal(by_label, padded)
    with pytest.raises(ValueError, match=r"items has 1 unknown item ids"):
        labelled.recommend(X, items=["item-99"])
