"""The one home for what a circle identity looks like: secp256k1 public keys and Ethereum addresses.

Pure Python (big-integer arithmetic for the on-curve check; ``worker.keccak``, loaded on first
use, for addresses and the server's login hashes): no coincurve here, so circlesctl and the worker
validate keys without loading signature code.
Every ValueError names the value at fault, cut to a short excerpt.
"""
from __future__ import annotations

import re

from worker.keccak import keccak256

FIELD_PRIME = 2**256 - 2**32 - 977
"""p of secp256k1: points satisfy y^2 = x^3 + 7 (mod p)."""
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""n of secp256k1 (the order of its group)."""
EXCERPT_LENGTH = 24
"""Characters of a bad value that an error message quotes at most."""

_HEX = re.compile(r"[0-9a-fA-F]*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def excerpt(value: object, limit: int = EXCERPT_LENGTH) -> str:
    """``repr`` of a (possibly huge, possibly hostile) value, cut to about ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def _strip_0x(text: str) -> str:
    return text[2:] if text[:2] in ("0x", "0X") else text


def _y_squared(x: int) -> int:
    return (pow(x, 3, FIELD_PRIME) + 7) % FIELD_PRIME


def _point(text: str) -> tuple[int, int]:
    """The curve point ``text`` encodes (compressed, uncompressed or raw 64-byte hex)."""
    if not isinstance(text, str):
        raise ValueError(f"public key must be a hex string, got {type(text).__name__}")

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{excerpt(text)} is not a secp256k1 public key: {reason}")

    digits = _strip_0x(text.strip())
    if not _HEX.fullmatch(digits):
        raise refuse("not hex")
    if len(digits) == 128:  # raw x || y, as eth_keys / web3.py hand it out
        digits = "04" + digits
    if len(digits) not in (66, 130):
        raise refuse(f"33 or 65 bytes (or 64 raw) expected, got {len(digits) / 2:g}")
    prefix, x = digits[:2], int(digits[2:66], 16)
    if prefix not in ("02", "03", "04") or (prefix == "04") != (len(digits) == 130):
        raise refuse("must start 02/03 (33 bytes) or 04 (65 bytes)")
    if x >= FIELD_PRIME:
        raise refuse("not a point on secp256k1")
    if prefix == "04":
        y = int(digits[66:], 16)
        if y >= FIELD_PRIME or y * y % FIELD_PRIME != _y_squared(x):
            raise refuse("not a point on secp256k1")
        return x, y
    y = pow(_y_squared(x), (FIELD_PRIME + 1) // 4, FIELD_PRIME)  # p = 3 (mod 4): the square root
    if y * y % FIELD_PRIME != _y_squared(x):
        raise refuse("not a point on secp256k1")
    if y % 2 != int(prefix) - 2:
        y = FIELD_PRIME - y
    return x, y


def parse_public_key(text: str) -> str:
    """The compressed lowercase hex form (66 digits) of a secp256k1 public key.

    Accepts 02/03 compressed, 04 uncompressed and 64-byte raw x||y hex, ``0x`` optional; refuses
    anything else (06/07 "hybrid" keys included) and points off the curve with a ValueError.
    """
    x, y = _point(text)
    return f"{2 + y % 2:02x}{x:064x}"


def address_of(public_key_hex: str) -> str:
    """The Ethereum address (lowercase ``0x`` + 40 hex) of a public key: keccak256(x||y)[12:]."""
    x, y = _point(public_key_hex)
    return "0x" + keccak256(x.to_bytes(32, "big") + y.to_bytes(32, "big"))[12:].hex()


def checksum_address(address: str) -> str:
    """The EIP-55 mixed-case spelling of an address (what wallets display and SIWE requires)."""
    lower = parse_address(address)[2:]
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(ch.upper() if int(nibble, 16) >= 8 else ch
                          for ch, nibble in zip(lower, digest))


def parse_address(text: str) -> str:
    """An Ethereum address as lowercase ``0x`` + 40 hex.

    A mixed-case address must carry a valid EIP-55 checksum (a typo in it is caught); all-lower
    and all-upper spellings carry none and are taken as they are.
    """
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text.strip()):
        raise ValueError(f"not an Ethereum address (0x + 40 hex digits): {excerpt(text)}")
    text = text.strip()
    lower = "0x" + text[2:].lower()
    body = text[2:]
    if body != body.lower() and body != body.upper() and checksum_address(lower) != text:
        raise ValueError(f"address has a wrong EIP-55 checksum (mixed case): {excerpt(text)}")
    return lower


def is_address(text: str) -> bool:
    """Whether ``text`` has the shape of an address (``0x`` + 40 hex), checksum aside."""
    return isinstance(text, str) and bool(_ADDRESS.fullmatch(text.strip()))


def parse_member(text: str) -> str:
    """A member entry: an address (lowercase ``0x`` + 40 hex) or a public key (compressed hex)."""
    return parse_address(text) if is_address(text) else parse_public_key(text)
