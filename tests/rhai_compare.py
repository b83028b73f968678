"""Compares what the engine does with a script against what the real Rhai (the oracle) did:
the value (in the oracle's typed JSON form), the printed lines, or the error kind and line.
Shared by the corpus test and the differential fuzz test."""
from __future__ import annotations

import math
import re
from typing import Any

from worker.engine import Engine, ParseError, RhaiError
from worker.engine.values import Char, FnPtr, Instant, RhaiRange

DEBUG_LINE = re.compile(r"^(?:\d+:\d+|none) \| ")  # how the oracle prefixes debug() lines
RANGE_TYPES = {False: "core::ops::range::Range<i64>", True: "core::ops::range::RangeInclusive<i64>"}
# run like the oracle (no limits) but with a safety net against runaway scripts
LIMITS = dict(max_operations=0, max_call_levels=256, max_expr_depth=0, max_string_size=0,
              max_array_size=0, max_map_size=0, timeout=60)


def typed(value: Any) -> dict:
    """An engine value in the oracle's ``{"t": type, "v": value}`` form."""
    t = type(value)
    if t is bool:
        return {"t": "bool", "v": value}
    if t is int:
        return {"t": "INT", "v": value}
    if t is float:
        return {"t": "FLOAT", "v": value if math.isfinite(value) else
                ("NaN" if value != value else ("inf" if value > 0 else "-inf"))}
    if t is Char:
        return {"t": "char", "v": str(value)}
    if t is str:
        return {"t": "String", "v": value}
    if value is None:
        return {"t": "()", "v": None}
    if t is list:
        return {"t": "Array", "v": [typed(x) for x in value]}
    if t is dict:
        return {"t": "Map", "v": {k: typed(value[k]) for k in sorted(value)}}
    if t is bytearray:
        return {"t": "Blob", "v": list(value)}
    if t is FnPtr:
        return {"t": "Fn", "v": None}
    if t is RhaiRange:
        return {"t": RANGE_TYPES[value.inclusive], "v": None}
    if t is Instant:
        return {"t": "timestamp", "v": None}
    return {"t": t.__name__, "v": None}


def same_value(ours: Any, theirs: Any) -> bool:
    """Typed values equal, FLOATs to the last couple of bits (Python's and Rust's libm)."""
    if isinstance(ours, float) and isinstance(theirs, float):
        return ours == theirs or math.isclose(ours, theirs, rel_tol=4e-16, abs_tol=0.0)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(same_value(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(same_value(a, b) for a, b in zip(ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


def run_engine(script: str) -> dict:
    """The engine's outcome in the corpus' terms: ok/value or error kind/line, and output."""
    printed: list[str] = []
    engine = Engine(on_print=printed.append,
                    on_debug=lambda text: printed.append(("debug", text)), **LIMITS)
    try:
        value = engine.eval(script, raw=True)
        return {"ok": True, "value": typed(value), "print": printed}
    except ParseError as exc:
        return {"ok": False, "kind": "ErrorParsing", "error": str(exc), "line": exc.line,
                "print": printed}
    except RhaiError as exc:
        return {"ok": False, "kind": exc.kind, "error": str(exc), "line": exc.line,
                "print": printed}


def same_print(ours: list, theirs: list) -> bool:
    if len(ours) != len(theirs):
        return False
    for mine, line in zip(ours, theirs):
        if isinstance(mine, tuple):
            if not DEBUG_LINE.match(line) or DEBUG_LINE.sub("", line, count=1) != mine[1]:
                return False
        elif mine != line:
            return False
    return True


def differences(ours: dict, oracle: dict) -> list[str]:
    """What differs between the engine's outcome and the oracle's (empty: they agree).
    An error inside a function call is ``ErrorInFunctionCall`` in Rhai, wrapping the real
    kind, which the oracle does not report: any runtime error matches it."""
    found = []
    if ours["ok"] != oracle["ok"]:
        what = (lambda r: f"value {r['value']}" if r["ok"] else f"error {r['kind']}: {r['error']}")
        return [f"engine gave {what(ours)}, Rhai gave {what(oracle)}"]
    if ours["ok"]:
        if not same_value(ours["value"], oracle["value"]):
            found.append(f"value {ours['value']} != Rhai's {oracle['value']}")
    else:
        wrapped = oracle["kind"] in ("ErrorInFunctionCall", "ErrorInModule")
        if not (wrapped and ours["kind"] != "ErrorParsing") and ours["kind"] != oracle["kind"]:
            found.append(f"error kind {ours['kind']} ({ours['error']}) != Rhai's "
                         f"{oracle['kind']} ({oracle['error']})")
    if "print" in oracle and not same_print(ours["print"], oracle["print"]):
        found.append(f"printed {ours['print']} != Rhai's {oracle['print']}")
    return found
