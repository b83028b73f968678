"""One connection from the server to Redis, for ``wsserver.tasks.RedisConnections``.

``PlainLink`` speaks RESP itself over a non-blocking socket the event loop watches, replies
parsed by hiredis: for plain ``redis://``/``unix://`` URLs (the usual case) the server never
imports redis-py, which costs about 9 MB of memory and 40 ms of start-up per process, and a round trip costs one future and
no extra tasks. ``RedisPyLink`` wraps redis-py's own connection class for the URLs that need it
(TLS, Sentinel, client options); it is imported only then.

Both raise ``RedisFailure`` (or ``OSError``) when Redis cannot be reached or a reply cannot be
read, and return an error reply as a ``ReplyError`` value rather than raising it.
"""
from __future__ import annotations

import asyncio
import socket
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


class _RespSocket:
    """A connected non-blocking socket to Redis, watched by the event loop's selector itself.

    Replies are fed to hiredis as they are read, and the waiting exchange is resolved once its
    replies are complete: no reader task, no per-read future, and none of asyncio's transport
    and protocol layers (about five Python calls per round trip). Commands are written with one
    ``send`` (by ``PlainLink.send``); what the kernel does not take at once is written when the
    socket is writable (``write_later``).

    Reads land in ``read_buffer``, which hiredis copies from at once: the connections of one
    event loop can share it, and no read allocates.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 read_buffer: memoryview) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.read_buffer = read_buffer
        self.parser = hiredis.Reader(replyError=ReplyError, encoding="utf-8")
        self.waiter: Exchange | None = None
        self.wanted = 0
        self.replies: list[Any] = []
        self.broken: BaseException | None = None
        self.unsent: memoryview | None = None
        self.closed = False
        loop.add_reader(self.fd, self._on_readable)

    def write_later(self, data: bytes, sent: int) -> None:
        """Send what the kernel did not take of ``data`` (all but ``sent`` bytes) once the
        socket is writable. One exchange at a time: nothing else is waiting to be sent."""
        self.unsent = memoryview(data)[sent:]
        self.loop.add_writer(self.fd, self._on_writable)

    def fail_soon(self, exc: OSError) -> None:
        """A send failed: the connection is broken at once, and the exchange fails in the next
        step of the event loop (as a transport would), not inside the caller's send."""
        self.broken = RedisFailure(f"Redis closed the connection: {exc}")
        self.loop.call_soon(self._lose, exc)

    def _on_writable(self) -> None:
        if self.unsent is None:
            return
        try:
            sent = self.sock.send(self.unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        self.unsent = self.unsent[sent:] if sent < len(self.unsent) else None
        if self.unsent is None:
            self.loop.remove_writer(self.fd)

    def _on_readable(self) -> None:
        try:
            nbytes = self.sock.recv_into(self.read_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not nbytes:
            self._lose(None)
            return
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

    def _lose(self, exc: BaseException | None) -> None:
        """The connection is gone (closed by Redis, or a socket error): close it, fail the
        waiting exchange."""
        self.close()
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

    def close(self) -> None:
        """Stop watching the socket and close it (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        if self.unsent is not None:
            self.unsent = None
            self.loop.remove_writer(self.fd)
        self.sock.close()


async def _connect(target: PlainTarget) -> socket.socket:
    """A connected non-blocking socket to ``target``'s Redis (each resolved address in turn);
    raises ``OSError`` when none can be reached."""
    loop = asyncio.get_running_loop()
    if target.unix_path is not None:
        addresses = [(socket.AF_UNIX, socket.SOCK_STREAM, 0, target.unix_path)]
    else:
        addresses = [(family, kind, proto, address) for family, kind, proto, _, address
                     in await loop.getaddrinfo(target.host, target.port,
                                               type=socket.SOCK_STREAM)]
    error: OSError = OSError(f"no address for {target.host}")
    for family, kind, proto, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


class PlainLink:
    """A RESP connection to the Redis of a plain ``redis://``/``unix://`` URL.

    An exchange Redis leaves unanswered for ``timeout`` s fails at a later ``expire`` call
    (``RedisConnections`` calls it every second for its busy connections).
    """

    def __init__(self, target: PlainTarget, timeout: float, read_buffer: memoryview) -> None:
        """``read_buffer`` may be shared by every ``PlainLink`` used on the same event loop."""
        self._target = target
        self._timeout = timeout
        self._read_buffer = read_buffer
        self._conn: _RespSocket | None = None
        self._deadline: float | None = None

    async def ensure_open(self) -> None:
        if self._conn is not None:
            if self._conn.broken is None:
                return
            await self.close()
        target = self._target
        try:
            async with asyncio.timeout(self._timeout):
                sock = await _connect(target)
        except (OSError, asyncio.TimeoutError) as exc:
            where = target.unix_path or f"{target.host}:{target.port}"
            raise RedisFailure(f"cannot connect to Redis at {where}: "
                               f"{getattr(exc, 'strerror', None) or exc or 'timeout'}") from None
        self._conn = _RespSocket(asyncio.get_running_loop(), sock, self._read_buffer)
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

    def is_ready(self) -> bool:
        """Whether the connection is open and in step, so ``send`` may be called right away."""
        conn = self._conn
        return conn is not None and conn.broken is None

    def send(self, packed: bytes, count: int) -> Exchange:
        """Write ``packed`` (``count`` commands) now; the exchange gets their ``count`` replies.

        No task, no coroutine and no timer: the socket's reader resolves the exchange when the
        replies are in, and ``expire`` fails it once it is overdue.
        """
        conn = self._conn
        if conn is None or conn.broken is not None:
            raise RedisFailure("connection to Redis is not open")
        waiter = Exchange(conn.loop)
        conn.waiter, conn.wanted, conn.replies = waiter, count, []
        self._deadline = None
        try:  # the socket's own send: a play's hot path
            sent = conn.sock.send(packed)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            conn.fail_soon(exc)
            return waiter
        if sent < len(packed):
            conn.write_later(packed, sent)
        return waiter

    def expire(self, now: float) -> None:
        """The exchange's deadline is set at the first call after it started (no clock read
        per exchange), so it fails between ``timeout`` and ``timeout`` + two sweeps later."""
        conn = self._conn
        if conn is None or conn.waiter is None:
            return
        if self._deadline is None:
            self._deadline = now + self._timeout
        elif now >= self._deadline:
            conn.time_out()

    async def exchange(self, packed: bytes, count: int) -> list[Any]:
        waiter = self.send(packed, count)
        try:
            return await waiter
        except BaseException:
            conn = self._conn
            if conn is not None and conn.waiter is waiter:  # abandoned: out of step
                conn.waiter = None
                conn.broken = RedisFailure("a reply was abandoned")
            raise

    async def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        """``close`` without awaiting: closing the socket is all there is to it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


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
