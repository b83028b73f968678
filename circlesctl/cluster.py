"""The cluster view: every live worker of each circle, on every host, from the workers' own
heartbeat keys in Redis (``protocol.worker_heartbeat_key``). Read-only.

``read_heartbeats`` is the I/O (one SCAN and one MGET per circle); ``cluster_view`` and
``format_cluster`` are pure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from worker import protocol

SCAN_COUNT = 1000


@dataclass(frozen=True)
class ClusterWorker:
    """One live worker as its heartbeat describes it."""

    host: str
    pid: int
    started_at: float
    last_beat: float
    this_host: bool
    """The worker runs on a machine with this machine's host name."""
    this_tree: bool
    """The worker is one of this state folder's programs (same host name and pid)."""


@dataclass(frozen=True)
class CircleWorkers:
    """A circle and its live workers, ordered by host then pid."""

    name: str
    public_key: str
    workers: tuple[ClusterWorker, ...]


def read_heartbeats(client: Any, public_key: str) -> list[dict[str, Any]]:
    """The decoded heartbeats of the circle's live workers (keys that expired are gone; a
    value that is not a heartbeat is skipped). ``client`` decodes responses to str."""
    keys = sorted(client.scan_iter(match=protocol.worker_heartbeat_pattern(public_key),
                                   count=SCAN_COUNT))
    if not keys:
        return []
    beats = (protocol.decode_heartbeat(raw) for raw in client.mget(keys))
    return [beat for beat in beats if beat is not None]


def cluster_view(circles: Mapping[str, str], beats: Mapping[str, Sequence[Mapping[str, Any]]],
                 this_host: str, own_pids: set[int]) -> list[CircleWorkers]:
    """Per circle (name -> public key, in order), its workers from ``beats`` (by public key)."""
    view = []
    for name, public_key in circles.items():
        workers = []
        for beat in beats.get(public_key, ()):
            host = str(beat.get("host") or "")
            pid = int(beat["pid"])
            here = host == this_host
            workers.append(ClusterWorker(host, pid, float(beat.get("started_at") or 0),
                                         float(beat.get("ts") or 0), here,
                                         here and pid in own_pids))
        workers.sort(key=lambda w: (w.host, w.pid))
        view.append(CircleWorkers(name, public_key, tuple(workers)))
    return view


def _clock(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def format_cluster(view: Sequence[CircleWorkers], now: float) -> str:
    """A table with one line per live worker, under a heading naming what it shows."""
    rows = [("Circle", "Host", "PID", "Started", "Last beat", "Where")]
    for circle in view:
        if not circle.workers:
            rows.append((circle.name, "-", "-", "-", "-", "no live worker"))
        for worker in circle.workers:
            where = ("this tree" if worker.this_tree else
                     "this host, other tree" if worker.this_host else "other host")
            rows.append((circle.name, worker.host, str(worker.pid), _clock(worker.started_at),
                         f"{max(0.0, now - worker.last_beat):.0f} s ago", where))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["Workers in the cluster (live heartbeats in Redis):"]
    for number, row in enumerate(rows):
        lines.append(" | ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(view: Sequence[CircleWorkers]) -> list[dict[str, Any]]:
    """The view for ``status --cluster --json``."""
    return [{"name": c.name, "public_key": c.public_key,
             "workers": [{"host": w.host, "pid": w.pid, "started_at": w.started_at,
                          "last_beat": w.last_beat, "this_host": w.this_host,
                          "this_tree": w.this_tree} for w in c.workers]} for c in view]
