"""Scripts of one shape compiled once (``worker/engine/shapes.py``): a script served from its
shape's code must do exactly what it does compiled on its own — value, printed lines, error
kind, message and position, limits — for any values of its literals."""
from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from rhai_compare import typed
from test_engine_rhai_differential import Generator
from worker.engine import Engine, RhaiError
from worker.engine.lexer import tokenize
from worker.engine.shapes import (MAX_SHAPES, MAX_SOURCE_CHARS, REFUSED, Hole, NeedsValue, Seen,
                                  Shaped, shape_of)

ENGINE_DIR = Path(__file__).resolve().parent.parent / "worker" / "engine"
LIMITS = dict(max_operations=200_000, max_string_size=64, max_array_size=50, max_map_size=50,
              max_call_levels=32, timeout=30)


class Recorder:
    """An engine whose printed and debug lines are kept, and the outcome of a run as data."""

    def __init__(self, **limits) -> None:
        self.lines: list = []
        self.engine = Engine(on_print=self.lines.append,
                             on_debug=lambda text: self.lines.append(("debug", text)),
                             **limits)

    def outcome(self, script) -> tuple:
        self.lines.clear()
        try:
            value = self.engine.eval(script, raw=True)
            result = ("ok", json.dumps(typed(value), default=repr))
        except RhaiError as exc:
            result = ("error", type(exc).__name__, exc.kind, str(exc))
        return result, list(self.lines)


def on_its_own(source: str, **limits) -> tuple:
    """What ``source`` does compiled alone, by an engine that has never seen its shape."""
    return Recorder(**limits).outcome(source)


def by_shape(recorder: Recorder, source: str) -> tuple[tuple, object]:
    """What ``source`` does compiled from its shape with holes (the shape marked as met with
    other values first), and the shape's entry afterwards (``Shaped`` or ``REFUSED``)."""
    key, values = shape_of(tokenize(source))
    assert values, f"no literal to make a hole of in {source!r}"
    recorder.engine.shapes.put(key, Seen(None))
    return recorder.outcome(source), recorder.engine.shapes.get(key)


def test_generated_scripts_do_the_same_compiled_from_their_shape():
    """Thousands of random scripts over every kind of literal, operator and statement: compiled
    with holes and filled with their own values, each does what it does compiled alone."""
    generator = Generator(random.Random(20261203))
    recorder = Recorder(**LIMITS)
    shaped = 0
    for _ in range(1500):
        script = generator.script()
        if not shape_of(tokenize(script))[1]:
            continue
        got, entry = by_shape(recorder, script)
        assert got == on_its_own(script, **LIMITS), script
        shaped += type(entry) is Shaped
    assert shaped > 1000  # most shapes compile without their values


# Templates whose literals take values of one length (the positions of the tokens after a
# literal are part of the shape): edges of i64, of FLOAT, of the string limit, zero divisors.
TEMPLATES = {
    "i64 edges": ("let x = {}; let y = x + {}; [x * {}, y - 1, x / {}, x % {}, -x, x ** {}]",
                  [("9223372036854775807", "1", "2", "0", "3", "2"),
                   ("4611686018427387904", "9", "2", "7", "0", "3"),
                   ("1073741823000000000", "0", "9", "1", "1", "1"),
                   ("0000000000000000000", "5", "0", "5", "5", "0")]),
    "negated literals": ("let a = -{}; let b = - {}; [a, b, -{} - 1, -{}.abs()]",
                         [("9223372036854775807", "1", "9223372036854775807", "5"),
                          ("0000000000000000000", "0", "0000000000000000001", "0"),
                          ("1234567890123456789", "9", "4611686018427387904", "3")]),
    "floats": ("let f = {}; [f / {}, f * -{}, f % {}, -{}, f == {}, to_string(f)]",
               [("1.5", "0.0", "0.0", "2.0", "0.0", "1.5"),
                ("0.0", "0.0", "1e9", "0.0", "1e9", "0.0"),
                ("1e9", "3.0", "2.5", "0.5", "2.5", "1e8"),
                ("2.5", "1e9", "1e9", "1e9", "1e9", "2.6")]),
    "bounds from conditions": ("let n = {}; if n < {} {{ n + 1 }} else if n > {} {{ n - {} }} "
                               "else {{ n }}",
                               [("9223372036854775806", "9223372036854775807", "0", "1"),
                                ("9223372036854775807", "9223372036854775807", "9", "9"),
                                ("-9223372036854775807", "0000000000000000000", "5", "7"),
                                ("0000000000000000005", "0000000000000000000", "9", "1")]),
    "counting loops": ("let t = 0; for i in {}..{} {{ t += i * {}; }} "
                       "let j = {}; while j < {} {{ j += {}; }} [t, j]",
                       [("0", "9", "3", "0", "5", "2"), ("5", "2", "9", "7", "1", "1"),
                        ("0", "9", "0", "1", "9", "0")]),
    "strings and sizes": ('let s = "{}"; let t = s + "{}"; [s.len(), t, s.sub_string({}, {}), '
                          's.pad({}, "{}"), s.index_of("{}"), s == "{}"]',
                          [("abcde", "fghij", "1", "2", "9", "x", "c", "abcde"),
                           ("héllo", "wörld", "0", "9", "3", "é", "l", "hello"),
                           ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                            "5", "5", "9", "z", "q", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                           ("", "", "0", "0", "0", "", "", "")]),
    "arrays, maps and indexes": ("let a = [{}, {}, {}]; let m = #{{k: {}, s: \"{}\"}}; "
                                 "a[{}] = {}; a[-{}] += {}; [a, m.k, m.s, a[{}]]",
                                 [("1", "2", "3", "4", "x", "0", "9", "1", "5", "2"),
                                  ("7", "8", "9", "0", "y", "5", "1", "3", "1", "9"),
                                  ("0", "0", "0", "1", "", "2", "2", "4", "0", "1")]),
    "switch on literals": ("let v = {}; switch v {{ {} => \"a\", {} => \"b\", {} | {} => \"c\", "
                           "_ => \"d\" }}",
                           [("1", "1", "2", "3", "4"), ("2", "1", "2", "3", "4"),
                            ("4", "1", "1", "3", "4"), ("9", "5", "6", "7", "8")]),
    "calls and interpolation": ("fn f(x, y) {{ x * y + {} }} let s = `{}${{f({}, {})}}{}`; "
                                "[s, f({}, {}), \"{}\" + {}]",
                                [("1", "ab", "2", "3", "cd", "4", "5", "ef", "6"),
                                 ("9", "", "0", "0", "", "9", "9", "", "0"),
                                 ("5", "", "1", "2", "", "3", "4", "", "5"),
                                 ("0", "ab", "9", "1", "cd", "3", "9", "zz", "3")]),
    "operations limit": ("let n = 0; for i in 0..{} {{ n += {}; }} n",
                         [("1000", "1"), ("9999", "2"), ("0500", "9"),
                          ("99999", "9"), ("50000", "3")]),
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_scripts_of_one_shape_do_what_each_does_alone(name):
    """The natural flow: the first script of a shape compiles with its values, the second
    compiles the shape, every later one is filled in; each does what it does alone."""
    template, rows = TEMPLATES[name]
    recorder = Recorder(**LIMITS)
    by_length: dict = {}
    for row in rows:
        source = template.format(*row)
        assert recorder.outcome(source) == on_its_own(source, **LIMITS), source
        by_length.setdefault(tuple(map(len, row)), []).append(source)
    served = [s for sources in by_length.values() for s in sources[1:]]
    assert served, "no two rows of one shape"
    for source in served:
        key, _ = shape_of(tokenize(source))
        assert type(recorder.engine.shapes.get(key)) is Shaped, source


def test_a_shape_serves_later_scripts_without_compiling_them_again():
    engine = Engine()
    sources = [f"let seed = {seed}; let total = 0; for i in 0..10 {{ total += i * seed % 7; }} "
               f"`task ${{seed}}: ${{total}}`" for seed in range(1000, 1010)]
    compiled = [engine.compile(source) for source in sources]
    expected = [f"task {seed}: {sum(i * seed % 7 for i in range(10))}"
                for seed in range(1000, 1010)]
    for _ in range(2):  # the second time, each runs in a run another script of it left
        assert [engine.eval(c) for c in compiled] == expected
    key, _ = shape_of(tokenize(sources[0]))
    assert type(engine.shapes.get(key)) is Shaped
    assert len({id(c.code) for c in compiled[1:]}) == 1  # one code for the shape
    assert compiled[0].code is not compiled[1].code  # the first: compiled with its values


def test_errors_report_each_scripts_own_position_and_values():
    recorder = Recorder()
    for divisor in "3012":  # the zero is the second script: the one that compiles the shape
        source = f'let x = 10;\nlet y = "{divisor}";\nx / {divisor} + y'
        got = recorder.outcome(source)
        assert got == on_its_own(source)
        if divisor == "0":
            assert got[0][:3] == ("error", "EvalError", "ErrorArithmetic")
            assert "10 / 0" in got[0][3] and "line 3, position 3" in got[0][3]
        else:
            assert got[0] == ("ok", json.dumps(typed(f"{10 // int(divisor)}{divisor}")))
    key, _ = shape_of(tokenize(source))
    assert type(recorder.engine.shapes.get(key)) is Shaped


def test_the_shapes_kept_are_bounded_in_number_and_size():
    """The cache holds generated code: long scripts are not kept, and at most MAX_SHAPES
    shapes are, whatever a client sends."""
    engine = Engine()
    padding = " " * MAX_SOURCE_CHARS
    for value in range(3):
        assert engine.eval(f"let x = {value};{padding}x") == value
    assert len(engine.shapes) == 0
    for width in range(MAX_SHAPES + 20):  # each a shape of its own: x's value, then spaces
        source = f"let x = 1;{' ' * width}x"
        assert engine.eval(source) == 1 and engine.eval(source.replace("1", "2")) == 2
    assert len(engine.shapes) == MAX_SHAPES


def test_a_shape_that_needs_its_values_is_compiled_script_by_script():
    """A range case of a ``switch`` is checked for emptiness while parsing: that reads the
    holes, so the shape is refused and each script of it compiles alone."""
    recorder = Recorder()
    template = 'switch {} {{ {}..{} => "in", _ => "out" }}'
    got, entry = by_shape(recorder, template.format(3, 1, 5))
    assert entry == REFUSED
    assert got == on_its_own(template.format(3, 1, 5))
    for row in [(3, 5, 1), (0, 1, 5), (5, 1, 5), (1, 1, 1)]:
        source = template.format(*row)
        assert recorder.outcome(source) == on_its_own(source)


def test_a_map_keeps_its_quoted_property_names_in_the_shape():
    """A string before ``:`` names a property (duplicates are a parse error): it is part of the
    shape, not a hole, and the values beside it still are."""
    recorder = Recorder()
    for source in ['#{"ab": 1, "cd": 2}', '#{"ab": 3, "cd": 4}', '#{"ab": 5, "ab": 6}',
                   '#{"xy": 7, "cd": 8}']:
        assert recorder.outcome(source) == on_its_own(source)
    assert recorder.outcome('#{"ab": 5, "ab": 6}')[0][2] == "DuplicatedProperty"
    key, values = shape_of(tokenize('#{"ab": 3, "cd": 4}'))
    assert values == [3, 4] and type(recorder.engine.shapes.get(key)) is Shaped


@pytest.mark.parametrize("use", [
    lambda h: h == 1, lambda h: h < 1, lambda h: h + 1, lambda h: 1 - h, lambda h: hash(h),
    lambda h: bool(h), lambda h: str(h), lambda h: repr(h), lambda h: f"{h}", lambda h: len(h),
    lambda h: int(h), lambda h: float(h), lambda h: [1][h], lambda h: {h}, lambda h: h in [1],
    lambda h: math.isfinite(h), lambda h: h.hex(), lambda h: -Hole(0, str)])
def test_a_hole_refuses_every_use_of_its_value(use):
    with pytest.raises((NeedsValue, AttributeError)):
        use(Hole(0, int))


def test_the_compiler_asks_a_literals_type_only_through_value_type():
    """``type(x.value)`` would tell a hole from a number and silently take another path: the
    parser and the compiler must use ``shapes.value_type``."""
    direct = re.compile(r"\b(?:type|isinstance)\((?:[^()]*\.)?value\b")
    offenders = [f"{path.name}:{n}" for path in sorted(ENGINE_DIR.glob("*.py"))
                 if path.name.startswith(("parser", "compile"))
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if direct.search(line)]
    assert not offenders
