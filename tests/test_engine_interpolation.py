"""Interpolation in hot code against the runtime's ``_interp``.

In a loop or a function, an interpolation whose values are all statically INTs or strings is
generated as a Python f-string of the part names, with its size checked inline; elsewhere (the
script's body outside loops) it is the runtime's ``_interp`` call. The same text must come out
of both, and the same limit errors, whatever the values.
"""
from __future__ import annotations

import pytest

from worker.engine import Engine, LimitError

INT_MIN = -2**63
INT_MAX = 2**63 - 1

# (declarations, interpolation): the values are statically INTs or strings
CASES = [
    ("let i = 7;", "`item ${i}: ${i * 2} units`"),
    (f"let i = {INT_MAX};", "`${i}|${-i - 1}|${i / 2}`"),
    ("let i = -5;", "`${i}${i}${i}`"),
    ('let s = "héllo 🎉";', "`<${s}>`"),
    ('let s = "";', "`${s}${s}`"),
    ('let s = "x"; let n = 3;', "`${s} has ${n} ${\"parts\"}`"),
    ("let n = 0;", "`${let k = n + 1; k * 10}!`"),
    ("let n = 4;", "`${n}`"),
]


def once(decls: str, interpolation: str) -> str:
    """The interpolation in the script's body, run once: the runtime's ``_interp``."""
    return f"{decls} {interpolation}"


def in_loop(decls: str, interpolation: str) -> str:
    """The same interpolation in a loop body: hot code."""
    return f'{decls} let r = ""; for _ in 0..1 {{ r = {interpolation}; }} r'


@pytest.mark.parametrize("decls, interpolation", CASES)
def test_hot_interpolation_gives_the_text_of_the_runtime(decls, interpolation):
    engine = Engine()
    hot = engine.compile(in_loop(decls, interpolation))
    assert "_interp(" not in hot.python_source  # the f-string path is the one compared
    assert engine.eval(hot) == engine.eval(once(decls, interpolation))


def test_values_of_other_types_still_go_through_the_runtime():
    script = 'let r = ""; for x in [1.5, true, [1, "a"], #{a: ()}] { r += `${x};`; } r'
    engine = Engine()
    assert "_interp(" in engine.compile(script).python_source
    assert engine.eval(script) == '1.5;true;[1, "a"];#{"a": ()};'


GROWING = {
    "doubling": 'let s = "ab"; for i in 0..22 { s = `${s}${s}`; } s.len',
    "with numbers": 'let s = "é"; for i in 0..22 { s = `${s}-${i}-${s}`; } s.len',
}


@pytest.mark.parametrize("limit", [10, 100, 5_000, 70_000])
@pytest.mark.parametrize("kind", sorted(GROWING))
def test_hot_interpolation_is_held_to_max_string_size(kind, limit):
    """A text growing in a loop stops with the same error as a string built by ``+``."""
    script = GROWING[kind]
    assert "_interp(" not in Engine().compile(script).python_source
    plus = script.replace("`${s}${s}`", "s + s").replace("`${s}-${i}-${s}`", 's + "-" + i + "-" + s')
    with pytest.raises(LimitError, match="max_string_size") as hot:
        Engine(max_string_size=limit).eval(script)
    with pytest.raises(LimitError, match="max_string_size") as generic:
        Engine(max_string_size=limit).eval(plus)
    assert hot.value.message == generic.value.message


def test_short_hot_interpolations_under_a_small_limit_are_checked():
    """Two INTs of up to 20 characters each can exceed a limit of 8 bytes."""
    script = (f"let r = 0; for k in 0..2 {{ let i = 1 + k * {INT_MAX - 1}; "
              "r += `${i}${i}`.len; } r")
    assert "_interp(" not in Engine().compile(script).python_source
    assert Engine(max_string_size=100).eval(script) == 2 + 38
    with pytest.raises(LimitError, match="max_string_size"):
        Engine(max_string_size=8).eval(script)
