"""Running one script on the circle's worker through Redis (see worker/protocol.py)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Sequence

import hiredis

from worker import protocol, redis_connect
from wsserver.redis_link import Link, PlainLink, RedisFailure, RedisPyLink

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_MARGIN = 5.0
"""Seconds a Redis reply may lag behind a BRPOP's own timeout before the connection is dropped."""


def _link_factory(redis_url: str, timeout: float) -> tuple[Callable[[], Link], Any]:
    """How to make one connection to ``redis_url`` (and the redis-py pool to keep alive, if any).

    Plain ``redis://``/``unix://`` URLs get ``PlainLink``: no redis-py in the server at all.
    Others (TLS, Sentinel, client options) get redis-py's connection class. Retries are off on
    purpose: a resent play would queue the task twice.
    """
    target = redis_connect.plain_target(redis_url)
    if target is not None:
        return (lambda: PlainLink(target, timeout)), None
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = redis_connect.async_pool(redis_url, decode_responses=True,
                                    retry=Retry(NoBackoff(), 0), socket_timeout=timeout)
    return (lambda: RedisPyLink(pool)), pool


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
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Link] = []
        self._busy: set[Link] = set()

    async def round_trip(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write on one connection and return their raw replies.

        Waits up to ``wait`` s for a free connection (``RedisFailure`` after that).
        Error replies come back as ``ReplyError`` values; a connection interrupted mid-reply
        (lost Redis, cancelled play) is closed rather than reused out of step.
        """
        link = await self._checkout()
        try:
            await link.ensure_open()
            replies = await link.exchange(b"".join(map(hiredis.pack_command, commands)),
                                          len(commands))
        except BaseException:
            self._busy.discard(link)
            self._slots.release()
            await link.close()
            raise
        self._busy.discard(link)
        self._idle.append(link)
        self._slots.release()
        return replies

    async def ping(self) -> None:
        """Raise a ``RedisFailure`` unless Redis answers PING."""
        protocol.raise_errors(await self.round_trip([("PING",)]))

    async def _checkout(self) -> Link:
        if self._slots.locked():
            try:
                async with asyncio.timeout(self._wait):  # not wait_for: it can lose a cancel
                    await self._slots.acquire()
            except asyncio.TimeoutError:
                raise RedisFailure("No connection available.") from None
        else:
            await self._slots.acquire()
        link = self._idle.pop() if self._idle else self._new_link()
        self._busy.add(link)
        return link

    async def aclose(self) -> None:
        """Close every connection, idle or busy."""
        links = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        for link in links:
            await link.close()


def connect(redis_url: str, max_connections: int, wait: float) -> RedisConnections:
    """The server's Redis connections; a play waits up to ``wait`` s for a free one."""
    return RedisConnections(redis_url, max_connections, wait)


async def run_script(redis: RedisConnections, circle_public_key: str, script: str, caller: str,
                     timeout: float) -> protocol.TaskResult:
    """Queue ``script`` for the circle's worker and wait up to ``timeout`` s for its reply.

    Same keys and fields as ``protocol.submit_async`` + ``protocol.await_result_async``, but
    sent as one write (HSET, LPUSH, BRPOP) on one connection: one round trip and one
    connection per in-flight play.
    On timeout a task the worker has not picked up yet is withdrawn from the queue and marked
    ``timeout``, so it cannot run later for a caller who has already been told it failed.
    """
    task_id, fields = protocol.new_task(script, caller)
    commands = protocol.submit_commands(circle_public_key, task_id, fields)
    commands.append(("BRPOP", protocol.reply_key(task_id), timeout))
    popped = protocol.raise_errors(await redis.round_trip(commands))[2]
    if popped is not None:
        return protocol.decode_reply(popped[1])
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
