"""Array indexing with INT indexes generated with Python's own indexing inside ``try``
(``ExpressionCompiler.int_index_chain``, ``StatementCompiler.read_link`` and
``store_int_index``) against the conditional expressions used before (``0 <= i < len(a)``).

With ``DEEP_BLOCKS`` at 1 the compiler has no room for a ``try`` and generates the conditional
paths: each script must give the same value or the same error (message, kind, position) both
ways: out of bounds, negative indexes, links that are maps, strings, INTs or blobs, stores of
values with and without sizes."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine, RhaiError, compile_expr, compile_stmt

LIMITS = {"max_string_size": 300, "max_array_size": 100, "max_map_size": 50}

SCRIPTS = [
    'let a = [[1,2],[3]]; for i in 0..2 { a[i][1] = 5; } a',
    'let a = [[1,2],[3]]; let s = 0; for i in 0..3 { s += a[i][0]; } s',
    'let a = [[1,2],[3]]; let s = 0; for i in 0..2 { s += a[i][-2]; } s',
    'fn f(a) { let s = 0; for i in 0..3 { s += a[i][i]; } s } f([[1], [2, 3], [4, 5, 6]])',
    'fn f(a) { let s = 0; for i in 0..3 { s += a[i][i]; } s } f([[1], [2, 3], #{x: 1}])',
    'fn f(a) { let s = 0; for i in 0..3 { s += a[i][i]; } s } f([[1], [2, 3], "abc"])',
    'fn f(a) { for i in 0..3 { a[i][i] += 1; } a } f([[1], [2, 3], [4, 5, 6]])',
    'fn f(a) { for i in 0..3 { a[i][i] += 1; } a } f([[1], [2, 3], [4, 5]])',
    'fn f(a) { for i in 0..3 { a[i][i] = "s"; } a } f([[1], [2, 3], [4, 5, 6]])',
    'fn f(a) { for i in 0..3 { a[i][i - 5] = 7; } a } f([[1], [2, 3], [4, 5, 6]])',
    'fn f(a) { for i in 0..3 { a[i] = 7; } a } f([[1], [2, 3]])',
    'fn f(a) { for i in 0..3 { a[i] = 7; } a } f("abc")',
    'fn f(a) { for i in 0..3 { a[i] = \'x\'; } a } f("abc")',
    'fn f(a) { let r = []; for i in 0..3 { r.push(a[i]); } r } f(12)',
    'fn f(a) { let r = []; for i in 0..3 { r.push(a[i][1]); } r } f(blob(3))',
    'let x = [1, [2, [3, [4]]]]; let s = 0;'
    ' for i in 0..3 { s += x[1][1][1][0]; x[1][1][1][0] = i; } s',
    'let x = [1, [2, [3, [4]]]]; for i in 0..3 { x[1][1][1][5] = i; } x',
    'let x = [1, [2, [3, [4]]]]; for i in 0..3 { x[1][1][9][0] = i; } x',
    # strings stored at INT indexes: short ones inline, long ones (over a quarter of
    # max_string_size) and out-of-bounds ones through _set_index
    'let a = ["x", "y"]; for i in 0..4 { a[i % 2] = `v${i}`; a[-1] = "z"; } a',
    'let a = [[1], [2]]; for i in 0..3 { a[i][0] = "s"; } a',
    'let a = [[1], "q"]; let s = "0123456789"; s.pad(80, "x");'
    ' for i in 0..2 { a[0][0] = s; a[i - 1] = s; } a',
    'let a = [[1], [2]]; for i in 0..2 { a[1][-3] = `s${i}`; } a',
    # a remembered array (pushes) whose elements are replaced by strings: the pushes after
    # see the new sizes (300 bytes at most)
    'let a = []; for i in 0..10 { a.push(i); }'
    ' for i in 0..10 { a[i] = `${i}xxxxxxxxxxxxxxxxxxxxxxxxxxxx`; a.push(1); } a.len',
    'let a = []; for i in 0..11 { a.push(i); }'
    ' for i in 0..11 { a[i] = `${i}xxxxxxxxxxxxxxxxxxxxxxxxxxxx`; a.push(1); } a.len',
]


def outcome(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(compile_expr, "DEEP_BLOCKS", 1)
            patch.setattr(compile_stmt, "DEEP_BLOCKS", 1)
        engine = Engine(**LIMITS)
        source = engine.compile(script).python_source
        return source, run_script(engine, script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_try_indexing_gives_what_the_conditional_paths_give(
        script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_source, fast = outcome(script, False, monkeypatch)
    generic_source, generic = outcome(script, True, monkeypatch)
    assert fast == generic
    tries = ("except IndexError", "except (IndexError")  # a chain of links: the second
    assert any(t in fast_source for t in tries) and not any(t in generic_source for t in tries)


def test_an_int_parameter_is_not_indexed_as_an_array() -> None:
    """The INT version of a function (``S_``) takes its parameters as INTs, never as arrays,
    strings or maps: ``a[i]`` on one reads a bit (as native Rhai), not a Python error."""
    script = "fn f(a) { let r = []; for i in 0..3 { r.push(a[i]); } r } f(12)"
    assert Engine().eval(script) == [False, False, True]
    with pytest.raises(RhaiError, match="Function not found: len"):
        Engine().eval("fn f(a) { let r = []; for i in 0..3 { r.push(a.len()); } r } f(12)")


def test_string_stores_of_one_shape_with_other_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts differing only in a stored string literal share compiled code (``shapes.py``):
    a short literal is stored without a length test, but the shared code tests each script's
    string, so one over a quarter of max_string_size still goes through ``_set_index``."""
    scripts = [f'let a = [[1], [2]]; for i in 0..2 {{ a[i][0] = "{text}"; }} a'
               for text in ("ab", "cd", "ef", "x" * 80, "é" * 40, "gh")]

    def run_all(generic: bool) -> list:
        with monkeypatch.context() as patch:
            if generic:
                patch.setattr(compile_expr, "DEEP_BLOCKS", 1)
                patch.setattr(compile_stmt, "DEEP_BLOCKS", 1)
            engine = Engine(**{**LIMITS, "max_string_size": 300})
            results = []
            for script in scripts:
                results.append(run_script(engine, script))
            return results

    assert run_all(False) == run_all(True)
