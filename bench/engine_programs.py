"""The programs ``bench.engine`` times: each a Rhai script beside the same algorithm in plain Python.

Every program is a ``Program``: Rhai source with ``{n}`` for its size, a Python function of ``n``
written as a Python user would (a function, so locals are fast), and the full and quick sizes.
Both must return the same value; ``bench.engine`` checks that before it trusts a time.

Sources: Rhai's own ``scripts/`` and ``benches/`` programs (rhaiscript/rhai, MIT/Apache-2.0;
adapted to return a value instead of printing timings) and everyday Circles-script work.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Program:
    """One benchmark program: Rhai source (``{n}`` = size), its Python twin, and sizes."""

    name: str
    origin: str
    rhai: str
    python: Callable[[int], Any]
    full: int
    quick: int


# --- Rhai repo: scripts/ ---------------------------------------------------------------------

SPEED_TEST = """
let x = {n};
while x > 0 {{ x -= 1; }}
x
"""


def py_speed_test(n: int) -> int:
    x = n
    while x > 0:
        x -= 1
    return x


FIBONACCI = """
fn fib(n) {{ if n < 2 {{ n }} else {{ fib(n - 1) + fib(n - 2) }} }}
fib({n})
"""


def py_fibonacci(n: int) -> int:
    def fib(k: int) -> int:
        return k if k < 2 else fib(k - 1) + fib(k - 2)
    return fib(n)


PRIMES = """
let prime_mask = [];
prime_mask.pad({n} + 1, true);
prime_mask[0] = false;
prime_mask[1] = false;
let total = 0;
for p in 2..={n} {{
    if !prime_mask[p] {{ continue; }}
    total += 1;
    for i in range(2 * p, {n} + 1, p) {{ prime_mask[i] = false; }}
}}
total
"""


def py_primes(n: int) -> int:
    mask = [True] * (n + 1)
    mask[0] = mask[1] = False
    total = 0
    for p in range(2, n + 1):
        if not mask[p]:
            continue
        total += 1
        for i in range(2 * p, n + 1, p):
            mask[i] = False
    return total


FOR2 = """
let list = [];
for i in 0..{n} {{ list.push(i); }}
let sum = 0;
for i in list {{ sum += i; }}
sum
"""


def py_for2(n: int) -> int:
    items = []
    for i in range(n):
        items.append(i)
    total = 0
    for i in items:
        total += i
    return total


MAT_MUL = """
fn new_mat(x, y) {{
    let row = [];
    row.pad(y, 0.0);
    let matrix = [];
    matrix.pad(x, row);
    matrix
}}
fn mat_gen(n) {{
    let tmp = 1.0 / n / n;
    let m = new_mat(n, n);
    for i in 0..n {{ for j in 0..n {{ m[i][j] = tmp * (i - j) * (i + j); }} }}
    m
}}
fn mat_mul(a, b) {{
    let b2 = new_mat(a[0].len, b[0].len);
    for i in 0..a[0].len {{ for j in 0..b[0].len {{ b2[j][i] = b[i][j]; }} }}
    let c = new_mat(a.len, b[0].len);
    for i in 0..c.len {{
        for j in 0..c[i].len {{
            c[i][j] = 0.0;
            for z in 0..a[i].len {{ c[i][j] += a[i][z] * b2[j][z]; }}
        }}
    }}
    c
}}
let c = mat_mul(mat_gen({n}), mat_gen({n}));
(c[1][2] * 1e9).to_int()
"""


def py_mat_mul(n: int) -> int:
    def new_mat(x: int, y: int) -> list[list[float]]:
        return [[0.0] * y for _ in range(x)]

    def mat_gen(size: int) -> list[list[float]]:
        tmp = 1.0 / size / size
        m = new_mat(size, size)
        for i in range(size):
            for j in range(size):
                m[i][j] = tmp * (i - j) * (i + j)
        return m

    def mat_mul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
        b2 = new_mat(len(a[0]), len(b[0]))
        for i in range(len(a[0])):
            for j in range(len(b[0])):
                b2[j][i] = b[i][j]
        c = new_mat(len(a), len(b[0]))
        for i in range(len(c)):
            for j in range(len(c[i])):
                c[i][j] = 0.0
                for z in range(len(a[i])):
                    c[i][j] += a[i][z] * b2[j][z]
        return c

    c = mat_mul(mat_gen(n), mat_gen(n))
    return int(c[1][2] * 1e9)


STRINGS_MAP = """
let adverbs = ["moderately", "really", "slightly", "very"];
let adjectives = ["abandoned", "able", "absolute", "academic", "acceptable", "acclaimed",
                  "accomplished", "accurate", "aching", "acidic", "acrobatic", "active"];
let animals = ["aardvark", "african buffalo", "albatross", "alligator", "alpaca", "ant",
               "anteater", "antelope", "ape", "armadillo", "baboon", "badger"];
let map = #{{}};
let i = 0;
for adverb in adverbs {{
    for adjective in adjectives {{
        for animal in animals {{
            map[`${{adverb}} ${{adjective}} ${{animal}}`] = i;
            i += 1;
        }}
    }}
}}
let total = 0;
for round in 0..{n} {{
    for key in map.keys() {{ total += map[key] + key.len; }}
}}
total
"""


def py_strings_map(n: int) -> int:
    adverbs = ["moderately", "really", "slightly", "very"]
    adjectives = ["abandoned", "able", "absolute", "academic", "acceptable", "acclaimed",
                  "accomplished", "accurate", "aching", "acidic", "acrobatic", "active"]
    animals = ["aardvark", "african buffalo", "albatross", "alligator", "alpaca", "ant",
               "anteater", "antelope", "ape", "armadillo", "baboon", "badger"]
    table: dict[str, int] = {}
    i = 0
    for adverb in adverbs:
        for adjective in adjectives:
            for animal in animals:
                table[f"{adverb} {adjective} {animal}"] = i
                i += 1
    total = 0
    for _ in range(n):
        for key in list(table.keys()):
            total += table[key] + len(key)
    return total


OOP = """
let obj = #{{
    data: 0,
    add: |x| {{ this.data += x; }},
    get: || this.data
}};
for i in 0..{n} {{ obj.add(i % 7); }}
obj.get()
"""


def py_oop(n: int) -> int:
    class Obj:
        def __init__(self) -> None:
            self.data = 0

        def add(self, x: int) -> None:
            self.data += x

        def get(self) -> int:
            return self.data

    obj = Obj()
    for i in range(n):
        obj.add(i % 7)
    return obj.get()


SWITCH = """
let total = 0;
for i in 0..{n} {{
    total += switch i % 10 {{
        0 => 1,
        1 | 2 => 2,
        7 if i % 3 == 0 => 4,
        3..6 => 3,
        _ => 5
    }};
}}
total
"""


def py_switch(n: int) -> int:
    total = 0
    for i in range(n):
        r = i % 10
        if r == 0:
            total += 1
        elif r in (1, 2):
            total += 2
        elif 3 <= r < 6:
            total += 3
        elif r == 7 and i % 3 == 0:
            total += 4
        else:
            total += 5
    return total


FUNCTION_CALLS = """
fn add3(a, b, c) {{ a + b + c }}
let total = 0;
for i in 0..{n} {{ total = add3(total, i, 1); }}
total
"""


def py_function_calls(n: int) -> int:
    def add3(a: int, b: int, c: int) -> int:
        return a + b + c
    total = 0
    for i in range(n):
        total = add3(total, i, 1)
    return total


# --- Rhai repo: benches/ ---------------------------------------------------------------------

ARRAY_LOOP = """
let list = [];
for i in 0..{n} {{ list.push(i); }}
let sum = 0;
for i in list {{ sum += i; }}
for i in 0..list.len {{ sum -= list[i]; }}
sum + list.len
"""


def py_array_loop(n: int) -> int:
    items: list[int] = []
    for i in range(n):
        items.append(i)
    total = 0
    for i in items:
        total += i
    for i in range(len(items)):
        total -= items[i]
    return total + len(items)


MAP_LOOP = """
let total = 0;
for i in 0..{n} {{
    let m = #{{a: i, b: 2, c: #{{d: 3}}}};
    m.b = m.a + m.c.d;
    total += m.b;
}}
total
"""


def py_map_loop(n: int) -> int:
    total = 0
    for i in range(n):
        m = {"a": i, "b": 2, "c": {"d": 3}}
        m["b"] = m["a"] + m["c"]["d"]
        total += m["b"]
    return total


EXPRESSIONS = """
let total = 0;
for i in 0..{n} {{
    let x = i % 100;
    if (x * 2 + 3) % 5 == 1 && x > 10 || x < 3 {{ total += x * x - 2 * x + 1; }}
}}
total
"""


def py_expressions(n: int) -> int:
    total = 0
    for i in range(n):
        x = i % 100
        if (x * 2 + 3) % 5 == 1 and x > 10 or x < 3:
            total += x * x - 2 * x + 1
    return total


NESTED_INDEX = """
let x = [1, 2.345, "hello", true, [1, 2, 3, ["hey", ["deeply", "nested"], "jude"]]];
let total = 0;
for i in 0..{n} {{
    x[4][3][1][1] = "nested";
    total += x[4][3][1][1].len + x[4][2];
}}
total
"""


def py_nested_index(n: int) -> int:
    x: list[Any] = [1, 2.345, "hello", True, [1, 2, 3, ["hey", ["deeply", "nested"], "jude"]]]
    total = 0
    for _ in range(n):
        x[4][3][1][1] = "nested"
        total += len(x[4][3][1][1]) + x[4][2]
    return total


ITERATIONS = """
let total = 0;
for i in 0..{n} {{
    for j in 0..10 {{ total += i ^ j; }}
}}
total
"""


def py_iterations(n: int) -> int:
    total = 0
    for i in range(n):
        for j in range(10):
            total += i ^ j
    return total


# --- Everyday Circles-script work ------------------------------------------------------------

PUSH = """
let a = [];
for i in 0..{n} {{ a.push(i); }}
a.len
"""


def py_push(n: int) -> int:
    a: list[int] = []
    for i in range(n):
        a.append(i)
    return len(a)


MAP_STRING_KEYS = """
let m = #{{}};
for i in 0..{n} {{ m[`key${{i % 500}}`] = i; }}
let total = 0;
for k in m.keys() {{ total += m[k]; }}
total
"""


def py_map_string_keys(n: int) -> int:
    m: dict[str, int] = {}
    for i in range(n):
        m[f"key{i % 500}"] = i
    total = 0
    for k in m.keys():
        total += m[k]
    return total


STRING_BUILD = """
let s = "";
for i in 0..{n} {{ s += "x"; s += i % 10; }}
s.len
"""


def py_string_build(n: int) -> int:
    s = ""
    for i in range(n):
        s += "x"
        s += str(i % 10)
    return len(s)


INTERPOLATION = """
let total = 0;
for i in 0..{n} {{
    let line = `item ${{i}}: ${{i * 2}} units`;
    total += line.len;
}}
total
"""


def py_interpolation(n: int) -> int:
    total = 0
    for i in range(n):
        line = f"item {i}: {i * 2} units"
        total += len(line)
    return total


SORT_COMPARATOR = """
let a = [];
let x = 12345;
for i in 0..{n} {{ x = (x * 1103515245 + 12345) % 2147483648; a.push(x % 100000); }}
a.sort(|p, q| q - p);
a[0] - a[a.len - 1]
"""


def py_sort_comparator(n: int) -> int:
    import functools

    a: list[int] = []
    x = 12345
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2147483648
        a.append(x % 100000)
    a.sort(key=functools.cmp_to_key(lambda p, q: q - p))
    return a[0] - a[-1]


FILTER_MAP_REDUCE = """
let a = [];
for i in 0..{n} {{ a.push(i); }}
a.filter(|x| x % 3 == 0).map(|x| x * 2).reduce(|sum, x| sum + x, 0)
"""


def py_filter_map_reduce(n: int) -> int:
    import functools

    a = [i for i in range(n)]
    evens = [x for x in a if x % 3 == 0]
    doubled = [x * 2 for x in evens]
    return functools.reduce(lambda total, x: total + x, doubled, 0)


CLOSURE_CALLS = """
let step = 3;
let f = |x| x + step;
let total = 0;
for i in 0..{n} {{ total = f.call(total); }}
total
"""


def py_closure_calls(n: int) -> int:
    step = 3
    f = lambda x: x + step  # noqa: E731
    total = 0
    for _ in range(n):
        total = f(total)
    return total


TO_JSON = """
let total = 0;
for i in 0..{n} {{
    let m = #{{id: i, name: "circle", tags: ["a", "b"], ok: true}};
    total += m.to_json().len;
}}
total
"""


def py_to_json(n: int) -> int:
    total = 0
    for i in range(n):
        m = {"id": i, "name": "circle", "tags": ["a", "b"], "ok": True}
        total += len(json.dumps(m, separators=(",", ":")))
    return total


PARSE_JSON = """
let total = 0;
for i in 0..{n} {{
    let m = parse_json(`{{"id":${{i}},"name":"circle","tags":["a","b"]}}`);
    total += m.id + m.tags.len;
}}
total
"""


def py_parse_json(n: int) -> int:
    total = 0
    for i in range(n):
        m = json.loads(f'{{"id":{i},"name":"circle","tags":["a","b"]}}')
        total += m["id"] + len(m["tags"])
    return total


STRING_OPS = """
let total = 0;
for i in 0..{n} {{
    let t = "  Hello, Circles World  ";
    t.trim();
    t.make_upper();
    total += t.index_of("WORLD") + t.split(",").len + if t.contains("CIRCLES") {{ 1 }} else {{ 0 }};
    t.replace("L", "l");
    total += t.sub_string(0, 5).len + t.len;
}}
total
"""


def py_string_ops(n: int) -> int:
    total = 0
    for _ in range(n):
        s = "  Hello, Circles World  "
        t = s.strip().upper()
        total += t.find("WORLD") + len(t.split(",")) + (1 if "CIRCLES" in t else 0)
        t = t.replace("L", "l")
        total += len(t[0:5]) + len(t)
    return total


DB_LIKE_RECORDS = """
let records = [];
for i in 0..{n} {{ records.push(#{{id: i, owner: `member${{i % 20}}`, amount: i % 97}}); }}
let totals = #{{}};
for r in records {{
    let key = r.owner;
    totals[key] = (totals[key] ?? 0) + r.amount;
}}
let best = "";
let best_total = -1;
for k in totals.keys() {{ if totals[k] > best_total {{ best_total = totals[k]; best = k; }} }}
best_total
"""


def py_db_like_records(n: int) -> int:
    records = [{"id": i, "owner": f"member{i % 20}", "amount": i % 97} for i in range(n)]
    totals: dict[str, int] = {}
    for r in records:
        key = r["owner"]
        totals[key] = (totals.get(key) or 0) + r["amount"]
    best_total = -1
    for k in totals.keys():
        if totals[k] > best_total:
            best_total = totals[k]
    return best_total


FLOAT_MATH = """
let total = 0.0;
for i in 0..{n} {{
    let x = i.to_float();
    total += (x * 0.5 + 1.25) / (x + 1.0);
}}
(total * 1000.0).to_int()
"""


def py_float_math(n: int) -> int:
    total = 0.0
    for i in range(n):
        x = float(i)
        total += (x * 0.5 + 1.25) / (x + 1.0)
    return int(total * 1000.0)


PROGRAMS: tuple[Program, ...] = (
    Program("speed_test", "scripts/speed_test.rhai", SPEED_TEST, py_speed_test, 1_000_000, 10_000),
    Program("fibonacci", "scripts/fibonacci.rhai", FIBONACCI, py_fibonacci, 25, 12),
    Program("primes", "scripts/primes.rhai", PRIMES, py_primes, 1_000_000, 10_000),
    Program("for2", "scripts/for2.rhai", FOR2, py_for2, 100_000, 2_000),
    Program("mat_mul", "scripts/mat_mul.rhai", MAT_MUL, py_mat_mul, 50, 8),
    Program("strings_map", "scripts/strings_map.rhai", STRINGS_MAP, py_strings_map, 50, 2),
    Program("oop", "scripts/oop.rhai", OOP, py_oop, 100_000, 2_000),
    Program("switch", "scripts/switch.rhai", SWITCH, py_switch, 200_000, 2_000),
    Program("function_calls", "scripts/function_decl*.rhai", FUNCTION_CALLS,
            py_function_calls, 200_000, 2_000),
    Program("array_loop", "benches/eval_array.rs", ARRAY_LOOP, py_array_loop, 100_000, 2_000),
    Program("map_loop", "benches/eval_map.rs", MAP_LOOP, py_map_loop, 50_000, 1_000),
    Program("expressions", "benches/eval_expression.rs", EXPRESSIONS, py_expressions,
            200_000, 2_000),
    Program("nested_index", "benches/eval_array.rs", NESTED_INDEX, py_nested_index,
            100_000, 2_000),
    Program("iterations", "benches/iterations.rs", ITERATIONS, py_iterations, 20_000, 500),
    Program("push", "everyday", PUSH, py_push, 100_000, 2_000),
    Program("map_string_keys", "everyday", MAP_STRING_KEYS, py_map_string_keys,
            100_000, 2_000),
    Program("string_build", "everyday", STRING_BUILD, py_string_build, 50_000, 1_000),
    Program("interpolation", "everyday", INTERPOLATION, py_interpolation, 100_000, 2_000),
    Program("sort_comparator", "everyday", SORT_COMPARATOR, py_sort_comparator, 20_000, 500),
    Program("filter_map_reduce", "everyday", FILTER_MAP_REDUCE, py_filter_map_reduce,
            100_000, 2_000),
    Program("closure_calls", "everyday", CLOSURE_CALLS, py_closure_calls, 100_000, 2_000),
    Program("to_json", "everyday", TO_JSON, py_to_json, 20_000, 500),
    Program("parse_json", "everyday", PARSE_JSON, py_parse_json, 20_000, 500),
    Program("string_ops", "everyday", STRING_OPS, py_string_ops, 20_000, 500),
    Program("records", "everyday", DB_LIKE_RECORDS, py_db_like_records, 20_000, 500),
    Program("float_math", "everyday", FLOAT_MATH, py_float_math, 200_000, 2_000),
)
