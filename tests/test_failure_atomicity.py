"""A fit that raises leaves the estimator exactly as before, and the CLI's file too.

Each estimator is fitted on good data, then refitted on data that fails after
validation has begun (other items, so that a leaked ``n_features_in_`` would
show): its attributes must be the very same objects with the same values, and
its outputs identical.  A fresh estimator whose fit fails stays unfitted.
"""

import copy
import inspect
from collections import namedtuple

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_l3ae import (
    AnisotropyControl,
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    MemoryLimitError,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
    SentenceEncoder,
    load,
    save,
)
from sklearn_l3ae._core.atomic import atomic_fit
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    AlphaRec,
    ALSRecommender,
    BPRRecommender,
    CollectiveEASERecommender,
    ItemKNNRecommender,
    LightGCN,
    PopularityRecommender,
    RLMRec,
    SemanticEASERecommender,
)
from sklearn_l3ae.cli import main

from ._reference import random_interactions
from .test_cli import _encoder, _write_folder

# The overflowing refits of the EASE family warn before they raise.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")


def _dataframe(values, prefix):
    return pd.DataFrame(values, columns=[f"{prefix}{j}" for j in range(len(values.T))])


_rng = np.random.default_rng(0)
X = random_interactions(_rng, 40, 10, density=0.3)
# Refits that would succeed: the same items, other users, and column names
# that validate_data records first (a leak that an interrupted fit must undo).
X_REFIT = _dataframe(random_interactions(_rng, 50, 10, density=0.3), "item")
X_OTHER = random_interactions(_rng, 30, 8, density=0.3)  # other items
F = _rng.standard_normal((10, 4))
F /= np.linalg.norm(F, axis=1, keepdims=True)
F_REFIT = _dataframe(np.roll(F, 1, axis=0), "dim")
F_OTHER = _rng.standard_normal((8, 3))
TEXTS = ["a space opera", "a romantic comedy", "a western"]


class _FakeSentenceModel:
    """Enough of a SentenceTransformer: a fixed 3-d embedding per text."""

    def encode(self, texts, **kwargs):
        if "boom" in texts:
            raise ValueError("the model cannot encode 'boom'")
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], np.float32)


_FAKE_MODEL = _FakeSentenceModel()

# make: a new estimator; fit_data and refit_data succeed (refit_data with the
# same items, so an injected failure is reached); bad_data fails mid-fit.
Case = namedtuple(
    "Case", "make fit_data refit_data bad_data error match outputs interrupt"
)


def _scores(estimator):
    return estimator.decision_function(X)


def _recommender(make, bad_data, error, match):
    # The last step of every recommender's fit, after its weights are set.
    interrupt = "sklearn_l3ae.recommenders._base.item_popularity"
    return Case(make, X, X_REFIT, bad_data, error, match, _scores, interrupt)


def _implicit(cls, **params):
    def make():
        pytest.importorskip("implicit")
        return cls(**params)

    return make


_OVERFLOW = ValueError, "NaN or inf"
_MISMATCH = ValueError, "item_embeddings has 10 entries but X has 8"
_NEGATIVE = ValueError, "Negative values"

CASES = {
    "ease": _recommender(
        lambda: EASERecommender(reg=1.0, dtype=np.float64), X_OTHER * 1e200, *_OVERFLOW
    ),
    "l3ae": _recommender(
        lambda: L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=1.0),
        X_OTHER,
        *_MISMATCH,
    ),
    "rlae": _recommender(
        lambda: RLAERecommender(reg=1.0, dtype=np.float64), X_OTHER * 1e200, *_OVERFLOW
    ),
    "dlae": _recommender(
        lambda: DLAERecommender(reg=1.0, dtype=np.float64), X_OTHER * 1e200, *_OVERFLOW
    ),
    "rdlae": _recommender(
        lambda: RDLAERecommender(reg=1.0, dtype=np.float64),
        X_OTHER * 1e200,
        *_OVERFLOW,
    ),
    "semantic-ease": _recommender(
        lambda: SemanticEASERecommender(item_embeddings=F), X_OTHER, *_MISMATCH
    ),
    "additive-ease": _recommender(
        lambda: AdditiveEASERecommender(item_embeddings=F, reg=1.0),
        X_OTHER,
        *_MISMATCH,
    ),
    "collective-ease": _recommender(
        lambda: CollectiveEASERecommender(item_embeddings=F, reg=1.0),
        X_OTHER,
        *_MISMATCH,
    ),
    "popularity": _recommender(PopularityRecommender, -X_OTHER, *_NEGATIVE),
    "als": _recommender(
        _implicit(ALSRecommender, factors=2, iterations=2, random_state=0),
        -X_OTHER,
        *_NEGATIVE,
    ),
    "bpr": _recommender(
        _implicit(BPRRecommender, factors=2, iterations=2, random_state=0),
        -X_OTHER,
        *_NEGATIVE,
    ),
    "item-knn": _recommender(
        _implicit(ItemKNNRecommender, n_neighbors=3), -X_OTHER, *_NEGATIVE
    ),
    "semantic-correlation": Case(
        lambda: SemanticCorrelation(reg=1.0),
        F,
        F_REFIT,
        F_OTHER * 1e200,
        ValueError,
        "cannot be computed",
        lambda estimator: estimator.coef_,
        "sklearn_l3ae.text._semantic_correlation.semantic_correlation",
    ),
    # validate_data records the new column names before it finds the NaN.
    "anisotropy": Case(
        lambda: AnisotropyControl(reg=1.0),
        _dataframe(F, "f"),
        _dataframe(np.roll(F, 1, axis=0), "f"),
        _dataframe(np.where(np.eye(8, 3) > 0, np.nan, F_OTHER), "g"),
        ValueError,
        "NaN",
        lambda estimator: estimator.transform(_dataframe(F, "f")),
        "sklearn_l3ae.text._anisotropy.anisotropy_control_matrix",
    ),
    "sentence-encoder": Case(
        lambda: SentenceEncoder(model=_FAKE_MODEL),
        TEXTS,
        TEXTS[::-1],
        ["boom", "bang"],
        ValueError,
        "cannot encode 'boom'",
        lambda estimator: estimator.transform(TEXTS),
        (SentenceEncoder, "_encode"),  # fit encodes one text with this model
    ),
}


def _equal(a, b):
    """Whether ``a`` (an attribute) still has the value of ``b`` (its deep copy)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if sparse.issparse(a):
        return a.shape == b.shape and (a != b).nnz == 0
    if isinstance(a, BaseEstimator):
        return vars(a).keys() == vars(b).keys() and all(
            _equal(value, vars(b)[key]) for key, value in vars(a).items()
        )
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if a is None or isinstance(a, (bool, int, float, str, type, np.generic, np.dtype)):
        return type(a) is type(b) and a == b
    return True  # another object (a model): its identity is checked


def _snapshot(estimator):
    return dict(vars(estimator)), copy.deepcopy(vars(estimator))


def _assert_unchanged(estimator, snapshot):
    objects, values = snapshot
    state = vars(estimator)
    assert state.keys() == objects.keys()
    for key, value in state.items():
        assert value is objects[key], f"{key} was replaced"
        assert _equal(value, values[key]), f"{key} was modified in place"


def _assert_unfitted(estimator, make):
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert not hasattr(estimator, "n_features_in_")
    assert vars(estimator).keys() == vars(make()).keys()


def _interrupt(*args, **kwargs):
    _interrupt.calls += 1
    raise KeyboardInterrupt


def _inject_interrupt(monkeypatch, target):
    """Make ``target`` (a dotted path, or a class and method name) interrupt."""
    _interrupt.calls = 0
    if isinstance(target, str):
        monkeypatch.setattr(target, _interrupt)
    else:
        monkeypatch.setattr(*target, staticmethod(_interrupt))


@pytest.fixture(params=list(CASES))
def case(request):
    return CASES[request.param]


def test_a_failed_refit_keeps_the_fitted_model(case):
    estimator = case.make().fit(case.fit_data)
    outputs = case.outputs(estimator)
    snapshot = _snapshot(estimator)
    with pytest.raises(case.error, match=case.match):
        estimator.fit(case.bad_data)
    _assert_unchanged(estimator, snapshot)
    np.testing.assert_array_equal(case.outputs(estimator), outputs)
    # Still usable: a good refit goes through.
    estimator.fit(case.refit_data)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(case):
    estimator = case.make()
    with pytest.raises(case.error, match=case.match):
        estimator.fit(case.bad_data)
    _assert_unfitted(estimator, case.make)
    estimator.fit(case.fit_data)
    check_is_fitted(estimator)


def test_an_interrupted_refit_keeps_the_fitted_model(case, monkeypatch):
    estimator = case.make().fit(case.fit_data)
    outputs = case.outputs(estimator)
    snapshot = _snapshot(estimator)
    _inject_interrupt(monkeypatch, case.interrupt)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(case.refit_data)
    assert _interrupt.calls == 1
    monkeypatch.undo()
    _assert_unchanged(estimator, snapshot)
    np.testing.assert_array_equal(case.outputs(estimator), outputs)


def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(case, monkeypatch):
    _inject_interrupt(monkeypatch, case.interrupt)
    estimator = case.make()
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(case.fit_data)
    _assert_unfitted(estimator, case.make)


@pytest.mark.parametrize(
    "name, target",
    [
        ("ease", "sklearn_l3ae._solvers._dense.gram_matrix"),
        ("ease", "sklearn_l3ae._solvers._dense.l3ae_weights"),
        ("l3ae", "sklearn_l3ae._solvers._dense.l3ae_weights"),
        # Phase 1, inside the nested SemanticCorrelation's own atomic fit.
        ("l3ae", "sklearn_l3ae.text._semantic_correlation.semantic_correlation"),
        ("rlae", "sklearn_l3ae._solvers._dense.l3ae_weights"),
        ("dlae", "sklearn_l3ae._solvers._dense.gram_matrix"),
        ("semantic-ease", "sklearn_l3ae.recommenders._item_side.correlation_of"),
        ("additive-ease", "sklearn_l3ae._solvers._dense.l3ae_weights"),
        ("collective-ease", "sklearn_l3ae._solvers._dense.add_outer_product_inplace"),
    ],
)
def test_an_interrupted_closed_form_keeps_the_fitted_model(name, target, monkeypatch):
    case = CASES[name]
    estimator = case.make().fit(case.fit_data)
    outputs = case.outputs(estimator)
    snapshot = _snapshot(estimator)
    _inject_interrupt(monkeypatch, target)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(case.refit_data)
    assert _interrupt.calls == 1
    monkeypatch.undo()
    _assert_unchanged(estimator, snapshot)
    np.testing.assert_array_equal(case.outputs(estimator), outputs)


def test_a_refit_refused_for_memory_keeps_the_fitted_model():
    # The memory check runs after validate_data has seen the new items.
    estimator = L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=1.0).fit(X)
    outputs = _scores(estimator)
    estimator.set_params(item_embeddings=None, memory_limit=1)
    snapshot = _snapshot(estimator)
    with pytest.raises(MemoryLimitError):
        estimator.fit(X_OTHER)
    _assert_unchanged(estimator, snapshot)
    np.testing.assert_array_equal(
        _scores(estimator.set_params(memory_limit=None)), outputs
    )


def test_the_phase_one_estimator_given_is_never_fitted():
    semantic = SemanticCorrelation(reg=1.0)
    model = L3AERecommender(semantic, item_embeddings=F, reg_X=1.0, reg_E=1.0)
    with pytest.raises(ValueError, match="item_embeddings has 10 entries"):
        model.fit(X_OTHER)
    model.fit(X)
    assert model.semantic_ is not semantic
    with pytest.raises(NotFittedError):
        check_is_fitted(semantic)


# --- the decorator itself --------------------------------------------------------


class _Toy(BaseEstimator):
    def __init__(self, fail=None):
        self.fail = fail

    @atomic_fit
    def fit(self, X, y=None, *, sample_weight=None):
        """Docstring kept."""
        self.n_features_in_ = len(X)
        self.coef_ = np.asarray(X, dtype=float)
        if hasattr(self, "old_"):
            del self.old_
        if self.fail is not None:
            raise self.fail
        return self


def test_atomic_fit_keeps_name_docstring_and_signature():
    assert _Toy.fit.__name__ == "fit"
    assert _Toy.fit.__doc__ == "Docstring kept."
    assert list(inspect.signature(_Toy.fit).parameters) == [
        "self",
        "X",
        "y",
        "sample_weight",
    ]
    toy = _Toy()
    assert toy.fit([1, 2]) is toy
    np.testing.assert_array_equal(toy.coef_, [1.0, 2.0])


@pytest.mark.parametrize(
    "error", [ValueError("bad"), KeyboardInterrupt(), SystemExit(2)]
)
def test_atomic_fit_restores_added_changed_and_deleted_attributes(error):
    toy = _Toy().fit([1, 2])
    toy.old_ = "kept"
    toy.fail = error
    snapshot = _snapshot(toy)
    with pytest.raises(type(error)):
        toy.fit([1, 2, 3])
    _assert_unchanged(toy, snapshot)
    assert toy.n_features_in_ == 2 and toy.old_ == "kept"


_ATOMIC_FIT = atomic_fit(lambda self: None).__code__
_FIT_CONTEXT = _fit_context(prefer_skip_nested_validation=True)(lambda self: 0).__code__


@pytest.mark.parametrize(
    "cls",
    [
        EASERecommender,
        L3AERecommender,
        RLAERecommender,
        DLAERecommender,
        RDLAERecommender,
        SemanticCorrelation,
        AnisotropyControl,
        SentenceEncoder,
        SemanticEASERecommender,
        AdditiveEASERecommender,
        CollectiveEASERecommender,
        PopularityRecommender,
        ALSRecommender,
        BPRRecommender,
        ItemKNNRecommender,
        LightGCN,
        RLMRec,
        AlphaRec,
    ],
)
def test_every_fit_is_atomic_around_fit_context(cls):
    # atomic_fit outermost: scikit-learn's _fit_context (parameter validation,
    # callback teardown, which reads state the fit set up) runs inside it.
    assert cls.fit.__code__ is _ATOMIC_FIT
    assert cls.fit.__wrapped__.__code__ is _FIT_CONTEXT
    original = inspect.unwrap(cls.fit)
    assert cls.fit.__doc__ == original.__doc__ and "Parameters" in cls.fit.__doc__
    assert inspect.signature(cls.fit) == inspect.signature(original)


def test_invalid_parameters_leave_the_estimator_unfitted():
    estimator = EASERecommender(reg="large")
    with pytest.raises(ValueError, match="reg"):
        estimator.fit(X)
    _assert_unfitted(estimator, lambda: clone(estimator))


# --- the command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _write_folder(tmp_path_factory.mktemp("data") / "movies")


@pytest.fixture
def existing_model(tmp_path):
    path = tmp_path / "model.npz"
    save(EASERecommender(reg=1.0).fit(X), path)
    return path, path.read_bytes()


def _assert_model_file_kept(existing_model):
    path, content = existing_model
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]
    assert isinstance(load(path), EASERecommender)


def test_cli_fit_failing_midway_keeps_the_model_file(
    folder, existing_model, tmp_path, capsys
):
    path, _ = existing_model
    argv = ["fit", "--data", str(folder), "--model", str(path)]
    # The data load and the validation of X succeed; phase 1 cannot load it.
    assert main([*argv, "--encoder", str(tmp_path / "no-model")]) == 1
    assert "no-model" in capsys.readouterr().err
    _assert_model_file_kept(existing_model)


@pytest.mark.parametrize("stage", ["phase two", "save"])
def test_cli_fit_interrupted_keeps_the_model_file(
    folder, existing_model, stage, monkeypatch, capsys
):
    path, _ = existing_model
    argv = ["fit", "--data", str(folder), "--model", str(path)]
    argv += ["--encoder", _encoder(), "--reg-X", "1", "--reg-E", "5"]
    _interrupt.calls = 0
    if stage == "phase two":
        monkeypatch.setattr("sklearn_l3ae._solvers._dense.l3ae_weights", _interrupt)
    else:

        def half_written(file, **members):
            file.write(b"PK\x03\x04 half a zip")
            _interrupt()

        monkeypatch.setattr("sklearn_l3ae.persistence.np.savez", half_written)
    assert main(argv) == 130
    assert _interrupt.calls == 1
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.undo()
    _assert_model_file_kept(existing_model)


@pytest.mark.parametrize("name", ["anisotropy", "sentence-encoder"])
def test_an_interrupted_fit_transform_keeps_the_estimator(name, monkeypatch):
    """fit_transform is one transaction: a failing transform undoes the fit."""
    case = CASES[name]
    fitted = case.make().fit(case.fit_data)
    before = case.outputs(fitted)
    snapshot = _snapshot(fitted)
    fresh = case.make()
    expected = case.make().fit_transform(case.refit_data)
    _inject_interrupt(monkeypatch, (type(fitted), "transform"))
    for estimator in (fitted, fresh):
        with pytest.raises(KeyboardInterrupt):
            estimator.fit_transform(case.refit_data)
    monkeypatch.undo()
    _assert_unchanged(fitted, snapshot)
    np.testing.assert_array_equal(case.outputs(fitted), before)
    _assert_unfitted(fresh, case.make)
    # And without the interruption it is fit(X).transform(X).
    np.testing.assert_array_equal(
        np.asarray(case.make().fit_transform(case.refit_data)), np.asarray(expected)
    )
    np.testing.assert_array_equal(
        np.asarray(expected),
        np.asarray(case.make().fit(case.refit_data).transform(case.refit_data)),
    )
