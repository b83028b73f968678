"""What the original Circles clients send, against a real server and worker (docs/PROTOCOL.md,
"Original Circles clients")."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
import tornado.httpclient
import tornado.websocket
from coincurve import PrivateKey

from worker import protocol
from wsserver.auth import sign_message
from wshelpers import Server, pub, request, run, running_worker

OWNER, MEMBER = PrivateKey(), PrivateKey()


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    running = Server(redis_url, OWNER, "--member", pub(MEMBER))
    yield running
    running.stop()


def url_for(server: Server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def whoami_at(url: str) -> Any:
    connection = await tornado.websocket.websocket_connect(url)
    await connection.write_message(request("whoami"))
    answer = json.loads(await connection.read_message())
    connection.close()
    return answer["result"]


@pytest.mark.parametrize("path", ["/ws", "/ws/", "/{compressed}", "/0x{compressed}",
                                  "/{uncompressed}"])
def test_websocket_is_served_at_every_documented_path(server: Server, path: str) -> None:
    path = path.format(compressed=pub(OWNER), uncompressed=pub(OWNER, compressed=False))
    assert run(whoami_at(url_for(server, path)))["circle"] == pub(OWNER)


@pytest.mark.parametrize("path", ["/{other}", "/wss", "/ws/x"])
def test_other_paths_are_404(server: Server, path: str) -> None:
    path = path.format(other=pub(MEMBER))
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        run(whoami_at(url_for(server, path)))
    assert caught.value.code == 404


def login_params(form: str, public_key: str, signature: str) -> Any:
    return {
        "named": {"pubkey": public_key, "signature": signature},
        "positional": [public_key, signature],
        "credentials": {"credentials": {"pubkey": public_key, "signature": signature}},
        "object-in-list": [{"pubkey": public_key, "signature": signature}],
    }[form]


async def login(url: str, form: str, key: PrivateKey, public_key: str) -> list[Any]:
    connection = await tornado.websocket.websocket_connect(url)
    await connection.write_message(request("fetch_nonce", [public_key], request_id="n"))
    nonce = json.loads(await connection.read_message())["result"]["nonce"]
    params = login_params(form, public_key, sign_message(key.to_hex(), nonce))
    await connection.write_message(request("authenticate", params, request_id="a"))
    answer = json.loads(await connection.read_message())
    await connection.write_message(request("whoami", request_id="w"))
    me = json.loads(await connection.read_message())["result"]
    connection.close()
    return [answer, me]


@pytest.mark.parametrize("form", ["named", "positional", "credentials", "object-in-list"])
def test_authenticate_accepts_every_params_spelling(server: Server, form: str) -> None:
    answer, me = run(login(server.url, form, MEMBER, pub(MEMBER)))
    assert answer["result"]["authenticated"] is True and answer["result"]["pubkey"] == pub(MEMBER)
    assert me["pubkey"] == pub(MEMBER) and me["may_play"] is True


def test_raw_64_byte_public_key_logs_in(server: Server) -> None:
    raw = pub(MEMBER, compressed=False)[2:]  # x || y, as eth_keys / web3.py print it
    answer, me = run(login(server.url, "named", MEMBER, "0x" + raw))
    assert answer["result"]["pubkey"] == pub(MEMBER) and me["pubkey"] == pub(MEMBER)


@pytest.mark.parametrize("params", [
    {"pubkey": "02abc", "signature": "0x00"},
    ["not-a-key", "0x00"],
    {"credentials": {"pubkey": "04" + "11" * 64, "signature": "0x00"}},
])
def test_authenticate_with_a_malformed_pubkey_is_invalid_params(server: Server, params: Any) -> None:
    async def scenario() -> Any:
        connection = await tornado.websocket.websocket_connect(server.url)
        await connection.write_message(request("authenticate", params))
        answer = json.loads(await connection.read_message())
        connection.close()
        return answer

    error = run(scenario())["error"]
    assert error["code"] == -32602 and error["data"].startswith("pubkey:")


def test_task_hash_without_status_runs_as_pending(redis_url: str, tmp_path: Path) -> None:
    """An original rhai_client writes script, caller and reply queue but no status."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = f"legacy-{time.time_ns()}"
    key = protocol.details_key(task_id)
    client.hset(key, mapping={"script": "40 + 2", "caller_id": pub(MEMBER),
                              "reply_queue_name": protocol.reply_key(task_id)})
    client.lpush(protocol.queue_key(pub(OWNER)), task_id)
    try:
        with running_worker(redis_url, OWNER, tmp_path):
            popped = client.brpop([protocol.reply_key(task_id)], timeout=30)
        assert popped is not None, "the worker never answered the task"
        reply = json.loads(popped[1])
        assert (reply["status"], reply["output"]) == ("completed", "42")
        assert client.hget(key, "status") == "completed" and client.ttl(key) > 0
    finally:
        client.delete(key, protocol.reply_key(task_id))
        client.close()
