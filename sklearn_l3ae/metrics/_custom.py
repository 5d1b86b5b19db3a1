"""User-defined ranking metrics: :func:`make_ranking_metric`."""

import inspect
import re

import numpy as np

from .._core.validation import check_number_vector
from ._names import BUILTIN_METRICS

# Keyword arguments a metric function receives when its signature names them.
OPTIONAL_INPUTS = ("top_scores", "X")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


class CustomMetric:
    """A metric function with its name and options; see :func:`make_ranking_metric`."""

    def __init__(self, score_func, name, needs_held_out, kwargs):
        self.score_func = score_func
        self.name = name
        self.needs_held_out = needs_held_out
        self.kwargs = kwargs
        self.inputs = _inputs_of(score_func, name, kwargs)

    def same_as(self, other):
        """Whether ``other`` is this metric again (same function and options)."""
        return (
            isinstance(other, CustomMetric)
            and other.score_func is self.score_func
            and other.needs_held_out == self.needs_held_out
            and other.kwargs.keys() == self.kwargs.keys()
            and all(other.kwargs[key] is value for key, value in self.kwargs.items())
        )

    def per_user(self, relevant, ranking, k):
        """The function's validated values for a batch of users."""
        extra = {}
        if "top_scores" in self.inputs:
            if ranking.scores is None:
                raise ValueError(
                    f"The ranking metric {self.name!r} asks for top_scores, but the "
                    "ranking has none (it comes from predict, or from top_items "
                    "passed to a metric function); rank from scores "
                    "(decision_function, or y_score) or drop the top_scores "
                    "parameter."
                )
            extra["top_scores"] = ranking.scores[:, :k]
        if "X" in self.inputs:
            if ranking.X is None:
                raise ValueError(
                    f"The ranking metric {self.name!r} asks for X, the users' input "
                    "interactions, but none were given: pass X_seen with y_score to "
                    "the metric functions (scorers and evaluate always have X)."
                )
            extra["X"] = ranking.X
        values = self.score_func(ranking.items[:, :k], relevant, **extra, **self.kwargs)
        return self._checked(values, relevant.shape[0], k)

    def _checked(self, values, n_users, k):
        where = f"The ranking metric {self.name!r} (at k={k})"
        try:
            array = np.asarray(values)
        except Exception as exc:  # e.g. ragged sequences
            raise ValueError(
                f"{where} must return one number per user; got {type(values).__name__}"
                f" that is not an array ({exc})."
            ) from None
        return check_number_vector(array, n_users, f"{where}: its values", "user")

    def __repr__(self):
        name = getattr(self.score_func, "__name__", repr(self.score_func))
        return f"make_ranking_metric({name}, name={self.name!r})"


def _inputs_of(score_func, name, kwargs):
    """The optional inputs ``score_func`` takes; raise if it cannot be called."""
    try:
        signature = inspect.signature(score_func)
    except (TypeError, ValueError):  # builtins without a signature
        return set()
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    inputs = {n for n in OPTIONAL_INPUTS if takes_any or n in parameters}
    try:
        signature.bind(None, None, **dict.fromkeys(inputs), **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"The ranking metric {name!r} must be callable as "
            f"fn(top_items, y_true{''.join(f', {n}=...' for n in sorted(inputs))}"
            f"{''.join(f', {n}=...' for n in kwargs)}): {exc}."
        ) from None
    return inputs


def _default_name(score_func):
    func = getattr(score_func, "func", score_func)  # functools.partial
    return getattr(func, "__name__", None)


def make_ranking_metric(score_func, *, name=None, needs_held_out=True, **kwargs):
    """Make a ranking metric from a function of each user's top-k list.

    The metric goes wherever a metric name does: in
    :func:`~sklearn_l3ae.metrics.make_ranking_scorer` (alone or next to the
    built-in metrics, all from one ranking of each user), in
    :func:`~sklearn_l3ae.metrics.evaluate` and in
    :func:`~sklearn_l3ae.metrics.ranking_metrics`.  A plain function can be
    passed there directly; this wrapper gives it a name, extra arguments,
    or says that it needs no held-out items.

    ``score_func(top_items, y_true, **kwargs)`` is called on batches of
    users and returns one finite number per user of the batch; the metric
    is the mean over users, like the built-in metrics (higher is better:
    return the negative of a loss).

    - ``top_items``: ndarray of int64, shape (n_batch, k), the ranked item
      (column) indices, best first, ``-1`` in slots that could not be filled.
    - ``y_true``: ``scipy.sparse.csr_array`` of bool, shape (n_batch,
      n_items), the relevant held-out items (restricted to the item subset
      and to positive ``item_weights`` when those are given).
    - ``top_scores`` (only if the function has this parameter): the scores
      of ``top_items``, shape (n_batch, k), ``-inf`` in empty slots.
    - ``X`` (only if the function has this parameter): the users' input
      interactions (what the ranking excluded), a ``csr_array`` of shape
      (n_batch, n_items).

    Parameters
    ----------
    score_func : callable
        The per-user metric, as above.
    name : str, default=None
        The metric's name in score keys (``"{name}@{k}"``) and reports;
        defaults to ``score_func.__name__``.  Must differ from the built-in
        names.
    needs_held_out : bool, default=True
        If True, users without a relevant held-out item are skipped, as by
        the built-in metrics.  If False, every user of ``X`` is evaluated,
        and a scorer whose metrics all say so accepts ``y=None`` (e.g. the
        share of recommendations from a promoted set).
    **kwargs
        Passed to ``score_func`` on every call (e.g. item prices).

    Returns
    -------
    metric : object
        To pass as a metric.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.metrics import make_ranking_metric, ranking_metrics
    >>> def promoted_share(top_items, y_true, promoted):
    ...     filled = top_items >= 0
    ...     return (promoted[top_items] & filled).sum(axis=1) / filled.sum(axis=1)
    >>> metric = make_ranking_metric(promoted_share, needs_held_out=False,
    ...                              promoted=np.array([True, False, False, True]))
    >>> y_true = [[1, 0, 0, 0], [0, 0, 0, 0]]
    >>> ranking_metrics(y_true, top_items=[[0, 1], [3, 0]], metrics=[metric],
    ...                 ks=[2])
    {'promoted_share@2': 0.75, 'n_users': 1, 'n_skipped_users': 1}
    """
    if isinstance(score_func, CustomMetric):
        raise TypeError(
            "score_func is already a ranking metric; pass it as it is, or "
            "make_ranking_metric(metric.score_func, ...) to change its options."
        )
    if not callable(score_func) or isinstance(score_func, type):
        raise TypeError(
            f"score_func must be a function of (top_items, y_true); got {score_func!r}."
        )
    if not isinstance(needs_held_out, bool):
        raise TypeError(
            f"needs_held_out must be True or False; got {needs_held_out!r}."
        )
    if name is None:
        name = _default_name(score_func)
        if name is None or not _NAME.match(name):
            raise ValueError(
                f"The ranking metric {score_func!r} has no usable name ("
                f"{name!r}); give it one with make_ranking_metric(fn, name=...)."
            )
    elif not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "name must be a non-empty str of letters, digits, '_', '.' or '-', "
            f"starting with a letter or '_'; got {name!r}."
        )
    if name in BUILTIN_METRICS:
        raise ValueError(
            f"The ranking metric name {name!r} is a built-in metric's; name the "
            "custom metric otherwise with make_ranking_metric(fn, name=...)."
        )
    return CustomMetric(score_func, name, needs_held_out, kwargs)
