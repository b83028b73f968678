"""The circle WebSocket server (python -m wsserver) over real sockets, Redis and workers.

Servers and workers run as subprocesses exactly as supervisord starts them; clients are real
WebSocket connections signing real nonces with coincurve keys.
"""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
import tornado.websocket
from coincurve import PrivateKey

from conftest import redis_server_binary
from worker import protocol
from worker.identity import address_of
from wsserver.auth import sign_message
from wsserver.client import CircleClient, CircleClientError, CircleRpcError, play_script
from wshelpers import (ROOT, Server, child_env, exchange, free_port, health, pub, raw_login,
                       request, rpc_error, run, running_worker)
OWNER, MEMBER, STRANGER = PrivateKey(), PrivateKey(), PrivateKey()
OFFLINE_CIRCLE = PrivateKey()
"""A circle whose worker never runs: its plays time out."""


@pytest.fixture(scope="module")
def worker(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real worker for OWNER's circle, running until the module's tests are done."""
    with running_worker(redis_url, OWNER, tmp_path_factory.mktemp("circle-data")):
        yield


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    """OWNER's circle with MEMBER as a member; auth on."""
    running = Server(redis_url, OWNER, "--member", pub(MEMBER))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def offline(redis_url: str) -> Iterator[Server]:
    """A circle nobody serves, with a short play timeout; OWNER is a member."""
    running = Server(redis_url, OFFLINE_CIRCLE, "--member", pub(OWNER), "--play-timeout", "1.5")
    yield running
    running.stop()


# --- health -----------------------------------------------------------------------------------

def test_health_names_the_circle(server: Server) -> None:
    assert health(server.health_url) == (200, {"status": "ok", "circle": pub(OWNER)})


def test_redis_url_comes_from_the_environment_by_default(tmp_path: Path) -> None:
    missing = tmp_path / "env-redis.sock"
    from_env = Server(f"unix://{missing}", OWNER, redis_from_env=True)
    try:
        status, body = health(from_env.health_url)
        assert status == 503 and str(missing) in body["reason"]
    finally:
        from_env.stop()


def test_health_is_503_and_play_fails_cleanly_when_redis_is_down(tmp_path: Path) -> None:
    down = Server(f"unix://{tmp_path}/no-redis.sock", OWNER)
    try:
        status, body = health(down.health_url)
        assert status == 503
        assert body["circle"] == pub(OWNER) and "redis unreachable" in body["reason"]

        async def scenario() -> CircleRpcError:
            async with CircleClient(down.url) as client:
                await client.authenticate(OWNER.to_hex())
                return await rpc_error(client, "play", {"script": "1"})

        error = run(scenario())
        assert error.code == -32603 and "task queue unavailable" in error.data
    finally:
        down.stop()


def test_server_carries_on_after_a_redis_restart(tmp_path: Path) -> None:
    sock = tmp_path / "own.sock"

    def start_redis() -> subprocess.Popen:
        proc = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm",
             "700", "--dir", str(tmp_path), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        return proc

    redis_proc = start_redis()
    running = Server(f"unix://{sock}", OWNER)
    try:
        assert health(running.health_url)[0] == 200  # leaves an idle connection behind
        redis_proc.terminate()
        redis_proc.wait(10)
        redis_proc = start_redis()
        # The first request after the restart already works: the stale connection is replaced.
        assert health(running.health_url) == (200, {"status": "ok", "circle": pub(OWNER)})
    finally:
        running.stop()
        redis_proc.terminate()
        redis_proc.wait(10)


# --- authentication ---------------------------------------------------------------------------

def test_owner_logs_in_and_whoami_reports_it(server: Server) -> None:
    async def scenario() -> tuple[dict[str, Any], bool, dict[str, Any]]:
        async with CircleClient(server.url) as client:
            before = await client.whoami()
            ok = await client.authenticate(OWNER.to_hex())
            return before, ok, await client.whoami()

    before, ok, after = run(scenario())
    assert before == {"pubkey": None, "address": None, "circle": pub(OWNER), "circle_name": "test",
                      "authenticated": False, "may_play": False}
    assert ok is True
    assert after == {"pubkey": pub(OWNER), "address": address_of(pub(OWNER)), "circle": pub(OWNER),
                     "circle_name": "test", "authenticated": True, "may_play": True}


def test_nonce_has_an_expiry_five_minutes_ahead(server: Server) -> None:
    async def scenario() -> dict[str, Any]:
        async with CircleClient(server.url) as client:
            return await client.fetch_nonce(pub(OWNER))

    issued = run(scenario())
    assert isinstance(issued["nonce"], str) and len(issued["nonce"]) >= 32
    assert 290 <= issued["expires_at"] - time.time() <= 301


def test_uncompressed_key_and_wallet_style_signature_log_in(server: Server) -> None:
    async def scenario() -> dict[str, Any]:
        async with CircleClient(server.url) as client:
            uncompressed = pub(MEMBER, compressed=False)
            nonce = (await client.fetch_nonce(uncompressed))["nonce"]
            signature = "0x" + sign_message(MEMBER.to_hex(), nonce)
            await client.call("authenticate", [uncompressed, signature])
            return await client.whoami()

    assert run(scenario())["pubkey"] == pub(MEMBER)


async def login_error(url: str, nonce_for: PrivateKey, signer: PrivateKey, claimed: PrivateKey,
                      signature: str | None = None) -> tuple[CircleRpcError, dict[str, Any]]:
    async with CircleClient(url) as client:
        nonce = (await client.fetch_nonce(pub(nonce_for)))["nonce"]
        signature = signature or sign_message(signer.to_hex(), nonce)
        error = await rpc_error(client, "authenticate",
                                {"pubkey": pub(claimed), "signature": signature})
        return error, await client.whoami()


def test_signature_by_another_key_is_refused(server: Server) -> None:
    error, me = run(login_error(server.url, OWNER, STRANGER, OWNER))
    assert (error.code, error.message) == (-32002, "Invalid Credentials")
    assert me["authenticated"] is False


def test_nonce_fetched_for_another_key_is_refused(server: Server) -> None:
    error, me = run(login_error(server.url, STRANGER, OWNER, OWNER))
    assert error.code == -32002 and "fetch_nonce" in error.data
    assert me["authenticated"] is False


def test_malformed_signature_is_refused(server: Server) -> None:
    error, me = run(login_error(server.url, OWNER, OWNER, OWNER, signature="0xdeadbeef"))
    assert error.code == -32002 and "65 bytes" in error.data
    assert me["authenticated"] is False


def test_nonce_can_be_spent_only_once(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as client:
            nonce = (await client.fetch_nonce(pub(OWNER)))["nonce"]
            params = {"pubkey": pub(OWNER), "signature": sign_message(OWNER.to_hex(), nonce)}
            assert (await client.call("authenticate", params))["authenticated"] is True
            return await rpc_error(client, "authenticate", params)

    assert run(scenario()).code == -32002


def test_nonce_is_only_valid_on_the_connection_that_fetched_it(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as first, CircleClient(server.url) as second:
            nonce = (await first.fetch_nonce(pub(OWNER)))["nonce"]
            return await rpc_error(second, "authenticate", {
                "pubkey": pub(OWNER), "signature": sign_message(OWNER.to_hex(), nonce)})

    assert run(scenario()).code == -32002


def test_expired_nonce_is_refused(redis_url: str) -> None:
    short = Server(redis_url, OWNER, "--nonce-ttl", "0.2")
    try:
        async def scenario() -> CircleRpcError:
            async with CircleClient(short.url) as client:
                nonce = (await client.fetch_nonce(pub(OWNER)))["nonce"]
                await asyncio.sleep(0.5)  # outlive the 0.2 s TTL
                return await rpc_error(client, "authenticate", {
                    "pubkey": pub(OWNER), "signature": sign_message(OWNER.to_hex(), nonce)})

        assert run(scenario()).code == -32002
    finally:
        short.stop()


def test_nonce_for_an_invalid_key_is_invalid_params(server: Server) -> None:
    [answer] = run(exchange(server.url, request("fetch_nonce", {"pubkey": "02abc"})))
    assert answer["error"]["code"] == -32602 and "pubkey" in answer["error"]["data"]


def test_logs_name_the_keys_but_never_signatures(redis_url: str) -> None:
    logged = Server(redis_url, OWNER)
    try:
        async def scenario() -> list[str]:
            async with CircleClient(logged.url) as client:
                nonce = (await client.fetch_nonce(pub(OWNER)))["nonce"]
                forged = sign_message(STRANGER.to_hex(), nonce)
                await rpc_error(client, "authenticate", {"pubkey": pub(OWNER), "signature": forged})
                nonce = (await client.fetch_nonce(pub(OWNER)))["nonce"]
                good = sign_message(OWNER.to_hex(), nonce)
                await client.call("authenticate", {"pubkey": pub(OWNER), "signature": good})
                return [forged, good]

        signatures = run(scenario())
    finally:
        _, log = logged.stop()
    assert f"authenticated {pub(OWNER)}" in log and "login refused" in log
    assert not any(signature[:40] in log for signature in signatures)
    assert OWNER.to_hex() not in log and STRANGER.to_hex() not in log


# --- JSON-RPC framing -------------------------------------------------------------------------

@pytest.mark.parametrize("message, code, reply_id", [
    ("{not json", -32700, None),
    ("[]", -32600, None),
    ('"just a string"', -32600, None),
    ('{"jsonrpc": "1.0", "method": "whoami", "id": 7}', -32600, 7),
    ('{"jsonrpc": "2.0", "id": 7}', -32600, 7),
    ('{"jsonrpc": "2.0", "method": 5, "id": 7}', -32600, 7),
    ('{"jsonrpc": "2.0", "method": "whoami", "params": "x", "id": 7}', -32600, 7),
    ('{"jsonrpc": "2.0", "method": "whoami", "id": {"a": 1}}', -32600, None),
    ('{"jsonrpc": "2.0", "method": "launch", "id": 7}', -32601, 7),
    ('{"jsonrpc": "2.0", "method": "play", "params": {}, "id": 7}', -32602, 7),
    ('{"jsonrpc": "2.0", "method": "play", "params": {"script": 1}, "id": 7}', -32602, 7),
    ('{"jsonrpc": "2.0", "method": "play", "params": {"script": "1", "x": 2}, "id": 7}', -32602, 7),
    ('{"jsonrpc": "2.0", "method": "play", "params": ["1", "2"], "id": 7}', -32602, 7),
    ('{"jsonrpc": "2.0", "method": "whoami", "params": [1], "id": "seven"}', -32602, "seven"),
    ('{"jsonrpc": "2.0", "method": "play", "params": ["1"], "id": 7}', -32001, 7),
])
def test_malformed_requests_get_the_standard_error(server: Server, message: str, code: int,
                                                   reply_id: Any) -> None:
    [answer] = run(exchange(server.url, message, request("whoami", request_id=99)))[:1]
    assert answer["jsonrpc"] == "2.0"
    assert answer["error"]["code"] == code and answer["id"] == reply_id


def test_connection_keeps_serving_after_bad_input(server: Server) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    answers = run(exchange(server.url, b"\xff\xfe{", deep, request("whoami", request_id=3)))
    assert [a.get("error", {}).get("code") for a in answers] == [-32700, -32700, None]
    assert answers[2]["result"]["circle"] == pub(OWNER)


def test_batch_answers_each_request_and_skips_notifications(server: Server) -> None:
    batch = json.dumps([
        {"jsonrpc": "2.0", "method": "whoami", "id": "a"},
        {"jsonrpc": "2.0", "method": "whoami"},
        {"jsonrpc": "2.0", "method": "nope", "id": "b"},
        42,
    ])
    [answers] = run(exchange(server.url, batch))
    assert [(a["id"], "result" in a, a.get("error", {}).get("code")) for a in answers] == [
        ("a", True, None), ("b", False, -32601), (None, False, -32600)]


def test_notification_gets_no_answer(server: Server) -> None:
    async def scenario() -> Any:
        connection = await tornado.websocket.websocket_connect(server.url)
        await connection.write_message(json.dumps({"jsonrpc": "2.0", "method": "whoami"}))
        await connection.write_message(request("whoami", request_id=5))
        answer = json.loads(await connection.read_message())
        connection.close()
        return answer

    assert run(scenario())["id"] == 5


def test_oversized_message_closes_only_that_connection(server: Server) -> None:
    async def scenario() -> tuple[Any, int | None, Any, Any]:
        bystander = await tornado.websocket.websocket_connect(server.url)
        big = await tornado.websocket.websocket_connect(server.url)
        padding = "x" * (1024 * 1024)
        await big.write_message(request("play", {"script": padding}))
        closed = await big.read_message()
        await bystander.write_message(request("whoami", request_id=1))
        still_served = json.loads(await bystander.read_message())
        just_under = request("play", {"script": "x" * (1024 * 1024 - 200)})
        await bystander.write_message(just_under)
        under_answer = json.loads(await bystander.read_message())
        bystander.close()
        return closed, big.close_code, still_served, under_answer

    closed, code, still_served, under_answer = run(scenario())
    assert closed is None and code == 1009
    assert still_served["result"]["circle"] == pub(OWNER)
    assert under_answer["error"]["code"] == -32001


def test_slow_play_does_not_hold_up_other_calls_on_the_connection(offline: Server) -> None:
    async def scenario() -> list[Any]:
        connection = await tornado.websocket.websocket_connect(offline.url)
        await raw_login(connection, OWNER)
        await connection.write_message(request("play", ["40 + 2"], request_id="slow"))
        await connection.write_message(request("whoami", request_id="fast"))
        order = [json.loads(await connection.read_message()) for _ in range(2)]
        connection.close()
        return order

    first, second = run(scenario())
    assert first["id"] == "fast" and first["result"]["pubkey"] == pub(OWNER)
    assert second["id"] == "slow" and second["error"]["code"] == -32004


def test_a_play_is_answered_as_its_reply_arrives_while_an_earlier_play_waits(
        redis_url: str, redis_client: redis.Redis) -> None:
    # The test is the circle's worker here: it answers only the second play.
    circle = PrivateKey()
    queue = protocol.queue_key(pub(circle))
    running = Server(redis_url, circle, "--member", pub(OWNER), "--play-timeout", "120")

    async def scenario() -> Any:
        connection = await tornado.websocket.websocket_connect(running.url)
        await raw_login(connection, OWNER)
        await connection.write_message(request("play", ["'first'"], request_id="first"))
        await connection.write_message(request("play", ["'second'"], request_id="second"))
        deadline = time.monotonic() + 30
        while redis_client.llen(queue) < 2:
            assert time.monotonic() < deadline, "the plays were not queued"
            await asyncio.sleep(0.01)
        [second] = [task_id for task_id in redis_client.lrange(queue, 0, -1)
                    if redis_client.hget(protocol.details_key(task_id), "script") == "'second'"]
        redis_client.lpush(protocol.reply_key(second), protocol.encode_reply(
            protocol.TaskResult(second, protocol.STATUS_COMPLETED, "second")))
        # bounded, so a server that holds the second play behind the first fails the test
        # (its first play would only end at the 120 s play timeout) instead of hanging it
        answer = json.loads(await asyncio.wait_for(connection.read_message(), 60))
        connection.close()
        return answer

    try:
        answer = run(scenario())
    finally:
        running.stop()
        redis_client.delete(queue)
    assert answer == {"jsonrpc": "2.0", "result": {"output": "second"}, "id": "second"}


def test_play_fails_cleanly_when_redis_stops_answering(tmp_path: Path) -> None:
    sock = tmp_path / "own.sock"
    redis_proc = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm",
         "700", "--dir", str(tmp_path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = None
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert redis_proc.poll() is None and time.monotonic() < deadline, "no redis-server"
            time.sleep(0.02)
        running = Server(f"unix://{sock}", OWNER, "--play-timeout", "1")
        assert health(running.health_url)[0] == 200
        redis_proc.send_signal(signal.SIGSTOP)  # takes the play's commands, never answers

        async def scenario() -> Any:
            connection = await tornado.websocket.websocket_connect(running.url)
            await raw_login(connection, OWNER)
            await connection.write_message(request("play", ["1"], request_id="hung"))
            # the server gives up after the play timeout + 5 s; the bound only keeps a server
            # that never answers from hanging the test
            answer = json.loads(await asyncio.wait_for(connection.read_message(), 60))
            connection.close()
            return answer

        answer = run(scenario())
        assert answer["id"] == "hung" and answer["error"]["code"] == -32603
        assert "Redis did not answer in time" in answer["error"]["data"]
        redis_proc.send_signal(signal.SIGCONT)
        assert health(running.health_url)[0] == 200  # a fresh connection replaces the hung one
    finally:
        redis_proc.send_signal(signal.SIGCONT)
        if running is not None:
            running.stop()
        redis_proc.terminate()
        redis_proc.wait(10)


def test_oversized_batch_is_an_invalid_request(server: Server) -> None:
    batch = json.dumps([{"jsonrpc": "2.0", "method": "whoami", "id": n} for n in range(51)])
    [answer] = run(exchange(server.url, batch))
    assert answer["error"]["code"] == -32600 and "limit of 50" in answer["error"]["data"]


def test_requests_beyond_the_in_flight_limit_are_refused(offline: Server) -> None:
    async def scenario() -> tuple[Any, list[Any]]:
        connection = await tornado.websocket.websocket_connect(offline.url)
        await raw_login(connection, OWNER)
        for first in (0, 50):
            plays = [{"jsonrpc": "2.0", "method": "play", "params": ["1"], "id": n}
                     for n in range(first, min(first + 50, 64))]
            await connection.write_message(json.dumps(plays))
        await connection.write_message(request("whoami", request_id="extra"))
        refused = json.loads(await connection.read_message())
        later = [json.loads(await connection.read_message()) for _ in range(2)]
        connection.close()
        return refused, later

    refused, later = run(scenario())
    assert refused["id"] == "extra" and refused["error"]["code"] == -32005
    assert sorted(len(batch) for batch in later) == [14, 50]
    assert {answer["error"]["code"] for batch in later for answer in batch} == {-32004}


# --- play -------------------------------------------------------------------------------------

async def play_as(url: str, key: PrivateKey | None, script: str) -> str:
    async with CircleClient(url) as client:
        if key is not None:
            await client.authenticate(key.to_hex())
        return await client.play(script)


def test_play_requires_login(server: Server) -> None:
    with pytest.raises(CircleRpcError) as caught:
        run(play_as(server.url, None, "1"))
    assert (caught.value.code, caught.value.message) == (-32001, "Authentication Required")


def test_stranger_is_not_authorized_to_play(server: Server) -> None:
    with pytest.raises(CircleRpcError) as caught:
        run(play_as(server.url, STRANGER, "1"))
    assert (caught.value.code, caught.value.message) == (-32003, "Not Authorized")
    assert pub(STRANGER) in caught.value.data


def test_play_with_no_worker_times_out_and_is_withdrawn(offline: Server,
                                                        redis_client: redis.Redis) -> None:
    with pytest.raises(CircleRpcError) as caught:
        run(play_as(offline.url, OWNER, "40 + 2"))
    assert (caught.value.code, caught.value.message) == (-32004, "Timeout")
    assert redis_client.llen(protocol.queue_key(pub(OFFLINE_CIRCLE))) == 0
    [details] = redis_client.keys(protocol.details_key("*"))
    assert redis_client.hget(details, "status") == "timeout"


def test_owner_plays_and_sees_itself_as_caller(server: Server, worker: None) -> None:
    output = run(play_as(server.url, OWNER, 'print("hi"); CALLER_PUBLIC_KEY'))
    assert output == f"hi\n{pub(OWNER)}"


def test_member_plays_as_itself(server: Server, worker: None) -> None:
    assert run(play_as(server.url, MEMBER, "CALLER_PUBLIC_KEY")) == pub(MEMBER)


def test_script_error_is_an_execution_error_with_its_message(server: Server,
                                                              worker: None) -> None:
    with pytest.raises(CircleRpcError) as caught:
        run(play_as(server.url, OWNER, 'throw "boom at the circle"'))
    assert (caught.value.code, caught.value.message) == (-32000, "Execution Error")
    assert "boom at the circle" in caught.value.data


def test_play_of_a_script_running_longer_than_five_seconds_returns_its_output(
        server: Server, worker: None) -> None:
    script = ("let big = []; big.pad(50000, 1); let t = timestamp();"
              "while t.elapsed < 6.0 { let copy = big; } \"done\"")
    assert run(play_as(server.url, OWNER, script)) == "done"


def test_play_script_convenience_logs_in_and_returns_output(server: Server,
                                                            worker: None) -> None:
    assert play_script(server.url, "6 * 7", OWNER.to_hex(), timeout=30) == "42"


def test_no_auth_circle_plays_anonymously_with_an_empty_caller(redis_url: str,
                                                                worker: None) -> None:
    open_circle = Server(redis_url, OWNER, "--no-auth")
    try:
        assert run(play_as(open_circle.url, None, 'CALLER_PUBLIC_KEY.len()')) == "0"
        assert run(play_as(open_circle.url, STRANGER, "CALLER_PUBLIC_KEY")) == pub(STRANGER)
    finally:
        open_circle.stop()


def test_client_reports_an_unreachable_server_by_url() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    with pytest.raises(CircleClientError, match=f"cannot connect to {url}"):
        play_script(url, "1", timeout=10)


# --- command line and lifecycle ---------------------------------------------------------------

@pytest.mark.parametrize("args, complaint", [
    (["--public-key", "02abc", "--port", "1"], "--public-key"),
    (["--public-key", pub(OWNER), "--port", "http"], "--port"),
    (["--public-key", pub(OWNER), "--port", "70000"], "--port"),
    (["--public-key", pub(OWNER), "--play-timeout", "0"], "--play-timeout"),
    (["--public-key", pub(OWNER), "--member", "zz"], "--member"),
    ([], "--public-key"),
])
def test_bad_arguments_exit_2_naming_the_option(args: list[str], complaint: str) -> None:
    done = subprocess.run([sys.executable, "-m", "wsserver", "--name", "t", *args], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert complaint in done.stderr and "Traceback" not in done.stderr


def test_port_in_use_is_reported_with_the_address(server: Server, redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wsserver", "--name", "t", "--public-key", pub(OWNER),
         "--host", "127.0.0.1", "--port", str(server.port), "--redis-url", redis_url],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"127.0.0.1:{server.port}" in done.stderr and "in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_closes_connections_and_exits_0(redis_url: str) -> None:
    doomed = Server(redis_url, OFFLINE_CIRCLE, "--member", pub(OWNER))

    async def scenario() -> tuple[Any, int | None]:
        connection = await tornado.websocket.websocket_connect(doomed.url)
        await raw_login(connection, OWNER)
        await connection.write_message(request("play", ["1"], request_id="pending"))
        await connection.write_message(request("whoami", request_id="sync"))
        await connection.read_message()  # whoami answered: the play is in flight
        doomed.proc.send_signal(signal.SIGTERM)
        return await connection.read_message(), connection.close_code

    message, close_code = run(scenario())
    code, err = doomed.stop()
    assert message is None and close_code == 1001
    assert code == 0 and "Traceback" not in err and "Error" not in err


def test_client_call_pending_at_shutdown_fails_with_the_reason(redis_url: str) -> None:
    doomed = Server(redis_url, OFFLINE_CIRCLE, "--member", pub(OWNER))

    async def scenario() -> CircleClientError:
        async with CircleClient(doomed.url) as client:
            await client.authenticate(OWNER.to_hex())
            pending = asyncio.ensure_future(client.play("1"))
            await asyncio.sleep(0)  # let the play be sent first
            await client.whoami()  # answered while the play waits for a worker
            doomed.proc.send_signal(signal.SIGTERM)
            with pytest.raises(CircleClientError) as caught:
                await pending
            return caught.value

    try:
        error = run(scenario())
    finally:
        doomed.stop()
    assert "server shutting down" in str(error)
