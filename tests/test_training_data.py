"""The training-data schema of a model file (``persistence._training_data``)."""

import numpy as np
import pytest
from scipy import sparse

from sklearn_l3ae import EASERecommender, load, save
from sklearn_l3ae.cli import main
from sklearn_l3ae.persistence._training_data import (
    check_training_data,
    missing_training_data,
    training_data_extras,
)

X = sparse.csr_array(np.array([[1, 0, 1], [0, 1, 1]], dtype=np.float32))


def test_extras_round_trip_through_a_model_file(tmp_path):
    model = EASERecommender(reg=1.0).fit(X)
    extras = training_data_extras(X.toarray(), ["a", "b"], ["t0", "t1", "t2"])
    assert sparse.issparse(extras["X"])
    save(model, tmp_path / "m.npz", extras=extras)
    _, loaded = load(tmp_path / "m.npz", return_extras=True)
    assert missing_training_data(loaded) == []
    check_training_data(loaded, model.n_features_in_)  # does not raise
    np.testing.assert_array_equal(loaded["X"].toarray(), X.toarray())
    assert list(loaded["user_ids"]) == ["a", "b"]
    assert list(loaded["item_titles"]) == ["t0", "t1", "t2"]


def test_titles_are_optional():
    extras = training_data_extras(X, ["a", "b"])
    assert "item_titles" not in extras
    check_training_data(extras, 3)


def test_missing_extras_are_named():
    assert missing_training_data({}) == ["X", "user_ids"]
    assert missing_training_data({"X": X}) == ["user_ids"]


@pytest.mark.parametrize(
    "extras, n_items, message",
    [
        ({"X": X.toarray(), "user_ids": np.array(["a", "b"])}, 3, "sparse matrix"),
        ({"X": X, "user_ids": np.array(["a", "b"])}, 4, "with 4 columns"),
        ({"X": X, "user_ids": np.array(["a"])}, 3, r"user_ids has shape \(1,\)"),
        (
            {"X": sparse.csr_array(np.array([[np.nan, 1.0, 0.0]])), "user_ids": ["a"]},
            3,
            "NaN or inf",
        ),
        (
            {"X": X, "user_ids": np.array(["a", "b"]), "item_titles": ["t"]},
            3,
            r"item_titles has shape \(1,\)",
        ),
    ],
)
def test_training_data_that_does_not_fit_is_refused(extras, n_items, message):
    with pytest.raises(ValueError, match=f"corrupt: .*{message}"):
        check_training_data(extras, n_items)


def test_every_problem_is_named_at_once():
    extras = {"X": X, "user_ids": np.array(["a"]), "item_titles": np.array(["t"])}
    with pytest.raises(ValueError, match="user_ids has shape.*; item_titles has shape"):
        check_training_data(extras, 3)


def test_cli_refuses_training_data_of_another_catalogue(tmp_path, capsys):
    # The model has 3 items; the stored interactions have 2 columns.
    path = tmp_path / "m.npz"
    save(
        EASERecommender(reg=1.0).fit(X),
        path,
        extras=training_data_extras(X[:, :2], ["a", "b"]),
    )
    assert main(["recommend", "--model", str(path), "--user", "a"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "with 3 columns" in err
