"""Fuzz tests of the ``sklearn-l3ae`` command line (issue 7, item 4): any
argument list must end with status 0, or with status 1 or 2 and one error
line, never a traceback; forged training data in a model file is refused
clearly, and an ``n`` beyond the catalog allocates nothing more.
"""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import sparse

import sklearn_l3ae
from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    save,
)
from sklearn_l3ae.cli import main

from ._fuzz import (
    FUZZ,
    N_ITEMS,
    N_USERS,
    F,
    _base_matrix,
)

# ----------------------------------------------------------------------- CLI


def _cli_model_file(path, extras_override=None):
    """A model file as `sklearn-l3ae fit` writes it, without encoding texts."""
    X = sparse.csr_array(_base_matrix(0), dtype=np.float32)
    model = L3AERecommender(
        item_embeddings=F, item_ids=[f"m{i}" for i in range(N_ITEMS)]
    ).fit(X)
    extras = {
        "X": X,
        "user_ids": np.array([f"u{i}" for i in range(N_USERS)]),
        "item_titles": np.array([f"Movie {i}" for i in range(N_ITEMS)]),
    }
    save(model, path, extras={**extras, **(extras_override or {})})
    return path


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """Paths the CLI fuzz draws from: good and bad models, folders, targets."""
    root = tmp_path_factory.mktemp("cli")
    good = root / "good"
    good.mkdir()
    (good / "interactions.csv").write_text(
        "user_id,item_id,rating,timestamp\n"
        + "".join(f"u{u},m{(u + i) % 4},4,{i}\n" for u in range(8) for i in range(3))
    )
    (good / "items.csv").write_text(
        "item_id,title,text\n" + "".join(f"m{i},M{i},Film {i}.\n" for i in range(4))
    )
    bad = root / "bad"
    bad.mkdir()
    (bad / "interactions.csv").write_bytes(b"user_id,item_id\n\xff\xfe,1\n")
    (bad / "items.csv").write_text("item_id,title\n")
    (root / "garbage.npz").write_bytes(b"PK\x03\x04 not a model")
    save(EASERecommender(reg=1.0).fit(_base_matrix(0)), root / "plain.npz")
    return {
        "good-model": str(_cli_model_file(root / "model.npz")),
        "garbage-model": str(root / "garbage.npz"),
        "plain-model": str(root / "plain.npz"),
        "good-data": str(good),
        "bad-data": str(bad),
        "missing": str(root / "missing" / "x.npz"),
        "folder": str(root),
        "new-file": str(root / "new.npz"),
    }


CLI_TOKENS = st.sampled_from(
    [
        "fit",
        "recommend",
        "evaluate",
        "bogus",
        "--data",
        "--model",
        "--user",
        "-n",
        "--explain",
        "--no-explain",
        "--reg-X",
        "--reg-E",
        "--reg-F",
        "--reg-ease",
        "--k-core",
        "--seed",
        "--dtype",
        "--encoder",
        "--include-cold-items",
        "--memory-limit",
        "u1",
        "u99",
        "nan",
        "-1",
        "0",
        "3",
        "1e999",
        "abc",
        "",
        "float16",
        "float64",
        "2G",
        "1",
        "\udcff",
    ]
)

CLI_PATHS = st.sampled_from(
    [
        "good-model",
        "garbage-model",
        "plain-model",
        "good-data",
        "bad-data",
        "missing",
        "folder",
        "new-file",
    ]
)


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # main must return, not exit
            raise AssertionError(f"main raised SystemExit({exc.code})") from exc
    return status, out.getvalue(), err.getvalue()


def _check_cli_result(argv, status, out, err):
    assert "Traceback" not in err and "Traceback" not in out
    assert status in (0, 1, 2), status
    if status == 0:
        return
    last = err.rstrip("\n").split("\n")[-1]
    if status == 1:
        assert last.startswith("sklearn-l3ae: error: "), err
        assert err.count("error:") == 1, err
    else:  # argparse: a usage line, then one error line
        assert re.match(r"sklearn-l3ae( \w+)?: error: ", last), err


@settings(FUZZ, max_examples=60)
@given(
    tokens=st.lists(
        st.one_of(CLI_TOKENS, CLI_PATHS.map(lambda name: ("path", name))),
        max_size=8,
    ),
    command=st.sampled_from(["recommend", "fit", "evaluate", None]),
)
@example(
    tokens=["--model", ("path", "good-model"), "--user", "u1"], command="recommend"
)
@example(
    tokens=["--model", ("path", "plain-model"), "--user", "u1"], command="recommend"
)
@example(
    tokens=["--model", ("path", "good-model"), "--user", "u1", "-n", "100000000000"],
    command="recommend",
)  # Regression: a MemoryError traceback allocating 1e11 output slots
@example(
    tokens=["--data", ("path", "bad-data"), "--model", ("path", "folder")],
    command="fit",
)
def test_cli_fails_with_one_line_and_status_1_or_2(cli_files, tokens, command):
    argv = [cli_files[t[1]] if isinstance(t, tuple) else t for t in tokens]
    if command is not None:
        argv = [command, *argv]
    if command in ("fit", "evaluate") and "--encoder" not in argv:
        # Never load a real model here: a bad path fails fast, offline.
        argv += ["--encoder", cli_files["missing"]]
    status, out, err = _run_cli(argv)
    _check_cli_result(argv, status, out, err)
    if status == 0:
        assert command == "recommend" or "--help" in argv or "--version" in argv
        assert out.startswith("Top ") or "usage" in out or "sklearn-l3ae" in out
        assert not Path(cli_files["new-file"]).exists()


def _with_nan(X):
    X = sparse.csr_array(X, dtype=np.float64, copy=True)
    X.data[0] = np.nan
    return X


@pytest.mark.parametrize(
    "extra, value",
    [
        ("X", np.ones((N_USERS, N_ITEMS))),
        ("X", sparse.csr_array((N_USERS, N_ITEMS + 2))),
        ("X", np.array(["a", "b"])),
        ("X", _with_nan(_base_matrix(0))),
        ("user_ids", np.arange(N_USERS)),
        ("user_ids", np.array([["u1"]])),
        ("item_titles", np.array(["only one"])),
    ],
)
def test_cli_recommend_with_forged_training_data(tmp_path, extra, value):
    # Regression: an IndexError traceback (item_titles), scipy's messages
    # naming neither the file nor the array, and a 2-D user_ids accepted.
    # (A sparse X whose arrays do not form a matrix is refused by load.)
    path = _cli_model_file(tmp_path / "model.npz", {extra: value})
    status, out, err = _run_cli(["recommend", "--model", str(path), "--user", "u1"])
    _check_cli_result(None, status, out, err)
    assert status == 1
    assert "model.npz" in err or "unknown user id" in err or "NaN" in err, err


def test_cli_recommend_n_beyond_the_catalog_allocates_nothing_more(tmp_path):
    # Regression: -n 100000000000 tried to allocate 745 GiB of padding (and
    # -n 1000000000 would really take 8 GB) for a 6-item catalog.
    path = _cli_model_file(tmp_path / "model.npz")
    argv = ["recommend", "--model", str(path), "--user", "u1", "-n", str(10**11)]
    status, out, err = _run_cli(argv)
    assert status == 0, err
    assert out.startswith(f"Top {N_ITEMS - int(_base_matrix(0)[1].sum())} for user u1")


def test_recommend_with_an_impossible_n_raises_memory_limit_error():
    model = EASERecommender(reg=1.0).fit(_base_matrix(0))
    # 2**45 slots of 12 bytes: 384 TiB, refused before allocating
    with pytest.raises(sklearn_l3ae.MemoryLimitError, match="ask for at most n="):
        model.recommend(_base_matrix(0)[:1], n=2**45)
    with pytest.raises(sklearn_l3ae.MemoryLimitError, match="query items"):
        model.similar_items([0, 1], n=2**45)
