"""The worker's side of the Redis task protocol: claim, finish and recover tasks atomically.

Each step is one round trip: a BLMOVE pipelined with a Lua call claims a task, marks it
``processing`` and counts the attempt; another Lua call records the results of one or more tasks,
replies, sets expiries, releases them and claims the next queued ones. Every worker process keeps
its own processing list, so the workers of a pool share a queue and a starting worker recovers
only what dead workers left behind. The scripts name a claimed task's hash from its id, so they
need a single (non-cluster) Redis, as Circles does.
Key names and fields are those of ``worker.protocol`` (see docs/PROTOCOL.md).
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable

from worker import protocol, redis_connect

_START_FN = """
local function start(key, now, max)
  local f = redis.call('HMGET', key, 'script', 'caller_id', 'reply_queue_name', 'status',
                       'attempts')
  if not f[4] and redis.call('EXISTS', key) == 1 then f[4] = 'pending' end
  if f[4] and f[4] ~= 'completed' and f[4] ~= 'error' and f[4] ~= 'timeout' then
    local attempt = (tonumber(f[5]) or 0) + 1
    if attempt <= max then
      redis.call('HSET', key, 'status', 'processing', 'updated_at', now, 'attempts', attempt)
    end
    f[5] = attempt
  end
  return f
end
"""
"""Claim one task: unless it is missing or finished, count this start in ``attempts`` and mark
it ``processing``, but only while ``max`` starts are not used up. Returns [script, caller_id,
reply_queue_name, status before, the number of this start (false for a missing or finished
task)]; a number over ``max`` means the task must not run and nothing was written."""

START_LUA = _START_FN + "return start(KEYS[1], ARGV[1], tonumber(ARGV[2]))\n"
"""KEYS: details hash. ARGV: now, max attempts. Returns what ``start`` does.

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
local f = start(ARGV[2] .. id, ARGV[1], tonumber(ARGV[3]))
return {id, f[1], f[2], f[3], f[4], f[5]}
"""
"""START_LUA for the id a BLMOVE just put at the head of the processing list, so the two can share
one pipeline. KEYS: processing list. ARGV: now, details key prefix, max attempts. Returns false or
[id, script, caller_id, reply_queue_name, status, attempt]; the caller uses it only if the id is
the one BLMOVE moved.
"""

FINISH_LUA = _START_FN + """
local ttl, now, prefix, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local a = 6
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
  local f = start(prefix .. id, now, max)
  claimed[i] = {id, f[1], f[2], f[3], f[4], f[5]}
end
return claimed
"""
"""End some tasks, then claim up to N queued ones, oldest first.

KEYS: processing list, task queue, then per ended task its details hash and reply queue.
ARGV: ttl, now, details key prefix ('' = claim nothing), N, max attempts, then per ended task: its
id, its reply JSON ('' = no reply), the count of hash field/value items that follow, those items
(none = leave the hash alone). Returns [id, script, caller_id, reply_queue_name, status, attempt]
per claimed task.
"""

RECOVER_LUA = """
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then return false end
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local requeued, dropped = {}, {}
for i = 1, #ids do
  local s = redis.call('HGET', ARGV[1] .. ids[i], 'status')
  if s == 'completed' or s == 'error' or s == 'timeout' then
    dropped[#dropped + 1] = ids[i]
  else
    requeued[#requeued + 1] = ids[i]
    redis.call('RPUSH', KEYS[2], ids[i])
  end
end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then
  redis.call('SREM', KEYS[3], ARGV[2])
  if ARGV[3] == '0' then redis.call('DEL', KEYS[4]) end
end
return {requeued, dropped}
"""
"""Hand a processing list's unfinished ids back to the consuming end of the queue (newest first,
so the oldest runs next), drop the finished ones, delete the list.

KEYS: processing list, task queue, workers set, the list owner's heartbeat. ARGV: details key
prefix, the owner's workers-set entry ('' = leave the set alone), '1' = only if the owner's
heartbeat is gone (else: the owner is known dead; its heartbeat is deleted too). Returns false
when the owner is alive, else [requeued ids (oldest first reversed), dropped ids].
"""


@dataclass(frozen=True)
class Task:
    """A claimed task as read from its hash; ``status`` is None when the hash is gone.

    ``attempt`` is which start of the task this claim is (None for a missing or finished task);
    it was recorded in the hash only if it is within the queue's ``max_attempts``.
    """

    task_id: str
    script: str | None
    caller_id: str | None
    reply_queue: str
    status: str | None
    attempt: int | None = None

    @classmethod
    def from_fields(cls, task_id: str, fields: list[Any]) -> "Task":
        script, caller_id, reply_queue_name, status, attempt = fields
        return cls(task_id, script, caller_id,
                   protocol.reply_queue_for(task_id, reply_queue_name), status,
                   attempt if isinstance(attempt, int) else None)

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


def pid_is_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TaskQueue:
    """One circle's queue as one worker process sees it. ``client`` (a ``worker.redis_link``
    SyncLink or a redis-py client) must decode responses to str; every command goes through
    ``protocol.round_trip``, and the Lua scripts are loaded into Redis on first use.

    ``host`` and ``pid`` name the worker (its processing list, heartbeat and workers-set entry);
    they default to this process. ``is_running`` tells whether a pid on this host still exists.
    """

    def __init__(self, client: Any, circle_public_key: str, result_ttl: int,
                 max_attempts: int = protocol.DEFAULT_MAX_ATTEMPTS, host: str | None = None,
                 pid: int | None = None,
                 is_running: Callable[[int], bool] = pid_is_running) -> None:
        self.client = client
        self.result_ttl = result_ttl
        self.max_attempts = max_attempts
        self.circle = circle_public_key
        self.host = socket.gethostname() if host is None else host
        self.pid = os.getpid() if pid is None else pid
        self._is_running = is_running
        self.queue = protocol.queue_key(circle_public_key)
        self.processing = protocol.worker_processing_key(circle_public_key, self.host, self.pid)
        self.legacy_processing = protocol.processing_key(circle_public_key)
        self.workers = protocol.workers_key(circle_public_key)
        self.member = protocol.worker_member(self.host, self.pid)
        self.heartbeat = protocol.heartbeat_key(circle_public_key)
        self.own_heartbeat = protocol.worker_heartbeat_key(circle_public_key, self.host, self.pid)
        self._no_script = redis_connect.client_errors(client).no_script
        self._shas: dict[str, str] = {}

    def _call(self, *command: Any) -> Any:
        """One command's reply; an error reply is raised."""
        return protocol.raise_errors(protocol.round_trip(self.client, [command]))[0]

    def _load(self, lua: str) -> str:
        """Load ``lua`` into Redis (again, after a restart made it forget); its SHA1."""
        sha: str = self._call("SCRIPT", "LOAD", lua)
        self._shas[lua] = sha
        return sha

    def _sha(self, lua: str) -> str:
        """The SHA1 of ``lua`` for EVALSHA, loading it on first use."""
        return self._shas.get(lua) or self._load(lua)

    def _script(self, lua: str, keys: list[str], args: list[Any]) -> Any:
        """Run ``lua`` by EVALSHA; a forgotten script is loaded and sent again. Error replies
        are raised."""
        command = ("EVALSHA", self._sha(lua), len(keys), *keys, *args)
        found = protocol.round_trip(self.client, [command])[0]
        if isinstance(found, self._no_script):  # nothing ran: load the script, send it again
            command = ("EVALSHA", self._load(lua), *command[2:])
            found = protocol.round_trip(self.client, [command])[0]
        if isinstance(found, Exception):
            raise found
        return found

    def wait(self, timeout: float) -> Task | None:
        """Block up to ``timeout`` s for the oldest task; claim it and mark it processing.

        One round trip: Redis runs START_HEAD_LUA right after the BLMOVE unblocks.
        """
        task_id, head = protocol.round_trip(self.client, [
            ("BLMOVE", self.queue, self.processing, "RIGHT", "LEFT", timeout),
            ("EVALSHA", self._sha(START_HEAD_LUA), 1, self.processing, int(time.time()),
             protocol.DETAILS_PREFIX, self.max_attempts)])
        if isinstance(task_id, Exception):
            raise task_id
        if isinstance(head, self._no_script):  # a restarted Redis forgot the script
            self._load(START_HEAD_LUA)
        if task_id is None:
            return None
        if isinstance(head, list) and head[0] == task_id:
            return Task.from_fields(task_id, head[1:])
        fields = self._script(START_LUA, [protocol.details_key(task_id)],
                              [int(time.time()), self.max_attempts])
        return Task.from_fields(task_id, fields)

    def finish_many(self, ended: list[tuple[Task, protocol.TaskResult | None]],
                    claim: int) -> list[Task]:
        """Record each result and reply, all in one round trip, then claim up to ``claim`` more."""
        now = time.time()
        keys: list[str] = [self.processing, self.queue]
        args: list[str | int] = [self.result_ttl, int(now),
                                 protocol.DETAILS_PREFIX if claim else "", claim,
                                 self.max_attempts]
        for task, result in ended:
            keys += [protocol.details_key(task.task_id), task.reply_queue]
            args += finish_arguments(task, result, now)
        found = self._script(FINISH_LUA, keys, args)
        return [Task.from_fields(row[0], row[1:]) for row in found]

    def counted(self, task: Task) -> bool:
        """Whether claiming ``task`` recorded a start in its ``attempts`` field."""
        return task.attempt is not None and task.attempt <= self.max_attempts

    def release(self, tasks: list[Task]) -> None:
        """Hand claimed tasks that have not run back to the consuming end of the queue, oldest
        next, so they can be withdrawn by a caller who gives up while they wait; their claim no
        longer counts as a start."""
        commands: list[tuple[Any, ...]] = [("MULTI",)]
        for task in reversed(tasks):  # newest first: RPUSH leaves the oldest rightmost
            commands.append(("LREM", self.processing, 1, task.task_id))
            commands.append(("RPUSH", self.queue, task.task_id))
            if self.counted(task):
                commands.append(("HINCRBY", protocol.details_key(task.task_id), "attempts", -1))
        commands.append(("EXEC",))
        replies = protocol.raise_errors(protocol.round_trip(self.client, commands))
        protocol.raise_errors(replies[-1] or [])

    def _recover_list(self, processing: str, member: str, only_if_silent: bool,
                      owner_heartbeat: str) -> tuple[list[str], list[str]] | None:
        found = self._script(RECOVER_LUA, [processing, self.queue, self.workers, owner_heartbeat],
                             [protocol.DETAILS_PREFIX, member, "1" if only_if_silent else "0"])
        if not found:
            return None
        requeued, dropped = found
        return requeued[::-1], dropped

    def recover(self) -> tuple[list[str], list[str]]:
        """Undo this worker's own half-done work (after lost Redis, or a dead worker with this
        pid) and, when no other worker of the circle is alive, what a worker of the
        one-list-per-circle protocol left; returns (requeued ids, dropped ids).

        Unfinished ids go back to the consuming end of the queue, oldest first, so they run
        next; finished ones (already answered) are only removed. Dead pool members: ``sweep``.
        """
        requeued, dropped = self._recover_list(self.processing, "", False, self.own_heartbeat)
        if not self._other_worker_beats():
            legacy = self._recover_list(self.legacy_processing, "", False, self.heartbeat)
            if legacy:
                requeued, dropped = requeued + legacy[0], dropped + legacy[1]
        return requeued, dropped

    def _other_worker_beats(self) -> bool:
        """Whether the circle-wide heartbeat names a live worker other than this one."""
        beat = protocol.decode_heartbeat(self._call("GET", self.heartbeat))
        if beat is None or (beat.get("host") == self.host and beat["pid"] == self.pid):
            return False
        return beat.get("host") != self.host or self._is_running(beat["pid"])

    def sweep(self) -> dict[str, tuple[list[str], list[str]]]:
        """Recover the processing lists of the circle's dead workers: those whose heartbeat has
        expired, or on this host whose process is gone. Returns (requeued, dropped) per worker
        entry recovered; a live worker's list is never touched (checked atomically in Redis)."""
        recovered: dict[str, tuple[list[str], list[str]]] = {}
        for member in self._call("SMEMBERS", self.workers):
            owner = protocol.parse_worker_member(member)
            if member == self.member or owner is None:
                if owner is None:
                    self._call("SREM", self.workers, member)
                continue
            host, pid = owner
            known_dead = host == self.host and not self._is_running(pid)
            found = self._recover_list(
                protocol.worker_processing_key(self.circle, host, pid), member, not known_dead,
                protocol.worker_heartbeat_key(self.circle, host, pid))
            if found is not None:
                recovered[member] = found
        return recovered

    def beat(self, payload: str) -> None:
        """Set this worker's and the circle-wide heartbeat keys for another HEARTBEAT_TTL
        seconds, and list this worker in the circle's workers set (before it claims anything)."""
        protocol.raise_errors(protocol.round_trip(self.client, [
            ("SET", self.own_heartbeat, payload, "EX", protocol.HEARTBEAT_TTL),
            ("SET", self.heartbeat, payload, "EX", protocol.HEARTBEAT_TTL),
            ("SADD", self.workers, self.member)]))

    def clear_heartbeat(self) -> None:
        """Leave: remove this worker's heartbeat, its workers-set entry unless its processing
        list still holds ids (so a later sweep recovers them), and the circle-wide heartbeat if
        this worker wrote it last."""
        self._call("DEL", self.own_heartbeat)
        if not self._call("LLEN", self.processing):
            self._call("SREM", self.workers, self.member)
        self._script(CLEAR_SHARED_HEARTBEAT_LUA, [self.heartbeat], [self.pid, self.host])
