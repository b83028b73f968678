"""The sandbox: limits stop runaway scripts with a LimitError naming the limit, scripts cannot
reach Python objects, and no input makes anything but a RhaiError escape."""
from __future__ import annotations

import random

import pytest

from worker.engine import Engine, EvalError, LimitError, ParseError, RhaiError


def assert_usable(engine: Engine) -> None:
    """After a failure the same engine runs the next script normally."""
    assert engine.eval("let a = [1, 2]; a.push(3); a.len() + 39") == 42


@pytest.mark.parametrize("script, limits, limit", [
    ("loop { }", {"max_operations": 10_000}, "max_operations"),
    ("let i = 0; while true { i += 1; }", {"max_operations": 10_000}, "max_operations"),
    ("fn f(n) { if n == 0 { 0 } else { f(n - 1) + f(n - 1) } } f(40)",
     {"max_operations": 10_000}, "max_operations"),
    ("let f = |x| x; loop { f.call(1); }", {"max_operations": 10_000}, "max_operations"),
    ("loop { }", {"max_operations": 0, "timeout": 0.2}, "timeout"),
    ("fn f(n) { f(n + 1) } f(0)", {}, "max_call_levels"),
    ("fn f(n) { f(n + 1) } f(0)", {"max_call_levels": 10}, "max_call_levels"),
    ("let o = #{go: || this.go()}; o.go()", {}, "max_call_levels"),
    ("fn f() { [1].map(|x| f()) } f()", {}, "max_call_levels"),
    ('let s = "xx"; loop { s += s; }', {"max_string_size": 1000}, "max_string_size"),
    ('let s = "xx"; loop { s = s + s; }', {"max_string_size": 1000}, "max_string_size"),
    ('let s = "x"; loop { s = `${s}${s}`; }', {"max_string_size": 1000}, "max_string_size"),
    ("let a = [1]; loop { a += a; }", {"max_array_size": 1000}, "max_array_size"),
    ("let a = [1]; loop { a = a + a; }", {"max_array_size": 1000}, "max_array_size"),
    ("let a = []; loop { a.push(1); }", {"max_array_size": 1000}, "max_array_size"),
    ("let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }", {"max_map_size": 100},
     "max_map_size"),
])
def test_limits_stop_runaway_scripts(script, limits, limit):
    engine = Engine(**limits)
    with pytest.raises(LimitError) as info:
        engine.eval(script)
    assert info.value.limit == limit
    assert limit in str(info.value)
    assert "(line " in str(info.value)
    assert_usable(engine)


def test_limit_errors_cannot_be_caught_by_the_script():
    engine = Engine(max_operations=5_000)
    with pytest.raises(LimitError):
        engine.eval("try { loop { } } catch { 42 }")
    assert_usable(engine)


def test_the_default_limits_are_set():
    engine = Engine()
    assert engine.limits == {
        "max_operations": 5_000_000, "max_call_levels": 64, "max_expr_depth": 64,
        "max_string_size": 10 * 1024 * 1024, "max_array_size": 100_000,
        "max_map_size": 100_000, "timeout": 10.0, "max_script_size": 1024 * 1024,
        "max_ast_size": 20_000, "max_functions": 256,
    }
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval("loop { }")


def test_limits_apply_inside_eval():
    engine = Engine(max_operations=10_000)
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval('eval("loop { }")')
    assert_usable(engine)


@pytest.mark.parametrize("script", [
    "(" * 10_000 + "1" + ")" * 10_000,
    "[" * 10_000 + "]" * 10_000,
    "#{a:" * 5_000 + "1" + "}" * 5_000,
    "{" * 10_000 + "}" * 10_000,
    "!" * 10_000 + "true",
    "- " * 10_000 + "1",
    "1" + " + 1" * 10_000,
    "2" + " ** 2" * 10_000,
    "let x = #{}; x" + ".a" * 10_000,
    "let x = [1]; x" + "[0]" * 10_000,
    "if true { " * 5_000 + "1" + " }" * 5_000,
    "|| " * 10_000 + "1",
    "fn f() { " + "f(" * 10_000 + ")" * 10_000 + " }",
    "`${" * 3_000 + "1" + "}`" * 3_000,
])
def test_deep_nesting_is_a_parse_error_not_a_python_recursion_error(script):
    engine = Engine(max_ast_size=0)  # the depth limit, not the size limit, must stop these
    with pytest.raises(ParseError) as info:
        engine.eval(script)
    assert info.value.kind == "ExprTooDeep"
    assert "max_expr_depth" in str(info.value)
    assert_usable(engine)


def test_max_expr_depth_is_configurable():
    nested = "(" * 30 + "1" + ")" * 30
    assert Engine(max_expr_depth=64).eval(nested) == 1
    with pytest.raises(ParseError, match="max_expr_depth"):
        Engine(max_expr_depth=20).eval(nested)


@pytest.mark.parametrize("script", [
    "let x = 1; x.__class__",
    '"abc".__class__',
    "[].__class__.__bases__",
    'let s = "a"; s.__len__()',
    '"abc"["__class__"]',
    "let x = 1; x.__dict__",
    'Fn("__import__").call("os")',
    'call("__import__", "os")',
    '__import__("os")',
    'eval("__import__(\'os\')")',
    'import "os" as os; os::system("ls")',
    "open(\"/etc/passwd\")",
    "getattr(1, \"real\")",
    "let f = print; f.call(1)",
    "type_of(1).__class__",
    "this.__class__",
    'let m = #{}; m.__class__.__subclasses__()',
    "exec(\"1\")",
    "globals()",
    "_ops",
    "_tick()",
    "_SCOPE",
    "v_x_1",
])
def test_scripts_cannot_reach_python(script):
    engine = Engine()
    try:
        result = engine.eval(script)
    except RhaiError as exc:
        assert "(line " in str(exc)
    else:
        # the only "success" allowed is plain Rhai data, e.g. () for a missing map property
        assert result is None or type(result) in (int, float, bool, str, list, dict, bytes)
    assert_usable(engine)


def test_map_properties_named_like_dunders_are_just_data():
    assert Engine().eval('let m = #{}; m["__class__"] = 1; m["__class__"] + 1') == 2
    with pytest.raises(ParseError):  # as in Rhai, a name must start with a letter
        Engine().eval('let m = #{}; m.__class__')


def test_host_function_names_must_be_plain_identifiers():
    engine = Engine()
    for bad in ("__import__", "_private", "a.b", "1x"):
        with pytest.raises(ValueError):
            engine.register_fn(bad, print)


VALID_SCRIPTS = [
    "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } fib(10)",
    'let m = #{a: [1, 2, #{b: "c"}]}; m.a[2].b += "d"; `v=${m.a[2].b}`',
    "let s = 0; for (x, i) in [1, 2, 3] { switch x { 1 | 2 => { s += i }, _ => { s -= 1 } } } s",
    "let f = |x, y| { let z = x * y; z ?? 0 }; try { f.call(2, 3) } catch (e) { e }",
    'let t = "hé"; t[0..1] + t.len() + 0x1f + 0b11 + 1.5e3 + \'c\'',
    "do { break; } while false; let a = [1]; a[-1] = 5; a?[0]",
]


def test_truncated_scripts_only_raise_rhai_errors():
    engine = Engine(max_operations=10_000, timeout=2)
    for script in VALID_SCRIPTS:
        engine.eval(script)  # the whole script is valid
        for end in range(len(script)):
            try:
                engine.eval(script[:end])
            except RhaiError:
                pass


def test_random_garbage_only_raises_rhai_errors():
    rng = random.Random(20240601)
    alphabet = list("abcxyz019_ \n\t\"'`#$@!%^&*()[]{}<>=+-/\\|?.,;:~") + [
        "let ", "fn ", "if ", "else ", "while ", "loop ", "for ", " in ", "return ", "throw ",
        "try ", "catch ", "switch ", "this", "${", "=>", "..", "..=", "::", "?.", "??", "**",
        "\u2764", "\x00", "0x", "1e", "Fn(", "call(", "eval(", "import ", "break ",
    ]
    engine = Engine(max_operations=10_000, timeout=2)
    for _ in range(1500):
        script = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        try:
            engine.eval(script)
        except RhaiError as exc:
            assert "(line " in str(exc) or not exc.line, script
    assert_usable(engine)


def test_mutated_valid_scripts_only_raise_rhai_errors():
    rng = random.Random(7)
    engine = Engine(max_operations=10_000, timeout=2)
    tokens = ["(", ")", "{", "}", "[", "]", ";", ",", ".", "=", "+", "-", "!", "|", "let",
              "x", "1", '"', "'", "`", "fn", "this", "break", "return"]
    for _ in range(1000):
        script = list(rng.choice(VALID_SCRIPTS))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(script))
            if rng.random() < 0.5:
                del script[pos]
            else:
                script.insert(pos, rng.choice(tokens))
        try:
            engine.eval("".join(script))
        except RhaiError:
            pass


def test_errors_in_hostile_input_carry_positions():
    cases = {
        "let x = 1;\nlet y = x.__class__;": (2, None),
        "\n\n   1 / 0": (3, None),
        "let a = [];\n  a[7]": (2, None),
    }
    engine = Engine()
    for script, (line, _) in cases.items():
        with pytest.raises(RhaiError) as info:
            engine.eval(script)
        assert info.value.line == line
        assert f"(line {line}, position " in str(info.value)


@pytest.mark.parametrize("loop", [
    "for i in 0..{n} {{ x += 1; }}",
    "for i in range(0, {n}) {{ x += 1; }}",
    "for v in a {{ x += 1; }}",
    "let i = 0; while i < {n} {{ i += 1; x += 1; }}",
    "let i = 0; do {{ i += 1; x += 1; }} while i < {n};",
    "let i = 0; loop {{ i += 1; x += 1; if i >= {n} {{ break; }} }}",
])
def test_every_loop_iteration_counts_as_an_operation(loop):
    def script(n: int) -> str:
        return f"let a = []; a.pad({n}, 0); let x = 0; " + loop.format(n=n) + " x"

    engine = Engine(max_operations=2_000, max_array_size=10_000)
    assert engine.eval(script(1_500)) == 1_500
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval(script(5_000))


# recursion on an INT runs the INT-specialised code (checked by the caller), on a string or
# FLOAT the generic code (checked on entry): the limits must be the same for both
RECURSIVE = {
    "int": ("fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } } f(ARG)", lambda d: str(d)),
    "string": ('fn f(s) { if s == "" { 0 } else { 1 + f(s.sub_string(1)) } } f("ARG")',
               lambda d: "x" * d),
}
FIB = {
    "int": "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } fib(20)",
    "float": "fn fib(n) { if n < 2.0 { n } else { fib(n - 1.0) + fib(n - 2.0) } } fib(20.0)",
}


@pytest.mark.parametrize("kind", sorted(RECURSIVE))
def test_exactly_max_call_levels_nested_calls_are_allowed(kind):
    template, arg = RECURSIVE[kind]

    def script(depth: int) -> str:
        return template.replace("ARG", arg(depth))

    engine = Engine(max_call_levels=10)
    assert engine.eval(script(9)) == 9  # f(9) .. f(0): 10 nested calls
    with pytest.raises(LimitError, match="max_call_levels"):
        engine.eval(script(10))


@pytest.mark.parametrize("kind", sorted(FIB))
def test_every_function_call_counts_one_operation(kind):
    """fib(20) makes 21,891 calls; the script's body counts one more."""
    assert Engine(max_operations=21_892).eval(FIB[kind]) == 6765
    with pytest.raises(LimitError, match="max_operations"):
        Engine(max_operations=21_891).eval(FIB[kind])


def test_exponential_recursion_is_stopped_by_the_timeout():
    engine = Engine(max_operations=0, timeout=0.3)
    with pytest.raises(LimitError, match="timeout"):
        engine.eval(FIB["int"].replace("fib(20)", "fib(60)"))
    assert_usable(engine)


def test_loops_left_early_are_still_counted():
    engine = Engine(max_operations=5_000)
    body = "fn f() { for i in 0..1000 { if i == 900 { break; } } } "
    assert engine.eval(body + "f(); f(); 1") == 1
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval(body + "for j in 0..10 { f(); }")


# Every kind of loop, left mid-way through its counting chunk by a ``return`` or by an error
# that a ``catch`` (here or in a caller) stops: each round runs 900 iterations.
LEFT_EARLY = {
    "range, return": "fn f() {{ for i in 0..100000 {{ if i == 899 {{ return 1; }} }} }} "
                     "let n = 0; for r in 0..{rounds} {{ n += f(); }} n",
    "range, caught": "let n = 0; for r in 0..{rounds} {{ try {{ for i in 0..100000 {{ "
                     "if i == 899 {{ throw 1; }} }} }} catch {{ n += 1; }} }} n",
    "array, return": "let a = []; a.pad(2000, 0); fn f(a) {{ let k = 0; for x in a {{ "
                     "k += 1; if k == 900 {{ return 1; }} }} }} "
                     "let n = 0; for r in 0..{rounds} {{ n += f(a); }} n",
    "array, caught": "let a = []; a.pad(2000, 0); let n = 0; for r in 0..{rounds} {{ "
                     "let k = 0; try {{ for x in a {{ k += 1; if k == 900 {{ throw 1; }} }} }} "
                     "catch {{ n += 1; }} }} n",
    "while, return": "fn f() {{ let i = 0; while true {{ i += 1; if i == 900 {{ return 1; }} }} }} "
                     "let n = 0; for r in 0..{rounds} {{ n += f(); }} n",
    "loop, caught in caller": "fn f() {{ let i = 0; loop {{ i += 1; if i == 900 {{ throw 1; }} }} }} "
                              "let n = 0; for r in 0..{rounds} {{ try {{ f(); }} "
                              "catch {{ n += 1; }} }} n",
}


@pytest.mark.parametrize("kind", sorted(LEFT_EARLY))
def test_loops_left_by_return_or_a_caught_error_are_counted(kind):
    """A loop counts its iterations a chunk at a time; leaving it part-way (by ``return``,
    or by an error a ``catch`` stops) must count what it ran, or repeating that would run
    any number of iterations under max_operations."""
    def script(rounds: int) -> str:
        return LEFT_EARLY[kind].format(rounds=rounds)

    engine = Engine(max_operations=20_000, max_array_size=10_000)
    assert engine.eval(script(10)) == 10  # ~9,000 iterations
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval(script(100))  # ~90,000 iterations


@pytest.mark.parametrize("script, operations", [
    ("let s = 0; for i in 0..3000 { s += i; } s", 3001),
    ("let s = 0; for i in 0..3000 { if i == 2500 { break; } s += i; } s", 2502),
    ("let s = 0; for i in 0..=2048 { for j in 0..3 { s += j; } } s", 8197),
    ("let s = 0; for i in 0..2000 { for j in 0..2000 { if j == 5 { break; } s += 1; } "
     "if i == 1500 { break; } } s", 10508),
    ("let t = 0; for i in 0..1025 { t += 1; continue; } t", 1026),
    # ``range(...)``: INT ranges come in chunks as ``a..b`` does, stepping either way; a FLOAT
    # range, or a script's own ``range``, one value at a time
    ("let s = 0; for i in range(0, 3000, 3) { s += i; } s", 1001),
    ("let s = 0; for i in range(3000, 0, -7) { if i < 1000 { break; } s += i; } s", 288),
    ("let s = 0; for i in range(0, 3000) { if i == 2500 { break; } s += i; } s", 2502),
    ("let s = 0; for i in range(1..3000, 2) { s += i; } s", 1501),
    ("let s = 0.0; for x in range(0.0, 300.0, 0.5) { s += x; } s", 601),
    ("fn range(a, b) { [a, b, a + b] } let s = 0; for i in range(1, 2) { s += i; } s", 5),
    # ranges of INT literals of one chunk at most: one loop counted when it ends or is left
    ("let s = 0; for i in 0..300 { for j in 0..=9 { if j == 6 { break; } s += j; } } s", 2401),
    ("let s = 0; for i in 0..300 { for j in 0..10 { if j % 3 == 0 { continue; } s += j; } } s",
     3301),
    ("fn f() { for j in 0..10 { if j == 7 { return j; } } 0 } let s = 0; "
     "for i in 0..300 { s += f(); } s", 3001),
    ("let s = 0; for i in 0..300 { try { for j in 0..10 { if j == 4 { throw 1; } } } "
     "catch { s += 1; } } s", 1801),
    ("let s = 0; for i in 0..300 { for j in -5..-1 { s += j; } for k in 5..2 { s += 100; } } s",
     1501),
    ("let s = 0; for i in 0..300 { for j in 0..10 { j = 0; s += 1; } } s", 3301),
])
def test_range_loops_count_every_iteration(script, operations):
    """One operation per iteration (and one for the script), whether the loop runs to its end
    or a ``break`` leaves it part-way through a chunk of its range. (The counts are the
    engine's before ``for x in range(...)`` was chunked, when each iteration counted itself.)"""
    assert Engine(max_operations=operations).eval(script) is not None
    with pytest.raises(LimitError, match="max_operations"):
        Engine(max_operations=operations - 1).eval(script)


def test_user_text_never_appears_in_the_generated_python():
    script = ('let note = "__import__(\'os\').system(\'id\')\\"; x"; '
              'let m = #{"evil key\\n": 1}; m["a\' + b"] = 2; '
              "fn weird_name_1(p) { p } `${note}`.len() + weird_name_1(1)")
    compiled = Engine().compile(script)
    source = compiled.python_source
    for fragment in ("__import__", "system", "evil key", "a' + b"):
        assert fragment not in source
    assert Engine().eval(compiled) == len("__import__('os').system('id')\"; x") + 1


# ---- sizes are counted the way Rhai counts them (src/eval/data_check.rs) -------------------
@pytest.mark.parametrize("script, limit, allowed, name", [
    # an array counts its elements plus those of every nested array
    ("[[1, 2], [3]]", "max_array_size", 5, "max_array_size"),
    ("let a = [1, 2]; let b = [a, a]; b", "max_array_size", 6, "max_array_size"),
    # a blob inside an array counts 1 + its length, besides being an element
    ("let b = blob(3); [b]", "max_array_size", 5, "max_array_size"),  # 1 + (1 + 3)
    # a map counts its entries plus those of every nested map (also inside arrays)
    ("#{a: #{b: 1, c: 2}}", "max_map_size", 3, "max_map_size"),
    ("[#{a: 1}, #{b: 2, c: 3}]", "max_map_size", 3, "max_map_size"),
    # strings count their UTF-8 bytes, summed over every string inside the value
    ('["abc", "déf"]', "max_string_size", 7, "max_string_size"),
    ('#{a: ["xy", #{b: "zw"}]}', "max_string_size", 4, "max_string_size"),
])
def test_sizes_are_counted_recursively(script, limit, allowed, name):
    assert Engine(**{limit: allowed}).eval(script) is not None
    with pytest.raises(LimitError) as info:
        Engine(**{limit: allowed - 1}).eval(script)
    assert info.value.limit == name
    assert name in str(info.value)


@pytest.mark.parametrize("script", [
    "let a = []; a.push([1, 2, 3]); a.push([4, 5, 6]); a",   # push of nested arrays
    "let a = [[1, 2, 3]]; a += [[4, 5, 6]]; a",              # += of nested arrays
    "let a = [[1, 2, 3], 0]; a[1] = [4, 5, 6, 7]; a + []",  # a store, then any combination
    "let a = []; a.pad(2, [1, 2, 3]); a",                    # pad is checked before it copies
    "[1, 2].map(|x| [x, x, x, x])",                          # collected callback results
])
def test_grown_arrays_count_their_nested_elements(script):
    with pytest.raises(LimitError, match="max_array_size"):
        Engine(max_array_size=7).eval(script)


def test_conversions_to_string_are_size_checked():
    printed = []
    engine = Engine(max_string_size=30, on_print=printed.append, on_debug=printed.append)
    for conversion in ("a.to_string()", "a.to_debug()", "print(a)", "debug(a)",
                       '"" + a', "`${a}`", "#{x: a}.to_json()"):
        script = 'let s = "abcdefghijkl"; let a = [s, s]; ' + conversion  # 24 bytes, 32+ shown
        with pytest.raises(LimitError, match="max_string_size"):
            engine.eval(script)
    assert printed == []


# ---- compiling is limited: source size, AST size (tokens), functions ----------------------
COMPILE_BOMBS = {  # limit: (the script, the same built at run time and passed to eval)
    "max_script_size": ("// " + "x" * 20_000,
                        'let s = ""; s.pad(20000, "x"); eval("// " + s)'),
    "max_ast_size": ("let x = 1;\n" * 300,
                     'let s = ""; for i in 0..300 { s += "let x = 1; "; } eval(s)'),
    "max_functions": ("".join(f"fn f{i}() {{ {i} }}\n" for i in range(20)),
                      'let s = ""; for i in 0..20 { s += `fn f${i}() { ${i} }\n`; } eval(s)'),
}


@pytest.mark.parametrize("limit", sorted(COMPILE_BOMBS))
def test_compile_limits_apply_to_scripts_and_eval_strings(limit):
    limits = {"max_script_size": 10_000, "max_ast_size": 1000, "max_functions": 10}
    engine = Engine(**limits)
    for source in COMPILE_BOMBS[limit]:
        with pytest.raises(LimitError) as info:
            engine.eval(source)
        assert info.value.limit == limit and limit in str(info.value)
    direct = COMPILE_BOMBS[limit][0]
    assert Engine(**{**limits, limit: 0}).compile(direct) is not None  # 0 = unlimited
    assert_usable(engine)


def test_closures_count_as_functions():
    closures = "let fs = [" + ", ".join(f"|| {i}" for i in range(11)) + "]; fs.len()"
    with pytest.raises(LimitError, match="max_functions"):
        Engine(max_functions=10).eval(closures)
    assert Engine(max_functions=11).eval(closures) == 11


# ---- host inputs: bad values are RhaiErrors (or a ValueError at the API boundary) ---------
def cyclic_list() -> list:
    a: list = [1]
    a.append(a)
    return a


def cyclic_dict() -> dict:
    d: dict = {"a": 1}
    d["self"] = {"inner": [d]}
    return d


def deeply_nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value, message", [
    (cyclic_list(), "contains itself"),
    (cyclic_dict(), "contains itself"),
    (deeply_nested(100_000), "nested more than"),
    ({1: "x"}, "Map keys must be strings"),
    (object(), "Unsupported"),
    (2 ** 70, "too large"),
])
def test_bad_scope_values_and_host_results_are_eval_errors(value, message):
    engine = Engine()
    with pytest.raises(EvalError, match=message):
        engine.eval("x", scope={"x": value})
    engine.register_fn("give", lambda: value)
    with pytest.raises(EvalError, match=message):
        engine.eval("give()")
    assert_usable(engine)


def test_shared_but_acyclic_scope_values_are_accepted():
    shared = [1, 2]
    assert Engine().eval("x.len()", scope={"x": [shared, shared, {"a": shared}]}) == 3


def test_scope_must_be_a_dict():
    with pytest.raises(ValueError, match="scope must be a dict"):
        Engine().eval("1", scope=[("x", 1)])


def test_a_host_function_out_of_memory_is_the_memory_limit():
    def exhausted() -> None:
        raise MemoryError()

    engine = Engine()
    engine.register_fn("exhausted", exhausted)
    with pytest.raises(LimitError) as info:
        engine.eval("let x = 1;\nexhausted()")
    assert info.value.limit == "memory" and "max_memory_mb" in str(info.value)
    assert (info.value.line, info.value.position) == (2, 1)
    assert_usable(engine)


@pytest.mark.parametrize("script, position", [   # positions as the Rhai oracle reports them
    ("let x = ²;", 9),
    ("let x = 1²;", 10),
    ("let é = 1;", 5),
    ("let x = 1; x€", 13),
    ("let x = ٣;", 9),
])
def test_characters_outside_the_grammar_are_parse_errors_with_positions(script, position):
    with pytest.raises(ParseError) as info:
        Engine().eval(script)
    assert (info.value.line, info.value.position) == (1, position)
    assert "Unexpected" in info.value.message


def test_one_deadline_can_cover_compiling_and_running():
    import time

    engine = Engine(timeout=5)
    deadline = time.monotonic() + 5
    compiled = engine.compile("let x = 40; x + 2", deadline=deadline)
    assert engine.eval(compiled, deadline=deadline) == 42
    passed = time.monotonic() - 1  # a deadline already over: nothing more may run
    with pytest.raises(LimitError, match="timeout"):
        engine.compile("let x = 1;\n" * 2000, deadline=passed)
    with pytest.raises(LimitError, match="timeout"):
        engine.eval(compiled, deadline=passed)
    assert_usable(engine)


def test_oversized_host_values_fail_before_they_are_formatted():
    text = "x" * 1000
    printed = []
    engine = Engine(max_string_size=5000, on_print=printed.append)
    for conversion in ("big.to_string()", "big.to_debug()", "print(big)", "`${big}`",
                       "#{b: big}.to_json()"):
        with pytest.raises(LimitError, match="max_string_size"):
            engine.eval(conversion, scope={"big": [text] * 10})  # 10,000 bytes inside
    assert printed == []
