"""Differential fuzz test: a few thousand generated scripts (fixed seed) run in the engine and in
the real Rhai (../shared/rhai-native/rhai-oracle); values, printed lines and error kinds must
agree. Skipped when the oracle is not there (a user's clone has no ../shared)."""
from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from rhai_compare import differences, run_engine

ORACLE = Path(__file__).resolve().parent.parent.parent / "shared" / "rhai-native" / "rhai-oracle"
SEED = 20261202
SCRIPTS = 3000

INTS = ["0", "1", "-1", "2", "7", "-13", "42", "255", "9223372036854775807",
        "(-9223372036854775807 - 1)", "4611686018427387904", "63", "64", "100"]
FLOATS = ["0.0", "-0.0", "0.1", "0.2", "0.3", "1.5", "-2.5", "1e-7", "1e15", "1e16", "1e-16",
          "123.456", "0.000052", "1e300", "(0.0 / 0.0)", "(1.0 / 0.0)", "3.0"]
STRINGS = ['""', '"a"', '"abc"', '"héllo"', '"a\\tb"', '"q\\"uote"', '"line\\n2"', '"42"',
           '"  pad  "', '"Hello World"']
CHARS = ["'a'", "'Z'", "'é'", "'\\n'", "'5'", "' '"]
OTHERS = ["true", "false", "()", "[]", "[1, 2, 3]", "[1.5, \"x\", 'c', ()]", "#{}",
          "#{a: 1, b: \"two\"}", "#{\"x y\": [1], z: 0.5}", "blob(3, 7)", "blob(10, 255)",
          "1..4", "2..=5"]
# no && / || between arbitrary operands: Rhai's optimizer folds ``x && true`` to ``x`` (no
# type check) when an operand is constant, which this engine does not imitate
BINARY = ["+", "-", "*", "/", "%", "**", "<<", ">>", "&", "|", "^", "==", "!=", "<", "<=", ">",
          ">=", "??", "in"]
METHODS = ["len()", "to_string()", "to_debug()", "abs()", "floor()", "round()", "to_int()",
           "to_float()", "to_upper()", "to_lower()", "trim()", "reverse()", "keys()",
           "values()", "is_empty()", "to_hex()", "sign()", "fraction()", "contains(1)",
           "contains(\"a\")", "index_of('a')", "sub_string(1)", "split(\"b\")", "to_chars()",
           "get(0)", "get(-1)", "first()", "last()", "type_of()", "is_nan()", "to_blob()",
           "start", "end", "len", "pop()", "sort()", "order()", "to_json()"]


class Generator:
    """Random but well-formed Rhai: nested expressions over every kind of value, statements
    that print them in both forms, and control flow around them. Interpolation only shows
    variables: Rhai's optimizer folds a constant ``${...}`` with Rust's Display, which differs
    from its run-time ``to_string`` (chars in arrays are quoted)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def atom(self) -> str:
        pool = self.rng.choice([INTS, INTS, FLOATS, FLOATS, STRINGS, CHARS, OTHERS])
        return self.rng.choice(pool)

    def expr(self, depth: int) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.3:
            return self.atom()
        if roll < 0.65:
            return f"({self.expr(depth - 1)} {self.rng.choice(BINARY)} {self.expr(depth - 1)})"
        if roll < 0.75:
            return f"{self.rng.choice(['-', '!'])}{self.expr(depth - 1)}"
        if roll < 0.9:
            return f"{self.expr(depth - 1)}.{self.rng.choice(METHODS)}"
        return (f"if {self.expr(depth - 1)} == {self.expr(depth - 1)} "
                f"{{ {self.expr(depth - 1)} }} else {{ {self.expr(depth - 1)} }}")

    def script(self) -> str:
        lines = [f"let a = {self.expr(2)};", f"let b = {self.expr(2)};"]
        for _ in range(self.rng.randint(1, 3)):
            lines.append(self.rng.choice([
                "print(a);", "print(b);", "debug(a);", "print(`${a}|${b}`);",
                "print(a && b);", "print(a || !b);",
                f"print({self.expr(2)});", f"debug({self.expr(2)});",
                f"a = {self.expr(2)};", f"b += {self.expr(1)};",
                "switch a { 1 => print(\"one\"), 0.3 => print(\"f\"), 'a' => print(\"c\"), "
                "_ => print(type_of(a)) }",
                "let r = (); try { r = a / b; } catch (e) { r = e; } print(r);",
                "for x in [a, b] { print(x); }",
            ]))
        lines.append(self.rng.choice(["a", "b", "[a, b]", "#{a: a, b: b}", self.expr(2)]))
        return "\n".join(lines)


def oracle_results(scripts: list[str]) -> list[dict]:
    proc = subprocess.run([str(ORACLE)], input="\n\x1e\n".join(scripts), capture_output=True,
                          text=True, timeout=600, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.skipif(not ORACLE.is_file(),
                    reason=f"the Rhai oracle is not here ({ORACLE}); it exists only next to a "
                           "development checkout")
def test_engine_agrees_with_rhai_on_generated_scripts():
    generator = Generator(random.Random(SEED))
    scripts = [generator.script() for _ in range(SCRIPTS)]
    results = oracle_results(scripts)
    assert len(results) == len(scripts)
    disagreements = []
    for script, oracle in zip(scripts, results):
        found = differences(run_engine(script), oracle)
        if found:
            disagreements.append(f"{script!r}\n  " + "\n  ".join(found))
    assert not disagreements, (f"{len(disagreements)} of {len(scripts)} scripts differ:\n"
                               + "\n".join(disagreements[:15]))
