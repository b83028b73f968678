"""``a.push(x)`` generated inline (``ExpressionCompiler.push_onto``) against ``Runtime.push_item``.

In hot code a push of a value of no size onto an array whose sizes the runtime remembers is done
inline; every other push calls ``_push_item``. Each script runs with the inline push and with
``_push_item`` alone (the path before it): same value or error (message, kind, position) and
the same operations needed; ``max_array_size`` counts nested arrays' elements as before."""
from __future__ import annotations

from typing import Any

import pytest

from worker.engine import Engine, RhaiError
from worker.engine.compile_expr import ExpressionCompiler

LIMITS = {"max_operations": 0, "max_string_size": 300, "max_array_size": 100,
          "max_map_size": 50}


def generic_push(self: ExpressionCompiler, array: str, item: str, node: Any) -> str:
    """The push as generated before inline pushes: always ``_push_item``."""
    result = self.tmp()
    self.emit(f"{result} = _push_item({array}, {item})")
    return result


def outcome(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch, **limits: Any) -> Any:
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(ExpressionCompiler, "push_onto", generic_push)
        engine = Engine(**{**LIMITS, **limits})
        try:
            return "value", engine.eval(script)
        except RhaiError as error:
            return "error", str(error), error.kind


def both(script: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    inline = outcome(script, False, monkeypatch)
    assert inline == outcome(script, True, monkeypatch)
    return inline


SCRIPTS = [
    # up to max_array_size and over it
    "let a = []; for i in 0..100 { a.push(i); } a.len",
    "let a = []; for i in 0..101 { a.push(i); } a.len",
    # nested arrays count their elements: the limit is reached earlier
    "let a = [[1, 2, 3], [4]]; for i in 0..95 { a.push(i); } a.len",
    "let a = [[1, 2, 3], [4]]; for i in 0..94 { a.push(i); } a.len",
    # an element replaced by a smaller one: the remembered sizes are high, the runtime confirms
    """let a = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]; for i in 0..80 { a.push(i); }
       a[0] = 0; for i in 0..15 { a.push(i); } a.len""",
    # values with sizes (strings, arrays, maps) take _push_item
    """let a = []; for i in 0..30 { a.push(i); a.push("s" + i); a.push([i]); a.push(#{k: i}); }
       a.len""",
    # the array changed between pushes (pop, reassigned, grown by +=)
    """let a = []; for i in 0..60 { a.push(i); if i % 3 == 0 { a.pop(); } if i == 30 { a = [1]; }
       a += [i, i]; } a""",
    # a function's parameter, pushes after a function grew the array
    """fn fill(a, n) { for i in 0..n { a.push(i * 2); } a }
       let b = fill([], 40); for i in 0..50 { b.push(i); } b.len""",
    # the push's value: ()
    "let a = []; let r = 0; for i in 0..3 { r = a.push(i); } [r, a]",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_inline_push_gives_what_push_item_gives(script: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    both(script, monkeypatch)


def test_the_limit_holds() -> None:
    """Over max_array_size fails, nested elements counted (the scripts above, inline)."""
    engine = Engine(**LIMITS)
    assert engine.eval(SCRIPTS[0]) == 100
    for script in (SCRIPTS[1], SCRIPTS[2]):
        with pytest.raises(RhaiError) as info:
            engine.eval(script)
        assert info.value.kind == "ErrorDataTooLarge"
    assert engine.eval(SCRIPTS[3]) == 96
    assert "_known.get(" in engine.compile(SCRIPTS[0]).python_source


def test_inline_push_counts_the_same_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    script = "let a = []; for i in 0..300 { a.push(i); } a.len"

    def needed(generic: bool) -> int:
        low, high = 1, 5_000
        while low < high:
            middle = (low + high) // 2
            if outcome(script, generic, monkeypatch, max_operations=middle,
                       max_array_size=0)[0] == "value":
                high = middle
            else:
                low = middle + 1
        return low

    assert needed(False) == needed(True)
