"""The accuracy benchmark's --quick mode, end to end on ml-100k (real model)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ._data import DATA_DIR

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    # As `python benchmarks/bench_accuracy.py` would: its folder on sys.path.
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH.parent))
    return module


def test_quick_run_writes_the_tables_and_figure(bench, tmp_path):
    bench.main(["--quick", "--data", str(DATA_DIR), "--output", str(tmp_path)])
    written = json.loads((tmp_path / "accuracy.json").read_text())
    result = written["results"]["ml-100k"]
    models = result["models"]
    assert list(models) == list(bench.model_grids(None, quick=True))
    # 5-core filtering leaves 943 users and 1,349 of the 1,682 movies.
    assert (result["users"], result["items"]) == (943, 1349)
    for name, model in models.items():
        for key, value in model["test"].items():
            assert 0.0 <= value <= 1.0, (name, key, value)
        assert model["failed_candidates"] == 0, name
    # The 20 most popular items are all head items: popularity never hits the tail.
    assert models["Popularity"]["test"]["tail/recall@20"] == 0.0
    assert models["Popularity"]["test"]["head/recall@20"] > 0.0
    # The paper's claim on this seeded split: text helps EASE, and beats text alone.
    assert (
        models["L3AE"]["test"]["all/ndcg@20"]
        > models["EASE"]["test"]["all/ndcg@20"]
        > models["Text only"]["test"]["all/ndcg@20"]
    )
    # The neural baselines and DAN rows, with the debiased metrics.
    for name in ("LightGCN", "RLMRec-Con", "RLMRec-Gen", "AlphaRec", "L3AE + DAN"):
        assert name in models
        test = models[name]["test"]
        assert 0.0 < test["all/unbiased_recall@20"] <= 1.0
        assert 0.0 < test["all/unbiased_ndcg@20"] <= 1.0
    table = (tmp_path / "accuracy.md").read_text()
    assert "## ml-100k" in table
    assert all(f"| {name} |" in table for name in models)
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000
    # The gain over the best neural text model, as computed from the JSON.
    best = max(
        models[n]["test"]["all/ndcg@20"]
        for n in ("RLMRec-Con", "RLMRec-Gen", "AlphaRec")
    )
    gain = 100 * (models["L3AE"]["test"]["all/ndcg@20"] / best - 1)
    assert f"{gain:+.1f} %" in table
    rst = (tmp_path / "accuracy_tables.rst").read_text()
    assert ".. list-table::" in rst and f"{gain:+.1f} %" in rst
    # --report rewrites the reports from the JSON alone.
    (tmp_path / "accuracy_tables.rst").unlink()
    bench.main(["--report", "--output", str(tmp_path)])
    assert (tmp_path / "accuracy_tables.rst").read_text() == rst


def test_unknown_dataset_is_a_usage_error(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--datasets", "no-such-data", "--data", str(DATA_DIR)])
    assert exit_info.value.code == 2
    assert "no dataset folder ['no-such-data']" in capsys.readouterr().err


def test_compact_grids_keep_two_anchor_candidates_and_one_elsewhere(bench):
    from sklearn.model_selection import ParameterGrid

    full = bench.model_grids(None, quick=False)
    compact = bench.model_grids(None, quick=False, compact=True)
    assert list(compact) == list(full)
    for name, (_, grid) in compact.items():
        n = len(ParameterGrid(grid or {}))
        assert n == (2 if name in ("EASE", "L3AE") else 1), (name, grid)
        # Every kept value is one of the full grid's.
        full_grid = full[name][1]
        parts = full_grid if isinstance(full_grid, list) else [full_grid]
        for key, values in (grid or {}).items():
            assert any(set(values) <= set(part.get(key, ())) for part in parts)
