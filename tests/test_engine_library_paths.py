"""The engine's short paths into the standard library keep every limit and count exactly.

``Runtime.invoke_plain``, ``push_method``'s scalar push, ``Runtime.callback`` (closures given
to ``map``/``filter``/``reduce``/``sort`` called directly), the remembered property getters and
the reused JSON decoder/encoder do in fewer steps what the general paths do. These tests pin
what a script observes through them: results, errors, the exact size-limit boundaries and the
exact number of operations a script may use before ``max_operations`` stops it (the numbers
below are those of the engine before the short paths existed).
"""
from __future__ import annotations

import pytest

from worker.engine import Engine, LimitError, RhaiError

# script -> (fewest max_operations it runs with, its result)
COUNTED = {
    "sort with an INT comparator": (
        "let a = []; let x = 7; for i in 0..300 { x = (x * 1103515245 + 12345) % 2147483648;"
        " a.push(x % 1000); } a.sort(|p, q| q - p); a[0]", 2679, 991),
    "sort with a bool comparator": (
        "let a = []; for i in 0..200 { a.push((i * 37) % 101); } a.sort(|p, q| p < q); a[199]",
        1667, 100),
    "filter, map, reduce": (
        "let a = []; for i in 0..500 { a.push(i); }"
        " a.filter(|x| x % 3 == 0).map(|x| x * 2).reduce(|s, x| s + x, 0)", 2169, 83166),
    "callbacks taking the index": (
        "let a = []; for i in 0..300 { a.push(i); }"
        " a.filter(|x, i| i % 2 == 0).map(|x, i| x + i).reduce(|s, x, i| s + x * i, 0)",
        1501, 3341325),
    "callbacks by name": (
        "fn keep(x) { x % 2 == 0 } fn twice(x) { x * 2 } let a = [];"
        " for i in 0..300 { a.push(i); } a.filter(\"keep\").map(Fn(\"twice\")).len", 1201, 150),
    "string methods": (
        'let total = 0; for i in 0..200 { let t = "  Hello, Circles World  "; t.trim();'
        ' t.make_upper(); total += t.index_of("WORLD") + t.split(",").len;'
        ' t.replace("L", "l"); total += t.sub_string(0, 5).len + t.len; } total', 201, 8400),
    "JSON both ways": (
        'let total = 0; for i in 0..200 { let m = parse_json(`{"id":${i},"tags":["a","b"]}`);'
        " total += m.id + m.tags.len + m.to_json().len; } total", 601, 25590),
    "string building": (
        'let s = ""; for i in 0..500 { s += "x"; s += i % 10; s += `${i}`; } s.len', 501, 2390),
}


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_library_calls_count_the_same_operations(name):
    script, fewest, result = COUNTED[name]
    assert Engine(max_operations=fewest).eval(script) == result
    with pytest.raises(LimitError, match="max_operations"):
        Engine(max_operations=fewest - 1).eval(script)


@pytest.mark.parametrize("item", ["i", "i.to_float()", "i % 2 == 0", "'x'", "()"])
def test_pushing_scalars_stops_exactly_at_max_array_size(item):
    script = f"let a = []; for i in 0..N {{ a.push({item}); }} a.len"
    engine = Engine(max_array_size=100)
    assert engine.eval(script.replace("N", "100")) == 100
    with pytest.raises(LimitError, match="max_array_size"):
        engine.eval(script.replace("N", "101"))


@pytest.mark.parametrize("prefix, held", [
    ('a.push("xyz"); a.push([1, 2]);', 4),  # nested elements count
    ("a += [1, 2, 3];", 3),
    ("a.pad(3, 0);", 3),
    ("a.push(1); a.push(2); a[0] = [1, 2, 3];", 5),  # an element replaced by a larger one
    ("a.push(1); a.push([1, 2]); a[1] = 7;", 2),  # ... by a smaller one
])
def test_pushing_scalars_counts_what_the_array_already_holds(prefix, held):
    script = f"let a = []; {prefix} for i in 0..N {{ a.push(i); }} a.len"
    engine = Engine(max_array_size=50)
    engine.eval(script.replace("N", str(50 - held)))
    with pytest.raises(LimitError, match="max_array_size"):
        engine.eval(script.replace("N", str(51 - held)))


def test_pushing_a_scalar_after_the_limit_fails_even_when_caught():
    engine = Engine(max_array_size=3)
    with pytest.raises(LimitError, match="max_array_size"):
        engine.eval("let a = [1, 2, 3]; try { a.push(4); } catch { } a.len")


def test_appending_integers_to_a_string_stops_exactly_at_max_string_size():
    script = 'let s = "ab"; for i in 0..N { s += i % 10; } s.len'
    engine = Engine(max_string_size=100)
    assert engine.eval(script.replace("N", "98")) == 100
    with pytest.raises(LimitError, match="max_string_size"):
        engine.eval(script.replace("N", "99"))


def test_interpolating_integers_stops_exactly_at_max_string_size():
    engine = Engine(max_string_size=20)
    assert engine.eval("let n = 1234567890; `${n}${n}`") == "12345678901234567890"
    assert engine.eval("let n = -5; `${n}:${true}:${n * 2}`") == "-5:true:-10"
    with pytest.raises(LimitError, match="max_string_size"):
        engine.eval("let n = 1234567890; `${n}${n}1`")


def test_an_error_thrown_by_a_comparator_mid_sort_is_ignored_as_rhai_ignores_it():
    """Rhai's ``sort_by`` (src/packages/array_basic.rs) calls the comparer with ``.ok()``: a
    failed comparison orders the two by type (equal for one type) and the sort goes on
    (the real Rhai gives these values)."""
    engine = Engine()
    script = ("let a = [5, 3, 8, 1, 9, 2]; let calls = 0; let caught = ();"
              " try { a.sort(|p, q| { calls += 1; if calls == 4 { throw `stop ${p}`; } p - q }); }"
              " catch (e) { caught = e; }"
              " [a, caught]")
    assert engine.eval(script) == [[3, 5, 1, 2, 8, 9], None]
    assert engine.eval('let a = [3, 1, 2]; a.sort(|p, q| { if p == 1 || q == 1 { throw "oops" }'
                       ' p - q }); a') == [3, 1, 2]


def test_a_comparator_that_cannot_be_called_leaves_the_order():
    """A comparer taking one parameter, or failing on a type, is an error Rhai ignores."""
    engine = Engine()
    assert engine.eval("let a = [3, 1, 2]; a.sort(|p| p); a") == [3, 1, 2]
    assert engine.eval('let a = [3, 1, 2]; a.sort(|p, q| p - "x"); a') == [3, 1, 2]
    assert engine.eval("let c = |k, p, q| k * (p - q); let a = [3, 1, 2]; a.sort(c.curry(-1)); a") \
        == [3, 2, 1]


def test_a_comparator_running_out_of_operations_stops_the_sort():
    engine = Engine(max_operations=1_000)
    with pytest.raises(LimitError, match="max_operations"):
        engine.eval("let a = []; for i in 0..500 { a.push(500 - i); }"
                    " try { a.sort(|p, q| p - q); } catch { } a[0]")


def test_callbacks_get_the_element_and_index_as_rhai_gives_them():
    engine = Engine()
    assert engine.eval("[10, 20, 30].map(|x, i| x + i)") == [10, 21, 32]
    assert engine.eval("[10, 20, 30].filter(|x, i| i != 1)") == [10, 30]
    assert engine.eval("[10, 20, 30].reduce(|s, x, i| s + x * i, 1)") == 81
    assert engine.eval("[10, 20, 30].reduce(|s, x| (s ?? 0) + x)") == 60  # starts from ()
    with pytest.raises(RhaiError, match="in closure call"):
        engine.eval("[10, 20, 30].reduce(|s, x| s + x)")
    assert engine.eval("[10, 20, 30].map(|| this + 1)") == [11, 21, 31]
    assert engine.eval("let k = 5; [1, 2].map(|x| x + k)") == [6, 7]
    assert engine.eval("let f = |k, x| x * k; [1, 2].map(f.curry(3))") == [3, 6]
    # a filter returns copies: changing them leaves the source as it was
    assert engine.eval("let a = [[1], [2]]; let b = a.filter(|x| true); b[0].push(9); a") \
        == [[1], [2]]


def test_a_mapped_result_over_max_array_size_fails_as_it_is_collected():
    engine = Engine(max_array_size=30)
    assert len(engine.eval("[1, 2, 3].map(|x| [x, x, x, x, x, x, x, x, x])")) == 3
    with pytest.raises(LimitError, match="max_array_size"):
        engine.eval("[1, 2, 3].map(|x| [x, x, x, x, x, x, x, x, x, x])")


def test_parse_json_results_are_size_checked_exactly():
    engine = Engine(max_array_size=10, max_map_size=5, max_string_size=1_000)
    ten = ",".join(["1"] * 10)
    assert engine.eval(f'parse_json(`{{"a":[{ten}]}}`).a.len') == 10
    with pytest.raises(LimitError, match="max_array_size"):
        engine.eval(f'parse_json(`{{"a":[{ten},1]}}`)')
    five = ",".join(f'"k{i}":{i}' for i in range(5))
    assert engine.eval(f"parse_json(`{{{five}}}`).len()") == 5
    with pytest.raises(LimitError, match="max_map_size"):
        engine.eval(f'parse_json(`{{{five},"k5":{{}}}}`)')


def test_parse_json_turns_numbers_past_i64_into_floats():
    engine = Engine()
    assert engine.eval('parse_json(`{"a":9223372036854775807}`).a') == 2**63 - 1
    assert engine.eval('type_of(parse_json(`{"a":9223372036854775808}`).a)') == "f64"
    assert engine.eval('parse_json(`{"a":[-9223372036854775809]}`).a[0]') == -2.0**63
    with pytest.raises(RhaiError, match="BOM"):
        engine.eval("parse_json(\"\\ufeff{}\")")
    with pytest.raises(RhaiError, match="Syntax error"):
        engine.eval('parse_json(`{"a":}`)')


def test_to_json_writes_every_kind_of_value():
    engine = Engine()
    script = ('let m = #{z: (), b: [1, 2.5, "é\\"", true, \'c\'], a: #{y: blob(2, 1), x: Fn("f")}};'
              " m.to_json()")
    assert engine.eval(script) == '{"a":{"x":"f","y":[1,1]},"b":[1,2.5,"é\\"",true,"c"],"z":null}'
    with pytest.raises(RhaiError, match="JSON"):
        engine.eval("#{a: [1.0 / 0.0]}.to_json()")


def test_properties_of_different_types_share_a_name():
    engine = Engine()
    assert engine.eval('let s = "héllo"; let a = [1, 2]; let b = blob(3);'
                       " [s.len, a.len, b.len, s.is_empty, a.is_empty]") == [5, 2, 3, False, False]
    with pytest.raises(RhaiError, match="Unknown property"):
        engine.eval("let x = 1; x.len")


@pytest.mark.parametrize("key, size", [("k", 1), ("é", 2)])
def test_arrays_of_strings_are_size_checked_exactly(key, size):
    """keys() of ten or more keys: their bytes count against max_string_size."""
    engine = Engine(max_string_size=40)

    def script(count: int) -> str:
        keys = ", ".join(f'"{key}{i:0{4 - size}}": 1' for i in range(count))
        return f"let m = #{{{keys}}}; m.keys().len"

    assert engine.eval(script(10)) == 10  # 10 keys of 4 bytes
    with pytest.raises(LimitError, match="max_string_size"):
        engine.eval(script(11))
    assert Engine(max_string_size=40, max_array_size=10).eval(script(10)) == 10
    with pytest.raises(LimitError, match="max_array_size"):
        Engine(max_string_size=400, max_array_size=10).eval(script(11))


def test_replace_stops_exactly_at_max_string_size():
    engine = Engine(max_string_size=20)
    assert engine.eval('let s = "aaaa"; s.replace("a", "bbbbb"); s.len') == 20
    assert engine.eval('let s = "abcdef"; s.replace("", "xx"); s.len') == 20
    assert engine.eval('let s = "aé"; s.replace(\'é\', "ü"); s') == "aü"
    for script in ['let s = "aaa"; s.replace("a", "bbbbbbb"); s',
                   'let s = "abcdefg"; s.replace("", "xx"); s',
                   'let s = "aaaa"; s.replace("a", "éééé"); 1']:  # 8 bytes per "a"
        with pytest.raises(LimitError, match="max_string_size"):
            engine.eval(script)


def test_copies_of_flat_and_nested_containers_are_independent():
    engine = Engine()
    assert engine.eval("let a = [1, 'c', ()]; let b = a; b.push(3); b[0] = 9; a") == [1, "c", None]
    assert engine.eval("let m = #{x: 1, y: \"s\"}; let n = m; n.x = 2; m.x") == 1
    assert engine.eval("let a = [[1], #{k: [2]}]; let b = a; b[0].push(2); b[1].k.push(3); a") \
        == [[1], {"k": [2]}]
    assert engine.eval("let rs = []; let r = #{n: 1}; rs.push(r); r.n = 5; rs.push(r);"
                       " for x in rs { x.n += 100; } rs.map(|x| x.n)") == [1, 5]
