"""What a script gives in an engine, as a comparable value: shared by the tests that run the
same scripts on a fast path and on the generic path it stands for."""
from __future__ import annotations

from typing import Any

from worker.engine import Engine, RhaiError


def outcome(engine: Engine, script: str) -> tuple[Any, ...]:
    """``("value", value)``, or ``("error", message, kind)`` when the script fails."""
    try:
        return "value", engine.eval(script)
    except RhaiError as error:
        return "error", str(error), error.kind
