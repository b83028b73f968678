"""The circle worker, end to end over a real redis-server: in a thread, and as `python -m worker`."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

from conftest import redis_server_binary
from worker import protocol
from worker.config import WorkerConfig, parse_args
from worker.runner import Worker
from worker.store import Store

PK = "02" + "1f" * 32
CALLER = "03" + "c4" * 32
REPLY_WAIT = 60.0
"""Upper bound for a reply to arrive (a liveness guard, not a speed assertion)."""
OWN_PROCESSING = protocol.worker_processing_key(PK, socket.gethostname(), os.getpid())
"""The processing list of a worker thread in this test process."""
GATED = ('db_set("started", "{name}", true); while db_get("gate", "{name}") == () {{ }} '
         '"{name}"')
"""A script that records that it started, then runs until the test opens its gate: tests wait
for these events instead of guessing how long anything takes."""


def has_started(store: Store, name: str) -> bool:
    return store.get("started", name) is not None


def open_gate(store: Store, name: str) -> None:
    store.put("gate", name, "true")


def wait_until(condition: Callable[[], object], what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` if it never becomes true."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def play(client: redis.Redis, script: str, caller: str = CALLER) -> protocol.TaskResult:
    task_id = protocol.submit(client, PK, script, caller)
    return protocol.await_result(client, task_id, REPLY_WAIT)


class ThreadedWorker:
    """A Worker serving in a background thread, started and stopped by a test."""

    def __init__(self, config: WorkerConfig) -> None:
        self.worker = Worker(config)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(REPLY_WAIT)
        assert not self.thread.is_alive()


@pytest.fixture
def config(redis_url: str, tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(name="Test Circle", public_key=PK, data_dir=tmp_path / "data",
                        redis_url=redis_url, result_ttl=1234)


@pytest.fixture
def start_worker(redis_client: redis.Redis) -> Iterator[Callable[[WorkerConfig], ThreadedWorker]]:
    started: list[ThreadedWorker] = []

    def start(config: WorkerConfig) -> ThreadedWorker:
        started.append(ThreadedWorker(config))
        return started[-1]

    yield start
    for worker in started:
        if worker.thread.is_alive():
            worker.stop()


@pytest.fixture
def worker(config: WorkerConfig, start_worker: Callable[[WorkerConfig], ThreadedWorker]
           ) -> ThreadedWorker:
    return start_worker(config)


# --- tasks through a worker thread ---------------------------------------------------------

def test_round_trip(worker: ThreadedWorker, redis_client: redis.Redis) -> None:
    result = play(redis_client, "40 + 2")
    assert result.status == "completed" and result.output == "42" and result.error is None
    details = redis_client.hgetall(protocol.details_key(result.task_id))
    assert details["status"] == "completed" and details["output"] == "42"
    assert int(details["updated_at"]) >= int(details["created_at"])
    assert details["attempts"] == "1"
    assert redis_client.llen(OWN_PROCESSING) == 0


@pytest.mark.parametrize("script, output", [
    ('print("a"); print("b"); 40 + 2', "a\nb\n42"),
    ('print("only printed");', "only printed"),
    ("let x = 1;", ""),
    ('"text"', "text"),
    ("[1, 2]", "[1, 2]"),
    ('print(`x = ${1 + 1}`); ()', "x = 2"),
])
def test_output_is_printed_lines_then_value(worker: ThreadedWorker, redis_client: redis.Redis,
                                            script: str, output: str) -> None:
    result = play(redis_client, script)
    assert result.status == "completed", result.error
    assert result.output == output


def test_script_errors_become_task_errors(worker: ThreadedWorker,
                                          redis_client: redis.Redis) -> None:
    syntax = play(redis_client, "let x = ;")
    assert syntax.status == "error" and "(line 1, position" in syntax.error
    assert syntax.output is None
    assert not redis_client.hexists(protocol.details_key(syntax.task_id), "output")
    thrown = play(redis_client, 'print("before"); print("and this"); throw "boom";')
    assert thrown.status == "error" and "boom" in thrown.error
    assert thrown.output == "before\nand this"  # what it printed before failing
    details = redis_client.hgetall(protocol.details_key(thrown.task_id))
    assert details["error"] == thrown.error and details["output"] == thrown.output
    assert play(redis_client, "1 + 1").output == "2"  # still serving


def test_runaway_script_is_stopped_and_worker_keeps_serving(
        config: WorkerConfig, start_worker: Callable[[WorkerConfig], ThreadedWorker],
        redis_client: redis.Redis) -> None:
    start_worker(replace(config, max_operations=1000))
    result = play(redis_client, "loop { }")
    assert result.status == "error" and "(line" in result.error
    assert play(redis_client, '"fine"').output == "fine"


def test_scripts_see_circle_and_caller(worker: ThreadedWorker, redis_client: redis.Redis) -> None:
    script = ("print(CIRCLE_NAME); print(CIRCLE_PUBLIC_KEY); print(CALLER_PUBLIC_KEY); "
              "print(CONTEXT_ID); CALLER_ID")
    assert play(redis_client, script).output == "\n".join(
        ["Test Circle", PK, CALLER, PK, CALLER])
    other = "02" + "99" * 32
    assert play(redis_client, "CALLER_PUBLIC_KEY", caller=other).output == other


def test_printed_output_is_capped(config: WorkerConfig,
                                  start_worker: Callable[[WorkerConfig], ThreadedWorker],
                                  redis_client: redis.Redis) -> None:
    start_worker(replace(config, max_output_bytes=100))
    result = play(redis_client, 'for i in 0..1000 { print("0123456789") } "done"')
    kept, mark = result.output.rsplit("\n", 1)
    assert mark == "[output truncated: over 100 bytes]"
    assert "\n".join(["0123456789"] * 1000).startswith(kept) and len(kept) > 30
    assert len(json.dumps(result.output)) - 2 <= 100


def test_db_functions_persist_across_restarts(config: WorkerConfig, redis_client: redis.Redis,
                                              start_worker: Callable[[WorkerConfig],
                                                                     ThreadedWorker]) -> None:
    first = start_worker(config)
    stored = play(redis_client, 'db_set("users", "bob", #{age: 42, tags: ["a"]}); '
                                'db_set("users", "al", 1.5); db_list("users")')
    assert stored.output == '["al", "bob"]', stored.error
    first.stop()
    start_worker(config)
    assert play(redis_client, 'db_get("users", "bob").age').output == "42"
    assert play(redis_client, 'db_get("users", "bob").tags').output == '["a"]'
    assert play(redis_client, 'db_get("users", "nobody") == ()').output == "true"
    assert play(redis_client, 'db_delete("users", "al")').output == "true"
    assert play(redis_client, 'db_delete("users", "al")').output == "false"
    assert play(redis_client, 'db_list("users")').output == '["bob"]'


def test_scripts_import_modules_from_the_circles_folder(config: WorkerConfig, tmp_path: Path,
                                                       start_worker: Callable[[WorkerConfig],
                                                                              ThreadedWorker],
                                                       redis_client: redis.Redis) -> None:
    modules = tmp_path / "modules"
    (modules / "util").mkdir(parents=True)
    (modules / "util" / "greet.rhai").write_text(
        'export const GREETING = "hello"; fn greet(who) { `${global::GREETING}, ${who}` }')
    (tmp_path / "secret.rhai").write_text('export let s = "leaked";')
    start_worker(replace(config, modules_dir=modules))
    result = play(redis_client, 'import "util/greet" as g; print(g::greet("circle")); g::GREETING')
    assert result.status == "completed" and result.output == "hello, circle\nhello"
    refused = play(redis_client, 'import "../secret" as s; s::s')
    assert refused.status == "error" and "Module not found: ../secret" in refused.error
    assert "leaked" not in refused.error


def test_without_a_modules_folder_imports_are_not_found(worker: ThreadedWorker,
                                                        redis_client: redis.Redis) -> None:
    result = play(redis_client, 'import "util/greet" as g;')
    assert result.status == "error" and "Module not found: util/greet" in result.error


@pytest.mark.parametrize("script, message", [
    ('db_set("c", "k", blob(3))', "db_set: cannot store a value of type blob"),
    ('db_set("c", "k", [Fn("f")])', "db_set: cannot store a value of type Fn"),
    ('db_set("c", "k")', "db_set(collection, id, value) takes 3 arguments, not 2"),
    ('db_set("", "k", 1)', "db_set: collection must not be empty"),
    ('db_get("c", 5)', "db_get: id must be a string"),
    (r'db_list("a\nb")', "db_list: collection contains control characters"),
])
def test_db_misuse_is_a_clear_script_error(worker: ThreadedWorker, redis_client: redis.Redis,
                                           script: str, message: str) -> None:
    result = play(redis_client, script)
    assert result.status == "error" and message in result.error


def test_results_expire(worker: ThreadedWorker, redis_client: redis.Redis) -> None:
    result = play(redis_client, "7")
    assert 0 < redis_client.ttl(protocol.details_key(result.task_id)) <= 1234
    failed_id = protocol.submit(redis_client, PK, "throw 1", CALLER)
    wait_until(lambda: redis_client.exists(protocol.reply_key(failed_id)), "the error reply")
    assert 0 < redis_client.ttl(protocol.reply_key(failed_id)) <= 1234
    assert 0 < redis_client.ttl(protocol.details_key(failed_id)) <= 1234


def test_task_without_details_is_answered_with_an_error(worker: ThreadedWorker,
                                                        redis_client: redis.Redis) -> None:
    redis_client.lpush(protocol.queue_key(PK), "ghost")
    result = protocol.await_result(redis_client, "ghost", REPLY_WAIT)
    assert result.status == "error" and result.error == "task details not found"
    assert not redis_client.exists(protocol.details_key("ghost"))
    assert redis_client.llen(OWN_PROCESSING) == 0


def test_invalid_utf8_in_a_task_is_replaced_not_fatal(worker: ThreadedWorker,
                                                      redis_client: redis.Redis,
                                                      redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    task_id, fields = protocol.new_task("", CALLER)
    raw.hset(protocol.details_key(task_id), mapping={**fields, "script": b'"caf\xe9"'})
    raw.lpush(protocol.queue_key(PK), task_id)
    raw.close()
    assert protocol.await_result(redis_client, task_id, REPLY_WAIT).output == "caf\ufffd"
    assert play(redis_client, "1").output == "1"


def test_worker_survives_a_clobbered_queue_key(worker: ThreadedWorker, redis_client: redis.Redis,
                                               caplog: pytest.LogCaptureFixture) -> None:
    redis_client.set(protocol.queue_key(PK), "not a list")
    wait_until(lambda: "Redis refused the worker's command" in caplog.text, "the error log")
    redis_client.delete(protocol.queue_key(PK))
    assert play(redis_client, '"still here"').output == "still here"
    assert worker.thread.is_alive()


def test_tasks_run_oldest_first(worker: ThreadedWorker, redis_client: redis.Redis) -> None:
    ids = [protocol.submit(redis_client, PK, f'db_set("log", "{n:03}", {n}); {n}', CALLER)
           for n in range(30)]
    results = [protocol.await_result(redis_client, task_id, REPLY_WAIT) for task_id in ids]
    assert [r.output for r in results] == [str(n) for n in range(30)]
    assert redis_client.llen(OWN_PROCESSING) == 0


def status_of(client: redis.Redis, task_id: str) -> str | None:
    return client.hget(protocol.details_key(task_id), "status")


def test_quick_reply_is_not_held_back_by_a_slow_task_claimed_with_it(
        config: WorkerConfig, start_worker: Callable[[WorkerConfig], ThreadedWorker],
        redis_client: redis.Redis) -> None:
    start_worker(replace(config, max_operations=0, script_timeout=0))
    store = Store(config.data_dir)
    assert play(redis_client, "1 + 1").output == "2"  # the worker may now know it is quick
    busy = protocol.submit(redis_client, PK, GATED.format(name="busy"), CALLER)
    wait_until(lambda: has_started(store, "busy"), "the busy task to start")
    quick = protocol.submit(redis_client, PK, "1 + 1", CALLER)
    slow = protocol.submit(redis_client, PK, GATED.format(name="slow"), CALLER)
    open_gate(store, "busy")
    # The slow task cannot end before its gate opens: the quick reply must not wait for it.
    assert protocol.await_result(redis_client, quick, REPLY_WAIT).output == "2"
    assert protocol.await_result(redis_client, busy, REPLY_WAIT).output == "busy"
    wait_until(lambda: has_started(store, "slow"), "the slow task to start")
    open_gate(store, "slow")
    assert protocol.await_result(redis_client, slow, REPLY_WAIT).output == "slow"
    store.close()


def test_tasks_claimed_with_quick_ones_wait_in_the_queue_while_a_slow_one_runs(
        config: WorkerConfig, start_worker: Callable[[WorkerConfig], ThreadedWorker],
        redis_client: redis.Redis) -> None:
    worker = start_worker(replace(config, max_operations=0, script_timeout=0))
    store = Store(config.data_dir)
    assert play(redis_client, "1 + 1").output == "2"  # may be known quick: claims in batches
    busy = protocol.submit(redis_client, PK, GATED.format(name="busy"), CALLER)
    wait_until(lambda: has_started(store, "busy"), "the busy task to start")
    quick = protocol.submit(redis_client, PK, "1 + 1", CALLER)
    slow = protocol.submit(redis_client, PK, GATED.format(name="slow"), CALLER)
    waiting = [protocol.submit(redis_client, PK, f"{n} + 1", CALLER) for n in range(2)]
    open_gate(store, "busy")
    assert protocol.await_result(redis_client, quick, REPLY_WAIT).output == "2"
    assert protocol.await_result(redis_client, busy, REPLY_WAIT).output == "busy"
    wait_until(lambda: has_started(store, "slow"), "the slow task to start")
    # While it runs, it is the only task in hand; the ones behind it are back in the queue,
    # where a caller can withdraw them, and their claim was not counted as a start.
    assert redis_client.lrange(OWN_PROCESSING, 0, -1) == [slow]
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == waiting[::-1]  # oldest next
    assert all(redis_client.hget(protocol.details_key(t), "attempts") in (None, "0")
               for t in waiting)
    assert status_of(redis_client, slow) == "processing"
    worker.worker.stop()  # arrives while the slow task runs: it finishes, the others stay queued
    open_gate(store, "slow")
    worker.stop()
    assert protocol.await_result(redis_client, slow, REPLY_WAIT).output == "slow"
    assert redis_client.llen(protocol.queue_key(PK)) == 2
    assert redis_client.llen(OWN_PROCESSING) == 0
    store.close()
    start_worker(config)
    assert [protocol.await_result(redis_client, task_id, REPLY_WAIT).output
            for task_id in waiting] == ["1", "2"]


def test_heartbeat_names_the_worker(worker: ThreadedWorker, redis_client: redis.Redis) -> None:
    key = protocol.worker_heartbeat_key(PK, socket.gethostname(), os.getpid())
    wait_until(lambda: redis_client.exists(key), "the heartbeat")
    beat = protocol.decode_heartbeat(redis_client.get(key))
    assert beat is not None and beat["pid"] == os.getpid() and beat["name"] == "Test Circle"
    assert beat["host"] == socket.gethostname()
    assert 0 < redis_client.ttl(key) <= protocol.HEARTBEAT_TTL
    worker.stop()
    assert not redis_client.exists(key)
    assert not redis_client.exists(protocol.heartbeat_key(PK))
    assert not redis_client.sismember(protocol.workers_key(PK),
                                      protocol.worker_member(socket.gethostname(), os.getpid()))


def test_heartbeat_is_refreshed_while_a_long_script_runs(
        config: WorkerConfig, start_worker: Callable[[WorkerConfig], ThreadedWorker],
        redis_client: redis.Redis) -> None:
    """A pool must never take a busy worker for a dead one (its heartbeat expires in 15 s)."""
    start_worker(replace(config, max_operations=0, script_timeout=0))
    store = Store(config.data_dir)
    task_id = protocol.submit(redis_client, PK, GATED.format(name="long"), CALLER)
    wait_until(lambda: has_started(store, "long"), "the long script to start")
    key = protocol.worker_heartbeat_key(PK, socket.gethostname(), os.getpid())
    redis_client.delete(key)
    wait_until(lambda: redis_client.exists(key), "the heartbeat to be written during the script")
    assert not redis_client.exists(protocol.reply_key(task_id))  # its gate is still shut
    open_gate(store, "long")
    assert protocol.await_result(redis_client, task_id, REPLY_WAIT).output == "long"
    store.close()


# --- the worker process ----------------------------------------------------------------------

def worker_command(data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "worker", "--name", "Proc Circle", "--public-key", PK,
            "--data-dir", str(data_dir), *extra]


Spawn = Callable[..., subprocess.Popen]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start `python -m worker` processes; any still running after the test is killed."""
    procs: list[subprocess.Popen] = []

    def start(redis_url: str, data_dir: Path, *extra: str, log: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(log, "w") if log else subprocess.PIPE
        args = (*extra, "--redis-url", redis_url) if redis_url else extra
        procs.append(subprocess.Popen(worker_command(data_dir, *args), env=env, text=True,
                                      stdout=out, stderr=subprocess.STDOUT))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(REPLY_WAIT)


def wait_ready(client: redis.Redis, proc: subprocess.Popen) -> None:
    """Wait for the process's own heartbeat, as circlesctl does."""
    def ready() -> bool:
        if proc.poll() is not None:
            said = proc.stdout.read() if proc.stdout is not None else "(its output went to a log)"
            raise AssertionError(f"worker exited with status {proc.returncode}: {said}")
        own = protocol.worker_heartbeat_key(PK, socket.gethostname(), proc.pid)
        return protocol.decode_heartbeat(client.get(own)) is not None

    wait_until(ready, "the worker's heartbeat")


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(signum)
    return proc.wait(REPLY_WAIT)


def test_redis_url_comes_from_flag_then_environment_then_default(tmp_path: Path) -> None:
    base = ["--name", "c", "--public-key", PK, "--data-dir", str(tmp_path)]
    env = {"CIRCLES_REDIS_URL": "unix:///run/r.sock"}
    assert parse_args(base, {}).redis_url == "redis://127.0.0.1:6379/0"
    assert parse_args(base, env).redis_url == "unix:///run/r.sock"
    assert parse_args([*base, "--redis-url", "redis://h:1/2"], env).redis_url == "redis://h:1/2"
    config = parse_args([*base, "--max-operations", "7", "--script-timeout", "1.5"], {})
    assert (config.max_operations, config.script_timeout, config.result_ttl) == (7, 1.5, 86400)


@pytest.mark.parametrize("args, message", [
    (["--public-key", "xyz"], "argument --public-key: 'xyz' is not a secp256k1 public key"),
    (["--redis-url", "http://x"], "argument --redis-url: Redis URL 'http://x': unknown scheme"),
    (["--result-ttl", "0"], "argument --result-ttl: '0' must be at least 1"),
    (["--name", ""], "argument --name: must not be empty"),
    (["--max-operations", "lots"], "argument --max-operations: 'lots' is not a whole number"),
    (["--modules-dir", "/nonexistent/modules"],
     "argument --modules-dir: '/nonexistent/modules' is not a folder"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    command = worker_command(tmp_path / "d", *args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = subprocess.run(worker_command(tmp_path / "file"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "exists and is not a directory" in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_when_idle_exits_0_and_removes_heartbeat(
        redis_url: str, redis_client: redis.Redis, tmp_path: Path, signum: int,
        spawn: Spawn) -> None:
    env = {**os.environ, "CIRCLES_REDIS_URL": redis_url}  # the URL from the environment
    proc = spawn("", tmp_path / "d", env=env)
    wait_ready(redis_client, proc)
    assert play(redis_client, "40 + 2").output == "42"
    code = stop(proc, signum)
    log = proc.stdout.read()
    assert code == 0, log
    assert f"worker Proc Circle listening on rhai_tasks:{PK}" in log
    assert "worker Proc Circle stopped" in log
    assert not redis_client.exists(protocol.heartbeat_key(PK))


def test_sigterm_mid_task_finishes_the_task(redis_url: str, redis_client: redis.Redis,
                                            tmp_path: Path, spawn: Spawn) -> None:
    log = tmp_path / "worker.log"
    proc = spawn(redis_url, tmp_path / "d", "--max-operations", "0", "--script-timeout", "0",
                 log=log)
    wait_ready(redis_client, proc)
    task_id = protocol.submit(redis_client, PK, GATED.format(name="finished"), CALLER)
    store = Store(tmp_path / "d")
    wait_until(lambda: has_started(store, "finished"), "the task to start")
    proc.send_signal(signal.SIGTERM)  # arrives while the script runs: its gate is still shut
    wait_until(lambda: "received SIGTERM" in log.read_text(), "the worker to take the signal")
    open_gate(store, "finished")
    store.close()
    assert stop(proc) == 0
    result = protocol.await_result(redis_client, task_id, 1)
    assert result.status == "completed" and result.output == "finished"


def test_crashed_workers_tasks_are_recovered_not_rerun(redis_url: str, redis_client: redis.Redis,
                                                       tmp_path: Path, spawn: Spawn) -> None:
    # What a worker killed mid-task leaves: one id it was running, one it had finished.
    unfinished = protocol.submit(redis_client, PK, 'db_set("runs", "x", 1); "recovered"', CALLER)
    finished = protocol.submit(redis_client, PK, 'db_set("runs", "y", 1); "again"', CALLER)
    for _ in range(2):
        redis_client.lmove(protocol.queue_key(PK), protocol.processing_key(PK), "RIGHT", "LEFT")
    redis_client.hset(protocol.details_key(unfinished), "status", "processing")
    redis_client.hset(protocol.details_key(finished),
                      mapping={"status": "completed", "output": "first run"})
    proc = spawn(redis_url, tmp_path / "d")
    result = protocol.await_result(redis_client, unfinished, REPLY_WAIT)
    assert result.status == "completed" and result.output == "recovered"
    assert play(redis_client, 'db_list("runs")').output == '["x"]'
    assert stop(proc) == 0
    assert redis_client.hget(protocol.details_key(finished), "output") == "first run"
    assert redis_client.llen(protocol.reply_key(finished)) == 0
    assert redis_client.llen(protocol.processing_key(PK)) == 0


def test_sigkill_then_restart_recovers_the_running_task(redis_url: str,
                                                        redis_client: redis.Redis,
                                                        tmp_path: Path, spawn: Spawn) -> None:
    proc = spawn(redis_url, tmp_path / "d", "--max-operations", "0", "--script-timeout", "0")
    wait_ready(redis_client, proc)
    # The first run marks itself and then spins for ever; the re-run sees the mark and ends.
    script = ('if db_get("runs", "first") == () { db_set("runs", "first", true); loop { } } '
              '"second run"')
    task_id = protocol.submit(redis_client, PK, script, CALLER)
    store = Store(tmp_path / "d")
    wait_until(lambda: store.get("runs", "first") is not None, "the first run to mark itself")
    store.close()
    proc.kill()
    proc.wait(REPLY_WAIT)
    dead_list = protocol.worker_processing_key(PK, socket.gethostname(), proc.pid)
    assert redis_client.lrange(dead_list, 0, -1) == [task_id]
    again = spawn(redis_url, tmp_path / "d")
    result = protocol.await_result(redis_client, task_id, REPLY_WAIT)
    assert result.status == "completed" and result.output == "second run", result
    assert stop(again) == 0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[Callable[[], None], Callable[[], None], str]]:
    """A redis-server of this test's own that it can stop and start again on one socket."""
    sock = tmp_path / "own.sock"
    procs: list[subprocess.Popen] = []

    def start() -> None:
        procs.append(subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", str(sock),
             "--unixsocketperm", "700", "--dir", str(tmp_path), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(sock.exists, "the test's redis-server")

    def halt() -> None:
        procs[-1].terminate()
        procs[-1].wait(REPLY_WAIT)
        wait_until(lambda: not sock.exists(), "redis-server to remove its socket")

    start()
    yield start, halt, f"unix://{sock}"
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(REPLY_WAIT)


def test_worker_reconnects_after_redis_restart(own_redis, tmp_path: Path, spawn: Spawn) -> None:
    start_redis, stop_redis, url = own_redis
    client = redis.Redis.from_url(url, decode_responses=True)
    log = tmp_path / "worker.log"
    proc = spawn(url, tmp_path / "d", log=log)
    wait_ready(client, proc)
    assert play(client, '"before"').output == "before"
    stop_redis()
    wait_until(lambda: "lost Redis" in log.read_text(), "the worker to notice")
    start_redis()
    client = redis.Redis.from_url(url, decode_responses=True)
    wait_ready(client, proc)
    assert play(client, '"after"').output == "after"
    code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert "reconnected to Redis" in text and "Traceback" not in text
