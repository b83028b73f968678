"""String interpolations of texts and INTs generated as Python f-strings
(``ExpressionCompiler.expr_Interp``) against ``Runtime.interp``; compound assignments into
chains and ``this`` without a copy of their right operand (``StatementCompiler``).

An interpolation whose parts are the template's texts and INTs, short enough that ``_interp``
would neither count nor check it, is an f-string; in hot code, one of INTs and strings of any
length is an f-string checked by ``_check_text``. With ``SHORT_TEXT`` at 0 and no code counted
as hot every interpolation goes through ``_interp`` (the path before), and both must give the
same value or error."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine, RhaiError, compile_expr, compiler

LIMITS = {"max_string_size": 400, "max_array_size": 100, "max_map_size": 50}

SCRIPTS = [
    "let r = []; for i in -3..3 { r.push(`item ${i}: ${i * 2} units`); } r",
    "let r = []; for i in 0..2 { r.push(`${-9223372036854775807 - 1}|${i}`); } r",
    "let r = []; for i in 0..2 { r.push(`é ✓ ${i} 😀`); r.push(``); r.push(`${i}`); } r",
    # not INTs: floats, strings, booleans, arrays go through _interp
    "let r = []; for i in 0..2 { r.push(`${i / 2.0} ${true} ${[i]} ${\"s\" + i}`); } r",
    # an INT part that fails: the same error
    "let r = []; for i in 0..2 { r.push(`${i}${9223372036854775807 + i}`); } r",
    # long text: over max_string_size (400 bytes) through _interp, as before
    "let s = \"\"; for i in 0..12 { s = `${s}0123456789012345678901234567890123456789${i}`; } s",
    "let r = []; for i in 0..3 { r.push(`" + "0123456789" * 9 + "${i}`); } r",
    # statements inside the parts
    "let r = []; for i in 0..3 {"
    " r.push(`${let x = i * 3; x + 1}-${if i > 1 { 7 } else { 8 }}`); } r",
]


def outcome(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(compile_expr, "SHORT_TEXT", 0)
            patch.setattr(compiler.Compiler, "hot", lambda self: False)
        engine = Engine(**LIMITS)
        return run_script(engine, script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_fstrings_give_what_interp_gives(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(script, False, monkeypatch) == outcome(script, True, monkeypatch)


def test_only_text_that_may_be_long_is_checked() -> None:
    engine = Engine(**LIMITS)
    short = engine.compile(SCRIPTS[0]).python_source
    assert 'f"' in short and "_check_text" not in short
    long = engine.compile(SCRIPTS[6]).python_source  # 110 characters > 400 / 4
    assert 'f"' in long and "_check_text" in long
    assert engine.eval(SCRIPTS[0])[0] == "item -3: -6 units"
    with pytest.raises(RhaiError) as info:
        engine.eval(SCRIPTS[5])
    assert info.value.kind == "ErrorDataTooLarge"


COMPOUND = [
    # the right operand of += into a property, an element or ``this`` is not shared with it
    """let m = #{x: [1]}; let a = [2]; for i in 0..2 { m.x += a; a.push(i); } [m, a]""",
    """let m = [[1], [2]]; let a = [3]; for i in 0..2 { m[i] += a; a[0] = i; } [m, a]""",
    """let m = #{x: #{a: 1}}; let b = #{b: [2]}; for i in 0..2 { m.x += b; b.b.push(i); } [m, b]""",
    """let obj = #{data: [], add: |v| { this.data += v; }}; let a = [1];
       for i in 0..3 { obj.add(a); a.push(i); } [obj.data, a]""",
    """let obj = #{data: "", add: |v| { this.data += v; }}; for i in 0..3 { obj.add([i]); }
       obj.data""",
]
EXPECTED = [
    [{"x": [1, 2, 2, 0]}, [2, 0, 1]],
    [[[1, 3], [2, 0]], [1]],
    [{"x": {"a": 1, "b": [2, 0]}}, {"b": [2, 0, 1]}],
    [[1, 1, 0, 1, 0, 1], [1, 0, 1, 2]],
    "[0][1][2]",
]


@pytest.mark.parametrize("script,expected", list(zip(COMPOUND, EXPECTED)))
def test_compound_assignment_copies_what_it_keeps(script: str, expected: Any) -> None:
    assert Engine().eval(script) == expected
