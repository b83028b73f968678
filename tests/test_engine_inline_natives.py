"""Library calls generated inline (``ExpressionCompiler.inline_native``) against the generic
``Runtime.invoke_plain`` they replace in hot code.

Each script runs twice in fresh engines: as compiled now, and with inline calls turned off
(every bound call then goes through ``_invoke_plain``, the path before them). Both must give the
same value or the same error (message, kind, position), and need the same number of operations
(the smallest ``max_operations`` a script runs within)."""
from __future__ import annotations

from typing import Any

import pytest

from worker.engine import Engine, RhaiError
from worker.engine.compile_expr import ExpressionCompiler
from worker.engine.runtime import native_for

LIMITS = {"max_operations": 0, "max_string_size": 300, "max_array_size": 100,
          "max_map_size": 50}


def outcome(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch, **limits: Any) -> Any:
    """What ``script`` gives (value, or the error's text and kind) in a fresh engine, with the
    inline library calls (``generic=False``) or without them."""
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(ExpressionCompiler, "inline_native_fits", lambda self: False)
        engine = Engine(**{**LIMITS, **limits})
        try:
            return "value", engine.eval(script)
        except RhaiError as error:
            return "error", str(error), error.kind


def operations_needed(script: str, generic: bool, monkeypatch: pytest.MonkeyPatch) -> int:
    """The smallest ``max_operations`` within which ``script`` runs (binary search)."""
    low, high = 1, 20_000
    while low < high:
        middle = (low + high) // 2
        if outcome(script, generic, monkeypatch, max_operations=middle)[0] == "value":
            high = middle
        else:
            low = middle + 1
    return low


def both(script: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The outcome of ``script``, checked to be the same with and without inline calls."""
    inline = outcome(script, False, monkeypatch)
    assert inline == outcome(script, True, monkeypatch)
    return inline


SAME_RESULT = [
    # strings: bound on a string variable, writing back (trim, make_upper, replace) or not
    """let total = 0; for i in 0..20 { let t = "  Hello, World  "; t.trim(); t.make_upper();
       total += t.index_of("WORLD") + t.split(",").len + t.sub_string(0, 5).len;
       t.replace("L", "l"); total += t.len; } total""",
    # a receiver typed only at run time: the guarded branches
    """fn f(x) { let r = []; for i in 0..3 { r.push(x.contains("a")); r.push(x.len()); } r }
       [f("abc"), f([1, "a"]), f(#{a: 1})]""",
    # numbers
    """let total = 0.0; for i in 0..50 { let x = i.to_float(); total += x / (x + 1.0); }
       total""",
    # an array receiver: the walk counts one operation per element
    """let a = [1, 2, 3, 4, 5]; let r = 0; for i in 0..20 { r += a.index_of(i % 7); } r""",
    # to_json of a map (the check before formatting)
    """let n = 0; for i in 0..20 { let m = #{id: i, tags: ["a", "b"], ok: true};
       n += m.to_json().len; } n""",
    # a library error (Rhai's own) keeps its message and position
    """let s = "12x"; let r = 0; for i in 0..3 { r = s.parse_int(); } r""",
    # a result over max_string_size, from a string written back and from a result
    """let s = "ab"; for i in 0..9 { s.pad(400, "x"); } s""",
    """let m = #{a: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
       let r = ""; for i in 0..5 { m["k" + i] = m.a + m.a + m.a; r = m.to_json(); } r.len""",
    # an error caught: the variable written back keeps the value it had
    """let s = "  a  "; let seen = []; for i in 0..3 {
       try { s.trim(); seen.push(s.parse_int()); } catch (e) { seen.push(e.message); } }
       seen.push(s); seen""",
]


@pytest.mark.parametrize("script", SAME_RESULT)
def test_inline_calls_give_what_the_generic_path_gives(script: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    both(script, monkeypatch)


def test_the_fast_path_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripts above exercise inline calls: the generated code has no ``_invoke_plain``."""
    compiled = Engine().compile(SAME_RESULT[0])
    assert "_invoke_plain" not in compiled.python_source
    assert "_native_failed" in compiled.python_source


def test_limit_errors_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    assert both(SAME_RESULT[6], monkeypatch)[2] == "ErrorDataTooLarge"
    assert both(SAME_RESULT[7], monkeypatch)[2] == "ErrorDataTooLarge"


OPERATIONS = [
    # a long string receiver counts one operation per 64 characters
    """let s = "abcdefghij"; s.pad(200, "z"); let n = 0;
       for i in 0..30 { n += s.index_of("q"); } n""",
    # an array receiver, one per element; a map formatted, one per entry
    """let a = []; a.pad(40, 1); let m = #{a: 1, b: 2, c: 3, d: 4}; let n = 0;
       for i in 0..30 { n += a.index_of(2) + m.to_json().len; } n""",
]


@pytest.mark.parametrize("script", OPERATIONS)
def test_inline_calls_count_the_same_operations(script: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert both(script, monkeypatch)[0] == "value"
    assert operations_needed(script, False, monkeypatch) == \
        operations_needed(script, True, monkeypatch)


def test_a_library_bug_is_reported_as_rhai_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python error from a library function (a bug) becomes ``ErrorRuntime`` naming it, on
    both paths."""
    call = native_for(("to_upper", str))

    def broken(s: str) -> str:
        raise ValueError("broken")

    monkeypatch.setattr(call, "fn", broken)
    result = both('let s = "a"; let r = ""; for i in 0..2 { r = s.to_upper(); } r', monkeypatch)
    assert result[0] == "error" and "Error in function to_upper: broken" in result[1]
    assert result[2] == "ErrorRuntime"


@pytest.mark.parametrize("text,sep,pieces", [
    ("a,b,c,d,e,f,g,h,i,j", ",", 10), ("a,b,c,d,e,f,g,h,i,j,k", ",", 11),
    ("abcdefgh", "", 10), ("abcdefghi", "", 11), ("", "", 2), ("a b  c", " ", 4),
])
def test_split_results_are_held_to_max_array_size(text: str, sep: str, pieces: int) -> None:
    """``split`` cuts a string into at most one piece per character and two more, so a result
    from a string shorter than ``max_array_size`` - 2 is not walked (``SPLITTING``); any
    other is, and a result over the limit fails as before, inline or not."""
    for script in (f'let s = "{text}"; s.split("{sep}").len',
                   f'let s = "{text}"; let n = 0; for i in 0..2 {{ n = s.split("{sep}").len; }} n'):
        engine = Engine(max_array_size=10)
        if pieces <= 10:
            assert engine.eval(script) == pieces
        else:
            with pytest.raises(RhaiError, match="max_array_size"):
                engine.eval(script)


def test_split_of_an_oversized_scope_string_is_walked() -> None:
    """A string from the host may be over ``max_string_size``: its pieces are measured."""
    engine = Engine(max_string_size=10)
    with pytest.raises(RhaiError, match="max_string_size"):
        engine.eval("let n = 0; for i in 0..2 { n = s.split(\"\").len; } n", {"s": "x" * 30})
