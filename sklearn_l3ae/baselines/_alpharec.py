"""AlphaRec (Sheng et al., ICLR 2025): mapped language embeddings on a graph."""

import functools
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval

from .._core.torch_ops import import_torch, sparse_to_tensor
from ..recommenders._base import check_state_array
from ._item_text import TEXT_FEATURE_CONSTRAINTS, TextFeaturesMixin
from ._neural import (
    NEURAL_CONSTRAINTS,
    NeuralGraphRecommender,
    as_tensor,
    fold_in,
    graph_tensors,
    info_nce,
    neural_doc,
    normalized_graph,
    propagate,
    row_normalized,
    take_rows,
    user_means,
)

# The names of the mapping's fitted arrays, in mlp_forward's order.
_MLP_STATE = ("hidden_weight_", "hidden_bias_", "output_weight_", "output_bias_")


def mlp_forward(x, hidden_weight, hidden_bias, output_weight, output_bias):
    """AlphaRec's mapping ``LeakyReLU(x W₁ + b₁) W₂ + b₂`` (torch tensors)."""
    torch = import_torch()
    hidden = torch.nn.functional.leaky_relu(x @ hidden_weight + hidden_bias)
    return hidden @ output_weight + output_bias


@functools.cache
def _module(nn):
    torch = import_torch()

    class AlphaRecModule(nn.Module):
        def __init__(self, R, F, factors, hidden, n_layers, temperature, generator):
            super().__init__()
            R_normalized, item_scale = normalized_graph(R)
            self.graph = graph_tensors(R_normalized)
            self.item_scale = as_tensor(item_scale)[:, None]
            self.user_text, self.item_text = as_tensor(user_means(R, F)), as_tensor(F)
            self.n_layers, self.temperature = n_layers, temperature
            shapes = ((F.shape[1], hidden), (hidden,), (hidden, factors), (factors,))
            self.weights = nn.ParameterList(
                nn.Parameter(torch.zeros(shape)) for shape in shapes
            )
            for matrix in (self.weights[0], self.weights[2]):
                nn.init.xavier_uniform_(matrix, generator=generator)

        def propagated(self):
            return propagate(
                self.graph,
                mlp_forward(self.user_text, *self.weights),
                mlp_forward(self.item_text, *self.weights),
                self.n_layers,
            )

        def loss(self, users, positives, negatives):
            U, V, _ = self.propagated()
            return info_nce(
                take_rows(U, users),
                take_rows(V, positives),
                take_rows(V, negatives),
                self.temperature,
            )

        def export(self):
            _, V, layers = self.propagated()
            messages = [(self.item_scale * layer).detach().numpy() for layer in layers]
            state = {
                "item_factors_": V.detach().numpy(),
                "item_messages_": np.stack(messages)
                if messages
                else np.zeros((0, *V.shape), dtype=np.float32),
            }
            for name, weights in zip(_MLP_STATE, self.weights, strict=True):
                state[name] = weights.detach().numpy().copy()
            return state

    return AlphaRecModule


@neural_doc(
    epochs=50,
    learning_rate=0.003,
    reg=1e-6,
    train_batch_size=None,
    reg_doc="Adam's weight decay, as in AlphaRec.",
)
class AlphaRec(TextFeaturesMixin, NeuralGraphRecommender):
    """AlphaRec: language embeddings mapped by an MLP and propagated on the graph.

    Sheng et al., *Language Representations Can be What Recommenders Need*,
    ICLR 2025.  No free embeddings: an item's layer-0 embedding is
    ``MLP(F_i)``, its text embedding mapped by a two-layer MLP (LeakyReLU),
    and a user's is ``MLP`` of the mean text embedding of its items.  They
    are propagated over the normalized user–item graph as in
    :class:`LightGCN` (``n_layers``, layer mean), scored by cosine
    similarity, and trained with InfoNCE at temperature ``temperature``
    against ``n_negatives`` uniformly sampled items.

    Users are folded in: any row of ``X`` gets its layer-0 embedding from
    its items' texts and its propagated layers from the fitted items'
    layers (exactly the training embedding for a training user's row), so
    new users and changed histories are scored without refitting.

    **Deviations from the paper.**  The text embeddings are those of
    ``semantic`` (a sentence-transformers model by default) rather than an
    LLM's; the negatives are shared by the batch (the paper: 256 per
    positive), which makes a step ``train_batch_size / n_negatives`` times
    cheaper.

    Parameters
    ----------
    semantic : transformer, default=None
        Maps ``item_texts`` (or ``item_embeddings``) to the text embeddings
        ``F``, fitted as a clone; ``None`` is
        :class:`~sklearn_l3ae.SentenceEncoder` for texts and the embeddings
        as given.
    item_texts : sequence of str, default=None
        One text per item column of ``X``.
    item_embeddings : array-like of shape (n_items, d), default=None
        One embedding per item column of ``X``.
    factors : int, default=64
        Dimension of the mapped (collaborative) embeddings.
    hidden_size : int, default=None
        Width of the MLP's hidden layer; ``None`` is the text embeddings'
        dimension.
    n_layers : int, default=2
        Propagation layers.
    temperature : float, default=0.15
        InfoNCE temperature.
    n_negatives : int, default=256
        Sampled negative items per batch.
    {neural_training}
    {scoring_parameters}

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, factors)
        The items' final (layer-mean) embeddings.
    item_messages_ : ndarray of shape (n_layers, n_items, factors)
        ``diag(d_i^(-1/2)) V⁽ᵏ⁾``, the items' layers ``k < n_layers`` scaled
        by their degrees: what a user's layers are propagated from.
    item_embeddings_ : ndarray of shape (n_items, d)
        The text embeddings ``F``.
    hidden_weight_, hidden_bias_, output_weight_, output_bias_ : ndarray
        The fitted MLP.
    semantic_ : transformer or None
        The fitted clone of ``semantic``.
    {neural_attributes}
    {recommender_attributes}

    See Also
    --------
    RLMRec : LightGCN aligned with text profiles.
    sklearn_l3ae.L3AERecommender : The closed-form linear model with text.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l3ae.baselines import AlphaRec
    >>> X = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 0, 1]])
    >>> F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> model = AlphaRec(item_embeddings=F, factors=4, n_negatives=2, epochs=5,
    ...                  random_state=0, top_k=1).fit(X)
    >>> model.predict([[0, 0, 1, 0]]).shape  # a new user, folded in
    (1, 1)
    """

    _negatives = "shared"
    _text_purpose = "they are its only item features"

    _parameter_constraints = {
        **NEURAL_CONSTRAINTS,
        **TEXT_FEATURE_CONSTRAINTS,
        "hidden_size": [Interval(Integral, 1, None, closed="left"), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        semantic=None,
        *,
        item_texts=None,
        item_embeddings=None,
        factors=64,
        hidden_size=None,
        n_layers=2,
        temperature=0.15,
        n_negatives=256,
        epochs=50,
        learning_rate=0.003,
        reg=1e-6,
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
        self.factors = factors
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.temperature = temperature
        self.n_negatives = n_negatives
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

    def _fit_item_side(self, n_items):
        self.item_embeddings_ = super()._fit_item_side(n_items)
        return self.item_embeddings_

    def _decay(self):
        return self.reg

    def _build_module(self, R, item_side, generator):
        hidden = self.hidden_size or item_side.shape[1]
        return _module(import_torch().nn)(
            R,
            item_side,
            self.factors,
            hidden,
            self.n_layers,
            self.temperature,
            generator,
        )

    def _item_embeddings(self):
        """The text embeddings, for the diversity metric."""
        return self.item_embeddings_

    def _raw_scores(self, X_batch):
        torch = import_torch()
        normalize = torch.nn.functional.normalize
        with torch.no_grad():
            weights = [as_tensor(getattr(self, name)) for name in _MLP_STATE]
            users = mlp_forward(
                as_tensor(user_means(X_batch, self.item_embeddings_)), *weights
            )
            rows = sparse_to_tensor(
                sparse.csr_matrix(row_normalized(X_batch)), "cpu", np.float32
            )
            users = fold_in(
                rows, users, [as_tensor(layer) for layer in self.item_messages_]
            )
            items = as_tensor(self.item_factors_)
            scores = normalize(users, dim=-1) @ normalize(items, dim=-1).T
        return scores.numpy()

    def _check_fitted_state(self):
        super()._check_fitted_state()
        n_items = self.n_features_in_
        F = check_state_array("item_embeddings_", self, (n_items, None))
        hidden = check_state_array("hidden_weight_", self, (F.shape[1], None))
        check_state_array("hidden_bias_", self, (hidden.shape[1],))
        output = check_state_array("output_weight_", self, (hidden.shape[1], None))
        check_state_array("output_bias_", self, (output.shape[1],))
        check_state_array("item_factors_", self, (n_items, output.shape[1]))
        check_state_array(
            "item_messages_", self, (self.n_layers, n_items, output.shape[1])
        )
