"""Wait until every program is RUNNING and actually ready, polling cheaply.

A program is ready when supervisord says RUNNING (it stayed up ``startsecs``) and the program
itself says so, for the pid supervisord runs: a worker's own heartbeat, a server's GET /health,
Redis's PING. The programs' own signals are checked every TICK (one Redis MGET for all worker
heartbeats; for each server not yet ready a connect, then GET /health once it accepts).
supervisord's getAllProcessInfo costs it and circlesctl about 0.1 ms of CPU per program, so
while programs are still starting it is asked only every STATE_EVERY seconds (to confirm the
programs that signalled, notice crashes and learn pids), and every TICK only once each program
still waited for has signalled: then only supervisord's RUNNING is missing.
"""
from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from worker import protocol, redis_connect

from .supervisor import ProcessInfo, Supervisor

log = logging.getLogger(__name__)


TICK = 0.05
"""Seconds between checks of the programs' own ready signals."""
STATE_EVERY = 0.25
"""Seconds between supervisord state polls while some program has not signalled yet."""
FAILED_STATES = frozenset({"BACKOFF", "FATAL", "EXITED", "UNKNOWN"})
"""States that mean a program crashed during start-up (STOPPED only counts once it ran)."""
HEALTH_TIMEOUT = 1.0
PROBE_TIMEOUT = 0.5
"""Seconds a connect to a local server may take before the server counts as not listening."""
STARTED_STATES = frozenset({"STARTING", "RUNNING"})


class StartupFailed(Exception):
    """A program failed or did not become ready; names the programs at fault."""

    def __init__(self, message: str, programs: Sequence[str]) -> None:
        super().__init__(message)
        self.programs = list(programs)


@dataclass(frozen=True)
class Target:
    """A program to wait for and how to tell it is ready."""

    program: str
    kind: str  # "redis", "worker" or "ws"
    public_key: str = ""
    host: str = ""
    port: int = 0


def connect_host(host: str) -> str:
    """The address to reach a server bound to ``host`` (wildcards become loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host.strip("[]"))


def accepts(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether something accepts connections on ``host:port``: a refused connect costs far
    less than an HTTP request, so servers are asked for /health only once they listen."""
    try:
        with socket.create_connection((connect_host(host), port), timeout=timeout):
            return True
    except OSError:
        return False


def health_ok(host: str, port: int, public_key: str, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Whether ``GET /health`` answers ok for the circle ``public_key``."""
    conn = http.client.HTTPConnection(connect_host(host), port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        return response.status == 200 and body.get("circle") == public_key
    except (OSError, ValueError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def redis_answers(client: Any, command: tuple[Any, ...]) -> Any:
    """The reply to one command, or None when Redis cannot be reached or answers an error."""
    try:
        return protocol.raise_errors(protocol.round_trip(client, [command]))[0]
    except redis_connect.client_errors(client).any:  # error replies included
        return None


def beating_pids(client: Any, workers: Sequence[tuple[str, int]]) -> set[int]:
    """Of the (circle public key, pid) pairs, the pids whose own worker heartbeat on this host
    carries that pid (one MGET); a missing or unreadable heartbeat means not ready."""
    if not workers:
        return set()
    host = socket.gethostname()
    values = redis_answers(client, ("MGET", *(protocol.worker_heartbeat_key(pk, host, pid)
                                              for pk, pid in workers)))
    if values is None:
        return set()
    beats = (protocol.decode_heartbeat(raw) for raw in values)
    return {pid for (_, pid), beat in zip(workers, beats) if beat is not None and beat["pid"] == pid}


def wait_ready(supervisor: Supervisor, targets: Sequence[Target], client: Any,
               timeout: float, on_ready: Callable[[str, int, int], None]) -> None:
    """Block until all ``targets`` are ready; raise StartupFailed on a failure or the timeout.
    ``client``: a ``redis_connect.worker_client`` or a redis-py client.

    ``on_ready(program, done, total)`` is called once per program as it becomes ready.
    """
    pending = {t.program: t for t in targets}
    if not pending:
        return
    total = len(pending)
    deadline = time.monotonic() + timeout
    spawned: set[str] = set()
    signalled: dict[str, int] = {}
    """Pending programs whose own ready signal was seen, with the pid it was seen for."""
    by_program: dict[str, ProcessInfo] = {}
    polled = float("-inf")
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="health") as pool:
        while True:
            if time.monotonic() - polled >= STATE_EVERY or signalled.keys() >= pending.keys():
                polled = time.monotonic()
                by_program = {i.name: i for i in supervisor.processes()}
                _check_failures(pending, by_program, spawned)
                for name in _confirmed(signalled, by_program):
                    del pending[name], signalled[name]
                    log.debug("%s is ready (pid %d)", name, by_program[name].pid)
                    on_ready(name, total - len(pending), total)
                if not pending:
                    return
            if time.monotonic() > deadline:
                states = ", ".join(f"{n} ({_describe(by_program.get(n))})" for n in pending)
                raise StartupFailed(f"not ready within {timeout:g} s: {states}", list(pending))
            waiting = [t for name, t in pending.items() if name not in signalled]
            signalled.update(_signals(waiting, by_program, client, pool))
            if signalled.keys() < pending.keys() or not waiting:
                time.sleep(TICK)


def _check_failures(pending: dict[str, Target], by_program: dict[str, ProcessInfo],
                    spawned: set[str]) -> None:
    """Raise StartupFailed naming the pending programs that crashed or are unknown."""
    spawned.update(n for n, i in by_program.items() if i.state != "STOPPED")
    failed = [name for name in pending if _failed(name, by_program.get(name), spawned)]
    if failed:
        states = ", ".join(f"{n} is {_describe(by_program.get(n))}" for n in failed)
        raise StartupFailed(f"program failed to start: {states}", failed)


def _confirmed(signalled: dict[str, int], by_program: dict[str, ProcessInfo]) -> list[str]:
    """The signalled programs supervisord now runs, still as the pid that signalled; a program
    restarted since (another pid) must signal again."""
    for name, pid in list(signalled.items()):
        if by_program[name].pid != pid:
            del signalled[name]
    return [name for name in signalled if by_program[name].state == "RUNNING"]


def _failed(name: str, info: ProcessInfo | None, spawned: set[str]) -> bool:
    if info is None or info.state in FAILED_STATES:
        return True
    return info.state == "STOPPED" and name in spawned


def _describe(info: ProcessInfo | None) -> str:
    if info is None:
        return "unknown to supervisord"
    detail = info.spawnerr or info.description
    return f"{info.state}" + (f": {detail}" if detail and info.state != "RUNNING" else "")


def _signals(targets: list[Target], infos: dict[str, ProcessInfo], client: Any,
             pool: ThreadPoolExecutor) -> dict[str, int]:
    """Of ``targets``, those started programs that say they are ready, with their pids."""
    started = [t for t in targets if t.program in infos
               and infos[t.program].state in STARTED_STATES and infos[t.program].pid]
    ready = [t.program for t in started
             if t.kind == "redis" and redis_answers(client, ("PING",)) is not None]
    workers = [t for t in started if t.kind == "worker"]
    beating = beating_pids(client, [(t.public_key, infos[t.program].pid) for t in workers])
    ready += [t.program for t in workers if infos[t.program].pid in beating]
    servers = [t for t in started if t.kind == "ws" and accepts(t.host, t.port)]
    answers = pool.map(lambda t: health_ok(t.host, t.port, t.public_key), servers)
    ready += [t.program for t, ok in zip(servers, answers) if ok]
    return {name: infos[name].pid for name in ready}
