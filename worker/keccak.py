"""Ethereum's keccak256: pycryptodome's C code, called through ctypes on its shared object.

pycryptodome's Python API loads eight modules around its C code and, at the first hash, runs
``platform.architecture()`` (one more module, and on Linux the ``file`` command in a
subprocess). The WebSocket server hashes at every login and keeps all of that resident:
0.28 MB, against 0.07 MB for the four C functions bound here (ctypes itself aside, which the
server loads for libsecp256k1 anyway, see ``wsserver.ecrecover``). The binding is checked on a
known digest when it loads; when the file is missing, or does not load or answer as expected,
``keccak256`` uses pycryptodome's API, on its ctypes backend (``pycryptodome_keccak256``).
"""
from __future__ import annotations

import functools
from types import ModuleType
from typing import Callable

from worker.native import bound
from worker.optional import without

DIGEST_SIZE = 32
ROUNDS = 24
KECCAK_PADDING = 0x01
"""The original Keccak padding byte (SHA3-256 uses 0x06)."""
EMPTY_DIGEST = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
"""keccak256(b""), the known answer a binding must give before it is used."""


class _CKeccak:
    """pycryptodome's ``keccak_init/absorb/digest/destroy`` (src/keccak.c), typed."""

    def __init__(self, path: str) -> None:
        import ctypes

        self._ctypes = ctypes
        lib = ctypes.CDLL(path)
        self.init = lib.keccak_init
        self.init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
        self.absorb = lib.keccak_absorb
        self.absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        self.digest = lib.keccak_digest
        self.digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.c_ubyte]
        self.destroy = lib.keccak_destroy
        self.destroy.argtypes = [ctypes.c_void_p]
        for function in (self.init, self.absorb, self.digest, self.destroy):
            function.restype = ctypes.c_int
        if self(b"") != EMPTY_DIGEST:
            raise OSError(f"{path}: keccak_* does not give the known digest")

    def __call__(self, data: bytes) -> bytes:
        ctypes = self._ctypes
        state = ctypes.c_void_p()
        if self.init(ctypes.byref(state), 2 * DIGEST_SIZE, ROUNDS):
            raise MemoryError("keccak_init failed")
        try:
            out = ctypes.create_string_buffer(DIGEST_SIZE)
            if (self.absorb(state, data, len(data))
                    or self.digest(state, out, DIGEST_SIZE, KECCAK_PADDING)):
                raise ValueError("keccak_absorb/keccak_digest failed")
            return out.raw
        finally:
            self.destroy(state)


def pycryptodome_keccak256(data: bytes) -> bytes:
    """keccak256 through pycryptodome's API (the fallback)."""
    return _pycryptodome_keccak().new(digest_bits=8 * DIGEST_SIZE, data=data).digest()


@functools.cache
def _pycryptodome_keccak() -> ModuleType:
    """pycryptodome's keccak module, imported at first use, on ctypes.

    pycryptodome calls its C code through cffi when ``import cffi`` works and through ctypes
    otherwise (its documented fallback). cffi is no dependency of this project: an install has
    it only when another package brought it (here ``cryptography``), and then pycryptodome
    parses its C declarations with pycparser at import (1.5 MB of RSS and 21 ms of CPU in a
    server, against 0.54 MB and 4 ms on ctypes). So cffi is hidden while pycryptodome picks its
    backend, as a clean ``pip install .`` has it. A program that loaded pycryptodome earlier
    keeps the backend it chose.
    """
    with without("cffi"):
        from Crypto.Hash import keccak

    return keccak


@functools.cache
def _implementation() -> tuple[str, Callable[[bytes], bytes]]:
    return bound("Crypto", ("Hash", "_keccak"), _CKeccak, "pycryptodome's C code via ctypes",
                 pycryptodome_keccak256, "pycryptodome")


def backend() -> str:
    """Which implementation ``keccak256`` uses in this process (loads it on the first call)."""
    return _implementation()[0]


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak256 of ``data`` (the original Keccak padding, not SHA3-256's)."""
    return _implementation()[1](data)
