"""Array results of script functions (``Compiler.returns_list``): a direct call of a function
whose every returned value is statically an array (a literal, a variable typed as an array, a
call of such a function) is itself statically an array, so a variable assigned from it takes
the array fast paths (``c[i][j]`` reads and stores, ``c[i][j] += v``, pushes).

With ``returns_list`` always False the compiler generates the code it made before: every script
must give the same value or error both ways, with limits on: paths that return something else
(``()`` from an ``if`` without ``else``, ``return`` in a nested block, a ``switch``, a ``try``,
recursion, a call of a function that does not return an array), ``throw``, ``eval``, closures,
``this`` changed by a method call, value semantics of returned arrays, and the size, operation
and call depth limits."""
from __future__ import annotations

import re
from typing import Any

import pytest

from engine_outcome import outcome as run_script
from worker.engine import Engine
from worker.engine.compiler import Compiler

MATRIX = """
fn new_mat(x, y) { let row = []; row.pad(y, 0.0); let m = []; m.pad(x, row); m }
fn gen(n) {
    let m = new_mat(n, n);
    for i in 0..n { for j in 0..n { m[i][j] = 1.0 * (i - j) * (i + j); } }
    m
}
fn mul(a, b) {
    let b2 = new_mat(a[0].len, b[0].len);
    for i in 0..a[0].len { for j in 0..b[0].len { b2[j][i] = b[i][j]; } }
    let c = new_mat(a.len, b[0].len);
    for i in 0..c.len {
        for j in 0..c[i].len {
            c[i][j] = 0.0;
            for z in 0..a[i].len { c[i][j] += a[i][z] * b2[j][z]; }
        }
    }
    c
}
"""

SCRIPTS = [
    MATRIX + "let c = mul(gen(6), gen(6)); [c[1][2], c[5][5], c.len, c[0].len]",
    MATRIX + "let c = mul(gen(3), gen(3)); c[1][1] += \"x\"; c",
    MATRIX + "let c = mul(gen(3), gen(3)); c[1][7] += 1.0; c",
    MATRIX + "let c = mul(gen(3), gen(3)); c[1][1][0] = 1; c",
    MATRIX + "let c = new_mat(2, 2); c[0][0] = 5; c[1][1] += 2; c",  # rows are copies
    MATRIX + "let a = new_mat(2, 2); let b = a; b[0][0] = 1.5; [a, b]",
    MATRIX + "let c = new_mat(2, 2); c[0] = 7; c[0] += 1; c",
    MATRIX + "fn h() { let c = new_mat(2, 2); for i in 0..3 { c[i][0] += 1.0; } c } h()",
    MATRIX + "fn h() { let c = new_mat(2, 2); for i in 0..3 { c[0][i] = i; } c } h()",
    MATRIX + "fn h() { let c = new_mat(2, 2); for i in 0..2 { c[i] = i; c[i][0] = 1; } c } h()",
    MATRIX + "fn h() { let c = new_mat(2, 2); let t = 0; for i in 0..2 { t += c.len + c[i].len; }"
    " t } h()",
    MATRIX + "let c = new_mat(2, 2); c[0][0] = [1, 2]; c[0][0][1] += 3; c",
    'fn f(n) { if n > 0 { return [n]; } 5 } let x = f(0); x[0]',
    'fn f(n) { if n > 0 { [n] } } let r = []; for i in 0..3 { let x = f(i - 1); r.push(x); } r',
    'fn f(n) { if n > 0 { [n] } } let x = f(0); x[0]',
    'fn f(n) { for i in 0..n { if i == 2 { return i; } } [n] } let x = f(5); x[0]',
    'fn f(n) { for i in 0..n { if i == 2 { return [i]; } } [n] } let x = f(5); x[0] += 1; x',
    'fn f(n) { switch n { 0 => [0], _ => 1 } } let x = f(1); x[0]',
    'fn f(n) { switch n { 0 => [0], _ => [1] } } let x = f(1); x[0] += 2; x',
    'fn f(n) { try { [n / 0] } catch { 1 } } let x = f(1); x[0]',
    'fn f(n) { if n == 0 { throw "no"; } [n] } let x = f(2); x[0] += 1; [x, f(0)]',
    'fn f(n) { if n == 0 { [] } else { let a = f(n - 1); a.push(n); a } } let x = f(4); '
    'x[1] += 10; x',
    'fn f(n) { if n == 0 { 0 } else { let a = f(n - 1); [a] } } let x = f(3); x[0][0]',
    'fn g(n) { if n > 1 { [n] } else { "s" } } fn f(n) { g(n) } let x = f(1); x[0]',
    'fn g(n) { [n] } fn f(n) { g(n) } let x = f(1); x[0] += 1; x[0] += 0.5; x',
    'fn f(n) { let a = [n]; eval("a = 5"); a } let x = f(1); x[0]',
    'fn f(n) { let a = [n]; let g = || { a = "s" }; g.call(); a } let x = f(1); x[0]',
    'fn f(n) { let a = [n]; a } fn h() { let b = f(1); b.set_it(); b[0] } '
    'fn set_it() { this = 7; } h()',
    'fn f() { let a = [1, 2]; a } let x = f(); let y = f(); x[0] = 9; [x, y]',
    'fn f(n) { [n] } let p = Fn("f"); let x = p.call(3); x[0] += 1; x',
    'fn f(n) { [n, n] } let x = f(2.5); x[1] += 1.0; x',
    'fn f(n) { n } let x = f([1]); x[0]',
    'fn f(n) { n } let x = f(1); x[0]',
    'fn f(n) { eval("return 5"); [n] } let x = f(1); x[0] += 1; x',
    'fn f(n) { let a = [n]; a.x = 1; a } let x = f(1); x',
    'fn f() { [this] } let v = 3; let x = v.f(); x[0] += 1; [x, f()]',
    'fn f(n) { if n > 0 { [n] } else { f(n + 1) } } let x = f(-2); x[0] += 1; x',
    'fn f(n) { if n > 0 { [n] } else { f!(n + 1) } } let x = f(-2); x[0]',
    'fn f(n) { let g = |x| [x]; g.call(n) } let x = f(1); x[0] += 1; x',
    'fn f(n) { return; } let x = f(1); x[0]',
    'fn f(n) { } let x = f(1); x[0]',
    'fn f(n) { loop { break [n]; } } let x = f(1); x[0]',
    'fn c() { b() } fn b() { a() } fn a() { let r = []; r.push(1); r } let x = c(); x[0] += 1; x',
    'fn c() { b() } fn b() { a() } fn a() { 1 } let x = c(); x[0]',
    'fn f() { let a = []; a.pad(3, 1); a } let t = 0; let x = f(); '
    'for i in 0..3 { t += x[i]; x[i] = t; } [t, x]',
]

LIMITED = [
    # (engine limits, script)
    ({"max_array_size": 5},
     'fn f(n) { let a = []; a.pad(n, 0); a } let x = f(3);'
     ' for i in 0..3 { x[i] = [1, 2, 3, 4, 5, 6]; } x'),
    ({"max_array_size": 5},
     'fn f(n) { let a = []; a.pad(n, 0); a } let x = f(3); for i in 0..3 { x.push(i); } x'),
    ({"max_array_size": 8},
     'fn f(n) { [[0, 0], [0, 0]] } let x = f(1);'
     ' for i in 0..2 { x[i][0] = [i, i, i, i, i, i, i, i, i]; } x'),
    ({"max_operations": 200},
     'fn f(n) { let a = []; a.pad(n, 0); a } let x = f(10); let t = 0;'
     ' loop { for i in 0..10 { x[i] += 1; t += x[i]; } }'),
    ({"max_call_levels": 6},
     'fn f(n) { if n == 0 { [] } else { let a = f(n - 1); a.push(n); a } } f(3).len + f(20).len'),
    ({"max_string_size": 6},
     'fn f() { ["a", "b"] } let x = f(); for i in 0..5 { x[0] += "xy"; } x'),
]


def outcome(script: str, typed: bool, monkeypatch: pytest.MonkeyPatch,
            limits: dict[str, int] | None = None) -> tuple[str, Any]:
    """The generated source and the outcome, with array results typed or not."""
    with monkeypatch.context() as patch:
        if not typed:
            patch.setattr(Compiler, "returns_list", lambda self, e: False)
        engine = Engine(**(limits or {}))
        source = engine.compile(script).python_source
        return source, run_script(engine, script)


@pytest.mark.parametrize("script", SCRIPTS)
def test_array_results_give_what_untyped_code_gives(script: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    typed, untyped = outcome(script, True, monkeypatch), outcome(script, False, monkeypatch)
    assert repr(typed[1]) == repr(untyped[1])


@pytest.mark.parametrize(("limits", "script"), LIMITED)
def test_array_results_keep_every_limit(limits: dict[str, int], script: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    typed = outcome(script, True, monkeypatch, limits)[1]
    untyped = outcome(script, False, monkeypatch, limits)[1]
    assert typed[0] == "error"
    assert repr(typed) == repr(untyped)


def test_matrix_rows_are_read_without_a_type_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """In ``mul`` the matrices made by ``new_mat`` are arrays: ``c[i]`` is read with no test
    of ``c``'s type (only the row's type is tested)."""
    source, result = outcome(SCRIPTS[0], True, monkeypatch)
    untyped_source = outcome(SCRIPTS[0], False, monkeypatch)[0]
    assert result[0] == "value"
    row_read = re.compile(r"_o\d+ = v_c_\d+\[v_i_\d+\]$", re.M)
    assert row_read.search(source) and not row_read.search(untyped_source)


def test_a_result_disproved_later_is_not_relied_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """``f`` is generated before ``g`` and first takes ``g``'s result for an array; once ``g``
    is found to return a string too, ``f`` is generated again without that assumption."""
    script = 'fn f(n) { let x = g(n); x[0] } fn g(n) { if n > 1 { [n] } else { "s" } } f(1)'
    source, result = outcome(script, True, monkeypatch)
    assert repr(result) == repr(outcome(script, False, monkeypatch)[1])
    assert "type(v_x_" in source


def test_typed_matrices_need_no_type_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the functions tests the type of ``mul``'s typed ``c``: its ``len``, the
    write-back of its rows after ``c[i][j] = v`` and the copy it returns."""
    source = outcome(SCRIPTS[0], True, monkeypatch)[0]
    assert "type(v_c_" not in source.split("def _main")[0]


def test_results_typed_through_a_chain_of_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """``c`` returns ``b()`` which returns ``a()``'s array: all three are array results, the
    two without an array literal through ``may_return_lists``."""
    script = ('fn c() { b() } fn b() { a() } fn a() { [1, 2] } '
              'fn h() { let x = c(); let t = 0; for i in 0..2 { t += x[i]; } t } h()')
    source, result = outcome(script, True, monkeypatch)
    assert result == ("value", 3) and "type(v_x_" not in source
