"""FLOAT static typing (``Compiler.is_float``): variables that only ever hold FLOATs, and
``+ - * /`` of FLOATs with FLOATs or INTs, computed with Python's operators, and library methods
that promise FLOAT results (``returns=float``) bound at compile time.

With ``is_float`` always False the compiler generates the code it made before FLOAT typing
(type tests and the runtime's operators): every script must give the same value or error both
ways: division by zero (INT and FLOAT zeros, -0.0), overflow to infinity, NaN, INTs beyond
2^53, Rhai's epsilon comparisons, a variable given another type later (by assignment, a
closure, ``eval``), results of ``to_float``, ``sqrt``, ``floor``."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine
from worker.engine.compiler import Compiler

SCRIPTS = [
    'let t = 0.0; for i in 0..50 { let x = i.to_float(); t += (x * 0.5 + 1.25) / (x + 1.0); } t',
    'let t = 1.0; for i in 0..5 { t /= 0; } t',
    'let t = 1.0; for i in 0..5 { t = t / 0.0; } t',
    'let t = -0.0; let r = []; for i in 0..3 { r.push(1.0 / t); r.push(t * -1.0); } r',
    'let t = 1e300; for i in 0..5 { t *= 1e10; } [t, t - t, -t]',
    'let t = 0.5; let r = [];'
    ' for i in 0..3 { r.push(t + 9007199254740993); r.push(9007199254740993 - t); } r',
    'let a = 0.1; let b = 0.2; let r = [];'
    ' for i in 0..2 { r.push(a + b == 0.3); r.push(a + b > 0.3); r.push(a + b < 0.3);'
    ' r.push(a + b >= 0.3); } r',
    'let t = 1.5; for i in 0..4 { t += i; t -= 1; t *= 2; } t',
    'let t = 1.5; for i in 0..4 { t += i; if i == 2 { t = "s"; } } t',
    'let t = 1.5; let f = || { t = "x"; }; for i in 0..3 { t *= 2.0; if i == 1 { f.call(); } } t',
    'let t = 1.5; for i in 0..3 { t *= 2.0; if i == 1 { eval("t = 7"); } } t',
    'let r = [];'
    ' for i in 0..4 { let x = i.to_float(); r.push(x.sqrt()); r.push((x - 1.5).floor());'
    ' r.push(x.sin() * 2); r.push((x / 3.0).to_int()); } r',
    'let t = 2.0; let r = [];'
    ' for i in 0..3 { r.push(-t * i); r.push(i / t); r.push(t / (i - 1)); } r',
    'let x = 1.0; let r = [];'
    ' for i in 0..3 { x += 0.5; r.push(x ** 2); r.push(x % 1.0); r.push(x.to_string()); } r',
    'fn f(a) { let s = 0.0; for i in 0..3 { s += a * i; } s } [f(1.5), f(2)]',
    'fn g(n) { let t = 1.0 / n; let s = 0.0; for i in 0..3 { s += t * i; } s }'
    ' [g(2), g(0), g(2.0), g(-0.0)]',
    'fn g(n) { let t = 1.0 * n; for i in 0..3 { t = t * i - n; } t } [g(2), g(2.5)]',
    'fn g(n) { let t = 1.0 * n; for i in 0..3 { t = t * i - n; } t } [g(2), g("a")]',
    'let t = 9007199254740993.0; for i in 0..2 { t -= 9007199254740993; } t',
    'let t = 1.0; for i in 0..3 { t += "a"; } t',
    'let t = 1.0; for i in 0..3 { t.x = 1; } t',
    'let t = 1.0; let r = []; for i in 0..3 { r.push(t.to_int() + i); t = t + 1; } [t, r]',
]


def outcome(script: str, typed: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if not typed:
            patch.setattr(Compiler, "is_float", lambda self, e: False)
        engine = Engine()
        source = engine.compile(script).python_source
        return source, run_script(engine, script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_float_typing_gives_what_untyped_code_gives(script: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    typed, untyped = outcome(script, True, monkeypatch)[1], outcome(script, False, monkeypatch)[1]
    assert repr(typed) == repr(untyped)  # repr: NaN equals itself, -0.0 differs from 0.0


def test_float_code_is_plain_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first script's loop: ``to_float`` bound without a result check, the arithmetic and
    the ``+=`` on the FLOAT total as Python operators."""
    source, result = outcome(SCRIPTS[0], True, monkeypatch)
    assert "_add_assign" not in source and "_native_result" not in source
    assert "_div(" in source  # only for a division by zero
    assert result == ("value", pytest.approx(28.374404003747067))


def test_declarations_are_typed_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """``t`` is a FLOAT in ``g``'s INT version (``n`` is an INT there), not in its generic
    one: the INT version's loop multiplies with Python's operator."""
    script = 'fn g(n) { let t = 1.0 / n; let s = 0.0; for i in 0..3 { s += t * i; } s } g(2)'
    source, result = outcome(script, True, monkeypatch)
    generic, specialised = source.split("def S_")
    assert "_mul(" in generic and "_mul(" not in specialised
    assert result == ("value", 3.0 / 2)
