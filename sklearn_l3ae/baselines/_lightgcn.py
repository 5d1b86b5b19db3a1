"""LightGCN (He et al., SIGIR 2020) and RLMRec on it (Ren et al., WWW 2024)."""

import functools
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._core.torch_ops import import_torch
from ..recommenders._base import check_state_array
from ._history import TrainingUserRows
from ._item_text import TEXT_FEATURE_CONSTRAINTS, TextFeaturesMixin
from ._neural import (
    NEURAL_CONSTRAINTS,
    NeuralGraphRecommender,
    as_tensor,
    bpr_loss,
    embedding_l2,
    graph_tensors,
    in_batch_info_nce,
    neural_doc,
    normalized_graph,
    propagate,
    take_rows,
    user_means,
)

_REG_DOC = """L2 weight of the batch's layer-0 embeddings in the loss,
    ``reg · Σ||e⁽⁰⁾||² / (2 · batch)``, as in LightGCN."""


# Distinct users (and items) of a batch in RLMRec-Con's InfoNCE terms: the
# loss is quadratic in their number.
_ALIGNED_NODES = 1024


@functools.cache
def _module(nn):
    """The torch modules, defined on first use (torch is an optional import)."""
    torch = import_torch()

    class LightGCNModule(nn.Module):
        def __init__(self, R, factors, n_layers, reg, generator):
            super().__init__()
            R_normalized, _ = normalized_graph(R)
            self.graph = graph_tensors(R_normalized)
            self.n_layers, self.reg = n_layers, reg
            n_users, n_items = R.shape
            self.users = nn.Parameter(torch.empty(n_users, factors))
            self.items = nn.Parameter(torch.empty(n_items, factors))
            for weights in (self.users, self.items):
                nn.init.normal_(weights, std=0.1, generator=generator)

        def propagated(self, users=None, items=None):
            users = self.users if users is None else users
            items = self.items if items is None else items
            return propagate(self.graph, users, items, self.n_layers)[:2]

        def ranking_loss(self, U, V, users, positives, negatives):
            return bpr_loss(
                take_rows(U, users), take_rows(V, positives), take_rows(V, negatives)
            ) + self.reg * (
                embedding_l2(
                    take_rows(self.users, users),
                    take_rows(self.items, positives),
                    take_rows(self.items, negatives),
                )
            )

        def loss(self, users, positives, negatives):
            U, V = self.propagated()
            return self.ranking_loss(U, V, users, positives, negatives)

        def export(self):
            U, V = self.propagated()
            return {
                "user_factors_": U.detach().numpy(),
                "item_factors_": V.detach().numpy(),
            }

    class RLMRecModule(LightGCNModule):
        def __init__(self, R, F, factors, n_layers, reg, generator, spec):
            super().__init__(R, factors, n_layers, reg, generator)
            self.alignment, self.weight, self.temperature, self.mask_ratio = spec
            # Profiles: items' text embeddings, users' means over their items.
            self.profiles = as_tensor(np.vstack([user_means(R, F), F]))
            width = (F.shape[1] + factors) // 2
            inputs, outputs = (
                (F.shape[1], factors)
                if self.alignment == "con"
                else (factors, F.shape[1])
            )
            self.mlp = nn.Sequential(
                nn.Linear(inputs, width), nn.LeakyReLU(), nn.Linear(width, outputs)
            )
            for layer in (self.mlp[0], self.mlp[2]):
                nn.init.xavier_uniform_(layer.weight, generator=generator)
                nn.init.zeros_(layer.bias)
            self.mask_token = nn.Parameter(torch.zeros(1, factors))
            self.generator = generator

        def sample(self, nodes):
            """The batch's distinct nodes, at most ``_ALIGNED_NODES`` of them."""
            nodes = torch.unique(nodes)
            if len(nodes) > _ALIGNED_NODES:
                keep = torch.randperm(len(nodes), generator=self.generator)
                nodes = nodes[keep[:_ALIGNED_NODES]]
            return nodes

        def loss(self, users, positives, negatives):
            n_users = self.users.shape[0]
            if self.alignment == "con":
                U, V = self.propagated()
                ranking = self.ranking_loss(U, V, users, positives, negatives)
                align = sum(
                    in_batch_info_nce(
                        take_rows(embeddings, nodes),
                        self.mlp(self.profiles[nodes + offset]),
                        self.temperature,
                    )
                    for embeddings, nodes, offset in (
                        (U, self.sample(users), 0),
                        (V, self.sample(torch.cat([positives, negatives])), n_users),
                    )
                )
                return ranking + self.weight * align
            # "gen": mask nodes at layer 0, reconstruct their profiles.
            layer0 = torch.cat([self.users, self.items])
            n_masked = max(1, round(self.mask_ratio * len(layer0)))
            seeds = torch.randperm(len(layer0), generator=self.generator)[:n_masked]
            mask = torch.zeros(len(layer0), 1)
            mask[seeds] = 1.0
            layer0 = layer0 * (1 - mask) + self.mask_token * mask
            U, V = self.propagated(layer0[:n_users], layer0[n_users:])
            ranking = self.ranking_loss(U, V, users, positives, negatives)
            reconstructed = self.mlp(take_rows(torch.cat([U, V]), seeds))
            align = in_batch_info_nce(
                reconstructed, self.profiles[seeds], self.temperature
            )
            return ranking + self.weight * align

    return LightGCNModule, RLMRecModule


class _GraphFactors(TrainingUserRows, NeuralGraphRecommender):
    """Scores ``user_factors_[u] · item_factors_ᵀ`` for training users."""

    _no_fold_in = (
        "its users are free embeddings, with no fold-in for new users or "
        "changed histories"
    )

    def _raw_scores(self, X_batch):
        users = self._training_rows(X_batch)
        return self.user_factors_[users] @ self.item_factors_.T

    def _check_fitted_state(self):
        super()._check_fitted_state()
        items = check_state_array("item_factors_", self, (self.n_features_in_, None))
        users = check_state_array("user_factors_", self, (None, items.shape[1]))
        check_state_array(
            "user_histories_", self, (users.shape[0], self.n_features_in_)
        )


@neural_doc(epochs=50, learning_rate=0.02, reg=1e-4, reg_doc=_REG_DOC)
class LightGCN(_GraphFactors):
    """LightGCN: embeddings smoothed over the user–item graph, trained with BPR.

    He et al., *LightGCN: Simplifying and Powering Graph Convolution Network
    for Recommendation*, SIGIR 2020.  Users and items have free layer-0
    embeddings ``U⁽⁰⁾, V⁽⁰⁾``; each layer propagates them over the
    normalized graph, ``U⁽ᵏ⁺¹⁾ = R̃ V⁽ᵏ⁾``, ``V⁽ᵏ⁺¹⁾ = R̃ᵀ U⁽ᵏ⁾`` with
    ``R̃ = D_u^(-1/2) R D_i^(-1/2)`` (``R = X > 0``), and the final
    embeddings are the layer means.  The score is ``u · v``; training
    minimizes the BPR loss over each interaction and one uniformly sampled
    unseen item, with Adam, on PyTorch (CPU).

    A training user is scored from its embedding: a row of ``X`` is matched
    to the training user with the same interactions (as
    :class:`BPRRecommender`); rows matching none raise an error.

    Parameters
    ----------
    factors : int, default=64
        Embedding dimension.
    n_layers : int, default=3
        Propagation layers ``K`` (0 is matrix factorization with BPR).
    {neural_training}
    {scoring_parameters}

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
        The training users' final (layer-mean) embeddings.
    item_factors_ : ndarray of shape (n_items, factors)
        The items' final embeddings.
    user_histories_ : scipy.sparse.csr_array of shape (n_users, n_items)
        The training users' interactions (``True`` where ``X > 0``), by which
        rows of ``X`` are matched to training users.
    {neural_attributes}
    {recommender_attributes}

    See Also
    --------
    RLMRec : LightGCN aligned with text profiles.
    AlphaRec : Graph propagation of mapped text embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import LightGCN
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> model = LightGCN(factors=4, n_layers=1, epochs=5, top_k=1, random_state=0)
    >>> model.fit(X).item_factors_.shape
    (4, 4)
    >>> model.predict(X).shape
    (4, 1)
    """

    _parameter_constraints = {**NEURAL_CONSTRAINTS}

    def __init__(
        self,
        factors=64,
        *,
        n_layers=3,
        epochs=50,
        learning_rate=0.02,
        reg=1e-4,
        train_batch_size=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        validation_interval=5,
        scoring=None,
        random_state=None,
        verbose=0,
        item_ids=None,
        top_k=20,
        batch_size=None,
        memory_limit="auto",
    ):
        self.factors = factors
        self.n_layers = n_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.reg = reg
        self.train_batch_size = train_batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.validation_interval = validation_interval
        self.scoring = scoring
        self.random_state = random_state
        self.verbose = verbose
        self.item_ids = item_ids
        self.top_k = top_k
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _build_module(self, R, item_side, generator):
        module, _ = _module(import_torch().nn)
        return module(R, self.factors, self.n_layers, self.reg, generator)


# Alignment weights and temperatures of RLMRec's configs (LightGCN backbone).
_RLMREC_DEFAULTS = {"con": (0.01, 0.2), "gen": (0.1, 0.2)}


@neural_doc(epochs=50, learning_rate=0.02, reg=1e-4, reg_doc=_REG_DOC)
class RLMRec(TextFeaturesMixin, _GraphFactors):
    """RLMRec: LightGCN whose embeddings are aligned with text profiles.

    Ren et al., *Representation Learning with Large Language Models for
    Recommendation*, WWW 2024, on the LightGCN backbone (see
    :class:`LightGCN`).  Next to the BPR loss, each user and item embedding
    is aligned with a semantic *profile* ``s``:

    - ``alignment="con"`` (RLMRec-Con): an MLP maps the profiles into the
      embedding space and an InfoNCE loss pulls each final embedding towards
      its own mapped profile and away from the other profiles of the batch
      (one term over the batch's distinct users, one over its distinct
      positive and negative items, each on at most 1024 of them);
    - ``alignment="gen"`` (RLMRec-Gen): a share ``mask_ratio`` of the users'
      and items' layer-0 embeddings is replaced by a learned mask token, and
      an MLP reconstructs the masked nodes' profiles from their propagated
      embeddings (InfoNCE among the masked nodes).

    **Deviation from the paper.**  RLMRec's profiles are texts an LLM writes
    about each user and item, then embedded.  Here an item's profile is its
    text embedding ``F_i`` (``item_texts`` through ``semantic``, or
    ``item_embeddings``) and a user's profile is the mean of its training
    items' profiles; no LLM is called.  RLMRec-Con's InfoNCE negatives are
    the batch's other distinct nodes (the paper: all users for the users'
    term, and the batch's items with repeats), and regularization is
    LightGCN's (``reg``) rather than a weight decay of all parameters.

    Parameters
    ----------
    semantic : transformer, default=None
        Maps ``item_texts`` (or ``item_embeddings``) to the profiles ``F``,
        fitted as a clone; ``None`` is :class:`~sklearn_l3ae.SentenceEncoder`
        for texts and the embeddings as given.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.
    alignment : {"con", "gen"}, default="con"
        Contrastive or generative alignment.
    alignment_weight : float, default=None
        Weight of the alignment loss; ``None`` is RLMRec's 0.01 for
        ``"con"`` and 0.1 for ``"gen"``.
    temperature : float, default=0.2
        InfoNCE temperature of the alignment.
    mask_ratio : float, default=0.1
        Share of the nodes masked per step (``"gen"`` only).
    factors : int, default=64
        Embedding dimension.
    n_layers : int, default=3
        Propagation layers.
    {neural_training}
    {scoring_parameters}

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
        The training users' final embeddings.
    item_factors_ : ndarray of shape (n_items, factors)
        The items' final embeddings.
    user_histories_ : scipy.sparse.csr_array of shape (n_users, n_items)
        The training users' interactions, by which rows of ``X`` are matched
        to training users.
    semantic_ : transformer or None
        The fitted clone of ``semantic``.
    {neural_attributes}
    {recommender_attributes}

    See Also
    --------
    LightGCN : The backbone without text.
    AlphaRec : Text embeddings as the only input of the graph.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import RLMRec
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> model = RLMRec(item_embeddings=F, alignment="gen", factors=4, epochs=5,
    ...                random_state=0, top_k=1)
    >>> model.fit(X).predict(X).shape
    (4, 1)
    """

    _text_purpose = "they are the items' profiles"

    _parameter_constraints = {
        **NEURAL_CONSTRAINTS,
        **TEXT_FEATURE_CONSTRAINTS,
        "alignment": [StrOptions({"con", "gen"})],
        "alignment_weight": [Interval(Real, 0, None, closed="left"), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        alignment="con",
        alignment_weight=None,
        temperature=0.2,
        mask_ratio=0.1,
        factors=64,
        n_layers=3,
        epochs=50,
        learning_rate=0.02,
        reg=1e-4,
        train_batch_size=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        validation_interval=5,
        scoring=None,
        random_state=None,
        verbose=0,
        item_ids=None,
        top_k=20,
        batch_size=None,
        memory_limit="auto",
    ):
        self.semantic = semantic
        self.item_texts = item_texts
        self.item_embeddings = item_embeddings
        self.alignment = alignment
        self.alignment_weight = alignment_weight
        self.temperature = temperature
        self.mask_ratio = mask_ratio
        self.factors = factors
        self.n_layers = n_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.reg = reg
        self.train_batch_size = train_batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.validation_interval = validation_interval
        self.scoring = scoring
        self.random_state = random_state
        self.verbose = verbose
        self.item_ids = item_ids
        self.top_k = top_k
        self.batch_size = batch_size
        self.memory_limit = memory_limit

    def _build_module(self, R, item_side, generator):
        _, module = _module(import_torch().nn)
        weight = self.alignment_weight
        if weight is None:
            weight = _RLMREC_DEFAULTS[self.alignment][0]
        spec = (self.alignment, weight, self.temperature, self.mask_ratio)
        return module(
            R, item_side, self.factors, self.n_layers, self.reg, generator, spec
        )
