"""Reading program log files: the last lines, or following them as they grow."""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

from .paths import StatePaths


def last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (empty when it does not exist yet)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=count)]
    except FileNotFoundError:
        return []


def follow(paths: Sequence[Path], emit: Callable[[Path, str], None],
           keep_going: Callable[[], bool] = lambda: True, interval: float = 0.2) -> None:
    """Call ``emit(path, line)`` for each line appended to ``paths`` (handles rotation)."""
    offsets = {p: (p.stat().st_size if p.exists() else 0) for p in paths}
    while keep_going():
        for path in paths:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size < offsets[path]:
                offsets[path] = 0
            if size == offsets[path]:
                continue
            with path.open("rb") as handle:
                handle.seek(offsets[path])
                chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1
            offsets[path] += complete
            for line in chunk[:complete].decode("utf-8", "replace").splitlines():
                emit(path, line)
        time.sleep(interval)


def log_offsets(paths: StatePaths, programs: Sequence[str]) -> dict[str, int]:
    """Each program log's current size, so a failed start shows only what THIS start wrote."""
    offsets = {}
    for program in programs:
        try:
            offsets[program] = paths.program_log(program).stat().st_size
        except FileNotFoundError:
            offsets[program] = 0
    return offsets


def lines_since(path: Path, offset: int, count: int) -> list[str]:
    """The last ``count`` lines written to ``path`` after byte ``offset`` (from the start when
    the file is now shorter: it was rotated)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(offset if offset <= size else 0)
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-count:] if count else []
