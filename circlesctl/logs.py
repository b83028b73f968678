"""Reading program log files: the last lines, or following them as they grow."""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Callable, Sequence


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
