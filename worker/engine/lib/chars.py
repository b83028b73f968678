"""Rhai char functions: case conversion and code points (Rhai has no classification
functions such as ``is_digit``), and ``min``/``max`` of two chars."""
from __future__ import annotations

from ..natives import native
from ..values import Char


def _single(converted: str, original: Char) -> Char:
    """Rust keeps a char whose case mapping is more than one character (e.g. 'ß') unchanged."""
    return Char(converted) if len(converted) == 1 else original


@native("to_upper", Char)
def to_upper(ch: Char) -> Char:
    return _single(ch.upper(), ch)


@native("to_lower", Char)
def to_lower(ch: Char) -> Char:
    return _single(ch.lower(), ch)


@native("make_upper", Char, writes_back=True)
def make_upper(ch: Char) -> tuple[Char, None]:
    return to_upper(ch), None


@native("make_lower", Char, writes_back=True)
def make_lower(ch: Char) -> tuple[Char, None]:
    return to_lower(ch), None


@native("to_int", Char)
def to_int(ch: Char) -> int:
    """The Unicode code point."""
    return ord(ch)
