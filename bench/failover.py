"""Redis Sentinel failover: how long plays stop, how many are refused, how many tasks are lost.

Starts, all on 127.0.0.1 with free ports: a Redis master and one replica (both with a password),
three Sentinels (``redis-server --sentinel``, generated configs), then a real ``python -m
worker`` and ``python -m wsserver`` given the ``redis+sentinel://`` URL in their environment.
One authenticated WebSocket client plays ``let n = <i>; n`` in a loop, one play in flight;
after WARMUP answered plays the master is killed with SIGKILL, and the loop goes on until
AFTER plays have been answered by the promoted replica.

Figures: the outage (kill to the first answered play), the plays refused meanwhile (each with
JSON-RPC -32603, data "task queue unavailable: ..."), and the plays lost (sent, but neither answered
nor refused: a timeout, a wrong answer or a dropped connection; expected 0).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from bench.common import (Children, Row, free_port, new_keypair, port_open, print_table,
                          python_env, redis_server_binary, run_main, wait_until, workspace)

SERVICE_NAME = "circles"
QUORUM = 2
SENTINELS = 3
SETUP_TIMEOUT = 60.0
"""Seconds the cluster and the circle get to come up (a safety net; waits are for events)."""
PLAY_TIMEOUT = 30.0
"""The wsserver's --play-timeout: a play that hangs ends as -32004 after it (counted as lost)."""
REFUSED_PAUSE = 0.05
"""Seconds the client waits after a refused play before the next (a polite retry loop)."""
UNAVAILABLE = -32603


@dataclass
class SentinelCluster:
    """A master, a replica and three Sentinels on free ports, started as ``children``."""

    folder: Path
    children: Children
    password: str
    sentinel_password: str | None = None
    """The sentinels' own password (requirepass + sentinel-pass), if any."""
    down_after_ms: int = 1000
    failover_timeout_ms: int = 3000
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The redis+sentinel:// URL naming every sentinel (with the data nodes' password)."""
        hosts = ",".join(f"127.0.0.1:{self.ports[f'sentinel{n}']}" for n in range(SENTINELS))
        query = f"?sentinel_password={self.sentinel_password}" if self.sentinel_password else ""
        return f"redis+sentinel://:{self.password}@{hosts}/{SERVICE_NAME}{query}"

    def start(self) -> None:
        """Start everything; return once the replica is in sync and every sentinel knows the
        replica and the other sentinels (so a failover can happen at once)."""
        self._start_data_node("master", [])
        self._start_data_node("replica", ["--replicaof", "127.0.0.1", str(self.ports["master"])])
        wait_until(lambda: self._info("master", "connected_slaves") == "1"
                   and self._info("replica", "master_link_status") == "up",
                   SETUP_TIMEOUT, "the replica to sync", self._check)
        for n in range(SENTINELS):
            self._start_sentinel(f"sentinel{n}")
        wait_until(self._sentinels_ready, SETUP_TIMEOUT,
                   "the sentinels to see the replica and each other", self._check, 0.1)

    def master_name(self) -> str:
        """Which data node ("master" or "replica") the sentinels name as master now."""
        address = self._sentinel_client("sentinel0").sentinel_get_master_addr_by_name(SERVICE_NAME)
        port = int(address[1])
        return next(name for name in ("master", "replica") if self.ports[name] == port)

    def kill_master(self) -> str:
        """SIGKILL the current master and wait until it is gone; return its name."""
        name = self.master_name()
        proc = self.children.by_name(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return name

    def wait_new_master(self, old: str, timeout: float = SETUP_TIMEOUT) -> str:
        """Wait until the sentinels name another data node than ``old`` as master; return it."""
        import redis

        def promoted() -> bool:
            try:
                return self.master_name() != old
            except (redis.RedisError, StopIteration):
                return False

        wait_until(promoted, timeout, "the sentinels to promote the replica", interval=0.02)
        return self.master_name()

    def _start_data_node(self, name: str, extra: list[str]) -> None:
        port = free_port()
        self.ports[name] = port
        config = self.folder / f"{name}.conf"
        # the password goes in a 0600 file, never on a command line
        _write_private(config, f"requirepass {self.password}\nmasterauth {self.password}\n")
        proc = self.children.start(name, [
            redis_server_binary(), str(config), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(self.folder), "--dbfilename", f"{name}.rdb", "--save", "",
            "--appendonly", "no", *extra])
        wait_until(lambda: port_open(port), SETUP_TIMEOUT, f"redis {name}",
                   lambda: self.children.check_alive(proc))

    def _start_sentinel(self, name: str) -> None:
        port = free_port()
        self.ports[name] = port
        config = self.folder / f"{name}.conf"
        _write_private(config, "\n".join([
            f"port {port}", "bind 127.0.0.1", f"dir {self.folder}",
            f"sentinel monitor {SERVICE_NAME} 127.0.0.1 {self.ports['master']} {QUORUM}",
            f"sentinel auth-pass {SERVICE_NAME} {self.password}",
            f"sentinel down-after-milliseconds {SERVICE_NAME} {self.down_after_ms}",
            f"sentinel failover-timeout {SERVICE_NAME} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {SERVICE_NAME} 1",
            *([f"requirepass {self.sentinel_password}",
               f"sentinel sentinel-pass {self.sentinel_password}"] if self.sentinel_password
              else []), ""]))
        proc = self.children.start(name, [redis_server_binary(), str(config), "--sentinel"])
        wait_until(lambda: port_open(port), SETUP_TIMEOUT, f"redis {name}",
                   lambda: self.children.check_alive(proc))

    def _info(self, name: str, key: str) -> str | None:
        import redis

        try:
            with redis.Redis(port=self.ports[name], password=self.password,
                             socket_timeout=2) as client:
                return str(client.info("replication").get(key))
        except redis.RedisError:
            return None

    def _sentinel_client(self, name: str):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(port=self.ports[name], password=self.sentinel_password,
                           socket_timeout=2, decode_responses=True)

    def _sentinels_ready(self) -> bool:
        import redis

        for n in range(SENTINELS):
            try:
                with self._sentinel_client(f"sentinel{n}") as client:
                    replicas = client.sentinel_slaves(SERVICE_NAME)
                    peers = client.sentinel_sentinels(SERVICE_NAME)
            except redis.RedisError:
                return False
            if len(replicas) != 1 or len(peers) != SENTINELS - 1:
                return False
        return True

    def _check(self) -> None:
        for proc in self.children.procs:
            self.children.check_alive(proc)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def start_circle(folder: Path, children: Children, redis_url: str,
                 extra_worker_args: Sequence[str] = (),
                 debug: bool = False) -> tuple[str, str, str]:
    """A real worker and wsserver for a new circle, the URL in their environment (never on the
    command line); returns (ws URL, the circle's private key, its public key)."""
    private_key, public_key = new_keypair()
    env = python_env()
    env["CIRCLES_REDIS_URL"] = redis_url
    data_dir = folder / "data"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    debug_flag = ["--debug"] if debug else []
    children.start("worker", [sys.executable, "-m", "worker", "--name", "failover",
                              "--public-key", public_key, "--data-dir", str(data_dir),
                              *extra_worker_args, *debug_flag], env=env)
    port = free_port()
    server = children.start("wsserver", [
        sys.executable, "-m", "wsserver", "--name", "failover", "--public-key", public_key,
        "--host", "127.0.0.1", "--port", str(port), "--play-timeout", str(PLAY_TIMEOUT),
        *debug_flag], env=env)
    wait_until(lambda: port_open(port), SETUP_TIMEOUT, "the WebSocket server's port",
               lambda: children.check_alive(server))
    return f"ws://127.0.0.1:{port}/ws", private_key, public_key


@dataclass(frozen=True)
class Play:
    """One play of the stream: when it was sent and ended, and how it ended."""

    index: int
    sent: float
    ended: float
    outcome: str
    """answered | refused (-32603) | lost (timeout, wrong answer, other error)"""
    detail: str = ""


@dataclass(frozen=True)
class FailoverRun:
    """A stream of plays around one kill of the master."""

    plays: tuple[Play, ...]
    kill_started: float
    killed_at: float
    """When the kill began, and when the master was gone (its process reaped)."""

    @property
    def before_kill(self) -> list[Play]:
        """Plays that ended before the kill began."""
        return [p for p in self.plays if p.ended < self.kill_started]

    @property
    def after_kill(self) -> list[Play]:
        """Plays that were in flight at the kill or sent after it."""
        return [p for p in self.plays if p.ended >= self.kill_started]

    @property
    def first_answer_after_kill(self) -> Play:
        """The first play sent after the master was gone that was answered."""
        return next(p for p in self.plays if p.sent >= self.killed_at and p.outcome == "answered")

    @property
    def outage(self) -> float:
        """Seconds from the kill to the end of the first play answered after it."""
        return self.first_answer_after_kill.ended - self.killed_at

    def count(self, outcome: str, plays: Sequence[Play] | None = None) -> int:
        return sum(p.outcome == outcome for p in (self.plays if plays is None else plays))

    @property
    def after_recovery(self) -> list[Play]:
        """Plays sent after the first play answered after the kill."""
        first = self.first_answer_after_kill
        return [p for p in self.plays if p.index > first.index]


async def play_through_failover(ws_url: str, private_key: str, kill: Callable[[], object],
                                warmup: int, after: int, timeout: float) -> FailoverRun:
    """Play in a loop; after ``warmup`` answers, kill the master (in a thread, so a play is in
    flight meanwhile); stop after ``after`` answers to plays sent after the kill. Raises
    TimeoutError (with what happened) after ``timeout`` s in all."""
    from wsserver.client import CircleClient, CircleRpcError

    plays: list[Play] = []
    killed = [float("inf"), float("inf")]  # kill began, master gone: set by the killing thread

    def kill_and_note() -> None:
        killed[0] = time.monotonic()
        kill()
        killed[1] = time.monotonic()

    killing: asyncio.Future[None] | None = None
    answered_since_kill = 0
    deadline = time.monotonic() + timeout
    async with CircleClient(ws_url, timeout=PLAY_TIMEOUT + 30) as client:
        if not await client.authenticate(private_key):
            raise RuntimeError(f"login refused by {ws_url}")
        index = 0
        while answered_since_kill < after:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no recovery within {timeout:g} s: "
                                   f"{[(p.outcome, p.detail) for p in plays[-5:]]}")
            if killing is None and len(plays) >= warmup:
                killing = asyncio.get_running_loop().run_in_executor(None, kill_and_note)
            sent = time.monotonic()
            try:
                output = await client.play(f"let n = {index}; n")
                outcome, detail = ("answered", "") if output == str(index) else (
                    "lost", f"wrong answer {output!r}")
            except CircleRpcError as exc:
                refused = exc.code == UNAVAILABLE and str(exc.data).startswith(
                    "task queue unavailable")
                outcome, detail = ("refused" if refused else "lost"), str(exc)
            plays.append(Play(index, sent, time.monotonic(), outcome, detail))
            if sent >= killed[1]:
                answered_since_kill += outcome == "answered"
            if outcome == "refused":
                await asyncio.sleep(REFUSED_PAUSE)
            index += 1
    assert killing is not None
    await killing
    return FailoverRun(tuple(plays), killed[0], killed[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--warmup", type=int, default=50, help="answered plays before the kill")
    parser.add_argument("--after", type=int, default=200,
                        help="answered plays after the kill before stopping")
    parser.add_argument("--down-after-ms", type=int, default=1000,
                        help="the sentinels' down-after-milliseconds (default 1000)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.after = 5, 5
    with workspace("failover") as (folder, children):
        cluster = SentinelCluster(folder, children, password=os.urandom(12).hex(),
                                  down_after_ms=args.down_after_ms)
        cluster.start()
        ws_url, private_key, _ = start_circle(folder, children, cluster.url)
        promoted_at: list[float] = []

        def kill() -> None:
            """Kill the master; note (in another thread) when the sentinels name the new one."""
            old = cluster.kill_master()
            watcher = threading.Thread(target=lambda: (cluster.wait_new_master(old),
                                                       promoted_at.append(time.monotonic())),
                                       daemon=True)
            watcher.start()
            watchers.append(watcher)

        watchers: list[threading.Thread] = []
        run = asyncio.run(play_through_failover(ws_url, private_key, kill, args.warmup,
                                                args.after, timeout=120))
        for watcher in watchers:
            watcher.join()
        after = run.after_kill
        for detail in sorted({p.detail for p in run.plays if p.outcome == "lost"}):
            print(f"lost: {detail}", file=sys.stderr)
        rows = [
            Row("outage: kill to first answered play", run.outage, "s"),
            Row("of which: kill to the sentinels naming the new master",
                promoted_at[0] - run.killed_at, "s"),
            Row("plays refused (-32603) during the outage", run.count("refused", after), "plays"),
            Row("plays lost (sent, never answered or refused)", run.count("lost"), "plays",
                goal="0", met=run.count("lost") == 0),
            Row("plays answered after the kill", run.count("answered", after), "plays"),
            Row("longest refusal", max((p.ended - p.sent for p in after
                                        if p.outcome == "refused"), default=0.0) * 1000, "ms"),
        ]
    notes = [f"master + 1 replica + {SENTINELS} sentinels (quorum {QUORUM}, "
             f"down-after-milliseconds {args.down_after_ms}, failover-timeout "
             f"{cluster.failover_timeout_ms}), worker and wsserver on the redis+sentinel:// URL",
             f"one WebSocket client, one play in flight, {REFUSED_PAUSE * 1000:.0f} ms pause "
             f"after a refused play; master killed (SIGKILL) after {args.warmup} answered plays",
             "no baseline: the figures are absolute (the outage is bounded below by "
             "down-after-milliseconds)"]
    print_table("Sentinel failover (bench.failover)", rows, "none", notes)
    return 0


if __name__ == "__main__":
    run_main(main)
