"""secp256k1 public-key recovery (ecrecover) for logins, through libsecp256k1 called with ctypes.

The library is the one coincurve ships (its ``_libsecp256k1`` extension exports libsecp256k1's C
functions), found without importing coincurve (``worker.native``). Two things make this path
leaner than coincurve's Python API in a long-running server, at the same answers:

- no cffi: coincurve's modules and cffi's backend stay out of the process (~0.9 MB after a login);
- no precomputed tables: ``secp256k1_ecdsa_recover`` multiplies G with 1.1 MB of read-only
  tables, a few entries per signature at random; each first touch of a page maps the 64 KB
  around it (the kernel's fault-around), so after a handful of logins every server holds
  ~1.1 MB of them. Here Q = r^-1 (s R - z G) is computed as u2 R + u1 G (u1 = -z/r, u2 = s/r
  mod n, in Python) with ``secp256k1_ec_pubkey_tweak_mul`` (constant-time multiplication with a
  per-call table on the stack) and ``secp256k1_ec_pubkey_combine``: about 0.1 ms more CPU per
  login than ``secp256k1_ecdsa_recover``, and ~0.1 MB resident instead of ~1.2 MB.

The binding is checked on a known signature when it loads. When the shared object cannot be
found or loaded, lacks a function (an old or differently built coincurve) or fails the check,
``recover`` uses coincurve's ``PublicKey.from_signature_and_message``: ``backend()`` says which
one a process uses.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Callable

from worker.identity import CURVE_ORDER
from worker.native import bound

EC_COMPRESSED = (1 << 1) | (1 << 8)
"""libsecp256k1's SECP256K1_EC_COMPRESSED serialization flag."""
GENERATOR = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
"""G of secp256k1, compressed."""
PUBKEY_SIZE = 64
"""Bytes of libsecp256k1's opaque ``secp256k1_pubkey``."""
KNOWN_ANSWER = (
    bytes.fromhex("b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
                  "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029"), 1,
    bytes.fromhex("1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"),
    bytes.fromhex("024e3b81af9c2234cad09d679ce6035ed1392347ce64ce405f5dcd36228a25de6e"))
"""(signature, recovery id, digest, key): web3's ``personal_sign`` example ("Some data" signed by
key 4c0883a6...), which a binding must recover before it is used."""

Recover = Callable[[bytes, int, bytes], bytes | None]


class _Library:
    """The libsecp256k1 functions ``recover`` calls, typed, with the static context."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.secp256k1_selftest()  # what the library asks of users of its static context
        self.context = ctypes.c_void_p.in_dll(lib, "secp256k1_context_static")
        self.parse = lib.secp256k1_ec_pubkey_parse
        self.parse.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        self.tweak_mul = lib.secp256k1_ec_pubkey_tweak_mul
        self.tweak_mul.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        self.combine = lib.secp256k1_ec_pubkey_combine
        self.combine.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        self.serialize = lib.secp256k1_ec_pubkey_serialize
        self.serialize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                   ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p,
                                   ctypes.c_uint]
        for function in (self.parse, self.tweak_mul, self.combine, self.serialize):
            function.restype = ctypes.c_int
        self.generator = self.point(GENERATOR)
        signature, recovery_id, digest, key = KNOWN_ANSWER
        if self.generator is None or self.recover(signature, recovery_id, digest) != key:
            raise OSError(f"{path}: libsecp256k1 does not recover the known key")

    def point(self, compressed: bytes) -> ctypes.Array | None:
        """A parsed public key (None: not a point on the curve)."""
        out = ctypes.create_string_buffer(PUBKEY_SIZE)
        return out if self.parse(self.context, out, compressed, len(compressed)) else None

    def recover(self, signature: bytes, recovery_id: int, digest: bytes) -> bytes | None:
        """The compressed key that made ``signature`` (r||s, 64 bytes) with ``recovery_id`` (0
        or 1) over the 32-byte ``digest``; None when it recovers none."""
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < CURVE_ORDER and 0 < s < CURVE_ORDER):
            return None
        point_r = self.point(bytes([2 + recovery_id]) + signature[:32])  # R: x = r, y's parity
        if point_r is None:
            return None
        r_inverse = pow(r, -1, CURVE_ORDER)
        z = int.from_bytes(digest, "big")
        u1, u2 = -z * r_inverse % CURVE_ORDER, s * r_inverse % CURVE_ORDER
        if not self.tweak_mul(self.context, point_r, u2.to_bytes(32, "big")):
            return None
        key = point_r
        if u1:  # zero when z = 0 (mod n): then Q = u2 R alone
            point_g = ctypes.create_string_buffer(self.generator.raw, PUBKEY_SIZE)
            if not self.tweak_mul(self.context, point_g, u1.to_bytes(32, "big")):
                return None
            key = ctypes.create_string_buffer(PUBKEY_SIZE)
            terms = (ctypes.c_void_p * 2)(ctypes.addressof(point_r), ctypes.addressof(point_g))
            if not self.combine(self.context, key, terms, 2):  # the sum is the point at infinity
                return None
        out = ctypes.create_string_buffer(33)
        size = ctypes.c_size_t(33)
        self.serialize(self.context, out, ctypes.byref(size), key, EC_COMPRESSED)
        return out.raw


def coincurve_recover(signature: bytes, recovery_id: int, digest: bytes) -> bytes | None:
    """``recover`` through coincurve's Python API (the fallback)."""
    from coincurve import PublicKey

    try:
        key = PublicKey.from_signature_and_message(signature + bytes([recovery_id]), digest,
                                                   hasher=None)
    except Exception:  # coincurve raises plain Exception for unrecoverable input
        return None
    return key.format(compressed=True)


@functools.cache
def _recover_function() -> tuple[str, Recover]:
    return bound("coincurve", ("_libsecp256k1",), lambda path: _Library(path).recover,
                 "libsecp256k1 via ctypes", coincurve_recover, "coincurve")


def backend() -> str:
    """Which implementation ``recover`` uses in this process (loads it on the first call)."""
    return _recover_function()[0]


def recover(signature: bytes, recovery_id: int, digest: bytes) -> bytes | None:
    """The compressed (33-byte) public key whose ECDSA ``signature`` (r||s, 64 bytes) with
    ``recovery_id`` (0 or 1: the parity of R's y) is valid over the 32-byte ``digest``; None when
    none is (r or s zero or not below n, no curve point with x = r, or the point at infinity),
    as libsecp256k1's ``secp256k1_ecdsa_recover`` decides."""
    return _recover_function()[1](signature, recovery_id, digest)
