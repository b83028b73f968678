"""``a.push(x)`` generated inline (``ExpressionCompiler.push_onto``) and pushes of literals
(``push_literal``) against ``Runtime.push_item``.

In hot code a push of a value of no size onto an array whose sizes the runtime remembers is done
inline, and a literal's sizes, measured once, are added to the array's (``_push_sized``); every
other push calls ``_push_item``. Each script runs with the inline push and with
``_push_item`` alone (the path before it): same value or error (message, kind, position) and
the same operations needed; ``max_array_size`` counts nested arrays' elements as before."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine, RhaiError
from worker.engine.compile_expr import ExpressionCompiler

LIMITS = {"max_operations": 0, "max_string_size": 300, "max_array_size": 100,
          "max_map_size": 50}


def generic_push(self: ExpressionCompiler, array: str, item: str, node: Any) -> str:
    """The push as generated before inline pushes: always ``_push_item``."""
    result = self.tmp()
    self.emit(f"{result} = _push_item({array}, {item})")
    return result


def generic_push_literal(self: ExpressionCompiler, e: Any, array: str) -> str:
    """A pushed literal as generated before ``push_literal``: built (and checked) by
    ``_array_literal``/``_map_literal``, then ``_push_item``."""
    item = self.args(e.args)[0]
    saved, self.pos = self.pos, (e.line, e.col)
    result = generic_push(self, array, item, e.args[0])
    self.pos = saved
    return result


def outcome(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch, **limits: Any) -> Any:
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(ExpressionCompiler, "push_onto", generic_push)
            patch.setattr(ExpressionCompiler, "push_literal", generic_push_literal)
        engine = Engine(**{**LIMITS, **limits})
        return run_script(engine, script)


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
    # literals: maps with measured sizes (entries, string bytes) up to the limits and over
    """let a = []; for i in 0..24 { a.push(#{id: i, owner: `member${i % 20}`}); } a.len""",
    """let a = []; for i in 0..26 { a.push(#{id: i, owner: `member${i % 20}`}); } a.len""",
    """let a = []; for i in 0..40 { a.push(#{s: `${i}xxxxxxxxxx`}); } a.len""",
    # a literal over a limit on its own
    """let long = "x"; long.pad(299, "y"); let a = [];
       for i in 0..3 { a.push(#{s: `${long}${i}`}); } a""",
    # literals with static sizes: maps and arrays
    "let a = []; for i in 0..20 { a.push(#{x: 1, y: \"ab\"}); } a.len",
    "let a = []; for i in 0..30 { a.push(#{x: 1, y: \"ab\"}); } a.len",
    "let a = []; for i in 0..20 { a.push([1, 2, i]); } a.len",
    "let a = []; for i in 0..30 { a.push([1, 2, i]); } a.len",
    # stored values in a literal are copies
    """let a = []; let m = [1]; let k = #{z: [2]}; for i in 0..3 { a.push([m, i, k]);
       a.push(#{m: m, k: k}); m.push(i); k.z.push(i); } a""",
    # flat literals: strings measured at run time (ASCII or not, variables, interpolations),
    # nested literals with static sizes
    """let a = []; let name = "é✓"; for i in 0..15 { a.push(#{n: name, t: `${i}`, k: [1, "xy"]}); }
       a.len""",
    """let a = []; for i in 0..12 { a.push([`é${i}`, "😀😀", i, 1.5, true, ()]); } a.len""",
    """let a = []; for i in 0..11 { a.push([`${i}`, #{x: [1, 2, 3, 4, 5, 6]}]); } a.len""",
    """let a = []; for i in 0..12 { a.push([`${i}`, #{x: [1, 2, 3, 4, 5, 6]}]); } a.len""",
    # onto an array whose sizes are not remembered yet, and after it changed
    """let a = [[1, 2], "abc"]; for i in 0..10 { a.push(#{i: i}); if i == 5 { a[0] = "x"; } }
       a.len""",
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
    assert "_known_entry(" in engine.compile(SCRIPTS[0]).python_source
    assert "_push_sized(" in engine.compile(SCRIPTS[9]).python_source
    assert "_push_sized(" in engine.compile(SCRIPTS[13]).python_source
    flat = engine.compile(SCRIPTS[18]).python_source  # strings measured, the push inline
    assert "_string_bytes(" in flat and ".append(" in flat


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


def test_literals_of_one_shape_with_other_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts differing only in a string literal share compiled code (``shapes.py``): the
    string's bytes are then measured at run time; each value must count as its own."""
    scripts = [f'let a = []; for i in 0..20 {{ a.push(#{{s: "{text}", i: i}}); }} a.len'
               for text in ("ab", "cd", "ef", "x" * 14, "y" * 16, "é" * 8, "gh")]

    def run_all(generic: bool) -> list:
        with monkeypatch.context() as patch:
            if generic:
                patch.setattr(ExpressionCompiler, "push_onto", generic_push)
                patch.setattr(ExpressionCompiler, "push_literal", generic_push_literal)
            engine = Engine(**LIMITS)
            results = []
            for script in scripts:
                results.append(run_script(engine, script))
            return results

    inline = run_all(False)
    assert inline == run_all(True)
    assert [r[0] for r in inline] == ["value"] * 4 + ["error"] * 2 + ["value"]
