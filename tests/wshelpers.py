"""Helpers shared by the WebSocket server tests: a real ``python -m wsserver`` / ``python -m worker``
subprocess each, real WebSocket connections, real signatures."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
import tornado.websocket
from coincurve import PrivateKey

from worker import protocol
from wsserver.auth import sign_message
from wsserver.client import CircleClient, CircleRpcError

ROOT = Path(__file__).resolve().parent.parent


def pub(key: PrivateKey, compressed: bool = True) -> str:
    return key.public_key.format(compressed=compressed).hex()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CIRCLES_REDIS_URL", None)
    return env


class Server:
    """A ``python -m wsserver`` subprocess; ``url`` is its WebSocket endpoint."""

    def __init__(self, redis_url: str, circle: PrivateKey, *extra: str,
                 redis_from_env: bool = False) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.health_url = f"http://127.0.0.1:{self.port}/health"
        env = child_env()
        if redis_from_env:
            env["CIRCLES_REDIS_URL"] = redis_url
        else:
            extra = ("--redis-url", redis_url, *extra)
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wsserver", "--name", "test", "--public-key", pub(circle),
             "--host", "127.0.0.1", "--port", str(self.port), *extra],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while health(self.health_url) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wsserver did not start: {self.stop()[1]}")
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        """SIGTERM the server; its exit code and everything it logged."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.seek(0)
        return self.proc.returncode, self.log.read()


def health(url: str) -> tuple[int, dict[str, Any]] | None:
    """``(status, body)`` of GET /health, or None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None


@contextlib.contextmanager
def running_worker(redis_url: str, circle: PrivateKey, data: Path) -> Iterator[None]:
    """The real worker for ``circle``'s queue, from its first heartbeat until the block ends."""
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--name", "test", "--public-key", pub(circle),
         "--data-dir", str(data), "--redis-url", redis_url],
        cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT, text=True)
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 20
    while not client.exists(protocol.heartbeat_key(pub(circle))):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            log.seek(0)
            raise RuntimeError(f"worker did not start: {log.read()}")
        time.sleep(0.05)
    client.close()
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def exchange(url: str, *messages: str | bytes) -> list[Any]:
    """Send raw messages (bytes as binary frames) on one connection; the answer to each."""
    connection = await tornado.websocket.websocket_connect(url)
    answers = []
    for message in messages:
        await connection.write_message(message, binary=isinstance(message, bytes))
        answers.append(json.loads(await connection.read_message()))
    connection.close()
    return answers


def request(method: str, params: Any = None, request_id: Any = 1) -> str:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        body["params"] = params
    return json.dumps(body)


async def raw_login(connection: Any, key: PrivateKey) -> None:
    """Log a raw WebSocket connection in as ``key``."""
    await connection.write_message(request("fetch_nonce", [pub(key)], request_id="nonce"))
    nonce = json.loads(await connection.read_message())["result"]["nonce"]
    await connection.write_message(request(
        "authenticate", [pub(key), sign_message(key.to_hex(), nonce)], request_id="login"))
    assert json.loads(await connection.read_message())["result"]["authenticated"] is True


async def rpc_error(client: CircleClient, method: str, params: Any = None) -> CircleRpcError:
    with pytest.raises(CircleRpcError) as caught:
        await client.call(method, params)
    return caught.value
