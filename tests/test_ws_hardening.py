"""Hostile and unlucky input against a real server: non-finite ids, huge bad values, login floods,
SIGHUP, and replies near the output cap."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest
import tornado.websocket
from coincurve import PrivateKey

from worker.identity import CURVE_ORDER
from wsserver.auth import sign_message
from wsserver.client import CircleClient
from wshelpers import Server, pub, request, run, running_worker

OWNER, STRANGER = PrivateKey(), PrivateKey()


def strict_json(text: str) -> Any:
    """Decode as a strict JSON parser would: NaN and Infinity are not JSON."""
    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    running = Server(redis_url, OWNER)
    yield running
    running.stop()


async def answers(url: str, *messages: str) -> list[Any]:
    connection = await tornado.websocket.websocket_connect(url)
    replies = []
    for message in messages:
        await connection.write_message(message)
        replies.append(strict_json(await connection.read_message()))
    connection.close()
    return replies


@pytest.mark.parametrize("raw_id", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_id_is_an_invalid_request_answered_with_id_null(server: Server,
                                                                   raw_id: str) -> None:
    message = f'{{"jsonrpc": "2.0", "method": "whoami", "id": {raw_id}}}'
    [answer] = run(answers(server.url, message))
    assert answer["id"] is None and answer["error"]["code"] == -32600


def test_huge_bad_values_are_echoed_only_as_a_short_excerpt(server: Server) -> None:
    huge = "z" * 900_000
    replies = run(answers(server.url, request("fetch_nonce", {"pubkey": huge}),
                          request(huge[:500_000]), request("whoami", {huge[:500_000]: "x"})))
    for reply in replies:
        assert len(json.dumps(reply)) < 400, reply["error"]
    assert [reply["error"]["code"] for reply in replies] == [-32602, -32601, -32602]
    assert "900000 characters" in replies[0]["error"]["data"]


async def failed_logins(url: str, attempts: int) -> tuple[list[Any], int | None]:
    """Send forged logins until ``attempts`` or the server closes; the answers and close code."""
    connection = await tornado.websocket.websocket_connect(url)
    received = []
    for attempt in range(attempts):
        await connection.write_message(request("fetch_nonce", [pub(OWNER)], request_id="n"))
        raw = await connection.read_message()
        if raw is None:
            break
        nonce = json.loads(raw)["result"]["nonce"]
        forged = sign_message(STRANGER.to_hex(), nonce)
        await connection.write_message(request("authenticate", [pub(OWNER), forged],
                                               request_id=attempt))
        raw = await connection.read_message()
        if raw is None:
            break
        received.append(json.loads(raw))
    return received, connection.close_code


def test_connection_is_closed_after_ten_failed_logins_and_logged_as_a_summary(
        redis_url: str) -> None:
    flooded = Server(redis_url, OWNER)
    try:
        refused = [run(failed_logins(flooded.url, 12)) for _ in range(3)]
    finally:
        _, log = flooded.stop()
    for received, close_code in refused:
        assert [r["error"]["code"] for r in received] == [-32002] * 10
        assert close_code == 1008
    lines = [line for line in log.splitlines() if "login refused" in line]
    counted = sum(int(m.group(1)) if (m := re.search(r"refused (\d+) more", line)) else 1
                  for line in lines)
    assert counted == 30 and len(lines) <= 3, lines


def test_sighup_keeps_the_server_and_its_connections(redis_url: str) -> None:
    hup = Server(redis_url, OWNER)
    try:
        async def scenario() -> Any:
            connection = await tornado.websocket.websocket_connect(hup.url)
            await connection.write_message(request("whoami", request_id=1))
            await connection.read_message()
            hup.proc.send_signal(signal.SIGHUP)
            await connection.write_message(request("whoami", request_id=2))
            answer = json.loads(await connection.read_message())
            connection.close()
            return answer

        assert run(scenario())["result"]["circle"] == pub(OWNER)
        assert hup.proc.poll() is None
    finally:
        code, log = hup.stop()
    assert code == 0 and "SIGHUP" in log


def test_output_near_and_over_the_cap_arrives_and_keeps_the_connection(
        server: Server, redis_url: str, tmp_path: Path) -> None:
    # The worker caps output counted as JSON text (docs/PROTOCOL.md): 900,900 plain bytes fit;
    # 1,001,000 quotes are about 2 MB once escaped, so they are cut, and the reply still fits 1 MiB.
    near_cap = 'let s = ""; s.pad(1000, "x"); for i in 0..900 { print(s); }'
    over_cap = 'let s = ""; s.pad(1000, "\\""); for i in 0..1000 { print(s); }'

    async def scenario() -> tuple[str, str, Any]:
        async with CircleClient(server.url, timeout=120) as client:
            await client.authenticate(OWNER.to_hex())
            near = await client.play(near_cap)
            over = await client.play(over_cap)
            return near, over, await client.whoami()

    with running_worker(redis_url, OWNER, tmp_path):
        near, over, me = run(scenario())
    assert near == "\n".join(["x" * 1000] * 900)
    assert over.startswith('"' * 1000 + "\n") and "output truncated" in over.splitlines()[-1]
    assert len(json.dumps(over).encode()) <= 1024 * 1024
    assert me["authenticated"] is True


def high_s_twin(signature_hex: str) -> str:
    """The other valid signature of the same message by the same key: s -> n - s, v flipped."""
    raw = bytes.fromhex(signature_hex)
    s = int.from_bytes(raw[32:64], "big")
    return (raw[:32] + (CURVE_ORDER - s).to_bytes(32, "big") + bytes([55 - raw[64]])).hex()


def test_high_s_signature_and_hybrid_key_are_refused(server: Server) -> None:
    uncompressed = pub(OWNER, compressed=False)
    hybrid = f"0{6 + int(uncompressed[-2:], 16) % 2}" + uncompressed[2:]  # 06/07 + x + y

    async def scenario() -> list[Any]:
        connection = await tornado.websocket.websocket_connect(server.url)
        await connection.write_message(request("fetch_nonce", [pub(OWNER)], request_id="n"))
        nonce = json.loads(await connection.read_message())["result"]["nonce"]
        twin = high_s_twin(sign_message(OWNER.to_hex(), nonce))
        replies = []
        for message in (request("authenticate", [pub(OWNER), twin]),
                        request("fetch_nonce", [hybrid]), request("whoami")):
            await connection.write_message(message)
            replies.append(json.loads(await connection.read_message()))
        connection.close()
        return replies

    high_s, hybrid_nonce, me = run(scenario())
    assert high_s["error"]["code"] == -32002 and "high s" in high_s["error"]["data"]
    assert hybrid_nonce["error"]["code"] == -32602 and "02/03" in hybrid_nonce["error"]["data"]
    assert me["result"]["authenticated"] is False
