"""Memory (issue #4, figure 4): RSS of one circle's worker + WebSocket server under use.

Tasks are driven as authenticated WebSocket plays, so both programs do the work: RSS (VmRSS from
/proc, the program plus any process it forks) is read at rest, after the first ``--first`` plays
and after ``--tasks`` plays. Baseline: the bare Tornado echo server given the same number of
messages, plus an idle interpreter that has imported redis (what any Redis-backed worker costs).

One circle is measured per mode (``bench.common.MODES``), each on its own copy of the project's
packages: with bytecode compiled ahead, as ``pip install .`` leaves it (the goal is judged on
this one), and from source with PYTHONDONTWRITEBYTECODE=1, where every program compiles the
project's modules at start and keeps the compiler's peak heap mapped.
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.common import (MODES, PROGRAMS_NOTE, Row, new_keypair, parse_modes, print_table, project_copy,
                          run_main, split_evenly, start_echo_server, start_redis, start_worker,
                          start_wsserver, tree_total, uss_mb, wait_until, workspace)

SCRIPT = "40 + 2"
CLIENTS = 10
GROWTH_LIMIT_MB = 1.0
CIRCLE_GOAL_MB = 50.0
"""RSS of one circle (worker + server), at rest and after the plays (issue #12)."""
BARE_PROGRAM = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(1e6)"]
IDLE_REDIS_PROGRAM = [sys.executable, "-c",
                      "import redis, time; print('ready', flush=True); time.sleep(1e6)"]


async def drive(url: str, private_key: str | None, plays: int) -> None:
    """Run ``plays`` plays over ``CLIENTS`` connections (``private_key`` None: the echo server,
    sent the same request without logging in)."""
    from wsserver.client import CircleClient

    clients = [CircleClient(url) for _ in range(CLIENTS)]
    for client in clients:
        await client.connect()
        if private_key is not None and not await client.authenticate(private_key):
            raise RuntimeError(f"login refused by {url}")
    shares = split_evenly(plays, CLIENTS)

    async def loop(client: CircleClient, count: int) -> None:
        for _ in range(count):
            if private_key is None:
                await client.call("play", {"script": SCRIPT})
            elif (await client.play(SCRIPT)).strip() != "42":
                raise RuntimeError("play did not return 42")

    try:
        await asyncio.gather(*(loop(c, n) for c, n in zip(clients, shares)))
    finally:
        for client in clients:
            await client.close()


def settle() -> None:
    """Give the programs a moment to free per-request state before RSS is read."""
    time.sleep(0.5)


@dataclass
class Circle:
    """One circle's two programs, started on one ``project_copy`` (mode)."""

    mode: str
    worker: subprocess.Popen
    server: subprocess.Popen
    url: str

    def reading(self) -> tuple[float, float]:
        """RSS in MB of (worker, server), each with any process it forked."""
        return tree_total(self.worker.pid), tree_total(self.server.pid)

    def private(self) -> float:
        """USS in MB of worker + server: what this circle adds beyond shared pages."""
        return tree_total(self.worker.pid, uss_mb) + tree_total(self.server.pid, uss_mb)


def circle_rows(circle: Circle, readings: list[tuple[float, float]], private: float,
                baseline: list[tuple[float, float]], base_private: float, args: argparse.Namespace,
                judged: bool) -> list[Row]:
    """The rows of one mode's circle: ``readings`` and ``baseline`` (idle Python with redis,
    echo server) at rest, after ``--first`` and after ``--tasks`` plays; the RSS goal only when
    ``judged`` (the bytecode mode)."""
    rest, first, last = readings
    total = [worker + server for worker, server in readings]
    base = [idle + echo for idle, echo in baseline]
    growth_worker, growth_server = last[0] - first[0], last[1] - first[1]
    lower = {"higher_is_better": False}
    goal = f"<= {CIRCLE_GOAL_MB:g} MB" if judged else ""
    mode = circle.mode
    return [
        Row(f"worker RSS at rest, {mode}", rest[0], "MB", baseline[0][0], **lower),
        Row(f"worker RSS after {args.first:,} plays, {mode}", first[0], "MB", baseline[1][0],
            **lower),
        Row(f"worker RSS after {args.tasks:,} plays, {mode}", last[0], "MB", baseline[2][0],
            **lower),
        Row(f"WS server RSS at rest, {mode}", rest[1], "MB", baseline[0][1], **lower),
        Row(f"WS server RSS after {args.first:,} plays, {mode}", first[1], "MB", baseline[1][1],
            **lower),
        Row(f"WS server RSS after {args.tasks:,} plays, {mode}", last[1], "MB", baseline[2][1],
            **lower),
        Row(f"circle (worker + server) at rest, {mode}", total[0], "MB", base[0], goal,
            total[0] <= CIRCLE_GOAL_MB if judged else None, **lower),
        Row(f"circle (worker + server) after {args.tasks:,} plays, {mode}", total[2], "MB",
            base[2], goal, total[2] <= CIRCLE_GOAL_MB if judged else None, **lower),
        Row(f"circle private memory (USS) after {args.tasks:,} plays, {mode}", private, "MB",
            base_private, **lower),
        Row(f"worker growth {args.first:,} -> {args.tasks:,} plays, {mode}", growth_worker, "MB",
            goal=f"<= {GROWTH_LIMIT_MB:g} MB", met=growth_worker <= GROWTH_LIMIT_MB, **lower),
        Row(f"WS server growth {args.first:,} -> {args.tasks:,} plays, {mode}", growth_server,
            "MB", goal=f"<= {GROWTH_LIMIT_MB:g} MB", met=growth_server <= GROWTH_LIMIT_MB,
            **lower),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000, help="plays in total (default 10,000)")
    parser.add_argument("--first", type=int, default=1_000,
                        help="plays before the first reading (default 1,000)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, of {', '.join(MODES)} (default both)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.first = 100, 20
    try:
        modes = parse_modes(args.modes)
    except ValueError as exc:
        parser.error(f"--modes: {exc}")

    with workspace("memory") as (folder, children):
        redis_url = start_redis(folder, children)
        member_sk, member_pk = new_keypair()
        circles = []
        for mode in modes:  # one circle per mode, each on its own copy of the packages
            code = project_copy(folder, mode)
            _, circle_pk = new_keypair()
            worker = start_worker(folder, children, redis_url, circle_pk, code, f"worker-{mode}")
            server, url = start_wsserver(children, redis_url, circle_pk, [member_pk], code,
                                         f"wsserver-{mode}")
            circles.append(Circle(mode, worker, server, url))
        echo, echo_url = start_echo_server(children)
        idle = children.start("idle-redis-py", IDLE_REDIS_PROGRAM)
        bare = children.start("bare-python", BARE_PROGRAM)
        for name, proc in (("idle-redis-py", idle), ("bare-python", bare)):
            wait_until(lambda: "ready" in children.log_tail(name), 30, f"the {name} baseline",
                       lambda: children.check_alive(proc), interval=0.05)
        bare_mb = tree_total(bare.pid)
        settle()

        readings: dict[str, list[tuple[float, float]]] = {c.mode: [] for c in circles}
        baseline: list[tuple[float, float]] = []

        def read_all() -> None:
            for circle in circles:
                readings[circle.mode].append(circle.reading())
            baseline.append((tree_total(idle.pid), tree_total(echo.pid)))

        read_all()
        for plays in (args.first, args.tasks - args.first):
            for circle in circles:
                asyncio.run(drive(circle.url, member_sk, plays))
            asyncio.run(drive(echo_url, None, plays))
            settle()
            read_all()
        private = {circle.mode: circle.private() for circle in circles}
        base_private = tree_total(echo.pid, uss_mb) + tree_total(idle.pid, uss_mb)

    rows = []
    for circle in circles:
        rows += circle_rows(circle, readings[circle.mode], private[circle.mode], baseline,
                            base_private, args, judged=circle.mode == "bytecode")
    notes = [f"plays go through the WebSocket server ({CLIENTS} authenticated clients in the "
             "benchmark's process), so both programs work; RSS = VmRSS from /proc",
             PROGRAMS_NOTE,
             "one circle per mode, each started on its own copy of the project's packages:",
             *(f"{mode} = {MODES[mode]}" for mode in modes),
             f"the goal (circle <= {CIRCLE_GOAL_MB:g} MB) is for a regular install, so it is "
             "judged on the bytecode rows only; the source rows show what an editable checkout "
             "costs on a machine that sets PYTHONDONTWRITEBYTECODE=1 (the compiler's peak heap "
             "stays mapped)",
             "baseline: worker rows vs. an idle Python that imported redis; server rows vs. the "
             "bare Tornado echo server after the same number of messages; circle rows vs. both",
             "ratio = baseline / circle (below 1: the circle uses more memory)",
             f"growth within {GROWTH_LIMIT_MB:g} MB counts as none (allocator noise)",
             "USS = private pages only (smaps_rollup): what each further circle adds, since "
             "shared library pages are counted once across all circles",
             f"for scale: a bare idle `python -c` is {bare_mb:.1f} MB, the idle Python with redis "
             f"imported {baseline[0][0]:.1f} MB"]
    print_table("Memory (bench.memory)", rows, "Tornado echo server + idle Python with redis",
                notes)
    return 0


if __name__ == "__main__":
    run_main(main)
