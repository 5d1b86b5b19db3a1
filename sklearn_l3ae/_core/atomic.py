"""Failure atomicity: a write or a fit either completes or leaves no trace.

- :func:`atomic_write` replaces a file whole: the content goes to a
  temporary file in the same folder, is flushed to disk and renamed over the
  target, so readers see the old file or the new one, never half of one.
- :func:`atomic_fit` decorates ``fit``: if it raises, the estimator's
  attributes are put back as they were before the call.
"""

import contextlib
import functools
import os
import uuid
from pathlib import Path

# Without O_BINARY, Windows would translate newlines in what is written.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None):
    """Write ``path`` whole or not at all; yields the file object to write to.

    The file object is on a new temporary file next to ``path`` (the same
    folder, hence the same filesystem, so that the final rename is atomic).
    When the ``with`` block ends normally the file is flushed, synced to disk
    and renamed over ``path``, then the folder is synced (POSIX) to make the
    rename durable.  When the block raises (``KeyboardInterrupt`` included)
    the temporary file is removed and ``path`` is left untouched.

    The new file gets the permissions of the file it replaces, else those of
    any new file (``0o666`` less the umask).

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    mode : {"wb", "w"}, default="wb"
        Binary or text.
    encoding : str, default=None
        Text encoding, for ``mode="w"``.

    Raises
    ------
    OSError
        If no file can be created in the folder (e.g. ``PermissionError``),
        with a message naming ``path`` and the folder; or whatever writing,
        syncing or renaming raises.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write takes mode 'wb' or 'w', got {mode!r}.")
    path = Path(path)
    folder = path.parent
    temporary = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        # Created like any new file (mode 0o666 less the umask), unlike a
        # mkstemp file (0o600) which would need the umask read and reset.
        descriptor = os.open(temporary, _CREATE_FLAGS, 0o666)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"Cannot write {path}: no temporary file can be created in {folder} "
            f"({exc.strerror})",
        ) from exc
    try:
        with os.fdopen(descriptor, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(folder)


def _fsync_directory(folder):
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_fit(fit):
    """Decorate a ``fit``: if it raises, the estimator is left as it was.

    A shallow copy of the instance's ``__dict__`` is taken before the call
    and restored, attributes added or deleted by the failed call included,
    on any exception (``KeyboardInterrupt`` too) before it propagates.  A
    fitted estimator keeps its fitted attributes, an unfitted one stays
    unfitted (no ``n_features_in_`` left by an early
    :func:`~sklearn.utils.validation.validate_data`).  A shallow copy is
    enough because the fits of this package build new arrays and estimators
    and assign them; none modifies a fitted attribute in place.

    Place it above ``@_fit_context``, so that the whole call is covered and
    scikit-learn's callback teardown, which reads the state the fit set up,
    runs before the state is restored.  ``functools.wraps`` keeps the name,
    docstring and signature that scikit-learn inspects.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        state = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            attributes = vars(self)
            attributes.clear()
            attributes.update(state)
            raise

    return wrapper


class AtomicFitTransformMixin:
    """``fit_transform`` as one atomic step, for transformers with ``atomic_fit``.

    Put it before ``TransformerMixin`` in the bases.
    """

    @atomic_fit
    def fit_transform(self, X, y=None):
        """Fit, then transform ``X``; if either step fails, nothing changes.

        The same result as ``fit(X).transform(X)``, except that a failing or
        interrupted ``transform`` also leaves the estimator as it was before
        the call (see :ref:`failures`).

        Parameters
        ----------
        X : the input of ``fit``
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray
            ``transform(X)``.
        """
        return self.fit(X, y).transform(X)
