"""The worker as operators run it: memory backstop, tasks that kill their worker, pools of
workers on one queue, and the worker log. Real worker processes and a real redis-server; every
wait is for an event (a script records that it started, a reply, an exit), never a duration."""
from __future__ import annotations

import logging
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import redis

import test_worker
from test_worker import (CALLER, GATED, PK, REPLY_WAIT, Spawn, has_started, open_gate, play, stop,
                         wait_ready, wait_until)
from worker import memory, protocol
from worker.config import WorkerConfig
from worker.runner import EXIT_RECYCLE, Worker
from worker.store import Store

UNLIMITED = ("--max-operations", "0", "--script-timeout", "0")
COUNTED = ('let n = db_get("runs", "{name}"); if n == () {{ n = 0; }} '
           'db_set("runs", "{name}", n + 1); ' + GATED)
"""GATED, counting its runs in the store (collection ``runs``)."""
MEMORY_BOMB = """
fn grow(s, n) { let t = s + n; if n > 0 { grow(s, n - 1) } else { t.len() } }
let s = "12345678";
for i in 0..20 { s += s; }
grow(s, 40)
"""
"""Holds 41 distinct strings of 8 MiB at once (each within the engine's string limit)."""

spawn = test_worker.spawn  # the fixture that starts `python -m worker` processes
config = test_worker.config  # the fixture with a threaded worker's settings


def runs(store: Store, name: str) -> int:
    return int(store.get("runs", name) or 0)


def processing_of(client: redis.Redis, proc: subprocess.Popen) -> list[str]:
    return client.lrange(protocol.worker_processing_key(PK, socket.gethostname(), proc.pid), 0, -1)


def test_memory_bomb_fails_alone_and_a_fresh_worker_answers_the_next_play(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, spawn: Spawn) -> None:
    log = tmp_path / "worker.log"
    proc = spawn(redis_url, tmp_path / "d", "--max-memory-mb", "160", log=log)
    wait_ready(redis_client, proc)
    bomb = protocol.await_result(
        redis_client, protocol.submit(redis_client, PK, MEMORY_BOMB, CALLER), REPLY_WAIT)
    assert bomb.status == "error", bomb
    assert "out of memory" in bomb.error and "160 MiB (max_memory_mb)" in bomb.error
    following = protocol.submit(redis_client, PK, '"after"', CALLER)
    assert proc.wait(REPLY_WAIT) == EXIT_RECYCLE  # what supervisord's autorestart restarts
    text = log.read_text()
    assert "WARNING worker.runner: worker Proc Circle exits to be restarted fresh" in text
    assert "Traceback" not in text
    fresh = spawn(redis_url, tmp_path / "d", "--max-memory-mb", "160")
    assert protocol.await_result(redis_client, following, REPLY_WAIT).output == "after"
    assert stop(fresh) == 0


def test_task_that_kills_its_worker_twice_is_answered_and_never_runs_again(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, spawn: Spawn) -> None:
    task_id = protocol.submit(redis_client, PK, COUNTED.format(name="poison"), CALLER)
    store = Store(tmp_path / "d")
    for run in (1, 2):  # each run is killed while the script runs (its gate never opens)
        proc = spawn(redis_url, tmp_path / "d", *UNLIMITED)
        wait_until(lambda: runs(store, "poison") == run, f"run {run} of the script to start")
        proc.kill()
        proc.wait(REPLY_WAIT)
        assert redis_client.hget(protocol.details_key(task_id), "attempts") == str(run)
    last = spawn(redis_url, tmp_path / "d", *UNLIMITED)
    result = protocol.await_result(redis_client, task_id, REPLY_WAIT)
    assert result.status == "error"
    assert result.error == ("the worker died while running this task (2 times); "
                            "it is not run again")
    assert play(redis_client, '"still serving"').output == "still serving"
    assert runs(store, "poison") == 2
    assert redis_client.hget(protocol.details_key(task_id), "attempts") == "2"
    assert stop(last) == 0
    store.close()


def test_max_attempts_1_never_reruns_a_task_whose_worker_died(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, spawn: Spawn) -> None:
    task_id = protocol.submit(redis_client, PK, COUNTED.format(name="once"), CALLER)
    store = Store(tmp_path / "d")
    proc = spawn(redis_url, tmp_path / "d", *UNLIMITED, "--max-attempts", "1")
    wait_until(lambda: runs(store, "once") == 1, "the script to start")
    proc.kill()
    proc.wait(REPLY_WAIT)
    again = spawn(redis_url, tmp_path / "d", *UNLIMITED, "--max-attempts", "1")
    result = protocol.await_result(redis_client, task_id, REPLY_WAIT)
    assert result.error == "the worker died while running this task (once); it is not run again"
    assert runs(store, "once") == 1
    assert stop(again) == 0
    store.close()


def test_pool_serves_small_plays_during_a_long_one_and_takes_over_a_dead_members_task(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, spawn: Spawn) -> None:
    pool = [spawn(redis_url, tmp_path / "d", *UNLIMITED) for _ in range(2)]
    for proc in pool:
        wait_ready(redis_client, proc)
    store = Store(tmp_path / "d")
    long = protocol.submit(redis_client, PK, COUNTED.format(name="long"), CALLER)
    wait_until(lambda: has_started(store, "long"), "the long script to start")
    # Its gate is shut, so the long script is still running when the small play is answered.
    assert play(redis_client, '"small"').output == "small"
    holder, other = pool if processing_of(redis_client, pool[0]) == [long] else pool[::-1]
    assert processing_of(redis_client, holder) == [long]
    # A worker that starts now must not take the task a live worker is running.
    late = spawn(redis_url, tmp_path / "d", *UNLIMITED)
    wait_ready(redis_client, late)
    assert processing_of(redis_client, holder) == [long] and runs(store, "long") == 1
    holder.kill()
    holder.wait(REPLY_WAIT)
    wait_until(lambda: runs(store, "long") == 2, "a live worker to run the dead one's task")
    open_gate(store, "long")
    assert protocol.await_result(redis_client, long, REPLY_WAIT).output == "long"
    assert runs(store, "long") == 2
    assert redis_client.hget(protocol.details_key(long), "attempts") == "2"
    assert stop(other) == 0 and stop(late) == 0
    assert redis_client.smembers(protocol.workers_key(PK)) == set()
    store.close()


def test_worker_log_has_a_line_per_task_and_the_scripts_debug_output(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, spawn: Spawn) -> None:
    log = tmp_path / "worker.log"
    proc = spawn(redis_url, tmp_path / "d", log=log)
    wait_ready(redis_client, proc)
    ok = play(redis_client, 'debug("hello"); debug("two\\nlines"); 1')
    failed = play(redis_client, 'print("x"); throw "boom\\nsecond line"')
    assert stop(proc) == 0
    lines = log.read_text().splitlines()

    def line_with(text: str) -> str:
        found = [line for line in lines if text in line]
        assert len(found) == 1, (text, lines)
        return found[0]

    assert " INFO " in line_with(f"task {ok.task_id} from {CALLER[:10]}… completed in ")
    failure = line_with(f"task {failed.task_id} from {CALLER[:10]}… error in ")
    assert "ms: " in failure and "boom" in failure and "second line" not in failure
    assert " INFO " in line_with(f'task {ok.task_id} debug: "hello"')
    assert "lines" in line_with(f'task {ok.task_id} debug: "two')
    assert not any(line.startswith("lines") for line in lines)  # a debug line stays one line


def test_worker_still_holding_over_half_its_limit_after_a_task_answers_and_leaves(
        config: WorkerConfig, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    """The worker runs in this test's process: a ballast makes that process's resident memory
    really exceed half of a 128 MiB limit, as a worker's would after a fragmenting script."""
    ballast = b"x" * (80 * memory.MIB)
    assert memory.over_recycle_threshold(memory.resident_bytes(), 128)
    worker = Worker(replace(config, max_memory_mb=128))
    first = protocol.submit(redis_client, PK, '"answered"', CALLER)
    second = protocol.submit(redis_client, PK, '"for the next worker"', CALLER)
    with caplog.at_level(logging.WARNING, logger="worker.runner"):
        worker.run()  # returns by itself after the first task
    assert protocol.await_result(redis_client, first, 1).output == "answered"
    assert "resident memory" in worker.recycle_reason and "128 MiB" in worker.recycle_reason
    assert "exits to be restarted fresh" in caplog.text
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [second]  # left for a fresh one
    assert redis_client.hget(protocol.details_key(second), "attempts") in (None, "0")
    del ballast
