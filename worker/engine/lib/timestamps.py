"""Rhai timestamp functions: ``timestamp()`` reads the monotonic clock; ``elapsed`` measures."""
from __future__ import annotations

import time

from ..natives import native
from ..values import Instant


@native("timestamp")
def timestamp() -> Instant:
    """The current instant (monotonic, so unaffected by wall-clock changes)."""
    return Instant(time.monotonic())


@native("elapsed", Instant)
@native("get$elapsed", Instant)
def elapsed(ts: Instant) -> float:
    """Seconds (FLOAT) since the timestamp was taken."""
    return time.monotonic() - ts.seconds
