"""scikit-learn's own estimator checks over every public estimator."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_l3ae import (
    AnisotropyControl,
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
)
from sklearn_l3ae.recommenders import ItemItemRecommender

# The recommenders' `score(X, y)` compares rankings with a held-out interaction
# matrix of X's shape; sklearn's check passes a 1-D class-label vector instead.
_SCORE_NEEDS_INTERACTIONS = (
    "score(X, y) needs y to be a held-out interaction matrix shaped like X, "
    "not a 1-D target"
)
# predict returns the top-k item indices per user, shape (n_users, top_k), where
# the check expects one label per sample; sparse input is covered in
# tests/test_estimators.py instead.
_PREDICT_IS_TOP_K = (
    "predict returns (n_users, top_k) item indices, not one label per sample"
)
_RECOMMENDER_XFAILS = {
    "check_fit_score_takes_y": _SCORE_NEEDS_INTERACTIONS,
    "check_pipeline_consistency": _SCORE_NEEDS_INTERACTIONS,
    "check_estimator_sparse_array": _PREDICT_IS_TOP_K,
    "check_estimator_sparse_matrix": _PREDICT_IS_TOP_K,
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, ItemItemRecommender):
        return _RECOMMENDER_XFAILS
    return {}


# scikit-learn's checks compare methods applied to all samples, to one sample
# at a time and to permuted samples with atol=1e-7 and 1e-9: float64-level
# invariance.  In float32 (the default) a product over 1 row or 20 rows may
# use another BLAS kernel and differ by ~1e-7 relative, depending on the CPU;
# so the checks run in float64, and the float32 paths are compared with
# round-off bounds in the other tests (tests/_numerics.py).
F64 = np.float64


@parametrize_with_checks(
    [
        EASERecommender(reg=1.0, dtype=F64),
        L3AERecommender(reg_X=0.5, reg_E=0.5, dtype=F64),
        L3AERecommender(reg_X=0.5, reg_E=0.5, dropout=0.3, xi=0.2, dtype=F64),
        RLAERecommender(reg=1.0, dtype=F64),
        DLAERecommender(reg=1.0, dtype=F64),
        DLAERecommender(reg=1.0, xi=0.0, dtype=F64),
        RDLAERecommender(reg=1.0, dtype=F64),
        SemanticCorrelation(reg=1.0, dtype=F64),
        AnisotropyControl(reg=1.0),
        # The torch path (CPU device): the same contract, partial_fit included.
        EASERecommender(reg=1.0, dtype=F64, device="cpu"),
        L3AERecommender(reg_X=0.5, reg_E=0.5, dtype=F64, device="cpu"),
        SemanticCorrelation(reg=1.0, dtype=F64, device="cpu"),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
