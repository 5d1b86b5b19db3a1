"""Every member of the linear-autoencoder family against its paper's formula.

One parametrized test replaces the tests that checked wiring (EASE = RLAE
with ξ = 0 = RDLAE with p = 0, bit for bit, all calling one function): each
configuration is fitted in float64 and compared with an independent dense
transcription of the formula it stands for (``tests/_reference.py``), within
the ``(κ + 16)·ε`` of the matrix it factorizes.
"""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_l3ae import (
    DLAERecommender,
    EASERecommender,
    L3AERecommender,
    RDLAERecommender,
    RLAERecommender,
    SemanticCorrelation,
)
from sklearn_l3ae.baselines import (
    AdditiveEASERecommender,
    CollectiveEASERecommender,
    SemanticEASERecommender,
)

from ._numerics import solve_tolerance
from ._reference import (
    dropout_penalty_reference,
    ease_reference,
    l3ae_reference,
    l3ae_relaxed_reference,
    random_interactions,
    rdlae_reference,
    relative_error,
    ridge_lae_reference,
    semantic_reference,
)

RNG = np.random.default_rng(20)
X = random_interactions(RNG, 150, 30, density=0.15)
F = RNG.standard_normal((30, 5))
C = semantic_reference(F, 10.0)  # SemanticCorrelation's default reg
G = X.T @ X
PHASE_ONE = F @ F.T + 10.0 * np.eye(30)  # what phase 1 inverts (by Woodbury)


def _shift(reg, dropout=0.0):
    """The matrix a fit factorizes: XᵀX + Λ with Λ = reg·I + p/(1−p)·diag(XᵀX)."""
    return G + dropout_penalty_reference(X, reg, dropout)


# (estimator, reference weights, the matrix its fit factorizes)
CASES = {
    "EASE": (EASERecommender(reg=7.0), ease_reference(X, 7.0), _shift(7.0)),
    "RLAE xi=0 is EASE": (
        RLAERecommender(reg=7.0, xi=0.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "RLAE": (
        RLAERecommender(reg=7.0, xi=0.3),
        rdlae_reference(X, 7.0, 0.0, 0.3),
        _shift(7.0),
    ),
    "RLAE xi=None is the ridge LAE": (
        RLAERecommender(reg=7.0, xi=None),
        ridge_lae_reference(X, 7.0),
        _shift(7.0),
    ),
    "RDLAE p=0, xi=0 is EASE": (
        RDLAERecommender(reg=7.0, dropout=0.0, xi=0.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "RDLAE": (
        RDLAERecommender(reg=3.0, dropout=0.25, xi=0.2),
        rdlae_reference(X, 3.0, 0.25, 0.2),
        _shift(3.0, 0.25),
    ),
    "DLAE": (
        DLAERecommender(reg=3.0, dropout=0.25),
        rdlae_reference(X, 3.0, 0.25, None),
        _shift(3.0, 0.25),
    ),
    "EDLAE": (
        DLAERecommender(reg=3.0, dropout=0.25, xi=0.0),
        rdlae_reference(X, 3.0, 0.25, 0.0),
        _shift(3.0, 0.25),
    ),
    "L3AE defaults are the paper's model": (
        L3AERecommender(item_embeddings=F, reg_X=-2.0, reg_E=20.0),
        l3ae_reference(X, C, -2.0, 20.0),
        _shift(18.0),
    ),
    "L3AE reg_E=0 is EASE": (
        L3AERecommender(item_embeddings=F, reg_X=7.0, reg_E=0.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "L3AE without item data is EASE with reg_X + reg_E": (
        L3AERecommender(reg_X=-3.0, reg_E=10.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "L3AE without item data, relaxed, is RDLAE": (
        L3AERecommender(reg_X=-2.0, reg_E=9.0, dropout=0.25, xi=0.2),
        rdlae_reference(X, 7.0, 0.25, 0.2),
        _shift(7.0, 0.25),
    ),
    "L3AE relaxed, with text": (
        L3AERecommender(item_embeddings=F, reg_X=1.0, reg_E=5.0, dropout=0.2, xi=0.1),
        l3ae_relaxed_reference(X, C, 1.0, 5.0, 0.2, 0.1),
        _shift(6.0, 0.2),
    ),
    "L3AE with a dense phase 1": (
        L3AERecommender(
            make_pipeline(StandardScaler(), SemanticCorrelation(reg=3.0)),
            item_embeddings=F,
            reg_X=1.0,
            reg_E=5.0,
        ),
        l3ae_reference(
            X, semantic_reference(StandardScaler().fit_transform(F), 3.0), 1.0, 5.0
        ),
        _shift(6.0),
    ),
    "Text only is C": (
        SemanticEASERecommender(item_embeddings=F),
        C,
        PHASE_ONE,
    ),
    "Additive text_share=0 is EASE": (
        AdditiveEASERecommender(item_embeddings=F, reg=7.0, text_share=0.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "Additive text_share=1 is text only": (
        AdditiveEASERecommender(item_embeddings=F, reg=7.0, text_share=1.0),
        C,
        PHASE_ONE,
    ),
    "Additive": (
        AdditiveEASERecommender(item_embeddings=F, reg=7.0, text_share=0.3),
        0.7 * ease_reference(X, 7.0) + 0.3 * C,
        _shift(7.0),
    ),
    "Collective text_weight=0 is EASE": (
        CollectiveEASERecommender(item_embeddings=F, reg=7.0, text_weight=0.0),
        ease_reference(X, 7.0),
        _shift(7.0),
    ),
    "Collective": (
        CollectiveEASERecommender(item_embeddings=F, reg=7.0, text_weight=2.0),
        ease_reference(np.vstack([X, 2.0 * F.T]), 7.0),
        _shift(7.0) + 4.0 * F @ F.T,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_member_is_its_papers_formula(case):
    estimator, reference, H = CASES[case]
    model = estimator.set_params(dtype=np.float64).fit(X)
    assert model.coef_.dtype == np.float64
    tol = solve_tolerance(H, np.float64)
    assert relative_error(model.coef_, reference) <= tol, case
