"""Caches of text embeddings for :class:`SentenceEncoder`.

Two layers, both keyed per text so that any subset of texts (a CV fold, a
grid-search refit) finds what earlier calls encoded:

- :class:`MemoryEmbeddingCache`, in process, keyed by
  ``(namespace, text)``, bounded by bytes with least-recently-used eviction;
- :class:`DiskEmbeddingCache`, one directory per namespace holding
  append-only ``.npz`` shards of ``keys`` (SHA-256 of each text, uint8
  ``(n, 32)``) and ``embeddings`` (float32 ``(n, dim)``).  Shards are read with
  ``allow_pickle=False``, written under a temporary name and renamed into
  place, so concurrent writers (joblib workers, parallel runs) never expose a
  partial file; the same text stored twice by two writers is harmless.
"""

import contextlib
import hashlib
import threading
import uuid
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .._core.atomic import atomic_write

# Default bound of the in-process cache: about 700 000 texts at dimension 384.
MEMORY_CACHE_MAX_BYTES = 2**30

_DIGEST_SIZE = hashlib.sha256().digest_size


def text_digest(text):
    """SHA-256 of a text's UTF-8 bytes (lone surrogates kept), the disk key."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class MemoryEmbeddingCache:
    """Thread-safe LRU map ``(namespace, text) -> read-only float32 vector``.

    Parameters
    ----------
    max_bytes : int
        Bound on the bytes of the stored vectors; the least recently used
        entries are evicted beyond it.
    """

    def __init__(self, max_bytes=MEMORY_CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self):
        """Bytes of the vectors currently held."""
        return self._nbytes

    def __len__(self):
        return len(self._entries)

    def get(self, namespace, texts):
        """The cached vectors of those ``texts`` that are present, by text."""
        found = {}
        with self._lock:
            for text in texts:
                vector = self._entries.get((namespace, text))
                if vector is not None:
                    self._entries.move_to_end((namespace, text))
                    found[text] = vector
        return found

    def put(self, namespace, vectors_by_text):
        """Store vectors (copied, made read-only) and evict down to the bound."""
        with self._lock:
            for text, vector in vectors_by_text.items():
                vector = np.array(vector, dtype=np.float32)
                vector.setflags(write=False)
                previous = self._entries.pop((namespace, text), None)
                if previous is not None:
                    self._nbytes -= previous.nbytes
                self._entries[(namespace, text)] = vector
                self._nbytes += vector.nbytes
            while self._nbytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._nbytes -= evicted.nbytes

    def clear(self):
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._nbytes = 0


class DiskEmbeddingCache:
    """Append-only ``.npz`` shards of embeddings in one directory.

    Parameters
    ----------
    directory : str or path-like
        The namespace's directory; created on the first write.
    """

    def __init__(self, directory):
        self.directory = Path(directory)

    def get(self, digests, dim):
        """Vectors stored for ``digests`` (SHA-256 bytes), by digest.

        Shards that cannot be read or do not hold ``dim``-dimensional float32
        embeddings are skipped with a warning: a cache must never break a fit.
        """
        wanted = set(digests)
        found = {}
        if not self.directory.is_dir():
            return found
        for shard in sorted(self.directory.glob("*.npz")):
            if len(found) == len(wanted):
                break
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys = data["keys"]
                    rows = [
                        i
                        for i, key in enumerate(map(bytes, keys))
                        if key in wanted and key not in found
                    ]
                    if not rows:
                        continue
                    embeddings = data["embeddings"]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                warnings.warn(
                    f"Ignoring unreadable embedding cache shard {shard}: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            if (
                keys.shape != (len(embeddings), _DIGEST_SIZE)
                or embeddings.dtype != np.float32
                or embeddings.shape[1:] != (dim,)
            ):
                warnings.warn(
                    f"Ignoring embedding cache shard {shard}: it holds "
                    f"{embeddings.dtype} embeddings of shape {embeddings.shape}, "
                    f"expected float32 of dimension {dim}.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            for row in rows:
                found[bytes(keys[row])] = embeddings[row]
        return found

    @contextlib.contextmanager
    def lock(self):
        """Hold the directory's lock file (``fcntl.flock``, exclusive).

        Serializes the processes that share the directory between reading
        what is missing and writing what they encoded.  Without ``fcntl``
        (Windows), or if the lock file cannot be created, nothing is locked:
        concurrent processes may then encode the same texts, harmlessly.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.directory / ".lock", "a")  # noqa: SIM115
        except OSError:
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, digests, embeddings):
        """Write one new shard atomically; warn (do not raise) if impossible."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            keys = np.frombuffer(b"".join(digests), dtype=np.uint8)
            # The temporary name ends in .tmp: get() never reads a partial shard.
            with atomic_write(self.directory / f"{uuid.uuid4().hex}.npz") as file:
                np.savez(
                    file,
                    keys=keys.reshape(len(digests), _DIGEST_SIZE),
                    embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
                )
        except OSError as exc:
            warnings.warn(
                f"Could not write the embedding cache in {self.directory}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
