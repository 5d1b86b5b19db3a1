"""``device=``: the dense fit and scoring on PyTorch (SPEC §8).

Every test runs on torch's CPU device, which executes the same code as a
CUDA device; the tests marked ``cuda`` run only where a GPU is visible.
Numerics are compared with the NumPy path and with a float64 reference,
with tolerances from the dtype: the two paths factorize with different
LAPACK drivers and block orders, so they agree to round-off, not bitwise.
"""

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.model_selection import GridSearchCV

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    MemoryLimitError,
    SemanticCorrelation,
    load,
    make_ranking_scorer,
    save,
)
from sklearn_l3ae._core import ranking, torch_ops
from sklearn_l3ae.recommenders import (
    DLAERecommender,
    RDLAERecommender,
    RLAERecommender,
)

from ._reference import (
    ease_reference,
    l3ae_reference,
    relative_error,
    semantic_reference,
)


def CUDA(test):
    """Mark a test ``cuda``: it runs only where torch sees a GPU."""
    skip = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
    return pytest.mark.cuda(skip(test))


def _data(seed=0, n_users=300, n_items=80, dim=12):
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, n_items)) < 0.12).astype(np.float64)
    F = rng.normal(size=(n_items, dim))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return X, F


# Relative error bound of a float32 fit against float64 on these small,
# well-conditioned problems (κ ≈ 10²): a few hundred eps32.
FLOAT32_TOL = 500 * np.finfo(np.float32).eps
FLOAT64_TOL = 1e-10


MODELS = {
    "EASE": lambda F, **kw: EASERecommender(reg=20.0, **kw),
    "L3AE": lambda F, **kw: L3AERecommender(
        SemanticCorrelation(reg=2.0), item_embeddings=F, reg_X=5.0, reg_E=40.0, **kw
    ),
    # More dimensions than items: phase 1 gives a dense C.
    "L3AE-dense-C": lambda F, **kw: L3AERecommender(
        SemanticCorrelation(reg=2.0),
        item_embeddings=np.hstack([F] * 8),
        reg_X=5.0,
        reg_E=40.0,
        **kw,
    ),
    "RLAE": lambda F, **kw: RLAERecommender(reg=20.0, xi=0.1, **kw),
    "DLAE": lambda F, **kw: DLAERecommender(reg=20.0, dropout=0.3, **kw),
    "RDLAE": lambda F, **kw: RDLAERecommender(reg=20.0, dropout=0.3, xi=0.1, **kw),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_fit_equals_the_numpy_fit(name, dtype):
    X, F = _data()
    make = MODELS[name]
    numpy_model = make(F, dtype=dtype).fit(sparse.csr_matrix(X))
    torch_model = make(F, dtype=dtype, device="cpu").fit(sparse.csr_matrix(X))
    assert isinstance(torch_model.coef_, np.ndarray)
    assert torch_model.coef_.dtype == dtype and torch_model.coef_.flags.writeable
    tol = FLOAT64_TOL if dtype == np.float64 else FLOAT32_TOL
    assert relative_error(torch_model.coef_, numpy_model.coef_) < tol
    if name in ("EASE", "L3AE", "L3AE-dense-C"):  # diag(B) = 0 is set exactly
        np.testing.assert_array_equal(np.diagonal(torch_model.coef_), 0.0)


def test_torch_fit_matches_the_paper_formulas_in_float64():
    X, F = _data(1)
    ease = EASERecommender(reg=20.0, dtype=np.float64, device="cpu").fit(X)
    assert relative_error(ease.coef_, ease_reference(X, 20.0)) < FLOAT64_TOL
    l3ae = L3AERecommender(
        SemanticCorrelation(reg=2.0, dtype=np.float64),
        item_embeddings=F,
        reg_X=5.0,
        reg_E=40.0,
        dtype=np.float64,
        device=torch.device("cpu"),
    ).fit(X)
    reference = l3ae_reference(X, semantic_reference(F, 2.0), 5.0, 40.0)
    assert relative_error(l3ae.coef_, reference) < FLOAT64_TOL


def test_semantic_correlation_on_a_device():
    _, F = _data(2, n_items=30, dim=40)  # d >= n: the dense inverse
    for dtype, tol in ((np.float64, FLOAT64_TOL), (np.float32, FLOAT32_TOL)):
        host = SemanticCorrelation(reg=1.0, dtype=dtype).fit(F).coef_
        device = SemanticCorrelation(reg=1.0, dtype=dtype, device="cpu").fit(F)
        assert device.coef_.dtype == dtype
        assert relative_error(device.coef_, host) < tol
    reference = semantic_reference(F, 1.0)
    got = SemanticCorrelation(reg=1.0, dtype=np.float64, device="cpu").fit(F).coef_
    assert relative_error(got, reference) < FLOAT64_TOL


@pytest.mark.parametrize("as_sparse", [False, True])
def test_scoring_on_a_device_equals_the_host(as_sparse):
    X, F = _data(3)
    host = L3AERecommender(item_embeddings=F, reg_X=5.0, reg_E=40.0, top_k=7)
    host.fit(X)
    device = L3AERecommender(
        item_embeddings=F, reg_X=5.0, reg_E=40.0, top_k=7, device="cpu", batch_size=64
    ).fit(X)
    device.coef_ = host.coef_.copy()  # same weights: only scoring differs
    users = sparse.csr_matrix(X[:150]) if as_sparse else X[:150]
    expected, got = host.decision_function(users), device.decision_function(users)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    scale = np.abs(expected[finite]).max()
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(got[finite], expected[finite], atol=64 * eps * scale)
    # Rankings agree where no near-tie makes them round-off dependent.
    ranked = host.predict(users)
    gap = np.abs(np.diff(np.sort(expected, axis=1)[:, ::-1][:, :8], axis=1)).min(1)
    clear = gap > 1e-4 * scale
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(device.predict(users)[clear], ranked[clear])
    labels, scores = device.recommend(users[:5], n=4, filter_items=[0, 1, 2])
    assert not np.isin(labels, [0, 1, 2]).any()
    host_labels, _ = host.recommend(users[:5], n=4, filter_items=[0, 1, 2])
    np.testing.assert_array_equal(labels[clear[:5]], host_labels[clear[:5]])


def test_device_ranking_keeps_the_tie_rule():
    rng = np.random.default_rng(4)
    # Integer scores: many exact ties, and -inf for excluded items.
    scores = rng.integers(0, 4, size=(50, 30)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[0] = -np.inf  # nothing to rank
    scores[1, 3:] = -np.inf  # fewer than k
    for k in (1, 5, 12, 30):
        expected = ranking.top_k(scores.copy(), k)
        got = torch_ops.top_k(torch.from_numpy(scores.copy()), k)
        # Exact: the scores are small integers and the rule is deterministic.
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_torch_inverse_refuses_what_numpy_refuses():
    from sklearn_l3ae._core.linalg import NotPositiveDefiniteError, spd_inverse_inplace

    # Exactly factorable but κ = 1e9 > 1 / eps32: both refuse in float32.
    diagonal = np.diag(np.array([1.0, 1e-3, 1e-9], dtype=np.float32))
    for invert in (spd_inverse_inplace, torch_ops.spd_inverse_inplace):
        A = diagonal.copy()
        with pytest.raises(NotPositiveDefiniteError, match="ill-conditioned") as info:
            invert(A if invert is spd_inverse_inplace else torch.from_numpy(A))
        assert info.value.order == 0
    indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    with pytest.raises(NotPositiveDefiniteError, match="order 2") as info:
        torch_ops.spd_inverse_inplace(indefinite.clone())
    assert info.value.order == 2
    # The estimate of ‖A⁻¹‖₁ never exceeds it and is close on SPD matrices.
    rng = np.random.default_rng(5)
    for _ in range(5):
        M = rng.normal(size=(40, 40))
        A = torch.from_numpy(M @ M.T + 0.1 * np.eye(40))
        exact = np.abs(np.linalg.inv(A.numpy())).sum(axis=0).max()
        estimate = torch_ops._inverse_one_norm(torch.linalg.cholesky(A))
        assert exact / 3 <= estimate <= exact * (1 + 1e-9)


def test_device_failures_are_clear_and_change_nothing(monkeypatch):
    X, F = _data(6)
    model = EASERecommender(reg=20.0).fit(X)
    before = model.coef_.copy()
    cases = [
        ({"device": "tpu"}, "device must be None"),
        ({"device": "mps"}, "only \\['cpu', 'cuda'\\]"),
        ({"device": "cpu", "n_neighbors": 5}, "pass one of them"),
        ({"device": "cpu", "reg": -1e6}, "positive definite"),
    ]
    if not torch.cuda.is_available():
        cases.append(({"device": "cuda"}, "sees no CUDA GPU"))
    for params, match in cases:
        model.set_params(**{"device": None, "n_neighbors": None, "reg": 20.0})
        with pytest.raises(ValueError, match=match):
            model.set_params(**params).fit(X)
        np.testing.assert_array_equal(model.coef_, before)


def test_cuda_planning_and_out_of_memory_on_any_machine(monkeypatch):
    """The CUDA branches, driven on the CPU: the planner refuses up front
    with the device's free memory, and an out-of-memory inside the fit
    becomes a MemoryLimitError that names the fixes."""
    X, _ = _data(7)
    model = EASERecommender(reg=20.0).fit(X)
    before = model.coef_.copy()
    monkeypatch.setattr(torch_ops, "resolve_device", lambda d: torch.device("cuda"))
    monkeypatch.setattr(torch_ops, "device_free_bytes", lambda d: 10_000)
    with pytest.raises(MemoryLimitError, match="on cuda") as info:
        model.set_params(device="cuda").fit(X)
    assert info.value.limit == 10_000
    np.testing.assert_array_equal(model.coef_, before)

    monkeypatch.setattr(torch_ops, "resolve_device", lambda d: torch.device("cpu"))

    def out_of_memory(A):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 6 GiB")

    monkeypatch.setattr(torch_ops.TorchOps, "inverse_inplace", out_of_memory)
    with pytest.raises(MemoryLimitError, match="device=None.*n_neighbors"):
        model.set_params(device="cpu").fit(X)
    np.testing.assert_array_equal(model.coef_, before)


def _raise_out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 6 GiB")


@pytest.mark.parametrize("method", ["predict", "recommend", "decision_function"])
def test_out_of_memory_while_scoring_is_reported_with_the_fixes(monkeypatch, method):
    X, _ = _data(9)
    model = EASERecommender(reg=20.0, device="cpu").fit(X)
    expected = getattr(model, method)(X[:5])
    # Every batch moves its rows to the device: running out there.
    monkeypatch.setattr(torch_ops, "to_tensor", _raise_out_of_memory)
    with pytest.raises(
        MemoryLimitError, match="cpu ran out of memory scoring 5 users"
    ) as info:
        getattr(model, method)(X[:5])
    assert "smaller batch_size" in str(info.value) and "device=None" in str(info.value)
    assert info.value.__cause__ is None  # no torch traceback chained
    monkeypatch.undo()
    # Nothing was changed: the model scores as before.
    result = getattr(model, method)(X[:5])
    for got, want in zip(np.atleast_1d(result), np.atleast_1d(expected), strict=True):
        np.testing.assert_array_equal(got, want)


def test_out_of_memory_in_phase_one_on_a_device_is_reported(monkeypatch):
    _, F = _data(10)
    F = np.hstack([F] * 8)  # more dimensions than items: the n x n inverse
    semantic = SemanticCorrelation(reg=2.0, device="cpu").fit(F)
    before = semantic.coef_.copy()
    monkeypatch.setattr(torch_ops, "to_tensor", _raise_out_of_memory)
    with pytest.raises(MemoryLimitError, match="semantic correlation of 80 items"):
        semantic.fit(2 * F)
    np.testing.assert_array_equal(semantic.coef_, before)


def test_cuda_scoring_plan_counts_coef_rows_scores_and_ranking(monkeypatch):
    X, _ = _data(12)
    model = EASERecommender(reg=20.0, device="cpu").fit(X)
    n, batch = model.n_features_in_, 10
    # float32: coef_, then per score its row entry and score (8 bytes) or the
    # score and top_k's masks (4 + TOP_K_BYTES_PER_SCORE), whichever is more.
    needed = n * n * 4 + batch * n * max(8, 4 + torch_ops.TOP_K_BYTES_PER_SCORE)
    assert torch_ops.TOP_K_BYTES_PER_SCORE == 8  # int32 tie counts, four masks
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch_ops, "device_free_bytes", lambda d: needed - 1)
    with pytest.raises(MemoryLimitError, match="Scoring with EASERecommender on cuda"):
        model._check_device_memory(cuda, batch)
    monkeypatch.setattr(torch_ops, "device_free_bytes", lambda d: needed)
    model._check_device_memory(cuda, batch)  # fits exactly


def test_out_of_memory_translation_on_the_real_cpu_allocator():
    # 32 TiB: the CPU allocator refuses at once (nothing is touched).
    device = torch.device("cpu")
    with pytest.raises(MemoryLimitError, match="cpu ran out of memory allocating"):
        with torch_ops.out_of_memory_reported(device, "allocating", "Use less."):
            torch.empty(2**45, dtype=torch.uint8)
    # Other errors pass unchanged.
    with pytest.raises(RuntimeError, match="shape mismatch"):
        with torch_ops.out_of_memory_reported(device, "adding", "Use less."):
            raise RuntimeError("shape mismatch")
    assert torch_ops.is_out_of_memory(
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to ...")
    )
    assert not torch_ops.is_out_of_memory(ValueError("memory layout"))


def test_the_host_gram_matrix_is_not_kept_while_the_device_works(monkeypatch):
    """On CUDA the host plan counts one n x n array for the Gram matrix and
    the weights coming back: the host Gram matrix must be freed once copied."""
    import gc
    import weakref

    from sklearn_l3ae._solvers import _torch

    X, _ = _data(11)
    alive = []
    original = _torch.host_gram

    def tracked(problem):
        gram = original(problem)
        alive.append(weakref.ref(gram))
        return gram

    def copy_to_device(array, device, dtype=None):
        # Stands in for a copy to a GPU: a tensor that does not share the
        # host buffer.
        return torch.from_numpy(np.array(array, dtype=dtype or array.dtype))

    seen = []
    original_inverse = torch_ops.TorchOps.inverse_inplace

    def inverse(A):
        gc.collect()
        seen.append(alive[0]() is None)
        return original_inverse(A)

    monkeypatch.setattr(_torch, "host_gram", tracked)
    monkeypatch.setattr(torch_ops, "to_tensor", copy_to_device)
    monkeypatch.setattr(torch_ops.TorchOps, "inverse_inplace", staticmethod(inverse))
    model = EASERecommender(reg=20.0, device="cpu").fit(X)
    assert seen == [True]
    reference = EASERecommender(reg=20.0, dtype=np.float64).fit(X).coef_
    np.testing.assert_allclose(model.coef_, reference, rtol=0, atol=FLOAT32_TOL)


def test_device_models_search_save_and_load(tmp_path):
    X, F = _data(8)
    users = np.arange(X.shape[0])
    search = GridSearchCV(
        L3AERecommender(item_embeddings=F, reg_X=5.0, device="cpu"),
        {"reg_E": [10.0, 100.0]},
        scoring=make_ranking_scorer("ndcg", k=5),
        cv=[(users[:200], users[200:])],
    ).fit(X, X)
    host = GridSearchCV(
        L3AERecommender(item_embeddings=F, reg_X=5.0),
        {"reg_E": [10.0, 100.0]},
        scoring=make_ranking_scorer("ndcg", k=5),
        cv=[(users[:200], users[200:])],
    ).fit(X, X)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        host.cv_results_["mean_test_score"],
        atol=1e-6,
    )
    for device in ("cpu", torch.device("cpu")):
        model = EASERecommender(reg=20.0, device=device).fit(X)
        save(model, tmp_path / "model.npz")
        loaded = load(tmp_path / "model.npz")
        assert loaded.device == "cpu"
        np.testing.assert_array_equal(loaded.coef_, model.coef_)
        np.testing.assert_array_equal(loaded.predict(X[:20]), model.predict(X[:20]))


@CUDA
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_fit_and_scoring_equal_the_cpu(dtype):  # pragma: no cover - GPU only
    X, F = _data(9)
    cpu = L3AERecommender(item_embeddings=F, reg_X=5.0, reg_E=40.0, dtype=dtype)
    cuda = L3AERecommender(
        item_embeddings=F, reg_X=5.0, reg_E=40.0, dtype=dtype, device="cuda"
    )
    cpu.fit(X)
    cuda.fit(X)
    tol = FLOAT64_TOL if dtype == np.float64 else FLOAT32_TOL
    assert relative_error(cuda.coef_, cpu.coef_) < tol
    expected = cpu.decision_function(X[:50])
    got = cuda.decision_function(X[:50])
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=100 * tol)
