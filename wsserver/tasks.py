"""Running one script on the circle's worker through Redis (see worker/protocol.py)."""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import hiredis

from worker import protocol, redis_connect
from wsserver.redis_link import (READ_BUFFER_SIZE, Exchange, Link, PlainLink, RedisFailure,
                                 RedisPyLink)

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_MARGIN = 5.0
"""Seconds a Redis reply may lag behind a BRPOP's own timeout before the connection is dropped."""
EXPIRE_INTERVAL = 1.0
"""Seconds between two checks for Redis exchanges left unanswered past their timeout."""


def _link_factory(redis_url: str, timeout: float) -> tuple[Callable[[], Link], Any]:
    """How to make one connection to ``redis_url`` (and the redis-py pool to keep alive, if any).

    Plain ``redis://``/``unix://`` URLs get ``PlainLink``: no redis-py in the server at all.
    Others (TLS, Sentinel, client options) get redis-py's connection class. Retries are off on
    purpose: a resent play would queue the task twice.
    """
    target = redis_connect.plain_target(redis_url)
    if target is not None:
        read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))  # the links share one event loop
        return (lambda: PlainLink(target, timeout, read_buffer)), None
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = redis_connect.async_pool(redis_url, decode_responses=True,
                                    retry=Retry(NoBackoff(), 0), socket_timeout=timeout)
    return (lambda: RedisPyLink(pool)), pool


class _Slots:
    """A counting semaphore that can also be taken without awaiting (``try_take``), so a play
    finding a free connection is sent with no task; waiters are served first come, first served."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody is queued for one."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self, timeout: float) -> None:
        """Take a slot, waiting up to ``timeout`` s (``TimeoutError`` after that)."""
        if self.try_take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancel
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as the wait ended: pass it on
            elif waiter in self._waiters:  # (give() drops cancelled waiters it comes across)
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Return a slot: to the longest waiter, else to the free count."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class RedisConnections:
    """The server's Redis: at most ``size`` connections, idle ones reused, each command batch sent
    as one write and its replies read back raw.

    Why not a ``redis.asyncio.Redis`` over a ``BlockingConnectionPool``: its pipeline, its
    per-command layers (retry wrapper, observability hooks), its pure-Python packer and its
    pool's condition/lock per checkout were about half of what a play cost the server in CPU;
    and for plain URLs importing redis-py at all is about a quarter of the server's memory.
    """

    def __init__(self, redis_url: str, size: int, wait: float) -> None:
        # The socket timeout must outlast a play's BRPOP (``wait`` s): redis-py's 5 s default
        # would cut off any script that runs longer than that.
        self._new_link, self._pool = _link_factory(redis_url, wait + SOCKET_TIMEOUT_MARGIN)
        self._wait = wait
        self._slots = _Slots(size)
        self._idle: list[Link] = []
        self._busy: set[Link] = set()
        self._expiry: asyncio.TimerHandle | None = None

    def start(self, commands: Sequence[tuple[Any, ...]]) -> Exchange:
        """``round_trip`` as an ``Exchange``, sent before this returns when an open connection
        is idle.

        That is the usual case, and it costs no task: the connection goes back to the pool (or
        is closed, if abandoned) as the exchange settles. Otherwise a task runs ``round_trip``
        and settles the exchange. Cancelling the exchange abandons the round trip either way.
        """
        link = self._ready_idle_link()
        if link is None:
            return self._start_in_task(commands)
        self._busy.add(link)
        try:
            replies = link.send(b"".join(map(hiredis.pack_command, commands)), len(commands))
        except BaseException:
            self._done_with(link, in_step=False)
            link.abort()
            raise
        replies.add_settle_callback(self._settle, link)
        if self._expiry is None:
            self._expire_overdue()
        return replies

    def _ready_idle_link(self) -> PlainLink | None:
        """An idle, open ``PlainLink`` with its slot taken, or None when a wait or set-up is due."""
        if not self._idle or not isinstance(self._idle[-1], PlainLink):
            return None
        if not self._idle[-1].is_ready() or not self._slots.try_take():
            return None
        return self._idle.pop()  # type: ignore[return-value]

    def _settle(self, link: PlainLink, replies: Exchange) -> None:
        """After a ``start`` round trip: the connection back to the pool, or closed when the
        replies did not all arrive (lost Redis, cancelled play)."""
        in_step = not replies.cancelled() and replies.exception() is None
        self._done_with(link, in_step)
        if not in_step:
            link.abort()

    def _done_with(self, link: Link, in_step: bool) -> None:
        """A round trip on ``link`` is over: it is idle again if still ``in_step`` (else the
        caller closes it), and its slot is free for the next one."""
        self._busy.discard(link)
        if in_step:
            self._idle.append(link)
        self._slots.give()

    def _start_in_task(self, commands: Sequence[tuple[Any, ...]]) -> Exchange:
        """``start`` for when a connection must be waited for or opened first."""
        replies = Exchange(asyncio.get_running_loop())

        async def run() -> None:
            try:
                result = await self.round_trip(commands)
            except Exception as exc:
                replies.fail(exc)
            else:
                replies.resolve(result)

        task = asyncio.ensure_future(run())
        replies.add_settle_callback(_cancel_if_cancelled, task)
        return replies

    def _expire_overdue(self) -> None:
        """Fail the exchanges Redis left unanswered past their timeout; again in a second while
        any connection is busy."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for link in list(self._busy):
            link.expire(now)
        self._expiry = None
        if self._busy:
            self._expiry = loop.call_later(EXPIRE_INTERVAL, self._expire_overdue)

    async def round_trip(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write on one connection and return their raw replies.

        Waits up to ``wait`` s for a free connection (``RedisFailure`` after that).
        Error replies come back as ``ReplyError`` values; a connection interrupted mid-reply
        (lost Redis, cancelled play) is closed rather than reused out of step.
        """
        link = await self._checkout()
        if self._expiry is None:
            self._expire_overdue()
        try:
            await link.ensure_open()
            replies = await link.exchange(b"".join(map(hiredis.pack_command, commands)),
                                          len(commands))
        except BaseException:
            self._done_with(link, in_step=False)
            await link.close()
            raise
        self._done_with(link, in_step=True)
        return replies

    async def ping(self) -> None:
        """Raise a ``RedisFailure`` unless Redis answers PING."""
        protocol.raise_errors(await self.round_trip([("PING",)]))

    async def _checkout(self) -> Link:
        try:
            await self._slots.take(self._wait)
        except asyncio.TimeoutError:
            raise RedisFailure("No connection available.") from None
        link = self._idle.pop() if self._idle else self._new_link()
        self._busy.add(link)
        return link

    async def aclose(self) -> None:
        """Close every connection, idle or busy."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        links = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        for link in links:
            await link.close()


def _cancel_if_cancelled(task: asyncio.Task[None], replies: Exchange) -> None:
    """Stop ``task`` when the exchange it was to settle is cancelled (abandoned)."""
    if replies.cancelled():
        task.cancel()


def connect(redis_url: str, max_connections: int, wait: float) -> RedisConnections:
    """The server's Redis connections; a play waits up to ``wait`` s for a free one."""
    return RedisConnections(redis_url, max_connections, wait)


@dataclass(frozen=True)
class QueuedScript:
    """A script sent to the worker: its task id, and the round trip's replies to come."""

    task_id: str
    replies: Exchange


def start_script(redis: RedisConnections, circle_public_key: str, script: str, caller: str,
                 timeout: float) -> QueuedScript:
    """Queue ``script`` for the circle's worker; its reply will be in ``replies`` (``reply_of``).

    Same keys and fields as ``protocol.submit_async`` + ``protocol.await_result_async``, but
    sent as one write (HSET, LPUSH, BRPOP, waiting up to ``timeout`` s) on one connection: one
    round trip and one connection per in-flight play, and no task when a connection is free.
    """
    task_id, fields = protocol.new_task(script, caller)
    commands = protocol.submit_commands(circle_public_key, task_id, fields)
    commands.append(("BRPOP", fields["reply_queue_name"], timeout))
    return QueuedScript(task_id, redis.start(commands))


def reply_of(replies: list[Any]) -> protocol.TaskResult | None:
    """The worker's reply among a ``start_script`` round trip's replies, or None when the BRPOP
    timed out; raises the first error reply."""
    popped = protocol.raise_errors(replies)[2]
    return protocol.decode_reply(popped[1]) if popped is not None else None


async def give_up(redis: RedisConnections, circle_public_key: str, task_id: str,
                  timeout: float) -> protocol.TaskResult:
    """The ``timeout`` result of a script the worker did not answer in time.

    A task the worker has not picked up yet is withdrawn from the queue and marked ``timeout``,
    so it cannot run later for a caller who has already been told it failed.
    """
    result = protocol.timeout_result(task_id, timeout)
    await _withdraw(redis, circle_public_key, result)
    return result


async def _withdraw(redis: RedisConnections, circle_public_key: str,
                    result: protocol.TaskResult) -> None:
    removed, = protocol.raise_errors(await redis.round_trip(
        [("LREM", protocol.queue_key(circle_public_key), 1, result.task_id)]))
    if removed:
        key = protocol.details_key(result.task_id)
        flat = [item for pair in protocol.finished_fields(result).items() for item in pair]
        protocol.raise_errors(await redis.round_trip(
            [("HSET", key, *flat), ("EXPIRE", key, protocol.DEFAULT_RESULT_TTL)]))
        log.info("task %s withdrawn: no worker took it within the timeout", result.task_id)
