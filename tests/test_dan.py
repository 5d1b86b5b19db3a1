"""DAN normalization (SPEC §9) against a transcription of the official code
(``psm1206/DAN``, ``code/model.py``: ``EASE_DAN``, ``LAE_DAN``,
``RLAE_DAN``), and its combination with phase 1, ``n_neighbors`` and
``device``."""

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae import EASERecommender, L3AERecommender, SemanticCorrelation
from sklearn_l3ae.recommenders import (
    DLAERecommender,
    RDLAERecommender,
    RLAERecommender,
)

from ._reference import relative_error, semantic_reference

TOL64 = 1e-9  # float64 fits against float64 dense inverses


def official_dan(X, reg_p, drop_p, alpha, beta, kind, xi=0.0):
    """The official ``__init_weight`` of the three DAN models, transcribed
    (``self.alpha = 1 - config['alpha']``: ``alpha`` here is the config's)."""
    X = sparse.csr_matrix(X, dtype=np.float64)
    n = X.shape[1]
    item_counts = np.array(X.sum(axis=0))
    user_counts = np.array(X.sum(axis=1))
    X_T = X.multiply(np.power(user_counts, -beta)).T
    G = X_T.dot(X).toarray()
    lmbda = reg_p + drop_p / (1 - drop_p) * np.power(item_counts, 1)
    G[np.diag_indices(n)] += lmbda.reshape(-1)
    P = np.linalg.inv(G)
    if kind == "EASE_DAN":
        B = np.eye(n) - P / np.diag(P)
    elif kind == "LAE_DAN":
        B = np.eye(n) - P * lmbda
    else:  # RLAE_DAN
        diag_P = np.diag(P)
        condition = (1 - lmbda * diag_P) > xi
        lagrangian = ((1 - xi) / diag_P - lmbda) * condition.astype(float)
        B = np.eye(n) - P * (lmbda.reshape(-1) + lagrangian)
    item_power_term = np.power(item_counts, -alpha)
    W = B * (1 / item_power_term).reshape(-1, 1) * item_power_term
    W[np.diag_indices(n)] = 0
    return W


def _data(seed=0, n_users=400, n_items=60):
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_items) + 0.05
    X = rng.random((n_users, n_items)) < 0.25 * popularity / popularity.max() + 0.02
    X[np.arange(n_items) % n_users, np.arange(n_items)] = True  # no empty item
    X[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # nor user
    return X.astype(np.float64)


def _off_diagonal(W):
    W = np.array(W, dtype=np.float64)
    W[np.diag_indices(W.shape[0])] = 0
    return W


CASES = [
    ("EASE_DAN", 0.0, lambda **k: EASERecommender(reg=30.0, **k), {}),
    (
        "EASE_DAN",
        0.25,
        lambda **k: RDLAERecommender(reg=30.0, dropout=0.25, xi=0.0, **k),
        {},
    ),
    ("LAE_DAN", 0.25, lambda **k: DLAERecommender(reg=30.0, dropout=0.25, **k), {}),
    (
        "RLAE_DAN",
        0.25,
        lambda **k: RDLAERecommender(reg=30.0, dropout=0.25, xi=0.2, **k),
        {"xi": 0.2},
    ),
    ("RLAE_DAN", 0.0, lambda **k: RLAERecommender(reg=30.0, xi=0.2, **k), {"xi": 0.2}),
]


@pytest.mark.parametrize("kind, dropout, make, extra", CASES)
@pytest.mark.parametrize(
    "alpha, beta", [(0.3, 0.5), (0.0, 0.8), (0.4, 0.0), (1.0, 1.0)]
)
def test_dan_equals_the_official_code(kind, dropout, make, extra, alpha, beta):
    X = _data()
    expected = official_dan(X, 30.0, dropout, alpha, beta, kind, **extra)
    model = make(user_norm=beta, item_norm=alpha, dtype=np.float64)
    model.fit(sparse.csr_matrix(X))
    # The official code zeroes diag(W) always; ours only with item_norm
    # (a seen item's own weight never ranks: it is masked).
    assert relative_error(_off_diagonal(model.coef_), expected) < TOL64
    if alpha:
        np.testing.assert_array_equal(np.diagonal(model.coef_), 0.0)


def test_zero_is_todays_model_exactly():
    X = _data(1)
    for make in (
        lambda **k: EASERecommender(reg=30.0, **k),
        lambda **k: RDLAERecommender(reg=30.0, dropout=0.2, xi=0.1, **k),
    ):
        plain = make().fit(X)
        off = make(user_norm=0.0, item_norm=0.0).fit(X)
        # Same call, same process, same shapes: bitwise (the options are off).
        np.testing.assert_array_equal(off.coef_, plain.coef_)


def test_dan_with_phase_one_matches_the_formula():
    """L3AE + DAN (no official code): L3AE eq. 6 on the user-normalized
    Gram, then the item rescaling, transcribed with dense inverses."""
    X = _data(2)
    rng = np.random.default_rng(2)
    F = rng.normal(size=(X.shape[1], 8))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    alpha, beta, reg_X, reg_E = 0.3, 0.6, 10.0, 50.0
    C = semantic_reference(F, 2.0)
    d = X.sum(axis=1) ** (-beta)
    G = X.T @ (X * d[:, None])
    n = X.shape[1]
    P = np.linalg.inv(G + (reg_X + reg_E) * np.eye(n))
    PC = P @ C
    B = np.eye(n) + reg_E * PC - P * ((1 + reg_E * np.diag(PC)) / np.diag(P))
    c = X.sum(axis=0)
    expected = _off_diagonal(c[:, None] ** alpha * B * c[None, :] ** (-alpha))
    model = L3AERecommender(
        SemanticCorrelation(reg=2.0, dtype=np.float64),
        item_embeddings=F,
        reg_X=reg_X,
        reg_E=reg_E,
        user_norm=beta,
        item_norm=alpha,
        dtype=np.float64,
    ).fit(X)
    assert relative_error(model.coef_, expected) < TOL64


def test_dan_with_n_neighbors_and_device():
    X = _data(3)
    rng = np.random.default_rng(3)
    F = rng.normal(size=(X.shape[1], 8))
    params = dict(
        item_embeddings=F,
        reg_X=10.0,
        reg_E=50.0,
        dropout=0.2,
        user_norm=0.5,
        item_norm=0.3,
        dtype=np.float64,
    )
    dense = L3AERecommender(**params).fit(X)
    # Every other item in the support: the sparse fit is the dense one.
    complete = L3AERecommender(n_neighbors=X.shape[1] - 1, **params).fit(X)
    assert sparse.issparse(complete.coef_)
    assert relative_error(complete.coef_.toarray(), dense.coef_) < TOL64
    assert complete.coef_.diagonal().max() == 0.0
    on_device = L3AERecommender(device="cpu", **params).fit(X)
    assert relative_error(on_device.coef_, dense.coef_) < TOL64


def test_dan_parameters_are_validated_and_cold_items_stay_finite():
    X = _data(4)
    for bad in ({"user_norm": -0.5}, {"item_norm": -1.0}, {"item_norm": "high"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            EASERecommender(**bad).fit(X)
    X[:, 5] = 0  # an item without interactions, and a user without any
    X[7] = 0
    model = L3AERecommender(
        item_embeddings=np.random.default_rng(4).normal(size=(X.shape[1], 6)),
        reg_X=10.0,
        reg_E=50.0,
        user_norm=0.7,
        item_norm=0.5,
    ).fit(X)
    assert np.isfinite(model.coef_).all()
    assert np.abs(model.coef_[:, 5]).max() > 0  # still reachable from text
