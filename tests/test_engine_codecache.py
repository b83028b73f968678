"""Scripts that differ only in the literals they store or pass on share CPython's compiled code
(``worker/engine/codecache.py``), and yet each runs with its own values and reports its own
error positions."""
from __future__ import annotations

import pytest

from worker.engine import Engine, EvalError

TEMPLATE = """
fn pay(to, amount) {{ `${{to}} gets ${{amount}}` }}
let amount = {a};
let items = [{a}, {b}];
let record = #{{first: {a}, second: {b}}};
[pay({to}, {a}), items, record, type_of(amount), amount]
"""
VALUES = [
    (1, 2, '"alice"'),
    (-5, 0, '"bob"'),
    (9223372036854775807, -9223372036854775808, '"carol"'),
    (2.5, 1e300, "'d'"),
    (0.0, -0.0, '""'),
    (-0.0, 0.0, '"e"'),
]


def rhai_literal_value(text: str | int | float):
    return text[1:-1] if isinstance(text, str) else text


def test_scripts_of_one_shape_share_the_python_text():
    engine = Engine()
    first, second = (engine.compile(TEMPLATE.format(a=a, b=b, to=to)) for a, b, to in VALUES[:2])
    assert first.python_source == second.python_source
    assert first.code.co_code == second.code.co_code
    assert first.code.co_filename != second.code.co_filename  # each finds its own positions


@pytest.mark.parametrize("a, b, to", VALUES)
def test_each_script_of_a_shared_shape_runs_with_its_own_values(a, b, to):
    engine = Engine()
    for other_a, other_b, other_to in VALUES:  # the shape compiled with other values first
        engine.eval(TEMPLATE.format(a=other_a, b=other_b, to=other_to))
    result = engine.eval(TEMPLATE.format(a=a, b=b, to=to))
    name = rhai_literal_value(to)
    shown = engine.eval(f"`${{{a}}}`")
    assert result == [f"{name} gets {shown}", [a, b], {"first": a, "second": b},
                      "i64" if type(a) is int else "f64", a]
    # the sign of a zero survives (0.0 and -0.0 are equal in Python, not the same constant)
    assert [str(v) for v in (result[4], result[1][1], result[2]["second"])] == \
        [str(a), str(b), str(b)]


def test_an_int_and_a_float_of_the_same_value_stay_apart():
    engine = Engine()
    assert engine.eval("let x = 1; x / 2") == 0
    assert engine.eval("let x = 1.0; x / 2") == 0.5
    assert engine.eval("let x = 1; x / 2") == 0


@pytest.mark.parametrize("script, message, line, position", [
    ("let a = 1; let b = a / 0;", "Division by zero: 1 / 0 (line 1, position 22)", 1, 22),
    ("let a = 123456; let b = a / 0;", "Division by zero: 123456 / 0 (line 1, position 27)",
     1, 27),
    ("fn f(x) { x / 0 }\nlet a = 1; f(a)",
     "Division by zero: 1 / 0 (line 1, position 13)\nin call to function 'f' (line 2, position 12)",
     2, 12),
    ("fn f(x) { x / 0 }\nlet a = 1000000; f(a)",
     "Division by zero: 1000000 / 0 (line 1, position 13)\n"
     "in call to function 'f' (line 2, position 18)", 2, 18),
])
def test_each_script_of_a_shared_shape_reports_its_own_positions(script, message, line,
                                                                  position):
    engine = Engine()
    for other in ("let a = 7777777; let b = a / 0;", "fn f(x) { x / 0 }\nlet a = 22; f(a)"):
        with pytest.raises(EvalError):
            engine.eval(other)
    with pytest.raises(EvalError) as info:
        engine.eval(script)
    assert (str(info.value), info.value.line, info.value.position) == (message, line, position)
