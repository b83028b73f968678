"""The table of native (Python-implemented) Rhai functions and how they are declared.

``stdlib`` fills ``LIBRARY`` with the ``@native`` decorator; the runtime dispatches a call by
name, arity and the exact Rhai types of the arguments, so overloads such as ``len(string)`` and
``len(array)`` live side by side, and a call that matches nothing is ``ErrorFunctionNotFound``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

ANY = object()
"""A parameter type that accepts every value."""


@dataclass(frozen=True)
class NativeFn:
    """One overload of a native function.

    ``params``: one entry per parameter, a Python type from ``values`` (int, float, bool, Char,
    str, list, dict, bytearray, FnPtr, Instant, RhaiRange, type(None)) or ``ANY``; matched with
    ``type(arg) is t`` so bool never passes as INT.
    ``ctx``: the function is called as ``fn(ctx, *args)`` and may use the runtime context
    (calling function pointers, checking size limits).
    ``mutates``: the function changes its first argument in place (list, dict, bytearray), so the
    runtime passes the variable itself, not a copy, when called method-style or on a variable.
    ``writes_back``: for a ``str`` first argument changed "in place" (e.g. ``trim``): the function
    returns ``(new_first_value, result)`` and the runtime stores the new value back.
    ``returns``: the Python type every result has, when the function promises one (the
    compiler then types what it gives, see ``Compiler.is_float``), else None.
    """

    name: str
    params: tuple
    fn: Callable[..., Any]
    ctx: bool = False
    mutates: bool = False
    writes_back: bool = False
    returns: type | None = None


LIBRARY: dict[str, list[NativeFn]] = {}


def native(name: str, *params: Any, ctx: bool = False, mutates: bool = False,
           writes_back: bool = False,
           returns: type | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated Python function as the Rhai function ``name(params...)``."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        LIBRARY.setdefault(name, []).append(
            NativeFn(name, params, fn, ctx=ctx, mutates=mutates, writes_back=writes_back,
                     returns=returns))
        return fn

    return register
