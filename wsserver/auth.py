"""Signature-based login: Ethereum ``personal_sign`` (EIP-191) over a server-issued nonce.

Pure functions for hashing, signing (coincurve, for clients and tools) and key recovery (the
server's side, ``wsserver.ecrecover``; low-s signatures only, EIP-2), plus
``NonceStore``, which hands out single-use nonces bound to one identity (a public key or an
address). Which keys and addresses are well formed is ``worker.identity``'s rule. No I/O here.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from worker.identity import CURVE_ORDER, keccak256

if TYPE_CHECKING:
    from coincurve import PrivateKey

EIP191_PREFIX = b"\x19Ethereum Signed Message:\n"
DEFAULT_NONCE_TTL = 300.0
"""Seconds a nonce stays valid (five minutes)."""
DEFAULT_MAX_PENDING = 64
"""Nonces one store keeps at most; the oldest is dropped first."""
HALF_CURVE_ORDER = CURVE_ORDER // 2
"""The largest ``s`` a low-s signature may have (EIP-2); wallets never produce more."""


def _strip_hex(value: str) -> str:
    return value[2:] if value[:2] in ("0x", "0X") else value


def eip191_hash(message: str) -> bytes:
    """keccak256 of the EIP-191 ``personal_sign`` envelope around ``message`` (UTF-8)."""
    body = message.encode("utf-8")  # keccak256 loads at the first login, not at start-up
    return keccak256(EIP191_PREFIX + str(len(body)).encode("ascii") + body)


def private_key(private_key_hex: str) -> "PrivateKey":
    """Parse a 32-byte hex private key (``0x`` optional); ValueError without echoing the key."""
    from coincurve import PrivateKey

    try:
        raw = bytes.fromhex(_strip_hex(private_key_hex.strip()))
    except (ValueError, AttributeError):
        raise ValueError("private key is not hex") from None
    if len(raw) != 32:
        raise ValueError(f"private key must be 32 bytes, got {len(raw)}")
    try:
        return PrivateKey(raw)
    except ValueError:
        raise ValueError("private key is out of range for secp256k1") from None


def public_key_of(private_key_hex: str) -> str:
    """The compressed hex public key belonging to a private key."""
    return private_key(private_key_hex).public_key.format(compressed=True).hex()


def sign_message(private_key_hex: str, message: str) -> str:
    """``personal_sign`` a message: 65-byte r||s||v hex with v = 27/28, as wallets produce."""
    key = private_key(private_key_hex)
    signature = key.sign_recoverable(eip191_hash(message), hasher=None)
    return (signature[:64] + bytes([signature[64] + 27])).hex()


def recover_public_key(message: str, signature_hex: str) -> str:
    """The compressed hex public key that produced ``signature_hex`` over ``message``.

    Raises ValueError for a signature that is not 65 bytes of hex, has a bad recovery id, a
    high ``s`` (the malleable twin of a valid signature, refused as wallets do, EIP-2), or
    recovers no key.
    """
    if not isinstance(signature_hex, str):
        raise ValueError("signature must be a hex string")
    try:
        raw = bytes.fromhex(_strip_hex(signature_hex.strip()))
    except ValueError:
        raise ValueError("signature is not hex") from None
    if len(raw) != 65:
        raise ValueError(f"signature must be 65 bytes, got {len(raw)}")
    recovery_id = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if recovery_id not in (0, 1):
        raise ValueError(f"signature recovery id must be 0, 1, 27 or 28, got {raw[64]}")
    if int.from_bytes(raw[32:64], "big") > HALF_CURVE_ORDER:
        raise ValueError("signature has a high s value (only low-s signatures are valid, EIP-2)")
    from wsserver import ecrecover  # libsecp256k1 loads at the first login, not at start-up

    key = ecrecover.recover(raw[:64], recovery_id, eip191_hash(message))
    if key is None:
        raise ValueError("signature recovers no key")
    return key.hex()


@dataclass(frozen=True)
class Nonce:
    """A challenge issued to one identity (a compressed public key or a lowercase address)."""

    value: str
    identity: str
    expires_at: float


class NonceStore:
    """Single-use nonces, each bound to one identity and valid for ``ttl`` s.

    Holds at most one nonce per identity (a new fetch replaces the old one) and at most
    ``max_pending`` in all, so a client cannot grow it without bound. Identities must already be
    in their canonical form (``worker.identity``).
    """

    def __init__(self, ttl: float = DEFAULT_NONCE_TTL, max_pending: int = DEFAULT_MAX_PENDING,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._clock = clock
        self._pending: dict[str, Nonce] = {}

    def issue(self, identity: str) -> Nonce:
        """A fresh nonce for ``identity`` (64 hex digits, also valid as an EIP-4361 nonce)."""
        self._pending.pop(identity, None)
        while len(self._pending) >= self.max_pending:
            self._pending.pop(next(iter(self._pending)))
        nonce = Nonce(secrets.token_hex(32), identity, self._clock() + self.ttl)
        self._pending[identity] = nonce
        return nonce

    def take(self, identity: str) -> str | None:
        """Remove and return the live nonce issued to ``identity``, or None (none, or expired).

        Taking is what makes a nonce single use: every login attempt spends it.
        """
        nonce = self._pending.pop(identity, None)
        if nonce is None or self._clock() >= nonce.expires_at:
            return None
        return nonce.value

    def take_value(self, value: str) -> Nonce | None:
        """Remove and return the live nonce whose text is ``value`` (whoever it was issued to)."""
        if not value.isascii():
            return None
        for identity, nonce in self._pending.items():
            if secrets.compare_digest(nonce.value, value):
                del self._pending[identity]
                return nonce if self._clock() < nonce.expires_at else None
        return None

    def __len__(self) -> int:
        return len(self._pending)
