"""Rhai bit-field functions on INT: single bits, bit ranges, and listing bits.

Bit 0 is the least significant; a negative bit position counts from the top (-1 is bit 63).
``set_bit``/``set_bits`` change the INT variable, so they are ``writes_back`` natives.
"""
from __future__ import annotations

from ..errors import EvalError
from ..natives import native
from ..values import RhaiRange
from .common import index_in, range_start_len

BITS = 64
_U64 = (1 << BITS) - 1


def _bit(position: int) -> int:
    """The bit index for ``position``, or ``ErrorBitFieldBounds``."""
    bit = index_in(BITS, position)
    if bit is None:
        raise EvalError(f"Bit-field index {position} out of bounds: only {BITS} bits in the bit-field",
                        kind="ErrorBitFieldBounds")
    return bit


def _signed(value: int) -> int:
    """Reinterpret the low 64 bits as an i64."""
    value &= _U64
    return value - (1 << BITS) if value >> (BITS - 1) else value


def _span(start: int, count: int) -> tuple[int, int]:
    """(first bit, number of bits) clamped to the 64 bits; ``count`` must be positive."""
    bit = _bit(start)
    return bit, min(count, BITS - bit)


@native("get_bit", int, int)
def get_bit(value: int, position: int) -> bool:
    return bool(value >> _bit(position) & 1)


@native("set_bit", int, int, bool, writes_back=True)
def set_bit(value: int, position: int, on: bool) -> tuple[int, None]:
    mask = 1 << _bit(position)
    return _signed(value | mask if on else value & ~mask), None


@native("get_bits", int, int, int)
def get_bits(value: int, start: int, count: int) -> int:
    """``count`` bits from bit ``start``, as an unsigned number (all 64 bits: the value)."""
    if count <= 0:
        return 0
    bit, count = _span(start, count)
    if count == BITS:
        return value
    return value >> bit & ((1 << count) - 1)


@native("get_bits", int, RhaiRange)
def get_bits_range(value: int, rng: RhaiRange) -> int:
    return get_bits(value, *range_start_len(rng))


@native("set_bits", int, int, int, int, writes_back=True)
def set_bits(value: int, start: int, count: int, new_bits: int) -> tuple[int, None]:
    """Replace ``count`` bits from bit ``start`` with the low bits of ``new_bits``."""
    if count <= 0:
        return value, None
    bit, count = _span(start, count)
    if count == BITS:
        return new_bits, None
    mask = (1 << count) - 1
    return _signed(value & ~(mask << bit) | (new_bits & mask) << bit), None


@native("set_bits", int, RhaiRange, int, writes_back=True)
def set_bits_range(value: int, rng: RhaiRange, new_bits: int) -> tuple[int, None]:
    return set_bits(value, *range_start_len(rng), new_bits)


@native("bits", int)
def bits(value: int) -> list:
    """Every bit as a bool, least significant first."""
    return bits_span(value, 0, BITS)


@native("bits", int, int)
def bits_from(value: int, start: int) -> list:
    return bits_span(value, start, BITS)


@native("bits", int, int, int)
def bits_span(value: int, start: int, count: int) -> list:
    """``count`` bits from bit ``start`` as bools, least significant first."""
    bit = _bit(start)
    count = max(0, min(count, BITS - bit))
    return [bool(value >> (bit + i) & 1) for i in range(count)]


@native("bits", int, RhaiRange)
def bits_range(value: int, rng: RhaiRange) -> list:
    return bits_span(value, *range_start_len(rng))
