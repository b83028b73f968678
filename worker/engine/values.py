"""How Rhai values live in Python inside the engine, and how they print.

INT -> int (kept within i64 by the operators), FLOAT -> float, bool -> bool, char -> Char,
string -> str, () -> None, array -> list, object map -> dict (str keys), blob -> bytearray,
function pointer -> FnPtr, timestamp -> Instant, ranges -> RhaiRange.
Arrays, maps and blobs have value semantics in Rhai: the compiler copies them on assignment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1


class Char(str):
    """A Rhai ``char``: a one-character ``str`` that remembers it is a char."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Char({str.__repr__(self)})"


@dataclass
class FnPtr:
    """A Rhai function pointer: a function name, curried arguments, and for closures the code."""

    name: str
    curry: list = field(default_factory=list)
    func: Any = None  # compiled closure (callable) for anonymous functions, else None

    def __repr__(self) -> str:
        return f"Fn({self.name})"


@dataclass(frozen=True)
class Instant:
    """A Rhai ``timestamp``: a point on the monotonic clock, in seconds."""

    seconds: float


@dataclass(frozen=True)
class RhaiRange:
    """``a..b`` (exclusive) or ``a..=b`` (inclusive) over INT."""

    start: int
    end: int
    inclusive: bool = False

    def as_range(self) -> range:
        return range(self.start, self.end + 1 if self.inclusive else self.end)


def type_name(value: Any) -> str:
    """Rhai's ``type_of`` for a value."""
    t = type(value)
    if t is int:
        return "i64"
    if t is float:
        return "f64"
    if t is bool:
        return "bool"
    if t is Char:
        return "char"
    if t is str:
        return "string"
    if value is None:
        return "()"
    if t is list:
        return "array"
    if t is dict:
        return "map"
    if t is bytearray:
        return "blob"
    if t is FnPtr:
        return "Fn"
    if t is Instant:
        return "timestamp"
    if t is RhaiRange:
        return "range=" if value.inclusive else "range"
    if t is StepRange:
        return "StepRange"
    return t.__name__


def format_float(x: float) -> str:
    """Rhai's display of an f64: always shows a fractional part or an exponent."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e16:
        return f"{int(x)}.0" if x or math.copysign(1, x) > 0 else "-0.0"
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp)}"
    return text


def to_display(value: Any) -> str:
    """What ``print``/``to_string`` show: strings and chars bare, containers in debug form."""
    if type(value) is str or type(value) is Char:
        return str(value)
    return to_debug(value)


def to_debug(value: Any) -> str:
    """What ``debug``/``to_debug`` show: strings quoted, containers recursively."""
    t = type(value)
    if t is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if t is Char:
        return repr(str(value))
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return format_float(value)
    if value is None:
        return "()"
    if t is list or t is tuple:
        return "[" + ", ".join(to_debug(v) for v in value) + "]"
    if t is dict:
        return "#{" + ", ".join(f"{to_debug(k)}: {to_debug(value[k])}" for k in sorted(value)) + "}"
    if t is bytearray or t is bytes:
        return "[" + value.hex() + "]"
    if t is FnPtr:
        return f"Fn({value.name})"
    if t is RhaiRange:
        return f"{value.start}..{'=' if value.inclusive else ''}{value.end}"
    if t is Instant:
        return "<timestamp>"
    return f"<{type_name(value)}>"


@dataclass(frozen=True)
class StepRange:
    """``range(from, to, step)`` over INT or FLOAT: counts up (step > 0) or down (step < 0)."""

    start: Any
    end: Any
    step: Any

    def iterate(self) -> Any:
        x, end, step = self.start, self.end, self.step
        is_int = type(x) is int and type(end) is int and type(step) is int
        if not is_int:
            x, end, step = float(x), float(end), float(step)
        while (x < end) if step > 0 else (x > end):
            yield x
            x += step
            if is_int and not INT_MIN <= x <= INT_MAX:
                return
