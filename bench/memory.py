"""Memory (issue #4, figure 4): RSS of one circle's worker + WebSocket server under use.

Tasks are driven as authenticated WebSocket plays, so both programs do the work: RSS (VmRSS from
/proc, the program plus any process it forks) is read at rest, after the first ``--first`` plays
and after ``--tasks`` plays. Baseline: the bare Tornado echo server given the same number of
messages, plus an idle interpreter that has imported redis (what any Redis-backed worker costs).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bench.common import (Row, new_keypair, print_table, round_trip, run_main, split_evenly,
                          start_echo_server, start_redis, start_worker, start_wsserver, tree_total,
                          uss_mb, wait_until, workspace)

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000, help="plays in total (default 10,000)")
    parser.add_argument("--first", type=int, default=1_000,
                        help="plays before the first reading (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.first = 100, 20

    with workspace("memory") as (folder, children):
        redis_url = start_redis(folder, children)
        _, circle_pk = new_keypair()
        member_sk, member_pk = new_keypair()
        worker = start_worker(folder, children, redis_url, circle_pk)
        server, circle_url = start_wsserver(children, redis_url, circle_pk, [member_pk])
        echo, echo_url = start_echo_server(children)
        idle = children.start("idle-redis-py", IDLE_REDIS_PROGRAM)
        bare = children.start("bare-python", BARE_PROGRAM)
        for name, proc in (("idle-redis-py", idle), ("bare-python", bare)):
            wait_until(lambda: "ready" in children.log_tail(name), 30, f"the {name} baseline",
                       lambda: children.check_alive(proc), interval=0.05)
        bare_mb = tree_total(bare.pid)
        round_trip(redis_url, circle_pk)
        settle()

        def reading() -> tuple[float, float, float, float]:
            return (tree_total(worker.pid), tree_total(server.pid), tree_total(echo.pid),
                    tree_total(idle.pid))

        rest = reading()
        asyncio.run(drive(circle_url, member_sk, args.first))
        asyncio.run(drive(echo_url, None, args.first))
        settle()
        first = reading()
        asyncio.run(drive(circle_url, member_sk, args.tasks - args.first))
        asyncio.run(drive(echo_url, None, args.tasks - args.first))
        settle()
        last = reading()
        private = tree_total(worker.pid, uss_mb) + tree_total(server.pid, uss_mb)
        base_private = tree_total(echo.pid, uss_mb) + tree_total(idle.pid, uss_mb)

    total = [r[0] + r[1] for r in (rest, first, last)]
    base = [r[2] + r[3] for r in (rest, first, last)]
    growth_worker, growth_server = last[0] - first[0], last[1] - first[1]
    lower = {"higher_is_better": False}
    rows = [
        Row("worker RSS at rest", rest[0], "MB", rest[3], **lower),
        Row(f"worker RSS after {args.first:,} plays", first[0], "MB", first[3], **lower),
        Row(f"worker RSS after {args.tasks:,} plays", last[0], "MB", last[3], **lower),
        Row("WS server RSS at rest", rest[1], "MB", rest[2], **lower),
        Row(f"WS server RSS after {args.first:,} plays", first[1], "MB", first[2], **lower),
        Row(f"WS server RSS after {args.tasks:,} plays", last[1], "MB", last[2], **lower),
        Row("circle (worker + server) at rest", total[0], "MB", base[0],
            f"<= {CIRCLE_GOAL_MB:g} MB", total[0] <= CIRCLE_GOAL_MB, **lower),
        Row(f"circle (worker + server) after {args.tasks:,} plays", total[2], "MB", base[2],
            f"<= {CIRCLE_GOAL_MB:g} MB", total[2] <= CIRCLE_GOAL_MB, **lower),
        Row(f"circle private memory (USS) after {args.tasks:,} plays", private, "MB",
            base_private, **lower),
        Row(f"worker growth {args.first:,} -> {args.tasks:,} plays", growth_worker, "MB",
            goal=f"<= {GROWTH_LIMIT_MB:g} MB", met=growth_worker <= GROWTH_LIMIT_MB, **lower),
        Row(f"WS server growth {args.first:,} -> {args.tasks:,} plays", growth_server, "MB",
            goal=f"<= {GROWTH_LIMIT_MB:g} MB", met=growth_server <= GROWTH_LIMIT_MB, **lower),
    ]
    notes = [f"plays go through the WebSocket server ({CLIENTS} authenticated clients in the "
             "benchmark's process), so both programs work; RSS = VmRSS from /proc",
             "baseline: worker rows vs. an idle Python that imported redis; server rows vs. the "
             "bare Tornado echo server after the same number of messages; circle rows vs. both",
             "ratio = baseline / circle (below 1: the circle uses more memory)",
             f"growth within {GROWTH_LIMIT_MB:g} MB counts as none (allocator noise)",
             "USS = private pages only (smaps_rollup): what each further circle adds, since "
             "shared library pages are counted once across all circles",
             f"for scale: a bare idle `python -c` is {bare_mb:.1f} MB, the idle Python with redis "
             f"imported {rest[3]:.1f} MB"]
    print_table("Memory (bench.memory)", rows, "Tornado echo server + idle Python with redis",
                notes)
    return 0


if __name__ == "__main__":
    run_main(main)
