"""partial_fit of support-constrained models (n_neighbors, keep_inverse).

The reference is a direct transcription of SPEC §7 on the dense Gram matrix
of every row seen: ``B[S_j, j] = (G[S_j, S_j] + Λ[S_j] + λ_E I)⁻¹
(G[S_j, j] + λ_E C[S_j, j])`` on the supports the model kept.
"""

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone

from sklearn_l3ae import EASERecommender, L3AERecommender

N_ITEMS = 90


def _rows(n_rows, seed, density=0.06):
    X = sparse.random(n_rows, N_ITEMS, density=density, random_state=seed, format="csr")
    X.data[:] = 1.0
    return sparse.csr_array(X)


def _transcribed_weights(X, supports, reg, reg_E=0.0, C=None, dropout=0.0):
    """SPEC §7 column by column, float64, on the dense ``G`` of ``X``."""
    X = X.toarray().astype(np.float64)
    G = X.T @ X
    penalty = reg + dropout / (1.0 - dropout) * np.diagonal(G)
    B = np.zeros_like(G)
    for j in range(G.shape[0]):
        S = supports[j][supports[j] >= 0]
        H = G[np.ix_(S, S)] + np.diag(penalty[S] + reg_E)
        target = G[S, j] + (reg_E * C[S, j] if C is not None else 0.0)
        B[S, j] = np.linalg.solve(H, target)
    return B


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_ease_partial_fit_matches_spec_on_kept_supports(dropout):
    X0, X1 = _rows(250, 0), _rows(6, 1)
    model = EASERecommender(
        reg=8.0, n_neighbors=12, dtype=np.float64, keep_inverse=True
    )
    if dropout:  # EASE has no dropout: the DLAE family's EDLAE is the same
        from sklearn_l3ae.recommenders import DLAERecommender

        model = DLAERecommender(
            reg=8.0,
            dropout=dropout,
            xi=0.0,
            n_neighbors=12,
            dtype=np.float64,
            keep_inverse=True,
        )
    model.fit(X0)
    supports = model.supports_.copy()
    model.partial_fit(X1)
    np.testing.assert_array_equal(model.supports_, supports)
    reference = _transcribed_weights(
        sparse.vstack([X0, X1]), supports, 8.0, dropout=dropout
    )
    np.testing.assert_allclose(model.coef_.toarray(), reference, rtol=0, atol=1e-10)
    assert model.n_updates_ == 1
    assert model.n_samples_seen_ == 256


def test_l3ae_partial_fit_matches_spec_on_kept_supports():
    X0, X1 = _rows(250, 2), _rows(5, 3)
    F = np.random.default_rng(0).standard_normal((N_ITEMS, 6))
    model = L3AERecommender(
        item_embeddings=F,
        reg_X=4.0,
        reg_E=20.0,
        n_neighbors=10,
        dtype=np.float64,
        keep_inverse=True,
    ).fit(X0)
    model.partial_fit(X1)
    C = model.semantic_.coef_
    reference = _transcribed_weights(
        sparse.vstack([X0, X1]), model.supports_, 4.0, reg_E=20.0, C=C
    )
    np.testing.assert_allclose(model.coef_.toarray(), reference, rtol=0, atol=1e-10)


def test_untouched_columns_are_kept_bitwise():
    """Only columns whose system holds a changed item are solved again."""
    X0 = _rows(250, 4)
    model = EASERecommender(
        reg=8.0, n_neighbors=5, dtype=np.float64, keep_inverse=True
    ).fit(X0)
    before = model.coef_.toarray()
    new = sparse.csr_array(
        (np.ones(2), ([0, 0], [0, 1])), shape=(1, N_ITEMS)
    )  # one user with items 0 and 1
    model.partial_fit(new)
    supports = model.supports_
    changed = np.isin(supports, [0, 1]).any(axis=1)
    changed[[0, 1]] = True
    after = model.coef_.toarray()
    np.testing.assert_array_equal(after[:, ~changed], before[:, ~changed])
    assert np.abs(after[:, changed] - before[:, changed]).max() > 0


def test_complete_supports_equal_the_dense_refit():
    X0, X1 = _rows(200, 5), _rows(8, 6)
    model = EASERecommender(
        reg=8.0,
        n_neighbors=N_ITEMS - 1,
        dtype=np.float64,
        keep_inverse=True,
        user_norm=0.4,
    ).fit(X0)
    model.partial_fit(X1)
    dense = EASERecommender(reg=8.0, dtype=np.float64, user_norm=0.4).fit(
        sparse.vstack([X0, X1])
    )
    np.testing.assert_allclose(model.coef_.toarray(), dense.coef_, atol=1e-12)


def test_users_argument_on_support_models():
    X0 = _rows(100, 7)
    model = EASERecommender(
        reg=8.0, n_neighbors=N_ITEMS - 1, dtype=np.float64, keep_inverse=True
    ).fit(X0)
    more = _rows(3, 8)
    model.partial_fit(more, users=[4, 50, 99])
    summed = sparse.csr_array(X0.tolil())
    summed = (
        summed
        + sparse.csr_array((np.ones(3), ([4, 50, 99], [0, 1, 2])), shape=(100, 3))
        @ more
    )
    dense = clone(model).set_params(n_neighbors=None, keep_inverse=False).fit(summed)
    np.testing.assert_allclose(model.coef_.toarray(), dense.coef_, atol=1e-12)


def test_support_models_refuse_add_items_and_item_norm():
    X0 = _rows(100, 9)
    model = EASERecommender(reg=8.0, n_neighbors=10, keep_inverse=True).fit(X0)
    with pytest.raises(ValueError, match="needs the dense fit.*own supports"):
        model.add_items(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="item_norm"):
        EASERecommender(reg=8.0, n_neighbors=10, keep_inverse=True, item_norm=0.2).fit(
            X0
        )


def test_support_model_without_keep_inverse_refuses_partial_fit():
    model = EASERecommender(reg=8.0, n_neighbors=10).fit(_rows(100, 10))
    with pytest.raises(ValueError, match="keep_inverse=True"):
        model.partial_fit(_rows(2, 11))
