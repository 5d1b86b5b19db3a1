"""Long tables of interactions to the users x items matrix, and back."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from sklearn_l3ae import EASERecommender
from sklearn_l3ae.datasets import (
    interactions_from_frame,
    load_folder,
    recommendations_to_frame,
)

from ._data import DATA_DIR


def _brute_force(frame, users, items, weight=None):
    """The matrix by a Python loop: the last row of a pair wins."""
    dense = np.zeros((len(users), len(items)), dtype=np.float32)
    row_of = {u: i for i, u in enumerate(users)}
    column_of = {v: j for j, v in enumerate(items)}
    for _, record in frame.iterrows():
        value = 1.0 if weight is None else record[weight]
        dense[row_of[record["user_id"]], column_of[record["item_id"]]] = value
    return dense


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": rng.choice(["ana", "bo", "cy", "di"], 30),
            "item_id": rng.integers(100, 110, 30),
            "rating": rng.integers(1, 6, 30).astype(float),
        }
    )


def test_a_long_table_becomes_the_sparse_matrix(frame):
    data = interactions_from_frame(frame)
    assert isinstance(data.X, sparse.csr_array) and data.X.dtype == np.float32
    assert data.user_ids.tolist() == sorted(set(frame["user_id"]))
    assert data.item_ids.dtype == np.int64  # integer ids stay integers
    assert data.item_ids.tolist() == sorted(set(frame["item_id"]))
    np.testing.assert_array_equal(
        data.X.toarray(), _brute_force(frame, data.user_ids, data.item_ids)
    )
    rated = interactions_from_frame(frame, weight_col="rating")
    np.testing.assert_array_equal(
        rated.X.toarray(),
        _brute_force(frame, data.user_ids, data.item_ids, weight="rating"),
    )
    # A mapping of columns works the same.
    as_dict = interactions_from_frame({k: frame[k].to_numpy() for k in frame})
    assert (as_dict.X != data.X).nnz == 0


def test_a_pyarrow_table_gives_the_same_matrix(frame):
    # pyarrow comes with the distributed extra, which the dev install has.
    pyarrow = pytest.importorskip("pyarrow")
    table = pyarrow.Table.from_pandas(frame)
    expected = interactions_from_frame(frame, weight_col="rating")
    data = interactions_from_frame(table, weight_col="rating")
    assert (data.X != expected.X).nnz == 0
    np.testing.assert_array_equal(data.user_ids, expected.user_ids)
    np.testing.assert_array_equal(data.item_ids, expected.item_ids)


def test_a_catalogue_orders_the_columns_and_keeps_cold_items(frame):
    catalogue = np.arange(112, 98, -1)  # reversed, with items 98, 99, 110, 111 cold
    data = interactions_from_frame(frame, item_ids=catalogue)
    np.testing.assert_array_equal(data.item_ids, catalogue)
    dense = _brute_force(frame, data.user_ids, catalogue)
    np.testing.assert_array_equal(data.X.toarray(), dense)
    assert not dense[:, np.isin(catalogue, [98, 99, 110, 111])].any()
    with pytest.raises(ValueError, match=r"2 item id\(s\) of the frame are not in"):
        interactions_from_frame(frame, item_ids=np.arange(102, 110))
    with pytest.raises(ValueError, match="not of the same kind"):
        interactions_from_frame(frame, item_ids=catalogue.astype(str))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"user_col": "who"}, r"no user column 'who'; its columns are \['user_id'"),
        ({"weight_col": "stars"}, "no weight column 'stars'"),
    ],
)
def test_missing_columns_are_named(frame, kwargs, match):
    with pytest.raises(ValueError, match=match):
        interactions_from_frame(frame, **kwargs)


def test_bad_weights_and_ids_are_refused(frame):
    bad = frame.assign(rating=-1.0)
    with pytest.raises(ValueError, match="finite non-negative"):
        interactions_from_frame(bad, weight_col="rating")
    with pytest.raises(ValueError, match="item ids must be str or int"):
        interactions_from_frame(frame.assign(item_id=frame["item_id"] + 0.5))
    with pytest.raises(ValueError, match="holds no interactions"):
        interactions_from_frame(frame.iloc[:0])


def test_recommendations_come_back_as_a_long_table_with_real_ids(frame):
    data = interactions_from_frame(frame)
    model = EASERecommender(reg=1.0, item_ids=data.item_ids).fit(data.X)
    items, scores = model.recommend(data.X, n=12)  # more than the unseen items
    table = recommendations_to_frame(items, scores, data.user_ids)
    assert list(table.columns) == ["user_id", "rank", "item_id", "score"]
    for u, user in enumerate(data.user_ids):
        rows = table[table["user_id"] == user]
        kept = np.isfinite(scores[u])
        assert rows["item_id"].tolist() == items[u][kept].tolist()
        assert rows["rank"].tolist() == list(range(1, kept.sum() + 1))
        np.testing.assert_array_equal(rows["score"], scores[u][kept])
    assert set(table["item_id"]) <= set(data.item_ids)  # ids, not column indices
    one = recommendations_to_frame(*model.recommend(data.X[[0]], n=2), ["x"])
    assert one["user_id"].tolist() == ["x", "x"]
    with pytest.raises(ValueError, match="one id per row"):
        recommendations_to_frame(items, scores, data.user_ids[:2])


def test_load_folder_builds_the_same_matrix_from_its_files():
    """load_folder and interactions_from_frame share one construction."""
    folder = DATA_DIR / "ml-100k"
    data = load_folder(folder)
    raw = pd.read_csv(
        folder / "interactions.csv", dtype={"user_id": str, "item_id": str}
    )
    again = interactions_from_frame(raw)
    np.testing.assert_array_equal(again.user_ids, data.user_ids)
    np.testing.assert_array_equal(again.item_ids, data.item_ids)
    assert (again.X != data.X).nnz == 0
