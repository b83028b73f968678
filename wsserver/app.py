"""The Tornado application: the JSON-RPC WebSocket (``/ws``, ``/ws/``, ``/<circle key>``) and
``/health``, every route behind the Host check and the WebSocket behind the origin policy
(``wsserver.origins``).

``CircleServer`` owns the listening socket, the shared Redis client and the open connections,
so it can shut all of them down in order on SIGTERM.
"""
from __future__ import annotations

import asyncio
import json
import logging
import struct
from typing import Any

from worker.optional import without

# tornado.log imports curses and colorama if it can, only to colour its own log formatter on a
# terminal (LogFormatter, enable_pretty_logging); the server logs through logging.basicConfig to
# supervisord's pipe and never uses them. Without them a server is ~0.9 MB smaller at rest and
# ~0.55 MB after its first login (colorama's ctypes is loaded then anyway), and imports ~2.5 ms
# faster. curses is in every CPython; colorama only where another package installed it.
# tornado.log also imports logging.handlers, which imports pickle for SocketHandler; pickle uses
# its C accelerator _pickle when it can, else its own Python classes. Nothing in the server
# pickles, so it keeps pickle without _pickle: ~0.15 MB less.
with without("curses", "colorama", "_pickle"):
    import tornado.log

import tornado.httpserver
import tornado.httputil
import tornado.iostream
import tornado.netutil
import tornado.web
import tornado.websocket

from worker.identity import parse_public_key
from wsserver import console, rpc, tasks
from wsserver.config import MAX_MESSAGE_SIZE, ServerConfig
from wsserver.frames import CircleProtocol
from wsserver.origins import host_allowed, origin_allowed
from wsserver.session import Connection, FailedLoginLog, Session

log = logging.getLogger(__name__)

HEALTH_REDIS_TIMEOUT = 2.0
"""Seconds /health waits for Redis to answer PING."""
PING_INTERVAL = 30
"""Seconds between WebSocket pings, so dead clients are noticed and dropped."""
CLOSE_GRACE = 5.0
"""Seconds shutdown waits for clients to answer the close frame."""
POLICY_VIOLATION = 1008
"""WebSocket close code for a connection closed after too many failed logins."""
CIRCLE_KEY_PATH = r"/((?:0[xX])?[0-9a-fA-F]{64,130})"
"""The path original Circles clients connect to: the circle's public key (checked in ``get``)."""
_SHORT_TEXT_HEADERS = [bytes((0x81, size)) for size in range(126)]
"""Frame headers of an unmasked, final text frame of 0-125 bytes (RFC 6455 section 5.2)."""
_MEDIUM_TEXT_HEADER = struct.Struct("!BBH")
_LONG_TEXT_HEADER = struct.Struct("!BBQ")


def text_frame(data: bytes) -> bytes:
    """``data`` as one final, unmasked WebSocket text frame, as Tornado's server side writes it
    (no compression: the server never offers permessage-deflate)."""
    size = len(data)
    if size < 126:
        return _SHORT_TEXT_HEADERS[size] + data
    if size <= 0xFFFF:
        return _MEDIUM_TEXT_HEADER.pack(0x81, 126, size) + data
    return _LONG_TEXT_HEADER.pack(0x81, 127, size) + data


class CircleSocket(tornado.websocket.WebSocketHandler):
    """One client connection. A message is answered as far as it can be without waiting, and
    a play when its reply arrives (a batch, and a timed-out play, in a task): a slow play never
    holds up a whoami sent after it."""

    def initialize(self, server: CircleServer) -> None:
        self.server = server
        connection = Connection(self.request.host, self.request.protocol == "https",
                                self.request.remote_ip or "")
        self.session = Session(server.config, server.redis, connection, server.failed_logins)
        self.running: set[asyncio.Future[Any]] = set()
        self.in_flight = 0

    def prepare(self) -> None:
        # Here rather than in an overridden get(): every message of the connection is read
        # inside get(), so a wrapper around it would cost a coroutine step per message.
        if self.path_args and not self._is_this_circle(self.path_args[0]):
            raise tornado.web.HTTPError(404)

    def _is_this_circle(self, key: str) -> bool:
        try:
            return parse_public_key(key) == self.server.config.owner
        except ValueError:
            return False

    def check_origin(self, origin: str) -> bool:
        # Only called when the client sent an Origin (browsers always do); others pass.
        allowed = origin_allowed(origin, self.request.host, self.server.config.allowed_origins)
        if not allowed:
            log.debug("refused a WebSocket from origin %.100r (host %.100r)", origin,
                     self.request.host)
        return allowed

    def get_websocket_protocol(self) -> tornado.websocket.WebSocketProtocol | None:
        # Tornado's own choice, with its frame reader swapped for wsserver.frames' leaner one.
        protocol = super().get_websocket_protocol()
        if type(protocol) is tornado.websocket.WebSocketProtocol13:
            protocol.__class__ = CircleProtocol
        return protocol

    def open(self, *args: str, **kwargs: str) -> None:
        self.server.connections.add(self)
        log.debug("connection opened from %s", self.request.remote_ip)

    def on_message(self, message: str | bytes) -> None:
        is_batch, items = rpc.parse_message(message)
        limit = self.server.config.max_in_flight
        if self.in_flight + len(items) > limit:
            busy = rpc.RpcError(rpc.TOO_MANY_REQUESTS, f"at most {limit} requests may run at once")
            answers = [rpc.error_response(getattr(item, "id", None), busy) for item in items
                       if not (isinstance(item, rpc.Request) and item.is_notification)]
            self._send(answers if is_batch else (answers[0] if answers else None))
            return
        self.in_flight += len(items)
        if is_batch:
            self._track(asyncio.ensure_future(self._handle_batch(items)))
        else:
            self._start(items[0])

    def _start(self, item: rpc.Request | rpc.Invalid) -> None:
        """Answer a single request now, or once its play's round trip is done (no task)."""
        if isinstance(item, rpc.Invalid):
            self._finish(item, rpc.error_response(item.id, item.error))
            return
        try:
            outcome = self.session.start(item)
        except Exception as exc:
            self._finish(item, _error_response(item, exc))
            return
        if isinstance(outcome, tasks.QueuedScript):
            self.running.add(outcome.replies)
            outcome.replies.add_settle_callback(self._play_done, item, outcome)
        else:
            self._finish(item, rpc.result_response(item.id, outcome))

    def _play_done(self, item: rpc.Request, queued: tasks.QueuedScript,
                   replies: tasks.Exchange) -> None:
        """A single play's round trip is done (it runs as the Redis reply is read): answer it,
        or withdraw it in a task when the worker did not answer in time. Nothing to do when the
        connection closed meanwhile."""
        self.running.discard(replies)
        if replies.cancelled():
            return
        try:
            result = self.session.play_answer(queued)
        except Exception as exc:
            response = _error_response(item, exc)
        else:
            if result is None:
                self._track(asyncio.ensure_future(self._finish_late_play(item, queued)))
                return
            response = rpc.result_response(item.id, result)
        try:
            self._finish(item, response)
        except Exception:  # must not reach the Redis connection's reader
            log.exception("could not answer %s", item.method)

    async def _finish_late_play(self, item: rpc.Request, queued: tasks.QueuedScript) -> None:
        """Answer a play the worker did not answer in time, once it is withdrawn."""
        try:
            response = rpc.result_response(item.id, await self.session.finish_play(queued))
        except Exception as exc:
            response = _error_response(item, exc)
        self._finish(item, response)

    def _finish(self, item: rpc.Request | rpc.Invalid, response: dict[str, Any]) -> None:
        """Send a single request's response (none for a notification); it is no longer in flight."""
        self.in_flight -= 1
        if item.id is not rpc.NO_ID:
            self._send(response)
        if self.session.failed_logins:
            self._close_after_failed_logins()

    async def _handle_batch(self, items: list[rpc.Request | rpc.Invalid]) -> None:
        """Answer a batch in one message once all its requests are answered."""
        try:
            answers = await asyncio.gather(*map(self._answer, items))
            self._send([answer for answer in answers if answer is not None])
        finally:
            self.in_flight -= len(items)
        self._close_after_failed_logins()

    async def _answer(self, item: rpc.Request | rpc.Invalid) -> dict[str, Any] | None:
        if isinstance(item, rpc.Invalid):
            return rpc.error_response(item.id, item.error)
        try:
            response = rpc.result_response(item.id, await self.session.call(item))
        except Exception as exc:
            response = _error_response(item, exc)
        return None if item.is_notification else response

    def _track(self, running: asyncio.Future[Any]) -> None:
        """Keep ``running`` until it is done, so closing the connection can cancel it."""
        self.running.add(running)
        running.add_done_callback(self.running.discard)

    def _close_after_failed_logins(self) -> None:
        if self.session.too_many_failures and self.ws_connection is not None:
            self.close(POLICY_VIOLATION, "too many failed logins")

    def _send(self, payload: Any) -> None:
        if payload is None or payload == []:
            return
        try:
            self._write_text(rpc.encode(payload))
        except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
            log.debug("client left before its answer was sent")

    def _write_text(self, text: str) -> None:
        """Send ``text`` as one text message: the same frame as ``write_message``, written with
        the socket's own ``send`` while nothing else waits to be written.

        Why: ``write_message`` costs a task, two futures and about 25 Python calls per message,
        a sixth of a play's CPU in the server. Whatever the kernel does not take at once (or a
        send error) goes through Tornado's stream, which queues it after nothing and reports
        errors as usual; so do TLS streams and any write while Tornado still holds unsent bytes
        (e.g. a ping), which keeps frames in order.
        """
        conn = self.ws_connection
        if conn is None or conn.is_closing():
            raise tornado.websocket.WebSocketClosedError()
        stream = conn.stream
        frame = text_frame(text.encode())
        if type(stream) is not tornado.iostream.IOStream or stream.writing():
            stream.write(frame)
            return
        try:
            sent = stream.socket.send(frame)
        except OSError:  # would block, or broken: Tornado's write retries it and owns the error
            sent = 0
        if sent < len(frame):
            stream.write(frame[sent:] if sent else frame)

    def on_close(self) -> None:
        for task in list(self.running):
            task.cancel()
        self.server.connections.discard(self)
        log.debug("connection closed from %s (code %s)", self.request.remote_ip, self.close_code)


def _error_response(item: rpc.Request, exc: Exception) -> dict[str, Any]:
    """The response to a request whose method raised ``exc``: its ``rpc.RpcError``, or else an
    internal error (logged, since it is a bug)."""
    if not isinstance(exc, rpc.RpcError):
        log.error("unexpected error in %s", item.method, exc_info=exc)
        exc = rpc.RpcError(rpc.INTERNAL_ERROR)
    return rpc.error_response(item.id, exc)


class CircleApplication(tornado.web.Application):
    """A Tornado application that answers 403 to any request whose Host does not name this
    server (DNS rebinding), before any handler runs."""

    def __init__(self, server: CircleServer, *args: Any, **kwargs: Any) -> None:
        self.circle_server = server
        super().__init__(*args, **kwargs)

    def find_handler(self, request: tornado.httputil.HTTPServerRequest,
                     **kwargs: Any) -> tornado.web._HandlerDelegate:
        if not host_allowed(request.headers.get("Host"), self.circle_server.config.host_names):
            log.debug("refused a request for host %.100r", request.headers.get("Host"))
            return self.get_handler_delegate(request, tornado.web.ErrorHandler,
                                             {"status_code": 403})
        return super().find_handler(request, **kwargs)


class HealthHandler(tornado.web.RequestHandler):
    """``GET /health``: 200 when this server and its Redis answer, 503 with a reason otherwise."""

    def initialize(self, server: CircleServer) -> None:
        self.server = server

    async def get(self) -> None:
        body: dict[str, Any] = {"status": "ok", "circle": self.server.config.public_key}
        try:
            async with asyncio.timeout(HEALTH_REDIS_TIMEOUT):  # keeps a cancel (wait_for may not)
                await self.server.redis.ping()
        except (tasks.RedisFailure, OSError, asyncio.TimeoutError) as exc:
            body.update(status="unavailable", reason=f"redis unreachable: {exc or 'timeout'}")
            self.set_status(503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class CircleServer:
    """One circle's server: listen, serve, and stop cleanly."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.redis = tasks.connect(config.redis_url, config.redis_connections, config.play_timeout)
        self.connections: set[CircleSocket] = set()
        self.failed_logins = FailedLoginLog()
        self.http: tornado.httpserver.HTTPServer | None = None

    def application(self) -> tornado.web.Application:
        """The routes, with the 1 MiB message cap and keep-alive pings."""
        return CircleApplication(
            self,
            [(r"/ws/?", CircleSocket, {"server": self}),
             (r"/health", HealthHandler, {"server": self}),
             (CIRCLE_KEY_PATH, CircleSocket, {"server": self}),
             *console.routes()],
            websocket_max_message_size=MAX_MESSAGE_SIZE,
            websocket_ping_interval=PING_INTERVAL,
        )

    def listen(self) -> int:
        """Bind ``host:port`` (raises OSError, e.g. when in use); return the port bound."""
        self.http = tornado.httpserver.HTTPServer(self.application(), xheaders=False)
        sockets = tornado.netutil.bind_sockets(self.config.port, self.config.host)
        self.http.add_sockets(sockets)
        return sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting, close every connection (code 1001), release Redis."""
        if self.http is not None:
            self.http.stop()
        for connection in list(self.connections):
            connection.close(1001, "server shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_GRACE
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.http is not None:
            await self.http.close_all_connections()
        self.failed_logins.flush()
        await self.redis.aclose()
