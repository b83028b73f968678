"""A Python client for a circle's WebSocket JSON-RPC server.

``CircleClient`` is async and lets several calls run at once on one connection (answers are
matched by id). ``play_script`` is the one-shot synchronous form ``circlesctl play`` uses.
"""
from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import tornado.httpclient
import tornado.websocket

from worker.identity import address_of
from wsserver.auth import public_key_of, sign_message
from wsserver.config import MAX_REPLY_SIZE

DEFAULT_TIMEOUT = 60.0
"""Seconds a call waits for its answer before ``CircleClientError`` is raised."""


class CircleClientError(Exception):
    """The server could not be reached, went away, or sent something that is not JSON-RPC."""


class CircleRpcError(Exception):
    """The server answered a call with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        detail = f": {data}" if data is not None else ""
        super().__init__(f"{message} ({code}){detail}")


class CircleClient:
    """``async with CircleClient(url) as c: await c.authenticate(key); await c.play(s)``."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._connection: tornado.websocket.WebSocketClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CircleClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the WebSocket; raises ``CircleClientError`` naming the URL when it cannot."""
        try:
            # not wait_for: on Python 3.11 it loses a cancel that arrives as the connection
            # completes, so a Ctrl+C (or SIGTERM turned into one) during connect went unseen
            async with asyncio.timeout(self.timeout):
                self._connection = await tornado.websocket.websocket_connect(
                    self.url, max_message_size=MAX_REPLY_SIZE)
        except (OSError, asyncio.TimeoutError, tornado.httpclient.HTTPClientError) as exc:
            raise CircleClientError(f"cannot connect to {self.url}: {exc or 'timed out'}") from None
        self._reader = asyncio.ensure_future(self._read())

    async def close(self) -> None:
        """Close the connection; calls still waiting fail with ``CircleClientError``."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._reader is not None:
            await self._reader
            self._reader = None

    async def call(self, method: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
        """Send one request and return its result, or raise ``CircleRpcError``."""
        if self._connection is None or self._reader is None or self._reader.done():
            raise CircleClientError(f"not connected to {self.url}")
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        message = {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": request_id}
        try:
            await self._connection.write_message(json.dumps(message))
            async with asyncio.timeout(self.timeout):  # wait_for could swallow a cancel
                return await answer
        except tornado.websocket.WebSocketClosedError:
            raise CircleClientError(f"connection to {self.url} closed") from None
        except asyncio.TimeoutError:
            raise CircleClientError(
                f"no answer to {method} from {self.url} within {self.timeout:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    async def fetch_nonce(self, public_key: str) -> dict[str, Any]:
        """A login challenge for ``public_key``: ``{"nonce": ..., "expires_at": ...}``."""
        return await self.call("fetch_nonce", {"pubkey": public_key})

    async def authenticate(self, private_key_hex: str) -> bool:
        """Log in as the key's owner: fetch a nonce, personal_sign it, send the signature."""
        public_key = public_key_of(private_key_hex)
        nonce = (await self.fetch_nonce(public_key))["nonce"]
        signature = sign_message(private_key_hex, nonce)
        result = await self.call("authenticate", {"pubkey": public_key, "signature": signature})
        return bool(result.get("authenticated"))

    async def sign_in_with_ethereum(self, private_key_hex: str) -> dict[str, Any]:
        """Log in with EIP-4361: fetch the server's message for our address, personal_sign it."""
        address = address_of(public_key_of(private_key_hex))
        message = (await self.call("fetch_nonce", {"address": address}))["message"]
        signature = sign_message(private_key_hex, message)
        return await self.call("authenticate", {"message": message, "signature": signature})

    async def play(self, script: str) -> str:
        """Run a Rhai script on the circle and return its output."""
        return (await self.call("play", {"script": script}))["output"]

    async def whoami(self) -> dict[str, Any]:
        """``{"pubkey", "address", "circle", "circle_name", "authenticated", "may_play"}``."""
        return await self.call("whoami")

    async def _read(self) -> None:
        connection = self._connection
        assert connection is not None
        while True:
            raw = await connection.read_message()
            if raw is None:
                break
            self._deliver(raw)
        reason = connection.close_reason or f"code {connection.close_code}"
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(CircleClientError(f"connection to {self.url} closed: {reason}"))

    def _deliver(self, raw: str | bytes) -> None:
        try:
            decoded = json.loads(raw)
        except ValueError:
            return
        for response in decoded if isinstance(decoded, list) else [decoded]:
            answer = self._pending.get(response.get("id")) if isinstance(response, dict) else None
            if answer is None or answer.done():
                continue
            error = response.get("error")
            if isinstance(error, dict):
                answer.set_exception(CircleRpcError(
                    int(error.get("code", 0)), str(error.get("message", "")), error.get("data")))
            else:
                answer.set_result(response.get("result"))


def play_script(url: str, script: str, private_key_hex: str | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> str:
    """Connect, log in when a key is given, play ``script``, and return its output.

    Raises ``CircleRpcError`` for a JSON-RPC error, ``CircleClientError`` when the server cannot
    be reached and ValueError for a malformed private key (checked before connecting).
    """
    if private_key_hex:
        public_key_of(private_key_hex)

    async def run() -> str:
        async with CircleClient(url, timeout=timeout) as client:
            if private_key_hex:
                await client.authenticate(private_key_hex)
            return await client.play(script)

    return asyncio.run(run())
