"""Memory planning: estimate a computation's peak bytes, refuse it up front.

Dense linear autoencoders fail in production by running out of memory: an
n_items x n_items float32 matrix is 6.4 GB at 40 000 items and 160 GB at
200 000.  Estimators call :func:`check_memory` with an estimate of what they
are about to allocate *before* allocating it; beyond the budget they raise
:class:`MemoryLimitError` with the estimate, the budget, and what to do.

The budget (``memory_limit``) is ``"auto"`` (the memory available now,
see :func:`available_memory`), a number of bytes, or ``None`` (no check).
Memory already allocated (the validated ``X``, a previous fit's weights) is
already missing from the available memory, so estimates count only what is
still to be allocated.
"""

import os
from numbers import Real
from pathlib import Path
from typing import NamedTuple

import numpy as np

_GIB = 2**30


class MemoryLimitError(MemoryError):
    """Raised before a computation that would need more memory than allowed.

    Nothing has been allocated when it is raised.  The message gives the
    estimated peak, the budget and what to do; the numbers are also
    attributes.

    Attributes
    ----------
    needed : int
        Estimated peak bytes of the refused computation.
    limit : int
        The budget in bytes (``memory_limit``, or the available memory).

    Examples
    --------
    >>> from scipy import sparse
    >>> from sklearn_l3ae import EASERecommender, MemoryLimitError
    >>> X = sparse.random(10, 50_000, density=1e-4, format="csr", random_state=0)
    >>> try:
    ...     EASERecommender(memory_limit=2**30).fit(X)
    ... except MemoryLimitError as error:
    ...     print(error.needed > 50_000**2 * 4, error.limit == 2**30)
    True True
    """

    def __init__(self, message, needed, limit):
        super().__init__(message)
        self.needed = needed
        self.limit = limit


class MemoryEstimate(NamedTuple):
    """The bytes a computation will allocate, by part.

    ``parts`` is a tuple of ``(description, bytes)``; ``total`` their sum.
    """

    what: str
    parts: tuple

    @property
    def total(self):
        return int(sum(size for _, size in self.parts))


def format_bytes(n_bytes):
    """``n_bytes`` as a short human-readable string (binary units)."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            break
        size /= 1024
    if unit == "GiB" and abs(size) >= 1024:
        return f"{size / 1024:.1f} TiB"
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"


def _read_int(path):
    """The integer in a one-value kernel file, or None (absent, "max", garbage)."""
    try:
        text = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _read_fields(path):
    """``{key: int}`` of a "key value [unit]" kernel file, or {} if unreadable."""
    fields = {}
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return fields
    for line in lines:
        parts = line.replace(":", " ").split()
        if len(parts) >= 2:
            try:
                fields[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return fields


def _meminfo_available(proc):
    fields = _read_fields(Path(proc) / "meminfo")
    if "MemAvailable" in fields:  # kB
        return fields["MemAvailable"] * 1024
    return None


def _cgroup_paths(proc):
    """``(version, relative path)`` of this process's memory cgroups."""
    try:
        lines = (Path(proc) / "self" / "cgroup").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    paths = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            paths.append((2, path))
        elif "memory" in controllers.split(","):
            paths.append((1, path))
    return paths


def _cgroup_headroom(proc, cgroup_root):
    """Bytes the cgroup limits still allow, or None without a limit.

    The tightest limit of the process's cgroup and its ancestors, minus the
    usage of that cgroup plus its reclaimable page cache (``inactive_file``,
    as container runtimes count a working set).
    """
    root = Path(cgroup_root)
    headroom = None
    for version, relative in _cgroup_paths(proc):
        base = root if version == 2 else root / "memory"
        node = base / relative.lstrip("/")
        names = (
            ("memory.max", "memory.current", "inactive_file")
            if version == 2
            else (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        )
        while True:
            limit = _read_int(node / names[0])
            usage = _read_int(node / names[1])
            # cgroup v1 reports "no limit" as a huge page-rounded number.
            if limit is not None and usage is not None and limit < 2**60:
                inactive = _read_fields(node / "memory.stat").get(names[2], 0)
                free = max(0, limit - usage + inactive)
                headroom = free if headroom is None else min(headroom, free)
            if node == base or base not in node.parents:
                break
            node = node.parent
    return headroom


def available_memory(*, proc="/proc", cgroup_root="/sys/fs/cgroup"):
    """Bytes that can be allocated now without swapping, or None if unknown.

    The smaller of the kernel's ``MemAvailable`` (``/proc/meminfo``) and the
    headroom under the process's cgroup memory limits (v1 or v2, walking up
    the hierarchy), so that a container's limit is respected.  Elsewhere,
    ``psutil.virtual_memory().available`` when psutil is installed.

    Parameters
    ----------
    proc, cgroup_root : str or path
        Where procfs and the cgroup filesystem are mounted (for tests).

    Returns
    -------
    available : int or None

    Examples
    --------
    >>> from sklearn_l3ae import available_memory
    >>> available = available_memory()
    >>> available is None or available > 0
    True
    """
    candidates = [
        _meminfo_available(proc),
        _cgroup_headroom(proc, cgroup_root),
    ]
    known = [value for value in candidates if value is not None]
    if not known and not os.path.exists(Path(proc) / "meminfo"):
        try:
            import psutil
        except ImportError:
            return None
        return int(psutil.virtual_memory().available)
    return min(known) if known else None


def resolve_memory_limit(memory_limit):
    """``(budget_bytes, source)`` of a ``memory_limit`` parameter, or (None, ...).

    ``"auto"`` measures the available memory now; a positive number is a
    budget in bytes; ``None`` disables the check.
    """
    if memory_limit is None:
        return None, "no limit"
    if isinstance(memory_limit, str):
        if memory_limit != "auto":
            raise ValueError(
                f"memory_limit must be 'auto', a positive number of bytes or "
                f"None, got {memory_limit!r}."
            )
        return available_memory(), "available memory"
    if (
        not isinstance(memory_limit, Real)
        or isinstance(memory_limit, bool)
        or not memory_limit > 0
        or not np.isfinite(memory_limit)
    ):
        raise ValueError(
            f"memory_limit must be 'auto', a positive number of bytes or None, "
            f"got {memory_limit!r}."
        )
    return int(memory_limit), "memory_limit"


def check_memory(estimate, memory_limit, *, advice):
    """Raise :class:`MemoryLimitError` if ``estimate`` exceeds the budget.

    Parameters
    ----------
    estimate : MemoryEstimate
    memory_limit : "auto", number or None
        See :func:`resolve_memory_limit`.
    advice : list of str, or callable
        What the user can do, most effective first (a callable gets the
        budget in bytes and returns the list); the override is added.

    Returns
    -------
    estimate : MemoryEstimate
    """
    limit, source = resolve_memory_limit(memory_limit)
    needed = estimate.total
    if limit is None or needed <= limit:
        return estimate
    largest = sorted(estimate.parts, key=lambda part: -part[1])[:3]
    breakdown = "; ".join(f"{name}: {format_bytes(size)}" for name, size in largest)
    steps = list(advice(limit) if callable(advice) else advice)
    if source == "memory_limit":
        steps.append("raise memory_limit, or pass memory_limit=None to skip this check")
    else:
        steps.append(
            "pass memory_limit=None to skip this check (the process may then "
            "be killed when memory runs out)"
        )
    raise MemoryLimitError(
        f"{estimate.what} needs about {format_bytes(needed)} of memory at its "
        f"peak ({breakdown}), but only {format_bytes(limit)} is allowed "
        f"({source}). Nothing was allocated. "
        f"{'To fit' if estimate.what.startswith('Fitting') else 'To score'}: "
        + "; ".join(steps)
        + ".",
        needed=needed,
        limit=limit,
    )


class FitPlan(NamedTuple):
    """What a fit will allocate and what to do when that is too much.

    ``advice(limit)`` returns the remedies, most effective first, for a
    budget of ``limit`` bytes (see :func:`check_memory`).
    """

    estimate: MemoryEstimate
    advice: object


def check_plan(plan, memory_limit):
    """:func:`check_memory` of a :class:`FitPlan`."""
    return check_memory(plan.estimate, memory_limit, advice=plan.advice)


def dense_fit_plan(owner, n_items, dtype, *, n_square, side_bytes=0, work_bytes=0):
    """The plan of a fit holding ``n_square`` dense n x n arrays at its peak.

    Parameters
    ----------
    owner : str
        The estimator's name, for the message.
    n_items : int
    dtype : numpy dtype
        Precision of the n x n arrays.
    n_square : int
        How many dense n_items x n_items arrays are alive at the peak.
    side_bytes : int, default=0
        O(n·d) arrays (embeddings, low-rank factors).
    work_bytes : int, default=0
        Temporaries (row blocks, a transposed sparse copy of X).

    Returns
    -------
    plan : FitPlan
        The advice names float32 (for a float64 fit) and the largest
        catalogue that would fit.
    """
    dtype = np.dtype(dtype)
    square = n_square * n_items * n_items * dtype.itemsize
    parts = [
        (
            f"{n_square} dense {n_items} x {n_items} {dtype.name} "
            f"array{'s' if n_square > 1 else ''}",
            square,
        )
    ]
    if side_bytes:
        parts.append(("item side arrays", int(side_bytes)))
    if work_bytes:
        parts.append(("work buffers", int(work_bytes)))
    estimate = MemoryEstimate(
        what=f"Fitting {owner} on {n_items} items in {dtype.name}", parts=tuple(parts)
    )

    def advice(limit):
        steps = []
        if dtype == np.float64:
            steps.append("use dtype=np.float32 (halves the dense arrays)")
        # The largest catalogue whose n x n arrays fit, in float32 at most.
        itemsize = min(dtype.itemsize, 4)
        fitting = int(np.sqrt(limit / (n_square * itemsize)) * 0.95)
        steps.append(
            f"reduce the catalogue to at most about {fitting} items"
            f"{' in float32' if dtype == np.float64 else ''} (k-core filtering, "
            "e.g. load_folder(..., k_core=5), or dropping the rarest items)"
        )
        return steps

    return FitPlan(estimate, advice)
