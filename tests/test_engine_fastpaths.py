"""Differential test: the compiler's inline INT/FLOAT fast paths against the generic operators.

The generated code adds, subtracts, multiplies and compares numbers inline (guarded by type and
range checks) and only falls back to ``worker.engine.ops`` when a guard fails. These tests
generate arithmetic on operands near the edges those guards are about (2^30, 2^31, 2^53 and
i64's 2^63) and check that every script gives exactly what the generic operators give: the same
value and type, or the same error. A fast path that let an overflow through, wrapped, turned an
INT into a FLOAT or reported a different error fails here.
"""
from __future__ import annotations

import math
import operator
import random
from typing import Any, Callable

import pytest

from worker.engine import Engine, RhaiError
from worker.engine import ops

INT_MAX = 2**63 - 1
EDGES = (2**30, 2**31, 2**32, 2**53, 2**62, 2**63)
SCRIPTS_PER_SEED = 150

# Rhai operator -> the generic operator the compiled code must agree with
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "%": ops.mod,
    "==": ops.equals, "!=": ops.not_equals, "<": ops.less, "<=": ops.less_eq,
    ">": ops.greater, ">=": ops.greater_eq, "&": ops.bit_and, "|": ops.bit_or, "^": ops.bit_xor,
}
ASSIGNING = ("+", "-", "*", "/", "%")


def edge_int(rng: random.Random) -> int:
    """An i64 within a few units of a guard's boundary, either sign, or a small one."""
    if rng.random() < 0.2:
        return rng.randint(-3, 3)
    value = rng.choice(EDGES) + rng.randint(-3, 3)
    value = min(value, INT_MAX)
    return -value if rng.random() < 0.5 else value


def edge_float(rng: random.Random) -> float:
    """A float near 2^53 (where consecutive floats are 2 apart), near an int edge, or small."""
    base = float(rng.choice(EDGES + (1,)))
    value = base + rng.choice((-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0))
    return -value if rng.random() < 0.5 else value


SPECIAL_FLOATS = (math.inf, -math.inf, math.nan, 0.0, -0.0, 1.7976931348623157e308, 5e-324,
                  -1e308, 1e-300, 0.1, 0.2, 0.3)


def special_float(rng: random.Random) -> float:
    """A FLOAT where IEEE 754 is subtle (inf, NaN, signed zeros, the extremes) or an ordinary
    one, or an INT-valued one (mixed INT/FLOAT operands are promoted)."""
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(SPECIAL_FLOATS)
    if roll < 0.8:
        return rng.uniform(-10.0, 10.0)
    return float(rng.randint(-3, 3))


def literal(value: Any) -> str:
    """Rhai source for a number. i64's minimum has no literal (its magnitude is too large);
    Rhai has no literal for inf and NaN either: they are made by dividing by zero."""
    if type(value) is float and not math.isfinite(value):
        return "(0.0 / 0.0)" if math.isnan(value) else ("(1.0 / 0.0)" if value > 0 else
                                                          "(-1.0 / 0.0)")
    if type(value) is float and value == 0.0:
        return "0.0" if math.copysign(1.0, value) > 0 else "(-0.0)"
    if type(value) is float:
        return repr(value) if not value.is_integer() else f"{value:.1f}"
    if value == -2**63:
        return "(-9223372036854775807 - 1)"
    return str(value)


class Case:
    """A generated expression: its Rhai text and what the generic operators make of it."""

    def __init__(self, text: str, compute: Callable[[], Any]) -> None:
        self.text = text
        self.compute = compute


def generic(op: str, left: Case, right: Case) -> Case:
    """``left op right`` evaluated left to right with the generic operator."""
    return Case(f"({left.text} {op} {right.text})",
                lambda: BINARY[op](left.compute(), right.compute()))


def generate(rng: random.Random, names: dict[str, Any], depth: int) -> Case:
    """A random arithmetic expression over variables (``names``) and literals."""
    if depth == 0 or rng.random() < 0.25:
        if names and rng.random() < 0.6:
            name = rng.choice(sorted(names))
            return Case(name, lambda: names[name])
        value = edge_float(rng) if rng.random() < 0.25 else edge_int(rng)
        return Case(literal(value), lambda: value)
    op = rng.choice(("+", "-", "*", "+", "-", "*", "/", "%", "<", ">=", "==", "!="))
    if op in ("<", ">=", "==", "!="):  # comparisons only at the top: a BOOL has no arithmetic
        depth = 1
    return generic(op, generate(rng, names, depth - 1), generate(rng, names, depth - 1))


def generate_float(rng: random.Random, names: dict[str, Any], depth: int) -> Case:
    """A random arithmetic expression over FLOAT variables and literals (some INT literals:
    mixed operands), with division, so that zero divisors, inf and NaN meet every operator."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.6:
            name = rng.choice(sorted(names))
            return Case(name, lambda: names[name])
        value = special_float(rng) if rng.random() < 0.8 else rng.randint(-2, 2)
        return Case(literal(value), lambda: value)
    op = rng.choice(("+", "-", "*", "/", "+", "-", "*", "/", "<", ">=", "==", "!="))
    if op in ("<", ">=", "==", "!="):
        depth = 1
    return generic(op, generate_float(rng, names, depth - 1),
                   generate_float(rng, names, depth - 1))


def signed_zero(value: Any) -> Any:
    """A value with the sign of a FLOAT zero made visible (``0.0 == -0.0`` in Python)."""
    if type(value) is float and value == 0.0:
        return ("zero", math.copysign(1.0, value))
    return value


def outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    """("value", v) or ("error", message without position) of a computation."""
    try:
        value = run()
    except RhaiError as exc:
        return ("error", str(exc).split(" (line ")[0])
    if type(value) is float and math.isnan(value):
        return ("value", "NaN")
    return ("value", (type(value).__name__, signed_zero(value)))


def assert_same(engine: Engine, script: str, reference: Callable[[], Any]) -> None:
    expected = outcome(reference)
    actual = outcome(lambda: engine.eval(script))
    assert actual == expected, f"script:\n{script}"


# Code of the script's body outside loops runs once per run, so the compiler emits the generic
# operators there (``Compiler.hot``); inside a loop (or a function) it emits the inline fast
# paths. The generated cases below run in both places (``place``).

def in_a_loop(script: str) -> str:
    """``script`` (statements, then an expression) run once in a loop's body, its expression's
    value the script's value."""
    statements, _, last = script.rpartition(";")
    body = f"{statements}; " if statements else ""
    return f"let result = (); for once in 0..1 {{ {body}result = {last.strip()}; }} result"


def at_top_level(script: str) -> str:
    """``script`` as it is: at the top level, where the generic operators are emitted."""
    return script


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.mark.parametrize("place", [at_top_level, in_a_loop])
@pytest.mark.parametrize("seed", range(8))
def test_expressions_near_the_edges_match_the_generic_operators(engine, seed, place):
    rng = random.Random(seed)
    for _ in range(SCRIPTS_PER_SEED):
        names = {f"v{i}": (edge_float(rng) if rng.random() < 0.2 else edge_int(rng))
                 for i in range(3)}
        lets = "".join(f"let {name} = {literal(value)};\n" for name, value in names.items())
        case = generate(rng, names, rng.randint(1, 3))
        assert_same(engine, place(f"{lets}{case.text}"), case.compute)


@pytest.mark.parametrize("seed", range(4))
def test_compound_assignment_in_loops_matches_the_generic_operators(engine, seed):
    """``x op= y`` repeated in a loop: the in-place fast paths of INT and FLOAT variables."""
    rng = random.Random(1000 + seed)
    for _ in range(SCRIPTS_PER_SEED):
        start = edge_float(rng) if rng.random() < 0.2 else edge_int(rng)
        step = edge_float(rng) if rng.random() < 0.2 else rng.choice((edge_int(rng), 1, 2, -1))
        op = rng.choice(ASSIGNING)
        rounds = rng.randint(1, 4)
        script = (f"let x = {literal(start)};\nlet y = {literal(step)};\n"
                  f"for i in 0..{rounds} {{ x {op}= y; }}\nx")

        def reference(start=start, step=step, op=op, rounds=rounds) -> Any:
            x = start
            for _ in range(rounds):
                x = BINARY[op](x, step)
            return x

        assert_same(engine, script, reference)


@pytest.mark.parametrize("place", [at_top_level, in_a_loop])
@pytest.mark.parametrize("seed", range(6))
def test_float_expressions_match_the_generic_operators(engine, seed, place):
    """FLOAT operands (inf, NaN, -0.0, the extremes, zero divisors, INT mixed in): the inline
    FLOAT paths give exactly the generic operators' value, sign of zero included."""
    rng = random.Random(2000 + seed)
    for _ in range(SCRIPTS_PER_SEED):
        names = {f"f{i}": special_float(rng) for i in range(3)}
        lets = "".join(f"let {name} = {literal(value)};\n" for name, value in names.items())
        case = generate_float(rng, names, rng.randint(1, 3))
        assert_same(engine, place(f"{lets}{case.text}"), case.compute)


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_float_compound_assignment_matches_the_generic_operators(engine, op):
    """``x op= y`` on FLOATs in a loop, every pair of special values."""
    for start in SPECIAL_FLOATS:
        for step in SPECIAL_FLOATS + (2, 0):
            script = (f"let x = {literal(start)};\nlet y = {literal(step)};\n"
                      f"for i in 0..3 {{ x {op}= y; }}\nx")

            def reference(start=start, step=step) -> Any:
                x = start
                for _ in range(3):
                    x = BINARY[op](x, step)
                return x

            assert_same(engine, script, reference)


@pytest.mark.parametrize("op", ["+", "-", "*"])
@pytest.mark.parametrize("edge", EDGES)
def test_loop_counters_crossing_an_edge_match_the_generic_operators(engine, op, edge):
    """An INT loop variable combined with a value just below an edge crosses it mid-loop."""
    base = edge - 2 if op != "*" else edge // 2 - 1
    base = min(base, INT_MAX)
    script = f"let t = [];\nfor i in 0..5 {{ t.push({literal(base)} {op} i); }}\nt"

    def reference() -> Any:
        return [BINARY[op](base, i) for i in range(5)]

    assert_same(engine, script, reference)


@pytest.mark.parametrize("seed", range(3))
def test_bitwise_operators_on_int_variables_match_the_generic_operators(engine, seed):
    """``&``, ``|`` and ``^`` of two static INTs are inline Python operators: on operands near
    every edge (i64's sign bit included), nested in arithmetic, and beside FLOAT and BOOL
    operands (which take the generic operator: an error for a FLOAT, a BOOL for two BOOLs)."""
    rng = random.Random(3000 + seed)
    for _ in range(SCRIPTS_PER_SEED):
        names = {f"v{i}": (edge_float(rng) if rng.random() < 0.1 else edge_int(rng))
                 for i in range(3)}
        names["b"] = rng.random() < 0.5
        lets = "".join(f"let {name} = {literal(value) if name != 'b' else str(value).lower()};\n"
                       for name, value in names.items())
        op = rng.choice(("&", "|", "^"))
        left, right = (Case(n, lambda n=n: names[n]) for n in rng.sample(sorted(names), 2))
        inner = generic(op, left, right)
        case = generic(rng.choice(("+", "-", "^", "&")), inner, generate(rng, names, 1)) \
            if rng.random() < 0.5 else inner
        loop = f"let t = [];\nfor i in 0..3 {{ t.push({left.text} {op} i); }}\nt"
        assert_same(engine, f"{lets}{case.text}", case.compute)
        assert_same(engine, f"{lets}{loop}",
                     lambda left=left: [BINARY[op](left.compute(), i) for i in range(3)])


def test_generated_cases_cover_overflow_and_mixed_types(engine):
    """The generator must reach what the fast paths guard: overflow errors, FLOAT results from
    mixed operands, and plain INT results; otherwise the tests above would prove little."""
    rng = random.Random(0)
    kinds = set()
    for _ in range(SCRIPTS_PER_SEED):
        names = {f"v{i}": (edge_float(rng) if rng.random() < 0.2 else edge_int(rng))
                 for i in range(3)}
        case = generate(rng, names, rng.randint(1, 3))
        result = outcome(case.compute)
        if result[0] == "error":
            kinds.add("overflow" if "overflow" in result[1] else "error")
        elif result[1] != "NaN":
            kinds.add(result[1][0])
    assert {"overflow", "int", "float", "bool"} <= kinds, kinds


def test_reference_operators_agree_with_python_on_small_ints():
    """The generic operators, used as the reference above, are themselves checked against
    Python on values far from every edge (truncating division and remainder, as Rust)."""
    rng = random.Random(7)
    for _ in range(500):
        a, b = rng.randint(-1000, 1000), rng.choice([i for i in range(-50, 51) if i])
        assert ops.add(a, b) == a + b and ops.sub(a, b) == a - b and ops.mul(a, b) == a * b
        assert ops.div(a, b) == int(a / b)
        assert ops.mod(a, b) == int(math.fmod(a, b))
        assert ops.less(a, b) == operator.lt(a, b)


MODULO_OPERANDS = (7, 3, 1, 0, -1, -3, -2**63, 2**63 - 1, 2.5, -0.0)


@pytest.mark.parametrize("left", MODULO_OPERANDS)
def test_modulo_in_every_form_matches_the_generic_operator(engine, left):
    """``a % b`` with each operand a literal, a variable or a computed value (the inline path
    takes a non-negative INT and a positive INT; zero, negatives, i64's minimum and FLOATs
    must give what ``ops.mod`` gives)."""
    for right in MODULO_OPERANDS:
        a, b = literal(left), literal(right)
        forms = (f"{a} % {b}", f"let x = {a}; let y = {b}; x % y", f"let x = {a}; x % {b}",
                 f"let y = {b}; {a} % y")
        for script in forms:
            assert_same(engine, script, lambda: ops.mod(left, right))
        assert_same(engine, f"let x = {a}; let y = {b}; (x + 0) % (y * 1)",
                    lambda: ops.mod(ops.add(left, 0), ops.mul(right, 1)))


# ---- the same cases in hot code --------------------------------------------------------------
def test_in_a_loop_keeps_the_script_and_its_value(engine):
    assert in_a_loop("let x = 2; x * 3") == \
        "let result = (); for once in 0..1 { let x = 2; result = x * 3; } result"
    assert engine.eval(in_a_loop("let x = 2;\nlet y = 3;\nx * y")) == 6
    assert engine.eval(in_a_loop("(1 + 2)")) == 3


@pytest.mark.parametrize("left", MODULO_OPERANDS)
def test_modulo_in_a_loop_matches_the_generic_operator(engine, left):
    for right in MODULO_OPERANDS:
        a, b = literal(left), literal(right)
        forms = (f"{a} % {b}", f"let x = {a}; let y = {b}; x % y", f"let x = {a}; x % {b}",
                 f"let y = {b}; {a} % y")
        for script in forms:
            assert_same(engine, in_a_loop(script), lambda: ops.mod(left, right))
