"""Push each circle's init script through its Redis queue, as the circle itself; collect results."""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from worker import protocol

from .config import Circle
from .keys import KeyPair

log = logging.getLogger(__name__)

NO_SCRIPT = "-"


def run_init_scripts(client: Any, circles: Sequence[Circle], keys: dict[str, KeyPair],
                     timeout: float) -> dict[str, str]:
    """Per circle name: "ok", "-" (no script) or the error; all scripts are queued in one round
    trip and run concurrently. ``client``: a ``redis_connect.worker_client`` or redis-py client."""
    results = {c.name: NO_SCRIPT for c in circles}
    submitted: dict[str, str] = {}
    commands: list[tuple[Any, ...]] = []
    for circle in circles:
        if circle.script_path is None:
            continue
        try:
            script = circle.script_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            results[circle.name] = f"cannot read {circle.script_path}: {exc}"
            continue
        public_key = keys[circle.name].public_key
        task_id, fields = protocol.new_task(script, public_key)
        commands += protocol.submit_commands(public_key, task_id, fields)
        submitted[circle.name] = task_id
    if commands:
        protocol.raise_errors(protocol.round_trip(client, commands))
    deadline = time.monotonic() + timeout
    for name, task_id in submitted.items():
        result = protocol.await_result(client, task_id, max(0.1, deadline - time.monotonic()))
        results[name] = init_summary(result)
        log.info("init script of %r: %s", name, results[name])
    return results


def init_summary(result: protocol.TaskResult) -> str:
    """"ok", or the error; when the script printed something before failing (the worker keeps
    it in ``output``), the error's first line says so, since that output often tells why."""
    if result.ok:
        return "ok"
    error = (result.error or result.status).strip()
    printed = (result.output or "").strip()
    if not printed:
        return error
    first, _, rest = error.partition("\n")
    printed_line = " / ".join(line.strip() for line in printed.splitlines() if line.strip())
    return f"{first}; printed: {printed_line}" + (f"\n{rest}" if rest else "")
