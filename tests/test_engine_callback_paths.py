"""Library functions that take a callback (``map``, ``filter``, ``reduce``, ``sort`` with a
comparator, ``for_each``, ``some``/``all``, ``find``, ``index_of``, ``retain``/``drain``, ...,
and a map's ``filter``, ``map``, ``retain``/``drain``) call a closure straight away where they
can (``Runtime.collect_mapped``, ``Runtime.callback``, ``lib/arrays.py``, ``lib/maps.py``).
These tests pin what a script observes through every callback path
(closures, closures taking the index or ``this``, functions by name, curried pointers, early
exits, errors thrown from the callback): its result or error (message, position, kind) with
``max_array_size`` 100, the fewest ``max_operations`` it runs with, and the error it stops
with one operation fewer. The numbers are those of the engine before these paths existed
(main at 2bb7fd6).
"""
from __future__ import annotations

import pytest

from worker.engine import Engine, RhaiError

PRE = 'let a = []; for i in 0..80 { a.push((i * 37) % 101); } '
"""An array of 80 distinct INTs (0 to 100) in a scrambled order."""
MPRE = 'let m = #{}; for i in 0..40 { m[`k${(i * 37) % 101}`] = i; } '
"""A map of 40 properties."""

# name -> (script, outcome with max_array_size 100, fewest max_operations,
#          (line, position) of the max_operations error with one fewer)
CASES = {
    'map closure': (
        PRE + 'a.map(|x| x * 2).len',
        ('value', '80'),
        241, (1, 73)),
    'map with index': (
        PRE + 'a.map(|x, i| x + i)[7]',
        ('value', '64'),
        241, (1, 76)),
    'map this': (
        PRE + 'a.map(|| this + 1)[3]',
        ('value', '11'),
        241, (1, 75)),
    'map by name': (
        'fn twice(x) { x * 2 } ' + PRE + 'a.map("twice")[5]',
        ('value', '168'),
        241, (1, 93)),
    'map curried': (
        PRE + 'let f = |k, x| x * k; a.map(f.curry(3))[9]',
        ('value', '90'),
        241, (1, 96)),
    'map strings': (
        PRE + 'a.map(|x| `v${x}`)[4]',
        ('value', "'v47'"),
        241, (1, 75)),
    'map arrays': (
        PRE + 'a.map(|x| [x, x])[4]',
        ('error',
         'Size of array/BLOB too large: over 100 elements (max_array_size) (line '
         '1, position 58)',
         'ErrorDataTooLarge'),
        241, (1, 74)),
    'map too large': (
        'let a = []; for i in 0..30 { a.push(i); } a.map(|x| [x, x, x, x])',
        ('error',
         'Size of array/BLOB too large: over 100 elements (max_array_size) (line '
         '1, position 45)',
         'ErrorDataTooLarge'),
        91, (1, 45)),
    'map throws': (
        PRE + 'a.map(|x| if x == 50 { throw `bad ${x}` } else { x })',
        ('error',
         'Runtime error: bad 50 (line 1, position 92)\nin closure call (line 1, '
         'position 58)',
         'ErrorInFunctionCall'),
        177, (1, 58)),
    'map error': (
        PRE + 'a.map(|x| x / (x - 50))',
        ('error',
         'Division by zero: 50 / 0 (line 1, position 68)\nin closure call (line 1, '
         'position 58)',
         'ErrorInFunctionCall'),
        177, (1, 58)),
    'filter closure': (
        PRE + 'a.filter(|x| x % 3 == 0).len',
        ('value', '28'),
        241, (1, 81)),
    'filter index': (
        PRE + 'a.filter(|x, i| i % 2 == 0)[3]',
        ('value', '20'),
        241, (1, 84)),
    'filter non-bool': (
        PRE + 'a.filter(|x| 1).len',
        ('value', '0'),
        241, (1, 72)),
    'filter throws': (
        PRE + 'a.filter(|x| if x == 60 { throw 1 } else { true })',
        ('error',
         'Runtime error: 1 (line 1, position 82)\nin closure call (line 1, position'
         ' '
         '58)',
         'ErrorInFunctionCall'),
        180, (1, 58)),
    'reduce': (
        PRE + 'a.reduce(|s, x| s + x, 0)',
        ('value', '4002'),
        241, (1, 58)),
    'reduce no initial': (
        PRE + 'a.reduce(|s, x| if s == () { x } else { s + x })',
        ('value', '4002'),
        241, (1, 58)),
    'reduce index': (
        PRE + 'a.reduce(|s, x, i| s + x * i, 0)',
        ('value', '161101'),
        241, (1, 58)),
    'reduce name': (
        'fn add(s, x) { s + x } ' + PRE + 'a.reduce("add", 0)',
        ('value', '4002'),
        241, (1, 81)),
    'reduce error': (
        PRE + 'a.reduce(|s, x| s + x, "")',
        ('value',
         "'03774104784205794306734077135087236097337064380165390266310036739468319"
         '569329662397612498622599632695427915528925629935728458218559228651387511'
         "4885215895'"),
        241, (1, 58)),
    'reduce_rev': (
        PRE + 'a.reduce_rev(|s, x| s * 3 + x, 0)',
        ('error',
         'Multiplication overflow: 6032679391849966737 * 3 (line 1, position '
         '82)\nin closure call (line 1, position 58)',
         'ErrorInFunctionCall'),
        198, (1, 58)),
    'reduce_rev index': (
        PRE + 'a.reduce_rev(|s, x, i| s + i, 0)',
        ('value', '3160'),
        241, (1, 58)),
    'reduce_rev throws': (
        PRE + 'a.reduce_rev(|s, x| if x == 3 { throw s } else { s + x }, 0)',
        ('error',
         'Runtime error: 3479 (line 1, position 88)\nin closure call (line 1, '
         'position 58)',
         'ErrorInFunctionCall'),
        230, (1, 58)),
    'some': (
        PRE + 'a.some(|x| x == 44)',
        ('value', 'False'),
        241, (1, 58)),
    'some none': (
        PRE + 'a.some(|x| x > 1000)',
        ('value', 'False'),
        241, (1, 58)),
    'some index': (
        PRE + 'a.some(|x, i| i == 77)',
        ('value', 'True'),
        239, (1, 58)),
    'some non-bool': (
        PRE + 'a.some(|x| 1)',
        ('value', 'False'),
        241, (1, 58)),
    'all': (
        PRE + 'a.all(|x| x < 101)',
        ('value', 'True'),
        241, (1, 58)),
    'all early': (
        PRE + 'a.all(|x| x != 37)',
        ('value', 'False'),
        163, (1, 58)),
    'all throws': (
        PRE + 'a.all(|x| if x == 37 { throw "x" } else { true })',
        ('error',
         'Runtime error: x (line 1, position 79)\nin closure call (line 1, position'
         ' '
         '58)',
         'ErrorInFunctionCall'),
        163, (1, 58)),
    'find': (
        PRE + 'a.find(|x| x > 90)',
        ('value', '94'),
        170, (1, 58)),
    'find from': (
        PRE + 'a.find(|x| x > 90, 50)',
        ('value', '99'),
        172, (1, 58)),
    'find none': (
        PRE + 'a.find(|x| x > 900)',
        ('value', 'None'),
        241, (1, 58)),
    'find index': (
        PRE + 'a.find(|x, i| i == 30)',
        ('value', '100'),
        192, (1, 58)),
    'find_map': (
        PRE + 'a.find_map(|x| if x > 95 { x * 10 })',
        ('value', '970'),
        181, (1, 58)),
    'find_map from': (
        PRE + 'a.find_map(|x, i| if x > 95 { i }, 60)',
        ('value', '60'),
        162, (1, 58)),
    'index_of closure': (
        PRE + 'a.index_of(|x| x == 5)',
        ('value', '52'),
        214, (1, 58)),
    'index_of from': (
        PRE + 'a.index_of(|x| x < 10, 40)',
        ('value', '41'),
        163, (1, 58)),
    'index_of name': (
        'fn small(x) { x < 3 } ' + PRE + 'a.index_of("small")',
        ('value', '0'),
        162, (1, 80)),
    'index_of value string': (
        'let a = ["a", "b"]; a.index_of("b")',
        ('value', '1'),
        3, (1, 23)),
    'index_of throws': (
        PRE + 'a.index_of(|x| if x == 5 { throw 5 } else { false })',
        ('error',
         'Runtime error: 5 (line 1, position 83)\nin closure call (line 1, position'
         ' '
         '58)',
         'ErrorInFunctionCall'),
        214, (1, 58)),
    'retain': (
        PRE + 'let r = a.retain(|x| x % 2 == 0); [a.len, r.len, a[3], r[3]]',
        ('value', '[40, 40, 84, 67]'),
        241, (1, 90)),
    'retain index': (
        PRE + 'let r = a.retain(|x, i| i < 7); [a.len, r.len]',
        ('value', '[7, 73]'),
        241, (1, 88)),
    'drain': (
        PRE + 'let r = a.drain(|x| x % 5 == 0); [a.len, r.len, r[2]]',
        ('value', '[59, 21, 20]'),
        241, (1, 89)),
    'drain throws': (
        PRE + 'let r = a.drain(|x| if x == 9 { throw 9 } else { true }); a.len',
        ('error',
         'Runtime error: 9 (line 1, position 88)\nin closure call (line 1, position'
         ' '
         '66)',
         'ErrorInFunctionCall'),
        195, (1, 116)),
    'for_each': (
        PRE + 'a.for_each(|| this *= 2); a[5]',
        ('value', '168'),
        241, (1, 84)),
    'for_each index': (
        PRE + 'a.for_each(|i| this = this * 1000 + i); a[9]',
        ('value', '30009'),
        241, (1, 98)),
    'for_each throws': (
        PRE + 'a.for_each(|| { if this == 37 { throw "e" } this += 1 }); a',
        ('error',
         'Runtime error: e (line 1, position 88)\nin closure call (line 1, position'
         ' '
         '58)',
         'ErrorInFunctionCall'),
        163, (1, 114)),
    'dedup': (
        PRE + 'let b = a.map(|x| x / 10); b.dedup(|p, q| p == q); b.len',
        ('value', '80'),
        400, (1, 109)),
    'zip': (
        PRE + 'let b = a.map(|x| x + 1); a.zip(b, |x, y| x * y)[6]',
        ('value', '420'),
        401, (1, 105)),
    'zip index': (
        PRE + 'a.zip(a, |x, y, i| i)[6]',
        ('value', '6'),
        241, (1, 78)),
    'sort int': (
        PRE + 'a.sort(|p, q| q - p); a[0] * 1000 + a[79]',
        ('value', '100000'),
        574, (1, 90)),
    'sort bool': (
        PRE + 'a.sort(|p, q| p < q); [a[0], a[1], a[79]]',
        ('value', '[0, 1, 100]'),
        558, (1, 78)),
    'sort float': (
        PRE + 'a.sort(|p, q| (p - q).to_float()); a[0]',
        ('value', '0'),
        240, (1, 93)),
    'sort string result': (
        PRE + 'a.sort(|p, q| "x"); a[0]',
        ('value', '0'),
        240, (1, 78)),
    'sort unit result': (
        PRE + 'a.sort(|p, q| ()); a[0]',
        ('value', '0'),
        240, (1, 77)),
    'sort name': (
        'fn cmp(p, q) { p - q } ' + PRE + 'a.sort("cmp"); a[0]',
        ('value', '0'),
        558, (1, 96)),
    'sort curried': (
        PRE + 'let f = |k, p, q| (p - q) * k; a.sort(f.curry(-1)); a[0]',
        ('value', '100'),
        574, (1, 110)),
    'sort throws': (  # Rhai's sort_by ignores a comparer's error (``.ok()``): was an error
        PRE + 'a.sort(|p, q| if p == 37 { throw p } else { p - q }); a[0]',
        ('value', '0'),
        558, (1, 112)),
    'sort error': (
        PRE + 'a.sort(|p, q| p - q + ""); a[0]',
        ('value', '0'),
        240, (1, 85)),
    'sort_by': (
        PRE + 'a.sort_by(|p, q| p - q); a[0]',
        ('value', '0'),
        558, (1, 83)),
    'order': (
        PRE + 'let b = a.order(|p, q| q - p); [a[0], b[0]]',
        ('value', '[0, 100]'),
        574, (1, 87)),
    'sort mixed': (
        'let a = [3, "x", 1, 2.0, true]; a.sort(|p, q| 0); a',
        ('value', "[3, 'x', 1, 2.0, True]"),
        10, (1, 35)),
    'sort big': (
        'let a = []; let x = 5; for i in 0..2000 { x = (x * 1103515245 + 12345) %'
        ' '
        '2147483648; a.push(x % 1000); } a.sort(|p, q| p - q); a[1999]',
        ('error',
         'Size of array/BLOB too large: over 100 elements (max_array_size) (line '
         '1, position 88)',
         'ErrorDataTooLarge'),
        23307, (1, 130)),
    'nested map': (
        PRE + 'a.map(|x| [x].map(|y| y + 1)[0]).len',
        ('value', '80'),
        401, (1, 89)),
    'map in filter': (
        PRE + 'a.filter(|x| [x].map(|y| y)[0] > 50).len',
        ('value', '39'),
        401, (1, 93)),
    'deep callbacks': (
        'fn f(n) { if n == 0 { [1].map(|x| x) } else { [n].map(|x| f(n - 1))[0] } } f(20)',
        ('value', '[1]'),
        64, (1, 76)),
    'filter name throws': (
        'fn bad(x) { if x == 60 { throw x } true } ' + PRE + 'a.filter("bad")',
        ('error',
         "Runtime error: 60 (line 1, position 26)\nin call to function 'bad' (line "
         '1, position 100)',
         'ErrorInFunctionCall'),
        180, (1, 100)),
    'some Fn': (
        'fn big(x) { x > 90 } ' + PRE + 'a.some(Fn("big"))',
        ('value', 'True'),
        170, (1, 79)),
    'for_each name': (  # Rhai's for_each takes only a function pointer: was 11
        'fn bump() { this += 1 } ' + PRE + 'a.for_each("bump"); a[3]',
        ('error',
         'Function not found: for_each (array, &str | ImmutableString | String) (line 1, '
         'position 82)',
         'ErrorFunctionNotFound'),
        81, (1, 102)),
    'for_each pointer to a function': (
        'fn bump() { this += 1 } ' + PRE + 'a.for_each(Fn("bump")); a[3]',
        ('value', '11'),
        241, (1, 106)),
    'zip name': (  # Rhai's zip takes only a function pointer (FnPtr): was 7056
        'fn mul(x, y) { x * y } ' + PRE + 'a.zip(a, "mul")[5]',
        ('error',
         'Function not found: zip (array, array, &str | ImmutableString | String) (line 1, '
         'position 81)',
         'ErrorFunctionNotFound'),
        81, (1, 95)),
    'zip pointer to a function': (
        'fn mul(x, y) { x * y } ' + PRE + 'a.zip(a, Fn("mul"))[5]',
        ('value', '7056'),
        241, (1, 99)),
    'map overloaded name': (
        'fn f(x) { x } fn f(x, i) { i } ' + PRE + 'a.map("f")[4]',
        ('value', '47'),
        241, (1, 98)),
    'map name index': (
        'fn g(x, i) { x * i } ' + PRE + 'a.map("g")[4]',
        ('value', '188'),
        241, (1, 88)),
    'map name too large': (
        'fn h(x) { [x, x, x, x] } let a = []; for i in 0..30 { a.push(i); } a.map("h")',
        ('error',
         'Size of array/BLOB too large: over 100 elements (max_array_size) (line '
         '1, position 70)',
         'ErrorDataTooLarge'),
        91, (1, 70)),
    'find name error': (  # Rhai's find takes only a function pointer: was 0
        'fn odd(x) { x / (x - 52) == 0 } ' + PRE + 'a.find("odd")',
        ('error',
         'Function not found: find (array, &str | ImmutableString | String) (line 1, '
         'position 90)',
         'ErrorFunctionNotFound'),
        81, (1, 90)),
    'find pointer to a function': (
        'fn odd(x) { x / (x - 52) == 0 } ' + PRE + 'a.find(Fn("odd"))',
        ('value', '0'),
        162, (1, 90)),
    'all name': (
        'fn small(x) { x < 100 } ' + PRE + 'a.all("small")',
        ('value', 'False'),
        192, (1, 82)),
    'dedup name': (
        'fn near(p, q) { (p - q).abs() < 20 } ' + PRE + 'a.dedup("near"); a.len',
        ('value', '80'),
        240, (1, 112)),
    'sort by name bool': (
        'fn before(p, q) { p > q } ' + PRE + 'a.sort("before"); a[0]',
        ('value', '100'),
        574, (1, 102)),
    'map filter': (
        MPRE + 'm.filter(|k, v| v % 3 == 0).len()',
        ('value', '14'),
        121, (1, 90)),
    'map filter this': (
        MPRE + 'm.filter(|k| this > 20).len()',
        ('value', '19'),
        121, (1, 86)),
    'map filter name': (
        'fn even(k, v) { v % 2 == 0 } ' + MPRE + 'm.filter("even").keys()',
        ('value',
         "['k0', 'k100', 'k13', 'k19', 'k20', 'k26', 'k33', 'k40', 'k46', 'k47', "
         "'k53', 'k6', 'k60', 'k67', 'k73', 'k74', 'k80', 'k87', 'k93', 'k94']"),
        121, (1, 108)),
    'map map': (
        MPRE + 'm.map(|k, v| v * 2).values()',
        ('value',
         '[0, 6, 60, 28, 50, 72, 12, 34, 56, 78, 22, 18, 40, 62, 2, 24, 46, 68, 8,'
         ' '
         '30, 52, 74, 14, 44, 36, 58, 20, 42, 64, 4, 26, 48, 70, 10, 32, 66, 54, '
         '76, 16, 38]'),
        121, (1, 82)),
    'map map strings': (
        MPRE + 'm.map(|k, v| k + v).values()',
        ('value',
         "['k00', 'k103', 'k10030', 'k1314', 'k1625', 'k1936', 'k206', 'k2317', "
         "'k2628', 'k2939', 'k311', 'k309', 'k3320', 'k3631', 'k371', 'k4012', "
         "'k4323', 'k4634', 'k474', 'k5015', 'k5326', 'k5637', 'k577', 'k622', "
         "'k6018', 'k6329', 'k6710', 'k7021', 'k7332', 'k742', 'k7713', 'k8024', "
         "'k8335', 'k845', 'k8716', 'k933', 'k9027', 'k9338', 'k948', 'k9719']"),
        121, (1, 82)),
    'map map too large': (
        MPRE + 'm.map(|k, v| [v, v, v])',
        ('error',
         'Size of array/BLOB too large: over 100 elements (max_array_size) (line '
         '1, position 64)',
         'ErrorDataTooLarge'),
        121, (1, 64)),
    'map map this': (
        MPRE + 'm.map(|k| { this += 1; k }); m.values()',
        ('value',
         '[1, 4, 31, 15, 26, 37, 7, 18, 29, 40, 12, 10, 21, 32, 2, 13, 24, 35, 5, '
         '16, 27, 38, 8, 23, 19, 30, 11, 22, 33, 3, 14, 25, 36, 6, 17, 34, 28, 39,'
         ' '
         '9, 20]'),
        121, (1, 93)),
    'map drain': (
        MPRE + 'let r = m.drain(|k, v| v > 30); [m.len(), r.len()]',
        ('value', '[31, 9]'),
        121, (1, 94)),
    'map retain': (
        MPRE + 'let r = m.retain(|k, v| v > 30); [m.len(), r.keys()]',
        ('value',
         "[9, ['k0', 'k10', 'k100', 'k13', 'k16', 'k20', 'k23', 'k26', 'k3', "
         "'k30', 'k33', 'k37', 'k40', 'k43', 'k47', 'k50', 'k53', 'k57', 'k6', "
         "'k60', 'k63', 'k67', 'k70', 'k74', 'k77', 'k80', 'k84', 'k87', 'k90', "
         "'k94', 'k97']]"),
        121, (1, 95)),
    'map retain throws': (
        MPRE + 'm.retain(|k, v| if v == 7 { throw k } else { true })',
        ('error',
         'Runtime error: k57 (line 1, position 90)\nin closure call (line 1, '
         'position 64)',
         'ErrorInFunctionCall'),
        104, (1, 64)),
    'map filter error': (
        MPRE + 'm.filter(|k, v| v / (v - 9) > 0)',
        ('error',
         'Division by zero: 9 / 0 (line 1, position 80)\nin closure call (line 1, '
         'position 64)',
         'ErrorInFunctionCall'),
        93, (1, 64)),
}


def outcome(script: str, **limits: int) -> tuple:
    """``("value", repr(value))``, or ``("error", message, kind)``."""
    try:
        return "value", repr(Engine(**limits).eval(script))
    except RhaiError as error:
        return "error", str(error), error.kind


@pytest.mark.parametrize("name", list(CASES))
def test_callbacks_give_the_same_values_and_errors(name):
    script, expected, _, _ = CASES[name]
    assert outcome(script, max_array_size=100) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_callbacks_count_the_same_operations(name):
    script, _, fewest, (line, position) = CASES[name]
    assert "max_operations" not in str(outcome(script, max_operations=fewest))
    stop = (f"Too many operations: more than {fewest - 1} (max_operations) "
            f"(line {line}, position {position})")
    assert outcome(script, max_operations=fewest - 1) == ("error", stop, "ErrorTooManyOperations")
