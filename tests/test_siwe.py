"""wsserver/siwe.py: the EIP-4361 parser and checks, on messages written independently."""
from __future__ import annotations

import time

import pytest
from eth_account import Account

from wsserver import siwe

ADDRESS = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"  # EIP-55 spelling of 0xabab…ab
# Written by the reference Python implementation (siwe 4.4.0's prepare_message): no statement,
# optional fields and resources.
REFERENCE_FULL = (
    "x.org:80 wants you to sign in with your Ethereum account:\n"
    f"{ADDRESS}\n\n\n"
    "URI: https://x.org/\nVersion: 1\nChain ID: 5\nNonce: abcdefgh12\n"
    "Issued At: 2026-01-01T00:00:00.123Z\nNot Before: 2025-01-01T00:00:00Z\nRequest ID: r-1\n"
    "Resources:\n- https://x.org/a\n- ipfs://b")


def text(domain: str = "127.0.0.1:8090", address: str = ADDRESS, statement: str | None = "Hi.",
         nonce: str = "a1b2c3d4e5f6a7b8", tail: str = "") -> str:
    """An EIP-4361 message written here, line by line, as the spec shows it."""
    middle = f"{statement}\n\n" if statement is not None else "\n"
    return (f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n{middle}"
            f"URI: http://{domain}/\nVersion: 1\nChain ID: 1\nNonce: {nonce}\n"
            f"Issued At: 2026-12-02T13:40:00Z{tail}")


def test_reference_message_with_every_optional_field_parses() -> None:
    message = siwe.parse_message(REFERENCE_FULL)
    assert (message.domain, message.address, message.statement) == ("x.org:80", ADDRESS.lower(), None)
    assert (message.chain_id, message.nonce, message.request_id) == (5, "abcdefgh12", "r-1")
    assert message.issued_at == pytest.approx(1767225600.123)
    assert message.not_before == 1735689600.0 and message.expiration_time is None
    assert message.resources == ("https://x.org/a", "ipfs://b")


def test_message_built_here_round_trips() -> None:
    now = time.time()
    built = siwe.build_message("127.0.0.1:8090", ADDRESS.lower(), "Sign in to the circle Ünï (x).",
                               "http://127.0.0.1:8090/", "ab" * 32, now, now + 300)
    message = siwe.parse_message(built)
    assert message.address == ADDRESS.lower() and ADDRESS in built
    assert message.statement == "Sign in to the circle ?n? (x)."  # only ABNF characters
    assert message.expiration_time == int(now + 300) and message.issued_at == int(now)


def test_a_statement_line_and_a_lenient_single_blank_line_both_parse() -> None:
    assert siwe.parse_message(text()).statement == "Hi."
    lenient = text(statement=None).replace(f"{ADDRESS}\n\n\n", f"{ADDRESS}\n\n")
    assert siwe.parse_message(lenient).statement is None


@pytest.mark.parametrize("bad, reason", [
    (text(address=ADDRESS.lower()), "EIP-55"),
    (text().replace("\n", "\r\n"), "line"),
    (text().replace("Version: 1", "Version: 2"), "Version must be 1"),
    (text(nonce="short"), "Nonce"),
    (text(tail="\nExtra: field"), "unexpected line"),
    (text(statement="two\nlines"), "line"),
    (text(statement="naïve"), "statement"),
    (text().replace("Issued At: 2026-12-02T13:40:00Z", "Issued At: yesterday"), "Issued At"),
    (text().replace("\nChain ID: 1", ""), "Chain ID"),
    ("hello", "line 1"),
    (text() + "x" * 9000, "longer than"),
])
def test_malformed_messages_are_refused_naming_the_problem(bad: str, reason: str) -> None:
    with pytest.raises(siwe.SiweError, match=reason):
        siwe.parse_message(bad)


def test_domain_must_be_allowed_case_insensitively() -> None:
    message = siwe.parse_message(text(domain="App.Example.org"))
    siwe.check_message(message, {"app.example.org"}, now=0)
    with pytest.raises(siwe.SiweError, match="domain"):
        siwe.check_message(message, {"127.0.0.1:8090"}, now=0)


def test_validity_window_is_checked() -> None:
    message = siwe.parse_message(text(tail="\nExpiration Time: 2026-12-02T13:45:00Z\n"
                                           "Not Before: 2026-12-02T13:41:00Z"))
    allowed = {"127.0.0.1:8090"}
    expires, not_before = message.expiration_time, message.not_before
    assert expires is not None and not_before is not None
    siwe.check_message(message, allowed, now=not_before)
    with pytest.raises(siwe.SiweError, match="expired"):
        siwe.check_message(message, allowed, now=expires)
    with pytest.raises(siwe.SiweError, match="not valid before"):
        siwe.check_message(message, allowed, now=not_before - 1)


def test_eth_account_checksums_are_what_the_parser_wants() -> None:
    account = Account.create()
    assert siwe.parse_message(text(address=account.address)).address == account.address.lower()
