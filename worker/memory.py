"""The worker's memory backstop: a cap on the process's data memory (so a script's allocation
fails with MemoryError instead of the machine running out), its resident size, and the rule for
when a worker should be replaced by a fresh process (Linux, /proc; pure except for the reads)."""
from __future__ import annotations

import os
import resource

MIB = 1 << 20
RECYCLE_FRACTION = 0.5
"""A worker whose resident memory stays above this share of its limit after a task is replaced:
the next script would otherwise get less than the rest of its budget."""
MIN_MAX_MEMORY_MB = 128
"""Smallest limit accepted (besides 0 = off): a worker needs about 40 MiB at rest, and the
replacement threshold must stay well above that, or the worker would restart after every task."""


def cap_data_memory(max_memory_mb: int) -> None:
    """Limit the process's data segments (heap and private mappings: everything a script can
    allocate) to ``max_memory_mb`` MiB; 0 leaves them unlimited."""
    if max_memory_mb:
        limit = max_memory_mb * MIB
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


_statm: tuple[int, int] | None = None
"""(pid, descriptor of its /proc/self/statm) once ``resident_bytes`` has run."""


def resident_bytes() -> int:
    """This process's resident set size (RSS), in bytes.

    The worker asks after any task once its peak (``peak_resident_bytes``) is over the recycle
    threshold, so the file stays open and is read again from its start (a tenth of the cost of
    opening it each time); a forked child opens its own.
    """
    global _statm
    pid = os.getpid()
    if _statm is None or _statm[0] != pid:
        _statm = (pid, os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
    return int(os.pread(_statm[1], 256, 0).split()[1]) * os.sysconf("SC_PAGE_SIZE")


PEAK_LAG = 1 * MIB
"""How far the kernel's peak (``ru_maxrss``) may trail ``resident_bytes()``: its counters are
updated lazily (seen here: up to about 200 KB behind)."""


def peak_resident_bytes() -> int:
    """The most this process has had resident (``ru_maxrss``), in bytes: at most ``PEAK_LAG``
    below ``resident_bytes()``, and a sixth of its cost (one ``getrusage``, no /proc read)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def over_recycle_threshold(rss_bytes: int, max_memory_mb: int) -> bool:
    """Whether a worker with ``rss_bytes`` resident should be replaced (never when the limit is
    off)."""
    return bool(max_memory_mb) and rss_bytes > max_memory_mb * MIB * RECYCLE_FRACTION


def caused_by_memory_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a MemoryError or was raised while handling one (the engine turns a
    MemoryError into a limit error; the original stays its ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
