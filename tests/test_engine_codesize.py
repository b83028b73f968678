"""The smaller generated code gives what the larger form it replaced gives.

Some code generation has a smaller form used where it is known to behave exactly as the general
one (for example a bare ``except:`` instead of a ``finally`` counting the loops that a function
left early, when no ``return`` can leave a loop). These tests generate scripts whose loops are
left every way (end, ``break``, ``return``, ``throw``, overflow, caught or not, at the top level
and in functions) and compare the values, the errors and the exact number of operations each script takes (the
smallest max_operations under which it runs) with the general form forced, and with what the
engine gave before the smaller forms (``engine_loop_behaviours.json``).
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from types import CodeType
from typing import Any, Callable

import pytest

from bench.engine_programs import PROGRAMS
from worker.engine import Engine, LimitError, RhaiError
from worker.engine import compile_base
from worker.engine.compile_expr import ExpressionCompiler

SCRIPTS = 30
OPS_CEILING = 1 << 16
PINNED = Path(__file__).with_name("engine_loop_behaviours.json")
"""The behaviours (outcome, operations) of the scripts of seeds 0 and 1, as the engine of
3b86b70 (before the smaller forms) gave them."""


class LoopScripts:
    """Random scripts of nested loops left in every way, with functions and ``catch``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def leave(self, var: str, in_fn: bool) -> str:
        """A statement that may leave the loop over ``var`` part-way through."""
        r = self.rng
        at = r.randint(0, 40)
        exits = ["break;", "throw 1;", "s = 9223372036854775807 + s;", "continue;"]
        if in_fn:
            exits.append("return s;")
        return f"if {var} == {at} {{ {r.choice(exits)} }}"

    def loop(self, depth: int, in_fn: bool) -> str:
        r = self.rng
        v = self.name("i")
        body = [self.leave(v, in_fn), f"s += {v} % 5;"]
        if depth > 0 and r.random() < 0.6:
            body.append(self.loop(depth - 1, in_fn))
        inner = " ".join(r.sample(body, len(body)))
        kind = r.randrange(4)
        if kind == 0:
            return f"for {v} in 0..{r.randint(1, 60)} {{ {inner} }}"
        if kind == 1:
            return f"for {v} in 0..{r.choice(['n', '2000'])} {{ {inner} }}"
        if kind == 2:
            return f"let {v} = 0; while {v} < {r.randint(1, 60)} {{ {v} += 1; {inner} }}"
        return (f"for {v} in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, "
                f"19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, "
                f"38, 39, 40] {{ {inner} }}")

    def caught(self, code: str) -> str:
        return f"try {{ {code} }} catch {{ s += 1; }}" if self.rng.random() < 0.5 else code

    def script(self) -> str:
        r = self.rng
        fn_body = "let s = 0; " + self.caught(self.loop(2, True)) + " s"
        main = "let n = 50; let s = 0; " + self.caught(self.loop(2, False))
        calls = " ".join(self.caught("s += f(n);") for _ in range(r.randint(0, 3)))
        return f"fn f(n) {{ {fn_body} }} {main} {calls} s"


def outcome(script: str, max_operations: int = 0) -> tuple[str, Any]:
    """The value of ``script`` or its error's message."""
    try:
        return "value", Engine(max_operations=max_operations).eval(script)
    except RhaiError as exc:
        return "error", str(exc)


def operations(script: str) -> int:
    """The smallest max_operations under which ``script`` ends as it does unlimited (the
    operations it takes), or OPS_CEILING."""
    free = outcome(script)
    low, high = 1, OPS_CEILING
    while low < high:
        middle = (low + high) // 2
        try:
            reached = outcome(script, middle) == free
        except LimitError:
            reached = False
        if reached:
            high = middle
        else:
            low = middle + 1
    return low


def behaviour(script: str) -> tuple:
    return outcome(script), operations(script)


def force_finally(monkeypatch: pytest.MonkeyPatch) -> None:
    """The general form: every function with loops counts them in a ``finally``."""
    original: Callable = compile_base.FunctionFrame.__init__

    def init(self: compile_base.FunctionFrame, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.returns_in_loop = True

    monkeypatch.setattr(compile_base.FunctionFrame, "__init__", init)


@pytest.mark.parametrize("seed", range(2))
def test_loops_left_early_count_as_with_finally(seed, monkeypatch):
    rng = random.Random(seed)
    scripts = [LoopScripts(rng).script() for _ in range(SCRIPTS)]
    compact = [behaviour(s) for s in scripts]
    assert any("except:" in Engine().compile(s).python_source for s in scripts)
    force_finally(monkeypatch)
    assert not any("except:" in Engine().compile(s).python_source for s in scripts)
    for script, got in zip(scripts, compact):
        assert got == behaviour(script), script


@pytest.mark.parametrize("seed", range(2))
def test_loops_left_early_behave_as_before_the_smaller_forms(seed):
    rng = random.Random(seed)
    pinned = json.loads(PINNED.read_text())[str(seed)]
    for expected in pinned:
        script = LoopScripts(rng).script()
        assert json.loads(json.dumps(behaviour(script))) == expected, script


def test_an_error_leaving_a_loop_still_counts_its_iterations():
    """The top-level loop left by an uncaught error or ``return`` at iteration 900 ran 900
    iterations: under a limit of 500 that is the operations limit, as in Rhai."""
    for leave in ("throw 1;", "return 1;", "let x = 9223372036854775807 + i;"):
        script = f"for i in 0..1000 {{ if i == 900 {{ {leave} }} }}"
        with pytest.raises(LimitError, match="max_operations"):
            Engine(max_operations=500).eval(script)
        assert outcome(script, 5000)[0] == ("value" if leave.startswith("return") else "error")


def bytecode(code: CodeType) -> tuple:
    """What CPython runs of ``code`` and the code nested in it: instructions, names, constants
    and line numbers (not the columns, which parentheses shift)."""
    consts = tuple(bytecode(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    lines = tuple(line for _, _, line in code.co_lines())
    return code.co_code, code.co_names, code.co_varnames, consts, lines


def corpus() -> list[str]:
    """Scripts of every kind: the benchmark programs and generated loop scripts."""
    rng = random.Random(7)
    programs = [p.rhai.format(n=p.quick) for p in PROGRAMS]
    return programs + [LoopScripts(rng).script() for _ in range(SCRIPTS)]


def test_statement_expressions_without_parentheses_compile_to_the_same_bytecode(monkeypatch):
    """A statement's whole expression (an assignment's value, a ``return``, an ``if``
    condition, a call's argument) loses the outer parentheses of its ``group``: the text is
    shorter and the bytecode the same as with them."""
    scripts = corpus()
    bare = [Engine().compile(s) for s in scripts]
    monkeypatch.setattr(ExpressionCompiler, "bare", lambda self, code: code)
    grouped = [Engine().compile(s) for s in scripts]
    assert sum(len(b.python_source) for b in bare) < sum(len(g.python_source) for g in grouped)
    for script, without, grouped_one in zip(scripts, bare, grouped):
        assert bytecode(without.code) == bytecode(grouped_one.code), script
