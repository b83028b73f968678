"""The worker's side of the Redis task protocol: claim, finish and recover tasks atomically.

Each step is one round trip: a BLMOVE pipelined with a Lua call claims a task and marks it
``processing``; another Lua call records the results of one or more tasks, replies, sets
expiries, releases them and claims the next queued ones. The scripts name a claimed task's hash
from its id, so they need a single (non-cluster) Redis, as Circles does.
Key names and fields are those of ``worker.protocol`` (see docs/PROTOCOL.md).
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from worker import protocol

_START_FN = """
local function start(key, now)
  local f = redis.call('HMGET', key, 'script', 'caller_id', 'reply_queue_name', 'status')
  if not f[4] and redis.call('EXISTS', key) == 1 then f[4] = 'pending' end
  if f[4] and f[4] ~= 'completed' and f[4] ~= 'error' and f[4] ~= 'timeout' then
    redis.call('HSET', key, 'status', 'processing', 'updated_at', now)
  end
  return f
end
"""

START_LUA = _START_FN + "return start(KEYS[1], ARGV[1])\n"
"""KEYS: details hash. ARGV: now. Returns [script, caller_id, reply_queue_name, status].

A missing hash is not created and a finished task keeps its status, so neither runs again. A hash
without ``status`` (as some original Circles rhai_clients write it) counts as ``pending``.
"""

CLEAR_SHARED_HEARTBEAT_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, beat = pcall(cjson.decode, raw)
if ok and type(beat) == 'table' and beat.pid == tonumber(ARGV[1]) and beat.host == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
"""KEYS: the circle-wide heartbeat. ARGV: pid, host. Deletes it only if that worker wrote it."""

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
local ttl, now, prefix = ARGV[1], ARGV[2], ARGV[3]
local a = 5
for k = 3, #KEYS, 2 do
  local id, reply, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  if n > 0 then
    redis.call('HSET', KEYS[k], unpack(ARGV, a + 3, a + 2 + n))
    redis.call('EXPIRE', KEYS[k], ttl)
  end
  if reply ~= '' then
    redis.call('LPUSH', KEYS[k + 1], reply)
    redis.call('EXPIRE', KEYS[k + 1], ttl)
  end
  redis.call('LREM', KEYS[1], 1, id)
  a = a + 3 + n
end
local claimed = {}
if prefix == '' then return claimed end
for i = 1, tonumber(ARGV[4]) do
  local id = redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT')
  if not id then break end
  local f = start(prefix .. id, now)
  claimed[i] = {id, f[1], f[2], f[3], f[4]}
end
return claimed
"""
"""End some tasks, then claim up to N queued ones, oldest first.

KEYS: processing list, task queue, then per ended task its details hash and reply queue.
ARGV: ttl, now, details key prefix ('' = claim nothing), N, then per ended task: its id, its
reply JSON ('' = no reply), the count of hash field/value items that follow, those items (none =
leave the hash alone). Returns [id, script, caller_id, reply_queue_name, status] per claimed task.
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


def finish_arguments(task: Task, result: protocol.TaskResult | None,
                     now: float) -> list[str | int]:
    """One ended task's share of FINISH_LUA's ARGV: id, reply, field count, fields.

    ``result`` None only releases the task; a task whose hash is gone gets a reply but no hash.
    """
    fields: list[str] = []
    if result is not None and not task.missing:
        for field, value in protocol.finished_fields(result, now).items():
            fields += [field, value]
    reply = "" if result is None else protocol.encode_reply(result)
    return [task.task_id, reply, len(fields), *fields]


class TaskQueue:
    """One circle's queue as its worker sees it. ``client`` must decode responses to str."""

    def __init__(self, client: Any, circle_public_key: str, result_ttl: int) -> None:
        self.client = client
        self.result_ttl = result_ttl
        self.queue = protocol.queue_key(circle_public_key)
        self.processing = protocol.processing_key(circle_public_key)
        self.heartbeat = protocol.heartbeat_key(circle_public_key)
        self.own_heartbeat = protocol.worker_heartbeat_key(
            circle_public_key, socket.gethostname(), os.getpid())
        self._start = client.register_script(START_LUA)
        self._start_head = client.register_script(START_HEAD_LUA)
        self._finish = client.register_script(FINISH_LUA)
        self._clear_shared = client.register_script(CLEAR_SHARED_HEARTBEAT_LUA)

    def wait(self, timeout: float) -> Task | None:
        """Block up to ``timeout`` s for the oldest task; claim it and mark it processing.

        One round trip: Redis runs START_HEAD_LUA right after the BLMOVE unblocks.
        """
        task_id, head = protocol.round_trip(self.client, [
            ("BLMOVE", self.queue, self.processing, "RIGHT", "LEFT", timeout),
            ("EVALSHA", self._start_head.sha, 1, self.processing, int(time.time()),
             protocol.DETAILS_PREFIX)])
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

    def finish_many(self, ended: list[tuple[Task, protocol.TaskResult | None]],
                    claim: int) -> list[Task]:
        """Record each result and reply, all in one round trip, then claim up to ``claim`` more."""
        now = time.time()
        keys: list[str] = [self.processing, self.queue]
        args: list[str | int] = [self.result_ttl, int(now),
                                 protocol.DETAILS_PREFIX if claim else "", claim]
        for task, result in ended:
            keys += [protocol.details_key(task.task_id), task.reply_queue]
            args += finish_arguments(task, result, now)
        command = ("EVALSHA", self._finish.sha, len(keys), *keys, *args)
        found = protocol.round_trip(self.client, [command])[0]
        if isinstance(found, NoScriptError):  # nothing ran: load the script and send it again
            self.client.script_load(FINISH_LUA)
            found = protocol.round_trip(self.client, [command])[0]
        if isinstance(found, Exception):
            raise found
        return [Task.from_fields(row[0], row[1:]) for row in found]

    def release(self, tasks: list[Task]) -> None:
        """Hand claimed tasks that have not run back to the consuming end of the queue, oldest
        next, so they can be withdrawn by a caller who gives up while they wait."""
        pipe = self.client.pipeline(transaction=True)
        for task in reversed(tasks):  # newest first: RPUSH leaves the oldest rightmost
            pipe.lrem(self.processing, 1, task.task_id)
            pipe.rpush(self.queue, task.task_id)
        pipe.execute()

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
        """Set this worker's and the circle-wide heartbeat keys for another HEARTBEAT_TTL seconds."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.own_heartbeat, payload, ex=protocol.HEARTBEAT_TTL)
        pipe.set(self.heartbeat, payload, ex=protocol.HEARTBEAT_TTL)
        pipe.execute()

    def clear_heartbeat(self) -> None:
        """Remove this worker's heartbeat, and the circle-wide one if this worker wrote it last."""
        self.client.delete(self.own_heartbeat)
        self._clear_shared(keys=[self.heartbeat], args=[os.getpid(), socket.gethostname()])
