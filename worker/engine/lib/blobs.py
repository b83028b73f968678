"""Rhai BLOB functions (``BasicBlobPackage``): byte arrays, and reading/writing numbers in them.

A byte written into a blob keeps only the low 8 bits of the INT. Positions follow the array
rules: negative counts from the end, and ranges are clamped rather than rejected.
"""
from __future__ import annotations

import struct
from typing import Any

from ..natives import native
from ..values import Char, RhaiRange
from .common import grow_checked, index_in, offset_len, range_start_len


@native("blob")
def blob() -> bytearray:
    return bytearray()


@native("blob", int, ctx=True)
def blob_of_len(ctx: Any, n: int) -> bytearray:
    return blob_filled(ctx, n, 0)


@native("blob", int, int, ctx=True)
def blob_filled(ctx: Any, n: int, value: int) -> bytearray:
    """A blob of ``n`` copies of the byte ``value``."""
    return grow_checked(ctx.check_blob, lambda k: bytearray([value & 0xFF]) * k, max(n, 0))


@native("len", bytearray)
@native("get$len", bytearray)
def length(b: bytearray) -> int:
    return len(b)


@native("is_empty", bytearray)
@native("get$is_empty", bytearray)
def is_empty(b: bytearray) -> bool:
    return not b


@native("get", bytearray, int)
def get(b: bytearray, index: int) -> int:
    """The byte at ``index`` (negative counts from the end), or 0 if out of range."""
    pos = index_in(len(b), index)
    return 0 if pos is None else b[pos]


@native("set", bytearray, int, int, mutates=True)
def set_byte(b: bytearray, index: int, value: int) -> None:
    pos = index_in(len(b), index)
    if pos is not None:
        b[pos] = value & 0xFF


@native("push", bytearray, int, ctx=True, mutates=True)
@native("append", bytearray, int, ctx=True, mutates=True)
def push(ctx: Any, b: bytearray, value: int) -> None:
    b.append(value & 0xFF)
    ctx.check_blob(b)


@native("append", bytearray, bytearray, ctx=True, mutates=True)
def append(ctx: Any, b: bytearray, other: bytearray) -> None:
    b.extend(other)
    ctx.check_blob(b)


@native("append", bytearray, str, ctx=True, mutates=True)
@native("append", bytearray, Char, ctx=True, mutates=True)
def append_string(ctx: Any, b: bytearray, text: str) -> None:
    """Append the UTF-8 bytes of a string or char."""
    b.extend(text.encode("utf-8", "surrogatepass"))
    ctx.check_blob(b)


@native("insert", bytearray, int, int, ctx=True, mutates=True)
def insert(ctx: Any, b: bytearray, index: int, value: int) -> None:
    """Insert a byte before ``index`` (negative counts from the end; clamped to the ends)."""
    if index < 0:
        index = max(len(b) + index, 0)
    b.insert(min(index, len(b)), value & 0xFF)
    ctx.check_blob(b)


@native("pad", bytearray, int, int, ctx=True, mutates=True)
def pad(ctx: Any, b: bytearray, target: int, value: int) -> None:
    """Append copies of the byte ``value`` until the blob has ``target`` bytes."""
    if target > len(b):
        base = bytes(b)
        b[:] = grow_checked(ctx.check_blob,
                            lambda n: bytearray(base) + bytearray([value & 0xFF]) * (n - len(base)),
                            target)


@native("pop", bytearray, mutates=True)
def pop(b: bytearray) -> int:
    """Remove and return the last byte, or 0 if empty."""
    return b.pop() if b else 0


@native("shift", bytearray, mutates=True)
def shift(b: bytearray) -> int:
    """Remove and return the first byte, or 0 if empty."""
    return b.pop(0) if b else 0


@native("remove", bytearray, int, mutates=True)
def remove(b: bytearray, index: int) -> int:
    """Remove and return the byte at ``index``, or 0 if out of range."""
    pos = index_in(len(b), index)
    return 0 if pos is None else b.pop(pos)


@native("clear", bytearray, mutates=True)
def clear(b: bytearray) -> None:
    b.clear()


@native("truncate", bytearray, int, mutates=True)
def truncate(b: bytearray, n: int) -> None:
    del b[max(n, 0):]


@native("chop", bytearray, int, mutates=True)
def chop(b: bytearray, n: int) -> None:
    """Keep the last ``n`` bytes (none if ``n`` <= 0)."""
    del b[:len(b) - min(max(n, 0), len(b))]


@native("reverse", bytearray, mutates=True)
def reverse(b: bytearray) -> None:
    b.reverse()


@native("contains", bytearray, int)
def contains(b: bytearray, value: int) -> bool:
    """Whether the blob holds the byte (low 8 bits of an INT); drives ``in``."""
    return (value & 0xFF) in b


@native("splice", bytearray, int, int, bytearray, ctx=True, mutates=True)
def splice(ctx: Any, b: bytearray, start: int, count: int, replace: bytearray) -> None:
    """Replace ``count`` bytes from ``start`` with another blob."""
    start, count = offset_len(len(b), start, count)
    b[start:start + count] = replace
    ctx.check_blob(b)


@native("splice", bytearray, RhaiRange, bytearray, ctx=True, mutates=True)
def splice_range(ctx: Any, b: bytearray, rng: RhaiRange, replace: bytearray) -> None:
    splice(ctx, b, *range_start_len(rng), replace)


@native("extract", bytearray, int, int)
def extract(b: bytearray, start: int, count: int) -> bytearray:
    start, count = offset_len(len(b), start, count)
    return b[start:start + count]


@native("extract", bytearray, int)
def extract_tail(b: bytearray, start: int) -> bytearray:
    return extract(b, start, len(b))


@native("extract", bytearray, RhaiRange)
def extract_range(b: bytearray, rng: RhaiRange) -> bytearray:
    return extract(b, *range_start_len(rng))


@native("split", bytearray, int, mutates=True)
def split(b: bytearray, index: int) -> bytearray:
    """Cut the blob at ``index``; return the tail and keep the head."""
    start, _ = offset_len(len(b), index, len(b))
    tail = b[start:]
    del b[start:]
    return tail


@native("drain", bytearray, int, int, mutates=True)
def drain(b: bytearray, start: int, count: int) -> bytearray:
    """Remove ``count`` bytes from ``start`` and return them."""
    start, count = offset_len(len(b), start, count)
    removed = b[start:start + count]
    del b[start:start + count]
    return removed


@native("drain", bytearray, RhaiRange, mutates=True)
def drain_range(b: bytearray, rng: RhaiRange) -> bytearray:
    return drain(b, *range_start_len(rng))


@native("retain", bytearray, int, int, mutates=True)
def retain(b: bytearray, start: int, count: int) -> bytearray:
    """Keep ``count`` bytes from ``start``; remove and return the others."""
    if not b or count <= 0:
        return bytearray()
    start, count = offset_len(len(b), start, count)
    removed = b[:start] + b[start + count:]
    b[:] = b[start:start + count]
    return removed


@native("retain", bytearray, RhaiRange, mutates=True)
def retain_range(b: bytearray, rng: RhaiRange) -> bytearray:
    return retain(b, *range_start_len(rng))


@native("to_array", bytearray)
def to_array(b: bytearray) -> list:
    """The bytes as an array of INT."""
    return list(b)


@native("as_string", bytearray)
def as_string(b: bytearray) -> str:
    """The bytes decoded as UTF-8 (invalid sequences become U+FFFD)."""
    return bytes(b).decode("utf-8", "replace")


def _window(b: bytearray, start: int, count: int, width: int) -> tuple[int, int]:
    """Where a number of ``width`` bytes is read/written: (start, bytes), bytes 0 if none."""
    if not b or count <= 0:
        return 0, 0
    start, count = offset_len(len(b), start, count)
    return start, min(count, width)


def _parse_int(b: bytearray, start: int, count: int, order: str) -> int:
    start, count = _window(b, start, count, 8)
    buf = bytes(b[start:start + count]).ljust(8, b"\0")
    return int.from_bytes(buf, order, signed=True)


def _write_int(b: bytearray, start: int, count: int, value: int, order: str) -> None:
    start, count = _window(b, start, count, 8)
    b[start:start + count] = value.to_bytes(8, order, signed=True)[:count]


def _parse_float(b: bytearray, start: int, count: int, fmt: str) -> float:
    start, count = _window(b, start, count, 8)
    return struct.unpack(fmt, bytes(b[start:start + count]).ljust(8, b"\0"))[0]


def _write_float(b: bytearray, start: int, count: int, value: float, fmt: str) -> None:
    start, count = _window(b, start, count, 8)
    b[start:start + count] = struct.pack(fmt, value)[:count]


def _register_number_io() -> None:
    """parse_le_int/parse_be_int/parse_le_float/parse_be_float and write_le/write_be,
    each with (start, len) or a range; reads zero-fill, writes copy at most 8 bytes."""
    for end, order, fmt in (("le", "little", "<d"), ("be", "big", ">d")):
        readers = {f"parse_{end}_int": (_parse_int, order), f"parse_{end}_float": (_parse_float, fmt)}
        for name, (read, how) in readers.items():
            native(name, bytearray, int, int)(
                lambda b, s, n, read=read, how=how: read(b, s, n, how))
            native(name, bytearray, RhaiRange)(
                lambda b, r, read=read, how=how: read(b, *range_start_len(r), how))
        for kind, write, how in ((int, _write_int, order), (float, _write_float, fmt)):
            native(f"write_{end}", bytearray, int, int, kind, mutates=True)(
                lambda b, s, n, v, write=write, how=how: write(b, s, n, v, how))
            native(f"write_{end}", bytearray, RhaiRange, kind, mutates=True)(
                lambda b, r, v, write=write, how=how: write(b, *range_start_len(r), v, how))


_register_number_io()


def _write_text(b: bytearray, start: int, count: int, data: bytes) -> None:
    if not b or count <= 0:
        return
    start, count = offset_len(len(b), start, count)
    data = data[:count]
    b[start:start + len(data)] = data


@native("write_utf8", bytearray, int, int, str, mutates=True)
def write_utf8(b: bytearray, start: int, count: int, text: str) -> None:
    """Write the string's UTF-8 bytes (cut to ``count``) into the blob at ``start``."""
    _write_text(b, start, count, text.encode("utf-8", "surrogatepass"))


@native("write_utf8", bytearray, RhaiRange, str, mutates=True)
def write_utf8_range(b: bytearray, rng: RhaiRange, text: str) -> None:
    write_utf8(b, *range_start_len(rng), text)


@native("write_ascii", bytearray, int, int, str, mutates=True)
def write_ascii(b: bytearray, start: int, count: int, text: str) -> None:
    """Write the string's ASCII characters (others skipped, cut to ``count``) at ``start``."""
    _write_text(b, start, count, "".join(c for c in text if c.isascii()).encode("ascii"))


@native("write_ascii", bytearray, RhaiRange, str, mutates=True)
def write_ascii_range(b: bytearray, rng: RhaiRange, text: str) -> None:
    write_ascii(b, *range_start_len(rng), text)
