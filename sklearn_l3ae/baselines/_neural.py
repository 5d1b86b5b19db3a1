"""Neural graph recommenders on PyTorch: the shared graph, losses and training loop.

LightGCN, RLMRec and AlphaRec share one user–item graph, one propagation
(:func:`propagate`), a mini-batch loop over the training interactions with
sampled negatives, Adam, and early stopping on a validation scorer.  The
models differ by their layer-0 embeddings and their loss only: a model is
a ``torch.nn.Module`` with ``loss(users, positives, negatives)`` and
``export()`` (its fitted attributes as NumPy arrays), built by the
estimator's ``_build_module``.
"""

import functools
import math
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from .._core.torch_ops import import_torch, sparse_to_tensor
from ..metrics import make_ranking_scorer
from ..model_selection import random_holdout_split
from ..recommenders import BaseRecommender
from ._history import TrainingUserRows

NEURAL_CONSTRAINTS = {
    **BaseRecommender._parameter_constraints,
    "factors": [Interval(Integral, 1, None, closed="left")],
    "n_layers": [Interval(Integral, 0, None, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "reg": [Interval(Real, 0, None, closed="left")],
    "train_batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "validation_interval": [Interval(Integral, 1, None, closed="left")],
    "scoring": [callable, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


# train_batch_size=None: about this many optimizer steps per epoch, with
# batches of at least _MIN_AUTO_BATCH interactions.  Every step propagates
# over the whole graph, so an epoch's cost is its number of steps.
_AUTO_STEPS = 10
_MIN_AUTO_BATCH = 2048

# ------------------------------------------------------------------ graph


def normalized_graph(R):
    """``R̃ = D_u^(-1/2) R D_i^(-1/2)`` of a binary ``R``, and the item scales.

    Returns ``(R̃, item_scale)`` with ``item_scale = d_i^(-1/2)`` (0 for an
    item without interactions): LightGCN's symmetric normalization of the
    bipartite adjacency ``[[0, R], [Rᵀ, 0]]``, kept as its user × item block.
    """
    R = sparse.csr_array(R, dtype=np.float32)
    user_scale = _inverse_sqrt(np.asarray(R.sum(axis=1)).ravel())
    item_scale = _inverse_sqrt(np.asarray(R.sum(axis=0)).ravel())
    normalized = sparse.csr_array(
        sparse.diags_array(user_scale) @ R @ sparse.diags_array(item_scale),
        dtype=np.float32,
    )
    return normalized, item_scale


def _inverse_sqrt(degrees):
    scale = np.zeros(len(degrees), dtype=np.float32)
    positive = degrees > 0
    scale[positive] = 1.0 / np.sqrt(degrees[positive])
    return scale


def graph_tensors(R_normalized):
    """``(R̃, R̃ᵀ)`` as torch CSR tensors for :func:`propagate`."""
    R_normalized = sparse.csr_matrix(R_normalized)
    return (
        sparse_to_tensor(R_normalized, "cpu", np.float32),
        sparse_to_tensor(R_normalized.T.tocsr(), "cpu", np.float32),
    )


@functools.cache
def _graph_product():
    """``R̃ @ x`` whose gradient is ``R̃ᵀ @ g`` with the stored transpose.

    torch's own backward of a CSR product is ~10x slower than its forward
    on CPU (it transposes ``R̃`` on every call); the transpose is built once.
    """
    torch = import_torch()

    class GraphProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx, matrix, transpose, dense):
            ctx.transpose = transpose
            return torch.sparse.mm(matrix, dense)

        @staticmethod
        def backward(ctx, gradient):
            return None, None, torch.sparse.mm(ctx.transpose, gradient)

    return GraphProduct.apply


def propagate(graph, users, items, n_layers):
    """LightGCN's propagation: the layer means and the items' layers.

    ``U⁽ᵏ⁺¹⁾ = R̃ V⁽ᵏ⁾``, ``V⁽ᵏ⁺¹⁾ = R̃ᵀ U⁽ᵏ⁾``; returns ``(mean_k U⁽ᵏ⁾,
    mean_k V⁽ᵏ⁾, [V⁽⁰⁾, …, V⁽ᴷ⁻¹⁾])`` for ``k = 0 … K``.  The items' layers
    are what a new user's layers are propagated from (:func:`fold_in`).
    """
    torch = import_torch()
    R, RT = graph
    product = _graph_product()
    user_layers, item_layers = [users], [items]
    for _ in range(n_layers):
        user_layers.append(product(R, RT, item_layers[-1]))
        item_layers.append(product(RT, R, user_layers[-2]))
    return (
        torch.stack(user_layers).mean(dim=0),
        torch.stack(item_layers).mean(dim=0),
        item_layers[:-1],
    )


def fold_in(rows_normalized, users, item_messages):
    """A user's layer mean from its row: ``(U⁽⁰⁾ + Σ_k r̃ (d_i^(-1/2) V⁽ᵏ⁾)) / (K+1)``.

    ``rows_normalized`` holds ``r_u / sqrt(|r_u|)`` (torch CSR),
    ``item_messages[k] = diag(d_i^(-1/2)) V⁽ᵏ⁾`` from the training graph;
    for a training user's own row this is exactly its propagated mean.
    """
    torch = import_torch()
    layers = [users]
    for messages in item_messages:
        layers.append(torch.sparse.mm(rows_normalized, messages))
    return torch.stack(layers).mean(dim=0)


def binary(X):
    """``X > 0`` as a float32 ``csr_array``: the graph's edges."""
    return sparse.csr_array(sparse.csr_array(X) > 0, dtype=np.float32)


def user_means(X, F):
    """Each row's mean item embedding ``diag(1/|x_u|) (X > 0) F`` (0 for none).

    RLMRec's user profiles and AlphaRec's user inputs.
    """
    R = binary(X)
    counts = np.maximum(np.asarray(R.sum(axis=1)).ravel(), 1)
    return sparse.diags_array(1.0 / counts) @ R @ np.asarray(F, dtype=np.float32)


def row_normalized(X):
    """``r_u / sqrt(|r_u|)`` of the binary rows of ``X`` (CSR, float32)."""
    R = binary(X)
    scale = _inverse_sqrt(np.asarray(R.sum(axis=1)).ravel())
    return sparse.csr_array(sparse.diags_array(scale) @ R, dtype=np.float32)


# ------------------------------------------------------------------ losses


def bpr_loss(users, positives, negatives):
    """``mean softplus(u·n − u·p)``: Bayesian personalized ranking."""
    torch = import_torch()
    margin = (users * negatives).sum(-1) - (users * positives).sum(-1)
    return torch.nn.functional.softplus(margin).mean()


def info_nce(anchors, positives, candidates, temperature):
    """``mean −log softmax(cos(a, c) / τ)[positive]`` over rows of ``anchors``.

    ``positives[b]`` is row ``b``'s positive; ``candidates`` (shared by all
    rows) are its negatives.  Cosines: every vector is L2-normalized.
    """
    torch = import_torch()
    normalize = torch.nn.functional.normalize
    anchors, positives = normalize(anchors, dim=-1), normalize(positives, dim=-1)
    candidates = normalize(candidates, dim=-1)
    positive = (anchors * positives).sum(-1, keepdim=True) / temperature
    negative = anchors @ candidates.T / temperature
    logits = torch.cat([positive, negative], dim=1)
    return (torch.logsumexp(logits, dim=1) - positive[:, 0]).mean()


def in_batch_info_nce(anchors, positives, temperature):
    """:func:`info_nce` where each row's negatives are the other rows' positives."""
    torch = import_torch()
    normalize = torch.nn.functional.normalize
    logits = normalize(anchors, dim=-1) @ normalize(positives, dim=-1).T
    target = torch.arange(len(anchors))
    return torch.nn.functional.cross_entropy(logits / temperature, target)


def take_rows(tensor, index):
    """``tensor[index]`` (rows) whose gradient is summed in a fixed order.

    The backward of advanced indexing (``index_put_`` with accumulation)
    adds the gradients of repeated rows in an order that varies with the
    thread schedule on the CPU, so two fits with the same seed differed at
    round-off that training amplifies; ``index_select``'s backward
    (``index_add_``) adds them in index order, and is faster here.
    """
    return import_torch().index_select(tensor, 0, index)


def embedding_l2(*embeddings):
    """``Σ ||e||² / (2 · batch)`` of the layer-0 embeddings of a batch."""
    return sum(e.square().sum() for e in embeddings) / (2 * len(embeddings[0]))


# ---------------------------------------------------------- the estimator


class NeuralGraphRecommender(BaseRecommender):
    """Base class: trains ``_build_module(R_train, item_side, generator)``.

    Subclasses set ``_negatives`` (``"per_positive"``: one uniform negative
    per positive, rejected if the user has it; ``"shared"``:
    ``n_negatives`` uniform items shared by the batch) and implement
    ``_build_module`` and ``_raw_scores``.  Models with free user
    embeddings also derive from
    :class:`~sklearn_l3ae.baselines._history.TrainingUserRows`: their
    validation rows, then their scored rows, are matched to training users.
    """

    _negatives = "per_positive"

    def _fit_dtype(self):
        return np.dtype(np.float32)

    def _scores_dtype(self):
        return np.dtype(np.float32)

    def _fit(self, X, item_side):
        torch = import_torch()
        owner = type(self).__name__
        R = binary(X)
        if R.nnz == 0:
            raise ValueError(f"{owner} needs at least one interaction to train on.")
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
        train, validation = R, None
        if self.early_stopping:
            train, validation = random_holdout_split(
                R,
                (1 - self.validation_fraction, self.validation_fraction),
                min_interactions=2,
                random_state=rng,
            )
            train = sparse.csr_array(train, dtype=np.float32)
            if validation.nnz == 0:
                raise ValueError(
                    f"{owner}: early_stopping needs users with 2 or more "
                    "interactions to hold out validation_fraction="
                    f"{self.validation_fraction} of them; X has none."
                )
        transductive = isinstance(self, TrainingUserRows)
        if transductive:  # the validation scorer's input rows are train's
            self._set_user_histories(train)
        module = self._build_module(train, item_side, generator)
        self._train(module, train, validation, rng)
        if transductive:
            self._set_user_histories(R)

    def _train(self, module, train, validation, rng):
        torch = import_torch()
        optimizer = torch.optim.Adam(
            module.parameters(), lr=self.learning_rate, weight_decay=self._decay()
        )
        users, items = train.nonzero()
        keys = np.sort(users.astype(np.int64) * train.shape[1] + items)
        scorer = self.scoring or make_ranking_scorer("ndcg", k=20)
        losses, scores, best, stale = [], [], None, 0
        epochs = range(1, self.epochs + 1)
        progress = _progress(epochs, self.verbose, type(self).__name__)
        for epoch in progress:
            total = 0.0
            for batch in np.array_split(
                rng.permutation(len(users)), self._n_batches(len(users))
            ):
                negatives = self._sample_negatives(rng, users[batch], keys, train)
                loss = module.loss(
                    torch.from_numpy(users[batch].astype(np.int64)),
                    torch.from_numpy(items[batch].astype(np.int64)),
                    torch.from_numpy(negatives),
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            losses.append(total / len(users))
            if not np.isfinite(losses[-1]):
                self._diverged(epoch)
            if validation is not None and (
                epoch % self.validation_interval == 0 or epoch == self.epochs
            ):
                state = self._export(module, train)
                scores.append((epoch, float(scorer(self, train, validation))))
                if best is None or scores[-1][1] > best[1]:
                    best, stale = (epoch, scores[-1][1], state), 0
                else:
                    stale += 1
                if hasattr(progress, "set_postfix"):
                    progress.set_postfix(loss=losses[-1], validation=scores[-1][1])
                if stale >= self.n_iter_no_change:
                    break
            elif hasattr(progress, "set_postfix"):
                progress.set_postfix(loss=losses[-1])
        if best is None:
            best = (len(losses), None, self._export(module, train))
        self._set_exported(best[2])
        self.n_epochs_ = len(losses)
        self.best_epoch_ = best[0]
        self.loss_curve_ = np.asarray(losses)
        self.validation_scores_ = np.asarray([s for _, s in scores], dtype=float)

    def _n_batches(self, n_interactions):
        """Steps per epoch: ``train_batch_size`` interactions each, else ~10."""
        size = self.train_batch_size
        if size is None:
            size = max(_MIN_AUTO_BATCH, math.ceil(n_interactions / _AUTO_STEPS))
        return max(1, math.ceil(n_interactions / size))

    def _export(self, module, train):
        """The module's fitted attributes, set on ``self`` for scoring."""
        with import_torch().no_grad():
            state = module.export()
        self._set_exported(state)
        # The scorers read the training popularity (head/tail, novelty).
        self.item_popularity_ = np.asarray((train > 0).sum(axis=0)).ravel()
        self.n_samples_seen_ = train.shape[0]
        return state

    def _set_exported(self, state):
        for key, value in state.items():
            setattr(self, key, value)

    def _decay(self):
        """Adam's weight decay (0: the models regularize in their loss)."""
        return 0.0

    def _sample_negatives(self, rng, users, keys, train):
        n_items = train.shape[1]
        if self._negatives == "shared":
            return rng.randint(n_items, size=self.n_negatives).astype(np.int64)
        negatives = rng.randint(n_items, size=len(users)).astype(np.int64)
        pending = np.arange(len(users))
        # Resample the negatives that the user has: rare in sparse data,
        # frequent for the few users with most items.
        for _ in range(10):
            query = users[pending].astype(np.int64) * n_items + negatives[pending]
            found = keys[np.minimum(np.searchsorted(keys, query), len(keys) - 1)]
            pending = pending[found == query]
            if not len(pending):
                return negatives
            negatives[pending] = rng.randint(n_items, size=len(pending))
        # The last few: drawn from the items the user does not have (if any).
        for index in pending:
            user = users[index]
            unseen = np.setdiff1d(
                np.arange(n_items),
                train.indices[train.indptr[user] : train.indptr[user + 1]],
            )
            if len(unseen):
                negatives[index] = unseen[rng.randint(len(unseen))]
        return negatives

    def _diverged(self, epoch):
        raise ValueError(
            f"{type(self).__name__}'s training loss became NaN or infinite at "
            f"epoch {epoch} with learning_rate={self.learning_rate!r}: choose "
            "a smaller learning_rate."
        )

    def _check_fitted_state(self):
        super()._check_fitted_state()
        for name in ("n_epochs_", "best_epoch_"):
            value = getattr(self, name, None)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _progress(epochs, verbose, owner):
    if not verbose:
        return epochs
    from tqdm.auto import tqdm

    return tqdm(epochs, desc=owner, unit="epoch")


def as_tensor(array):
    """A float32 torch tensor sharing ``array``'s memory where possible."""
    torch = import_torch()
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


_TRAINING_DOC = """\
epochs : int, default={epochs}
    Maximum number of passes over the training interactions (fewer when
    early stopping stops the training).
learning_rate : float, default={learning_rate}
    Adam's step size.
reg : float, default={reg}
    {reg_doc}
train_batch_size : int, default=None
    Training interactions per optimizer step.  ``None`` makes about 10
    steps per epoch (batches of at least 2048 interactions): each step
    propagates over the whole graph, so the steps, not the interactions,
    set an epoch's cost.
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of each user's interactions (users
    with at least 2), train on the rest, score the held-out part with
    ``scoring`` every ``validation_interval`` epochs, stop after
    ``n_iter_no_change`` scores without improvement and keep the best
    scored epoch's model.  The held-out interactions are not trained on.
validation_fraction : float, default=0.1
    Share of each user's interactions held out for early stopping.
n_iter_no_change : int, default=3
    Validation scores without improvement before training stops.
validation_interval : int, default=5
    Epochs between validation scores.
scoring : callable, default=None
    Validation scorer ``scorer(estimator, X, y)`` (see
    :func:`~sklearn_l3ae.make_ranking_scorer`); ``None`` is NDCG@20.
random_state : int, RandomState instance or None, default=None
    Seed of the initialization, the batches, the sampled negatives and the
    validation split.  A fixed seed gives the same model on the same
    machine and thread count.
verbose : int, default=0
    Show a progress bar over epochs (tqdm) with the loss and the
    validation score."""

_TRAINING_ATTRIBUTES = """\
n_epochs_ : int
    Epochs run.
best_epoch_ : int
    The epoch whose model is kept (the last one without early stopping).
loss_curve_ : ndarray of shape (`n_epochs_`,)
    Mean training loss of each epoch.
validation_scores_ : ndarray of shape (n_validations,)
    The validation scores of early stopping (empty without it)."""


def neural_doc(**defaults):
    """Fill the training blocks, then the shared ones (``fill_doc``)."""
    from ..recommenders._docs import fill_doc

    def decorate(cls):
        doc = cls.__doc__
        for name, text in (
            ("neural_training", _TRAINING_DOC.format(**defaults)),
            ("neural_attributes", _TRAINING_ATTRIBUTES),
        ):
            doc = doc.replace(
                "    {" + name + "}",
                "\n".join("    " + line for line in text.splitlines()),
            )
        cls.__doc__ = doc.replace("    \n", "\n")
        return fill_doc(cls)

    return decorate
