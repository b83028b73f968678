"""Task round trip (issue #4, figure 1): trivial scripts through one real worker vs. RQ.

Submitters each send a share of the tasks one at a time and wait for each reply (submit ->
reply is the latency). Baseline: RQ with one SimpleWorker doing the same trivial job on the same
private Redis, driven by the same submitters.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
import time
from typing import Any, Callable

from bench.common import (Children, CpuMeter, Measured, Row, first_failure, new_keypair,
                          print_table, run_main, split_evenly, start_redis, start_worker,
                          stop_load_processes, workspace)

SCRIPT = "40 + 2"
REPLY_TIMEOUT = 30.0
WARMUP_TASKS = 5


def answer() -> int:
    """The RQ baseline's job: the same trivial work as the ``40 + 2`` script."""
    return 40 + 2


def _circle_caller(redis_url: str, circle_pk: str) -> Callable[[], None]:
    """One blocking round trip through the circle's queue; raises if the task did not complete."""
    import redis

    from worker import protocol

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    caller = f"bench-{id(client)}"

    def call() -> None:
        task_id = protocol.submit(client, circle_pk, SCRIPT, caller)
        result = protocol.await_result(client, task_id, REPLY_TIMEOUT)
        if not result.ok or str(result.output).strip() != "42":
            raise RuntimeError(f"task failed: {result}")

    return call


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
    return (_circle_caller if system == "circle" else _rq_caller)(redis_url, target)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per configuration")
    parser.add_argument("--rq-tasks", type=int, default=2_000,
                        help="jobs per configuration for the (slower) RQ baseline")
    parser.add_argument("--submitters", default="1,16",
                        help="comma-separated submitter counts (default 1,16)")
    parser.add_argument("--mode", choices=["threads", "processes"], default="threads",
                        help="submitters as threads of one process (default) or as processes")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.rq_tasks = 200, 50
    counts = [int(n) for n in args.submitters.split(",")]

    rows: list[Row] = []
    notes = [f"{args.tasks:,} `{SCRIPT}` tasks per configuration to one `python -m worker`; "
             f"RQ baseline: {args.rq_tasks:,} jobs per configuration (RQ is far slower) to one "
             "SimpleWorker returning 40 + 2, same Redis (unix socket), same submitters",
             f"submitters are {args.mode}, each sending one task and waiting for its reply; "
             "threads by default: on 2 cores, 16 submitter processes take CPU from the worker "
             "(threads cap the load generator at one core); see docs/BENCHMARKS.md",
             "ratio = how many times better than RQ (throughput: circle / RQ; "
             "latency: RQ / circle)"]
    with workspace("tasks") as (folder, children):
        redis_url = start_redis(folder, children)
        _, circle_pk = new_keypair()
        worker = start_worker(folder, children, redis_url, circle_pk)
        rq_queue = start_rq_worker(children, redis_url)
        redis_pid = children.by_name("redis").pid
        ours_cpu = CpuMeter({"worker": worker.pid, "redis": redis_pid})
        rq_cpu = CpuMeter({"RQ worker": children.by_name("rq-worker").pid, "redis": redis_pid})
        for n in counts:
            ours_cpu.start()
            ours = run_submitters("circle", redis_url, circle_pk, n, args.tasks, args.mode)
            notes.append(f"CPU per task, {n} submitter(s): {ours_cpu.per(ours.count)}")
            rq_cpu.start()
            base = run_submitters("rq", redis_url, rq_queue, n, args.rq_tasks, args.mode)
            notes[-1] += f"; RQ: {rq_cpu.per(base.count)}"
            rows.append(Row(f"tasks/s, {n} submitter(s)", ours.rate, "tasks/s", base.rate,
                            ">= 3,000/s", ours.rate >= 3000))
            speedup = ours.rate / base.rate
            rows.append(Row(f"speed-up over RQ, {n} submitter(s)", speedup, "x", goal=">= 20x",
                            met=speedup >= 20))
            rows.append(Row(f"p50 latency, {n} submitter(s)", ours.p(50), "ms", base.p(50),
                            "<= 1 ms" if n == 1 else "", (ours.p(50) <= 1.0) if n == 1 else None,
                            higher_is_better=False))
            rows.append(Row(f"p99 latency, {n} submitter(s)", ours.p(99), "ms", base.p(99),
                            higher_is_better=False))
    print_table("Task round trip (bench.tasks)", rows, "RQ 1 SimpleWorker", notes)
    return 0


if __name__ == "__main__":
    run_main(main)
