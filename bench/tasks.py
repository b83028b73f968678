"""Task round trip: small scripts through one real worker, against the protocol's physical limit.

Submitters each send a share of the tasks one at a time and wait for each reply (submit ->
reply is the latency), in four workloads: one repeated script text, a distinct text per task
(the same shape with a new number: what clients generating scripts from a template send), a
new shape per task (every step of compiling paid), and repeated and distinct mixed. Baselines
on the same private Redis, driven by the same submitters: a bare relay that answers without an
engine (``bench.relay``, the physical limit) and RQ with one SimpleWorker.
"""
from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import sys
import threading
import time
from typing import Any, Callable, Iterator

from bench.common import (PROGRAMS_NOTE, Children, CpuMeter, Measured, Row, first_failure, new_keypair,
                          print_table, run_main, split_evenly, start_redis, start_worker,
                          stop_load_processes, workspace)

SCRIPT_TEMPLATE = """let seed = {seed};
let total = 0;
for i in 0..10 {{ total += i * seed % 7; }}
`task ${{seed}}: ${{total}}`"""
"""A small script of the kind circles run; its text differs only by ``seed``."""
NOVEL_TEMPLATE = """let seed = {seed};
let total_{seed} = 0;
for i in 0..10 {{ total_{seed} += i * seed % 7; }}
`task ${{seed}}: ${{total_{seed}}}`"""
"""The same script with ``seed`` in a variable's name too: a new shape for every seed, so no
compiled code can be shared between two tasks (see worker/engine/shapes.py)."""
REPEATED_SEED = 7
WORKLOADS = ("repeated", "distinct", "novel", "mix")
"""repeated: one script text over and over (compiled once, then cached); distinct: every task a
new text of one shape (from the third on, lexed and filled into the shape's code, see
worker/engine/shapes.py); novel: every task a new shape (each compiled from scratch); mix:
repeated and distinct alternating."""
REPLY_TIMEOUT = 30.0
WARMUP_TASKS = 5
RELAY_OUTPUT = "relayed"


def expected_output(seed: int) -> str:
    """What the worker answers for ``SCRIPT_TEMPLATE`` with ``seed``."""
    return f"task {seed}: {sum(i * seed % 7 for i in range(10))}"


def answer() -> int:
    """The RQ baseline's job: trivial work, as the relay's."""
    return 40 + 2


def seeds(workload: str) -> Iterator[int]:
    """The seeds one submitter uses for ``workload``: fresh ones are random 12-digit numbers, so
    no two tasks of a run (or of two runs against one worker) share a text in practice."""
    fresh = random.SystemRandom()
    for count in itertools.count():
        if workload == "repeated" or (workload == "mix" and count % 2 == 0):
            yield REPEATED_SEED
        else:
            yield fresh.randrange(10**11, 10**12)


def _queue_caller(redis_url: str, queue_pk: str,
                  next_task: Callable[[], tuple[str, str]]) -> Callable[[], None]:
    """One blocking round trip through a circle's task queue (served by a worker or the relay):
    submit ``next_task()``'s script, wait, and raise unless the reply is its expected output."""
    import redis

    from worker import protocol

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    caller = f"bench-{id(client)}"

    def call() -> None:
        script, expected = next_task()
        task_id = protocol.submit(client, queue_pk, script, caller)
        result = protocol.await_result(client, task_id, REPLY_TIMEOUT)
        if not result.ok or result.output != expected:
            raise RuntimeError(f"task failed: {result}")

    return call


def _circle_caller(redis_url: str, circle_pk: str, workload: str) -> Callable[[], None]:
    """A round trip through the circle's worker, with ``workload``'s next script."""
    next_seed = seeds(workload).__next__
    template = NOVEL_TEMPLATE if workload == "novel" else SCRIPT_TEMPLATE

    def next_task() -> tuple[str, str]:
        seed = next_seed()
        return template.format(seed=seed), expected_output(seed)

    return _queue_caller(redis_url, circle_pk, next_task)


def _relay_caller(redis_url: str, relay_pk: str) -> Callable[[], None]:
    """A round trip through the bare relay (bench.relay): the protocol, no engine."""
    task = (SCRIPT_TEMPLATE.format(seed=1), RELAY_OUTPUT)
    return _queue_caller(redis_url, relay_pk, lambda: task)


def _rq_caller(redis_url: str, queue_name: str) -> Callable[[], None]:
    """One blocking round trip through RQ: enqueue, then wait for the job's result."""
    import redis
    from rq import Queue

    queue = Queue(queue_name, connection=redis.Redis.from_url(redis_url))

    def call() -> None:
        job = queue.enqueue("bench.tasks.answer")
        result = job.latest_result(timeout=int(REPLY_TIMEOUT))
        if result is None or result.return_value != 42:
            raise RuntimeError(f"RQ job failed: {result and result.exc_string}")

    return call


def _make_caller(system: str, redis_url: str, target: str) -> Callable[[], None]:
    """``system`` is ``rq``, ``relay`` or ``circle:<workload>``."""
    if system == "rq":
        return _rq_caller(redis_url, target)
    if system == "relay":
        return _relay_caller(redis_url, target)
    return _circle_caller(redis_url, target, system.split(":", 1)[1])


def _submit_loop(call: Callable[[], None], count: int) -> tuple[float, float, list[float]]:
    """Run ``count`` round trips; return (start, end, latencies in ms)."""
    latencies = []
    start = time.monotonic()
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - t0) * 1000)
    return start, time.monotonic(), latencies


def _process_submitter(system: str, redis_url: str, target: str, count: int,
                       ready: Any, out: Any) -> None:
    """A submitter process: warm up, wait for the others, run, send the results back."""
    try:
        call = _make_caller(system, redis_url, target)
        for _ in range(WARMUP_TASKS):
            call()
        ready.wait()
        out.put(_submit_loop(call, count))
    except KeyboardInterrupt:  # Ctrl+C reached the whole group: the parent cleans up
        ready.abort()
    except Exception as exc:  # reported to the parent, which fails the run
        ready.abort()
        out.put(RuntimeError(f"{type(exc).__name__}: {exc}"))


def run_submitters(system: str, redis_url: str, target: str, submitters: int, tasks: int,
                   mode: str) -> Measured:
    """Spread ``tasks`` over ``submitters`` threads or processes; time them all together."""
    counts = split_evenly(tasks, submitters)
    if mode == "processes":
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(submitters), ctx.Queue()
        procs = [ctx.Process(target=_process_submitter, daemon=True,
                             args=(system, redis_url, target, n, barrier, out)) for n in counts]
        for proc in procs:
            proc.start()
        try:
            results = [out.get(timeout=REPLY_TIMEOUT + 120) for _ in procs]
        finally:
            stop_load_processes(procs)
    else:
        barrier = threading.Barrier(submitters)
        results = []

        def thread_main(count: int) -> None:
            try:
                call = _make_caller(system, redis_url, target)
                for _ in range(WARMUP_TASKS):
                    call()
                barrier.wait()
                results.append(_submit_loop(call, count))
            except Exception as exc:  # reported below, failing the run
                barrier.abort()
                results.append(RuntimeError(f"{type(exc).__name__}: {exc}"))

        threads = [threading.Thread(target=thread_main, args=(n,), daemon=True) for n in counts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    failure = first_failure(results)
    if failure is not None:
        raise RuntimeError(f"{system} submitter failed: {failure}")
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    return Measured(tasks, end - start, [lat for r in results for lat in r[2]])


def start_rq_worker(children: Children, redis_url: str) -> str:
    """Start one RQ SimpleWorker (jobs run in the worker process, no fork); return its queue."""
    queue = "bench-rq"
    children.start("rq-worker", [sys.executable, "-m", "rq.cli", "worker", "--quiet",
                                 "--worker-class", "rq.worker.SimpleWorker", "--url", redis_url,
                                 queue])
    _rq_caller(redis_url, queue)()
    return queue


def start_relay(children: Children, redis_url: str) -> str:
    """Start the bare relay (bench.relay) on a queue of its own; return that queue's key."""
    _, relay_pk = new_keypair()
    children.start("relay", [sys.executable, "-m", "bench.relay", redis_url, relay_pk,
                             RELAY_OUTPUT])
    _relay_caller(redis_url, relay_pk)()
    return relay_pk


def workload_rows(workload: str, n: int, ours: Measured, relay: Measured,
                  rq: Measured) -> list[Row]:
    """The figures of one workload with ``n`` submitters: against the relay, and against RQ."""
    share = ours.rate / relay.rate
    label = f"{workload}, {n} submitter(s)"
    return [
        Row(f"tasks/s, {label}", ours.rate, "tasks/s", relay.rate,
            ">= 0.7 of relay" if workload != "repeated" else "", share >= 0.7
            if workload != "repeated" else None),
        Row(f"speed-up over RQ, {label}", ours.rate / rq.rate, "x"),
        Row(f"p50 latency, {label}", ours.p(50), "ms", relay.p(50), higher_is_better=False),
        Row(f"p99 latency, {label}", ours.p(99), "ms", relay.p(99), higher_is_better=False),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description=__doc__)
    parser.add_argument("--tasks", type=int, default=5_000, help="tasks per configuration")
    parser.add_argument("--rq-tasks", type=int, default=1_000,
                        help="jobs per configuration for the (slower) RQ baseline")
    parser.add_argument("--submitters", default="1,16",
                        help="comma-separated submitter counts (default 1,16)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated, of {', '.join(WORKLOADS)} (default all)")
    parser.add_argument("--mode", choices=["threads", "processes"], default="threads",
                        help="submitters as threads of one process (default) or as processes")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.rq_tasks = 200, 50
    counts = [int(n) for n in args.submitters.split(",")]
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")

    rows: list[Row] = []
    notes = [f"{args.tasks:,} tasks per configuration to one `python -m worker`; the script is "
             "a 4-line loop whose text differs only by a number: *repeated* sends one text "
             "(compiled once, then cached), *distinct* a new text per task (each compiled; "
             "being of one shape, they share CPython's code), *novel* a new shape per task "
             "(the number is also in a variable's name: every step of compiling paid), *mix* "
             "alternates repeated and distinct",
             "baseline: the bare relay (`bench.relay`: BLMOVE, read the hash, reply, release; no "
             "engine), the physical limit of the protocol on this Redis; also RQ with one "
             f"SimpleWorker returning 40 + 2 ({args.rq_tasks:,} jobs: RQ is far slower)",
             f"submitters are {args.mode}, each sending one task and waiting for its reply; "
             "threads by default: on 2 cores, 16 submitter processes take CPU from the worker",
             "ratio = how many times better than the relay (throughput: circle / relay; "
             "latency: relay / circle), so 1.0 is the physical limit", PROGRAMS_NOTE]
    with workspace("tasks") as (folder, children):
        redis_url = start_redis(folder, children)
        _, circle_pk = new_keypair()
        worker = start_worker(folder, children, redis_url, circle_pk)
        relay_pk = start_relay(children, redis_url)
        rq_queue = start_rq_worker(children, redis_url)
        redis_pid = children.by_name("redis").pid
        ours_cpu = CpuMeter({"worker": worker.pid, "redis": redis_pid})
        for n in counts:
            relay = run_submitters("relay", redis_url, relay_pk, n, args.tasks, args.mode)
            rq = run_submitters("rq", redis_url, rq_queue, n, args.rq_tasks, args.mode)
            for workload in workloads:
                ours_cpu.start()
                ours = run_submitters(f"circle:{workload}", redis_url, circle_pk, n, args.tasks,
                                      args.mode)
                notes.append(f"CPU per task, {workload}, {n} submitter(s): "
                             f"{ours_cpu.per(ours.count)}")
                rows += workload_rows(workload, n, ours, relay, rq)
            notes.append(f"relay, {n} submitter(s): {relay.rate:,.0f} tasks/s; RQ: "
                         f"{rq.rate:,.0f} jobs/s")
    print_table("Task round trip (bench.tasks)", rows, "bare relay (bench.relay)", notes)
    return 0


if __name__ == "__main__":
    run_main(main)
