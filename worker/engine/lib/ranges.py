"""Rhai range and function-pointer functions (``range_functions`` in src/packages/iter_basic.rs,
src/packages/fn_basic.rs): properties of ``a..b`` / ``a..=b`` and of ``Fn`` values, and the
value-taking ``take``."""
from __future__ import annotations

from typing import Any

from ..natives import ANY, native
from ..values import FnPtr, RhaiRange


def _both(name: str, *params: Any) -> Any:
    """Register a function both as a method and as a property getter (Rhai's ``get = ...``)."""
    def register(fn: Any) -> Any:
        native(name, *params)(fn)
        native("get$" + name, *params)(fn)
        return fn
    return register


@_both("start", RhaiRange)
def start(r: RhaiRange) -> int:
    return r.start


@_both("end", RhaiRange)
def end(r: RhaiRange) -> int:
    return r.end


@_both("is_inclusive", RhaiRange)
def is_inclusive(r: RhaiRange) -> bool:
    return r.inclusive


@_both("is_exclusive", RhaiRange)
def is_exclusive(r: RhaiRange) -> bool:
    return not r.inclusive


@_both("is_empty", RhaiRange)
def is_empty(r: RhaiRange) -> bool:
    return r.start > r.end if r.inclusive else r.start >= r.end


@native("contains", RhaiRange, int)
def contains(r: RhaiRange, value: int) -> bool:
    return r.start <= value <= r.end if r.inclusive else r.start <= value < r.end


@_both("name", FnPtr)
def fn_name(f: FnPtr) -> str:
    return f.name


@_both("is_anonymous", FnPtr)
def is_anonymous(f: FnPtr) -> bool:
    """Closures and ``|x| ...`` literals (Rhai names them ``anon$...``)."""
    return f.name.startswith("anon$")


@native("take", ANY, writes_back=True)
def take(value: Any) -> tuple[None, Any]:
    """The value, leaving ``()`` in the variable it came from."""
    return None, value
