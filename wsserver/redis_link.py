"""One connection from the server to Redis, for ``wsserver.tasks.RedisConnections``.

``PlainLink`` speaks RESP itself over an asyncio protocol, replies parsed by hiredis: for plain
``redis://``/``unix://`` URLs (the usual case) the server never imports redis-py, which costs
about 9 MB of memory and 40 ms of start-up per process, and a round trip costs one future and
no extra tasks. ``RedisPyLink`` wraps redis-py's own connection class for the URLs that need it
(TLS, Sentinel, client options); it is imported only then.

Both raise ``RedisFailure`` (or ``OSError``) when Redis cannot be reached or a reply cannot be
read, and return an error reply as a ``ReplyError`` value rather than raising it.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol

import hiredis

from worker.redis_connect import PlainTarget


class RedisFailure(Exception):
    """Redis could not be reached, refused the connection's set-up, or broke off a reply."""


class ReplyError(RedisFailure):
    """An error reply from Redis (e.g. ``WRONGPASS ...``), with Redis's own message."""


class Link(Protocol):
    """What ``RedisConnections`` needs of a connection."""

    async def ensure_open(self) -> None:
        """Open the connection (and log in) unless it is open and in step; a connection Redis
        closed meanwhile (restart, idle timeout) or one with stray data is opened afresh."""

    async def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Send ``packed`` (``count`` commands) and return their ``count`` replies."""

    async def close(self) -> None:
        """Close the connection (idempotent)."""

    def expire(self, now: float) -> None:
        """Fail the exchange in progress if its deadline (event loop time) is past ``now``."""


class Exchange(asyncio.Future):  # type: ignore[type-arg]
    """The future replies of commands sent to Redis, which also runs its *settle callbacks* the
    moment it is done (replies in, failed or cancelled), in the order they were added, before
    anything else: unlike done callbacks they cost no trip round the event loop, so a play is
    answered in the same step that reads its reply. A callback must not raise.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._settle_callbacks: list[tuple[Callable[..., None], tuple[Any, ...]]] | None = []

    def add_settle_callback(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args, self)`` once this is settled (at once if it already is)."""
        if self._settle_callbacks is None:
            callback(*args, self)
        else:
            self._settle_callbacks.append((callback, args))

    def resolve(self, replies: list[Any]) -> None:
        """Set the replies (unless cancelled meanwhile) and settle."""
        if not self.done():
            self.set_result(replies)
        self._settle()

    def fail(self, error: BaseException) -> None:
        """Set ``error`` (unless cancelled meanwhile) and settle."""
        if not self.done():
            self.set_exception(error)
        self._settle()

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg):
            return False
        self._settle()
        return True

    def _settle(self) -> None:
        callbacks, self._settle_callbacks = self._settle_callbacks, None
        for callback, args in callbacks or ():
            callback(*args, self)


READ_BUFFER_SIZE = 64 * 1024
"""Bytes one read from Redis takes at most (into a buffer the connections of one server share)."""


class _RespProtocol(asyncio.BufferedProtocol):
    """Feeds received bytes to hiredis and resolves the waiting exchange once its replies are
    complete: no reader task, no per-read future.

    Reads land in ``read_buffer``, which hiredis copies from at once: the connections of one
    event loop can share it, and no read allocates (asyncio's plain ``Protocol`` allocates
    256 KiB for every read, and the kernel maps and unmaps it).
    """

    def __init__(self, read_buffer: memoryview) -> None:
        self.read_buffer = read_buffer
        self.parser = hiredis.Reader(replyError=ReplyError, encoding="utf-8")
        self.transport: asyncio.Transport | None = None
        self.waiter: Exchange | None = None
        self.wanted = 0
        self.replies: list[Any] = []
        self.broken: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.waiter is None:
            self.broken = RedisFailure("unexpected data on an idle connection")
            return
        self.parser.feed(self.read_buffer, 0, nbytes)
        try:
            while len(self.replies) < self.wanted:
                reply = self.parser.gets()
                if reply is False:
                    return
                self.replies.append(reply)
        except (hiredis.ProtocolError, UnicodeDecodeError) as exc:  # out of step: drop it
            self.broken = RedisFailure(f"unreadable reply from Redis: {exc}")
            self._fail(self.broken)
            return
        waiter, self.waiter = self.waiter, None
        waiter.resolve(self.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = RedisFailure(f"Redis closed the connection{f': {exc}' if exc else ''}")
        self._fail(self.broken)

    def time_out(self) -> None:
        """Fail the waiting exchange: Redis stopped answering."""
        self.broken = RedisFailure("Redis did not answer in time")
        self._fail(self.broken)

    def _fail(self, error: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            waiter.fail(error)


class PlainLink:
    """A RESP connection to the Redis of a plain ``redis://``/``unix://`` URL.

    An exchange Redis leaves unanswered for ``timeout`` s fails when ``expire`` is next called
    (``RedisConnections`` calls it every second for its busy connections).
    """

    def __init__(self, target: PlainTarget, timeout: float, read_buffer: memoryview) -> None:
        """``read_buffer`` may be shared by every ``PlainLink`` used on the same event loop."""
        self._target = target
        self._timeout = timeout
        self._read_buffer = read_buffer
        self._protocol: _RespProtocol | None = None
        self._deadline = 0.0

    async def ensure_open(self) -> None:
        if self._protocol is not None:
            if self._protocol.broken is None:
                return
            await self.close()
        target = self._target
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                if target.unix_path is not None:
                    _, protocol = await loop.create_unix_connection(self._new_protocol,
                                                                    target.unix_path)
                else:
                    _, protocol = await loop.create_connection(self._new_protocol, target.host,
                                                               target.port)
        except (OSError, asyncio.TimeoutError) as exc:
            where = target.unix_path or f"{target.host}:{target.port}"
            raise RedisFailure(f"cannot connect to Redis at {where}: "
                               f"{getattr(exc, 'strerror', None) or exc or 'timeout'}") from None
        self._protocol = protocol
        setup = target.setup_commands()
        if setup:
            try:
                replies = await self.exchange(b"".join(map(hiredis.pack_command, setup)),
                                              len(setup))
                for reply in replies:
                    if isinstance(reply, ReplyError):
                        raise reply
            except BaseException:
                await self.close()
                raise

    def _new_protocol(self) -> _RespProtocol:
        return _RespProtocol(self._read_buffer)

    def is_ready(self) -> bool:
        """Whether the connection is open and in step, so ``send`` may be called right away."""
        protocol = self._protocol
        return protocol is not None and protocol.transport is not None and protocol.broken is None

    def send(self, packed: bytes, count: int) -> Exchange:
        """Write ``packed`` (``count`` commands) now; the exchange gets their ``count`` replies.

        No task, no coroutine and no timer: the protocol resolves the exchange when the replies
        are in, and ``expire`` fails it once it is overdue.
        """
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.broken is not None:
            raise RedisFailure("connection to Redis is not open")
        loop = asyncio.get_running_loop()
        waiter = Exchange(loop)
        protocol.waiter, protocol.wanted, protocol.replies = waiter, count, []
        protocol.transport.write(packed)
        self._deadline = loop.time() + self._timeout
        return waiter

    def expire(self, now: float) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.waiter is not None and now >= self._deadline:
            protocol.time_out()

    async def exchange(self, packed: bytes, count: int) -> list[Any]:
        waiter = self.send(packed, count)
        try:
            return await waiter
        except BaseException:
            protocol = self._protocol
            if protocol is not None and protocol.waiter is waiter:  # abandoned: out of step
                protocol.waiter = None
                protocol.broken = RedisFailure("a reply was abandoned")
            raise

    async def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        """``close`` without awaiting: nothing is left to wait for once the transport is told."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()


class RedisPyLink:
    """A redis-py connection, for the URLs ``PlainLink`` does not handle (TLS, Sentinel,
    client options). redis-py's errors come out as ``RedisFailure``."""

    def __init__(self, pool: Any) -> None:
        from redis import exceptions  # only here: plain URLs never load redis-py

        self._errors = exceptions
        self._conn = pool.connection_class(**pool.connection_kwargs)

    async def ensure_open(self) -> None:
        try:
            if self._conn.is_connected and await self._conn.can_read_destructive():
                await self._conn.disconnect()  # stray data: out of step
        except (self._errors.ConnectionError, OSError):
            await self._conn.disconnect()  # closed by Redis meanwhile
        if self._conn.is_connected:
            return
        try:  # connect() (not the send's own) resolves a Sentinel master
            await self._conn.connect()
        except self._errors.RedisError as exc:
            raise RedisFailure(str(exc)) from exc

    async def exchange(self, packed: bytes, count: int) -> list[Any]:
        try:
            await self._conn.send_packed_command(packed)
            replies: list[Any] = []
            for _ in range(count):
                try:
                    replies.append(await self._conn.read_response())
                except self._errors.ResponseError as exc:
                    replies.append(ReplyError(str(exc)))
            return replies
        except self._errors.RedisError as exc:
            raise RedisFailure(str(exc)) from exc

    async def close(self) -> None:
        await self._conn.disconnect()

    def expire(self, now: float) -> None:
        """Nothing to do: redis-py's own socket timeout ends an exchange Redis leaves hanging."""
