"""Property test: many small, valid Rhai scripts generated from a grammar (statements, control
flow as statements and as expressions, loops with break/continue, functions, closures, switch,
try/catch) must all compile and run without an engine failure. A script may still stop with a
runtime error (overflow, a limit): that is Rhai behaviour, not a compile failure."""
from __future__ import annotations

import random

import pytest

from worker.engine import Engine, RhaiError
from worker.engine.errors import ParseError

SCRIPTS = 400  # per seed batch; seeds are fixed, so a failure is reproducible


class ScriptGen:
    """Random valid Rhai source. Variables hold INTs (strings only in dedicated lets), every
    loop is bounded by a counter or a ``break``, functions only call earlier functions."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0
        self.fns: list[tuple[str, int]] = []

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # ---- expressions (INT-valued unless noted) -------------------------------------------
    def expr(self, env: list[str], d: int, loop: bool = False) -> str:
        r = self.rng
        if d <= 0:
            return r.choice(env) if env and r.random() < 0.6 else str(r.randint(-5, 9))
        choice = r.randrange(16)
        if choice <= 2:
            return self.expr(env, 0)
        if choice <= 5:
            op = r.choice(["+", "-", "*", "+", "-"])
            return f"({self.expr(env, d - 1)} {op} {self.expr(env, d - 1)})"
        if choice == 6:
            return (f"if {self.cond(env, d - 1)} {{ {self.expr(env, d - 1)} }} "
                    f"else {{ {self.expr(env, d - 1)} }}")
        if choice == 7:
            inner = list(env)
            stmts = self.stmts(inner, d - 1, loop, r.randint(0, 2))
            return f"{{ {stmts} {self.expr(inner, d - 1)} }}"
        if choice == 8 and self.fns:
            fname, arity = r.choice(self.fns)
            return f"{fname}({', '.join(self.expr(env, d - 1) for _ in range(arity))})"
        if choice == 9:
            subject = self.expr(env, d - 1)
            arms = [f"{k} => {self.expr(env, d - 1)}" for k in r.sample(range(-2, 5), 2)]
            arms.append(f"5 | 6 => {self.expr(env, d - 1)}")
            arms.append(f"_ => {self.expr(env, d - 1)}")
            return f"switch {subject} {{ {', '.join(arms)} }}"
        if choice == 10:
            p = self.name("p")
            body = self.expr(env + [p], d - 1)
            return f"(|{p}| {body}).call({self.expr(env, d - 1)})"
        if choice == 11:
            return f"[{self.expr(env, d - 1)}, {self.expr(env, d - 1)}].len()"
        if choice == 12:
            return f"(\"ab\" + {self.expr(env, d - 1)}).len()"
        if choice == 13:
            v = self.name("b")
            return (f"{{ let {v} = 0; loop {{ {v} += 1; if {v} > {r.randint(0, 3)} "
                    f"{{ break {self.expr(env + [v], d - 1)}; }} }} }}")
        if choice == 14:
            return f"[{self.expr(env, d - 1)}, 7][{r.randint(0, 1)}]"
        if choice == 15 and self.fns:
            fname, arity = r.choice(self.fns)
            args = ", ".join(self.expr(env, d - 1) for _ in range(arity))
            return f"({self.expr(env, d - 1)} ?? {fname}({args}))"
        return f"-({self.expr(env, 0)})"  # Rhai reserves "--": no double minus

    def cond(self, env: list[str], d: int) -> str:
        r = self.rng
        op = r.choice(["<", "<=", ">", ">=", "==", "!="])
        c = f"{self.expr(env, d)} {op} {self.expr(env, d)}"
        roll = r.random()
        if roll < 0.15:
            return f"!({c})"
        if roll < 0.3:
            return f"{c} && {self.expr(env, 0)} > 0"
        if roll < 0.4:
            return r.choice(["true", "false"])
        if roll < 0.55 and self.fns:  # calls in short-circuit operands and conditions
            fname, arity = r.choice(self.fns)
            call = f"{fname}({', '.join(self.expr(env, 0) for _ in range(arity))})"
            return f"{c} {r.choice(['&&', '||'])} {call} {op} {self.expr(env, 0)}"
        return c

    # ---- statements ---------------------------------------------------------------------------
    def block(self, env: list[str], d: int, loop: bool) -> str:
        return "{ " + self.stmts(list(env), d, loop, self.rng.randint(0, 3)) + " }"

    def stmts(self, env: list[str], d: int, loop: bool, count: int) -> str:
        return " ".join(self.stmt(env, d, loop) for _ in range(count))

    def stmt(self, env: list[str], d: int, loop: bool) -> str:
        """One statement; ``env`` gets any variable it declares."""
        r = self.rng
        choice = r.randrange(17 if d > 0 else 4)
        if choice == 0 or (choice == 1 and not env):
            v = self.name("x")
            text = f"let {v} = {self.expr(env, min(d, 2))};"
            env.append(v)
            return text
        if choice == 1:
            return f"{r.choice(env)} {r.choice(['=', '+=', '-=', '*='])} {self.expr(env, 1)};"
        if choice == 2:
            return f"{self.expr(env, min(d, 2))};"
        if choice == 3:
            return "let s = \"t\"; s += `${" + self.expr(env, 0) + "}`;"
        if choice == 4:  # statement-level if, maybe followed by a bare expression statement
            text = f"if {self.cond(env, d - 1)} {self.block(env, d - 1, loop)}"
            if r.random() < 0.5:
                text += f" else {self.block(env, d - 1, loop)}"
            return text + (f" {self.expr(env, 0)};" if r.random() < 0.5 else "")
        if choice == 5:
            text = f"if {self.cond(env, d - 1)} {{ {self.expr(env, 0)} }}"
            return text + f" {self.expr(env, 0)};"
        if choice == 6:
            i = self.name("i")
            body = self.stmts(env + [i], d - 1, True, r.randint(0, 3))
            return (f"let {i} = 0; while {i} < {r.randint(0, 4)} {{ {i} += 1; {body} }}")
        if choice == 7:
            i = self.name("i")
            body = self.stmts(env + [i], d - 1, True, r.randint(0, 3))
            return f"let {i} = 0; loop {{ {i} += 1; if {i} > {r.randint(0, 4)} {{ break; }} {body} }}"
        if choice == 8:
            v = self.name("k")
            body = self.stmts(env + [v], d - 1, True, r.randint(0, 3))
            source = r.choice([f"0..{r.randint(0, 4)}", f"{r.randint(-2, 2)}..={r.randint(0, 3)}",
                               f"[{self.expr(env, 0)}, 2, 3]"])
            return f"for {v} in {source} {{ {body} }}"
        if choice == 9:
            v, idx = self.name("k"), self.name("j")
            body = self.stmts(env + [v, idx], d - 1, True, r.randint(0, 2))
            return f"for ({v}, {idx}) in [5, 6] {{ {body} }}"
        if choice == 10:
            return self.block(env, d - 1, loop)
        if choice == 11 and loop:
            return r.choice(["break;", "continue;", f"if {self.cond(env, 0)} {{ break; }}",
                             f"if {self.cond(env, 0)} {{ continue }}"])
        if choice == 12:
            f = self.name("c")
            p = self.name("p")
            body = self.stmts(env + [p], d - 1, False, r.randint(0, 2))
            env_f = list(env)
            env.append(f)
            captured = r.choice(env_f) if env_f else "1"
            return (f"let {f} = |{p}| {{ {body} {p} + {captured} }}; "
                    f"let {self.name('r')} = {f}.call({self.expr(env_f, 0)});")
        if choice == 13:
            return (f"try {{ {self.stmts(list(env), d - 1, loop, 1)} "
                    f"if {self.cond(env, 0)} {{ throw {self.expr(env, 0)}; }} }} "
                    f"catch (err) {{ {self.stmts(list(env), d - 1, loop, 1)} }}")
        if choice == 14:
            a = self.name("a")
            env.append(a)
            return (f"let {a} = [1, 2, 3]; {a}[{r.randint(0, 2)}] = {self.expr(env[:-1], 1)}; "
                    f"{a}.push({self.expr(env[:-1], 0)}); let {self.name('z')} = {a}.len();")
        if choice == 15:
            subject = self.expr(env, 1)
            return (f"switch {subject} {{ 0 => {self.block(env, d - 1, loop)}, "
                    f"1 | 2 => {self.expr(env, 0)}, _ => {{}} }}")
        return f"let {self.name('y')} = {self.expr(env, d)};"

    def fn_def(self) -> str:
        name = self.name("f")
        params = [self.name("q") for _ in range(self.rng.randint(0, 3))]
        env = list(params)
        body = self.stmts(env, 2, False, self.rng.randint(0, 3))
        tail = self.expr(env, 2)
        ret = f"if {self.cond(env, 0)} {{ return {self.expr(env, 0)}; }} " \
            if self.rng.random() < 0.3 else ""
        self.fns.append((name, len(params)))
        return f"fn {name}({', '.join(params)}) {{ {body} {ret}{tail} }}"

    def script(self) -> str:
        parts = [self.fn_def() for _ in range(self.rng.randint(0, 3))]
        if self.rng.random() < 0.3:
            parts.append("fn rec(n) { if n <= 0 { 0 } else { n + rec(n - 1) } }")
            self.fns.append(("rec", 1))
        env: list[str] = []
        parts.append(self.stmts(env, 3, False, self.rng.randint(1, 6)))
        if self.rng.random() < 0.7:
            parts.append(self.expr(env, 3))
        return "\n".join(parts)


def run_batch(seed: int) -> list[str]:
    """Generate and run ``SCRIPTS`` scripts; the failures as readable reports."""
    engine = Engine(max_operations=20_000, timeout=5, on_print=lambda s: None,
                    on_debug=lambda s: None)
    rng = random.Random(seed)
    failures = []
    for _ in range(SCRIPTS):
        source = ScriptGen(rng).script()
        try:
            engine.eval(source)
        except ParseError as exc:
            failures.append(f"valid script failed to compile: {exc}\n{source}")
        except RhaiError as exc:
            if "Internal" in str(exc):
                failures.append(f"engine failure: {exc}\n{source}")
        if len(failures) >= 3:
            break
    return failures


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_generated_valid_scripts_compile_and_run_without_engine_failure(seed):
    failures = run_batch(seed)
    assert not failures, "\n\n".join(failures)


def test_generator_produces_the_statement_if_then_expression_shape():
    """The original bug: a statement ``if`` followed by an expression statement."""
    assert Engine().eval('if true { 1 } "x"') == "x"
    assert Engine().eval('if 1 == 1 { 1 } "x"') == "x"
