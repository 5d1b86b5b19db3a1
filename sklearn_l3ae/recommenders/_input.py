"""What the interaction input of a recommender may be, and the traps refused.

``X`` is a users x items matrix.  Some inputs fit or score without error
and mean something else entirely: a long table of (user, item[, rating])
rows, texts instead of interactions, a user id instead of a user's row.
These are refused with the fix in the message.
"""

from numbers import Number

import numpy as np
from scipy import sparse

from .._core.validation import ndim_or_none

# Column names that say "one row per interaction", not "one column per item",
# compared without case, spaces, "_" or "-" (customerId, "user id", movie_id).
_LONG_TABLE_COLUMNS = {
    "user",
    "userid",
    "users",
    "uid",
    "customer",
    "customerid",
    "visitor",
    "visitorid",
    "session",
    "sessionid",
    "item",
    "itemid",
    "items",
    "iid",
    "product",
    "productid",
    "sku",
    "asin",
    "movie",
    "movieid",
}
_HOW_TO_BUILD_X = (
    "build the users x items matrix with "
    "sklearn_l3ae.datasets.interactions_from_frame(frame, user_col=..., "
    "item_col=...) and pass its X (and item_ids=its item_ids)"
)


def _texts_go_to(estimator):
    owner = type(estimator).__name__
    if "item_texts" in estimator.get_params(deep=False):
        return f"{owner}(item_texts=texts).fit(X)"
    return "a text model, e.g. L3AERecommender(item_texts=texts).fit(X)"


def check_interaction_input(X, estimator, *, fitting):
    """Refuse, before validation, input that is not a users x items matrix."""
    owner = type(estimator).__name__
    if sparse.issparse(X):
        return
    columns = getattr(X, "columns", None)
    if columns is not None:
        names = ["".join(filter(str.isalnum, str(name).lower())) for name in columns]
        named = [
            str(c)
            for c, n in zip(columns, names, strict=True)
            if n in _LONG_TABLE_COLUMNS
        ]
        if named:
            raise ValueError(
                f"{owner} got a frame with the columns {list(map(str, columns))}: "
                f"a long table of interactions ({', '.join(named)} name users or "
                f"items), not a users x items matrix with one column per item; "
                f"{_HOW_TO_BUILD_X}."
            )
        if fitting and len(columns) in (2, 3):  # ids under other names
            _refuse_id_pairs(np.asarray(X), owner)
        return
    dimensions = ndim_or_none(X)
    if isinstance(X, (Number, str, np.generic)):  # an id, not a history
        raise ValueError(
            f"{owner} scores users' interaction rows (one value per item), not a "
            f"scalar ({X!r}): a recommender knows users by their history, not by "
            "an id.  Pass the user's row, e.g. X[[u]] for user u of a matrix X."
        )
    if isinstance(X, (list, tuple)) and len(X) and isinstance(X[0], str):
        raise ValueError(
            f"{owner} got texts where it expects the users x items interaction "
            f"matrix X: item texts are constructor data, {_texts_go_to(estimator)}."
            if fitting
            else f"{owner} got texts where it expects users' interaction rows."
        )
    if fitting and dimensions == 2:
        _refuse_id_pairs(np.asarray(X), owner)


def _refuse_id_pairs(X, owner):
    """Two or three integer columns beyond 0/1: (user, item[, rating]) rows."""
    if (
        X.shape[1] not in (2, 3)
        or X.shape[0] <= X.shape[1]
        or X.dtype.kind not in "iuf"
    ):
        return
    values = X[:, :2]
    if values.max(initial=0) > 1 and np.array_equal(values, np.round(values)):
        raise ValueError(
            f"{owner} got {X.shape[0]} rows of {X.shape[1]} integers up to "
            f"{int(values.max())}: they look like (user, item"
            f"{', rating' if X.shape[1] == 3 else ''}) rows of a long table, not "
            f"a users x {X.shape[1]}-items matrix; {_HOW_TO_BUILD_X}.  (A real "
            f"{X.shape[1]}-item matrix of weights is accepted as a scipy sparse "
            "matrix.)"
        )


def column_labels(X):
    """The integer column labels of a frame, or None (str labels are
    scikit-learn's ``feature_names_in_``)."""
    columns = getattr(X, "columns", None)
    if columns is None or not len(columns):
        return None
    values = list(columns)
    if all(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        for value in values
    ):
        return np.asarray(values, dtype=np.int64)
    return None


def texts_instead_of_numbers(exc, estimator):
    """A clearer error than NumPy's for str cells in ``X``, or None."""
    if "could not convert string to float" not in str(exc):
        return None
    return ValueError(
        f"{type(estimator).__name__} got text where it expects interaction values "
        f"({exc}). X is the users x items matrix of numbers: item texts are "
        f"constructor data ({_texts_go_to(estimator)}), and a long table of "
        f"(user, item) ids is turned into X first: {_HOW_TO_BUILD_X}."
    )
