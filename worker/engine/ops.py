"""Rhai's operators on engine values: the slow paths behind the compiler's inline int fast paths.

Integers are i64: every result is range-checked and overflow is ``ErrorArithmetic``.
"""
from __future__ import annotations

import math
from typing import Any

from .errors import EvalError
from .values import (INT_MAX, INT_MIN, Char, FnPtr, Instant, RhaiRange, signature_name, to_display,
                     type_name)

NUM = (int, float)


def arith_error(msg: str) -> EvalError:
    return EvalError(msg, kind="ErrorArithmetic")


def no_op(op: str, a: Any, b: Any) -> EvalError:
    return EvalError(f"Function not found: {op} ({signature_name(a)}, {signature_name(b)})",
                     kind="ErrorFunctionNotFound")


def checked(r: int, what: str = "Arithmetic overflow") -> int:
    if INT_MIN <= r <= INT_MAX:
        return r
    raise arith_error(what)


def is_int(v: Any) -> bool:
    return type(v) is int


def numeric(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    return (ta is int or ta is float) and (tb is int or tb is float)


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return checked(a + b, f"Addition overflow: {a} + {b}")
    if numeric(a, b):
        return float(a) + float(b)
    if ta is str or tb is str or (ta is Char and tb is Char):
        if ta is str and tb is str:
            return a + b
        if (ta is str or ta is Char) and (tb is str or tb is Char):
            return str(a) + str(b)
        if ta is str:
            return a if b is None else a + _as_text(b)
        if tb is str:
            return b if a is None else _as_text(a) + b
    if ta is list and tb is list:
        return copy_value(a) + copy_value(b)
    if ta is dict and tb is dict:
        out = copy_value(a)
        out.update(copy_value(b))
        return out
    if ta is bytearray and tb is bytearray:
        return a + b
    if ta is bytearray and tb is Char:  # src/func/builtin.rs: blob + char appends its UTF-8
        return a + str(b).encode()
    if ta is Instant and (tb is int or tb is float):
        return Instant(a.seconds + b)
    raise no_op("+", a, b)


def _as_text(value: Any) -> str:
    """A value joined to a string: its display form, a blob's bytes as UTF-8 text."""
    if type(value) is bytearray:
        return value.decode("utf-8", "replace")
    return to_display(value)


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return checked(a - b, f"Subtraction overflow: {a} - {b}")
    if numeric(a, b):
        return float(a) - float(b)
    if ta is str and (tb is str or tb is Char):
        return a.replace(b, "")
    if ta is Instant and tb is Instant:
        return a.seconds - b.seconds
    if ta is Instant and (tb is int or tb is float):
        return Instant(a.seconds - b)
    raise no_op("-", a, b)


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return checked(a * b, f"Multiplication overflow: {a} * {b}")
    if numeric(a, b):
        return float(a) * float(b)
    raise no_op("*", a, b)


def div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if b == 0:
            raise arith_error(f"Division by zero: {a} / {b}")
        q = abs(a) // abs(b)
        return checked(q if (a >= 0) == (b >= 0) else -q, f"Division overflow: {a} / {b}")
    if numeric(a, b):
        a, b = float(a), float(b)
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise no_op("/", a, b)


def mod(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if a >= 0 and b > 0:  # the commonest case: Python's % is Rust's here
            return a % b
        if b == 0 or (b == -1 and a == INT_MIN):  # Rust's checked_rem
            raise arith_error(f"Modulo division by zero or overflow: {a} % {b}")
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    if numeric(a, b):
        if float(b) == 0.0 or math.isinf(a):  # Rust's % gives NaN where fmod raises
            return math.nan
        return math.fmod(float(a), float(b))
    raise no_op("%", a, b)


def power(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if b < 0:
            raise arith_error(f"Integer raised to a negative power: {a} ** {b}")
        if b > 64 and a not in (0, 1, -1):
            raise arith_error(f"Exponential overflow: {a} ** {b}")
        return checked(a ** b, f"Exponential overflow: {a} ** {b}")
    if numeric(a, b):
        try:
            r = math.pow(float(a), float(b))
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
        return r
    raise no_op("**", a, b)


def shl(a: Any, b: Any) -> Any:
    """Rhai's checked ``<<`` (src/packages/arithmetic.rs): shifting out every bit gives 0, a
    negative shift shifts right."""
    if type(a) is int and type(b) is int:
        if b < 0:
            return shr(a, -b)
        if b >= 64:
            return 0
        r = (a << b) & 0xFFFF_FFFF_FFFF_FFFF
        return r - (1 << 64) if r > INT_MAX else r
    raise no_op("<<", a, b)


def shr(a: Any, b: Any) -> Any:
    """Rhai's checked ``>>``: arithmetic shift; 64 bits or more leave only the sign (0 or -1),
    a negative shift shifts left."""
    if type(a) is int and type(b) is int:
        if b < 0:
            return shl(a, -b)
        return a >> min(b, 63)
    raise no_op(">>", a, b)


def bit_and(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is bool and tb is bool):
        return a & b
    raise no_op("&", a, b)


def bit_or(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is bool and tb is bool):
        return a | b
    raise no_op("|", a, b)


def bit_xor(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is bool and tb is bool):
        return a ^ b
    raise no_op("^", a, b)


def neg(a: Any) -> Any:
    if type(a) is int:
        return checked(-a, f"Negation overflow: -{a}")
    if type(a) is float:
        return -a
    raise EvalError(f"Function not found: - ({signature_name(a)})", kind="ErrorFunctionNotFound")


def plus(a: Any) -> Any:
    if type(a) is int or type(a) is float:
        return a
    raise EvalError(f"Function not found: + ({signature_name(a)})", kind="ErrorFunctionNotFound")


def not_(a: Any) -> bool:
    if type(a) is bool:
        return not a
    raise EvalError(f"Function not found: ! ({signature_name(a)})", kind="ErrorFunctionNotFound")


def as_bool(v: Any) -> bool:
    """A condition value, which must be a bool in Rhai."""
    if type(v) is bool:
        return v
    raise EvalError(f"Data type incorrect: {type_name(v)} (expecting bool)",
                    kind="ErrorMismatchDataType")


def _textual(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    return (ta is str or ta is Char) and (tb is str or tb is Char)


def equals(a: Any, b: Any) -> bool:
    """Rhai ``==``: values of different types are unequal, except INT/FLOAT and char/string
    (and blob with char, which Rhai's built-ins only add)."""
    ta, tb = type(a), type(b)
    if ta is bytearray and tb is Char:
        raise no_op("==", a, b)
    if ta is float or tb is float:
        if _floating(a, b):
            return float_compare("==", a, b)
        return False
    if ta is tb:
        if ta is list:
            return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b))
        if ta is dict:
            return a.keys() == b.keys() and all(equals(a[k], b[k]) for k in a)
        if ta is FnPtr:
            return a.name == b.name and a.func is b.func and equals(a.curry, b.curry)
        return a == b
    if numeric(a, b) or _textual(a, b):
        return a == b
    return False


def not_equals(a: Any, b: Any) -> bool:
    if type(a) is bytearray and type(b) is Char:
        raise no_op("!=", a, b)
    if type(a) is float or type(b) is float:
        if _floating(a, b):  # NaN is neither equal nor unequal
            return float_compare("!=", a, b)
        return True
    return not equals(a, b)


EPSILON = 2.220446049250313e-16  # f64::EPSILON


def _floating(a: Any, b: Any) -> bool:
    """FLOAT with FLOAT or INT (either order): compared with Rhai's relative epsilon."""
    ta, tb = type(a), type(b)
    return (ta is float or ta is int) and (tb is float or tb is int) and \
        (ta is float or tb is float)


def _float_scale(x: float, y: float) -> float:
    """The divisor of Rhai's relative comparison (``src/func/builtin.rs``, ``impl_float``):
    1.0 when either side is zero, else the larger magnitude (``f64::max`` ignores a NaN)."""
    if x * y == 0.0:
        return 1.0
    ax, ay = abs(x), abs(y)
    if ax != ax:
        return ay
    if ay != ay:
        return ax
    return ax if ax > ay else ay


def float_compare(op: str, a: Any, b: Any) -> bool:
    """Rhai's checked FLOAT comparison: the difference is divided by the larger magnitude and
    compared with f64::EPSILON, so ``0.1 + 0.2 == 0.3`` holds; NaN compares false (``!=``
    true); two zero magnitudes are equal."""
    x, y = float(a), float(b)
    scale = _float_scale(x, y)
    if scale == 0.0:
        return op in ("==", "<=", ">=")
    if op == "==":
        return abs(x - y) / scale <= EPSILON
    if op == "!=":  # NaN: false, as every other comparison
        return abs(x - y) / scale > EPSILON
    if op == ">":
        return (x - y) / scale > EPSILON
    if op == ">=":
        return (x - y) / scale > -EPSILON
    if op == "<":
        return (y - x) / scale > EPSILON
    return (y - x) / scale > -EPSILON


def _ordered(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    return numeric(a, b) or _textual(a, b) or (ta is tb and ta in (bool, Instant)) or \
        (ta is tb and ta is type(None))


def _compare(op: str, a: Any, b: Any) -> bool:
    if type(a) is bytearray and type(b) is Char:
        raise no_op(op, a, b)
    if _floating(a, b):
        return float_compare(op, a, b)
    if _ordered(a, b):
        if type(a) is Instant:
            a, b = a.seconds, b.seconds
        elif a is None:
            return op in ("<=", ">=")
        return _PY_COMPARE[op](a, b)
    return False


_PY_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def less(a: Any, b: Any) -> bool:
    return _compare("<", a, b)


def less_eq(a: Any, b: Any) -> bool:
    return _compare("<=", a, b)


def greater(a: Any, b: Any) -> bool:
    return _compare(">", a, b)


def greater_eq(a: Any, b: Any) -> bool:
    return _compare(">=", a, b)


def contains(container: Any, item: Any) -> bool:
    """Rhai's ``item in container``."""
    t = type(container)
    if t is str:
        if type(item) is str or type(item) is Char:
            return item in container
    elif t is list:
        return any(equals(item, x) for x in container)
    elif t is dict:
        if type(item) is str or type(item) is Char:
            return str(item) in container
    elif t is RhaiRange:
        if type(item) is int:
            return item in container.as_range()
    elif t is bytearray:
        if type(item) is int:
            return item in container
    raise no_op("in", item, container)


def make_range(a: Any, b: Any, inclusive: bool) -> RhaiRange:
    if type(a) is int and type(b) is int:
        return RhaiRange(a, b, inclusive)
    raise no_op("..=" if inclusive else "..", a, b)


def copy_value(v: Any) -> Any:
    """Rhai's value semantics: arrays, maps and blobs are copied (deeply) when assigned."""
    t = type(v)
    if t is list:
        if CONTAINERS.isdisjoint(map(type, v)):  # nothing nested: a copy at C speed
            return v[:]
        return [copy_value(x) if type(x) in CONTAINERS else x for x in v]
    if t is dict:
        if CONTAINERS.isdisjoint(map(type, v.values())):
            return v.copy()
        return {k: copy_value(x) if type(x) in CONTAINERS else x for k, x in v.items()}
    if t is bytearray:
        return bytearray(v)
    return v


CONTAINERS = frozenset({list, dict, bytearray})
"""The types of values ``copy_value`` copies (arrays, maps, blobs)."""

BINARY = {
    "+": add, "-": sub, "*": mul, "/": div, "%": mod, "**": power, "<<": shl, ">>": shr,
    "&": bit_and, "|": bit_or, "^": bit_xor, "==": equals, "!=": not_equals, "<": less,
    "<=": less_eq, ">": greater, ">=": greater_eq,
}
