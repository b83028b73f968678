"""How Rhai values live in Python inside the engine, and how they print.

INT -> int (kept within i64 by the operators), FLOAT -> float, bool -> bool, char -> Char,
string -> str, () -> None, array -> list, object map -> dict (str keys), blob -> bytearray,
function pointer -> FnPtr, timestamp -> Instant, ranges -> RhaiRange.
Arrays, maps and blobs have value semantics in Rhai: the compiler copies them on assignment.
"""
from __future__ import annotations

import math
import struct
import unicodedata
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
    func: Any = None  # compiled closure (callable, arity) for anonymous functions, else None

    def __repr__(self) -> str:
        return f"Fn({self.name})"

    def code_for(self, arity: int) -> Any:
        """The closure's compiled code when a call with ``arity`` arguments needs nothing else
        (no curried arguments, no lookup by name): call it as ``code(levels, this_box,
        *args)``, as ``Runtime.call_fn_ptr`` would; else None."""
        func = self.func
        if func is not None and not self.curry and func[1] == arity:
            return func[0]
        return None


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
        return "range"
    return t.__name__


def data_type_name(value: Any) -> str:
    """The type name Rhai's ``Dynamic::type_name`` gives, which its ``ErrorMismatchDataType``
    shows as the actual type: ``type_of``'s name, but for ranges their Rust type name (Rhai
    maps only the expected type to its short name, src/api/formatting.rs)."""
    t = type(value)
    if t is RhaiRange:
        kind = "RangeInclusive" if value.inclusive else "Range"
        return f"core::ops::range::{kind}<i64>"
    if t is StepRange:
        number = "f64" if type(value.start) is float else "i64"
        return f"rhai::packages::iter_basic::StepRange<{number}>"
    return type_name(value)


# Rhai's FloatWrapper (src/types/float.rs) compares with these f32 constants widened to f64
_DISPLAY_MAX = struct.unpack("f", struct.pack("f", 10_000_000_000_000.0))[0]
_DISPLAY_MIN = struct.unpack("f", struct.pack("f", 0.000_000_000_000_1))[0]


def _shortest_digits(x: float) -> tuple[str, int]:
    """The shortest digits that round-trip ``abs(x)`` (as Rust prints them) and the decimal
    exponent of the first digit."""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    leading_zeros = len(whole + frac) - len(digits)
    return digits.rstrip("0"), len(whole) - 1 - leading_zeros + (int(exp) if exp else 0)


def _exponential(x: float) -> str:
    """Rust's ``{:e}``: ``1e15``, ``-2.5e-7``."""
    digits, exponent = _shortest_digits(x)
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    return f"{sign}{digits[0]}{'.' + digits[1:] if len(digits) > 1 else ''}e{exponent}"


def _decimal(x: float) -> str:
    """Rust's ``{}`` of an f64 (never an exponent), with ``.0`` when it is whole."""
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0.0:
        return sign + "0.0"
    digits, exponent = _shortest_digits(x)
    if exponent >= 0:
        whole = digits[:exponent + 1].ljust(exponent + 1, "0")
        frac = digits[exponent + 1:]
    else:
        whole, frac = "0", "0" * (-exponent - 1) + digits
    return f"{sign}{whole}.{frac or '0'}"


def signature_name(value: Any) -> str:
    """A type as Rhai's "Function not found" messages name it (strings by their Rust types)."""
    return "&str | ImmutableString | String" if type(value) is str else type_name(value)


def format_float(x: float) -> str:
    """Rhai's Display of a FLOAT (``print``, ``to_string``, interpolation): ``0.0`` for both
    zeros, an exponent outside [1e-13, 1e13] (f32 bounds), else plain decimal digits."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    magnitude = abs(x)
    if magnitude == 0.0:
        return "0.0"
    if magnitude > _DISPLAY_MAX or magnitude < _DISPLAY_MIN:
        return _exponential(x)
    return _decimal(x)


def debug_float(x: float) -> str:
    """Rust's Debug of an f64 (``debug``, ``to_debug``, floats inside arrays and maps): an
    exponent below 1e-4 or from 1e16 on, ``-0.0`` kept."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    magnitude = abs(x)
    if magnitude != 0.0 and (magnitude < 1e-4 or magnitude >= 1e16):
        return _exponential(x)
    return _decimal(x)


_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\",
            '"': '\\"'}


def _escape_char(c: str) -> str:
    """One character as Rust's ``str`` Debug writes it."""
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c.isprintable() and unicodedata.category(c) not in ("Mn", "Me"):
        return c
    return f"\\u{{{ord(c):x}}}"


def debug_string(text: str) -> str:
    """Rust's Debug of a string: quoted, with ``\\n``, ``\\"``, ``\\u{..}`` escapes."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_escape_char(c) for c in text) + '"'


def to_display(value: Any) -> str:
    """What ``print``/``to_string``/interpolation show (Rhai's ``print_*`` functions in
    src/packages/string_basic.rs): strings and chars bare, ``()`` empty, FLOATs in Display
    form, everything else as ``to_debug``."""
    t = type(value)
    if t is str or t is Char:
        return str(value)
    if t is float:
        return format_float(value)
    if value is None:
        return ""
    return to_debug(value)


def to_debug(value: Any) -> str:
    """What ``debug``/``to_debug`` show (src/packages/string_basic.rs): strings quoted and
    escaped, chars bare, containers with their items in this form."""
    t = type(value)
    if t is str:
        return debug_string(value)
    if t is Char:
        return str(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return debug_float(value)
    if value is None:
        return "()"
    if t is list or t is tuple:
        return "[" + ", ".join(to_debug(v) for v in value) + "]"
    if t is dict:
        return "#{" + ", ".join(f"{debug_string(k)}: {to_debug(value[k])}"
                                for k in sorted(value)) + "}"
    if t is bytearray or t is bytes:
        text = value.hex()
        return "[" + " ".join(text[i:i + 16] for i in range(0, len(text), 16)) + "]"
    if t is FnPtr:
        return f"Fn({value.name})"
    if t is RhaiRange:
        end = "" if value.end == INT_MAX else value.end
        return f"{value.start}..{'=' if value.inclusive else ''}{end}"
    if t is Instant:
        return "<timestamp>"
    return f"<{type_name(value)}>"


def int_step_range(start: int, end: int, step: int) -> range:
    """The numbers of Rhai's INT ``range(start, end, step)`` (step not 0) as a Python
    ``range``: see ``StepRange.iterate``."""
    if step > 0:
        return range(start, min(end, INT_MAX - step + 1), step)
    return range(start, max(end, INT_MIN - step - 1), step)


@dataclass(frozen=True)
class StepRange:
    """``range(from, to, step)``, all three INTs or all three FLOATs: counts up (step > 0)
    or down (step < 0). ``corefns.fn_range`` makes them (and refuses a step that moves
    nothing)."""

    start: Any
    end: Any
    step: Any

    def iterate(self) -> Any:
        """The numbers, as Rhai's ``StepRange`` gives them (src/packages/iter_basic.rs): a
        direction is set when the range is made (up if ``start < end`` and ``start + step``
        is above ``start``, down for the mirror case, else no numbers at all), and each value
        is yielded only once the next one has been computed, so an INT value whose successor
        would overflow i64 ends the range without being yielded. For INTs that is a Python
        ``range`` (iterated at C speed) ending before the first such value."""
        numbers = self.int_range()
        if numbers is not None:
            return iter(numbers)
        return self.iterate_floats(self.start, self.end, self.step)

    def int_range(self) -> range | None:
        """An INT range's numbers as a Python ``range`` (see ``iterate``); None for FLOATs."""
        if type(self.start) is not int:
            return None
        return int_step_range(self.start, self.end, self.step)

    @staticmethod
    def iterate_floats(x: float, end: float, step: float) -> Any:
        """A FLOAT range (no overflow; a NaN anywhere gives no direction: no numbers)."""
        if x < end and x + step > x:
            while x < end:
                yield x
                x += step
        elif x > end and x + step < x:
            while x > end:
                yield x
                x += step
