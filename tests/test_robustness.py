"""Numerical robustness of the closed forms (issue 7, item 5).

Four themes: ill-conditioned Gram matrices, float32 against float64 rankings,
determinism, and degenerate-but-valid shapes.  References are the dense
float64 transcriptions of ``tests/_reference.py``.

Tolerances follow first-order perturbation theory: solving with a matrix
``H`` (``XᵀX + Λ``) whose condition number is ``κ`` in a precision with
machine epsilon ``ε`` determines the solution to a relative accuracy of about
``κ·ε``.  The fits are checked against ``(κ + 16)·ε`` relative to the largest
reference entry (the ``16·ε`` covers the final rounding of well-conditioned
fits); the measured errors stay below 0.35 of that bound.  When ``κ·ε`` is not small
the weights are not determined by the data in that precision, and a clear
ValueError is an acceptable answer too.
"""

import hashlib
import importlib.util
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from threadpoolctl import threadpool_limits

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    SemanticCorrelation,
)
from sklearn_l3ae._core.linalg import gram_matrix

from ._numerics import (
    assert_approximate_top_k,
    assert_rankings_match,
    assert_scores_match,
    condition_number,
    product_error_bound,
    row_tie_tolerance,
    solve_tolerance,
)
from ._reference import (
    dropout_penalty_reference,
    ease_reference,
    l3ae_reference,
    random_interactions,
    rdlae_reference,
    relative_error,
    semantic_reference,
)

REPO = Path(__file__).resolve().parents[1]

# Phase-2 settings of the models under test.  L3AE is given the *total* shift
# reg_X + reg_E through a negative reg_X, as in the paper's best settings.
REG_E = 3.0
REG_F = 10.0  # SemanticCorrelation's default reg
DROPOUT, XI = 0.1, 0.3
MODELS = ("ease", "l3ae", "rdlae")
DTYPES = (np.float64, np.float32)
# κ·ε below this: the weights are determined to about two digits, so the fit
# must succeed.
WELL_DETERMINED = 0.05


def _synthetic():
    """The benchmarks' generators (zipf_interactions, unit_embeddings)."""
    spec = importlib.util.spec_from_file_location(
        "_synthetic", REPO / "benchmarks" / "_synthetic.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dense(X):
    return X.toarray() if sparse.issparse(X) else np.asarray(X, dtype=np.float64)


def _embeddings(n_items, dim=8, seed=0):
    F = np.random.default_rng(seed).standard_normal((n_items, dim))
    return F / np.linalg.norm(F, axis=1, keepdims=True)


def _model(name, X, reg, dtype, F=None, **params):
    """(estimator, float64 reference B, the matrix the fit factorizes).

    ``reg`` is the total diagonal shift: λ for EASE and RDLAE, λ_X + λ_E for
    L3AE.
    """
    X = _dense(X)
    n_items = X.shape[1]
    gram = X.T @ X
    shifted = gram + reg * np.eye(n_items)
    if name == "ease":
        return (
            EASERecommender(reg=reg, dtype=dtype, **params),
            ease_reference(X, reg),
            shifted,
        )
    if name == "l3ae":
        F = _embeddings(n_items) if F is None else F
        estimator = L3AERecommender(
            item_embeddings=F, reg_X=reg - REG_E, reg_E=REG_E, dtype=dtype, **params
        )
        C = semantic_reference(F, REG_F)
        return estimator, l3ae_reference(X, C, reg - REG_E, REG_E), shifted
    penalty = dropout_penalty_reference(X, reg, DROPOUT)
    estimator = RDLAERecommender(reg=reg, dropout=DROPOUT, xi=XI, dtype=dtype, **params)
    return estimator, rdlae_reference(X, reg, DROPOUT, XI), gram + penalty


def _assert_precision_message(exc, estimator):
    """The Cholesky-failure ValueError names the parameter and the remedies."""
    message = str(exc)
    param = "reg_X + reg_E" if isinstance(estimator, L3AERecommender) else "reg"
    assert param in message, message
    assert "Cholesky" in message, message
    assert "dtype=np.float64" in message, message
    assert "not positive definite" in message or "too small" in message, message


def _fit_checked(estimator, X, reference, H):
    """Fit and compare with the reference within the conditioning budget.

    Returns the fitted estimator, or None when the fit raised the package's
    precision ValueError (allowed only when ``κ·ε`` is not small).
    """
    dtype = np.dtype(estimator.dtype)
    budget = condition_number(H) * np.finfo(dtype).eps
    tol = solve_tolerance(H, dtype)
    try:
        estimator.fit(X)
    except ValueError as exc:
        assert budget > WELL_DETERMINED, (
            f"fit refused a problem with κ·ε = {budget:.2g}: {exc}"
        )
        _assert_precision_message(exc, estimator)
        return None
    B = estimator.coef_
    assert B.dtype == dtype
    assert np.isfinite(B).all()
    assert relative_error(B, reference) <= tol
    X = _dense(X)
    assert relative_error(X @ B, X @ reference) <= tol
    return estimator


def _swap_asymmetry(B, a, b):
    """How far B is from invariant under swapping items ``a`` and ``b``.

    Off the two rows/columns, column a must equal column b and row a row b;
    the diagonal constraint pins ``B[a, a] = B[b, b]``, which leaves
    ``B[a, b] = B[b, a]``.
    """
    B = np.asarray(B, dtype=np.float64)
    others = np.setdiff1d(np.arange(B.shape[0]), [a, b])
    return max(
        np.abs(B[others, a] - B[others, b]).max(),
        np.abs(B[a, others] - B[b, others]).max(),
        abs(B[a, b] - B[b, a]),
        abs(B[a, a] - B[b, b]),
    )


def _overlap(top_a, top_b):
    """Mean fraction of shared items between two (n_users, k) rankings."""
    k = top_a.shape[1]
    return float(
        np.mean([len(set(a) & set(b)) / k for a, b in zip(top_a, top_b, strict=True)])
    )


# --------------------------------------------------------------------------
# 1. Ill-conditioned Gram matrices
# --------------------------------------------------------------------------


def _full_rank():
    return random_interactions(np.random.default_rng(0), 300, 40)


def _fewer_users_than_items():
    """20 users, 40 items: XᵀX has a 20-dimensional null space."""
    return random_interactions(np.random.default_rng(1), 20, 40, density=0.3)


def _duplicated():
    """Items 2, 5 and 9 are identical columns, and so are 30 and 31."""
    X = random_interactions(np.random.default_rng(2), 300, 40, density=0.15)
    X[:, 5] = X[:, 2]
    X[:, 9] = X[:, 2]
    X[:, 31] = X[:, 30]
    return X


DUPLICATES = ((2, 5), (2, 9), (30, 31))
DATASETS = {
    "full_rank": _full_rank,
    "fewer_users": _fewer_users_than_items,
    "duplicated": _duplicated,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("relative_reg", [1e-8, 1e-4])
@pytest.mark.parametrize("data", list(DATASETS))
def test_tiny_regularization(data, relative_reg, model, dtype):
    """λ = 1e-8 or 1e-4 times the mean diagonal of XᵀX.

    Measured: κ reaches 1.5e9 (fewer users, 1e-8); float64 always fits with
    errors ≤ 0.14·(κ + 16)·ε; float32 fits at 1e-4 (κ·ε ≤ 1.8e-2, errors ≤
    0.11·(κ + 16)·ε) and refuses EASE/L3AE at 1e-8 on the singular Grams
    (κ·ε ≈ 1e2) with the precision message; RDLAE's dropout penalty keeps
    its κ·ε ≤ 2.2e-5 there.
    """
    X = DATASETS[data]()
    reg = relative_reg * np.trace(X.T @ X) / X.shape[1]
    estimator, reference, H = _model(model, X, reg, dtype)
    fitted = _fit_checked(estimator, X, reference, H)
    if fitted is not None:
        assert np.isfinite(fitted.decision_function(X)[X == 0]).all()


def test_float32_refuses_a_shift_below_its_resolution():
    """One user with 4 items, λ = 1e-8: in float32 ``1 + 1e-8 == 1``.

    The shifted Gram is then exactly the rank-one ``xxᵀ`` on the user's items,
    so Cholesky must fail (no rounding luck involved), and the message must
    say why and what to do.
    """
    x = np.zeros((1, 10))
    x[0, [1, 4, 7, 8]] = 1.0
    for estimator, param in [
        (EASERecommender(reg=1e-8), "reg"),
        (
            L3AERecommender(
                item_embeddings=_embeddings(10), reg_X=-1.0, reg_E=1.0 + 1e-8
            ),
            "reg_X + reg_E",
        ),
    ]:
        with pytest.raises(ValueError) as info:
            estimator.fit(x)
        message = str(info.value)
        assert "too small for the precision of the fit (float32)" in message
        assert f"Increase {param} or use dtype=np.float64" in message
        assert "fewer users (1) than items (10)" in message
        # float64 resolves the same shift.
        estimator.set_params(dtype=np.float64).fit(x)
        assert np.isfinite(estimator.coef_).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reg", [1e-4, 1.0, 100.0])
def test_single_user_ease_has_a_closed_form(reg, dtype):
    """For one user with m items, ``B_ij = 1 / (λ + m − 1)`` on the user's
    items (i ≠ j) and exactly 0 elsewhere (Sherman–Morrison on λI + xxᵀ).

    κ = (λ + m) / λ; measured error ≤ 0.15·κ·ε.  The zeros are exact: the
    off-support blocks of ``XᵀX + λI`` are exactly zero and Cholesky only
    multiplies them.
    """
    support = [1, 4, 7, 8]
    x = np.zeros((1, 10))
    x[0, support] = 1.0
    B = EASERecommender(reg=reg, dtype=dtype).fit(x).coef_
    expected = np.zeros((10, 10))
    expected[np.ix_(support, support)] = 1.0 / (reg + len(support) - 1)
    np.fill_diagonal(expected, 0.0)
    tol = ((reg + len(support)) / reg + 16) * np.finfo(dtype).eps
    assert relative_error(B, expected) <= tol
    outside = np.setdiff1d(np.arange(10), support)
    assert not B[outside].any()
    assert not B[:, outside].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", ["l3ae", "rdlae"])
@pytest.mark.parametrize("reg", [1e-4, 1.0])
def test_single_user_other_models(reg, model, dtype):
    x = np.zeros((1, 10))
    x[0, [1, 4, 7, 8]] = 1.0
    estimator, reference, H = _model(model, x, reg, dtype)
    fitted = _fit_checked(estimator, x, reference, H)
    assert fitted is not None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reg", [1e-5, 1e-2, 1.0, 100.0])
def test_duplicated_items_are_interchangeable(reg, model, dtype):
    """Identical columns (and, for L3AE, identical embedding rows) make ``B``
    invariant under swapping them: equal columns off the pair, and for the
    training users (who have both or neither) equal scores.

    Measured, float32, λ = 1e-5 (κ·ε ≈ 4.3): the null directions such as
    e₂ − e₅ are not resolved, the entries of B are 7% off and the swap
    asymmetry is 0.1, yet EASE's training-user scores are within 1.8e-7 of
    float64 (X maps those directions to 0) and the duplicates' scores agree
    to 1.8·ε·max|score| for every model.  Elsewhere the swap asymmetry is at
    most 0.06·κ·ε·max|B|.
    """
    X = _duplicated()
    F = _embeddings(X.shape[1])
    for a, b in DUPLICATES:
        F[b] = F[a]
    estimator, reference, H = _model(model, X, reg, dtype, F=F)
    fitted = _fit_checked(estimator, X, reference, H)
    if fitted is None:
        return
    eps = np.finfo(dtype).eps
    budget = solve_tolerance(H, dtype)
    B = fitted.coef_
    scores = fitted.decision_function(X).astype(np.float64)
    scale = np.abs(scores[np.isfinite(scores)]).max()
    if model != "l3ae":  # λ_E·P·C amplifies the null directions for L3AE
        exact = 1e-5 if dtype == np.float32 else 1e-13
        assert relative_error(X @ B, X @ reference) <= exact
    for a, b in DUPLICATES:
        np.testing.assert_array_equal(
            np.isneginf(scores[:, a]), np.isneginf(scores[:, b])
        )
        finite = np.isfinite(scores[:, a])
        assert np.abs(scores[finite, a] - scores[finite, b]).max() <= 32 * eps * scale
        assert _swap_asymmetry(B, a, b) <= budget * np.abs(reference).max()
    if model == "l3ae":
        C = fitted.semantic_.coef_
        for a, b in DUPLICATES:
            assert _swap_asymmetry(C, a, b) <= 4 * eps * np.abs(C).max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reg", [1e-6, 1e-2, 10.0])
@pytest.mark.parametrize("n_items, dim", [(30, 8), (12, 40)])
def test_semantic_correlation_with_duplicated_embeddings(n_items, dim, reg, dtype):
    """Phase 1 with items 2 and 5 sharing an embedding.

    d < n uses Woodbury with float64 factors (only the final cast is in
    ``dtype``): tolerance (κ + 16)·ε₆₄ + 4ε, measured ≤ 0.46 of it (the
    reference's own inverse errs by the same order), and the duplicates'
    rows and columns of C come out bitwise equal.  d ≥ n inverts F Fᵀ + λI
    (singular F Fᵀ here) in ``dtype``: tolerance (κ + 16)·ε, measured ≤ 0.08
    of it.
    """
    F = _embeddings(n_items, dim, seed=n_items)
    F[5] = F[2]
    fitted = SemanticCorrelation(reg=reg, dtype=dtype).fit(F)
    C = fitted.coef_
    assert C.dtype == dtype
    assert np.isfinite(C).all()
    assert not np.diagonal(C).any()
    reference = semantic_reference(F, reg)
    kappa = condition_number(F @ F.T + reg * np.eye(n_items))
    eps = np.finfo(dtype).eps
    if dim < n_items:
        assert fitted.correlation_factors_ is not None
        tol = (kappa + 16) * np.finfo(np.float64).eps + 4 * eps
    else:
        assert fitted.correlation_factors_ is None
        tol = (kappa + 16) * eps
    assert relative_error(C, reference) <= tol
    assert _swap_asymmetry(C, 2, 5) <= tol * np.abs(reference).max()


def _nearly_collinear(kind, seed=0):
    """Item 7 is item 3 plus a little: one extra user, or real-valued noise."""
    X = random_interactions(np.random.default_rng(4), 400, 30, density=0.15)
    if kind == "one_more_user":
        X[:, 7] = X[:, 3]
        X[np.flatnonzero(X[:, 3] == 0)[0], 7] = 1.0
    else:
        noise = np.random.default_rng(seed).random(X.shape[0])
        X[:, 7] = X[:, 3] + float(kind) * noise * (X[:, 3] > 0)
    return X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reg", [1e-8, 1e-4, 1.0])
@pytest.mark.parametrize("kind", ["one_more_user", "1e-2", "1e-6"])
def test_nearly_collinear_items(kind, reg, model, dtype):
    """Measured κ: 7e2 (binary), up to 3e10 (noise 1e-6, λ = 1e-8).  float64
    stays within 0.09·(κ + 16)·ε, float32 within 0.35·(κ + 16)·ε; the bound
    only says something while κ·ε < 1 (see the test below)."""
    X = _nearly_collinear(kind)
    estimator, reference, H = _model(model, X, reg, dtype)
    _fit_checked(estimator, X, reference, H)


def test_float32_does_not_silently_lose_all_digits():
    """Item 7 = item 3 plus real-valued noise of 1e-3, λ = 1e-8·mean diag(XᵀX).

    κ·ε₃₂ ≈ 15-19: float32 has no correct digit to offer.  Expected: a
    ValueError (like the Cholesky failure) or a warning saying so, or else
    scores close to float64's.  Observed (seeds 0-5, same with 1 or 2 BLAS
    threads): seeds 1 and 5 raise the precision ValueError, seeds 0, 2, 3, 4
    fit without a word, training-user scores off by 0.054, 0.167, 0.117,
    0.040 relative to the largest score.  Since spd_inverse_inplace checks
    LAPACK pocon's condition estimate, all six raise the precision error.
    """
    for seed in range(6):
        X = _nearly_collinear("1e-3", seed=seed)
        reg = 1e-8 * np.trace(X.T @ X) / X.shape[1]
        estimator = EASERecommender(reg=reg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                estimator.fit(sparse.csr_array(X))
            except ValueError as exc:
                _assert_precision_message(exc, estimator)
                continue
        if any("float64" in str(w.message) for w in caught):
            continue
        error = relative_error(X @ estimator.coef_, X @ ease_reference(X, reg))
        assert error <= 1e-2, f"seed {seed}: training scores off by {error:.2g}"


def _popular_and_rare():
    """Item 0: every one of 20 000 users; item 1: 95% of them; items 40-49:
    a single user each; the rest 20-300 users."""
    rng = np.random.default_rng(3)
    n_users, n_items = 20_000, 50
    users = [np.arange(n_users), rng.choice(n_users, 19_000, replace=False)]
    for _ in range(2, 40):
        users.append(rng.choice(n_users, rng.integers(20, 300), replace=False))
    for _ in range(40, 50):
        users.append(rng.integers(n_users, size=1))
    rows = np.concatenate(users)
    cols = np.repeat(np.arange(n_items), [len(u) for u in users])
    return sparse.csr_array(
        (np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reg", [1e-3, 100.0])
def test_very_popular_and_very_rare_items(reg, model, dtype):
    """Gram diagonal from 1 to 20 000 (exact in float32: < 2²⁴).  κ ≤ 4e4;
    measured errors ≤ 5e-7 (float32).  The rare items' columns are also
    checked against their own (small) scale: measured ≤ 7e-7 relative."""
    X = _popular_and_rare()
    estimator, reference, H = _model(model, X, reg, dtype)
    fitted = _fit_checked(estimator, X, reference, H)
    assert fitted is not None
    rare = slice(40, 50)
    tol = solve_tolerance(H, dtype)
    assert relative_error(fitted.coef_[:, rare], reference[:, rare]) <= tol


# --------------------------------------------------------------------------
# 2. float32 against float64 rankings on realistic data
# --------------------------------------------------------------------------


@pytest.fixture
def one_blas_thread():
    """Single-threaded BLAS: on a loaded 2-core machine OpenBLAS threads spin
    against each other (a 400-item potri took 2 s instead of 5 ms)."""
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.parametrize("model", MODELS)
def test_float32_and_float64_rank_alike(model):
    """3000 users, 400 Zipf-popular items, 64-d unit embeddings, the paper's
    L3AE setting (λ_X = −50, λ_E = 150).

    Measured: every user's float32 top-10 equals float64's, same order
    (overlap 1.0); max |Δscore| relative to the largest score: 5.0e-7
    (EASE), 4.3e-7 (L3AE), 3.6e-7 (RDLAE).  Asserted: overlap ≥ 0.999, score
    deviation ≤ 1e-5 relative, and each float32 pick within 2·max|Δscore|
    of float64's score at that rank.
    """
    synthetic = _synthetic()
    X = synthetic.zipf_interactions(3000, 400, mean_items_per_user=30, seed=0)
    F = synthetic.unit_embeddings(400, 64, seed=0)

    def make(dtype):
        if model == "ease":
            return EASERecommender(reg=200.0, dtype=dtype, top_k=10)
        if model == "l3ae":
            return L3AERecommender(
                item_embeddings=F, reg_X=-50.0, reg_E=150.0, dtype=dtype, top_k=10
            )
        return RDLAERecommender(reg=200.0, dropout=0.2, xi=0.6, dtype=dtype, top_k=10)

    double, single = make(np.float64).fit(X), make(np.float32).fit(X)
    assert single.coef_.dtype == np.float32
    scores64 = double.decision_function(X)
    scores32 = single.decision_function(X)
    top32 = single.predict(X)
    delta = assert_approximate_top_k(scores64, scores32, top32)
    assert delta <= 1e-5 * np.abs(scores64[np.isfinite(scores64)]).max()
    assert _overlap(double.predict(X), top32) >= 0.999


# --------------------------------------------------------------------------
# 3. Determinism
# --------------------------------------------------------------------------


def _determinism_models(dtype):
    synthetic = _synthetic()
    F = synthetic.unit_embeddings(300, 32, seed=0)
    return {
        "ease": EASERecommender(reg=200.0, dtype=dtype),
        "l3ae": L3AERecommender(
            item_embeddings=F, reg_X=-50.0, reg_E=150.0, dtype=dtype
        ),
        "rdlae": RDLAERecommender(reg=200.0, dtype=dtype),
    }


def _determinism_data():
    return _synthetic().zipf_interactions(2000, 300, mean_items_per_user=30, seed=0)


def _factorized(model, X):
    """The matrix each determinism model factorizes (float64)."""
    gram = X.T @ X
    if model == "rdlae":  # RDLAERecommender's defaults: dropout 0.2
        return gram + np.diag(dropout_penalty_reference(X, 200.0, 0.2).diagonal())
    return gram + (200.0 if model == "ease" else 100.0) * np.eye(X.shape[1])


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_refitting_is_bitwise_identical(model, dtype):
    """The package's promise (user guide, *Reproducibility*): the same call
    on the same inputs, shapes and thread count gives the same bits."""
    X = _determinism_data()
    first = _determinism_models(dtype)[model].fit(X)
    second = _determinism_models(dtype)[model].fit(X)
    assert _digest(first.coef_) == _digest(second.coef_)
    assert _digest(first.decision_function(X)) == _digest(second.decision_function(X))
    np.testing.assert_array_equal(first.predict(X), second.predict(X))


_FRESH_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from threadpoolctl import threadpool_info
    sys.path.insert(0, {repo!r})
    from tests.test_robustness import _determinism_data, _determinism_models

    X = _determinism_data()
    out = {{"threads": max(
        (p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"),
        default=1)}}
    for name, model in _determinism_models(np.float32).items():
        model.fit(X)
        np.save(f"{{sys.argv[1]}}/{{name}}_coef.npy", model.coef_)
        np.save(f"{{sys.argv[1]}}/{{name}}_top.npy", model.predict(X))
    print(json.dumps(out))
    """
)


def test_fresh_processes_agree_bitwise(tmp_path):
    """Two fresh interpreters save coef_ and predict(X); their .npy files hash
    equal, and so does an in-process fit with the same BLAS thread count.

    Promised (user guide, *Reproducibility*): one machine, the same
    libraries and the same BLAS thread count make the same calls with the
    same shapes, in this process or a new one."""
    script = tmp_path / "fit.py"
    script.write_text(_FRESH_PROCESS_SCRIPT.format(repo=str(REPO)), encoding="utf-8")
    runs = []
    for run in ("first", "second"):
        folder = tmp_path / run
        folder.mkdir()
        done = subprocess.run(
            [sys.executable, str(script), str(folder)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        runs.append((folder, json.loads(done.stdout.strip().splitlines()[-1])))
    (first, info), (second, _) = runs
    files = sorted(p.name for p in first.iterdir())
    assert len(files) == 6
    for name in files:
        assert _digest_file(first / name) == _digest_file(second / name), name
    X = _determinism_data()
    with threadpool_limits(info["threads"], user_api="blas"):
        for name, model in _determinism_models(np.float32).items():
            model.fit(X)
            saved = np.load(first / f"{name}_coef.npy")
            assert _digest(model.coef_) == _digest(saved), name
            np.testing.assert_array_equal(
                model.predict(X), np.load(first / f"{name}_top.npy")
            )


def _digest_file(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_blas_thread_count_changes_bits_not_rankings(model, dtype):
    """One BLAS thread against the default: the threaded potrf/potri/gemm
    sum in another order, so the bits may change (measured on a 2-core
    machine: 2 to 6·ε·max|B|).  Both fits factorize the same exact integer
    Gram matrix, so each is within (κ + 16)·ε of the exact weights and they
    are within twice that of each other; rankings obey the near-tie rule."""
    X = _determinism_data()
    with threadpool_limits(1, user_api="blas"):
        single = _determinism_models(dtype)[model].fit(X)
    default = _determinism_models(dtype)[model].fit(X)
    tol = 2 * solve_tolerance(_factorized(model, X.toarray()), dtype)
    assert relative_error(single.coef_, default.coef_) <= tol
    assert_approximate_top_k(
        default.decision_function(X), single.decision_function(X), single.predict(X)
    )


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_sparse_and_dense_input_agree(model, dtype):
    """Binary X: every Gram entry is an integer below 2²⁴, exact in any
    summation order, so sparse and dense fits factorize the same matrix and
    are bitwise identical (the same call on the same inputs).  Scoring
    sparse rows and dense rows runs different products, so their rankings
    agree up to round-off ties.

    Weighted X (values 0.37·{1..5}): the two Gram matrices round
    differently, by ΔG (measured here).  First-order perturbation moves B by
    about κ·‖ΔG‖/‖H‖ relative, on top of each fit's (κ + 16)·ε."""
    X = _determinism_data()
    from_sparse = _determinism_models(dtype)[model].fit(X)
    from_dense = _determinism_models(dtype)[model].fit(X.toarray())
    assert _digest(from_sparse.coef_) == _digest(from_dense.coef_)
    top = from_sparse.predict(X)
    np.testing.assert_array_equal(top, from_dense.predict(X))
    dense_scores = from_dense.decision_function(X.toarray())
    bound = 2 * product_error_bound(X, from_dense.coef_, dtype)
    assert_scores_match(from_sparse.decision_function(X), dense_scores, bound)
    assert_rankings_match(
        from_dense.predict(X.toarray()), top, dense_scores, row_tie_tolerance(bound)
    )

    weighted = X.copy()
    rng = np.random.default_rng(0)
    weighted.data = rng.integers(1, 6, weighted.nnz) * 0.37
    from_sparse = _determinism_models(dtype)[model].fit(weighted)
    from_dense = _determinism_models(dtype)[model].fit(weighted.toarray())
    H = _factorized(model, weighted.toarray())
    gram_change = np.linalg.norm(
        gram_matrix(weighted, dtype).astype(np.float64)
        - gram_matrix(weighted.toarray(), dtype),
        2,
    )
    kappa = condition_number(H)
    tol = kappa * gram_change / np.linalg.norm(H, 2) + 2 * solve_tolerance(H, dtype)
    assert relative_error(from_sparse.coef_, from_dense.coef_) <= tol
    assert_approximate_top_k(
        from_sparse.decision_function(weighted),
        from_dense.decision_function(weighted.toarray()),
        from_dense.predict(weighted.toarray()),
    )


# --------------------------------------------------------------------------
# 4. Degenerate but valid shapes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_one_item(model, dtype):
    X = np.array([[1.0], [0.0], [1.0], [0.0]])
    estimator, reference, H = _model(model, X, 1.0, dtype, F=np.array([[0.6, 0.8]]))
    fitted = _fit_checked(estimator, X, reference, H)
    assert fitted.coef_.shape == (1, 1)
    if model != "rdlae":  # ξ > 0 lets RDLAE keep a self-weight
        assert fitted.coef_[0, 0] == 0.0
    scores = fitted.decision_function(X)
    np.testing.assert_array_equal(scores[:, 0], [-np.inf, 0.0, -np.inf, 0.0])
    np.testing.assert_array_equal(fitted.predict(X), [[-1], [0], [-1], [0]])
    items, item_scores = fitted.recommend(X, n=2)
    np.testing.assert_array_equal(items, [[-1, -1], [0, -1], [-1, -1], [0, -1]])
    assert np.isneginf(item_scores[items < 0]).all()
    assert (item_scores[items >= 0] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reg", [1e-3, 1.0])
def test_two_items_ease_is_pairwise_ridge(reg, dtype):
    """With two items, B_01 = c / (a + λ) and B_10 = c / (b + λ), where
    a, b are the item counts and c their co-count (one-feature ridge)."""
    X = np.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    a, b, c = 4.0, 3.0, 2.0
    B = EASERecommender(reg=reg, dtype=dtype).fit(X).coef_
    expected = np.array([[0.0, c / (a + reg)], [c / (b + reg), 0.0]])
    np.testing.assert_allclose(B, expected, rtol=16 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", ["l3ae", "rdlae"])
def test_two_items_other_models(model, dtype):
    X = np.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    estimator, reference, H = _model(model, X, 1.0, dtype, F=_embeddings(2, 3))
    assert _fit_checked(estimator, X, reference, H) is not None


@pytest.mark.parametrize("fmt", ["dense", "csr", "csr_explicit_zero"])
@pytest.mark.parametrize("model", MODELS)
def test_users_without_interactions_at_prediction(model, fmt):
    """An empty history scores exactly 0 everywhere: predict returns the
    first items by the tie rule (lower index first).  A history with every
    item leaves nothing: padding -1, score -inf."""
    X = random_interactions(np.random.default_rng(0), 50, 8)
    estimator, _, _ = _model(model, X, 1.0, np.float32, top_k=5)
    estimator.fit(X)
    empty = np.zeros((2, 8))
    if fmt != "dense":
        empty = sparse.csr_array(empty)
    if fmt == "csr_explicit_zero":
        empty = sparse.csr_array(
            (np.array([0.0]), (np.array([0]), np.array([3]))), shape=(2, 8)
        )
        assert empty.nnz == 1
    scores = estimator.decision_function(empty)
    np.testing.assert_array_equal(scores, np.zeros((2, 8)))
    np.testing.assert_array_equal(estimator.predict(empty), [np.arange(5)] * 2)
    items, item_scores = estimator.recommend(empty, n=3)
    np.testing.assert_array_equal(items, [np.arange(3)] * 2)
    np.testing.assert_array_equal(item_scores, np.zeros((2, 3)))

    everything = np.ones((1, 8))
    assert np.isneginf(estimator.decision_function(everything)).all()
    np.testing.assert_array_equal(estimator.predict(everything), [[-1] * 5])
    items, item_scores = estimator.recommend(everything, n=3)
    np.testing.assert_array_equal(items, [[-1] * 3])
    assert np.isneginf(item_scores).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_items_without_interactions_at_fit(model, dtype):
    """Item 4 has no interaction.  EASE and RDLAE give it an exactly zero row
    and column (the Gram's zero row/column stays zero through Cholesky) and
    so the score 0 for everyone; L3AE gives it text-only weights, which
    match the reference and reach users through their history."""
    X = random_interactions(np.random.default_rng(0), 50, 8)
    X[:, 4] = 0.0
    estimator, reference, H = _model(model, X, 1.0, dtype)
    fitted = _fit_checked(estimator, X, reference, H)
    B = fitted.coef_
    scores = fitted.decision_function(X)
    if model == "l3ae":
        assert np.abs(B[:, 4]).max() > 0.01 * np.abs(B).max()
        assert np.abs(scores[:, 4]).max() > 0
    else:
        assert not B[:, 4].any()
        assert not B[4].any()
        np.testing.assert_array_equal(scores[:, 4], 0.0)
    assert np.isfinite(scores[:, 4]).all()
