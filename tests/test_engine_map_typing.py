"""Method calls on a variable statically known to hold a map, an array or a string.

A method call passes its receiver by reference. Rhai's ``make_method_call`` (src/func/call.rs)
runs, with the receiver bound to ``this``: a function pointer that a map holds under the
method's name (first), a script function of that name, ``x.call(fp)``'s pointer, or a library
function. Only code that assigns ``this`` itself (src/eval/stmt.rs, an ``Expr::ThisPtr``
target) or ``take`` (src/packages/lang_core.rs) can leave a value of another type. The
compiler keeps the variable's static type where none of that can happen (then the map's later
reads need no type test) and drops it where it can; either way a script gives what Rhai gives.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.engine_outcome import outcome
from worker.engine import Engine, LimitError
from worker.engine.values import FnPtr

ORACLE = Path(__file__).resolve().parent.parent.parent / "shared" / "rhai-native" / "rhai-oracle"


class Fails(str):
    """The start of the error message a script ends with."""


# the type may change: (script, what Rhai gives: the value, or how it fails)
RETYPING = [
    ("fn keys() { this = 5 } let m = #{a: 1}; m.keys(); m", 5),
    ("let m = #{a: 1}; m.f = || { this = 5 }; m.f(); m", 5),
    ("let m = #{a: 1}; m.keys = || { this = 5 }; for i in 0..2 { m.keys(); } m",
     Fails("Function not found: keys (i64)")),
    ("let m = #{a: 1}; let f = || { this = 5 }; m.call(f); m", 5),
    ("let m = #{a: 1}; m.keys = Fn(\"take\"); m.keys(); m", None),
    ("let m = #{a: 1}; m.take(); m", None),
    ("let a = [1, 2]; a.take(); a", None),
    ("let s = \"ab\"; s.take(); s", None),
    ("let m = #{a: 1}; m.take(); m.len()", Fails("Function not found: len (())")),
    ("let a = [1, 2]; a.take(); a.len()", Fails("Function not found: len (())")),
    ("let s = \"ab\"; s.take(); s.len()", Fails("Function not found: len (())")),
    ("let m = #{a: 1}; m.keys = Fn(\"take\"); for i in 0..2 { m.keys(); } m.a",
     Fails("Function not found: keys (())")),
    ("fn array.grow() { this = this.len() } let a = [1, 2]; a.grow(); a + 1", 3),
    ("fn grow() { this = `${this}!` } let m = #{a: 1}; for i in 0..1 { m.grow(); } m.len()",
     10),
    ("let m = #{a: 1}; for i in 0..2 { m = 5; m.a }", Fails("Unknown property 'a'")),
    # a closure assigning the captured variable itself
    ("let m = #{a: 1}; let g = || { m = 5 }; for i in 0..1 { m.keys(); g.call(); } m", 5),
    ("let m = #{a: 1}; for i in 0..2 { m.keys(); m.a; let g = || { m = 5 }; g.call(); } m",
     Fails("Function not found: keys (i64)")),
    # a pointer to a script function of another arity calls the library function of its name
    ("fn take(a, b) { a } let m = #{a: 1}; m.f = Fn(\"take\"); for i in 0..1 { m.f(); }"
     " type_of(m)", "()"),
    ("fn take(a, b) { a } let m = #{a: 1}; for i in 0..1 { m.call(take); } type_of(m)", "()"),
]

# the type stays: (the variable's first value, the rest of the script), run as written (the
# variable typed statically) and with that value reached through a script function's result,
# which the compiler does not type: the generic path for the same values
KEEPING = [
    ("#{}", "for i in 0..20 { m[`k${i % 7}`] = i; } let t = 0;"
            " for k in m.keys() { t += m[k] + k.len; } t"),
    ("#{data: 0, add: |x| { this.data += x; }, get: || this.data}",
     "for i in 0..50 { m.add(i % 7); } m.get() + m.data"),
    ("#{a: 1, keys: || 42}", "let r = []; for i in 0..2 { r.push(m.keys()); r.push(m.a); } r"),
    ("#{a: 1}", "for i in 0..3 { m.b = i; m.remove(\"a\"); } m.to_json()"),
    ("#{a: 1}", "let r = 0; for i in 0..3 { r += m.len(); r += m[\"a\"] ?? 0; } r"),
    ("#{a: 1}", "for i in 0..3 { m.f = |x| this.a += x; m.f(i); } m.a"),
    ("#{a: 1}", "for i in 0..3 { m.keys(); m[i] }"),
    ("#{a: 1}", "let r = []; for k in [\"a\", \"b\", 0] { r.push(#{a: m.a}[k]); } r"),
    ("#{n: 0}", "fn inc() { this.n += 1 } for i in 0..4 { m.inc(); } m.n"),
    ("[1]", "fn array.twice() { this.push(this.len()) } for i in 0..3 { m.twice(); } m"),
    ("\"ab\"", "fn string.twice() { this.len() * 2 } let t = 0;"
               " for i in 0..3 { t += m.twice() + m.len; } t"),
]


def typed(first: str, rest: str) -> str:
    """The script with ``m`` typed statically (the same positions as ``untyped``)."""
    return f"fn id(x) {{ x }}\nlet m =   ({first}); {rest}"


def untyped(first: str, rest: str) -> str:
    """The script with ``m`` of no static type."""
    return f"fn id(x) {{ x }}\nlet m = id({first}); {rest}"


@pytest.mark.parametrize("script, expected", RETYPING)
def test_a_method_that_can_retype_its_receiver_gives_what_rhai_gives(script, expected):
    got = outcome(Engine(), script)
    if isinstance(expected, Fails):
        assert got[0] == "error" and got[1].startswith(expected), got
    else:
        assert got == ("value", expected), got


@pytest.mark.parametrize("first, rest", KEEPING)
def test_a_kept_type_gives_what_the_generic_path_gives(first, rest):
    assert outcome(Engine(), typed(first, rest)) == outcome(Engine(), untyped(first, rest))


def least_operations(script: str) -> int:
    """The smallest ``max_operations`` the script runs within."""
    low, high = 1, 1 << 16
    while low < high:
        mid = (low + high) // 2
        try:
            Engine(max_operations=mid).eval(script)
            high = mid
        except LimitError:
            low = mid + 1
    return low


@pytest.mark.parametrize("first, rest", [case for case in KEEPING if ", 0]" not in case[1] and "m[i]" not in case[1]])
def test_a_kept_type_counts_the_same_operations(first, rest):
    """The generic form counts one more: the call of ``id``."""
    assert least_operations(typed(first, rest)) + 1 == least_operations(untyped(first, rest))


def test_a_map_read_after_its_methods_has_no_type_test():
    src = Engine().compile(typed(*KEEPING[0])).python_source
    assert "type(v_m_" not in src.replace("type(v_m_2.get(", "")  # its function's test


def test_a_host_function_pointer_in_the_scope_keeps_the_generic_path():
    script = "let m = #{a: 1}; m.keys = f; for i in 0..1 { m.keys(); } type_of(m)"
    assert Engine().eval(script, scope={"f": FnPtr("take")}) == "()"


@pytest.mark.skipif(not ORACLE.is_file(), reason=f"the Rhai oracle is not here ({ORACLE}); it "
                    "exists only next to a checkout in the project's shared workspace")
def test_the_retyping_cases_are_what_rhai_gives():
    scripts = [script for script, _ in RETYPING]
    proc = subprocess.run([str(ORACLE)], input="\n\x1e\n".join(scripts), capture_output=True,
                          text=True, timeout=60, check=True)
    for (script, expected), line in zip(RETYPING, proc.stdout.splitlines()):
        result = json.loads(line)
        if isinstance(expected, Fails):
            assert not result["ok"] and result["error"].startswith(expected), (script, result)
        else:
            assert result["ok"] and result["value"]["v"] == expected, (script, result)


def test_a_scope_variable_read_where_its_name_is_declared_elsewhere_keeps_the_generic_path():
    """``g`` reads the host's ``f``, though the script declares an ``f`` of its own."""
    script = ("fn g() { f } let f = 1; let m = #{a: 1}; m.keys = g();"
              " for i in 0..1 { m.keys(); } type_of(m)")
    assert Engine().eval(script, scope={"f": FnPtr("take")}) == "()"


def test_a_host_function_giving_a_function_pointer_keeps_the_generic_path():
    engine = Engine()
    engine.register_fn("make", lambda: FnPtr("take"))
    script = "let m = #{a: 1}; m.keys = make(); for i in 0..1 { m.keys(); } type_of(m)"
    assert engine.eval(script) == "()"
