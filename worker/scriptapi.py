"""What a script sees of its circle: the constants in its scope and the db_* store functions.

The db_* functions turn Rhai values into JSON text for ``worker.store`` and back; anything that
has no JSON form (blobs, function pointers, NaN, ...) is refused with a script error.
"""
from __future__ import annotations

import json
import logging
import math
from typing import Any, Callable

from worker.engine.errors import EvalError
from worker.engine.values import type_name
from worker.redis_store import RedisStore
from worker.store import Store

log = logging.getLogger(__name__)

MAX_VALUE_BYTES = 1 << 20
"""Largest stored value, as JSON text."""
MAX_VALUE_DEPTH = 64
"""Deepest nesting of arrays and maps in a stored value."""

def rhai_type(value: Any) -> str:
    """The Rhai name of a (Python-mapped) value's type, for error messages."""
    return "blob" if isinstance(value, (bytes, bytearray)) else type_name(value)


def script_constants(circle_name: str, circle_public_key: str,
                     caller_public_key: str) -> dict[str, str]:
    """The constants every script of a circle gets (CONTEXT_ID and CALLER_ID are aliases)."""
    return {
        "CIRCLE_NAME": circle_name,
        "CIRCLE_PUBLIC_KEY": circle_public_key,
        "CONTEXT_ID": circle_public_key,
        "CALLER_PUBLIC_KEY": caller_public_key,
        "CALLER_ID": caller_public_key,
    }


def _check_json_value(value: Any) -> None:
    """ValueError unless ``value`` is made only of (), bool, i64, finite f64, string, array, map."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is float and not math.isfinite(item):
            raise ValueError(f"{item} has no JSON form")
        if kind in (list, dict):
            if depth > MAX_VALUE_DEPTH:
                raise ValueError(f"value nested deeper than {MAX_VALUE_DEPTH} levels")
            children = item.values() if kind is dict else item
            stack.extend((child, depth + 1) for child in children)
        elif kind not in (int, float, bool, str, type(None)):
            raise ValueError(f"cannot store a value of type {rhai_type(item)}; only (), bool, "
                             "numbers, strings, arrays and maps can be stored")


def to_json_text(value: Any) -> str:
    """The JSON text stored for a Rhai value; ValueError when it has none or is too big."""
    _check_json_value(value)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise ValueError(f"value is larger than {MAX_VALUE_BYTES} bytes as JSON")
    return text


def from_json_text(text: str) -> Any:
    """The Rhai value of a stored JSON text."""
    return json.loads(text)


def _script_error(fn_name: str, exc: Exception,
                  storage_errors: tuple[type[Exception], ...]) -> EvalError:
    if isinstance(exc, storage_errors):
        log.error("store error in %s: %s", fn_name, exc)
        return EvalError(f"{fn_name}: storage error: {exc}")
    return EvalError(f"{fn_name}: {exc}")


def store_functions(store: Store | RedisStore) -> dict[str, Callable[..., Any]]:
    """The db_* host functions over ``store``, by name, for ``Engine.register_fn``. A failure of
    the storage itself (``store.errors``: SQLite file, Redis connection) is a script error."""
    failures = (ValueError, *store.errors)

    def db_set(collection: Any, record_id: Any, value: Any) -> None:
        try:
            store.put(collection, record_id, to_json_text(value))
        except failures as exc:
            raise _script_error("db_set", exc, store.errors) from None

    def db_get(collection: Any, record_id: Any) -> Any:
        try:
            text = store.get(collection, record_id)
        except failures as exc:
            raise _script_error("db_get", exc, store.errors) from None
        return None if text is None else from_json_text(text)

    def db_delete(collection: Any, record_id: Any) -> bool:
        try:
            return store.delete(collection, record_id)
        except failures as exc:
            raise _script_error("db_delete", exc, store.errors) from None

    def db_list(collection: Any) -> list[str]:
        try:
            return store.ids(collection)
        except failures as exc:
            raise _script_error("db_list", exc, store.errors) from None

    return {fn.__name__: _with_arity(fn, params) for fn, params in (
        (db_set, "collection, id, value"), (db_get, "collection, id"),
        (db_delete, "collection, id"), (db_list, "collection"))}


def _with_arity(fn: Callable[..., Any], params: str) -> Callable[..., Any]:
    """``fn`` refusing a wrong number of arguments with a script error naming its parameters."""
    wanted = params.count(",") + 1

    def checked(*args: Any) -> Any:
        if len(args) != wanted:
            raise EvalError(f"{fn.__name__}({params}) takes {wanted} argument"
                            f"{'s' if wanted > 1 else ''}, not {len(args)}",
                            kind="ErrorFunctionNotFound")
        return fn(*args)

    checked.__name__ = fn.__name__
    return checked
