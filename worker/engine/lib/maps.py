"""Rhai object-map functions (``BasicMapPackage``) and ``to_json``.

Rhai maps are ordered by key (a BTreeMap). The engine's dicts keep insertion order (sorting on
every insert would be quadratic) and everything that shows an order sorts: ``keys``/``values``,
``to_json``, the callbacks of ``filter``/``drain``/``retain``, display, ``for`` and results. Maps have no property getters (``m.len`` is a
property lookup), only methods.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

from ..errors import EvalError
from ..natives import ANY, native
from ..values import Char, FnPtr, Instant, RhaiRange, format_float, to_display
from .common import CONTAINERS, Walk, copy_value, fn_ptr, truthy


@native("len", dict)
def length(m: dict) -> int:
    return len(m)


@native("is_empty", dict)
def is_empty(m: dict) -> bool:
    return not m


@native("contains", dict, str)
def contains(m: dict, key: str) -> bool:
    """Whether the property exists; drives ``"key" in map``."""
    return key in m


@native("get", dict, str)
def get(m: dict, key: str) -> Any:
    """The property's value, or ``()`` if it does not exist."""
    return copy_value(m.get(key))


@native("set", dict, str, ANY, ctx=True, mutates=True)
def set_value(ctx: Any, m: dict, key: str, value: Any) -> None:
    m[key] = copy_value(value)
    ctx.check_map(m)


@native("remove", dict, str, mutates=True)
def remove(m: dict, key: str) -> Any:
    """Remove the property and return its value, or ``()`` if it did not exist."""
    return m.pop(key, None)


@native("clear", dict, mutates=True)
def clear(m: dict) -> None:
    m.clear()


@native("mixin", dict, dict, ctx=True, mutates=True)
def mixin(ctx: Any, m: dict, other: dict) -> None:
    """Copy every property of ``other`` into the map, replacing existing ones."""
    m.update(copy_value(other))
    ctx.check_map(m)


@native("fill_with", dict, dict, ctx=True, mutates=True)
def fill_with(ctx: Any, m: dict, other: dict) -> None:
    """Copy the properties of ``other`` that the map does not have yet."""
    for key, value in other.items():
        if key not in m:
            m[key] = copy_value(value)
    ctx.check_map(m)


@native("keys", dict)
def keys(m: dict) -> list:
    return sorted(m)


@native("values", dict)
def values(m: dict) -> list:
    return [copy_value(m[k]) for k in sorted(m)]


class _MapWalk(Walk):
    """One pass of a library function over a map's properties in key order, calling a callback
    as Rhai's ``call_raw_with_extra_args`` does: ``fp(key, value)`` with a copy of the value,
    or ``fp(key)`` with the value itself bound to ``this`` (a change to it is kept). A change
    to the map (its size or the value being visited after a call, any property by the end)
    is Rhai's ``ErrorDataRace`` (see ``Walk``)."""

    __slots__ = ("fp",)

    def __init__(self, m: dict, fp: Any) -> None:
        super().__init__(m)
        self.fp = fn_ptr(fp)

    def keys(self) -> list[str]:
        """The keys to visit, in Rhai's order."""
        return sorted(self.items)

    def caller(self, ctx: Any) -> Callable[[str], Any]:
        """What gives the callback's result for a key: ``visit``, or, for a closure or script
        function taking (key, value) (``ctx.callback``), a direct call with a copy of the
        value, as ``visit`` would make it, and the same check for a race."""
        direct = ctx.callback(self.fp, 2)
        if direct is None:
            return lambda key: self.visit(ctx, key)
        items = self.items

        def call(key: str) -> Any:
            value = items[key]
            result = direct(key, copy_value(value) if type(value) in CONTAINERS else value)
            if self.changed_at(key, value):
                self.raced()
            return result

        return call

    def visit(self, ctx: Any, key: str) -> Any:
        """The callback's result for property ``key`` (the general way)."""
        return self.call_at(ctx, self.fp, key, [key], [], 1)


@native("filter", dict, FnPtr, ctx=True, mutates=True)
@native("filter", dict, str, ctx=True, mutates=True)
def filter_map(ctx: Any, m: dict, fp: Any) -> dict:
    """A new map with the properties for which ``fp(key, value)`` is true."""
    walk = _MapWalk(m, fp)
    call = walk.caller(ctx)
    chosen = [k for k in walk.keys() if truthy(call(k))]
    walk.done(ctx)
    return {k: copy_value(m[k]) for k in chosen}


@native("map", dict, FnPtr, ctx=True, mutates=True)
@native("map", dict, str, ctx=True, mutates=True)
def map_values(ctx: Any, m: dict, fp: Any) -> dict:
    """A new map with every value replaced by ``fp(key, value)``."""
    walk = _MapWalk(m, fp)
    call = walk.caller(ctx)
    mapped = {k: call(k) for k in walk.keys()}
    walk.done(ctx)
    return mapped


@native("drain", dict, FnPtr, ctx=True, mutates=True)
@native("drain", dict, str, ctx=True, mutates=True)
def drain(ctx: Any, m: dict, fp: Any) -> dict:
    """Remove the properties for which ``fp(key, value)`` is true and return them."""
    return _split(ctx, m, fp, remove_when=True)


@native("retain", dict, FnPtr, ctx=True, mutates=True)
@native("retain", dict, str, ctx=True, mutates=True)
def retain(ctx: Any, m: dict, fp: Any) -> dict:
    """Keep the properties for which ``fp(key, value)`` is true; remove and return the others."""
    return _split(ctx, m, fp, remove_when=False)


def _split(ctx: Any, m: dict, fp: Any, remove_when: bool) -> dict:
    """The properties whose callback result is ``remove_when``, taken out of ``m`` once the
    callbacks ran. As in Rhai (``mem::take`` of the map, src/packages/map_basic.rs), an error
    in a callback leaves the map with the properties kept and those not yet visited: the ones
    taken out so far, and the one whose callback failed, are lost with the error."""
    walk = _MapWalk(m, fp)
    call = walk.caller(ctx)
    leaving: list[str] = []
    for key in walk.keys():
        try:
            if truthy(call(key)) == remove_when:
                leaving.append(key)
        except BaseException:  # Rhai had moved the property out for the call: it is lost
            for gone in [*leaving, key]:
                m.pop(gone, None)
            raise
    walk.done(ctx)
    return {key: m.pop(key) for key in leaving}


@native("parse_json", str)
def parse_json(text: str) -> dict:
    """An object map from JSON text (``null`` becomes ``()``); like Rhai's ``Engine::parse_json``
    the text must hold an object. The runtime checks the result's sizes, as every result's."""
    try:
        if text.startswith("\ufeff"):  # as json.loads
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise EvalError(f"Syntax error: {_json_problem(exc)}",
                        kind="ErrorParsing") from None
    if type(value) is not dict:
        raise EvalError(f"Output type incorrect: {_json_type(value)} (expecting map)",
                        kind="ErrorMismatchOutputType")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"'{name}' is not valid JSON")


def _json_problem(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else "JSON nested too deeply"


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "i64", float: "f64", bool: "bool"}.get(
        type(value), "()")


def _json_int(digits: str) -> int | float:
    """A JSON whole number as a Rhai value: a FLOAT outside i64."""
    value = int(digits)
    return value if -(1 << 63) <= value < (1 << 63) else float(value)


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_int=_json_int,
                            object_pairs_hook=dict)
"""What ``json.loads(text, ...)`` would make for each call, made once."""
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""What ``json.dumps(value, ...)`` would make for each call, made once."""
_AS_IS = frozenset({int, str, bool, type(None)})
"""Rhai values that ``json`` writes as they are."""


def _json_default(value: Any) -> Any:
    """What ``_ENCODE_SORTED`` writes for a value ``json`` cannot write itself."""
    t = type(value)
    if t is bytearray:
        return list(value)
    if t is FnPtr:
        return value.name
    if t in (Instant, RhaiRange):
        return to_display(value)
    return _ENCODER.default(value)  # raises TypeError, as the encoder does for any other


_ENCODE_SORTED = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _json_default, json.encoder.encode_basestring, _ENCODER.indent,
    _ENCODER.key_separator, _ENCODER.item_separator, True, _ENCODER.skipkeys,
    _ENCODER.allow_nan)
"""``_ENCODER``'s settings, keys sorted, in CPython's C encoder, built once (``encode`` builds
one per call): a map's JSON in one walk at C speed, without a sorted copy made first. Rhai
values cannot hold themselves (stored values are copies), so no visited containers are kept
(a value nested too deeply is a RecursionError either way)."""


@native("to_json", dict)
def to_json(m: dict) -> str:
    """The map as compact JSON text (function pointers by name, ``()`` as null)."""
    try:
        return "".join(_ENCODE_SORTED(m, 0))
    except ValueError:  # a non-finite float, which JSON cannot hold: named by ``_jsonable``
        return _ENCODER.encode(_jsonable(m))


def _jsonable(value: Any) -> Any:
    """Map a Rhai value onto what ``json`` can write; non-finite floats cannot be JSON."""
    t = type(value)
    if t is dict:
        return {k: v if type(v) in _AS_IS else _jsonable(v) for k, v in sorted(value.items())}
    if t is list:
        return [v if type(v) in _AS_IS else _jsonable(v) for v in value]
    if t is bytearray:
        return list(value)
    if t is FnPtr:
        return value.name
    if t is Char:
        return str(value)
    if t is float and not math.isfinite(value):
        raise EvalError(f"Cannot convert {format_float(value)} to JSON", kind="ErrorMismatchOutputType")
    if t in (Instant, RhaiRange):
        return to_display(value)
    return value
