"""A blocking Redis connection for the worker on a plain ``redis://``/``unix://`` URL.

``SyncLink`` sends pipelined commands over a socket and parses the replies with hiredis, so a
worker never imports redis-py (about 15 MB of memory and 0.1 CPU-s of start-up per process). It does
only what ``worker.protocol.round_trip`` needs: ``exchange`` a batch of commands for their replies,
an error reply as a ``ReplyError`` value. Arguments are encoded as redis-py encodes them (str as
UTF-8 with lone surrogates replaced, numbers by ``repr``), so the bytes Redis sees are the same.

Connections are pooled: the worker's heartbeat thread may send while the main thread does. A
connection that fails, times out or is interrupted mid-reply is closed, never reused out of step;
the next exchange opens a fresh one (after a Redis restart too).
"""
from __future__ import annotations

import select
import socket
import struct
import threading
from typing import Any, Sequence

import hiredis

from worker.redis_connect import PlainTarget


class RedisLinkError(Exception):
    """Any failure talking to Redis through a ``SyncLink``."""


class LinkDown(RedisLinkError):
    """Redis could not be reached, closed the connection, or did not answer in time."""


class ReplyError(RedisLinkError):
    """An error reply from Redis, with Redis's own message (e.g. ``WRONGTYPE ...``)."""


class NoScriptError(ReplyError):
    """The ``NOSCRIPT`` reply: Redis does not know the script of an EVALSHA (it was restarted)."""


def encode_argument(value: Any) -> bytes:
    """One command argument as redis-py would send it; TypeError for any other type."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value).encode()
    raise TypeError(f"cannot send a {type(value).__name__} to Redis: {value!r:.40}")


def pack_commands(commands: Sequence[Sequence[Any]]) -> bytes:
    """``commands`` in RESP, ready for one write.

    hiredis packs a tuple of str (as UTF-8), int, float (as ``repr``) and bytes (or memoryview)
    itself, the same bytes as ``encode_argument`` gives, in half the time; a command it refuses
    (another type, a lone surrogate) is encoded argument by argument.
    """
    try:
        return b"".join(hiredis.pack_command(command) for command in commands)
    except (TypeError, UnicodeEncodeError):
        return b"".join(hiredis.pack_command(tuple(map(encode_argument, command)))
                        for command in commands)


def _reply_error(message: str) -> ReplyError:
    """hiredis' constructor for error replies: NOSCRIPT gets its own class."""
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ReplyError(message)


def _time_out_in_kernel(sock: socket.socket, timeout: float) -> None:
    """Make ``sock`` blocking, with the kernel failing a send or receive that waits longer than
    ``timeout`` s (``BlockingIOError``).

    Why not ``settimeout``: with a timeout, Python polls the socket before every send and every
    receive, two more system calls per round trip; the kernel's own timeouts cost none.
    """
    seconds = int(timeout)
    interval = struct.pack("@ll", seconds, int((timeout - seconds) * 1_000_000))
    sock.settimeout(None)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)


class _Connection:
    """One socket to Redis with its reply parser."""

    def __init__(self, target: PlainTarget, timeout: float) -> None:
        self.where = target.unix_path or f"{target.host}:{target.port}"
        try:
            if target.unix_path is not None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                try:
                    self.sock.connect(target.unix_path)
                except BaseException:
                    self.sock.close()
                    raise
            else:
                self.sock = socket.create_connection((target.host, target.port), timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise LinkDown(f"cannot connect to Redis at {self.where}: "
                           f"{exc.strerror or exc}") from None
        _time_out_in_kernel(self.sock, timeout)
        self.reader = hiredis.Reader(replyError=_reply_error, encoding="utf-8", errors="replace")
        self.readable = select.poll()
        self.readable.register(self.sock, select.POLLIN)

    def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Send ``packed`` and read ``count`` replies; LinkDown when the socket fails."""
        try:
            self.sock.sendall(packed)
            replies: list[Any] = []
            while len(replies) < count:
                reply = self.reader.gets()
                if reply is False:
                    data = self.sock.recv(65536)
                    if not data:
                        raise LinkDown(f"Redis at {self.where} closed the connection")
                    self.reader.feed(data)
                else:
                    replies.append(reply)
            return replies
        except BlockingIOError:  # SO_RCVTIMEO / SO_SNDTIMEO ran out
            raise LinkDown(f"Redis at {self.where} did not answer in time") from None
        except OSError as exc:
            raise LinkDown(f"connection to Redis at {self.where} failed: "
                           f"{exc.strerror or exc}") from None
        except hiredis.ProtocolError as exc:
            raise LinkDown(f"unreadable reply from Redis at {self.where}: {exc}") from None

    def is_stale(self) -> bool:
        """Whether Redis closed this idle connection (restart, idle timeout) or left bytes on it
        (out of step): as redis-py does, such a connection is replaced before use."""
        return bool(self.readable.poll(0))

    def close(self) -> None:
        self.sock.close()


class SyncLink:
    """Blocking connections to the Redis of ``target``; ``timeout`` seconds bound a connect and
    each wait for reply bytes (keep it above any blocking command's own timeout)."""

    def __init__(self, target: PlainTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def exchange(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one write and return their replies, an error reply as its
        ``ReplyError`` (not raised). LinkDown when Redis cannot be reached or breaks off."""
        packed = pack_commands(commands)
        conn = self._take()
        try:
            replies = conn.exchange(packed, len(commands))
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._idle.append(conn)
        return replies

    def _take(self) -> _Connection:
        """An idle connection, or a new one (logged in, database selected)."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if not conn.is_stale():
                return conn
            conn.close()
        conn = _Connection(self.target, self.timeout)
        setup = self.target.setup_commands()
        if setup:
            try:
                for reply in conn.exchange(pack_commands(setup), len(setup)):
                    if isinstance(reply, ReplyError):
                        raise LinkDown(f"Redis at {conn.where} refused the connection's set-up: "
                                       f"{reply}")
            except BaseException:
                conn.close()
                raise
        return conn

    def close(self) -> None:
        """Close the idle connections (a later exchange opens new ones)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
