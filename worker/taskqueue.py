"""The worker's side of the Redis task protocol: claim, finish and recover tasks atomically.

Each step is one round trip: a BLMOVE pipelined with a Lua call claims a task and marks it
``processing``; another Lua call records the result, replies, sets expiries, releases the task
and claims the next queued one. The scripts
name the next task's hash from its id, so they need a single (non-cluster) Redis, as Circles does.
Key names and fields are those of ``worker.protocol`` (see docs/PROTOCOL.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from worker import protocol

_START_FN = """
local function start(key, now)
  local f = redis.call('HMGET', key, 'script', 'caller_id', 'reply_queue_name', 'status')
  if f[4] and f[4] ~= 'completed' and f[4] ~= 'error' and f[4] ~= 'timeout' then
    redis.call('HSET', key, 'status', 'processing', 'updated_at', now)
  end
  return f
end
"""

START_LUA = _START_FN + "return start(KEYS[1], ARGV[1])\n"
"""KEYS: details hash. ARGV: now. Returns [script, caller_id, reply_queue_name, status].

A missing hash is not created and a finished task keeps its status, so neither runs again.
"""

START_HEAD_LUA = _START_FN + """
local id = redis.call('LINDEX', KEYS[1], 0)
if not id then return false end
local f = start(ARGV[2] .. id, ARGV[1])
return {id, f[1], f[2], f[3], f[4]}
"""
"""START_LUA for the id a BLMOVE just put at the head of the processing list, so the two can share
one pipeline. KEYS: processing list. ARGV: now, details key prefix. Returns false or [id, script,
caller_id, reply_queue_name, status]; the caller uses it only if the id is the one BLMOVE moved.
"""

FINISH_LUA = _START_FN + """
if #ARGV > 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if ARGV[4] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
redis.call('LREM', KEYS[3], 1, ARGV[1])
if ARGV[5] == '' then return false end
local id = redis.call('LMOVE', KEYS[4], KEYS[3], 'RIGHT', 'LEFT')
if not id then return false end
local f = start(ARGV[5] .. id, ARGV[3])
return {id, f[1], f[2], f[3], f[4]}
"""
"""End one task, then claim the next.

KEYS: details hash, reply queue, processing list, task queue. ARGV: task id, ttl, now, reply JSON
('' = no reply), details key prefix ('' = claim nothing), then the hash's field/value pairs to
write (none = leave the hash alone). Returns false or [id, script, caller_id, reply_queue_name,
status] of the claimed task.
"""


@dataclass(frozen=True)
class Task:
    """A claimed task as read from its hash; ``status`` is None when the hash is gone."""

    task_id: str
    script: str | None
    caller_id: str | None
    reply_queue: str
    status: str | None

    @classmethod
    def from_fields(cls, task_id: str, fields: list[Any]) -> "Task":
        script, caller_id, reply_queue_name, status = fields
        return cls(task_id, script, caller_id,
                   protocol.reply_queue_for(task_id, reply_queue_name), status)

    @property
    def missing(self) -> bool:
        return self.status is None

    @property
    def finished(self) -> bool:
        return self.status in protocol.FINISHED_STATUSES


def finish_arguments(task: Task, result: protocol.TaskResult | None, ttl: int, claim_next: bool,
                     now: float) -> list[str | int]:
    """FINISH_LUA's ARGV: record ``result`` (None = just release the task), maybe claim next."""
    args: list[str | int] = [task.task_id, ttl, int(now),
                             "" if result is None else protocol.encode_reply(result),
                             protocol.DETAILS_PREFIX if claim_next else ""]
    if result is not None and not task.missing:
        for field, value in protocol.finished_fields(result, now).items():
            args += [field, value]
    return args


class TaskQueue:
    """One circle's queue as its worker sees it. ``client`` must decode responses to str."""

    def __init__(self, client: Any, circle_public_key: str, result_ttl: int) -> None:
        self.client = client
        self.result_ttl = result_ttl
        self.queue = protocol.queue_key(circle_public_key)
        self.processing = protocol.processing_key(circle_public_key)
        self.heartbeat = protocol.heartbeat_key(circle_public_key)
        self._start = client.register_script(START_LUA)
        self._start_head = client.register_script(START_HEAD_LUA)
        self._finish = client.register_script(FINISH_LUA)

    def wait(self, timeout: float) -> Task | None:
        """Block up to ``timeout`` s for the oldest task; claim it and mark it processing.

        One round trip: Redis runs START_HEAD_LUA right after the BLMOVE unblocks. (A plain
        EVALSHA, not a redis-py Script, which would add a SCRIPT EXISTS per pipeline.)
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.blmove(self.queue, self.processing, timeout, "RIGHT", "LEFT")
        pipe.evalsha(self._start_head.sha, 1, self.processing, int(time.time()),
                     protocol.DETAILS_PREFIX)
        task_id, head = pipe.execute(raise_on_error=False)
        if isinstance(task_id, Exception):
            raise task_id
        if isinstance(head, NoScriptError):  # a restarted Redis forgot the script
            self.client.script_load(START_HEAD_LUA)
        if task_id is None:
            return None
        if isinstance(head, list) and head[0] == task_id:
            return Task.from_fields(task_id, head[1:])
        fields = self._start(keys=[protocol.details_key(task_id)], args=[int(time.time())])
        return Task.from_fields(task_id, fields)

    def finish(self, task: Task, result: protocol.TaskResult | None,
               claim_next: bool) -> Task | None:
        """Record ``result`` and reply (None: only release the task); return the next task."""
        keys = [protocol.details_key(task.task_id), task.reply_queue, self.processing, self.queue]
        found = self._finish(keys=keys, args=finish_arguments(
            task, result, self.result_ttl, claim_next, time.time()))
        return Task.from_fields(found[0], found[1:]) if found else None

    def recover(self) -> tuple[list[str], list[str]]:
        """Undo a crashed worker's half-done work; returns (requeued ids, dropped ids).

        Unfinished ids left in the processing list go back to the consuming end of the queue,
        oldest first, so they run next; finished ones (already answered) are only removed.
        """
        ids = self.client.lrange(self.processing, 0, -1)
        if not ids:
            return [], []
        pipe = self.client.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(protocol.details_key(task_id), "status")
        statuses = pipe.execute()
        requeued: list[str] = []
        dropped: list[str] = []
        pipe = self.client.pipeline(transaction=True)
        for task_id, status in zip(ids, statuses):  # newest first: RPUSH leaves oldest rightmost
            if status in protocol.FINISHED_STATUSES:
                dropped.append(task_id)
            else:
                requeued.append(task_id)
                pipe.rpush(self.queue, task_id)
            pipe.lrem(self.processing, 1, task_id)
        pipe.execute()
        requeued.reverse()
        return requeued, dropped

    def beat(self, payload: str) -> None:
        """Set the heartbeat key for another protocol.HEARTBEAT_TTL seconds."""
        self.client.set(self.heartbeat, payload, ex=protocol.HEARTBEAT_TTL)

    def clear_heartbeat(self) -> None:
        self.client.delete(self.heartbeat)
