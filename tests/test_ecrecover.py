"""wsserver/ecrecover.py: login key recovery through libsecp256k1 on ctypes gives coincurve's
answers (the same key, or the same refusal) on real signatures, random bytes and every edge of
the input ranges."""
from __future__ import annotations

import random
import subprocess
import sys

import pytest
from coincurve import PrivateKey, PublicKey

from worker import native
from worker.identity import CURVE_ORDER, FIELD_PRIME, address_of
from wsserver import auth, ecrecover

RNG = random.Random(4242)
HALF_ORDER = CURVE_ORDER // 2


def coincurve_key(signature: bytes, recovery_id: int, digest: bytes) -> bytes | None:
    """What coincurve's own recovery (libsecp256k1's secp256k1_ecdsa_recover) answers."""
    try:
        return PublicKey.from_signature_and_message(signature + bytes([recovery_id]), digest,
                                                    hasher=None).format(compressed=True)
    except Exception:  # coincurve raises plain Exception for unrecoverable input
        return None


def both_agree(signature: bytes, recovery_id: int, digest: bytes) -> bytes | None:
    expected = coincurve_key(signature, recovery_id, digest)
    assert ecrecover.recover(signature, recovery_id, digest) == expected
    assert ecrecover.coincurve_recover(signature, recovery_id, digest) == expected
    return expected


def scalar(value: int) -> bytes:
    return value.to_bytes(32, "big")


def test_this_install_recovers_through_ctypes() -> None:
    assert ecrecover.backend().startswith("libsecp256k1 via ctypes")


def test_real_signatures_recover_their_key_as_coincurve_does() -> None:
    for _ in range(300):
        key = PrivateKey(RNG.randbytes(32))
        digest = RNG.randbytes(32)
        signature = key.sign_recoverable(digest, hasher=None)
        recovered = both_agree(signature[:64], signature[64], digest)
        assert recovered == key.public_key.format(compressed=True)
        # the other recovery id names the other point with x = r: another key, or none
        assert both_agree(signature[:64], 1 - signature[64], digest) != recovered


def test_random_bytes_get_coincurves_answer() -> None:
    answers = [both_agree(RNG.randbytes(64), RNG.randrange(2), RNG.randbytes(32))
               for _ in range(400)]
    assert any(answers) and not all(answers)  # half the r values are no point's x


@pytest.mark.parametrize("r, s", [
    (0, 1), (1, 0), (0, 0),
    (CURVE_ORDER, 1), (1, CURVE_ORDER), (CURVE_ORDER + 1, 5), (5, CURVE_ORDER + 1),
    (2**256 - 1, 1), (1, 2**256 - 1),
    (CURVE_ORDER - 1, 1), (1, CURVE_ORDER - 1), (CURVE_ORDER - 1, CURVE_ORDER - 1),
    (1, 1), (2, HALF_ORDER), (3, HALF_ORDER + 1),
])
def test_the_edges_of_r_and_s_get_coincurves_answer(r: int, s: int) -> None:
    for recovery_id in (0, 1):
        for digest in (scalar(0), scalar(1), scalar(CURVE_ORDER), scalar(2**256 - 1),
                       RNG.randbytes(32)):
            raw = (r % 2**256).to_bytes(32, "big") + (s % 2**256).to_bytes(32, "big")
            both_agree(raw, recovery_id, digest)


def test_digests_that_reduce_to_zero_recover_as_coincurve_does() -> None:
    key = PrivateKey(RNG.randbytes(32))
    for digest in (scalar(0), scalar(CURVE_ORDER)):
        signature = key.sign_recoverable(digest, hasher=None)
        assert both_agree(signature[:64], signature[64], digest) == key.public_key.format()


def test_a_signature_whose_key_would_be_the_point_at_infinity_recovers_none() -> None:
    # R = kG and z = s k: then s R - z G is the point at infinity, which is no public key
    found = 0
    while found < 5:
        k = RNG.randrange(1, CURVE_ORDER)
        point = PrivateKey(scalar(k)).public_key.format(compressed=True)
        r = int.from_bytes(point[1:], "big")
        if r >= CURVE_ORDER:
            continue
        s = RNG.randrange(1, CURVE_ORDER)
        z = s * k % CURVE_ORDER
        assert both_agree(scalar(r) + scalar(s), point[0] - 2, scalar(z)) is None
        found += 1


def test_an_r_that_is_no_points_x_recovers_none() -> None:
    r = next(x for x in range(1, 100)
             if pow((x**3 + 7) % FIELD_PRIME, (FIELD_PRIME - 1) // 2, FIELD_PRIME) != 1)
    assert both_agree(scalar(r) + scalar(12345), 0, RNG.randbytes(32)) is None


def reference_login(message: str, signature_hex: str) -> str | None:
    """The login rule as it was written on coincurve alone: low s, v in 0/1/27/28."""
    raw = bytes.fromhex(signature_hex)
    recovery_id = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if recovery_id not in (0, 1) or int.from_bytes(raw[32:64], "big") > HALF_ORDER:
        return None
    key = coincurve_key(raw[:64], recovery_id, auth.eip191_hash(message))
    return None if key is None else key.hex()


def login_answer(message: str, signature_hex: str) -> str | None:
    try:
        return auth.recover_public_key(message, signature_hex)
    except ValueError:
        return None


def test_logins_accept_and_refuse_what_the_coincurve_rule_did() -> None:
    for index in range(120):
        key = PrivateKey(RNG.randbytes(32))
        message = f"nonce-{index}-{RNG.randbytes(8).hex()}"
        good = bytes.fromhex(auth.sign_message(key.to_hex(), message))
        r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
        high_s_twin = r + scalar(CURVE_ORDER - s) + bytes([55 - v])  # valid, but malleable
        candidates = [good, good[:64] + bytes([v - 27]), high_s_twin,
                      good[:64] + bytes([RNG.choice([2, 26, 29, 30, 255])]),
                      RNG.randbytes(64) + bytes([RNG.choice([0, 1, 27, 28])])]
        for signature in candidates:
            assert login_answer(message, signature.hex()) == reference_login(message,
                                                                             signature.hex())
        assert login_answer(message, good.hex()) == key.public_key.format().hex()
        assert login_answer(message, high_s_twin.hex()) is None


def test_without_the_shared_object_recovery_falls_back_to_coincurve(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "extension_path", lambda *parts: None)
    ecrecover._recover_function.cache_clear()
    try:
        assert ecrecover.backend() == "coincurve"
        key = PrivateKey(RNG.randbytes(32))
        signature = auth.sign_message(key.to_hex(), "nonce")
        assert auth.recover_public_key("nonce", signature) == key.public_key.format().hex()
    finally:
        ecrecover._recover_function.cache_clear()


def test_a_server_login_loads_neither_cffi_nor_coincurve_nor_pycryptodome_modules() -> None:
    key = PrivateKey(RNG.randbytes(32))
    signature = auth.sign_message(key.to_hex(), "nonce")
    code = ("import sys, wsserver.app\n"
            "from wsserver import auth\n"
            "from worker.identity import address_of\n"
            f"key = auth.recover_public_key('nonce', {signature!r})\n"
            "print(address_of(key))\n"
            "print(sorted({name.split('.')[0] for name in sys.modules}"
            " & {'cffi', '_cffi_backend', 'coincurve', 'Crypto', 'platform'}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    address, loaded = done.stdout.splitlines()
    assert address == address_of(key.public_key.format().hex())
    assert loaded == "[]"
