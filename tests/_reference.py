"""Independent float64 transcriptions of the paper's formulas (dense inverses).

These deliberately ignore every optimization of ``sklearn_l3ae._core``:
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
    """Max absolute deviation relative to the largest reference entry.

    An all-zero reference is compared absolutely.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.abs(expected).max()
    deviation = np.abs(actual - expected).max()
    return float(deviation / scale) if scale else float(deviation)


def random_interactions(rng, n_users, n_items, density=0.1):
    """Binary interactions in which every item has at least one user."""
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    X[rng.integers(0, n_users, n_items), np.arange(n_items)] = 1.0
    return X


def dropout_penalty_reference(X, reg, dropout):
    """Steck (2020): Λ = λI + p/(1−p)·diagMat(diag(XᵀX)), as a dense matrix."""
    X = np.asarray(X, dtype=np.float64)
    return reg * np.eye(X.shape[1]) + dropout / (1 - dropout) * np.diag(
        np.diag(X.T @ X)
    )


def ridge_lae_reference(X, reg):
    """The unconstrained linear autoencoder: B = (XᵀX + λI)⁻¹ XᵀX."""
    X = np.asarray(X, dtype=np.float64)
    G = X.T @ X
    return np.linalg.inv(G + reg * np.eye(X.shape[1])) @ G


def rdlae_reference(X, reg, dropout=0.0, xi=0.0):
    """Moon, Kim & Lee (SIGIR 2023), RLAE/RDLAE: diag(B) ≤ ξ.

    B = I − P(Λ + diagMat(μ)), P = (XᵀX + Λ)⁻¹,
    μ_j = max(0, (1 − (PΛ)_jj − ξ) / P_jj); ``xi=None`` means μ = 0.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    Lam = dropout_penalty_reference(X, reg, dropout)
    P = np.linalg.inv(X.T @ X + Lam)
    if xi is None:
        mu = np.zeros(n)
    else:
        mu = np.maximum(0.0, (1 - np.diag(P @ Lam) - xi) / np.diag(P))
    return np.eye(n) - P @ (Lam + np.diag(mu))


def l3ae_relaxed_reference(X, C, reg_X, reg_E, dropout=0.0, xi=0.0):
    """L3AE phase 2 with Λ_X = λ_X I + p/(1−p)·diagMat(diag(XᵀX)), |diag(B)| ≤ ξ.

    Stationarity: (XᵀX + Λ_X + λ_E I) B = XᵀX + λ_E C − diagMat(μ), and μ
    moves each B_jj onto the nearest point of [−ξ, ξ].
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    G = X.T @ X
    H = G + dropout_penalty_reference(X, reg_X, dropout) + reg_E * np.eye(n)
    P = np.linalg.inv(H)
    unconstrained = P @ (G + reg_E * C)
    b0 = np.diag(unconstrained)
    d = b0 if xi is None else np.clip(b0, -xi, xi)
    mu = (b0 - d) / np.diag(P)
    return unconstrained - P @ np.diag(mu)


def penalized_objective(B, X, penalty, reg_E=0.0, C=None):
    """||X − XB||² + Σ_i Λ_i ||B_i,:||² + λ_E ||B − C||², with Λ's diagonal."""
    X = np.asarray(X, dtype=np.float64)
    value = np.sum((X - X @ B) ** 2) + np.sum(penalty[:, None] * B**2)
    if C is not None:
        value += reg_E * np.sum((B - C) ** 2)
    return value


def optimizer_weights(X, penalty, reg_E=0.0, C=None, diagonal_bounds=(None, None)):
    """Minimize :func:`penalized_objective` with a generic bounded solver.

    L-BFGS-B over all n² entries of B, with ``diagonal_bounds`` as box bounds
    on the n diagonal entries: no closed form, no KKT reasoning.
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    G = X.T @ X
    target = G if C is None else G + reg_E * C
    H = G + np.diag(penalty) + reg_E * np.eye(n)
    scale = np.trace(H) / n

    def fun(b):
        B = b.reshape(n, n)
        value = penalized_objective(B, X, penalty, reg_E, C)
        return value / scale, 2 * (H @ B - target).ravel() / scale

    bounds = [
        diagonal_bounds if i == j else (None, None) for i in range(n) for j in range(n)
    ]
    result = minimize(
        fun,
        np.zeros(n * n),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 50_000, "maxfun": 100_000, "ftol": 0.0, "gtol": 1e-13},
    )
    return result.x.reshape(n, n)
