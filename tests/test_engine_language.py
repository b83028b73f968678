"""The Rhai language as the engine runs it: literals, scoping, control flow, functions,
closures, function pointers, integer semantics and error reporting."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worker.engine import Engine, EvalError, ParseError, RhaiError, ThrownError, to_display
from worker.engine.engine import compile_failure


REPO_ROOT = Path(__file__).resolve().parent.parent


def run(script: str, **kwargs):
    return Engine(**kwargs).eval(script)


@pytest.mark.parametrize("script, expected", [
    ("42", 42),
    ("0x1F", 31),
    ("0o17", 15),
    ("0b1010_1010", 170),
    ("1_000_000", 1_000_000),
    ("0xffffffffffffffff", -1),
    ("-9223372036854775808", -(1 << 63)),
    ("3.5e2", 350.0),
    ("1.5E-1", 0.15),
    ("2.;", 2.0),
    ('"tab\\there"', "tab\there"),
    ('"\\u2764\\x41"', "\u2764A"),
    ('"line \\\n     continued"', "line continued"),
    ('#"raw \\n "quoted""#', 'raw \\n "quoted"'),
    ("'x'", "x"),
    ("true", True),
    ("()", None),
    ("[1, 'a', \"b\", [2]]", [1, "a", "b", [2]]),
    ("#{b: 1, a: 2}", {"a": 2, "b": 1}),
    ("let x = 6; `x*7 = ${x * 7}!`", "x*7 = 42!"),
    ("`a${`b${1 + 1}`}c`", "ab2c"),
])
def test_literals(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, expected", [
    ("-9223372036854775808.0", -9223372036854775808.0),
    ("-9223372036854775808.0 * 2", -1.8446744073709552e19),
    ("-9_223_372_036_854_775_808", -(1 << 63)),
    ("9223372036854775808", 9.223372036854775808e18),
    ("- 9223372036854775808", -9.223372036854775808e18),
    ("let x = 5; x-9223372036854775808", -9.223372036854775808e18),
    ("99999999999999999999", 1e20),
])
def test_negative_literals_keep_their_type(script, expected):
    """Only the INT literal 2^63 may follow a minus sign as i64's minimum; the FLOAT with the
    same value stays a FLOAT (Python's ``2.0**63 == 2**63`` must not decide the type)."""
    value = run(script)
    assert (type(value), value) == (type(expected), expected)


@pytest.mark.parametrize("script, message, col", [
    ("-0x1", "Invalid number: 'x1'", 1),
    ("-0X1F", "Invalid number: 'X1F'", 1),
    ("[-0b1_01]", "Invalid number: 'b101'", 2),
    ("let x = 2; x*-0o17", "Invalid number: 'o17'", 14),
    ("-0x_1.abs()", "Invalid number: 'x1'", 1),
])
def test_a_minus_joined_to_a_radix_number_is_a_malformed_number(script, message, col):
    """Rhai's tokenizer reads a minus joined to a number, where an operand is expected, as part
    of the number and then parses the text after the ``-0``: a hexadecimal, octal or binary
    number cannot be written negative (src/tokenizer.rs, ``negated``). Values from rhai-oracle."""
    with pytest.raises(ParseError) as info:
        run(script)
    assert (info.value.kind, info.value.message, info.value.line, info.value.position) == \
        ("MalformedNumber", message, 1, col)


@pytest.mark.parametrize("script, expected", [
    ("- 0x1", -1), ("-(0x1)", -1), ("let a = 5; a -0x1", 4), ("let a = 5; a-0b11", 2),
])
def test_a_radix_number_after_a_separate_or_binary_minus(script, expected):
    assert run(script) == expected


def test_result_types_are_plain_python():
    result = run("[1, 2.0, 'c', \"s\", (), true, #{k: blob(2, 7)}]")
    assert [type(v) for v in result] == [int, float, str, str, type(None), bool, dict]
    assert type(result[2]) is str  # a char comes back as a plain str
    assert result[6] == {"k": b"\x07\x07"} and type(result[6]["k"]) is bytes


def test_object_maps_are_ordered_by_key():
    assert list(run("let m = #{zeta: 1, alpha: 2}; m.mid = 3; m")) == ["alpha", "mid", "zeta"]


@pytest.mark.parametrize("script, expected", [
    ("let x = 1; { let x = 2; } x", 1),
    ("let x = 1; let x = x + 1; x", 2),
    ("let x = 1; { x = 5; } x", 5),
    ("let v = { let a = 2; a * 3 }; v", 6),
    ("const K = 7; K * 6", 42),
    ("let x; x", None),
    ("let s = 0; for i in 0..5 { let i = 10; s += i; } s", 50),
])
def test_scoping(script, expected):
    assert run(script) == expected


def test_assigning_to_a_constant_is_a_parse_error():
    with pytest.raises(ParseError) as info:
        run("const x = 1; x = 2;")
    assert info.value.kind == "AssignmentToConstant"


@pytest.mark.parametrize("script, expected", [
    ("if 1 > 2 { 'a' } else if 2 > 1 { 'b' } else { 'c' }", "b"),
    ("let x = if false { 1 }; x", None),
    ("let n = 0; while n < 10 { n += 3; } n", 12),
    ("let n = 0; do { n += 1; } while n < 5; n", 5),
    ("let n = 0; do { n += 1; } until n >= 7; n", 7),
    ("let n = 0; do { n += 1; if n < 3 { continue; } } while n < 5; n", 5),
    ("let i = 0; loop { i += 1; if i == 4 { break; } } i", 4),
    ("loop { break 99; }", 99),
    ("let s = 0; for x in [1, 2, 3] { s += x; } s", 6),
    ("let s = 0; for x in 1..=4 { s += x; } s", 10),
    ("let s = []; for x in range(10, 0, -3) { s.push(x); } s", [10, 7, 4, 1]),
    ("let s = 0; for (x, i) in [5, 6] { s += x * i; } s", 6),
    ("let s = \"\"; for c in \"abc\" { s = c + s; } s", "cba"),
    ("let r = for x in 0..10 { if x * x > 20 { break x; } }; r", 5),
    ('switch 3 { 1 | 2 => "low", 3..=5 => "mid", _ => "high" }', "mid"),
    ('switch 8 { 1 | 2 => "low", 3..=5 => "mid", _ => "high" }', "high"),
    ('let x = 4; switch x { 4 if x > 9 => "guarded", 4 => "plain", _ => "none" }', "plain"),
    ("switch \"b\" { \"a\" => 1, \"b\" => 2 }", 2),
    # a case's action is a statement (src/parser.rs parse_switch): assignments and lets give ()
    ("let s = 0; for i in 0..3 { switch i { 0 => s += 10, _ => s += i } } s", 13),
    ("let s = 0; let r = switch 1 { 1 => s = 5, _ => 0 }; [s, r]", [5, None]),
    ("let y = 1; switch 1 { 1 => let y = 2, _ => 0 }; y", 1),
    ("let a = [1]; switch 1 { 1 => a[0] = 5 } a", [5]),
    ("let s = 0; switch 1 { 1 => { s += 1 } _ => 2 } s", 1),
])
def test_control_flow(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script", [
    "switch 1 { 1 => #{a: 1} _ => 2 }",
    "switch 1 { 1 => let y = 2; }",
    "switch 1 { 1 => do {} while false _ => 2 }",
])
def test_switch_cases_not_ending_in_a_block_need_a_comma(script):
    """Only a case whose statement ends in a block (``if``, ``{}``, loops) may omit the comma:
    a map literal's closing brace does not count."""
    with pytest.raises(ParseError, match="Expecting ',' to separate the items in this switch"):
        run(script)


@pytest.mark.parametrize("script, expected", [
    ("fn add(a, b) { a + b } add(40, 2)", 42),
    ("fn f() { 1 } fn f(x) { x } fn f(x, y) { x * y } f() + f(10) + f(3, 4)", 23),
    ('fn early(x) { if x > 0 { return "pos"; } "non-pos" } early(5) + early(-1)', "posnon-pos"),
    ("fn fact(n) { if n <= 1 { 1 } else { n * fact(n - 1) } } fact(20)", 2432902008176640000),
    ("fn inc() { this += 1; } let x = 41; x.inc(); x", 42),
    ("fn push_twice(v) { this.push(v); this.push(v); } let a = []; a.push_twice(3); a", [3, 3]),
    ("fn mutate(a) { a.push(1); a.len() } let a = []; mutate(a); a", []),
    ("let a = [1]; let b = a; b.push(2); a", [1]),
    ("let a = [1]; push(a, 2); a", [1, 2]),
    ("let a = [[1]]; a[0].push(2); a", [[1, 2]]),
    ("let m = #{list: []}; m.list.push(1); m.list += 2; m", {"list": [1, 2]}),
    ("fn f(x) { x } is_def_fn(\"f\", 1) && !is_def_fn(\"f\", 2)", True),
    ("let v = 1; is_def_var(\"v\") && !is_def_var(\"w\")", True),
    ("type_of(1) + type_of(1.0) + type_of('c') + type_of(\"s\") + type_of([]) + type_of(#{})",
     "i64f64charstringarraymap"),
    ("let s = \"hello\"; s.len() == len(s) && s.len == 5", True),
])
def test_functions(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, expected", [
    # a function's INT version is made for the direct INT calls that reach it: from a closure,
    # from another INT version (also one defined later), alongside dynamic calls
    ("fn sq(x) { x * x } let f = |n| sq(n) + 1; f.call(6)", 37),
    ("fn even(n) { if n == 0 { true } else { odd(n - 1) } } "
     "fn odd(n) { if n == 0 { false } else { even(n - 1) } } even(10)", True),
    ('fn h(x) { x + 1 } h(1) + call(Fn("h"), 1) + h("a").len()', 6),
    ("fn g(x) { x + 1 } let y = g!(2); y * 2", 6),
    ('fn s(x) { if x > 0 { "p" } else { 0 } } fn t(x) { s(x) } t(1) + t(0)', "p0"),
    ("fn a(x) { b(x) } fn b(x) { x * 2 } a(4) + a(4.5)", 17.0),
])
def test_int_versions_of_functions(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, expected", [
    ("let add = |a, b| a + b; add.call(40, 2)", 42),
    ("let k = 10; let f = |x| x + k; k = 20; f.call(1)", 21),
    ("let n = 0; let inc = || n += 1; inc.call(); inc.call(); n", 2),
    ("fn double(x) { x * 2 } let f = Fn(\"double\"); f.call(21)", 42),
    ("fn mul(a, b) { a * b } let f = Fn(\"mul\").curry(6); call(f, 7)", 42),
    ("let f = |x| x * 3; f.call(5)", 15),
    ("[1, 2, 3].map(|x| x * x)", [1, 4, 9]),
    ("[1, 2, 3, 4].filter(|x| x % 2 == 0)", [2, 4]),
    ("fn is_big(x) { x > 2 } [1, 2, 3, 4].filter(Fn(\"is_big\"))", [3, 4]),
    ("let obj = #{v: 1, get: || this.v * 10}; obj.get()", 10),
    ("type_of(|x| x)", "Fn"),
])
def test_closures_and_function_pointers(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, expected", [
    ("7 / 2", 3), ("-7 / 2", -3), ("7 % -3", 1), ("-7 % 3", -1),
    ("2 ** 10", 1024), ("2 ** 3 ** 2", 512), ("1 << 62", 1 << 62), ("-16 >> 2", -4),
    ("5 & 3 | 8 ^ 1", 8), ("1 + 2 * 3 - 4 / 2", 5), ("-2.0 ** 2", 4.0),
    ("7 / 2.0", 3.5), ("1 + 0.5", 1.5), ("42 == 42.0", True), ("1 == true", False),
    ("\"a\" < \"b\"", True), ("'x' == \"x\"", True), ("\"n=\" + 5", "n=5"),
    ("'a' + 'b'", "ab"), ("[1] + [2]", [1, 2]), ("3 in [1, 2, 3]", True),
    ("\"ell\" in \"hello\"", True), ("'z' !in \"hello\"", True), ("\"k\" in #{k: 1}", True),
    ("5 in 1..5", False), ("5 in 1..=5", True), ("() ?? 7", 7), ("3 ?? 7", 3),
    ("let x = 10; x[1]", True), ("let x = 10; x[1..=3]", 5),
    ("let x = 0; x[63] = true; x < 0", True), ("let a = [1, 2, 3]; a[-1]", 3),
    ("\"hello\"[1..3]", "el"), ("let m = #{a: #{b: 1}}; m.a.b = 5; m.a.b", 5),
    ("let x = (); x?.foo?.bar", None), ("let x = #{a: 1}; x?.a", 1),
    ("let x = 5; x += 1; x -= 2; x *= 3; x /= 2; x %= 4; x **= 3; x", 8),
    ("let s = \"a\"; s += 'b'; s += 1; s", "ab1"),
])
def test_operators(script, expected):
    result = run(script)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("script, expected", [
    # range(from, to, step): a direction only when the first step moves towards ``to``
    ("let a = []; for x in range(5.0, 1.0, -1.5) { a.push(x); } a", [5.0, 3.5, 2.0]),
    ("let a = []; for x in range(1.0, 2.0, 1.0 / 0.0) { a.push(x); } a", [1.0]),
    ("let a = []; for x in range(5.0, 1.0, 0.0 / 0.0) { a.push(x); } a", []),
    ("let a = []; for x in range(1.0, 5.0, 0.0 / 0.0) { a.push(x); } a", []),
    ("let a = []; for x in range(1.0, 5.0, -1.0) { a.push(x); } a", []),
    ("let a = []; for x in range(0..10, 3) { a.push(x); } a", [0, 3, 6, 9]),
    # an INT value whose next step would overflow i64 ends the range, up or down
    ("let a = []; for x in range(9223372036854775800, 9223372036854775807, 3) { a.push(x); } a",
     [9223372036854775800, 9223372036854775803]),
    ("let a = []; for x in range(-9223372036854775800, -9223372036854775808, -3) { a.push(x); } "
     "a", [-9223372036854775800, -9223372036854775803]),
    # a script's own ``range`` is the one a ``for`` loop calls
    ('fn range(a, b) { ["x", a] } let a = []; for x in range(1, 2) { a.push(x); } a', ["x", 1]),
])
def test_stepped_ranges(script, expected):
    assert run(script) == expected


def test_loop_variable_of_an_int_range_keeps_i64_overflow_checks():
    with pytest.raises(EvalError, match="Addition overflow: 9223372036854775800 \\+ 10"):
        run("let s = 0; for i in range(9223372036854775800, 9223372036854775807, 3) "
            "{ s = i + 10; } s")


def test_a_range_error_in_a_for_loop_has_the_position_of_the_call():
    """As Rhai reports it: the ``range`` call, not the ``for`` keyword."""
    with pytest.raises(EvalError) as caught:
        run("let s = 0; for i in range(0, 10, 0) { s += i; } s")
    assert (caught.value.line, caught.value.position) == (1, 21)


@pytest.mark.parametrize("script, message", [
    # Rhai's range overloads take three INTs or three FLOATs, never a mix
    ("range(1, 3.0, 1)", "Function not found: range (i64, f64, i64)"),
    ("range(1.0, 3.0, 1)", "Function not found: range (f64, f64, i64)"),
    ("range(1, 3, 1.0)", "Function not found: range (i64, i64, f64)"),
    ("range(1.0, 3.0)", "Function not found: range (f64, f64)"),
    # a step that does not move the start (zero, or too small for a FLOAT) is an error
    ("range(1, 5, 0)", "step value cannot be zero\nin call to function 'range'"),
    ("range(1e10, 2e10, 1e-300)", "step value cannot be zero\nin call to function 'range'"),
])
def test_stepped_range_errors(script, message):
    with pytest.raises(EvalError) as caught:
        run(script)
    assert caught.value.message == message


@pytest.mark.parametrize("script, expected", [
    # a break leaves the innermost loop around it, wherever it is in that loop's body
    ("let s = 0; for i in 0..10 { for j in 0..10 { if j == 2 { break; } s += 1; } } s", 20),
    ("let s = 0; for i in 0..10 { for j in 0..3 { s += 1; } if i == 4 { break; } } s", 15),
    ("let s = 0; for i in 0..10 { switch i { 5 => break, _ => { s += i; } } } s", 10),
    ("let s = 0; for i in 0..10 { try { if i == 3 { break; } } catch {} s += i; } s", 3),
    ("let s = 0; for i in 0..10 { let v = loop { break i * 2; }; if v > 6 { break; } "
     "s += v; } s", 12),
    ("let s = 0; for i in 0..10 { let t = `${if i == 3 { break } else { i }}`; s += i; } s", 3),
])
def test_break_in_range_loops(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, expected", [
    # indexing a value of unknown type: the inline path for arrays decides literal indexes
    # at compile time; negative and out-of-range indexes keep Rhai's meaning
    ("fn f(a) { a[0] + a[2] } f([1, 2, 3])", 4),
    ("fn f(a) { a[-1] * 10 + a[-3] } f([1, 2, 3])", 31),
    ("fn f(a, i) { a[i] } f([1, 2, 3], -2)", 2),
    ("fn f(a, i) { let b = a; b[i - 1] } f([4, 5], 0)", 5),
    ('fn f(m, i) { m[0][i + 1] } f(["abc"], 0)', "b"),
    ('fn f(a) { a[0] + a[-1] } f("xyz")', "xz"),
])
def test_indexing_values_of_unknown_type(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("script, index", [
    ("fn f(a) { a[3] } f([1, 2, 3])", 3),
    ("fn f(a) { a[-4] } f([1, 2, 3])", -4),
    ("fn f(a, i) { a[i] } f([1, 2, 3], -4)", -4),
])
def test_indexes_out_of_bounds_of_arrays_of_unknown_type(script, index):
    with pytest.raises(EvalError) as info:
        run(script)
    assert str(info.value).startswith(f"Array index {index} out of bounds: only 3 elements")
    assert info.value.inner.kind == "ErrorArrayBounds"


@pytest.mark.parametrize("script", [
    "9223372036854775807 + 1", "-9223372036854775807 - 2", "4611686018427387904 * 2",
    "1 / 0", "1 % 0", "2 ** -1", "-9223372036854775808 / -1",
    "let x = 9223372036854775807; x += 1;",
    "fn f(n) { n * 3037000500 } f(3037000500)",
])
def test_integer_overflow_and_division_by_zero_are_arithmetic_errors(script):
    with pytest.raises(EvalError) as info:
        run(script)
    assert (info.value.inner or info.value).kind == "ErrorArithmetic"


@pytest.mark.parametrize("script, expected", [
    ("let r; try { throw 42; } catch (e) { r = e + 1 } r", 43),
    ("let r; try { throw #{code: 7}; } catch (e) { r = e.code } r", 7),
    ("let r; try { 1 / 0; } catch (e) { r = type_of(e) } r", "map"),
    ("let r; try { 1 / 0; } catch (e) { r = e.message } r", "Division by zero: 1 / 0"),
    ("let r; try { 1 / 0; } catch (e) { r = e.error } r", "ErrorArithmetic"),
    ("let r; try {\n [1][5] } catch (e) { r = e } r",
     {"error": "ErrorArrayBounds", "index": 5, "length": 1, "line": 2, "position": 6,
      "message": "Array index 5 out of bounds: only 1 element in array"}),
    ("fn f() { throw \"inner\"; } let r; try { f(); 1 } catch (e) { r = e } r", "inner"),
    ("try { 5 } catch { 0 }", None),  # a statement: its value is ()
])
def test_try_catch(script, expected):
    assert run(script) == expected


def test_uncaught_throw_carries_the_value_and_position():
    with pytest.raises(ThrownError) as info:
        run("let x = 1;\n  throw \"boom\" + x;")
    assert info.value.value == "boom1"
    assert (info.value.line, info.value.position) == (2, 3)
    assert "(line 2, position 3)" in str(info.value)


@pytest.mark.parametrize("script, kind", [
    ("let x = ;", "BadInput"),
    ("fn f(a, a) { a }", "FnDuplicatedParam"),
    ("fn f() {} fn f() {}", "FnDuplicatedDefinition"),
    ("break;", "LoopBreak"),
    ("(1 + 2) = 3;", "AssignmentToInvalidLHS"),
    ("[1, 2][\"x\"]", "MalformedIndexExpr"),
    ("\"unterminated", "UnterminatedString"),
    ("let x = 1 +", "UnexpectedEOF"),
    ("fn print() {}", "Reserved"),
    ("if 1 { 2 }", "MismatchedType"),
    ("let _x = 1;", "MalformedIdentifier"),
])
def test_parse_errors_have_kinds_and_positions(script, kind):
    """Parse errors and their ParseErrorType names, as Rhai's parser reports them."""
    with pytest.raises(ParseError) as info:
        run(script)
    assert info.value.kind == kind
    assert info.value.line >= 1 and info.value.position >= 1
    assert "(line " in str(info.value)


@pytest.mark.parametrize("script, kind, line", [
    ("let a = [1];\nlet b = a[5];", "ErrorArrayBounds", 2),
    ("let x = 1;\n\n  x.no_such_fn()", "ErrorFunctionNotFound", 3),
    ("undefined_var + 1", "ErrorVariableNotFound", 1),
    ("let c = 1; if c { 2 }", "ErrorMismatchDataType", 1),
    ("let s = \"ab\"; s[9]", "ErrorStringBounds", 1),
    ("const a = [1]; a[0] = 2;", "ErrorAssignmentToConstant", 1),
    ("let t = true; let one = 1; t && one", "ErrorMismatchDataType", 1),
])
def test_runtime_errors_have_kinds_and_positions(script, kind, line):
    with pytest.raises(EvalError) as info:
        run(script)
    assert info.value.kind == kind
    assert info.value.line == line
    assert f"(line {line}, position" in str(info.value)


def test_print_and_debug_are_captured():
    printed, debugged = [], []
    engine = Engine(on_print=printed.append, on_debug=debugged.append)
    engine.eval('print("hi"); print(42); print([1, "a"]); debug("q"); debug(\'c\')')
    assert printed == ["hi", "42", '[1, "a"]']
    assert debugged == ['"q"', "c"]  # Rhai's debug_char writes the char bare


def test_print_forms_follow_rhai_display_and_debug():
    """Forms checked with the real Rhai (src/packages/string_basic.rs, src/types/float.rs)."""
    printed = []
    engine = Engine(on_print=printed.append)
    engine.eval('print(()); print(); print(`${()}x`); print(1e-7); print(1e15); print(-0.0); '
                'print([1e-7, -0.0, "a\\tb", \'c\']); print(blob(10, 1)); '
                'print(to_debug("a\\"b\\n")); print(#{"a b": 0.000052})')
    assert printed == ["", "", "x", "0.0000001", "1e15", "0.0", '[1e-7, -0.0, "a\\tb", c]',
                       "[0101010101010101 0101]", '"a\\"b\\n"', '#{"a b": 5.2e-5}']


def test_scope_injects_values():
    engine = Engine()
    result = engine.eval("name + \": \" + data.items.len() + \" \" + raw.len()",
                         scope={"name": "n", "data": {"items": (1, 2, 3)}, "raw": b"xy"})
    assert result == "n: 3 2"


def test_compiled_scripts_are_reusable_and_isolated():
    engine = Engine()
    compiled = engine.compile("let total = base; for i in 0..3 { total += i; } total")
    assert engine.eval(compiled, scope={"base": 10}) == 13
    assert engine.eval(compiled, scope={"base": 100}) == 103
    assert engine.run(compiled, scope={"base": 0}) == 3


def test_host_functions_get_plain_values_and_errors_become_eval_errors():
    engine = Engine()
    store: dict = {}
    engine.register_fn("db_set", lambda k, v: store.__setitem__(k, v))
    engine.register_fn("db_get", lambda k: store.get(k))
    engine.register_fn("explode", lambda: 1 / 0)
    assert engine.eval('db_set("k", [1, \'c\', blob(1)]); db_get("k")') == [1, "c", b"\x00"]
    assert store == {"k": [1, "c", b"\x00"]}
    with pytest.raises(EvalError) as info:
        engine.eval("let x = 1;\nexplode()")
    assert "explode" in str(info.value) and info.value.line == 2


def test_host_function_returning_a_python_object_is_refused():
    engine = Engine()
    engine.register_fn("leak", lambda: object())
    with pytest.raises(EvalError, match="Unsupported"):
        engine.eval("leak()")


def test_eval_runs_in_the_callers_scope():
    """Rhai's eval (values checked with the real Rhai): it reads and changes the caller's
    variables, and what it declares stays in the caller's block."""
    assert run("let x = 40; eval(\"x + 2\")") == 42
    assert run("let x = 1; eval(\"x = 5\"); x") == 5
    assert run("eval(\"let z = 3\"); z") == 3
    assert run("eval(\"let z = 3\"); z += 1; z") == 4
    assert run("let x = 1; eval(\"let x = 5;\"); x") == 5
    assert run("let x = 1; { { eval(\"let x = 5;\"); } } x") == 1
    assert run("fn f() { let a = [1]; eval(\"a.push(2)\"); a } f()") == [1, 2]
    assert run("let i = 0; while i < 3 { eval(\"i += 1\") } i") == 3


def test_to_display_renders_results_like_print():
    assert to_display([1, "a", 2.0, None, True]) == '[1, "a", 2.0, (), true]'
    assert to_display("plain") == "plain"
    assert to_display({"k": b"\x01"}) == '#{"k": [01]}'


def test_every_error_is_a_rhai_error():
    for script in ("1 +", "x", "[1][2]", "throw 1", "1 / 0"):
        with pytest.raises(RhaiError):
            run(script)


@pytest.mark.parametrize("script, position", [
    ("let x = 1;\nlet y = x + missing;", (2, 13)),
    ("let a = 1;\n  print(a.nope(1))", (2, 11)),
    ("let v = 5;\nv.zzz", (2, 3)),
    ("1 + 2 / 0", (1, 7)),
])
def test_runtime_error_positions_point_at_the_failing_expression(script, position):
    with pytest.raises(EvalError) as info:
        run(script)
    assert (info.value.line, info.value.position) == position


def test_a_script_compiled_by_another_engine_runs_under_this_engines_limits():
    compiled = Engine().compile("fn down(n) { down(n + 1) } down(0)")
    with pytest.raises(RhaiError, match="max_call_levels") as info:
        Engine(max_call_levels=5).eval(compiled)
    assert "more than 5" in str(info.value)


@pytest.mark.parametrize("script, expected", [
    ("fn bump(n) { x += n; x } let x = 40; bump!(1) + x", 82),
    ("fn peek() { let y = 1; x + y } let x = 41; let y = 0; peek!() + y", 42),
    ("const LIMIT = 7; fn lim() { global::LIMIT * 6 } lim()", 42),
    ("let fs = []; for i in 0..3 { fs.push(|| i); } fs.map(|f| f.call())", [2, 2, 2]),
    ("let s = \"  pad  \"; s.trim(); s", "pad"),
    ("let s = \"abc\"; s.to_upper()", "ABC"),
    ("let m = #{n: 1, inc: || this.n += 1}; m.inc(); m.inc(); m.n", 3),
    ("let x = 5; let r = switch x { 1..=3 => 1, 4..=6 => 2, _ => 3 }; r", 2),
])
def test_more_rhai_semantics(script, expected):
    assert run(script) == expected


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "worker.engine", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_runs_a_script_and_prints_output_and_result(tmp_path):
    script = tmp_path / "hello.rhai"
    script.write_text('print("hello"); [1, 2].len() * 21\n')
    done = run_cli(str(script))
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["hello", "42"]
    done = run_cli("-e", "`sum=${1 + 2}`")
    assert (done.returncode, done.stdout) == (0, "sum=3\n")


def test_cli_reports_errors_without_a_traceback(tmp_path):
    done = run_cli("-e", "let x = 1;\nx / 0")
    assert done.returncode == 1
    assert "Division by zero" in done.stderr and "(line 2, position 3)" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli(str(tmp_path / "missing.rhai"))
    assert done.returncode == 1 and "cannot read" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("script", [
    "let n = 5; if n > 0 { n = -9223372036854775808; n - 1 }",
    "let n = 5; let f = || { n = -9223372036854775808; }; if n > 0 { f.call(); n - 1 }",
    "let n = 5; let f = || 0; let i = 0; loop { i += 1; if i > 2 { break; } "
    "if n > 0 { f.call(); let r = n - 1; } f = || { n = -9223372036854775808; 0 }; }",
    "fn f(n) { if n > 0 { n * 2 } else { n - 1 } } f(-9223372036854775808)",
    "fn f(n) { if n < 9223372036854775807 { n + 1 } else { n + 1 } } f(9223372036854775807)",
])
def test_overflow_is_caught_even_where_if_conditions_bound_a_variable(script):
    with pytest.raises(EvalError) as info:
        run(script)
    assert (info.value.inner or info.value).kind == "ErrorArithmetic"


@pytest.mark.parametrize("script, expected", [
    ("fn f(n) { if n >= -9223372036854775807 { n - 1 } else { 0 } } f(-9223372036854775807)",
     -(1 << 63)),
    ("fn f(n) { if n < 9223372036854775807 { n + 1 } else { 0 } } f(9223372036854775806)",
     (1 << 63) - 1),
    ("fn fib(n) { if 2 > n { n } else { fib(n - 1) + fib(n - 2) } } fib(20)", 6765),
    ("fn f(n) { if n == 3 { n - 1 } else { 0 } } f(3) + f(4)", 2),
])
def test_bounded_arithmetic_still_computes_correctly(script, expected):
    assert run(script) == expected


@pytest.mark.parametrize("source_of_b", [
    "a", "{ a }", "if true { a } else { [] }", "switch 1 { 1 => a }", "a ?? []",
    "loop { break a; }", "(|| a).call()", "ident(a)", "[a][0]",
])
def test_arrays_are_values_wherever_they_come_from(source_of_b):
    script = f"fn ident(x) {{ x }} let a = [1]; let b = {source_of_b}; b.push(2); [a, b]"
    assert run(script) == [[1], [1, 2]]


def test_long_chains_of_assignments_keep_their_types_right():
    n = 30  # longer than the compiler's typing passes: it falls back to untyped code
    chain = " ".join(f"a{i} = a{i + 1};" for i in range(n)) + f' a{n} = "x";'
    script = (" ".join(f"let a{i} = {i};" for i in range(n + 1)) +
              f" let k = 0; while k < {n + 2} {{ k += 1; {chain} }} a0 + a1")
    assert run(script) == "xx"


@pytest.mark.parametrize("script, expected", [
    ('if true { 1 } "x"', "x"),
    ('if 1 == 1 { 1 } "x"', "x"),
    ('if false { 1 } else { 2 } "x"', "x"),
    ("if true { 1 } [3, 4].len()", 2),  # the array starts a new statement: not an index
    ("let x = 5; if x > 1 { x } -x", -5),
    ('switch 1 { 1 => 10, _ => 20 } "y"', "y"),
    ("let i = 0; while i < 3 { i += 1; 7 } i", 3),
    ("loop { 1; break; } for j in 0..2 { j } try { 1 } catch { 2 } 9", 9),
    ("{ 1 } { 2 } 3", 3),
    ("let v = if true { 1 } else { 2 } + 5; v", 6),  # after `=` it is an expression
])
def test_statements_that_end_in_a_block_are_followed_by_more_statements(script, expected):
    assert run(script) == expected


def test_deeply_nested_loops_compile_and_run():
    """Python allows 20 nested loop blocks per function; 15 nested Rhai loops must still run."""
    depth = 15
    script = "let n = 0; " + "loop { " * depth + "n += 1; if n < 3 { continue; } break; " + \
        "} break; " * (depth - 1) + "} n"
    assert run(script) == 3


def test_invalid_generated_python_is_an_internal_error_not_blamed_on_the_script():
    bug = compile_failure(SyntaxError("expected ':'", ("<rhai-1>", 3, 1, "if x", 3, 2)))
    assert isinstance(bug, EvalError) and not isinstance(bug, ParseError)
    assert "Internal compiler error" in str(bug) and "max_expr_depth" not in str(bug)
    deep = compile_failure(SyntaxError("too many statically nested blocks"))
    assert isinstance(deep, ParseError) and "max_expr_depth" in str(deep)


def test_modules_are_never_found():
    """No module resolver: ``import`` fails at run time as in Rhai for a missing module."""
    with pytest.raises(EvalError) as info:
        run('let a = 1;\nimport "os" as os; os::system("x")')
    assert info.value.kind == "ErrorModuleNotFound"
    assert (info.value.line, info.value.position) == (2, 8)


def test_exit_ends_the_script_with_its_value():
    assert run("fn f() { exit(5); 1 } let r = f(); 2") == 5
    assert run("try { exit(3) } catch { 4 }") == 3


def test_errors_inside_calls_say_where_each_call_was():
    """Rhai's ErrorInFunctionCall text (checked with the real Rhai)."""
    with pytest.raises(EvalError) as info:
        run("fn g() { [1][3] } fn f() { g() } f()")
    assert str(info.value) == (
        "Array index 3 out of bounds: only 1 element in array (line 1, position 14)\n"
        "in call to function 'g' (line 1, position 28)\n"
        "in call to function 'f' (line 1, position 34)")
    assert info.value.kind == "ErrorInFunctionCall" and info.value.inner.kind == "ErrorArrayBounds"
