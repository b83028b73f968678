"""The running tree as the user sees it (pure: supervisord's process list + config in, views out).

``tree_view`` joins what supervisord runs with what circles.json configures: configured circles
that do not run show ``ABSENT``; circles that run but are no longer in the file are listed and
marked. ``format_table`` fits a 100-column terminal (``wide`` shows full keys and queues) and
``to_json`` carries every full value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from worker import protocol

from .config import Circle, Config, slugify
from .keys import KeyPair
from .readiness import connect_host
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .supervisor import ProcessInfo

HEADERS = ("Name", "Key", "Queue", "WebSocket URL", "Workers", "State", "Init")
TABLE_WIDTH = 100
"""The table (without --wide) fits a terminal this wide."""
SHORT_KEY_DIGITS = 6
SEPARATOR = " | "
ELLIPSIS = "…"
NOT_IN_CONFIG = "unlisted"
"""The Init cell of a circle that runs but is no longer in the config (a note explains)."""
MIN_WIDTHS = {"Init": 8, "State": 14, "Name": 10}
"""How far the columns that give way are cut, in this order, when the table is too wide."""


@dataclass(frozen=True)
class ProgramState:
    """One process as supervisord reports it, named as ``supervisorctl status`` names it."""

    name: str
    group: str
    process: str
    state: str
    pid: int
    description: str

    @classmethod
    def of(cls, info: ProcessInfo) -> "ProgramState":
        return cls(namespec(info.group, info.name), info.group, info.name, info.state, info.pid,
                   info.description)

    @classmethod
    def absent(cls, group: str, process: str) -> "ProgramState":
        return cls(namespec(group, process), group, process, "ABSENT", 0, "")


@dataclass(frozen=True)
class CircleState:
    """One circle of the running tree (or of the file, when it does not run)."""

    name: str
    slug: str
    configured: bool
    public_key: str
    queue: str
    url: str
    workers: int
    state: str
    init: str
    programs: tuple[ProgramState, ...]

    @property
    def running_workers(self) -> int:
        return sum(1 for p in self.programs
                   if p.process.startswith("worker-") and p.state == "RUNNING")


@dataclass(frozen=True)
class TreeView:
    """Everything ``status`` shows: the circles, and every process supervisord runs."""

    circles: tuple[CircleState, ...]
    programs: tuple[ProgramState, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Every configured program (and the embedded Redis, if any) is RUNNING."""
        configured = [p for c in self.circles if c.configured for p in c.programs]
        redis = [p for p in self.programs if p.group == REDIS_PROGRAM]
        return all(p.state == "RUNNING" for p in configured + redis)

    @property
    def unlisted(self) -> list[CircleState]:
        return [c for c in self.circles if not c.configured]


def namespec(group: str, process: str) -> str:
    """A process's name as supervisorctl prints and accepts it: ``group:process``, or just the
    name when the group is the process itself (the embedded ``redis``)."""
    return process if group == process else f"{group}:{process}"


def websocket_url(circle: Circle) -> str:
    """Where clients connect to the circle's JSON-RPC server."""
    host = connect_host(circle.host)
    if ":" in host:
        host = f"[{host}]"
    return f"ws://{host}:{circle.port}/ws"


def summarize(programs: Sequence[ProgramState]) -> str:
    """RUNNING when every program runs, the common state when all share one, else what is not
    RUNNING by role: "ws BACKOFF", "workers STARTING" (a whole pool), "worker-2 FATAL"."""
    states = {p.state for p in programs}
    if len(states) == 1:
        return states.pop()
    workers = [p for p in programs if p.process.startswith("worker-")]
    parts = []
    worker_states = {p.state for p in workers}
    if len(workers) > 1 and len(worker_states) == 1 and worker_states != {"RUNNING"}:
        parts.append(f"workers {worker_states.pop()}")
    else:
        parts += [f"{_role(p.process)} {p.state}" for p in workers if p.state != "RUNNING"]
    parts += [f"{_role(p.process)} {p.state}" for p in programs
              if p not in workers and p.state != "RUNNING"]
    return ", ".join(parts)


def _role(process: str) -> str:
    kind, _, rest = process.partition("-")
    pool_number = rest.rsplit("-", 1)[1] if kind == "worker" and "-" in rest else ""
    return f"{kind}-{pool_number}" if pool_number.isdigit() else kind


def tree_view(config: Config, keys: Mapping[str, KeyPair], infos: Sequence[ProcessInfo],
              init: Mapping[str, str]) -> TreeView:
    """Join supervisord's processes with the configured circles."""
    by_group: dict[str, list[ProcessInfo]] = {}
    for info in infos:
        by_group.setdefault(info.group, []).append(info)
    circles = []
    for circle in config.circles:
        running = {i.name: ProgramState.of(i) for i in by_group.get(circle.slug, [])}
        expected = circle.processes(config.role)
        programs = [running.pop(name, None) or ProgramState.absent(circle.slug, name)
                    for name in expected]
        programs += running.values()  # left over from an older pool size: shown, not expected
        pair = keys.get(circle.name)
        url = websocket_url(circle) if config.role == "all" else "-"
        circles.append(CircleState(
            circle.name, circle.slug, True, pair.public_key if pair else "-",
            protocol.queue_key(pair.public_key) if pair else "-", url,
            circle.workers, summarize(programs[:len(expected)]), init.get(circle.name, "-"),
            tuple(programs)))
    configured = {c.slug for c in config.circles} | {REDIS_PROGRAM}
    names_by_slug = {slugify(name): name for name in keys}
    for group in sorted(set(by_group) - configured):
        programs = [ProgramState.of(i) for i in by_group[group]]
        name = names_by_slug.get(group, group)
        pair = keys.get(name)
        workers = sum(1 for p in programs if p.process.startswith("worker-"))
        circles.append(CircleState(
            name, group, False, pair.public_key if pair else "-",
            protocol.queue_key(pair.public_key) if pair else "-", "-", workers,
            summarize(programs), NOT_IN_CONFIG, tuple(programs)))
    return TreeView(tuple(circles), tuple(ProgramState.of(i) for i in infos))


def short_key(text: str) -> str:
    """A public key (or a queue name ending in one) cut to its first hex digits."""
    head, sep, key = text.rpartition(":")
    if len(key) <= SHORT_KEY_DIGITS + 1:
        return text
    return f"{head}{sep}{key[:SHORT_KEY_DIGITS]}{ELLIPSIS}"


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def format_table(view: TreeView, wide: bool = False, width: int = TABLE_WIDTH) -> str:
    """A plain-text table, one line per circle; without ``wide`` it fits ``width`` columns."""
    rows = []
    for c in view.circles:
        workers = f"{c.running_workers}/{c.workers}"
        key, queue = (c.public_key, c.queue) if wide else (short_key(c.public_key),
                                                           short_key(c.queue))
        rows.append((c.name, key, queue, c.url, workers, c.state, _first_line(c.init)))
    cells = [HEADERS, *rows]
    widths = [max(len(_first_line(row[i])) for row in cells) for i in range(len(HEADERS))]
    if not wide:
        for column in MIN_WIDTHS:
            index = HEADERS.index(column)
            over = sum(widths) + len(SEPARATOR) * (len(widths) - 1) - width
            if over > 0:
                widths[index] = min(widths[index], max(MIN_WIDTHS[column], widths[index] - over))
    lines = []
    for number, row in enumerate(cells):
        lines.append(SEPARATOR.join(_cut(_first_line(v), w).ljust(w)
                                    for v, w in zip(row, widths)).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(view: TreeView, config_path: str) -> list[str]:
    """Lines under the table: circles running but not configured, a Redis that is not RUNNING."""
    found = []
    for circle in view.unlisted:
        found.append(f"{circle.name!r} runs but is no longer in {config_path}; "
                     "'circlesctl reload' stops it (its keys and data are kept).")
    for program in view.programs:
        if program.group == REDIS_PROGRAM and program.state != "RUNNING":
            found.append(f"the embedded Redis is {program.state}: see 'circlesctl logs redis'.")
    return found


def to_json(view: TreeView, state_dir: str, config_path: str) -> dict[str, Any]:
    """Every full value of the view, for ``status --json``."""
    def program(p: ProgramState) -> dict[str, Any]:
        return {"name": p.name, "group": p.group, "process": p.process, "state": p.state,
                "pid": p.pid, "description": p.description}
    return {
        "running": True, "ok": view.ok, "state_dir": state_dir, "config": config_path,
        "circles": [{"name": c.name, "slug": c.slug, "configured": c.configured,
                     "public_key": c.public_key, "queue": c.queue, "url": c.url,
                     "workers": c.workers, "running_workers": c.running_workers,
                     "state": c.state, "init": c.init,
                     "programs": [program(p) for p in c.programs]} for c in view.circles],
        "programs": [program(p) for p in view.programs],
    }
