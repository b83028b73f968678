"""The Redis task protocol shared by every Circles component (see docs/PROTOCOL.md).

Compatible with Circles' ``rhai_client``: a task is a hash ``rhai_task_details:<id>`` plus the id
pushed on ``rhai_tasks:<circle public key>``; the worker answers on ``rhai_reply:<id>``. This module
is the only place that knows key names and field layouts; the worker, the WebSocket server and
circlesctl all import it. It imports nothing heavier than ``redis``'s types and never the engine.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from worker.jsontext import fast_decoder, fast_encoder

REDIS_URL_ENV = "CIRCLES_REDIS_URL"
"""The environment variable through which circlesctl hands every program its Redis URL."""
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis a worker or server uses when given neither ``--redis-url`` nor the variable."""

TASK_QUEUE_PREFIX = "rhai_tasks:"
PROCESSING_PREFIX = "rhai_processing:"
DETAILS_PREFIX = "rhai_task_details:"
REPLY_PREFIX = "rhai_reply:"
HEARTBEAT_PREFIX = "circles_worker:"

STATUS_PENDING = "pending"
STATUS_PROCESSING = "processing"
STATUS_COMPLETED = "completed"
STATUS_ERROR = "error"
STATUS_TIMEOUT = "timeout"

DEFAULT_RESULT_TTL = 86_400
"""Seconds a finished task's hash and reply queue are kept (one day)."""

HEARTBEAT_TTL = 15
"""Seconds a worker's heartbeat key lives unless refreshed."""

DEFAULT_MAX_ATTEMPTS = 2
"""How many times a task may be started: the first run and one retry after its worker died."""

WORKER_DIED = "the worker died while running this task"
"""The start of the error a task gets when its workers died ``max attempts`` times running it."""

FINISHED_STATUSES = frozenset({STATUS_COMPLETED, STATUS_ERROR, STATUS_TIMEOUT})
"""Statuses after which a task is never run (again): ``timeout`` is written by a caller that gave
up and withdrew the task."""


def queue_key(circle_public_key: str) -> str:
    """The list a circle's worker takes task ids from."""
    return TASK_QUEUE_PREFIX + circle_public_key


def processing_key(circle_public_key: str) -> str:
    """The circle-wide processing list of workers written for one worker per circle.

    Today's workers each keep their own list (``worker_processing_key``); this one is only read,
    to recover what an older worker left behind.
    """
    return PROCESSING_PREFIX + circle_public_key


def worker_processing_key(circle_public_key: str, host: str, pid: int) -> str:
    """The list holding the ids one worker process has claimed, so its crash loses nothing and
    the other workers of a pool can tell its tasks from theirs."""
    return f"{PROCESSING_PREFIX}{circle_public_key}:{host}:{pid}"


def workers_key(circle_public_key: str) -> str:
    """The set of ``<host>:<pid>`` of the circle's workers that may hold a processing list."""
    return HEARTBEAT_PREFIX + circle_public_key + ":workers"


def worker_member(host: str, pid: int) -> str:
    """A worker's entry in ``workers_key``."""
    return f"{host}:{pid}"


def parse_worker_member(member: str) -> tuple[str, int] | None:
    """``(host, pid)`` of a ``workers_key`` entry, or None when it is not one."""
    host, _, pid = member.rpartition(":")
    return (host, int(pid)) if host and pid.isdigit() else None


def details_key(task_id: str) -> str:
    """The hash holding one task's script, caller, status and result."""
    return DETAILS_PREFIX + task_id


def reply_key(task_id: str) -> str:
    """The list the worker pushes one task's JSON reply onto."""
    return REPLY_PREFIX + task_id


def heartbeat_key(circle_public_key: str) -> str:
    """The circle-wide key every live worker of the circle refreshes (the last writer wins).

    Kept for tools written against one worker per circle; readiness uses ``worker_heartbeat_key``.
    """
    return HEARTBEAT_PREFIX + circle_public_key + ":heartbeat"


def worker_heartbeat_key(circle_public_key: str, host: str, pid: int) -> str:
    """The key one worker process refreshes while it listens: several workers (a pool, or other
    hosts) can serve one circle, and each is seen on its own."""
    return f"{heartbeat_key(circle_public_key)}:{host}:{pid}"


def worker_heartbeat_pattern(circle_public_key: str) -> str:
    """A SCAN pattern matching every worker's own heartbeat key for the circle."""
    return heartbeat_key(circle_public_key) + ":*"


@dataclass(frozen=True)
class TaskResult:
    """What a caller gets back for one task."""

    task_id: str
    status: str
    output: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_COMPLETED


_UUID4_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
"""The first hex digit of a UUID's 17th digit once ``uuid.uuid4`` has set its variant bits (RFC
4122: the digit's two high bits are 10)."""


def new_task_id() -> str:
    """``str(uuid.uuid4())`` from the same 16 random bytes, cut from their hex text with the
    version (4) and variant digits put in (a play's hot path: no ``UUID``, no 128-bit integer
    arithmetic; and importing ``uuid`` loads ``platform``)."""
    digits = os.urandom(16).hex()
    return (f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_UUID4_VARIANT[digits[16]]}"
            f"{digits[17:20]}-{digits[20:]}")


def new_task(script: str, caller_id: str, now: float | None = None) -> tuple[str, dict[str, str]]:
    """A fresh task id and the fields of its details hash, status ``pending``."""
    task_id = new_task_id()
    stamp = str(int(now if now is not None else time.time()))
    return task_id, {
        "script": script,
        "status": STATUS_PENDING,
        "caller_id": caller_id,
        "reply_queue_name": reply_key(task_id),
        "created_at": stamp,
        "updated_at": stamp,
    }


_encode = fast_encoder(json.JSONEncoder())
_loads = fast_decoder(json.JSONDecoder())


def encode_reply(result: TaskResult) -> str:
    """The JSON object pushed on the reply queue (as ``json.dumps`` writes it)."""
    return _encode({"task_id": result.task_id, "status": result.status, "output": result.output,
                    "error": result.error})


def decode_reply(raw: str | bytes) -> TaskResult:
    """Parse a reply-queue entry; raises ValueError when it is not a reply object."""
    data: Any = _loads(raw)
    if not isinstance(data, dict) or "task_id" not in data or "status" not in data:
        raise ValueError(f"not a task reply: {raw!r}")
    return TaskResult(str(data["task_id"]), str(data["status"]), data.get("output"),
                      data.get("error"))


def timeout_result(task_id: str, seconds: float) -> TaskResult:
    """The result a caller reports when no reply came in time."""
    return TaskResult(task_id, STATUS_TIMEOUT, None, f"no reply within {seconds:g} s")


def round_trip(client: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Send ``commands`` in one write on one pooled connection of the synchronous ``client`` and
    return their raw replies, an error reply as an exception value (not raised).

    ``client`` is a ``worker.redis_link.SyncLink`` (its ``exchange``) or a redis-py client: then
    this skips redis-py's per-command client layers (retry wrapper, observability hooks, response
    callbacks), which cost as much CPU as the round trip itself in redis-py 8. A connection that
    fails mid-reply is closed, never reused out of step.
    """
    exchange = getattr(client, "exchange", None)
    if exchange is not None:
        return exchange(commands)
    from redis.exceptions import ResponseError  # here: importing protocol must not load redis

    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command(conn.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except ResponseError as exc:
                replies.append(exc)
        return replies
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def raise_errors(replies: list[Any]) -> list[Any]:
    """``replies`` unchanged, unless one is an error reply: then raise the first."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def submit_commands(circle_public_key: str, task_id: str,
                    fields: Mapping[str, str]) -> list[tuple[Any, ...]]:
    """The HSET and LPUSH that queue a task."""
    flat: list[str] = []
    for field, value in fields.items():
        flat += [field, value]
    return [("HSET", details_key(task_id), *flat), ("LPUSH", queue_key(circle_public_key), task_id)]


def submit(client: Any, circle_public_key: str, script: str, caller_id: str) -> str:
    """Queue a script for a circle (one round trip) and return its task id.

    ``client`` is a synchronous ``redis.Redis``.
    """
    task_id, fields = new_task(script, caller_id)
    raise_errors(round_trip(client, submit_commands(circle_public_key, task_id, fields)))
    return task_id


WAIT_SLICE = 1.0
"""Longest single BRPOP while awaiting a reply: stays under redis-py's default socket timeout
(5 s since redis-py 8), so a long wait never surfaces as a socket TimeoutError."""


def _wait_slices(timeout: float) -> Iterator[float]:
    """The BRPOP timeouts that together wait ``timeout`` seconds (at least one, never 0)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        yield max(0.01, min(left, WAIT_SLICE))
        if left <= WAIT_SLICE:
            return


def await_result(client: Any, task_id: str, timeout: float) -> TaskResult:
    """Block until the worker replies to ``task_id`` or ``timeout`` seconds pass."""
    key = reply_key(task_id)
    for wait in _wait_slices(timeout):
        popped = raise_errors(round_trip(client, [("BRPOP", key, wait)]))[0]
        if popped is not None:
            return decode_reply(popped[1])
    return timeout_result(task_id, timeout)


async def submit_async(client: Any, circle_public_key: str, script: str, caller_id: str) -> str:
    """``submit`` for a ``redis.asyncio.Redis`` client."""
    task_id, fields = new_task(script, caller_id)
    pipe = client.pipeline(transaction=False)
    pipe.hset(details_key(task_id), mapping=fields)
    pipe.lpush(queue_key(circle_public_key), task_id)
    await pipe.execute()
    return task_id


async def await_result_async(client: Any, task_id: str, timeout: float) -> TaskResult:
    """``await_result`` for a ``redis.asyncio.Redis`` client."""
    for wait in _wait_slices(timeout):
        popped = await client.brpop([reply_key(task_id)], timeout=wait)
        if popped is not None:
            return decode_reply(popped[1])
    return timeout_result(task_id, timeout)


def error_result(task_id: str, message: str, output: str | None = None) -> TaskResult:
    """A failed task's result; ``output`` is what the script printed before it failed."""
    return TaskResult(task_id, STATUS_ERROR, output, message)


def worker_died_result(task_id: str, attempts: int) -> TaskResult:
    """The answer for a task whose worker died every one of its ``attempts`` starts."""
    runs = "once" if attempts == 1 else f"{attempts} times"
    return error_result(task_id, f"{WORKER_DIED} ({runs}); it is not run again")


def reply_queue_for(task_id: str, reply_queue_name: str | None) -> str:
    """Where to reply: the task's own ``reply_queue_name`` if it is a reply queue, else the default.

    Only ``rhai_reply:`` names are honoured so a task can never make the worker push into a task
    queue or any other key.
    """
    if reply_queue_name and reply_queue_name.startswith(REPLY_PREFIX):
        return reply_queue_name
    return reply_key(task_id)


def tasks_in_hand(client: Any, circle_public_key: str) -> dict[str, list[str]]:
    """The ids each of the circle's workers has claimed and not yet answered, by workers-set
    entry (``<host>:<pid>``; the old circle-wide list under ``""``), oldest first; workers
    holding none are left out. ``client`` is a synchronous ``redis.Redis`` decoding to str."""
    owners = {member: PROCESSING_PREFIX + circle_public_key + ":" + member
              for member in sorted(client.smembers(workers_key(circle_public_key)))}
    owners[""] = processing_key(circle_public_key)
    pipe = client.pipeline(transaction=False)
    for key in owners.values():
        pipe.lrange(key, 0, -1)
    return {member: ids[::-1] for member, ids in zip(owners, pipe.execute()) if ids}


def encode_heartbeat(pid: int, name: str, started_at: float, now: float, host: str = "") -> str:
    """The JSON value of a worker's heartbeat keys."""
    return json.dumps({"pid": pid, "name": name, "host": host, "started_at": started_at, "ts": now})


def decode_heartbeat(raw: str | bytes | None) -> dict[str, Any] | None:
    """A heartbeat's fields, or None when the key is missing or not a heartbeat."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return data


def finished_fields(result: TaskResult, now: float | None = None) -> Mapping[str, str]:
    """The hash fields the worker writes when a task ends."""
    fields = {"status": result.status, "updated_at": str(int(now if now is not None else time.time()))}
    if result.status == STATUS_COMPLETED:
        fields["output"] = result.output or ""
    else:
        fields["error"] = result.error or ""
        if result.output is not None:
            fields["output"] = result.output
    return fields
