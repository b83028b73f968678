"""Login crypto and nonces (wsserver/auth.py): EIP-191 signatures as wallets make them."""
from __future__ import annotations

import pytest
from coincurve import PrivateKey, PublicKey

from worker.identity import CURVE_ORDER, parse_public_key
from wsserver import auth

VECTOR_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
VECTOR_MESSAGE = "Some data"
VECTOR_SIGNATURE = (
    "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029"
    "1c")


def vector_public_key(compressed: bool = True) -> str:
    return PrivateKey(bytes.fromhex(VECTOR_KEY)).public_key.format(compressed=compressed).hex()


def verifies(public_key: str, message: str, signature: str) -> bool:
    """Whether ``signature`` over ``message`` recovers ``public_key`` (any spelling of it)."""
    try:
        return auth.recover_public_key(message, signature) == parse_public_key(public_key)
    except ValueError:
        return False


class FakeClock:
    """A clock the test moves by hand, so nonce expiry needs no sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_known_vector_signs_to_the_published_signature() -> None:
    assert auth.sign_message(VECTOR_KEY, VECTOR_MESSAGE) == VECTOR_SIGNATURE


def test_known_vector_recovers_the_signing_key() -> None:
    assert auth.recover_public_key(VECTOR_MESSAGE, VECTOR_SIGNATURE) == vector_public_key()
    assert verifies(vector_public_key(), VECTOR_MESSAGE, VECTOR_SIGNATURE)


def test_eip191_hash_is_the_ethereum_message_hash() -> None:
    # keccak256("\x19Ethereum Signed Message:\n9Some data"), as web3's hash_message gives it
    assert auth.eip191_hash(VECTOR_MESSAGE).hex() == (
        "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655")


@pytest.mark.parametrize("signature", [
    VECTOR_SIGNATURE,
    "0x" + VECTOR_SIGNATURE,
    VECTOR_SIGNATURE.upper(),
    VECTOR_SIGNATURE[:-2] + "01",  # v as a bare recovery id (0/1) instead of 27/28
])
def test_signature_spellings_wallets_use_are_accepted(signature: str) -> None:
    assert verifies(vector_public_key(), VECTOR_MESSAGE, signature)


def test_uncompressed_and_prefixed_public_keys_are_the_same_key() -> None:
    assert verifies(vector_public_key(compressed=False), VECTOR_MESSAGE, VECTOR_SIGNATURE)
    assert verifies("0x" + vector_public_key(), VECTOR_MESSAGE, VECTOR_SIGNATURE)


def test_fresh_keys_round_trip_and_do_not_verify_for_another_key() -> None:
    signer, other = PrivateKey(), PrivateKey()
    signature = auth.sign_message(signer.to_hex(), "nonce-123")
    assert auth.recover_public_key("nonce-123", signature) == signer.public_key.format().hex()
    assert not verifies(other.public_key.format().hex(), "nonce-123", signature)
    assert not verifies(signer.public_key.format().hex(), "nonce-124", signature)


def test_non_ascii_messages_hash_their_utf8_length() -> None:
    key = PrivateKey()
    signature = auth.sign_message(key.to_hex(), "héllo ✓")
    assert auth.recover_public_key("héllo ✓", signature) == key.public_key.format().hex()


@pytest.mark.parametrize("signature, reason", [
    ("zz" * 65, "not hex"),
    (VECTOR_SIGNATURE[:-2], "65 bytes"),
    (VECTOR_SIGNATURE + "00", "65 bytes"),
    (VECTOR_SIGNATURE[:-2] + "05", "recovery id"),
    ("00" * 65, "recovers no key"),
])
def test_malformed_signatures_are_refused_with_a_reason(signature: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        auth.recover_public_key(VECTOR_MESSAGE, signature)
    assert not verifies(vector_public_key(), VECTOR_MESSAGE, signature)


def test_high_s_twin_of_a_valid_signature_is_refused() -> None:
    raw = bytes.fromhex(VECTOR_SIGNATURE)
    s = int.from_bytes(raw[32:64], "big")
    flipped_id = 1 - (raw[64] - 27)
    twin = raw[:32] + (CURVE_ORDER - s).to_bytes(32, "big") + bytes([27 + flipped_id])
    # The twin is a valid signature by the same key (that is malleability), with a high s ...
    assert int.from_bytes(twin[32:64], "big") > CURVE_ORDER // 2
    recovered = PublicKey.from_signature_and_message(
        twin[:64] + bytes([flipped_id]), auth.eip191_hash(VECTOR_MESSAGE), hasher=None)
    assert recovered.format().hex() == vector_public_key()
    # ... which the server refuses, as wallets never produce it.
    with pytest.raises(ValueError, match="high s"):
        auth.recover_public_key(VECTOR_MESSAGE, twin.hex())
    assert verifies(vector_public_key(), VECTOR_MESSAGE, VECTOR_SIGNATURE)


def test_nonce_is_single_use_and_bound_to_its_key() -> None:
    clock = FakeClock()
    store = auth.NonceStore(ttl=300, clock=clock)
    mine, theirs = vector_public_key(), PrivateKey().public_key.format().hex()
    nonce = store.issue(mine)
    assert nonce.expires_at == clock.now + 300
    assert store.take(theirs) is None
    assert store.take(mine) == nonce.value
    assert store.take(mine) is None


def test_nonce_can_be_taken_by_its_text_once_and_only_while_live() -> None:
    clock = FakeClock()
    store = auth.NonceStore(ttl=300, clock=clock)
    address = "0x" + "ab" * 20
    first = store.issue(address)
    assert store.take_value("f" * 64) is None
    assert store.take_value(first.value) == first
    assert store.take_value(first.value) is None
    second = store.issue(address)
    clock.now += 300
    assert store.take_value(second.value) is None


def test_nonce_expires_after_its_ttl() -> None:
    clock = FakeClock()
    store = auth.NonceStore(ttl=300, clock=clock)
    key = vector_public_key()
    store.issue(key)
    clock.now += 299
    assert store.take(key) is not None
    store.issue(key)
    clock.now += 300
    assert store.take(key) is None


def test_new_nonce_replaces_the_previous_one_for_the_same_key() -> None:
    store = auth.NonceStore()
    key = vector_public_key()
    first, second = store.issue(key), store.issue(key)
    assert first.value != second.value
    assert store.take(key) == second.value
    assert len(store) == 0


def test_store_holds_a_bounded_number_of_nonces() -> None:
    store = auth.NonceStore(max_pending=3)
    keys = [PrivateKey().public_key.format().hex() for _ in range(5)]
    for key in keys:
        store.issue(key)
    assert len(store) == 3
    assert store.take(keys[0]) is None
    assert store.take(keys[4]) is not None


@pytest.mark.parametrize("key, reason", [
    ("secret-words", "not hex"),
    ("11" * 31, "32 bytes"),
    ("00" * 32, "out of range"),
])
def test_malformed_private_key_is_refused_without_echoing_it(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        auth.sign_message(key, "nonce")
    assert key not in str(caught.value)


def test_prefixed_private_key_signs_like_the_bare_one() -> None:
    assert auth.sign_message("0x" + VECTOR_KEY, VECTOR_MESSAGE) == VECTOR_SIGNATURE
    assert auth.public_key_of(VECTOR_KEY) == vector_public_key()
