"""A ``for`` loop whose body only reads its variable iterates an array's elements themselves,
not copies (``StatementCompiler.reads_elements_only``, ``Runtime.iterate_shared``).

Rhai's loop variable is a copy: whatever the body does with it, the array keeps its elements.
Each script stores the loop variable (or parts of it) in every way a value is stored (``let``,
``if``/``switch``/``loop`` values, ``??``, literals, ``+=``, index and property stores) and then
changes the stored value, or changes the array, and must give what it gives with copies
(``reads_elements_only`` off): the element never changes through them."""
from __future__ import annotations

from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine
from worker.engine.compile_stmt import StatementCompiler

SCRIPTS = [
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let keep = [];'
    ' for r in rs { let y = switch 1 { 1 => r, _ => #{} }; y.a = 99; keep += [y]; } [rs, keep]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let keep = [];'
    ' for r in rs { let y = if true { r } else { 0 }; y.a = 99;'
    ' y.t[0] = 5; keep += [y]; } [rs, keep]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let keep = [];'
    ' for r in rs { let y = loop { break r; }; y.a = 99; keep += [y]; } [rs, keep]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let keep = [];'
    ' for r in rs { let y = r.t; y[0] = 9; let z = r ?? 1; z.a = 5; keep += [y, z]; } [rs, keep]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let m = #{};'
    ' for r in rs { m[`k${r.a}`] = r; m[`k${r.a}`].a = 7; } [rs, m]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let x = [];'
    ' for r in rs { x += r.t; x[0] = 100; } [rs, x]',
    'let rs = [[1, 2], [3]]; let x = [];'
    ' for r in rs { x += r; x[0] = 100; let w = r; w += [5]; x += [w]; } [rs, x]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let x = #{};'
    ' for r in rs { x += r; x.t[0] = 42; } [rs, x]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let s = 0;'
    ' for r in rs { for q in r.t { s += q; } rs[0].a = 50; s += r.a; } [rs, s]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let s = [];'
    ' for r in rs { s.push(r); s[0].a = 3; } [rs, s]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let s = [];'
    ' for r in rs { let v = [r]; v[0].a = 8; s += v; } [rs, s]',
    'let rs = [#{a: 1, t: [1]}, #{a: 2, t: [2]}]; let s = #{};'
    ' for r in rs { let v = #{x: r}; v.x.a = 8; s[`${r.a}`] = v; } [rs, s]',
    'let rs = [[[1]], [[2]]]; let out = [];'
    ' for r in rs { for q in r { let z = q; z[0] = 0; out += [z]; } } [rs, out]',
    'let rs = [#{a: 1}, #{a: 2}]; let n = [];'
    ' for (r, i) in rs { let c = r; c.a = i * 10; n += [c]; } [rs, n]',
    'let rs = [#{a: 1}, #{a: 2}]; let n = 0;'
    ' for r in rs { n += r.a; rs = []; } [rs, n]',
]


def outcome(script: str, shared: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if not shared:
            patch.setattr(StatementCompiler, "reads_elements_only", staticmethod(lambda e: False))
        return run_script(Engine(), script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_shared_elements_give_what_copies_give(script: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(script, True, monkeypatch) == outcome(script, False, monkeypatch)


def test_only_loops_that_read_share() -> None:
    """A body that calls (here ``push``), or assigns to the iterated variable, copies."""
    shared = [("_iter_shared" in Engine().compile(script).python_source) for script in SCRIPTS]
    assert shared[0] and shared[4] and shared[12]
    assert not shared[9] and not shared[14]
