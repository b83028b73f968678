"""Rhai char functions: case conversion, classification and code points."""
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


@native("is_digit", Char)
def is_digit(ch: Char) -> bool:
    """An ASCII decimal digit."""
    return "0" <= ch <= "9"


@native("is_alphabetic", Char)
def is_alphabetic(ch: Char) -> bool:
    return ch.isalpha()


@native("is_alphanumeric", Char)
def is_alphanumeric(ch: Char) -> bool:
    return ch.isalnum()


@native("is_whitespace", Char)
def is_whitespace(ch: Char) -> bool:
    return ch.isspace()


@native("is_uppercase", Char)
def is_uppercase(ch: Char) -> bool:
    return ch.isupper()


@native("is_lowercase", Char)
def is_lowercase(ch: Char) -> bool:
    return ch.islower()
