"""The status table (pure: rows in, text out) and how a circle's state is summed up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from worker import protocol

from .config import Circle
from .keys import KeyPair
from .readiness import connect_host
from .supervisor import ProcessInfo

HEADERS = ("Name", "Public Key", "Worker Queue", "WebSocket URL", "State", "Init")
MAX_INIT_WIDTH = 60


@dataclass(frozen=True)
class Row:
    """One circle's line in the table."""

    name: str
    public_key: str
    queue: str
    url: str
    state: str
    init: str


def websocket_url(circle: Circle) -> str:
    """Where clients connect to the circle's JSON-RPC server."""
    host = connect_host(circle.host)
    if ":" in host:
        host = f"[{host}]"
    return f"ws://{host}:{circle.port}/ws"


def circle_state(circle: Circle, infos: Mapping[str, ProcessInfo]) -> str:
    """RUNNING when both programs run, else each program's state (e.g. "worker BACKOFF")."""
    worker = infos.get(circle.worker_program)
    ws = infos.get(circle.ws_program)
    states = [i.state if i else "ABSENT" for i in (worker, ws)]
    if states[0] == states[1]:
        return states[0]
    return f"worker {states[0]}, ws {states[1]}"


def build_rows(circles: Sequence[Circle], keys: Mapping[str, KeyPair],
               infos: Mapping[str, ProcessInfo], init: Mapping[str, str]) -> list[Row]:
    """A row per circle (circles without a key yet show "-")."""
    rows = []
    for circle in circles:
        pair = keys.get(circle.name)
        public_key = pair.public_key if pair else "-"
        rows.append(Row(circle.name, public_key,
                        protocol.queue_key(public_key) if pair else "-",
                        websocket_url(circle), circle_state(circle, infos),
                        init.get(circle.name, "-")))
    return rows


def _cell(text: str, limit: int | None = None) -> str:
    first = (text.strip().splitlines() or [""])[0]
    if limit and len(first) > limit:
        first = first[: limit - 3] + "..."
    return first


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table with a header line (init errors cut to their first line)."""
    cells = [HEADERS] + [(r.name, r.public_key, r.queue, r.url, r.state,
                          _cell(r.init, MAX_INIT_WIDTH)) for r in rows]
    widths = [max(len(_cell(row[i])) for row in cells) for i in range(len(HEADERS))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(" | ".join(_cell(v).ljust(w) for v, w in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)
