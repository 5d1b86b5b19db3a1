"""Embeddings shared by the workers of a Dask cluster: each text set encoded once.

When :class:`~sklearn_l3ae.SentenceEncoder` runs inside a Dask task (a
``GridSearchCV`` under ``joblib.parallel_backend("dask")`` fits one clone
per candidate and fold, on any worker), every worker would otherwise encode
the same item texts.  Instead, the first worker to need a set of texts
takes a cluster-wide :class:`distributed.Lock` named after the model's
fingerprint and the texts' digests, encodes them, scatters the embeddings
and publishes the future as a named dataset of the scheduler; the workers
waiting on the lock then fetch the published embeddings instead of
encoding.  No shared file system is needed.

The published embeddings stay on the cluster (float32, n_texts x dim) until
:func:`sklearn_l3ae.distributed.clear_embeddings` or the scheduler's end.
"""

import hashlib
import sys

import numpy as np

from .._core.parallel import dask_client, on_dask_worker
from ._embedding_cache import text_digest
from ._models import model_fingerprint

# Prefix of the scheduler's dataset names (and lock names) of this module.
DATASET_PREFIX = "sklearn-l3ae-embeddings-"


def cluster_client():
    """The Dask client to share embeddings through, or None.

    On a Dask worker, its client; in the process that set a joblib Dask
    backend (the refit of a search runs there), the backend's client.
    """
    if "distributed" not in sys.modules:
        return None
    if not on_dask_worker():
        return dask_client()
    from distributed import get_client

    return get_client()


def dataset_name(model, normalize, prompt, texts):
    """The scheduler-wide name of the embeddings of ``texts`` (None if the
    model cannot be fingerprinted)."""
    try:
        fingerprint = model_fingerprint(model)
    except TypeError:
        return None
    digest = hashlib.sha256()
    digest.update(fingerprint.encode())
    digest.update(b"normalized" if normalize else b"raw")
    digest.update(b"" if prompt is None else b"prompt:" + text_digest(prompt))
    for text in texts:
        digest.update(text_digest(text))
    return DATASET_PREFIX + digest.hexdigest()[:40]


def shared_embeddings(client, name, encode):
    """The embeddings published as ``name``, encoding them if nobody has.

    Parameters
    ----------
    client : distributed.Client
        The worker's client.
    name : str
        From :func:`dataset_name`.
    encode : callable
        ``encode() -> ndarray``, called by at most one worker per ``name``.

    Returns
    -------
    embeddings : ndarray, float32
    encoded : bool
        Whether this call encoded them.
    """
    from distributed import Lock

    with Lock(name):
        future = client.get_dataset(name, default=None)
        if future is not None:
            try:
                return np.asarray(future.result(), dtype=np.float32), False
            except Exception:  # noqa: BLE001 - lost with its worker: encode again
                client.unpublish_dataset(name)
        embeddings = encode()
        future = client.scatter(embeddings, hash=False)
        client.publish_dataset(future, name=name)
    return embeddings, True
