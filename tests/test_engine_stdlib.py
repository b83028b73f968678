"""The Rhai standard library as a script sees it: strings, chars, arrays, maps, numbers, bit
fields, blobs and timestamps, run through the real engine."""
from __future__ import annotations

import itertools
import math

import pytest

from worker.engine import Engine, RhaiError
from worker.engine.errors import EvalError, LimitError
from worker.engine.natives import ANY, LIBRARY
from worker.engine.values import Char, FnPtr, Instant, RhaiRange


def run(script: str, **limits: int):
    """Evaluate a script on a fresh engine and return its value (Python-mapped)."""
    return Engine(**limits).eval(script)


def fails(script: str, kind: str) -> EvalError:
    """Evaluate a script that must fail with the Rhai error ``kind``; return the error."""
    with pytest.raises(EvalError) as caught:
        run(script)
    assert caught.value.kind == kind, str(caught.value)
    return caught.value


# ---- strings ---------------------------------------------------------------------------------

def test_string_length_counts_characters_not_bytes():
    assert run('let s = "héllo ❤"; [s.len, len(s), s.bytes, "".is_empty, s.is_empty()]') == \
        [7, 7, 10, True, False]


def test_in_place_string_functions_change_the_variable():
    script = '''
        let s = "  Hello, World  ";
        s.trim();
        let upper = s.to_upper();      // a new string; s is unchanged
        s.make_lower();
        s.replace("world", "rhai");
        s.remove(',');
        [s, upper]
    '''
    assert run(script) == ["hello rhai", "HELLO, WORLD"]


def test_pad_truncate_and_clear():
    script = '''
        let a = "ab"; a.pad(5, '*');
        let b = "hello"; b.pad(10, "(!)");
        let c = "hello"; c.pad(3, '*');
        let d = "hello, world"; d.truncate(5);
        let e = "gone"; e.clear();
        [a, b, c, d, e]
    '''
    assert run(script) == ["ab***", "hello(!)(!", "hello", "hello", ""]


def test_sub_string_and_crop_clamp_and_count_from_the_end():
    script = '''
        let x = "hello, world!";
        let c1 = x; c1.crop(2, 8);
        let c2 = x; c2.crop(-6);
        let c3 = x; c3.crop(1, 999);
        let c4 = x; c4.crop(99);
        [x.sub_string(3, 4), x.sub_string(-6, 5), x.sub_string(7), x.sub_string(99),
         x.sub_string(3..7), x.sub_string(3..=7), x.sub_string(2, -1), c1, c2, c3, c4]
    '''
    assert run(script) == ["lo, ", "world", "world!", "", "lo, ", "lo, w", "", "llo, wor",
                           "world!", "ello, world!", ""]


def test_index_of_and_contains_with_characters_and_strings():
    script = '''
        let x = "hello, world! hello!";
        [x.index_of('l'), x.index_of("hello", 1), x.index_of('o', -4), x.index_of("z"),
         x.index_of('h', 999), x.contains("world"), x.contains('z'),
         x.starts_with("hell"), x.ends_with("lo!")]
    '''
    assert run(script) == [2, 14, 18, -1, -1, True, False, True, True]


def test_get_and_set_characters_with_negative_positions():
    script = '''
        let s = "hello";
        s.set(0, 'j');
        s.set(-1, 'y');
        s.set(99, 'x');
        [s, s.get(1), s.get(-2), s.get(5), s.get(-6)]
    '''
    assert run(script) == ["jelly", "e", "l", None, None]


def test_split_variants():
    script = '''
        let x = "a,b,,c";
        [x.split(','), x.split(",", 2), x.split_rev(','), x.split_rev(",", 2),
         "one  two\tthree".split(), "hello".split(2), "hello".split(-1), "ab".split("")]
    '''
    assert run(script) == [["a", "b", "", "c"], ["a", "b,,c"], ["c", "", "b", "a"],
                           ["c", "a,b,"], ["one", "two", "three"], ["he", "llo"],
                           ["hell", "o"], ["", "a", "b", ""]]


def test_append_pop_and_replace_variants():
    script = '''
        let s = "ab";
        s.append(1);
        s.append('c');
        s.append([2]);
        let last = s.pop();
        let tail = s.pop(2);
        let r = "a-b-c";
        r.replace('-', "+");
        r.replace("+", '=');
        r.replace('a', 'A');
        let empty = "";
        [s, last, tail, r, empty.pop()]
    '''
    assert run(script) == ["ab1c", "]", "[2", "A=b=c", None]


def test_chars_and_blob_of_a_string():
    assert run('let s = "a❤"; [s.to_chars(), s.to_blob().len()]') == [["a", "❤"], 4]
    assert run('let n = 0; for c in "hello".chars(1..=3) { if c == \'l\' { n += 1 } } n') == 2
    assert run('["hello".chars(-2), "hello".chars(1, 2), "hi".chars(9)]') == \
        [["l", "o"], ["e", "l"], []]


def test_to_string_and_to_debug():
    assert run('[to_string(42), 1.5.to_string(), "x".to_debug(), to_debug([1, "a"])]') == \
        ["42", "1.5", '"x"', '[1, "a"]']


def test_padding_past_the_string_limit_is_refused_and_the_engine_recovers():
    engine = Engine(max_string_size=1000)
    with pytest.raises(LimitError):
        engine.eval('let s = "x"; s.pad(1000000000, "ab"); s')
    assert engine.eval('let s = "x"; s.pad(3, "ab"); s') == "xab"


# ---- chars -----------------------------------------------------------------------------------

def test_char_functions():
    script = '''
        let c = 'a';
        c.make_upper();
        [c, 'Q'.to_lower(), 'ß'.to_upper(), 'A'.to_int(), min('x', 'y'), max("a", "b")]
    '''
    assert run(script) == ["A", "q", "ß", 65, "x", "b"]


# ---- arrays ----------------------------------------------------------------------------------

def test_array_insert_remove_and_out_of_range_positions():
    script = '''
        let x = [2, 9];
        x.insert(-1, 1);
        x.insert(999, 3);
        x.insert(-99, 99);
        let removed = [x.remove(2), x.remove(99), x.remove(-99)];
        let popped = [x.pop(), x.shift(), [].pop(), [].shift()];
        [x, removed, popped]
    '''
    assert run(script) == [[2, 9], [1, None, None], [3, 99, None, None]]


def test_array_get_set_and_properties():
    script = '''
        let x = [1, 2, 3];
        x.set(-1, 30);
        x.set(5, 99);
        [x, x.get(0), x.get(-3), x.get(3), x.get(-4), x.len, x.is_empty, [].is_empty()]
    '''
    assert run(script) == [[1, 2, 30], 1, 1, None, None, 3, False, True]


def test_extract_splice_split_and_chop():
    script = '''
        let x = [1, 2, 3, 4, 5];
        let parts = [x.extract(1, 3), x.extract(-3, 2), x.extract(2), x.extract(1..3),
                     x.extract(1..=3), x.extract(99, 1), x.extract(1, 0)];
        let s = [1, 2, 3, 4, 5]; s.splice(1, 2, [7, 8, 9]);
        let t = [1, 2, 3]; t.splice(99, 1, [4]);
        let u = [1, 2, 3, 4, 5]; let tail = u.split(-2);
        let v = [1, 2, 3, 4, 5]; v.chop(2);
        let w = [1, 2, 3, 4, 5]; w.truncate(2);
        [parts, s, t, u, tail, v, w]
    '''
    assert run(script) == [
        [[2, 3, 4], [3, 4], [3, 4, 5], [2, 3], [2, 3, 4], [], []],
        [1, 7, 8, 9, 4, 5], [1, 2, 3, 4], [1, 2, 3], [4, 5], [4, 5], [1, 2]]


def test_drain_and_retain_by_range_and_by_predicate():
    script = '''
        let a = [1, 2, 3, 4, 5]; let a_out = a.drain(1, 2);
        let b = [1, 2, 3, 4, 5]; let b_out = b.retain(1..4);
        let c = [1, 2, 3, 4, 5]; let c_out = c.drain(|v| v < 3);
        let d = [1, 2, 3, 4, 5]; let d_out = d.retain(|v, i| v + i <= 5);
        [a, a_out, b, b_out, c, c_out, d, d_out]
    '''
    assert run(script) == [[1, 4, 5], [2, 3], [2, 3, 4], [1, 5], [3, 4, 5], [1, 2],
                           [1, 2, 3], [4, 5]]


def test_callbacks_take_the_element_the_index_or_this():
    script = '''
        let x = [1, 2, 3];
        let doubled = x.map(|v| v * 2);
        let weighted = x.map(|v, i| v * i);
        let via_this = x.map(|| this + 40);
        let big = x.filter(|v| v > 1);
        x.for_each(|i| { this += i });
        [doubled, weighted, via_this, big, x]
    '''
    assert run(script) == [[2, 4, 6], [0, 2, 6], [41, 42, 43], [2, 3], [1, 3, 5]]


def test_callbacks_by_function_name():
    script = '''
        fn is_even(x) { x % 2 == 0 }
        let x = [1, 2, 3, 4];
        [x.filter("is_even"), x.index_of("is_even"), x.index_of(Fn("is_even"), 2),
         ["a", "b"].index_of("b"), ["a", "b"].index_of("missing")]
    '''
    assert run(script) == [[2, 4], 1, 3, 1, -1]


def test_reduce_find_some_all():
    script = '''
        let x = [1, 2, 3, 4];
        [x.reduce(|sum, v| if sum == () { v } else { sum + v }),
         x.reduce(|sum, v| sum + v, 10),
         x.reduce(|sum, v, i| sum + v * i, 0),
         x.reduce_rev(|acc, v| acc + v.to_string(), ""),
         x.find(|v| v > 2), x.find(|v| v > 9), x.find(|v| v > 1, 2),
         [#{a: 1}, #{b: 2}].find_map(|m| m.b),
         x.some(|v| v > 3), x.all(|v, i| v > i), [].all(|v| false)]
    '''
    assert run(script) == [10, 20, 20, "4321", 3, None, 3, 2, True, True, True]


def test_contains_and_index_of_use_rhai_equality():
    script = '''
        let x = [1, "two", 'c', [4], #{five: 5}];
        [x.contains(1), x.contains(1.0), x.contains("two"), x.contains('c'), x.contains([4]),
         x.contains(#{five: 5}), x.contains(true), 3 in [1, 2, 3],
         x.index_of([4]), x.index_of("missing"), [1, 2, 1].index_of(1, 1), [1, 2, 1].index_of(1, -1)]
    '''
    assert run(script) == [True, True, True, True, True, True, False, True, 3, -1, 2, 2]


def test_sort_dedup_and_reverse():
    script = '''
        let n = [3, 1, 2]; n.sort();
        let s = ["pear", "apple", "fig"]; s.sort();
        let f = [2.5, -1.0, 0.5]; f.sort();
        let d = [1, 3, 2]; d.sort(|a, b| b - a);
        let u = [1, 1, 2, 2, 2, 1]; u.dedup();
        let v = [1, 2, 5, 3, 8]; v.dedup(|a, b| b < a + 2);
        let r = [1, 2, 3]; r.reverse();
        [n, s, f, d, u, v, r]
    '''
    assert run(script) == [[1, 2, 3], ["apple", "fig", "pear"], [-1.0, 0.5, 2.5], [3, 2, 1],
                           [1, 2, 1], [1, 5, 8], [3, 2, 1]]


def test_none_is_the_opposite_of_some():
    with pytest.raises(RhaiError):  # Rhai has no `none`
        run("[1, 2].none(|v| v > 5)")


def test_sorting_mixed_types_is_an_error():
    err = fails('let x = [1, "a"]; x.sort(); x', "ErrorFunctionNotFound")
    assert "different types" in err.message


def test_pad_and_push_copy_values_rather_than_share_them():
    script = '''
        let x = [];
        x.pad(2, [0]);
        x[0].push(1);
        let inner = [7];
        let y = [];
        y.push(inner);
        inner.push(8);
        let z = x.extract(0, 1);
        z[0].push(2);
        [x, y, z]
    '''
    assert run(script) == [[[0, 1], [0]], [[7]], [[0, 1, 2]]]


def test_growing_an_array_past_its_limit_is_refused():
    engine = Engine(max_array_size=100)
    with pytest.raises(LimitError):
        engine.eval("let x = []; x.pad(1000000000, 0); x.len")
    with pytest.raises(LimitError):
        engine.eval("let x = []; x.pad(100, 0); x.push(1); x.len")
    assert engine.eval("let x = []; x.pad(100, 0); x.len") == 100


# ---- maps ------------------------------------------------------------------------------------

def test_map_functions():
    script = '''
        let m = #{b: 2, a: 1};
        m.mixin(#{c: 3, a: 10});
        m.fill_with(#{a: 99, d: 4});
        let gone = m.remove("d");
        [m, m.keys(), m.values(), m.len(), m.contains("a"), m.get("zz"), gone, m.remove("zz")]
    '''
    assert run(script) == [{"a": 10, "b": 2, "c": 3}, ["a", "b", "c"], [10, 2, 3], 3, True,
                           None, 4, None]


def test_map_filter_drain_retain():
    script = '''
        let m = #{a: 1, b: 2, c: 3, d: 4};
        let odd = m.filter(|k, v| v % 2 == 1);
        let n = m; let drained = n.drain(|k, v| k < "c");
        let r = m; let dropped = r.retain(|k, v| v > 3);
        [odd, n, drained, r, dropped]
    '''
    assert run(script) == [{"a": 1, "c": 3}, {"c": 3, "d": 4}, {"a": 1, "b": 2}, {"d": 4},
                           {"a": 1, "b": 2, "c": 3}]


def test_map_to_json():
    script = r'#{b: [1, 2.5, true, ()], a: "q\"", c: #{x: Fn("f")}, d: blob(2, 1)}.to_json()'
    assert run(script) == '{"a":"q\\"","b":[1,2.5,true,null],"c":{"x":"f"},"d":[1,1]}'


def test_map_get_and_set_keep_keys_in_order():
    script = '''
        let m = #{b: 1};
        m.set("a", [1]);
        m.set("c", 3);
        let inner = m.get("a");
        inner.push(2);
        [m.keys(), m.get("a"), m.get("b"), m.get("x")]
    '''
    assert run(script) == [["a", "b", "c"], [1], 1, None]


BIG_MAP = """
    let m = #{};
    for i in 0..600 { m[`k${599 - i}`] = i; }   // inserted in reverse key order
"""
BIG_KEYS = sorted(f"k{i}" for i in range(600))  # Rhai's BTreeMap order: by string


def test_big_maps_show_their_keys_in_key_order_everywhere():
    script = BIG_MAP + """
        let seen = #{filter: [], drain: [], retain: [], for: []};
        m.filter(|k, v| { seen.filter.push(k); true });
        let a = m; a.drain(|k, v| { seen.drain.push(k); false });
        let b = m; b.retain(|k, v| { seen.retain.push(k); true });
        for k in m { seen.for.push(k); }
        [m.keys(), m.values(), seen, m.to_json(), m.filter(|k, v| v < 3).keys(), `${m}`]
    """
    keys, values, seen, text, small, shown = run(script)
    assert keys == BIG_KEYS
    assert values == [599 - int(k[1:]) for k in BIG_KEYS]
    assert seen == {"filter": BIG_KEYS, "drain": BIG_KEYS, "retain": BIG_KEYS, "for": BIG_KEYS}
    assert text == "{" + ",".join(f'"{k}":{599 - int(k[1:])}' for k in BIG_KEYS) + "}"
    assert small == ["k597", "k598", "k599"]
    assert shown.startswith('#{"k0": 599, "k1": 598, "k10": 589, "k100": 499,')


def test_big_map_drain_and_retain_split_in_key_order():
    script = BIG_MAP + """
        let a = m; let out = a.drain(|k, v| v >= 597);
        let b = m; let dropped = b.retain(|k, v| v < 2);
        [out.keys(), a.len(), b.keys(), dropped.len(), (m + #{a: 0}).keys().extract(0, 2)]
    """
    assert run(script) == [["k0", "k1", "k2"], 597, ["k598", "k599"], 598, ["a", "k0"]]


def test_callbacks_calling_library_functions_do_not_use_up_call_levels():
    """Each callback runs at the caller's depth + 1, however many callbacks a function makes."""
    script = BIG_MAP + """
        let seen = [];
        m.retain(|k, v| { seen.push(k); seen.len() > 0 });
        [1, 2, 3].map(|x| { seen.push(x); x }).len() + seen.len()
    """
    assert run(script) == 606


def test_to_json_refuses_non_finite_floats():
    fails("#{x: 1.0 / 0.0}.to_json()", "ErrorMismatchOutputType")


def test_map_length_is_a_method_not_a_property():
    assert run("let m = #{a: 1}; [m.len, m.len()]") == [None, 1]


# ---- numbers ---------------------------------------------------------------------------------

def test_parse_int_and_parse_float():
    script = '''
        [parse_int("42"), parse_int(" -17 "), parse_int("ff", 16), parse_int("-101", 2),
         parse_float("2.5"), parse_float("1e3"), parse_float("-0.25")]
    '''
    assert run(script) == [42, -17, 255, -5, 2.5, 1000.0, -0.25]


@pytest.mark.parametrize("script", [
    'parse_int("12abc")', 'parse_int("")', 'parse_int("1_000")', 'parse_int("0x10")',
    'parse_int("9223372036854775808")', 'parse_int("10", 1)', 'parse_int("10", 37)',
    'parse_float("1.2.3")', 'parse_float("1_0")', 'parse_float("")',
])
def test_bad_numbers_are_arithmetic_errors(script: str):
    fails(script, "ErrorArithmetic")


def test_conversions():
    script = '''
        [3.99.to_int(), (-3.99).to_int(), to_float(7), to_hex(255), (-1).to_hex(),
         to_octal(8), to_binary(5), abs(-4), abs(-2.5), sign(-9), sign(0.5)]
    '''
    assert run(script) == [3, -3, 7.0, "ff", "ffffffffffffffff", "10", "101", 4, 2.5, -1, 1]


def test_integer_overflow_in_conversions_is_an_error():
    fails("1e30.to_int()", "ErrorArithmetic")
    fails("abs(-9223372036854775807 - 1)", "ErrorArithmetic")


def test_float_math_follows_rust_not_python_exceptions():
    result = run("[sqrt(-1.0), ln(0.0), log(100.0), log(8.0, 2.0), exp(1000.0), asin(2.0)]")
    assert math.isnan(result[0]) and result[1] == -math.inf
    assert result[2:5] == [2.0, 3.0, math.inf] and math.isnan(result[5])


def test_rounding_functions_and_properties():
    script = '''
        let x = 2.5;
        [x.round(), (-2.5).round(), x.floor, x.ceiling, (-2.7).int, x.fraction,
         1.5.round, (0.0 / 0.0).is_nan, x.is_finite()]
    '''
    assert run(script) == [3.0, -3.0, 2.0, 3.0, -2.0, 0.5, 2.0, True, True]


def test_min_max_mix_ints_and_floats():
    assert run("[max(1, 2), min(1, 2), max(1, 2.5), min(3.5, 2), is_odd(3), is_even(3)]") == \
        [2, 1, 2.5, 2.0, True, False]


def test_trigonometry_and_constants():
    result = run("[sin(PI() / 6.0), cos(0.0), atan(1.0, 1.0), E()]")
    assert result[0] == pytest.approx(0.5) and result[1] == 1.0
    assert result[2] == pytest.approx(math.pi / 4) and result[3] == pytest.approx(math.e)


# ---- bit fields ------------------------------------------------------------------------------

def test_bit_functions():
    script = '''
        let x = 10;
        let y = 0; y.set_bit(63, true);
        let z = 10; z.set_bits(1, 3, 7);
        let w = 0; w.set_bits(4..6, 3);
        [x.get_bit(1), x.get_bit(0), x.get_bit(-61), get_bits(255, -60, 2), x.get_bits(1..=3),
         y, z, w, bits(5, 0, 4)]
    '''
    assert run(script) == [True, False, True, 3, 5, -9223372036854775808, 14, 48,
                           [True, False, True, False]]


def test_bit_position_out_of_range_is_an_error():
    fails("get_bit(10, 64)", "ErrorBitFieldBounds")


# ---- blobs -----------------------------------------------------------------------------------

def test_blob_building_and_editing():
    script = '''
        let b = blob(3, 0x1ff);
        b.push(256 + 7);
        b.insert(0, 1);
        b.set(-1, 9);
        let removed = b.remove(1);
        [b, b.len, b.get(0), b.get(99), removed, b.contains(9), blob(2).to_array()]
    '''
    assert run(script) == [bytes([1, 255, 255, 9]), 4, 1, 0, 255, True, [0, 0]]


def test_blob_numbers_and_text():
    script = '''
        let b = blob(8);
        b.write_le(0, 4, 0x01020304);
        let le = b.parse_le_int(0, 4);
        let be = b.parse_be_int(0..2);
        let t = blob(6);
        t.write_utf8(1..6, "h❤!");
        let f = blob(8);
        f.write_be(0, 8, 1.5);
        [le, be, t, f.parse_be_float(0, 8), "hi".to_blob().as_string()]
    '''
    assert run(script) == [0x01020304, 0x0403 << 48, b"\0h\xe2\x9d\xa4!", 1.5, "hi"]


def test_blob_slicing():
    script = '''
        let b = blob(6);
        for i in 0..6 { b[i] = i; }
        let head = b.extract(1, 2);
        let c = b; let tail = c.split(4);
        let d = b; let middle = d.drain(1..3);
        let e = b; let dropped = e.retain(-2, 2);
        let f = b; f.splice(0, 5, blob(1, 9));
        [head, c, tail, d, middle, e, dropped, f]
    '''
    assert run(script) == [bytes([1, 2]), bytes([0, 1, 2, 3]), bytes([4, 5]), bytes([0, 3, 4, 5]),
                           bytes([1, 2]), bytes([4, 5]), bytes([0, 1, 2, 3]), bytes([9, 5])]


def test_blob_limit():
    with pytest.raises(LimitError):
        run("blob(1000000000)", max_array_size=1000)


# ---- timestamps ------------------------------------------------------------------------------

def test_timestamp_and_elapsed():
    assert run("let t = timestamp(); [type_of(t), type_of(t.elapsed), elapsed(t) >= 0.0]") == \
        ["timestamp", "f64", True]


# ---- robustness ------------------------------------------------------------------------------

SAMPLES = {
    int: ["0", "-1", "3", "9223372036854775807", "(-9223372036854775807 - 1)"],
    float: ["0.0", "-2.5", "1e300"],
    bool: ["true"],
    Char: ["'x'", "'❤'"],
    str: ['""', '"héllo, wörld"'],
    list: ["[]", '[1, "a", 2.5, [3]]'],
    dict: ["#{}", "#{a: 1, b: [2]}"],
    bytearray: ["blob()", "blob(3, 250)"],
    FnPtr: ["|x| x", "|| 1", "|a, b| a"],
    RhaiRange: ["-3..2", "1..=99", "5..1"],
    Instant: ["timestamp()"],
    type(None): ["()"],
    ANY: ["0", '"s"', "[1]", "()"],
}


def _calls():
    """Rhai calls of every registered overload with a spread of awkward arguments."""
    for name, overloads in sorted(LIBRARY.items()):
        for fn in overloads:
            choices = [SAMPLES[p] for p in fn.params]
            for combo in itertools.islice(itertools.product(*choices), 12):
                yield f"{name}({', '.join(combo)})"


def test_no_python_exception_escapes_any_library_function():
    engine = Engine(max_string_size=10000, max_array_size=1000, max_map_size=1000)
    escaped = []
    for call in _calls():
        script = f"let result = {call}; result"
        try:
            engine.eval(script)
        except RhaiError as err:
            if "Error in function" in err.message or "Internal error" in err.message:
                # the runtime's wrappers around a Python exception: a library bug
                escaped.append(f"{call}: {err}")
        except Exception as exc:  # noqa: BLE001 - collecting what escaped is the point
            escaped.append(f"{call}: {type(exc).__name__}: {exc}")
    assert escaped == []
