"""The worker loop: take task ids from the circle's queue, run their scripts, post the results.

At-least-once, at most ``max_attempts`` starts: an id moves atomically into this worker's
processing list when claimed, so a dead worker's tasks are re-queued by the next worker to start
or by a live worker of its pool (``TaskQueue.recover`` / ``sweep``); a task whose workers died
``max_attempts`` times is answered with an error instead. A script that exhausts the memory
backstop fails alone; the worker then answers and exits so its supervisor starts a fresh one.
Idle, a task costs two round trips (wait-and-claim, finish); busy, finishing claims up to
CLAIM_BATCH queued tasks and their results share the next round trip, so a long queue costs far
less than one round trip a task; see ``worker.taskqueue``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from worker import memory, protocol, redis_connect
from worker.config import WorkerConfig
from worker.engine import Engine, RhaiError, to_display
from worker.output import OutputCollector, cap_reply_texts
from worker.redis_store import RedisStore
from worker.scriptapi import script_constants, store_functions
from worker.scriptcache import ScriptCache
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
"""Most compiled scripts kept (see ``worker.scriptcache``)."""
MAX_CACHED_SCRIPT = 64 * 1024
"""Scripts longer than this (characters) are compiled every time rather than cached."""
CLAIM_BATCH = 8
"""Most queued tasks claimed in one round trip while scripts repeat quickly (Worker._serve)."""
FAST_SCRIPT = 0.001
"""Seconds under which a script counts as quick, so a result may wait for its run."""

RECYCLE_MIN_UPTIME = 3.0
"""Seconds a worker stays up at least before it exits to be replaced: longer than supervisord's
``startsecs`` (1), so the exit counts as a run that ended, restarted at once, not as a failed
start (after ``startretries`` of those supervisord would give up on the circle)."""
EXIT_RECYCLE = 75
"""Exit status of a worker that left to be replaced by a fresh process (EX_TEMPFAIL)."""
DEBUG_LINES_PER_TASK = 100
LOG_LINE_CHARS = 500
"""Most ``debug()`` lines of one task, and most characters of a script's text, put in the log."""
CALLER_PREFIX = 10
"""Characters of the caller's key shown in the per-task log line."""

SOCKET_TIMEOUT = 10.0
"""Seconds without an answer after which Redis counts as gone (must exceed WAIT_SECONDS)."""


def connect(url: str) -> Any:
    """A client for the worker: string replies, no silent retries (the loop backs off itself);
    redis-py is loaded only for URLs that need it (TLS, Sentinel).

    Invalid UTF-8 in a task (or a lone surrogate in a result) becomes U+FFFD / "?" instead of
    an exception, so no task content can crash the worker.
    """
    return redis_connect.worker_client(url, SOCKET_TIMEOUT)


def log_text(text: str, limit: int = LOG_LINE_CHARS) -> str:
    """``text`` safe for one log line: at most ``limit`` characters, control characters escaped
    (a script must not be able to forge log lines)."""
    short = text[:limit]
    if not short.isprintable():
        short = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in short)
    return short + ("…" if len(text) > limit else "")


def caller_label(caller_id: str | None) -> str:
    """The caller as the per-task log line shows it: a key prefix, or ``anonymous``."""
    if not caller_id:
        return "anonymous"
    return caller_id[:CALLER_PREFIX] + ("…" if len(caller_id) > CALLER_PREFIX else "")


class Worker:
    """One circle's worker. ``run()`` serves until ``stop()`` (safe from a signal handler)."""

    def __init__(self, config: WorkerConfig, client: Any = None) -> None:
        self.config = config
        self.client = client or connect(config.redis_url)
        self._errors = redis_connect.client_errors(self.client)
        self.tasks = TaskQueue(self.client, config.public_key, config.result_ttl,
                               config.max_attempts)
        self.recycle_reason: str | None = None
        """Why the worker left to be replaced by a fresh process; None while it serves."""
        self._stopping = False
        self._stop_requested = False
        self._started_at = time.time()
        self._last_beat = float("-inf")
        self._running_since: float | None = None
        self._done = threading.Event()
        self._output = OutputCollector(config.max_output_bytes)
        self._task_id = ""
        self._debug_lines = 0
        self._out_of_memory = False
        limits = {}
        if config.max_operations is not None:
            limits["max_operations"] = config.max_operations
        if config.script_timeout is not None:
            limits["timeout"] = config.script_timeout
        self.engine = Engine(on_print=self._output.print, on_debug=self._log_debug,
                             module_dir=config.modules_dir, **limits)
        self.store: Store | RedisStore = (RedisStore(self.client, config.public_key)
                                          if config.store == "redis" else Store(config.data_dir))
        for name, fn in store_functions(self.store).items():
            self.engine.register_fn(name, fn)
        self.scripts = ScriptCache(self.engine.compile, COMPILE_CACHE_SIZE, MAX_CACHED_SCRIPT)
        # hash() of the scripts that last ran in under FAST_SCRIPT (a collision costs only latency)
        self._fast_scripts: set[int] = set()

    def stop(self) -> None:
        """Ask the loop to end after the task in hand; only sets flags."""
        self._stop_requested = True
        self._stopping = True

    def run(self) -> None:
        """Serve the queue until stopped (or until it must be replaced, see ``recycle_reason``),
        then remove the heartbeat and close the store."""
        self._until_redis_is_back(None)
        if not self._stopping:
            log.info("worker %s listening on %s", self.config.name, self.tasks.queue)
        beater = threading.Thread(target=self._beat_while_running, name="heartbeat", daemon=True)
        beater.start()
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
            except self._errors.down as exc:
                claimed.clear()
                self._until_redis_is_back(exc)
            except self._errors.any as exc:  # e.g. WRONGTYPE: someone wrote over a queue key
                claimed.clear()
                log.error("Redis refused the worker's command: %s; retrying in %g s", exc,
                          REFUSED_PAUSE)
                self._sleep(REFUSED_PAUSE)
                self._until_redis_is_back(None)
        self._done.set()
        beater.join()
        self._shut_down(list(claimed))
        if self.recycle_reason is not None:
            self._linger()

    def _serve(self, claimed: deque[Task]) -> None:
        """Run the claimed tasks, oldest first; answer them together and claim more.

        Answers share one round trip only across tasks known to be quick (a script that last ran
        in under FAST_SCRIPT seconds). Before an unknown or slow script runs, the answers so far
        are sent and the tasks claimed behind it go back to the queue: a slow script delays no
        other task's reply, and a waiting task stays withdrawable by a caller who gives up.
        Batches of CLAIM_BATCH are claimed only while scripts repeat quickly. A worker that must
        be replaced claims nothing more.
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
            self._check_memory()
        if ended:
            claim = 0 if self._stopping else CLAIM_BATCH if all_quick else 1
            claimed.extend(self.tasks.finish_many(ended, claim))

    def _is_quick(self, task: Task) -> bool:
        """Whether ``task`` is known to take under FAST_SCRIPT (or will not run at all)."""
        return (task.script is None or task.finished or self._exhausted(task)
                or hash(task.script) in self._fast_scripts)

    def _exhausted(self, task: Task) -> bool:
        """Whether ``task`` was started ``max_attempts`` times already (its workers died)."""
        return task.attempt is not None and task.attempt > self.config.max_attempts

    def _run_one(self, task: Task) -> tuple[Task, protocol.TaskResult | None]:
        started = time.perf_counter()
        result = self._result_for(task)
        elapsed = time.perf_counter() - started
        if result is not None and task.script is not None and not self._exhausted(task):
            if elapsed < FAST_SCRIPT:
                if len(self._fast_scripts) >= COMPILE_CACHE_SIZE:
                    self._fast_scripts.clear()
                self._fast_scripts.add(hash(task.script))
            else:
                self._fast_scripts.discard(hash(task.script))
        if result is not None:
            log_task(task, result, elapsed)
        return task, result

    def execute(self, task_id: str, script: str, caller_id: str) -> protocol.TaskResult:
        """Run one script; any failure becomes an error result, never an exception. The output
        (also of a failed script: what it printed before failing) and the error are capped."""
        self._output.reset()
        self._task_id = task_id
        self._debug_lines = 0
        scope = script_constants(self.config.name, self.config.public_key, caller_id)
        self._running_since = time.monotonic()
        try:
            compiled = self.scripts.compiled(script)
            value = self.engine.eval(compiled, scope=scope)
            output: str | None = self._output.text(None if value is None else to_display(value))
            error = None
        except MemoryError as exc:  # outside the engine (e.g. rendering the value)
            output, error = None, self._memory_error(exc)
        except RhaiError as exc:
            error = self._memory_error(exc) if memory.caused_by_memory_error(exc) else str(exc)
            output = self._output.text() if self._output.lines else None
        except Exception as exc:  # an engine bug must not take the worker down
            log.exception("internal error running task %s", task_id)
            output, error = None, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._running_since = None
        output, error = cap_reply_texts(output, error, self.config.max_output_bytes)
        if error is not None:
            return protocol.error_result(task_id, error, output)
        return protocol.TaskResult(task_id, protocol.STATUS_COMPLETED, output, None)

    def _memory_error(self, exc: BaseException) -> str:
        """The error a script gets when it ran out of memory; the worker is replaced after."""
        self._out_of_memory = True
        self._output.reset()
        where = ""
        if isinstance(exc, RhaiError) and exc.line:
            where = f" (line {exc.line}, position {exc.position})"
        if self.config.max_memory_mb:
            return (f"out of memory: the script needed more than this worker's limit of "
                    f"{self.config.max_memory_mb} MiB (max_memory_mb){where}")
        return f"out of memory: the machine refused the script more memory{where}"

    def _check_memory(self) -> None:
        """After a task: leave (to be restarted fresh) if a script ran out of memory, or if the
        worker still holds more than its share of the limit."""
        if self._out_of_memory:
            self._recycle(f"a script ran out of memory (limit {self.config.max_memory_mb} MiB)")
        elif self.config.max_memory_mb and memory.over_recycle_threshold(
                memory.peak_resident_bytes() + memory.PEAK_LAG, self.config.max_memory_mb):
            # Only then can the resident size be over: the peak (cheap) bounds it from above.
            rss = memory.resident_bytes()
            if memory.over_recycle_threshold(rss, self.config.max_memory_mb):
                self._recycle(f"its resident memory is {rss // memory.MIB} MiB after a task, "
                              f"over half its limit of {self.config.max_memory_mb} MiB")

    def _recycle(self, reason: str) -> None:
        log.warning("worker %s exits to be restarted fresh: %s (resident %d MiB)",
                    self.config.name, reason, memory.resident_bytes() // memory.MIB)
        self.recycle_reason = reason
        self._stopping = True

    def _linger(self) -> None:
        """Stay up RECYCLE_MIN_UPTIME seconds in all before exiting (see there)."""
        end = self._started_at + RECYCLE_MIN_UPTIME
        while not self._stop_requested and (left := end - time.time()) > 0:
            time.sleep(min(left, 0.1))

    def _log_debug(self, line: str) -> None:
        """The engine's on_debug: a script's ``debug()`` goes to the worker log, bounded."""
        self._debug_lines += 1
        if self._debug_lines <= DEBUG_LINES_PER_TASK:
            log.info("task %s debug: %s", self._task_id, log_text(line))
        elif self._debug_lines == DEBUG_LINES_PER_TASK + 1:
            log.info("task %s debug: more than %d lines; the rest is not logged",
                     self._task_id, DEBUG_LINES_PER_TASK)

    def _result_for(self, task: Task) -> protocol.TaskResult | None:
        """What to answer for a claimed task; None for one already answered (not run again)."""
        if task.missing:
            log.warning("task %s has no details hash (expired or never written); dropped",
                        task.task_id)
            return protocol.error_result(task.task_id, "task details not found")
        if task.finished:
            log.info("task %s already %s; not run again", task.task_id, task.status)
            return None
        if self._exhausted(task):
            return protocol.worker_died_result(task.task_id, self.config.max_attempts)
        if task.script is None:
            return protocol.error_result(task.task_id, "task has no script")
        return self.execute(task.task_id, task.script, task.caller_id or "")

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        self.tasks.beat(protocol.encode_heartbeat(
            self.tasks.pid, self.config.name, self._started_at, time.time(), self.tasks.host))

    def _beat_if_due(self) -> None:
        """Between tasks: refresh the heartbeat and recover dead pool members' tasks."""
        if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY:
            self._beat()
            for member, (requeued, dropped) in self.tasks.sweep().items():
                log.warning("worker %s is gone: re-queued %d unfinished task(s), dropped %d "
                            "finished one(s) it held", member, len(requeued), len(dropped))

    def _beat_while_running(self) -> None:
        """Background thread: keep the heartbeat alive while a long script runs, so the pool
        never takes this worker's tasks for a dead worker's."""
        while not self._done.wait(HEARTBEAT_EVERY / 3):
            if (self._running_since is not None
                    and time.monotonic() - self._last_beat >= HEARTBEAT_EVERY):
                try:
                    self._beat()
                except self._errors.any as exc:
                    log.debug("heartbeat during a script failed: %s", exc)

    def _until_redis_is_back(self, error: Exception | None) -> None:
        """(Re)connect with backoff, re-queue whatever was left half-done, beat."""
        if error is not None:
            log.warning("lost Redis at %s (%s); reconnecting", self._safe_url(), error)
        delay = BACKOFF_FIRST
        while not self._stopping:
            try:
                self._recover()
                self._last_beat = float("-inf")
                self._beat_if_due()
                if error is not None:
                    log.info("reconnected to Redis")
                return
            except self._errors.down as exc:
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
        except self._errors.down:
            log.warning("could not remove heartbeat %s: Redis unreachable", self.tasks.heartbeat)
        self.store.close()
        self.client.close()
        log.info("worker %s stopped", self.config.name)


def log_task(task: Task, result: protocol.TaskResult, elapsed: float) -> None:
    """The operator's line for one answered task: id, caller, status, duration, first line of
    the error."""
    detail = ""
    if result.error:
        detail = ": " + log_text(result.error.split("\n", 1)[0])
    log.info("task %s from %s %s in %.1f ms%s", task.task_id, caller_label(task.caller_id),
             result.status, elapsed * 1000, detail)
