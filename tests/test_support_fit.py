"""Support-constrained fits (SPEC §7, ``n_neighbors``): exactness and scale.

Every check compares with an independent computation: the dense fit (when
the support is complete), a direct float64 solve of each column's
restricted ridge problem, brute-force neighbour lists from the dense ``G``
and ``C``, and dense rankings of the densified model.
"""

import re
import tracemalloc

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_l3ae import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    MemoryLimitError,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    load,
    save,
)
from sklearn_l3ae._core import neighbors, sparse_gram, support_fit, support_lists
from sklearn_l3ae._core.ranking import SparseScores, sparse_top_k, top_k
from sklearn_l3ae._solvers._support import faiss_available, support_fit_plan
from sklearn_l3ae.metrics import make_ranking_scorer

from ._numerics import (
    assert_rankings_match,
    product_error_bound,
    row_tie_tolerance,
    solve_tolerance,
)
from ._reference import (
    dropout_penalty_reference,
    random_interactions,
    relative_error,
    semantic_reference,
)

F64 = np.float64


def _data(seed=0, n_users=120, n_items=40, dim=8, density=0.15):
    rng = np.random.default_rng(seed)
    X = random_interactions(rng, n_users, n_items, density)
    F = rng.standard_normal((n_items, dim))
    return X, F


def _l3ae(F, **params):
    params = {"reg_X": 3.0, "reg_E": 20.0, "dtype": F64, **params}
    return L3AERecommender(
        SemanticCorrelation(reg=2.0, dtype=F64), item_embeddings=F, **params
    )


# ------------------------------------------------------ complete support


@pytest.mark.parametrize(
    "make",
    [
        lambda F: EASERecommender(reg=2.0, dtype=F64),
        lambda F: DLAERecommender(reg=2.0, dropout=0.3, dtype=F64),
        lambda F: RLAERecommender(reg=2.0, xi=0.1, dtype=F64),
        lambda F: RDLAERecommender(reg=2.0, dropout=0.25, xi=0.05, dtype=F64),
        lambda F: _l3ae(F),
        lambda F: _l3ae(F, dropout=0.2, xi=0.1),
    ],
    ids=["ease", "dlae", "rlae", "rdlae", "l3ae", "l3ae-dropout-xi"],
)
def test_complete_support_equals_the_dense_fit(make):
    """With S_j = every other item the sparse solver solves the dense problem."""
    X, F = _data()
    n_items = X.shape[1]
    dense = make(F).fit(X)
    support = make(F).set_params(n_neighbors=n_items - 1).fit(X)
    assert sparse.issparse(support.coef_)
    H = X.T @ X + (dense.reg_X if hasattr(dense, "reg_X") else dense.reg) * np.eye(
        n_items
    )
    # Two solves of systems with H's conditioning: each within (κ+16)ε.
    tolerance = 2 * solve_tolerance(H, F64)
    assert relative_error(support.coef_.toarray(), dense.coef_) <= tolerance


def test_n_neighbors_beyond_the_catalogue_is_the_complete_support():
    X, F = _data(seed=1)
    complete = _l3ae(F, n_neighbors=X.shape[1] - 1).fit(X)
    larger = _l3ae(F, n_neighbors=10 * X.shape[1]).fit(X)
    np.testing.assert_array_equal(larger.coef_.indices, complete.coef_.indices)
    np.testing.assert_allclose(
        larger.coef_.toarray(), complete.coef_.toarray(), rtol=0, atol=1e-12
    )


# ------------------------------------------------ restricted optimality


def _restricted_reference(X, C, penalty, reg_E, j, support, xi=None):
    """The minimizer over b on S ∪ {j} (b_j = 0 unless ``xi``) of column j's
    objective ||x_j − X b||² + Σ Λ_i b_i² + λ_E ||b − C[:, j]||², by a direct
    float64 solve of its normal equations; with ``xi`` the diagonal entry is
    clipped to [−ξ, ξ] and the others re-solved with it fixed."""
    X = np.asarray(X, dtype=F64)
    G = X.T @ X
    c = np.zeros(G.shape[0]) if C is None else C[:, j].copy()
    c[j] = 0.0  # C's diagonal is zero

    def solve(items):
        H = G[np.ix_(items, items)] + np.diag(penalty[items] + reg_E)
        return np.linalg.solve(H, G[items, j] + reg_E * c[items])

    if xi is None:
        return dict(zip(support.tolist(), solve(support), strict=True))
    items = np.concatenate([[j], support])
    free = solve(items)
    if abs(free[0]) <= xi:
        return dict(zip(items.tolist(), free, strict=True))
    d = float(np.clip(free[0], -xi, xi))
    H = G[np.ix_(support, support)] + np.diag(penalty[support] + reg_E)
    rest = np.linalg.solve(H, G[support, j] + reg_E * c[support] - G[support, j] * d)
    return {j: d, **dict(zip(support.tolist(), rest, strict=True))}


@pytest.mark.parametrize(
    ("params", "xi"),
    [
        ({"reg_E": 0.0}, None),
        ({}, None),
        ({"dropout": 0.3}, None),
        ({"xi": 0.05}, 0.05),
    ],
    ids=["reg_E=0", "l3ae", "dropout", "xi"],
)
def test_each_column_is_the_optimum_on_its_support(params, xi):
    """KKT: B[S_j, j] solves column j's ridge problem restricted to S_j."""
    X, F = _data(seed=2, n_users=150, n_items=60)
    k = 7
    model = _l3ae(F, n_neighbors=k, **params).fit(X)
    coef = sparse.csc_array(model.coef_)
    assert np.diff(coef.indptr).max() <= k + (xi is not None)
    C = semantic_reference(F, 2.0)
    penalty = np.diag(
        dropout_penalty_reference(X, model.reg_X, params.get("dropout", 0.0))
    )
    for j in np.random.default_rng(0).choice(X.shape[1], 12, replace=False):
        rows = coef.indices[coef.indptr[j] : coef.indptr[j + 1]]
        values = coef.data[coef.indptr[j] : coef.indptr[j + 1]]
        support = rows[rows != j]
        assert 0 < support.size <= k
        expected = _restricted_reference(X, C, penalty, model.reg_E, j, support, xi=xi)
        got = dict(zip(rows.tolist(), values, strict=True))
        if xi is None:
            assert j not in got
        assert set(got) <= set(expected)
        scale = max(abs(v) for v in expected.values())
        items = np.array(sorted(expected))
        G = X.T @ X
        H = G[np.ix_(items, items)] + np.diag(penalty[items] + model.reg_E)
        # Both are solves with (a block of) H: each within (κ + 16)ε.
        tolerance = 2 * solve_tolerance(H, F64) * scale
        for item, value in expected.items():
            assert abs(got.get(item, 0.0) - value) <= tolerance


def _listed_places(k):
    """Places of a support filled from the candidate lists (the rest are
    the KKT violators of a first solve)."""
    return k - support_fit.grown_places(k, complete=False)


def _first_stage(G, C, j, k, share):
    """Brute force of the listed part of S_j: the best co-occurrence and
    semantic candidates, places a side cannot fill going to the next ones,
    co-occurrence first (SPEC §7)."""
    cosine = G[:, j] / np.sqrt(np.diag(G))
    cooccurrence = [
        i for i in np.argsort(-cosine, kind="stable") if i != j and G[i, j] > 0
    ]
    semantic = [i for i in np.argsort(-np.abs(C[:, j]), kind="stable") if i != j]
    n_semantic = int(round(share * k))
    n_cooccurrence = k - n_semantic
    ordered = (
        cooccurrence[:n_cooccurrence]
        + semantic[:n_semantic]
        + cooccurrence[n_cooccurrence:]
        + semantic[n_semantic:]
    )
    return list(dict.fromkeys(ordered))[:k]


def test_supports_join_the_strongest_cooccurrence_and_semantic_neighbours():
    """Brute force from dense G and C: half the listed places go to each
    side."""
    rng = np.random.default_rng(3)
    # Weighted interactions: distinct Gram entries, no ties to break.
    X = random_interactions(rng, 200, 50, 0.2) * rng.uniform(0.5, 1.5, (200, 50))
    F = rng.standard_normal((50, 6))
    k = 8
    model = _l3ae(F, n_neighbors=k, semantic_share=0.5).fit(X)
    coef = sparse.csc_array(model.coef_)
    G = X.T @ X
    C = semantic_reference(F, 2.0)
    listed = _listed_places(k)
    for j in range(50):
        rows = set(coef.indices[coef.indptr[j] : coef.indptr[j + 1]].tolist())
        assert set(_first_stage(G, C, j, listed, 0.5)) <= rows
        assert len(rows) <= k


@pytest.mark.parametrize("semantic", [False, True], ids=["ease", "l3ae"])
def test_the_rest_of_each_support_is_its_strongest_kkt_violators(semantic):
    """The places left after the lists go to the items whose absence costs
    column j's objective most, (G[i] b − g_i)² / H_ii at the first solve b
    (brute force in float64: one block holds every item here)."""
    rng = np.random.default_rng(11)
    X = random_interactions(rng, 200, 50, 0.2) * rng.uniform(0.5, 1.5, (200, 50))
    F = rng.standard_normal((50, 6))
    k = 12
    if semantic:
        model = _l3ae(F, n_neighbors=k, semantic_share=0.25).fit(X)
        C, reg_E, shift = semantic_reference(F, 2.0), model.reg_E, 3.0 + model.reg_E
    else:
        model = EASERecommender(reg=5.0, n_neighbors=k, dtype=F64).fit(X)
        C, reg_E, shift = np.zeros((50, 50)), 0.0, 5.0
    coef = sparse.csc_array(model.coef_)
    G = X.T @ X
    listed, added = _listed_places(k), support_fit.grown_places(k, complete=False)
    assert added > 0
    penalty = np.full(50, shift - reg_E)
    checked = 0
    for j in range(50):
        first = np.array(_first_stage(G, C, j, listed, 0.25 if semantic else 0.0))
        b = _restricted_reference(X, C, penalty, reg_E, j, first)
        weights = np.array([b[i] for i in first])
        gradient = G[:, first] @ weights - G[:, j] - reg_E * C[:, j]
        gain = gradient**2 / (np.diag(G) + shift)
        gain[first] = gain[j] = -np.inf
        order = np.argsort(-gain, kind="stable")
        # Near-ties at the cut could go either way in round-off.
        if gain[order[added - 1]] - gain[order[added]] < 1e-8 * gain[order[0]]:
            continue
        rows = set(coef.indices[coef.indptr[j] : coef.indptr[j + 1]].tolist())
        assert rows == set(first.tolist()) | set(order[:added].tolist())
        checked += 1
    assert checked >= 45


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_semantic_share_extremes(share):
    rng = np.random.default_rng(4)
    X = random_interactions(rng, 200, 50, 0.2) * rng.uniform(0.5, 1.5, (200, 50))
    F = rng.standard_normal((50, 6))
    k = 6
    coef = sparse.csc_array(_l3ae(F, n_neighbors=k, semantic_share=share).fit(X).coef_)
    G = X.T @ X
    cosine = G / np.sqrt(np.diag(G))[:, None]  # G[i, j] / sqrt(G[i, i])
    score = np.abs(semantic_reference(F, 2.0)) if share else cosine
    for j in range(50):
        rows = set(coef.indices[coef.indptr[j] : coef.indptr[j + 1]].tolist())
        order = [i for i in np.argsort(-score[:, j], kind="stable") if i != j]
        assert set(order[: _listed_places(k)]) <= rows
        assert len(rows) <= k


def test_ease_supports_are_the_strongest_cooccurrences():
    """By the cosine of the item columns, G[i, j] / sqrt(G[i, i] G[j, j])."""
    rng = np.random.default_rng(5)
    X = random_interactions(rng, 200, 40, 0.2) * rng.uniform(0.5, 1.5, (200, 40))
    k = 5
    coef = sparse.csc_array(EASERecommender(reg=1.0, n_neighbors=k).fit(X).coef_)
    G = X.T @ X
    for j in range(40):
        rows = set(coef.indices[coef.indptr[j] : coef.indptr[j + 1]].tolist())
        cosine = G[:, j] / np.sqrt(np.diag(G))
        order = [i for i in np.argsort(-cosine, kind="stable") if i != j]
        assert set(order[: _listed_places(k)]) <= rows
        assert len(rows) <= k


# ----------------------------------------------------------- cold items


def test_cold_items_get_semantic_neighbours_and_are_recommended():
    """An item without interactions keeps its column through C alone."""
    rng = np.random.default_rng(6)
    X = random_interactions(rng, 150, 40, 0.15)
    cold = [5, 17, 33]
    X[:, cold] = 0.0
    F = rng.standard_normal((40, 6))
    model = _l3ae(F, n_neighbors=6, reg_E=50.0).fit(X)
    coef = sparse.csc_array(model.coef_)
    C = semantic_reference(F, 2.0)
    for j in cold:
        rows = coef.indices[coef.indptr[j] : coef.indptr[j + 1]]
        order = [i for i in np.argsort(-np.abs(C[:, j]), kind="stable") if i != j]
        assert set(order[: _listed_places(6)]) <= set(rows.tolist())
        assert len(rows) == 6
        # A user whose history is the cold item's strongest neighbour.
        user = np.zeros((1, 40))
        user[0, order[0]] = 1.0
        assert model.decision_function(user)[0, j] != 0
        top = model.recommend(user, n=40, as_labels=False)[0][0]
        assert j in top.tolist()


# ---------------------------------------------------------------- memory


@pytest.mark.parametrize("semantic", [False, True], ids=["ease", "l3ae"])
def test_memory_is_never_quadratic(semantic):
    """tracemalloc's peak during a sparse fit stays far below n² entries,
    and below the planner's estimate."""
    n_items = 24_000
    X = _catalogue(12_000, n_items, 6, seed=7)
    if semantic:
        F = np.random.default_rng(0).standard_normal((n_items, 16)).astype(np.float32)
        model = L3AERecommender(
            item_embeddings=F, reg_X=1.0, reg_E=5.0, n_neighbors=8, memory_limit=None
        )
    else:
        model = EASERecommender(reg=1.0, n_neighbors=8, memory_limit=None)
    plan = model._plan_fit(X).estimate.total
    tracemalloc.start()
    try:
        model.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n_items * n_items * 4
    assert peak < dense_bytes / 10
    assert peak < plan
    assert np.diff(sparse.csc_array(model.coef_).indptr).max() <= 8


# ------------------------------------------------------- sparse scoring


def _random_sparse_scores(rng, n_rows, n_items, density):
    matrix = sparse.random_array(
        (n_rows, n_items), density=density, rng=rng, format="csr"
    )
    matrix.data = np.round(rng.standard_normal(matrix.nnz), 1)  # ties and zeros
    matrix.data[rng.random(matrix.nnz) < 0.1] = -np.inf
    return matrix


@pytest.mark.parametrize("k", [1, 5, 30])
@pytest.mark.parametrize("with_blocked", [False, True])
@pytest.mark.parametrize("with_seen", [False, True])
def test_sparse_top_k_is_the_dense_ranking(k, with_blocked, with_seen):
    """Ties, zeros (stored and not), negatives, -inf, blocked and seen items,
    unsorted indices: the order of the dense ranking of the same scores."""
    rng = np.random.default_rng(8)
    matrix = _random_sparse_scores(rng, 25, 30, 0.3)
    matrix.data[rng.random(matrix.nnz) < 0.1] = 0.0  # explicit zeros
    # Reverse each row's indices: SpGEMM output is not sorted either.
    for row in range(25):
        part = slice(matrix.indptr[row], matrix.indptr[row + 1])
        matrix.indices[part] = matrix.indices[part][::-1]
        matrix.data[part] = matrix.data[part][::-1]
    matrix.has_sorted_indices = False
    blocked = rng.random(30) < 0.2 if with_blocked else None
    seen = (
        sparse.csr_array((rng.random((25, 30)) < 0.15).astype(np.float32))
        if with_seen
        else None
    )
    scores = SparseScores(matrix, blocked, seen)
    dense = scores.dense()
    expected_items, expected_scores = top_k(dense.copy(), k)
    items, values = sparse_top_k(scores, k)
    np.testing.assert_array_equal(items, expected_items)
    np.testing.assert_array_equal(values, expected_scores)


def test_sparse_top_k_cuts_long_rows_at_their_kth_value(monkeypatch):
    """Rows longer than k are cut by a partition of padded chunks; tiny
    chunks (many of them) give the same ranking as one."""
    from sklearn_l3ae._core import ranking

    rng = np.random.default_rng(20)
    matrix = _random_sparse_scores(rng, 40, 500, 0.5)
    expected = top_k(SparseScores(matrix).dense(), 7)
    monkeypatch.setattr(ranking, "_PAD_ENTRIES", 300)
    items, values = sparse_top_k(SparseScores(matrix), 7)
    np.testing.assert_array_equal(items, expected[0])
    np.testing.assert_array_equal(values, expected[1])


def _densified(model):
    dense = clone(model).set_params(n_neighbors=None)
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            setattr(dense, name, value)
    dense.coef_ = model.coef_.toarray()
    return dense


@pytest.mark.parametrize(
    ("n_items", "density", "ranks_sparse"),
    [(50, 0.15, False), (3000, 0.002, True)],
    ids=["dense-batches", "sparse-batches"],
)
def test_scoring_a_sparse_model_matches_its_dense_copy(n_items, density, ranks_sparse):
    """decision_function, predict, recommend, similar_items and explain, on
    both ranking paths of a sparse coef_: dense batches of X @ coef_ where
    the scores are dense anyway, sparse ones on a large catalogue."""
    X, F = _data(seed=9, n_users=100, n_items=n_items, density=density)
    model = _l3ae(F, n_neighbors=6, dtype=np.float32).fit(X)
    dense = _densified(model)
    users = sparse.csr_array(X[:40])
    assert model._ranks_sparse(users) == ranks_sparse
    scores = model.decision_function(users)
    expected = dense.decision_function(users)
    bound = product_error_bound(users, dense.coef_, np.float32)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(scores), finite)
    assert (np.abs(scores[finite] - expected[finite]) <= 2 * bound[finite]).all()
    items, _ = model.recommend(users, n=15, as_labels=False)
    assert_rankings_match(
        items,
        dense.recommend(users, n=15, as_labels=False)[0],
        expected,
        row_tie_tolerance(2 * bound),
    )
    top, _ = model.recommend(users, n=model.top_k, as_labels=False)
    np.testing.assert_array_equal(model.predict(users), top)
    excluded, candidates = [0, 1, 2], np.arange(0, n_items, 3)
    got = model.recommend(
        users, n=5, filter_items=excluded, items=candidates, as_labels=False
    )
    want = dense.recommend(
        users, n=5, filter_items=excluded, items=candidates, as_labels=False
    )
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)
    queries = np.arange(0, n_items, max(1, n_items // 50))
    neighbours, values = model.similar_items(queries, n=10, as_labels=False)
    expected_neighbours, expected_values = dense.similar_items(
        queries, n=10, as_labels=False
    )
    np.testing.assert_array_equal(neighbours, expected_neighbours)
    np.testing.assert_array_equal(values, expected_values)
    unseen = int(np.flatnonzero(X[0] == 0)[0])
    history, contributions = model.explain(X[:1], unseen)
    expected_history, expected_contributions = dense.explain(X[:1], unseen)
    np.testing.assert_array_equal(np.sort(history), np.sort(expected_history))
    np.testing.assert_allclose(
        np.sort(contributions), np.sort(expected_contributions), rtol=0, atol=0
    )


def test_sparse_scoring_batches_by_stored_entries():
    """The batch rule counts the users' sparse scores, not n_items each."""
    X, F = _data(seed=10, n_users=100, n_items=2000, density=0.003)
    model = _l3ae(F, n_neighbors=3).fit(X)
    dense = _densified(model)
    assert model._score_row_bytes(X) < dense._score_row_bytes(X)
    assert model._batch_rows(X) >= dense._batch_rows(X)


def test_scorers_and_grid_search_over_n_neighbors():
    """A search over n_neighbors scores each candidate as its direct fit does."""
    X, F = _data(seed=11, n_users=150, n_items=40)
    rng = np.random.default_rng(0)
    held_out = (rng.random(X.shape) < 0.1) & (X == 0)
    y = sparse.csr_array(held_out.astype(np.float64))
    everyone = np.arange(X.shape[0])
    search = GridSearchCV(
        _l3ae(F),
        {"n_neighbors": [4, 12, None]},
        scoring=make_ranking_scorer("ndcg", k=20),  # score(): NDCG@top_k
        cv=[(everyone, everyone)],
    ).fit(X, y)
    results = search.cv_results_
    for params, score in zip(
        results["params"], results["mean_test_score"], strict=True
    ):
        direct = _l3ae(F, **params).fit(X)
        assert sparse.issparse(direct.coef_) == (params["n_neighbors"] is not None)
        assert score == pytest.approx(direct.score(X, y), rel=1e-9)
    assert len(set(results["mean_test_score"].round(12))) == 3


# ---------------------------------------------------------- persistence


def test_sparse_model_save_load_round_trip(tmp_path):
    X, F = _data(seed=12)
    model = _l3ae(F, n_neighbors=5, dtype=np.float32).fit(X)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert isinstance(loaded.coef_, sparse.csr_array)
    assert loaded.coef_.dtype == np.float32
    np.testing.assert_array_equal(loaded.coef_.indptr, model.coef_.indptr)
    np.testing.assert_array_equal(loaded.coef_.indices, model.coef_.indices)
    np.testing.assert_array_equal(loaded.coef_.data, model.coef_.data)
    assert loaded.get_params()["n_neighbors"] == 5
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ---------------------------------------------------------- parallelism


def test_n_jobs_gives_the_same_weights():
    """Blocks are solved by the same calls whichever thread runs them: the
    package promises bitwise-equal weights for any n_jobs."""
    X, F = _data(seed=13, n_users=300, n_items=200)
    one = _l3ae(F, n_neighbors=10, dtype=np.float32, n_jobs=1).fit(X)
    two = _l3ae(F, n_neighbors=10, dtype=np.float32, n_jobs=2).fit(X)
    np.testing.assert_array_equal(two.coef_.indptr, one.coef_.indptr)
    np.testing.assert_array_equal(two.coef_.indices, one.coef_.indices)
    np.testing.assert_array_equal(two.coef_.data, one.coef_.data)


# ------------------------------------------------------ neighbour search


def _topic_embeddings(rng, n_items, dim, n_topics):
    centres = rng.standard_normal((n_topics, dim))
    F = centres[rng.integers(0, n_topics, n_items)] + 0.5 * rng.standard_normal(
        (n_items, dim)
    )
    return F / np.linalg.norm(F, axis=1, keepdims=True)


@pytest.mark.skipif(not faiss_available(), reason="the faiss extra is not installed")
def test_faiss_search_recall_against_exact():
    rng = np.random.default_rng(14)
    F = _topic_embeddings(rng, 4000, 32, 40)
    correlation = SemanticCorrelation(reg=1.0).fit(F).correlation_factors_
    k = 20
    exact = neighbors.SemanticSearch(correlation, "exact").candidates(k)
    approximate = neighbors.SemanticSearch(correlation, "faiss").candidates(k)
    assert (approximate != np.arange(4000)[:, None]).all()
    hits = sum(
        len(set(a.tolist()) & set(e.tolist()))
        for a, e in zip(approximate, exact, strict=True)
    )
    assert hits / exact.size >= 0.9


@pytest.mark.skipif(not faiss_available(), reason="the faiss extra is not installed")
def test_faiss_queries_in_list_order_give_each_column_its_own_result():
    """The search runs its queries grouped by inverted list (for the cache)
    and puts each result back in its column's row: the same as searching
    the columns in the order asked, all of them or a shuffled subset."""
    rng = np.random.default_rng(21)
    F = _topic_embeddings(rng, 3000, 16, 30)
    correlation = SemanticCorrelation(reg=1.0).fit(F).correlation_factors_
    search = neighbors.SemanticSearch(correlation, "faiss")
    k = 12
    found = search.candidates(k)
    lists = search._list_of
    # The grouping is active (the phase-1 queries are the database rows) and
    # not the identity order, so a wrong permutation back would show.
    assert lists is not None and not np.all(np.diff(lists) >= 0)
    reference = neighbors._faiss_search(
        search._index, search._queries, np.arange(3000), k, search._signs
    )
    np.testing.assert_array_equal(found, reference)
    columns = rng.permutation(3000)[:500]
    np.testing.assert_array_equal(search.candidates(k, columns), reference[columns])


@pytest.mark.skipif(not faiss_available(), reason="the faiss extra is not installed")
def test_presized_faiss_index_is_the_index_add_builds():
    """The index is built with each inverted list allocated once at its size
    (``add`` would leave them up to twice as large): it must hold the same
    entries in the same order, so every search returns the same."""
    import faiss

    rng = np.random.default_rng(19)
    W = _topic_embeddings(rng, 6000, 16, 30).astype(np.float32)
    index, _ = neighbors._faiss_index(W)
    reference = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(16), 16, index.nlist, faiss.METRIC_INNER_PRODUCT
    )
    neighbors.train_inverted_file(reference, W)
    reference.add(W)
    assert index.ntotal == reference.ntotal == 6000
    for number in range(index.nlist):
        assert index.invlists.list_size(number) == reference.invlists.list_size(number)
    for probes in (1, 8, index.nlist):
        index.nprobe = reference.nprobe = probes
        found, reference_found = index.search(W[::5], 10), reference.search(W[::5], 10)
        np.testing.assert_array_equal(found[1], reference_found[1])
        np.testing.assert_array_equal(found[0], reference_found[0])


@pytest.mark.skipif(not faiss_available(), reason="the faiss extra is not installed")
def test_faiss_search_finds_strong_negative_correlations():
    """Unstructured embeddings have large negative C[i, j] among the
    strongest: the search then queries −R_j too, and still finds them."""
    rng = np.random.default_rng(18)
    F = rng.standard_normal((3000, 8))
    correlation = SemanticCorrelation(reg=1.0).fit(F).correlation_factors_
    k = 10
    left, right = correlation.left, correlation.right
    sample = neighbors._exact_sample(left, right, k)
    assert neighbors._query_signs(left, right, *sample) == (1, -1)
    exact = neighbors.SemanticSearch(correlation, "exact").candidates(k)
    approximate = neighbors.SemanticSearch(correlation, "faiss").candidates(k)
    C = correlation.left @ correlation.right[:50].T  # C[:, j] for j < 50
    negative_found = 0
    hits = 0
    for j in range(50):
        hits += len(set(approximate[j].tolist()) & set(exact[j].tolist()))
        negative_found += int((C[approximate[j], j] < 0).sum())
    assert hits / (50 * k) >= 0.9
    assert negative_found > 0


def test_topic_embeddings_need_no_negative_queries():
    rng = np.random.default_rng(19)
    F = _topic_embeddings(rng, 3000, 32, 30)
    correlation = SemanticCorrelation(reg=1.0).fit(F).correlation_factors_
    left, right = correlation.left, correlation.right
    sample = neighbors._exact_sample(left, right, 20)
    assert neighbors._query_signs(left, right, *sample) == (1,)


def test_exact_semantic_search_is_brute_force():
    rng = np.random.default_rng(15)
    F = rng.standard_normal((300, 10))
    correlation = SemanticCorrelation(reg=1.0, dtype=F64).fit(F).correlation_factors_
    C = np.abs(semantic_reference(F, 1.0))
    np.fill_diagonal(C, -np.inf)
    found = neighbors.SemanticSearch(correlation, "exact", dtype=F64).candidates(7)
    for j in range(300):
        expected = np.argsort(-C[:, j], kind="stable")[:7]
        np.testing.assert_array_equal(np.sort(found[j]), np.sort(expected))


def test_top_k_rows_is_a_stable_brute_force():
    rng = np.random.default_rng(16)
    scores = np.round(rng.standard_normal((50, 400)), 1)
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[0, 5:] = -np.inf  # fewer finite entries than k
    found = neighbors.top_k_rows(scores, 12)
    for row, values in enumerate(scores):
        order = [i for i in np.argsort(-values, kind="stable") if values[i] > -np.inf]
        expected = (order + [-1] * 12)[:12]
        np.testing.assert_array_equal(found[row], expected)


def test_join_candidates_keeps_priority_and_drops_repeats():
    first = np.array([[3, 1, -1], [0, 0, 2]])
    second = np.array([[1, 4], [5, 2]])
    third = np.array([[7], [9]])
    joined = support_lists.join_candidates(first, second, third, 4)
    np.testing.assert_array_equal(joined, [[3, 1, 4, 7], [0, 2, 5, 9]])


def test_streamed_gram_pieces_are_the_gram_matrix():
    """Diagonal, hub block, sparse columns and candidates against dense G,
    with blocks far smaller than one pass (many streamed blocks)."""
    rng = np.random.default_rng(17)
    X = random_interactions(rng, 150, 70, 0.1) * rng.uniform(0.5, 1.5, (150, 70))
    G = X.T @ X
    bounds = sparse_gram.column_entry_bounds(sparse.csr_array(X))
    assert (bounds >= np.count_nonzero(G, axis=0)).all()
    hubs = sparse_gram.choose_hubs(bounds, n_hubs=9)
    gram, candidates = sparse_gram.stream_gram(
        sparse.csr_array(X), 6, hubs, F64, block_entries=200
    )
    np.testing.assert_allclose(gram.diagonal, np.diag(G), rtol=1e-14)
    np.testing.assert_allclose(gram.hub_gram, G[np.ix_(hubs, hubs)], rtol=1e-14)
    union = rng.choice(70, 25, replace=False)
    items, block = sparse_gram.block_gram(gram, union)
    assert set(items.tolist()) == set(union.tolist())
    np.testing.assert_allclose(block[:-1, :-1], G[np.ix_(items, items)], rtol=1e-14)
    assert not block[-1].any() and not block[:, -1].any()
    for j in range(70):
        values = G[:, j] / np.sqrt(np.diag(G))
        values[j] = 0
        order = [i for i in np.argsort(-values, kind="stable") if values[i] > 0]
        np.testing.assert_array_equal(candidates[j], (order + [-1] * 6)[:6])


# ------------------------------------------------------ errors and plans


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"n_neighbors": 4, "semantic_share": 1.5}, "semantic_share"),
        ({"n_neighbors": 4, "neighbor_search": "annoy"}, "neighbor_search"),
    ],
)
def test_invalid_parameters_are_refused(params, match):
    X, F = _data()
    with pytest.raises(ValueError, match=match):
        _l3ae(F, **params).fit(X)


def test_faiss_search_without_faiss_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss fails
    X, F = _data()
    with pytest.raises(ImportError, match=r"sklearn-l3ae\[faiss\]"):
        _l3ae(F, n_neighbors=4, neighbor_search="faiss").fit(X)


def test_an_empty_item_without_shift_is_refused_before_solving():
    X, _ = _data()
    X[:, 3] = 0
    with pytest.raises(ValueError, match="item column 3 has no interactions"):
        EASERecommender(reg=0.0, n_neighbors=4, dtype=F64).fit(X)


def _catalogue(n_users, n_items, per_user, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_users), per_user)
    cols = rng.integers(0, n_items, rows.size)
    X = sparse.csr_array(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_users, n_items)
    )
    X.data[:] = 1.0
    return X


def test_a_refused_dense_fit_suggests_the_sparse_fit_that_fits():
    X = _catalogue(5000, 20_000, 5)
    dense_bytes = 20_000**2 * 4
    budget = dense_bytes // 2
    with pytest.raises(MemoryLimitError, match=r"set n_neighbors=256") as error:
        EASERecommender(memory_limit=budget).fit(X)
    assert "support-constrained" in str(error.value)
    # The suggested fit's own estimate is within the budget that refused.
    plan = support_fit_plan("EASE", X, np.float32, 256)
    assert plan.estimate.total <= budget
    # Where even the sparse fit does not fit, it is not suggested.
    with pytest.raises(MemoryLimitError) as error:
        EASERecommender(memory_limit=plan.estimate.total // 2).fit(X)
    assert "n_neighbors" not in str(error.value)


def test_a_sparse_fit_over_budget_names_a_smaller_n_neighbors():
    X, _ = _data(n_items=60)
    with pytest.raises(MemoryLimitError, match=r"n_neighbors=\d+ or fewer"):
        EASERecommender(n_neighbors=50, memory_limit=2**20).fit(X)


def test_a_failed_first_round_reports_the_size_of_the_system_that_failed():
    """Twelve identical items make any support holding two of them singular
    at ``reg < 0``: the first round fails, on its k − grown + 1 items, not
    on the final support's k + 1."""
    rng = np.random.default_rng(0)
    X = (rng.random((80, 40)) < 0.2).astype(float)
    X[:, :12] = rng.random((80, 1)) < 0.5
    k = 8
    first_round = k - support_fit.grown_places(k, complete=False) + 1
    with pytest.raises(ValueError, match=r"support \((\d+) items\)") as info:
        EASERecommender(reg=-0.5, n_neighbors=k, dtype=np.float64).fit(X)
    size = int(re.search(r"support \((\d+) items\)", str(info.value)).group(1))
    assert 2 <= size <= first_round < k + 1
