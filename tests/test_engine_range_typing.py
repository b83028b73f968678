"""``for x in range(a, b[, step])`` of INTs types ``x`` as an INT
(``StatementCompiler.int_range_call``): the built-in ``range`` of INTs gives INTs.

With ``int_range_call`` off the loop variable is untyped, as before: both must give the same
value or error; a script function named ``range`` keeps its own results."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine
from worker.engine.compile_stmt import StatementCompiler

SCRIPTS = [
    "let r = []; for i in range(0, 10, 3) { r.push(i * 2); } r",
    "let r = []; for i in range(10, 0, -4) { r.push(i - 1); } r",
    "let r = []; for i in range(3, 7) { r.push(i); } r",
    "let a = []; a.pad(10, true); for i in range(2, 10, 2) { a[i] = false; } a",
    "let a = [1, 2]; for i in range(0, 5, 2) { a[i] = 0; } a",
    "let r = []; for i in range(9223372036854775800, 9223372036854775807, 3) { r.push(i + 1); } r",
    "let r = []; for i in range(0, 5) { r.push(i * 4611686018427387904); } r",
    "let r = []; for i in range(0, 5, 0) { r.push(i); } r",
    "let r = []; for x in range(0.0, 2.0, 0.5) { r.push(x * 2); } r",
    "fn range(a, b, c) { [\"x\"] } let r = []; for i in range(0, 10, 3) { r.push(i + \"!\"); } r",
]


def outcome(script: str, typed: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if not typed:
            patch.setattr(StatementCompiler, "int_range_call", lambda self, e: False)
        return run_script(Engine(), script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_range_loops_give_what_untyped_loops_give(script: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(script, True, monkeypatch) == outcome(script, False, monkeypatch)


def test_the_loop_variable_is_an_int() -> None:
    source = Engine().compile(SCRIPTS[3]).python_source
    assert "try: v_a_" in source  # the store of an INT index, inline
    assert Engine().eval(SCRIPTS[-1]) == ["x!"]
