"""WebSocket plays (issue #4, figure 2): authenticated clients running ``40 + 2`` in a loop.

The circle (real ``python -m wsserver`` + ``python -m worker``) and the baseline (a bare Tornado
echo server, bench/echo_server.py) run as subprocesses; the clients run in separate client
processes, each an asyncio loop holding its share of the connections, so client CPU is not
charged to the servers' process.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from typing import Any, Awaitable, Callable

from bench.common import (PROGRAMS_NOTE, CpuMeter, Measured, Row, cpu_seconds, first_failure, new_keypair,
                          print_table, run_main, split_evenly, start_echo_server, start_redis,
                          start_worker, start_wsserver, stop_load_processes, workspace)

SCRIPT = "40 + 2"
GOAL_SHARE_OF_ECHO = 0.5
"""Plays/s at 50 clients, as a share of the echo baseline's (issue #12)."""
GOAL_CPU_TIMES_ECHO = 2.0
"""Server CPU per play at 50 clients, at most this many times the echo server's per echo."""
WARMUP_PLAYS = 3
SETUP_TIMEOUT = 120.0

PlayFn = Callable[[], Awaitable[None]]
CloseFn = Callable[[], Awaitable[None]]


async def _circle_client(url: str, private_key: str) -> tuple[PlayFn, CloseFn]:
    """An authenticated ``CircleClient``: its play function and its closer."""
    from wsserver.client import CircleClient

    client = CircleClient(url)
    await client.connect()
    if not await client.authenticate(private_key):
        raise RuntimeError(f"login refused by {url}")

    async def play() -> None:
        output = await client.play(SCRIPT)
        if output.strip() != "42":
            raise RuntimeError(f"play returned {output!r}")

    return play, client.close


async def _echo_client(url: str, private_key: str) -> tuple[PlayFn, CloseFn]:
    """The same ``CircleClient`` sending the same play request to the echo server.

    The echoed request comes back with the request's id and no error, so the client takes it as
    the answer: both systems pay for exactly the same client code and request text.
    """
    from wsserver.client import CircleClient

    client = CircleClient(url)
    await client.connect()

    async def play() -> None:
        await client.call("play", {"script": SCRIPT})

    return play, client.close


async def _run_clients(system: str, url: str, private_key: str, clients: int, duration: float,
                       barrier: Any) -> tuple[float, float, int, list[float], float]:
    """Connect ``clients`` clients, wait for every client process, then play until the deadline."""
    make = _circle_client if system == "circle" else _echo_client
    conns = await asyncio.gather(*(make(url, private_key) for _ in range(clients)))
    for play, _ in conns:
        for _ in range(WARMUP_PLAYS):
            await play()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, barrier.wait)
    cpu0 = time.process_time()
    start = time.monotonic()
    deadline = start + duration
    latencies: list[float] = []

    async def loop_plays(play: PlayFn) -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            await play()
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(loop_plays(play) for play, _ in conns))
    end = time.monotonic()
    cpu = time.process_time() - cpu0
    for _, close in conns:
        await close()
    return start, end, len(latencies), latencies, cpu


def _client_process(system: str, url: str, private_key: str, clients: int, duration: float,
                    barrier: Any, out: Any) -> None:
    """One client process: an asyncio loop with its share of the connections."""
    try:
        out.put(asyncio.run(_run_clients(system, url, private_key, clients, duration, barrier)))
    except KeyboardInterrupt:  # Ctrl+C reached the whole group: the parent cleans up
        barrier.abort()
    except Exception as exc:  # reported to the parent, which fails the run
        barrier.abort()
        out.put(RuntimeError(f"{type(exc).__name__}: {exc}"))


def run_load(system: str, url: str, private_key: str, clients: int, duration: float,
             client_procs: int) -> Measured:
    """Spread ``clients`` connections over client processes and measure them together."""
    procs_n = max(1, min(client_procs, clients))
    shares = split_evenly(clients, procs_n)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(procs_n), ctx.Queue()
    procs = [ctx.Process(target=_client_process, daemon=True,
                         args=(system, url, private_key, n, duration, barrier, out))
             for n in shares]
    for proc in procs:
        proc.start()
    try:
        results = [out.get(timeout=SETUP_TIMEOUT + duration) for _ in procs]
    finally:
        stop_load_processes(procs)
    failure = first_failure(results)
    if failure is not None:
        raise RuntimeError(f"{system} client failed: {failure}")
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    return Measured(sum(r[2] for r in results), end - start,
                    [lat for r in results for lat in r[3]], sum(r[4] for r in results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ws", description=__doc__)
    parser.add_argument("--clients", default="1,10,50",
                        help="comma-separated client counts (default 1,10,50)")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds each configuration plays for (default 5)")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="client processes sharing the connections (default 1)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.clients = 0.5, "1,10"
    counts = [int(n) for n in args.clients.split(",")]

    rows: list[Row] = []
    cpu_notes: list[str] = []
    with workspace("ws") as (folder, children):
        redis_url = start_redis(folder, children)
        _, circle_pk = new_keypair()
        member_sk, member_pk = new_keypair()
        worker = start_worker(folder, children, redis_url, circle_pk)
        server, circle_url = start_wsserver(children, redis_url, circle_pk, [member_pk])
        echo, echo_url = start_echo_server(children)
        circle_cpu = CpuMeter({"server": server.pid, "worker": worker.pid,
                               "redis": children.by_name("redis").pid})
        echo_cpu = CpuMeter({"echo server": echo.pid})
        for n in counts:
            circle_cpu.start()
            server_cpu = cpu_seconds(server.pid)
            ours = run_load("circle", circle_url, member_sk, n, args.duration, args.client_procs)
            server_cpu = (cpu_seconds(server.pid) - server_cpu) / max(ours.count, 1) * 1e6
            cpu_notes.append(f"CPU per play, {n} client(s): {circle_cpu.per(ours.count)}, "
                             f"clients {ours.generator_cpu / ours.count * 1e6:.0f} us")
            echo_cpu.start()
            echo_server_cpu = cpu_seconds(echo.pid)
            base = run_load("echo", echo_url, member_sk, n, args.duration, args.client_procs)
            echo_server_cpu = (cpu_seconds(echo.pid) - echo_server_cpu) / max(base.count, 1) * 1e6
            cpu_notes[-1] += (f"; {echo_cpu.per(base.count)}, clients "
                              f"{base.generator_cpu / base.count * 1e6:.0f} us per echo")
            big = n >= 50
            rows.append(Row(f"plays/s, {n} client(s)", ours.rate, "plays/s", base.rate,
                            f">= {GOAL_SHARE_OF_ECHO:g}x echo" if big else "",
                            (ours.rate >= GOAL_SHARE_OF_ECHO * base.rate) if big else None))
            rows.append(Row(f"p50 latency, {n} client(s)", ours.p(50), "ms", base.p(50),
                            higher_is_better=False))
            rows.append(Row(f"p99 latency, {n} client(s)", ours.p(99), "ms", base.p(99),
                            "<= 25 ms" if big else "", (ours.p(99) <= 25) if big else None,
                            higher_is_better=False))
            rows.append(Row(f"server CPU per play, {n} client(s)", server_cpu, "us",
                            echo_server_cpu,
                            f"<= {GOAL_CPU_TIMES_ECHO:g}x echo" if big else "",
                            (server_cpu <= GOAL_CPU_TIMES_ECHO * echo_server_cpu) if big else None,
                            higher_is_better=False))
    notes = [f"each client: one authenticated WebSocket (secp256k1 signature login), "
             f"play(\"{SCRIPT}\") in a loop for {args.duration:g} s, one request in flight",
             "baseline: bare Tornado echo server (bench/echo_server.py), same client code "
             "(wsserver.client.CircleClient) sending the same JSON-RPC play request",
             f"clients run in {args.client_procs} separate process(es) (asyncio)", PROGRAMS_NOTE,
             "ratio = share of the echo baseline a real play keeps (throughput: circle / echo; "
             "latency: echo / circle)", *cpu_notes]
    print_table("WebSocket plays (bench.ws)", rows, "Tornado echo WebSocket server", notes)
    return 0


if __name__ == "__main__":
    run_main(main)
