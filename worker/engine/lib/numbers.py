"""Rhai number functions: arithmetic helpers, float math, conversions and parsing.

Float math follows Rust's f64: a domain error gives NaN and an overflow gives infinity rather
than an exception. Integer results stay within i64 or raise ``ErrorArithmetic``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from ..errors import EvalError
from ..natives import native
from ..values import INT_MAX, INT_MIN, format_float
from .common import check_int

_U64 = (1 << 64) - 1


def _arith_error(message: str) -> EvalError:
    return EvalError(message, kind="ErrorArithmetic")


@native("abs", int)
def abs_int(x: int) -> int:
    return check_int(abs(x), f"abs({x})")


@native("abs", float)
def abs_float(x: float) -> float:
    return abs(x)


@native("sign", int)
def sign_int(x: int) -> int:
    """-1, 0 or 1."""
    return (x > 0) - (x < 0)


@native("sign", float)
def sign_float(x: float) -> int:
    if math.isnan(x):
        raise _arith_error("Sign of NaN is undefined")
    return (x > 0) - (x < 0)


@native("is_zero", int)
@native("is_zero", float)
@native("get$is_zero", int)
@native("get$is_zero", float)
def is_zero(x: float) -> bool:
    return x == 0


@native("is_odd", int)
@native("get$is_odd", int)
def is_odd(x: int) -> bool:
    return x % 2 == 1


@native("is_even", int)
@native("get$is_even", int)
def is_even(x: int) -> bool:
    return x % 2 == 0


@native("min", int, int)
@native("min", float, float)
@native("min", int, float)
@native("min", float, int)
def minimum(x: Any, y: Any) -> Any:
    """The smaller value; mixing INT and FLOAT gives a FLOAT."""
    result = x if x <= y else y
    return float(result) if type(x) is not type(y) else result


@native("max", int, int)
@native("max", float, float)
@native("max", int, float)
@native("max", float, int)
def maximum(x: Any, y: Any) -> Any:
    """The larger value; mixing INT and FLOAT gives a FLOAT."""
    result = x if x >= y else y
    return float(result) if type(x) is not type(y) else result


@native("to_float", int, returns=float)
@native("to_float", float, returns=float)
def to_float(x: float) -> float:
    return float(x)


@native("to_int", int)
def int_to_int(x: int) -> int:
    return x


@native("to_int", float)
def float_to_int(x: float) -> int:
    """Truncate toward zero; a value outside the INT range is an error (NaN gives 0, as Rhai)."""
    if math.isnan(x):
        return 0
    if not INT_MIN <= x < -float(INT_MIN):
        raise _arith_error(f"Integer overflow: to_int({format_float(x)})")
    return int(x)


def _finite(fn: Callable[[float], float]) -> Callable[[float], float]:
    """Apply ``fn`` to finite values only; NaN and infinities pass through unchanged."""
    return lambda x: fn(x) if math.isfinite(x) else x


def _round_half_away(x: float) -> float:
    """Rust's ``f64::round``: halves round away from zero."""
    whole = math.floor(abs(x))
    if abs(x) - whole >= 0.5:
        whole += 1
    return math.copysign(float(whole), x)


_ROUNDING = {
    "floor": _finite(lambda x: float(math.floor(x))),
    "ceiling": _finite(lambda x: float(math.ceil(x))),
    "round": _finite(_round_half_away),
    "int": _finite(lambda x: float(math.trunc(x))),
    "fraction": lambda x: x - math.trunc(x) if math.isfinite(x) else math.nan,
}

_TESTS = {"is_nan": math.isnan, "is_finite": math.isfinite, "is_infinite": math.isinf}


def _rust_float(fn: Callable[..., float]) -> Callable[..., float]:
    """Wrap a ``math`` function so domain errors give NaN and overflows give infinity."""

    def call(*args: float) -> float:
        try:
            return fn(*args)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.copysign(math.inf, args[0])

    return call


def _ln(x: float) -> float:
    """Rust's ``ln``: ln(0) is -inf, a negative or NaN argument is NaN."""
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else _ln(x)


def _log(x: float, base: float) -> float:
    """Rust's ``log(base)``: ``ln(x) / ln(base)`` with IEEE division (no exception on zero)."""
    num, den = _ln(x), _ln(base)
    if den == 0:
        if num == 0 or math.isnan(num):
            return math.nan
        return math.copysign(math.inf, num) * math.copysign(1.0, den)
    return num / den


def _atanh(x: float) -> float:
    if abs(x) == 1:
        return math.copysign(math.inf, x)
    return _rust_float(math.atanh)(x)


def _cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return math.inf


_MATH = {
    "sqrt": _rust_float(math.sqrt),
    "exp": _rust_float(math.exp),
    "ln": _ln,
    "log10": _log10,
    "log": _log10,
    "sin": _rust_float(math.sin), "cos": _rust_float(math.cos), "tan": _rust_float(math.tan),
    "sinh": _rust_float(math.sinh), "cosh": _cosh, "tanh": math.tanh,
    "asin": _rust_float(math.asin), "acos": _rust_float(math.acos), "atan": math.atan,
    "asinh": math.asinh, "acosh": _rust_float(math.acosh), "atanh": _atanh,
    "to_degrees": math.degrees, "to_radians": math.radians,
}


def _register_float_functions() -> None:
    """Register the one-argument FLOAT functions; rounding and tests also as properties."""
    for name, fn in _ROUNDING.items():  # FLOATs in, FLOATs out
        native(name, float, returns=float)(fn)
        native(f"get${name}", float, returns=float)(fn)
    for name, fn in _TESTS.items():
        native(name, float)(fn)
        native(f"get${name}", float)(fn)
    for name, fn in _MATH.items():
        native(name, float, returns=float)(fn)


_register_float_functions()


@native("log", float, float)
def log_base(x: float, base: float) -> float:
    """Logarithm of ``x`` in any base."""
    return _log(x, base)


@native("atan", float, float)
def atan2(y: float, x: float) -> float:
    """Arc-tangent of ``y / x`` using both signs for the quadrant (Rust's ``y.atan2(x)``)."""
    return math.atan2(y, x)


@native("PI")
def pi() -> float:
    return math.pi


@native("E")
def e() -> float:
    return math.e


@native("to_hex", int)
def to_hex(x: int) -> str:
    """Hexadecimal digits; negative numbers show their 64-bit two's complement."""
    return format(x & _U64, "x")


@native("to_octal", int)
def to_octal(x: int) -> str:
    return format(x & _U64, "o")


@native("to_binary", int)
def to_binary(x: int) -> str:
    return format(x & _U64, "b")


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _parse_radix(text: str, radix: int) -> int:
    """Rust's ``i64::from_str_radix``: optional sign, then digits only (no prefix, no ``_``)."""
    if not text:
        raise ValueError("cannot parse integer from empty string")
    digits = text[1:] if text[0] in "+-" else text
    if not digits or any(_DIGITS.find(c.lower()) not in range(radix) or not c.isascii()
                         for c in digits):
        raise ValueError("invalid digit found in string")
    digits = digits.lstrip("0") or "0"
    if len(digits) > 64:
        raise ValueError("number too small to fit in target type" if text[0] == "-"
                         else "number too large to fit in target type")
    value = int(digits, radix) * (-1 if text[0] == "-" else 1)
    if value > INT_MAX:
        raise ValueError("number too large to fit in target type")
    if value < INT_MIN:
        raise ValueError("number too small to fit in target type")
    return value


@native("parse_int", str)
def parse_int(text: str) -> int:
    return parse_int_radix(text, 10)


@native("parse_int", str, int)
def parse_int_radix(text: str, radix: int) -> int:
    """Parse an INT in base ``radix`` (2 to 36); surrounding whitespace is ignored."""
    if not 2 <= radix <= 36:
        raise _arith_error(f"Invalid radix: '{radix}'")
    try:
        return _parse_radix(text.strip(), radix)
    except ValueError as err:
        raise _arith_error(f"Error parsing integer number '{text}': {err}") from None


_FLOAT = re.compile(r"[+-]?(inf|infinity|nan|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)", re.IGNORECASE)


@native("parse_float", str)
def parse_float(text: str) -> float:
    """Parse a FLOAT the way Rust does (no ``_`` separators); whitespace around is ignored."""
    stripped = text.strip()
    if not _FLOAT.fullmatch(stripped):
        reason = "cannot parse float from empty string" if not stripped else "invalid float literal"
        raise _arith_error(f"Error parsing floating-point number '{text}': {reason}")
    return float(stripped)
