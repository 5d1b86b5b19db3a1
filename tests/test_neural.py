"""LightGCN, RLMRec and AlphaRec against hand computations and transcriptions.

The references below are direct NumPy transcriptions of the published models'
formulas (LightGCN: He et al. 2020, eq. 3-4; RLMRec's losses:
``HKUDS/RLMRec`` ``encoder/models/loss_utils.py``; AlphaRec: Sheng et al.
2025 and ``LehengTHU/AlphaRec`` ``models/General/AlphaRec.py``), written
from the dense adjacency matrix rather than the package's sparse blocks.
"""

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_l3ae import make_ranking_scorer
from sklearn_l3ae.baselines import AlphaRec, LightGCN, RLMRec
from sklearn_l3ae.baselines._neural import (
    bpr_loss,
    graph_tensors,
    in_batch_info_nce,
    info_nce,
    normalized_graph,
    propagate,
)

from ._data import load_binary_interactions
from ._reference import random_interactions, relative_error

torch = pytest.importorskip("torch")

# float32 sums over at most a few hundred terms.
F32_TOL = 1e-5


def dense_adjacency(R):
    """``D^(-1/2) A D^(-1/2)`` of ``A = [[0, R], [Rᵀ, 0]]`` (LightGCN eq. 4)."""
    R = np.asarray(R, dtype=np.float64)
    n_users, n_items = R.shape
    A = np.zeros((n_users + n_items, n_users + n_items))
    A[:n_users, n_users:] = R
    A[n_users:, :n_users] = R.T
    degree = A.sum(axis=1)
    scale = np.where(degree > 0, 1 / np.sqrt(np.where(degree > 0, degree, 1)), 0)
    return scale[:, None] * A * scale[None, :]


def lightgcn_reference(R, users, items, n_layers):
    """``mean_k Â^k E⁽⁰⁾`` split into users and items (LightGCN eq. 3)."""
    A = dense_adjacency(R)
    E = np.vstack([users, items]).astype(np.float64)
    layers = [E]
    for _ in range(n_layers):
        layers.append(A @ layers[-1])
    final = np.mean(layers, axis=0)
    return final[: len(users)], final[len(users) :]


@pytest.fixture
def two_torch_threads():
    """Training threads whose schedule varies (as on any multi-core CPU)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = sparse.csr_array(random_interactions(rng, 40, 15, density=0.25))
    F = rng.standard_normal((15, 6))
    return X, F


def test_propagation_by_hand_on_two_users_and_two_items():
    # R = [[1, 1], [0, 1]]: user degrees (2, 1), item degrees (1, 2), so
    # R̃ = [[1/√2, 1/2], [0, 1/√2]]; one layer: U = (U⁽⁰⁾ + R̃ V⁽⁰⁾) / 2.
    R = np.array([[1.0, 1.0], [0.0, 1.0]])
    U0 = np.array([[1.0, 0.0], [0.0, 1.0]])
    V0 = np.array([[2.0, 0.0], [0.0, 4.0]])
    R_tilde = np.array([[1 / np.sqrt(2), 0.5], [0.0, 1 / np.sqrt(2)]])
    U, V, item_layers = propagate(
        graph_tensors(normalized_graph(R)[0]),
        torch.tensor(U0, dtype=torch.float32),
        torch.tensor(V0, dtype=torch.float32),
        1,
    )
    np.testing.assert_allclose(U.numpy(), (U0 + R_tilde @ V0) / 2, rtol=F32_TOL)
    np.testing.assert_allclose(V.numpy(), (V0 + R_tilde.T @ U0) / 2, rtol=F32_TOL)
    assert len(item_layers) == 1
    np.testing.assert_array_equal(item_layers[0].numpy(), V0)


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
def test_propagation_matches_the_dense_adjacency_powers(data, n_layers):
    X, _ = data
    R = X.toarray() > 0
    rng = np.random.default_rng(1)
    U0, V0 = rng.standard_normal((40, 4)), rng.standard_normal((15, 4))
    U, V, _ = propagate(
        graph_tensors(normalized_graph(R)[0]),
        torch.tensor(U0, dtype=torch.float32),
        torch.tensor(V0, dtype=torch.float32),
        n_layers,
    )
    U_ref, V_ref = lightgcn_reference(R, U0, V0, n_layers)
    assert relative_error(U.numpy(), U_ref) < F32_TOL
    assert relative_error(V.numpy(), V_ref) < F32_TOL


def test_the_graph_products_gradient_is_the_transposed_product(data):
    X, _ = data
    graph = graph_tensors(normalized_graph(X > 0)[0])
    rng = np.random.default_rng(2)
    U0 = torch.tensor(rng.standard_normal((40, 3)), requires_grad=True)
    V0 = torch.tensor(rng.standard_normal((15, 3)), requires_grad=True)
    U, V, _ = propagate(tuple(t.to(torch.float64) for t in graph), U0, V0, 2)
    (U.square().sum() + V.sum()).backward()
    # The same loss through a dense Â (of the same float32 R̃), by autograd.
    R_tilde = normalized_graph(X > 0)[0].toarray().astype(np.float64)
    A = torch.tensor(
        np.block([[np.zeros((40, 40)), R_tilde], [R_tilde.T, np.zeros((15, 15))]])
    )
    U1 = U0.detach().clone().requires_grad_()
    V1 = V0.detach().clone().requires_grad_()
    E = torch.cat([U1, V1])
    final = (E + A @ E + A @ (A @ E)) / 3
    (final[:40].square().sum() + final[40:].sum()).backward()
    np.testing.assert_allclose(U0.grad.numpy(), U1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(V0.grad.numpy(), V1.grad.numpy(), rtol=1e-10)


def test_losses_match_their_transcriptions():
    rng = np.random.default_rng(3)
    u, p, n = (rng.standard_normal((7, 5)) for _ in range(3))
    candidates = rng.standard_normal((4, 5))
    t = torch.tensor
    # BPR: mean softplus(u·n − u·p).
    expected = np.mean(np.log1p(np.exp((u * n).sum(1) - (u * p).sum(1))))
    np.testing.assert_allclose(float(bpr_loss(t(u), t(p), t(n))), expected, rtol=1e-12)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    # AlphaRec's InfoNCE: −log(e^{cos(u,p)/τ} / (e^{cos(u,p)/τ} + Σ e^{cos(u,n)/τ})).
    tau = 0.15
    positive = np.exp((unit(u) * unit(p)).sum(1) / tau)
    negative = np.exp(unit(u) @ unit(candidates).T / tau).sum(1)
    expected = np.mean(-np.log(positive / (positive + negative)))
    got = float(info_nce(t(u), t(p), t(candidates), tau))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # RLMRec's ssl_con_loss without its 1e-8 guards: the batch's own rows.
    mole = np.exp((unit(u) * unit(p)).sum(1) / tau)
    deno = np.exp(unit(u) @ unit(p).T / tau).sum(1)
    expected = np.mean(-np.log(mole / deno))
    got = float(in_batch_info_nce(t(u), t(p), tau))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_untrained_lightgcn_exports_its_closed_form_propagation(data):
    X, _ = data
    R = sparse.csr_array(X > 0, dtype=np.float32)
    model = LightGCN(factors=4, n_layers=1)
    module = model._build_module(R, None, torch.Generator().manual_seed(0))
    state = module.export()
    U_ref, V_ref = lightgcn_reference(
        R.toarray(), module.users.detach().numpy(), module.items.detach().numpy(), 1
    )
    assert relative_error(state["user_factors_"], U_ref) < F32_TOL
    assert relative_error(state["item_factors_"], V_ref) < F32_TOL


def test_lightgcn_scores_its_training_users_by_their_factors(data):
    X, _ = data
    model = LightGCN(factors=4, epochs=3, random_state=0).fit(X)
    order = np.array([5, 0, 39])
    expected = model.user_factors_[order] @ model.item_factors_.T
    np.testing.assert_allclose(
        model._raw_scores(X[order]), expected, rtol=F32_TOL, atol=F32_TOL
    )
    assert model.loss_curve_.shape == (3,) and model.n_epochs_ == 3
    assert model.best_epoch_ == 3 and model.validation_scores_.size == 0
    with pytest.raises(ValueError, match="can only score its training users"):
        model.predict(np.ones((1, 15)))


def test_rlmrec_without_alignment_weight_is_lightgcn(data):
    # Same seed: the same initial embeddings, batches and negatives; a zero
    # alignment weight leaves BPR's gradients, so the models coincide.
    X, F = data
    params = dict(factors=4, n_layers=2, epochs=4, random_state=0)
    lightgcn = LightGCN(**params).fit(X)
    rlmrec = RLMRec(item_embeddings=F, alignment_weight=0.0, **params).fit(X)
    aligned = RLMRec(item_embeddings=F, alignment_weight=1.0, **params).fit(X)
    np.testing.assert_allclose(
        rlmrec.item_factors_, lightgcn.item_factors_, rtol=1e-5, atol=1e-6
    )
    assert relative_error(aligned.item_factors_, lightgcn.item_factors_) > 1e-3


def test_rlmrec_profiles_pull_items_with_similar_texts_together():
    # Two groups of items with opposite texts and random interactions: the
    # contrastive alignment makes same-text items' embeddings more similar.
    rng = np.random.default_rng(4)
    X = random_interactions(rng, 120, 20, density=0.2)
    F = np.repeat([[1.0, 0.0], [-1.0, 0.0]], 10, axis=0) + 0.01 * rng.random((20, 2))

    def group_gap(model):
        V = model.item_factors_ / np.linalg.norm(model.item_factors_, axis=1)[:, None]
        cos = V @ V.T
        same = np.add.outer(np.arange(20) < 10, np.arange(20) < 10) != 1
        return cos[same].mean() - cos[~same].mean()

    params = dict(factors=8, epochs=30, learning_rate=0.02, random_state=0)
    plain = LightGCN(**params).fit(X)
    aligned = RLMRec(item_embeddings=F, alignment_weight=1.0, **params).fit(X)
    assert group_gap(aligned) > group_gap(plain) + 0.1


def alpharec_reference(model, X_train, X_rows):
    """AlphaRec's cosine scores of ``X_rows`` from the fitted weights, densely."""
    F = model.item_embeddings_.astype(np.float64)

    def mlp(x):
        hidden = x @ model.hidden_weight_ + model.hidden_bias_
        hidden = np.where(hidden > 0, hidden, 0.01 * hidden)  # LeakyReLU
        return hidden @ model.output_weight_ + model.output_bias_

    def mean_text(R):
        return R @ F / np.maximum(R.sum(1, keepdims=True), 1)

    R = X_train.toarray() > 0
    users, items = lightgcn_reference(R, mlp(mean_text(R)), mlp(F), model.n_layers)
    # A row folds in through the training graph: layer k+1 of a user is
    # Σ_i r_ui / √(d_u d_i) V⁽ᵏ⁾_i with the training items' layers.
    A = dense_adjacency(R)
    n_users = R.shape[0]
    E = np.vstack([mlp(mean_text(R)), mlp(F)])
    item_layers = [E[n_users:]]
    for _ in range(model.n_layers - 1):
        E = A @ E
        item_layers.append(E[n_users:])
    rows = X_rows.toarray() > 0
    item_degree = R.sum(0)
    scale = rows / np.sqrt(np.maximum(rows.sum(1, keepdims=True), 1))
    scale = scale * np.where(
        item_degree > 0, 1 / np.sqrt(np.maximum(item_degree, 1)), 0
    )
    layers = [mlp(mean_text(rows))] + [scale @ V for V in item_layers]
    U = np.mean(layers, axis=0)
    np.testing.assert_allclose(items, model.item_factors_, rtol=1e-4, atol=1e-5)

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    return unit(U) @ unit(items).T, users


def test_alpharec_folds_in_training_and_new_users_exactly(data):
    X, F = data
    model = AlphaRec(
        item_embeddings=F, factors=4, n_negatives=5, epochs=3, random_state=0
    ).fit(X)
    expected, users = alpharec_reference(model, X, X)
    np.testing.assert_allclose(model._raw_scores(X), expected, rtol=1e-4, atol=1e-5)
    # A training user's folded-in embedding is its propagated one.
    np.testing.assert_allclose(
        model._raw_scores(X[:3]), expected[:3], rtol=1e-4, atol=1e-5
    )
    # New users, including one without interactions (its text mean is 0).
    rng = np.random.default_rng(5)
    new = sparse.csr_array(
        np.vstack([(rng.random((2, 15)) < 0.3).astype(float), np.zeros((1, 15))])
    )
    expected, _ = alpharec_reference(model, X, new)
    np.testing.assert_allclose(model._raw_scores(new), expected, rtol=1e-4, atol=1e-5)
    assert model.item_messages_.shape == (2, 15, 4)


@pytest.mark.parametrize(
    "make",
    [
        lambda F: LightGCN(factors=4, epochs=3),
        lambda F: RLMRec(item_embeddings=F, factors=4, epochs=3),
        lambda F: RLMRec(item_embeddings=F, alignment="gen", factors=4, epochs=3),
        lambda F: AlphaRec(item_embeddings=F, factors=4, n_negatives=4, epochs=3),
    ],
    ids=["lightgcn", "rlmrec-con", "rlmrec-gen", "alpharec"],
)
def test_a_seed_fixes_the_model_and_another_changes_it(data, make):
    # Bitwise: the same fit in the same process on the same threads.
    X, F = data
    first = make(F).set_params(random_state=0).fit(X)
    again = clone(first).fit(X)
    other = clone(first).set_params(random_state=1).fit(X)
    np.testing.assert_array_equal(
        first.decision_function(X), again.decision_function(X)
    )
    assert not np.array_equal(first.item_factors_, other.item_factors_)


@pytest.mark.parametrize(
    "make",
    [
        lambda F: LightGCN(epochs=1),
        lambda F: RLMRec(item_embeddings=F, epochs=1),
        lambda F: RLMRec(item_embeddings=F, alignment="gen", epochs=1),
        lambda F: AlphaRec(item_embeddings=F, epochs=1),
    ],
    ids=["lightgcn", "rlmrec-con", "rlmrec-gen", "alpharec"],
)
def test_a_seed_fixes_the_model_on_real_data_with_two_threads(make, two_torch_threads):
    """On ml-100k, where batches repeat users and items, the gradients of
    repeated rows must be summed in a fixed order: with advanced indexing
    they were not, and two fits differed (by 5e-7 after 3 epochs)."""
    X, _ = load_binary_interactions("ml-100k")
    F = np.random.default_rng(0).standard_normal((X.shape[1], 16)).astype(np.float32)
    first = make(F).set_params(random_state=0).fit(X)
    again = clone(first).fit(X)
    np.testing.assert_array_equal(first.item_factors_, again.item_factors_)


def test_negatives_avoid_the_users_items_when_possible():
    # Users with 14 of 15 items: the one item left is the only negative.
    X = sparse.csr_array(np.ones((6, 15)) - np.eye(6, 15))
    model = LightGCN(random_state=0)
    users, items = X.nonzero()
    keys = np.sort(users.astype(np.int64) * 15 + items)
    negatives = model._sample_negatives(
        np.random.RandomState(0), users.astype(np.int64), keys, X
    )
    assert np.array_equal(negatives, users)  # the only unseen item of user u is u


def test_early_stopping_keeps_the_best_scored_epoch(data):
    X, F = data
    calls = []

    def falling(estimator, X, y):  # the first score is the best
        calls.append(1)
        return -len(calls)

    params = dict(
        item_embeddings=F,
        factors=4,
        n_negatives=4,
        epochs=50,
        early_stopping=True,
        validation_interval=2,
        n_iter_no_change=3,
        random_state=0,
    )
    model = AlphaRec(scoring=falling, **params).fit(X)
    assert model.n_epochs_ == 8 and model.best_epoch_ == 2
    np.testing.assert_array_equal(model.validation_scores_, [-1, -2, -3, -4])
    # The kept model is the epoch-2 model: the same as training 2 epochs.
    short = AlphaRec(scoring=lambda *args: 0.0, **{**params, "epochs": 2}).fit(X)
    np.testing.assert_array_equal(model.item_factors_, short.item_factors_)


def test_default_early_stopping_scores_ndcg_and_improves(data):
    rng = np.random.default_rng(6)
    # Two user groups with their own items: easy to learn, hard to guess.
    blocks = sparse.block_diag([np.ones((30, 10)), np.ones((30, 10))]).toarray()
    X = sparse.csr_array(blocks * (rng.random((60, 20)) < 0.6))
    model = LightGCN(
        factors=8,
        epochs=30,
        learning_rate=0.05,
        early_stopping=True,
        validation_interval=3,
        random_state=0,
    ).fit(X)
    best = np.argmax(model.validation_scores_)
    assert model.best_epoch_ == 3 * (best + 1)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    # A trained model recommends an unseen item of the user's own block first.
    first = model.predict(X)[:, 0]
    in_first_block = np.arange(60) < 30
    own_block = (first < 10) == in_first_block
    unseen_own = (blocks - X.toarray()).sum(axis=1) > 0
    assert own_block[unseen_own].mean() > 0.9


def test_grid_search_tunes_the_neural_models(data):
    X, F = data
    users = np.arange(X.shape[0])
    search = GridSearchCV(
        RLMRec(item_embeddings=F, factors=4, epochs=2, random_state=0),
        {"alignment": ["con", "gen"]},
        scoring=make_ranking_scorer("ndcg", k=5),
        cv=[(users, users)],
    ).fit(X, X)
    assert set(search.cv_results_["param_alignment"]) == {"con", "gen"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda F: RLMRec(), "RLMRec needs item_texts or item_embeddings"),
        (lambda F: AlphaRec(), "AlphaRec needs item_texts or item_embeddings"),
        (
            lambda F: AlphaRec(item_embeddings=F[:5]),
            "item_embeddings",
        ),
        (lambda F: LightGCN(learning_rate=0.0), "learning_rate"),
        (lambda F: RLMRec(item_embeddings=F, alignment="both"), "alignment"),
    ],
)
def test_bad_parameters_are_explained(data, make, match):
    X, F = data
    with pytest.raises(ValueError, match=match):
        make(F).fit(X)


def test_empty_or_unsplittable_input_is_explained():
    with pytest.raises(ValueError, match="at least one interaction"):
        LightGCN().fit(sparse.csr_array((3, 4)))
    one_each = sparse.csr_array(np.eye(4))
    with pytest.raises(ValueError, match="early_stopping needs users with 2"):
        LightGCN(early_stopping=True).fit(one_each)


def test_a_diverging_fit_names_the_learning_rate(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"learning_rate=1e\+30"):
        LightGCN(learning_rate=1e30, reg=0.0, epochs=5, random_state=0).fit(X)


def test_verbose_shows_a_progress_bar_over_epochs(data, capsys):
    X, _ = data
    LightGCN(factors=4, epochs=3, verbose=1, random_state=0).fit(X)
    err = capsys.readouterr().err
    assert "LightGCN" in err and "3/3" in err and "loss=" in err
    LightGCN(factors=4, epochs=3, random_state=0).fit(X)
    assert capsys.readouterr().err == ""
