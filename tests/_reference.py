"""Independent float64 transcriptions of the paper's formulas (dense inverses).

These deliberately ignore every optimization of ``sklearn_l3ae._closed_form``:
explicit identity matrices, ``numpy.linalg.inv``, a full ``P₂ @ C`` product.
"""

import numpy as np


def ease_reference(X, reg):
    """Steck (2019): B = I − P diagMat(1/diag(P)), P = (XᵀX + λI)⁻¹."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    P = np.linalg.inv(X.T @ X + reg * np.eye(n))
    return np.eye(n) - P / np.diag(P)[None, :]


def semantic_reference(F, reg):
    """L3AE eq. 3: C = I − P₁ diagMat(1/diag(P₁)), P₁ = (FFᵀ + λ_F I)⁻¹."""
    F = np.asarray(F, dtype=np.float64)
    n = F.shape[0]
    P1 = np.linalg.inv(F @ F.T + reg * np.eye(n))
    return np.eye(n) - P1 / np.diag(P1)[None, :]


def l3ae_reference(X, C, reg_X, reg_E):
    """L3AE eq. 6: B = I + λ_E P₂C − P₂ diagMat((1 + λ_E diag(P₂C)) / diag(P₂))."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    P2 = np.linalg.inv(X.T @ X + (reg_X + reg_E) * np.eye(n))
    P2C = P2 @ C
    return np.eye(n) + reg_E * P2C - P2 * ((1 + reg_E * np.diag(P2C)) / np.diag(P2))


def relative_error(actual, expected):
    """Max absolute deviation relative to the largest reference entry."""
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def random_interactions(rng, n_users, n_items, density=0.1):
    """Binary interactions in which every item has at least one user."""
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    X[rng.integers(0, n_users, n_items), np.arange(n_items)] = 1.0
    return X
