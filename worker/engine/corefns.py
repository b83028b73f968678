"""The functions the engine itself provides (not the library): print, debug, type_of, Fn,
call, curry, is_def_fn and range. Each gets the runtime, the call depth and the
by-reference box of a method call's object (or None), then the arguments."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .errors import EvalError, ScriptExit, in_native_call
from .values import (FnPtr, RhaiRange, StepRange, signature_name, to_debug, to_display,
                     type_name)

if TYPE_CHECKING:
    from .runtime import Runtime


def not_found(name: str, args: tuple | list) -> EvalError:
    sig = ", ".join(signature_name(a) for a in args)
    return EvalError(f"Function not found: {name} ({sig})", kind="ErrorFunctionNotFound")


def fn_print(rt: Runtime, d: int, box: Any, *args: Any) -> None:
    """``print(x)``, or ``print()`` for an empty line (Rhai's ``print_empty_string``)."""
    if len(args) > 1:
        raise not_found("print", args)
    if not args:
        rt.on_print("")
        return
    rt.charge_value(args[0])
    rt.on_print(rt.check(to_display(rt.check_before_formatting(args[0]))))


def fn_debug(rt: Runtime, d: int, box: Any, *args: Any) -> None:
    if len(args) > 1:
        raise not_found("debug", args)
    if not args:
        rt.on_debug("")
        return
    rt.charge_value(args[0])
    rt.on_debug(rt.check(to_debug(rt.check_before_formatting(args[0]))))


def fn_type_of(rt: Runtime, d: int, box: Any, *args: Any) -> str:
    if len(args) != 1:
        raise not_found("type_of", args)
    return type_name(args[0])


def fn_fn(rt: Runtime, d: int, box: Any, *args: Any) -> FnPtr:
    if len(args) != 1 or type(args[0]) is not str:
        raise not_found("Fn", args)
    name = args[0]
    if not name.isidentifier() or not name.isascii() or name.startswith("__"):
        raise EvalError(f"Invalid function name: '{name}'", kind="ErrorFunctionNotFound")
    return FnPtr(name)


def fn_call(rt: Runtime, d: int, box: Any, *args: Any) -> Any:
    if box is not None and len(args) >= 2 and type(args[1]) is FnPtr and type(args[0]) is not FnPtr:
        return rt.call_fn_ptr(d, args[1], list(args[2:]), box)
    if not args:
        raise not_found("call", args)
    if type(args[0]) is not FnPtr:  # Rhai calls only function pointers, not names
        raise EvalError(f"Data type incorrect: {type_name(args[0])} (expecting Fn)",
                        kind="ErrorMismatchDataType")
    return rt.call_fn_ptr(d, args[0], list(args[1:]))


def fn_curry(rt: Runtime, d: int, box: Any, *args: Any) -> FnPtr:
    if not args or type(args[0]) is not FnPtr:
        raise not_found("curry", args)
    fp = args[0]
    return FnPtr(fp.name, [*fp.curry, *args[1:]], fp.func)


def fn_is_def_fn(rt: Runtime, d: int, box: Any, *args: Any) -> bool:
    if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not int:
        raise not_found("is_def_fn", args)
    return (args[0], args[1]) in rt.fns


def fn_range(rt: Runtime, d: int, box: Any, *args: Any) -> Any:
    """Rhai's ``range`` overloads (src/packages/iter_basic.rs): ``range(from, to)`` of INTs,
    ``range(from, to, step)`` of three INTs or three FLOATs, ``range(a..b, step)`` of INTs."""
    if len(args) == 2 and type(args[0]) is int and type(args[1]) is int:
        return RhaiRange(args[0], args[1])
    if len(args) == 2 and type(args[0]) is RhaiRange and not args[0].inclusive and \
            type(args[1]) is int:  # range(a..b, step)
        args = (args[0].start, args[0].end, args[1])
    if len(args) == 3 and (type(args[0]) is int or type(args[0]) is float) and \
            type(args[0]) is type(args[1]) is type(args[2]):
        start, step = args[0], args[2]
        if start + step == start:  # StepRange::new: a step that moves nothing
            raise in_native_call("range", EvalError("step value cannot be zero",
                                                    kind="ErrorArithmetic"))
        return StepRange(*args)
    raise not_found("range", args)


def fn_exit(rt: Runtime, d: int, box: Any, *args: Any) -> None:
    """``exit()`` / ``exit(value)`` (src/packages/lang_core.rs): stop the script now."""
    if len(args) > 1:
        raise not_found("exit", args)
    raise ScriptExit(args[0] if args else None)


def fn_import(rt: Runtime, d: int, box: Any, *args: Any) -> None:
    """An ``import`` statement (scripts cannot call this by name: ``import`` is a keyword)."""
    path = args[0]
    if type(path) is not str:
        raise EvalError(f"Data type incorrect: {type_name(path)} (expecting string)",
                        kind="ErrorMismatchDataType")
    raise EvalError(f"Module not found: {path}", kind="ErrorModuleNotFound",
                    fields={"module": path})


BUILTINS: dict[str, Callable[..., Any]] = {
    "print": fn_print, "debug": fn_debug, "type_of": fn_type_of, "Fn": fn_fn,
    "call": fn_call, "curry": fn_curry, "is_def_fn": fn_is_def_fn, "range": fn_range,
    "exit": fn_exit, "import": fn_import,
}
