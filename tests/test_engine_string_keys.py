"""Indexing by a key that is statically a string, in hot code, against the runtime.

In a loop or a function, ``m[k]`` and ``m[k] = v`` with ``k`` statically a string (a literal, an
interpolation, or a variable only ever given those) read and store a map's entry inline; any
other receiver goes to the runtime's ``_index``/``_set_index``. Values, limit errors and the
errors for receivers that are not maps must be the same as the runtime's, which the script's
body outside loops uses.
"""
from __future__ import annotations

import pytest

from worker.engine import Engine, LimitError, RhaiError


def hot(body: str) -> str:
    """``body`` inside a one-round loop (hot code); its ``r`` is the script's value."""
    return f"let r = (); for _ in 0..1 {{ {body} }} r"


def cold(body: str) -> str:
    """``body`` in the script's body (the runtime's generic operations)."""
    return f"let r = (); {body} r"


BODIES = [
    'let m = #{}; for i in 0..5 { m[`k${i % 2}`] = i; } r = m;',
    'let m = #{a: 1}; let k = "a"; r = [m[k], m[`b`], m["a"]];',
    'let m = #{a: #{b: 2}}; let k = "a"; r = m[k];',
    'let m = #{}; let k = "x"; m[k] = [1, 2]; m[k].push(3); r = m;',
]


@pytest.mark.parametrize("body", BODIES)
def test_string_keys_in_hot_code_give_what_the_runtime_gives(body):
    engine = Engine()
    assert engine.eval(hot(body)) == engine.eval(cold(body))


@pytest.mark.parametrize("receiver", ['"abc"', "[1, 2]", "42", "true", "()", "blob(2)"])
@pytest.mark.parametrize("access", ['r = x[k];', 'x[k] = 1; r = x;'])
def test_string_keys_on_other_values_fail_as_the_runtime_fails(receiver, access):
    body = f'let x = {receiver}; let k = "key"; {access}'
    engine = Engine()
    with pytest.raises(RhaiError) as generic:
        engine.eval(cold(body))
    with pytest.raises(RhaiError) as inline:
        engine.eval(hot(body))
    assert (inline.value.kind, inline.value.message) == (generic.value.kind, generic.value.message)


def test_a_full_map_takes_no_new_string_key_but_updates_its_own():
    script = 'let m = #{}; for i in 0..3 { m[`k${i}`] = i; } for i in 0..3 { m[`k${i}`] = 10; } m'
    assert Engine(max_map_size=3).eval(script) == {"k0": 10, "k1": 10, "k2": 10}
    with pytest.raises(LimitError, match="max_map_size"):
        Engine(max_map_size=2).eval(script)
