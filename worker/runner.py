"""The worker loop: take task ids from the circle's queue, run their scripts, post the results.

At-least-once: an id moves atomically into the processing list when claimed, so a crashed
worker's tasks are re-queued by the next one (``TaskQueue.recover``). Idle, a task costs two
round trips (wait-and-claim, finish); busy, finishing claims up to CLAIM_BATCH queued tasks and
their results share the next round trip, so a long queue costs far less than one round trip a
task; see ``worker.taskqueue``.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections import deque
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from worker import protocol, redis_connect
from worker.config import WorkerConfig
from worker.engine import Engine, RhaiError, to_display
from worker.redis_store import RedisStore
from worker.scriptapi import script_constants, store_functions
from worker.store import Store
from worker.taskqueue import Task, TaskQueue

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.5
"""How long one blocking wait for a task lasts: bounds how late a stop request is noticed."""
HEARTBEAT_EVERY = 3.0
"""Seconds between heartbeat refreshes (well under protocol.HEARTBEAT_TTL)."""
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
"""Reconnect delays: doubling from the first to the max, in seconds."""
REFUSED_PAUSE = 1.0
"""Seconds to wait before retrying after Redis answered a command with an error."""
COMPILE_CACHE_SIZE = 256
MAX_CACHED_SCRIPT = 64 * 1024
"""Scripts longer than this (characters) are compiled every time rather than cached."""
TRUNCATED_MARK = "[output truncated]"
CLAIM_BATCH = 8
"""Most queued tasks claimed in one round trip while scripts repeat quickly (Worker._serve)."""
FAST_SCRIPT = 0.001
"""Seconds under which a script counts as quick, so a result may wait for its run."""

SOCKET_TIMEOUT = 10.0
"""Seconds without an answer after which Redis counts as gone (must exceed WAIT_SECONDS)."""

_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


def connect(url: str) -> redis.Redis:
    """A client for the worker: string replies, no silent retries (the loop backs off itself).

    Invalid UTF-8 in a task (or a lone surrogate in a result) becomes U+FFFD / "?" instead of
    an exception, so no task content can crash the worker.
    """
    return redis_connect.sync_client(url, decode_responses=True, encoding_errors="replace",
                                     retry=Retry(NoBackoff(), 0), socket_timeout=SOCKET_TIMEOUT,
                                     socket_connect_timeout=SOCKET_TIMEOUT)


class OutputCollector:
    """A task's printed lines, cut off once they pass a byte budget."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lines: list[str] = []
        self._used = 0
        self._truncated = False

    def reset(self) -> None:
        self.lines = []
        self._used = 0
        self._truncated = False

    def print(self, line: str) -> None:
        """The engine's on_print: keep ``line`` if it fits the budget."""
        if self._truncated:
            return
        self._used += len(line.encode("utf-8", "replace")) + 1
        if self._used > self.max_bytes:
            self._truncated = True
            self.lines.append(TRUNCATED_MARK)
        else:
            self.lines.append(line)


def render_output(printed: list[str], value: Any) -> str:
    """A task's output: its printed lines, then its value as Rhai prints it unless it is ()."""
    if value is None:
        return "\n".join(printed)
    return "\n".join([*printed, to_display(value)])


def _log_script_debug(line: str) -> None:
    log.debug("script debug: %s", line)


class Worker:
    """One circle's worker. ``run()`` serves until ``stop()`` (safe from a signal handler)."""

    def __init__(self, config: WorkerConfig, client: redis.Redis | None = None) -> None:
        self.config = config
        self.client = client or connect(config.redis_url)
        self.tasks = TaskQueue(self.client, config.public_key, config.result_ttl)
        self._stopping = False
        self._started_at = time.time()
        self._next_beat = 0.0
        self._output = OutputCollector(config.max_output_bytes)
        limits = {}
        if config.max_operations is not None:
            limits["max_operations"] = config.max_operations
        if config.script_timeout is not None:
            limits["timeout"] = config.script_timeout
        self.engine = Engine(on_print=self._output.print, on_debug=_log_script_debug, **limits)
        self.store: Store | RedisStore = (RedisStore(self.client, config.public_key)
                                          if config.store == "redis" else Store(config.data_dir))
        for name, fn in store_functions(self.store).items():
            self.engine.register_fn(name, fn)
        self._compile_cached = functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)(self.engine.compile)
        # hash() of the scripts that last ran in under FAST_SCRIPT (a collision costs only latency)
        self._fast_scripts: set[int] = set()

    def stop(self) -> None:
        """Ask the loop to end after the task in hand; only sets a flag."""
        self._stopping = True

    def run(self) -> None:
        """Serve the queue until stopped, then remove the heartbeat and close the store."""
        self._until_redis_is_back(None)
        if not self._stopping:
            log.info("worker %s listening on %s", self.config.name, self.tasks.queue)
        claimed: deque[Task] = deque()
        while not self._stopping:
            try:
                self._beat_if_due()
                if not claimed:
                    task = self.tasks.wait(WAIT_SECONDS)
                    if task is not None:
                        claimed.append(task)
                if claimed:
                    self._serve(claimed)
            except _REDIS_DOWN as exc:
                claimed.clear()
                self._until_redis_is_back(exc)
            except redis.RedisError as exc:  # e.g. WRONGTYPE: someone wrote over a queue key
                claimed.clear()
                log.error("Redis refused the worker's command: %s; retrying in %g s", exc,
                          REFUSED_PAUSE)
                self._sleep(REFUSED_PAUSE)
                self._until_redis_is_back(None)
        self._shut_down(list(claimed))

    def _serve(self, claimed: deque[Task]) -> None:
        """Run the claimed tasks, oldest first; answer them together and claim more.

        Answers share one round trip only across tasks known to be quick (a script that last ran
        in under FAST_SCRIPT seconds). Before an unknown or slow script runs, the answers so far
        are sent and the tasks claimed behind it go back to the queue: a slow script delays no
        other task's reply, and a waiting task stays withdrawable by a caller who gives up.
        Batches of CLAIM_BATCH are claimed only while scripts repeat quickly.
        """
        ended: list[tuple[Task, protocol.TaskResult | None]] = []
        all_quick = True
        while claimed and not self._stopping:
            if not self._is_quick(claimed[0]):
                all_quick = False
                if ended:
                    self.tasks.finish_many(ended, 0)
                    ended = []
                if len(claimed) > 1:
                    behind = [claimed.pop() for _ in range(len(claimed) - 1)]
                    self.tasks.release(behind[::-1])
            ended.append(self._run_one(claimed.popleft()))
        if ended:
            claim = 0 if self._stopping else CLAIM_BATCH if all_quick else 1
            claimed.extend(self.tasks.finish_many(ended, claim))

    def _is_quick(self, task: Task) -> bool:
        """Whether ``task`` is known to take under FAST_SCRIPT (or will not run at all)."""
        return task.script is None or task.finished or hash(task.script) in self._fast_scripts

    def _run_one(self, task: Task) -> tuple[Task, protocol.TaskResult | None]:
        started = time.perf_counter()
        result = self._result_for(task)
        if task.script is not None:
            if time.perf_counter() - started < FAST_SCRIPT:
                if len(self._fast_scripts) >= COMPILE_CACHE_SIZE:
                    self._fast_scripts.clear()
                self._fast_scripts.add(hash(task.script))
            else:
                self._fast_scripts.discard(hash(task.script))
        return task, result

    def execute(self, task_id: str, script: str, caller_id: str) -> protocol.TaskResult:
        """Run one script; any failure becomes an error result, never an exception."""
        self._output.reset()
        scope = script_constants(self.config.name, self.config.public_key, caller_id)
        try:
            compiled = (self._compile_cached(script) if len(script) <= MAX_CACHED_SCRIPT
                        else self.engine.compile(script))
            value = self.engine.eval(compiled, scope=scope)
            output = render_output(self._output.lines, value)
        except RhaiError as exc:
            return protocol.error_result(task_id, str(exc))
        except Exception as exc:  # an engine bug must not take the worker down
            log.exception("internal error running task %s", task_id)
            return protocol.error_result(task_id, f"internal error: {type(exc).__name__}: {exc}")
        return protocol.TaskResult(task_id, protocol.STATUS_COMPLETED, output, None)

    def _result_for(self, task: Task) -> protocol.TaskResult | None:
        """What to answer for a claimed task; None for one already answered (not run again)."""
        if task.missing:
            log.warning("task %s has no details hash (expired or never written); dropped",
                        task.task_id)
            return protocol.error_result(task.task_id, "task details not found")
        if task.finished:
            log.info("task %s already %s; not run again", task.task_id, task.status)
            return None
        if task.script is None:
            return protocol.error_result(task.task_id, "task has no script")
        result = self.execute(task.task_id, task.script, task.caller_id or "")
        log.debug("task %s %s", task.task_id, result.status)
        return result

    def _beat_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_beat:
            self.tasks.beat(protocol.encode_heartbeat(
                os.getpid(), self.config.name, self._started_at, time.time(),
                socket.gethostname()))
            self._next_beat = now + HEARTBEAT_EVERY

    def _until_redis_is_back(self, error: Exception | None) -> None:
        """(Re)connect with backoff, re-queue whatever was left half-done, beat."""
        if error is not None:
            log.warning("lost Redis at %s (%s); reconnecting", self._safe_url(), error)
        delay = BACKOFF_FIRST
        while not self._stopping:
            try:
                self._recover()
                self._next_beat = 0.0
                self._beat_if_due()
                if error is not None:
                    log.info("reconnected to Redis")
                return
            except _REDIS_DOWN as exc:
                if error is None:
                    log.warning("cannot reach Redis at %s (%s); retrying", self._safe_url(), exc)
                    error = exc
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    def _recover(self) -> None:
        requeued, dropped = self.tasks.recover()
        if requeued:
            log.warning("re-queued %d unfinished task(s) left in %s", len(requeued),
                        self.tasks.processing)
        if dropped:
            log.info("dropped %d finished task(s) left in %s", len(dropped),
                     self.tasks.processing)

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when asked to stop."""
        end = time.monotonic() + seconds
        while not self._stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    def _safe_url(self) -> str:
        """Where Redis is, without credentials, for logs."""
        return redis_connect.masked_url(self.config.redis_url)

    def _shut_down(self, unrun: list[Task]) -> None:
        """Hand claimed tasks that did not run back to the queue, remove the heartbeat."""
        try:
            if unrun:
                self.tasks.release(unrun)
            self.tasks.clear_heartbeat()
        except _REDIS_DOWN:
            log.warning("could not remove heartbeat %s: Redis unreachable", self.tasks.heartbeat)
        self.store.close()
        self.client.close()
        log.info("worker %s stopped", self.config.name)
