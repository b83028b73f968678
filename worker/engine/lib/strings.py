"""Rhai string functions (``MoreStringPackage``) and the universal ``to_string``/``to_debug``.

Positions and lengths count characters, not bytes. Rhai strings are mutable: the "in place"
functions (trim, replace, pad, ...) are ``writes_back`` natives returning ``(new_string, result)``.
"""
from __future__ import annotations

from typing import Any

from ..natives import ANY, native
from ..values import Char, RhaiRange, to_debug, to_display
from .common import grow_checked, range_start_len


@native("to_string", ANY)
def to_string(value: Any) -> str:
    """What ``print`` would show for the value."""
    return to_display(value)


@native("to_debug", ANY)
def to_debug_text(value: Any) -> str:
    """What ``debug`` would show for the value (strings quoted)."""
    return to_debug(value)


@native("len", str)
@native("get$len", str)
def length(s: str) -> int:
    """Number of characters."""
    return len(s)


@native("is_empty", str)
@native("get$is_empty", str)
def is_empty(s: str) -> bool:
    return not s


@native("bytes", str)
@native("get$bytes", str)
def byte_count(s: str) -> int:
    """Number of bytes of the UTF-8 encoding."""
    return len(s.encode("utf-8", "surrogatepass"))


@native("to_blob", str)
def to_blob(s: str) -> bytearray:
    """The UTF-8 bytes of the string."""
    return bytearray(s.encode("utf-8", "surrogatepass"))


@native("to_chars", str)
@native("chars", str)
def to_chars(s: str) -> list:
    return [Char(c) for c in s]


@native("chars", str, int)
def chars_from(s: str, start: int) -> list:
    """The characters from ``start`` (negative counts from the end) to the end."""
    return to_chars(_portion(s, start, len(s)))


@native("chars", str, int, int)
def chars_span(s: str, start: int, count: int) -> list:
    return to_chars(_portion(s, start, count))


@native("chars", str, RhaiRange)
def chars_range(s: str, rng: RhaiRange) -> list:
    return to_chars(_portion(s, *range_start_len(rng)))


@native("append", str, ANY, ctx=True, writes_back=True)
def append(ctx: Any, s: str, item: Any) -> tuple[str, None]:
    """Append the item's display text (a blob is decoded as UTF-8)."""
    if type(item) is bytearray:
        text = bytes(item).decode("utf-8", "replace")
    else:
        text = to_display(item)
    return ctx.check_string(s + text), None


@native("remove", str, str, writes_back=True)
@native("remove", str, Char, writes_back=True)
def remove(s: str, sub: str) -> tuple[str, None]:
    """Remove every occurrence of a sub-string or character."""
    return (s.replace(sub, "") if sub else s), None


@native("clear", str, writes_back=True)
def clear(s: str) -> tuple[str, None]:
    return "", None


@native("truncate", str, int, writes_back=True)
def truncate(s: str, n: int) -> tuple[str, None]:
    """Keep at most ``n`` characters (none if ``n`` <= 0)."""
    return (s[:n] if n > 0 else ""), None


@native("trim", str, writes_back=True)
def trim(s: str) -> tuple[str, None]:
    return s.strip(), None


@native("pop", str, writes_back=True)
def pop(s: str) -> tuple[str, Any]:
    """Remove and return the last character, or ``()`` if empty."""
    if not s:
        return s, None
    return s[:-1], Char(s[-1])


@native("pop", str, int, writes_back=True)
def pop_n(s: str, n: int) -> tuple[str, str]:
    """Remove the last ``n`` characters and return them as a string."""
    if not s or n <= 0:
        return s, ""
    n = min(n, len(s))
    return s[:-n], s[-n:]


@native("to_upper", str)
def to_upper(s: str) -> str:
    return s.upper()


@native("to_lower", str)
def to_lower(s: str) -> str:
    return s.lower()


@native("make_upper", str, writes_back=True)
def make_upper(s: str) -> tuple[str, None]:
    return s.upper(), None


@native("make_lower", str, writes_back=True)
def make_lower(s: str) -> tuple[str, None]:
    return s.lower(), None


@native("contains", str, str)
@native("contains", str, Char)
def contains(s: str, sub: str) -> bool:
    return sub in s


@native("starts_with", str, str)
@native("starts_with", str, Char)
def starts_with(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


@native("ends_with", str, str)
@native("ends_with", str, Char)
def ends_with(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


@native("min", str, str)
@native("min", Char, Char)
def min_text(a: str, b: str) -> str:
    """The string or char that sorts first (Rhai compares them by code point)."""
    return a if a <= b else b


@native("max", str, str)
@native("max", Char, Char)
def max_text(a: str, b: str) -> str:
    return a if a >= b else b


@native("index_of", str, str)
@native("index_of", str, Char)
def index_of(s: str, sub: str) -> int:
    """Character position of the first occurrence, or -1."""
    return s.find(sub) if s else -1


@native("index_of", str, str, int)
@native("index_of", str, Char, int)
def index_of_from(s: str, sub: str, start: int) -> int:
    """Like ``index_of`` but searching from ``start`` (negative counts from the end)."""
    if not s:
        return -1
    if start < 0:
        start = max(len(s) + start, 0)
    elif start >= len(s):
        return -1
    return s.find(sub, start)


@native("get", str, int)
def get(s: str, index: int) -> Any:
    """The character at ``index`` (negative counts from the end), or ``()`` if out of range."""
    if -len(s) <= index < len(s):
        return Char(s[index])
    return None


@native("set", str, int, Char, writes_back=True)
def set_char(s: str, index: int, ch: Char) -> tuple[str, None]:
    """Replace the character at ``index``; out of range leaves the string unchanged."""
    if -len(s) <= index < len(s):
        index %= len(s)
        s = s[:index] + ch + s[index + 1:]
    return s, None


def _portion(s: str, start: int, count: int) -> str:
    """Rhai's sub-string rule: negative start from the end, clamp start and count to the string."""
    if not s or count <= 0:
        return ""
    if start < 0:
        start = len(s) - min(-start, len(s))
    elif start >= len(s):
        return ""
    return s[start:start + count]


@native("sub_string", str, int, int)
def sub_string(s: str, start: int, count: int) -> str:
    return _portion(s, start, count)


@native("sub_string", str, int)
def sub_string_from(s: str, start: int) -> str:
    return _portion(s, start, len(s))


@native("sub_string", str, RhaiRange)
def sub_string_range(s: str, rng: RhaiRange) -> str:
    return _portion(s, *range_start_len(rng))


@native("crop", str, int, int, writes_back=True)
def crop(s: str, start: int, count: int) -> tuple[str, None]:
    """Keep only the given portion of the string."""
    return _portion(s, start, count), None


@native("crop", str, int, writes_back=True)
def crop_from(s: str, start: int) -> tuple[str, None]:
    return _portion(s, start, len(s)), None


@native("crop", str, RhaiRange, writes_back=True)
def crop_range(s: str, rng: RhaiRange) -> tuple[str, None]:
    return _portion(s, *range_start_len(rng)), None


@native("replace", str, str, str, writes_back=True)
@native("replace", str, str, Char, writes_back=True)
@native("replace", str, Char, str, writes_back=True)
@native("replace", str, Char, Char, writes_back=True)
def replace(s: str, find: str, substitute: str) -> tuple[str, None]:
    """Replace every occurrence of a sub-string or character (the runtime checks the new
    string's size, as every written-back string's)."""
    if not s:
        return s, None
    if find:
        return s.replace(find, substitute), None
    return substitute + substitute.join(s) + substitute, None


@native("pad", str, int, Char, ctx=True, writes_back=True)
@native("pad", str, int, str, ctx=True, writes_back=True)
def pad(ctx: Any, s: str, target: int, padding: str) -> tuple[str, None]:
    """Pad the string with copies of a character or string up to ``target`` characters."""
    if target <= len(s) or not padding:
        return s, None

    def padded(n: int) -> str:
        need = n - len(s)
        return s + (padding * (need // len(padding) + 1))[:need]

    return grow_checked(ctx.check_string, padded, target), None


def _split(s: str, sep: str, segments: int | None = None) -> list[str]:
    """Rust's ``split``/``splitn``, including an empty separator (splits between characters)."""
    if sep:
        return s.split(sep) if segments is None else s.split(sep, segments - 1)
    parts = ["", *s, ""]
    if segments is not None and len(parts) > segments:
        parts = parts[:segments - 1] + ["".join(parts[segments - 1:])]
    return parts


def _rsplit(s: str, sep: str, segments: int | None = None) -> list[str]:
    """Rust's ``rsplit``/``rsplitn``: segments from the end, in reverse order."""
    if sep:
        parts = s.split(sep) if segments is None else s.rsplit(sep, segments - 1)
        return parts[::-1]
    parts = ["", *s, ""][::-1]
    if segments is not None and len(parts) > segments:
        parts = parts[:segments - 1] + ["".join(reversed(parts[segments - 1:]))]
    return parts


@native("split", str)
def split_whitespace(s: str) -> list:
    return s.split()


@native("split", str, str)
@native("split", str, Char)
def split(s: str, sep: str) -> list:
    return _split(s, sep)


@native("split", str, str, int)
@native("split", str, Char, int)
def split_n(s: str, sep: str, segments: int) -> list:
    """Split into at most ``segments`` pieces (one piece if ``segments`` < 1)."""
    return [s] if segments < 1 else _split(s, sep, segments)


@native("split_rev", str, str)
@native("split_rev", str, Char)
def split_rev(s: str, sep: str) -> list:
    return _rsplit(s, sep)


@native("split_rev", str, str, int)
@native("split_rev", str, Char, int)
def split_rev_n(s: str, sep: str, segments: int) -> list:
    return [s] if segments < 1 else _rsplit(s, sep, segments)


@native("split", str, int)
def split_at(s: str, index: int) -> list:
    """Cut the string in two at a character position (negative counts from the end)."""
    if index < 0:
        index = max(len(s) + index, 0)
    return [s[:index], s[index:]]

