"""Read the shared real datasets (../shared/data) for tests; never copied here."""

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_binary_interactions(name):
    """Binary users x items csr matrix of a shared dataset, ids in file order."""
    import pandas as pd

    folder = DATA_DIR / name
    if not folder.is_dir():
        pytest.fail(f"Real dataset {folder} is missing (expected ../shared/data).")
    frame = pd.read_csv(
        folder / "interactions.csv", dtype={"user_id": str, "item_id": str}
    )
    users, user_index = np.unique(frame["user_id"], return_inverse=True)
    items, item_index = np.unique(frame["item_id"], return_inverse=True)
    X = sparse.csr_array(
        (np.ones(len(frame)), (user_index, item_index)),
        shape=(len(users), len(items)),
    )
    X.data[:] = 1.0  # repeated (user, item) rows count once
    return X, items
