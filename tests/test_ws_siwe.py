"""Sign-In with Ethereum against a real server: messages written here and signed with eth_account
(``encode_defunct`` + ``sign_message``), independently of the server's own SIWE code."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from worker.identity import parse_public_key
from wsserver.client import CircleClient, CircleRpcError
from wshelpers import Server, pub, rpc_error, run, running_worker

OWNER = PrivateKey()
MEMBER: LocalAccount = Account.create()
STRANGER: LocalAccount = Account.create()


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    """OWNER's circle; MEMBER is a member by address; one allowed third-party origin."""
    running = Server(redis_url, OWNER, "--member", MEMBER.address,
                     "--origin", "https://app.example.org")
    yield running
    running.stop()


def iso(unix_seconds: float) -> str:
    return datetime.fromtimestamp(int(unix_seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def eip4361(domain: str, address: str, nonce: str, expires_in: float | None = 300) -> str:
    """The message as EIP-4361 lays it out, written here."""
    now = time.time()
    lines = [f"{domain} wants you to sign in with your Ethereum account:", address, "",
             "Let me play on this circle.", "", f"URI: http://{domain}/", "Version: 1",
             "Chain ID: 1", f"Nonce: {nonce}", f"Issued At: {iso(now)}"]
    if expires_in is not None:
        lines.append(f"Expiration Time: {iso(now + expires_in)}")
    return "\n".join(lines)


def signed(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


def domain_of(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


async def nonce_for(client: CircleClient, account: LocalAccount) -> str:
    return (await client.call("fetch_nonce", {"address": account.address}))["nonce"]


def test_member_by_address_signs_in_and_plays_as_its_key(server: Server, redis_url: str,
                                                         tmp_path: Any) -> None:
    async def scenario() -> tuple[Any, Any, str]:
        async with CircleClient(server.url) as client:
            message = eip4361(domain_of(server), MEMBER.address, await nonce_for(client, MEMBER))
            result = await client.call("authenticate",
                                       {"message": message, "signature": signed(MEMBER, message)})
            return result, await client.whoami(), await client.play("CALLER_PUBLIC_KEY")

    with running_worker(redis_url, OWNER, tmp_path):
        result, me, caller = run(scenario())
    key = parse_public_key(MEMBER._key_obj.public_key.to_hex())
    assert result == {"authenticated": True, "address": MEMBER.address.lower(), "pubkey": key}
    assert (me["address"], me["pubkey"], me["may_play"]) == (MEMBER.address.lower(), key, True)
    assert caller == key


def test_server_message_names_this_host_and_a_wallet_signature_of_it_logs_in(
        server: Server) -> None:
    async def scenario() -> tuple[dict[str, Any], Any]:
        async with CircleClient(server.url) as client:
            issued = await client.call("fetch_nonce", {"address": MEMBER.address})
            result = await client.call("authenticate", {
                "message": issued["message"], "signature": signed(MEMBER, issued["message"])})
            return issued, result

    issued, result = run(scenario())
    lines = issued["message"].split("\n")
    assert lines[0] == f"{domain_of(server)} wants you to sign in with your Ethereum account:"
    assert lines[1] == MEMBER.address  # EIP-55 spelling, as wallets show it
    assert f"URI: http://{domain_of(server)}/" in lines and f"Nonce: {issued['nonce']}" in lines
    assert f"Expiration Time: {iso(issued['expires_at'])}" in lines and "Chain ID: 1" in lines
    assert result["authenticated"] is True


def test_a_configured_origin_is_an_accepted_domain(server: Server) -> None:
    async def scenario() -> Any:
        async with CircleClient(server.url) as client:
            message = eip4361("app.example.org", MEMBER.address, await nonce_for(client, MEMBER))
            return await client.call("authenticate",
                                     {"message": message, "signature": signed(MEMBER, message)})

    assert run(scenario())["authenticated"] is True


def refusal(server: Server, build: Any, signer: LocalAccount = MEMBER) -> CircleRpcError:
    """Fetch a nonce, let ``build(nonce)`` write the message, sign it, and expect a refusal."""
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as client:
            message = build(await nonce_for(client, MEMBER))
            error = await rpc_error(client, "authenticate",
                                    {"message": message, "signature": signed(signer, message)})
            assert (await client.whoami())["authenticated"] is False
            return error

    return run(scenario())


def test_message_for_another_domain_is_refused(server: Server) -> None:
    error = refusal(server, lambda nonce: eip4361("evil.example", MEMBER.address, nonce))
    assert error.code == -32002 and "domain 'evil.example'" in error.data


def test_expired_message_is_refused(server: Server) -> None:
    error = refusal(server, lambda nonce: eip4361(domain_of(server), MEMBER.address, nonce,
                                                  expires_in=-60))
    assert error.code == -32002 and "expired" in error.data


def test_message_signed_by_another_account_is_refused(server: Server) -> None:
    error = refusal(server, lambda nonce: eip4361(domain_of(server), MEMBER.address, nonce),
                    signer=STRANGER)
    assert error.code == -32002 and "not by the message's address" in error.data


def test_replayed_message_is_refused(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as client:
            message = eip4361(domain_of(server), MEMBER.address, await nonce_for(client, MEMBER))
            params = {"message": message, "signature": signed(MEMBER, message)}
            assert (await client.call("authenticate", params))["authenticated"] is True
            return await rpc_error(client, "authenticate", params)

    error = run(scenario())
    assert error.code == -32002 and "not a live nonce" in error.data


def test_nonce_from_another_connection_is_refused(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as first, CircleClient(server.url) as second:
            message = eip4361(domain_of(server), MEMBER.address, await nonce_for(first, MEMBER))
            return await rpc_error(second, "authenticate",
                                   {"message": message, "signature": signed(MEMBER, message)})

    error = run(scenario())
    assert error.code == -32002 and "not a live nonce" in error.data


def test_nonce_fetched_for_another_address_is_refused(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as client:
            nonce = await nonce_for(client, MEMBER)
            message = eip4361(domain_of(server), STRANGER.address, nonce)
            return await rpc_error(client, "authenticate",
                                   {"message": message, "signature": signed(STRANGER, message)})

    error = run(scenario())
    assert error.code == -32002 and "another account" in error.data


def test_signed_in_address_that_is_not_a_member_may_not_play(server: Server) -> None:
    async def scenario() -> tuple[Any, Any, CircleRpcError]:
        async with CircleClient(server.url) as client:
            nonce = (await client.call("fetch_nonce", {"address": STRANGER.address}))["nonce"]
            message = eip4361(domain_of(server), STRANGER.address, nonce)
            result = await client.call("authenticate",
                                       {"message": message, "signature": signed(STRANGER, message)})
            return result, await client.whoami(), await rpc_error(client, "play", {"script": "1"})

    result, me, error = run(scenario())
    assert result["authenticated"] is True and me["may_play"] is False
    assert (error.code, error.message) == (-32003, "Not Authorized")
    assert STRANGER.address.lower() in error.data


def test_malformed_message_is_invalid_params(server: Server) -> None:
    async def scenario() -> CircleRpcError:
        async with CircleClient(server.url) as client:
            return await rpc_error(client, "authenticate",
                                   {"message": "sign me", "signature": "0x" + "00" * 65})

    error = run(scenario())
    assert error.code == -32602 and error.data.startswith("message: line 1")


def test_python_client_signs_in_with_ethereum(server: Server) -> None:
    async def scenario() -> Any:
        async with CircleClient(server.url) as client:
            await client.sign_in_with_ethereum(MEMBER.key.hex())
            return await client.whoami()

    me = run(scenario())
    assert me["address"] == MEMBER.address.lower() and me["may_play"] is True
    assert me["circle"] == pub(OWNER)
