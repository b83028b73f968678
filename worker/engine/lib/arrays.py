"""Rhai array functions (``BasicArrayPackage``).

Functions that change the array take it by reference (``mutates=True``) and edit it in place.
Callbacks may be function pointers or function names; they are called the way Rhai does, with
the element as parameter or bound to ``this``, plus the index when they take one more parameter.
"""
from __future__ import annotations

from functools import cmp_to_key
from itertools import islice
from typing import Any, Callable, Iterator

from ..errors import EvalError
from ..natives import ANY, native
from ..values import Char, FnPtr, RhaiRange, type_name
from .common import (CONTAINERS, call_with_extras, copy_value, fn_ptr, index_in, is_not_found,
                     offset_len, range_start_len, rhai_equals)

CALLBACK = (FnPtr, str)
"""A callback parameter: a function pointer or the name of a function."""


def _each_callback(name: str, *params: Any, **flags: Any) -> Callable[[Callable], Callable]:
    """Register one overload per callback kind (FnPtr and function-name string) at ``CALLBACK``."""

    def register(fn: Callable) -> Callable:
        for kind in CALLBACK:
            native(name, *(kind if p is CALLBACK else p for p in params), **flags)(fn)
        return fn

    return register


def _apply(ctx: Any, fp: FnPtr | str, item: Any, index: int) -> Any:
    """Call a predicate/mapper with the element (or ``this``) and optionally its index."""
    return call_with_extras(ctx, fn_ptr(fp), item, [], [index], 0)[0]


@native("len", list)
@native("get$len", list)
def length(a: list) -> int:
    return len(a)


@native("is_empty", list)
@native("get$is_empty", list)
def is_empty(a: list) -> bool:
    return not a


@native("get", list, int)
def get(a: list, index: int) -> Any:
    """The element at ``index`` (negative counts from the end), or ``()`` if out of range."""
    pos = index_in(len(a), index)
    return None if pos is None else copy_value(a[pos])


@native("set", list, int, ANY, mutates=True)
def set_item(a: list, index: int, value: Any) -> None:
    """Replace the element at ``index``; out of range leaves the array unchanged."""
    pos = index_in(len(a), index)
    if pos is not None:
        a[pos] = copy_value(value)


@native("push", list, ANY, mutates=True)
def push(a: list, item: Any) -> None:
    """Append ``item`` (the runtime checks the grown array's sizes: one more element)."""
    a.append(copy_value(item))


@native("append", list, list, ctx=True, mutates=True)
def append(ctx: Any, a: list, other: list) -> None:
    a.extend(copy_value(other))
    ctx.check_array(a)


@native("insert", list, int, ANY, ctx=True, mutates=True)
def insert(ctx: Any, a: list, index: int, item: Any) -> None:
    """Insert before ``index`` (negative counts from the end; clamped to the ends)."""
    if index < 0:
        index = max(len(a) + index, 0)
    a.insert(min(index, len(a)), copy_value(item))
    ctx.check_array(a)


@native("pad", list, int, ANY, ctx=True, mutates=True)
def pad(ctx: Any, a: list, target: int, item: Any) -> None:
    """Append copies of ``item`` until the array has ``target`` elements (the size limit is
    checked first; only arrays, maps and blobs need a copy each, other values are immutable)."""
    n = target - len(a)
    if n > 0:
        ctx.check_repeat(a, n, item)
        if type(item) in (list, dict, bytearray):
            a.extend([copy_value(item) for _ in range(n)])
        else:
            a.extend([item] * n)


@native("pop", list, mutates=True)
def pop(a: list) -> Any:
    """Remove and return the last element, or ``()`` if empty."""
    return a.pop() if a else None


@native("shift", list, mutates=True)
def shift(a: list) -> Any:
    """Remove and return the first element, or ``()`` if empty."""
    return a.pop(0) if a else None


@native("remove", list, int, mutates=True)
def remove(a: list, index: int) -> Any:
    """Remove and return the element at ``index``, or ``()`` if out of range."""
    pos = index_in(len(a), index)
    return None if pos is None else a.pop(pos)


@native("clear", list, mutates=True)
def clear(a: list) -> None:
    a.clear()


@native("truncate", list, int, mutates=True)
def truncate(a: list, n: int) -> None:
    """Keep the first ``n`` elements (none if ``n`` <= 0)."""
    del a[max(n, 0):]


@native("chop", list, int, mutates=True)
def chop(a: list, n: int) -> None:
    """Keep the last ``n`` elements (none if ``n`` <= 0)."""
    del a[:len(a) - min(max(n, 0), len(a))]


@native("reverse", list, mutates=True)
def reverse(a: list) -> None:
    a.reverse()


@native("splice", list, int, int, list, ctx=True, mutates=True)
def splice(ctx: Any, a: list, start: int, count: int, replace: list) -> None:
    """Replace ``count`` elements from ``start`` with the elements of another array."""
    start, count = offset_len(len(a), start, count)
    a[start:start + count] = copy_value(replace)
    ctx.check_array(a)


@native("splice", list, RhaiRange, list, ctx=True, mutates=True)
def splice_range(ctx: Any, a: list, rng: RhaiRange, replace: list) -> None:
    splice(ctx, a, *range_start_len(rng), replace)


@native("extract", list, int, int)
def extract(a: list, start: int, count: int) -> list:
    """A copy of ``count`` elements from ``start``."""
    start, count = offset_len(len(a), start, count)
    return copy_value(a[start:start + count])


@native("extract", list, int)
def extract_tail(a: list, start: int) -> list:
    return extract(a, start, len(a))


@native("extract", list, RhaiRange)
def extract_range(a: list, rng: RhaiRange) -> list:
    return extract(a, *range_start_len(rng))


@native("split", list, int, mutates=True)
def split(a: list, index: int) -> list:
    """Cut the array at ``index``; return the tail and keep the head."""
    start, _ = offset_len(len(a), index, len(a))
    tail = a[start:]
    del a[start:]
    return tail


@native("drain", list, int, int, mutates=True)
def drain(a: list, start: int, count: int) -> list:
    """Remove ``count`` elements from ``start`` and return them."""
    start, count = offset_len(len(a), start, count)
    removed = a[start:start + count]
    del a[start:start + count]
    return removed


@native("drain", list, RhaiRange, mutates=True)
def drain_range(a: list, rng: RhaiRange) -> list:
    return drain(a, *range_start_len(rng))


@native("retain", list, int, int, mutates=True)
def retain(a: list, start: int, count: int) -> list:
    """Keep only ``count`` elements from ``start``; remove and return all the others."""
    if not a or count <= 0:
        return []
    start, count = offset_len(len(a), start, count)
    if count == 0:
        return []
    removed = a[:start] + a[start + count:]
    a[:] = a[start:start + count]
    return removed


@native("retain", list, RhaiRange, mutates=True)
def retain_range(a: list, rng: RhaiRange) -> list:
    return retain(a, *range_start_len(rng))


@_each_callback("drain", list, CALLBACK, ctx=True, mutates=True)
def drain_filter(ctx: Any, a: list, fp: Any) -> list:
    """Remove the elements the predicate accepts and return them."""
    return _partition(ctx, a, fp, keep_when=False)


@_each_callback("retain", list, CALLBACK, ctx=True, mutates=True)
def retain_filter(ctx: Any, a: list, fp: Any) -> list:
    """Keep the elements the predicate accepts; remove and return the others."""
    return _partition(ctx, a, fp, keep_when=True)


def _partition(ctx: Any, a: list, fp: Any, keep_when: bool) -> list:
    kept, removed = [], []
    items = list(a)
    for item, verdict in zip(items, _results(ctx, fp, items)):
        (kept if (verdict is True) == keep_when else removed).append(item)
    a[:] = kept
    return removed


@_each_callback("for_each", list, CALLBACK, ctx=True, mutates=True)
def for_each(ctx: Any, a: list, fp: Any) -> None:
    """Call the function on every element bound to ``this`` (changes are kept)."""
    fp = fn_ptr(fp)
    code = ctx.callee(fp, 0)
    indexed = code is None
    if indexed:
        code = ctx.callee(fp, 1)
    if code is not None:  # called straight away, as ``call_with_extras`` calls it
        depth = ctx.depth - 1
        for i in range(len(a)):
            if i >= len(a):
                break
            box = [a[i]]
            if indexed:
                code(depth, box, i)
            else:
                code(depth, box)
            a[i] = box[0]
        return
    for i in range(len(a)):
        if i >= len(a):
            break
        _, a[i] = call_with_extras(ctx, fp, a[i], [], [i], None)


def _results(ctx: Any, fp: FnPtr | str, items: list, start: int = 0) -> Iterator[Any]:
    """The callback's result for each of ``items`` from ``start`` in turn, as it is asked for
    (a caller may stop early), called as ``_apply`` calls it; a closure taking the element
    (and the index) is called directly (``ctx.callback``)."""
    fp = fn_ptr(fp)
    one = ctx.callback(fp, 1)
    if one is not None:
        return map(one, islice(items, start, None))
    two = ctx.callback(fp, 2)
    if two is not None:
        return map(two, islice(items, start, None), range(start, len(items)))
    return (_apply(ctx, fp, items[i], i) for i in range(start, len(items)))


@_each_callback("map", list, CALLBACK, ctx=True)
def map_items(ctx: Any, a: list, fp: Any) -> list:
    """The callback's results, their sizes counted as they arrive (``map`` is COLLECTING)."""
    items = list(a)
    fp = fn_ptr(fp)
    results = ctx.collect_mapped(fp, items)
    if results is None:
        results = [_apply(ctx, fp, item, i) for i, item in enumerate(items)]
    return results


@_each_callback("filter", list, CALLBACK, ctx=True)
def filter_items(ctx: Any, a: list, fp: Any) -> list:
    items = list(a)
    return [copy_value(item) if type(item) in CONTAINERS else item
            for item, verdict in zip(items, _results(ctx, fp, items)) if verdict is True]


@native("contains", list, ANY)
def contains(a: list, value: Any) -> bool:
    """Whether an element equals ``value`` (Rhai ``==``); drives the ``in`` operator."""
    return any(rhai_equals(item, value) for item in a)


def _start(length: int, start: int) -> int:
    return offset_len(length, start, 0)[0]


def _find_index(ctx: Any, a: list, fp: Any, start: int) -> int:
    items = list(a)
    first = _start(len(items), start)
    for i, verdict in enumerate(_results(ctx, fp, items, first), first):
        if verdict is True:
            return i
    return -1


def _equal_index(a: list, value: Any, start: int) -> int:
    for i in range(_start(len(a), start), len(a)):
        if rhai_equals(a[i], value):
            return i
    return -1


@native("index_of", list, ANY, ctx=True)
def index_of(ctx: Any, a: list, target: Any) -> int:
    return index_of_from(ctx, a, target, 0)


@native("index_of", list, ANY, int, ctx=True)
def index_of_from(ctx: Any, a: list, target: Any, start: int) -> int:
    """Index of the first element equal to ``target`` or, for a function pointer, accepted by it.

    A string names a predicate function when such a function exists (as Rhai allows);
    otherwise it is a value to look for.
    """
    if type(target) is FnPtr:
        return _find_index(ctx, a, target, start)
    if type(target) is str and a:
        try:
            return _find_index(ctx, a, target, start)
        except EvalError as err:
            if not is_not_found(err, target):
                raise
    return _equal_index(a, target, start)


@_each_callback("find", list, CALLBACK, ctx=True)
def find(ctx: Any, a: list, fp: Any) -> Any:
    return find_from(ctx, a, fp, 0)


@_each_callback("find", list, CALLBACK, int, ctx=True)
def find_from(ctx: Any, a: list, fp: Any, start: int) -> Any:
    """The first element (from ``start``) the predicate accepts, or ``()``."""
    items = list(a)
    index = _find_index(ctx, items, fp, start)
    return None if index < 0 else copy_value(items[index])


@_each_callback("find_map", list, CALLBACK, ctx=True)
def find_map(ctx: Any, a: list, fp: Any) -> Any:
    return find_map_from(ctx, a, fp, 0)


@_each_callback("find_map", list, CALLBACK, int, ctx=True)
def find_map_from(ctx: Any, a: list, fp: Any, start: int) -> Any:
    """The first result of the mapper (from ``start``) that is not ``()``."""
    items = list(a)
    for result in _results(ctx, fp, items, _start(len(items), start)):
        if result is not None:
            return result
    return None


@_each_callback("some", list, CALLBACK, ctx=True)
def some(ctx: Any, a: list, fp: Any) -> bool:
    for verdict in _results(ctx, fp, list(a)):
        if verdict is True:
            return True
    return False


@_each_callback("all", list, CALLBACK, ctx=True)
def all_items(ctx: Any, a: list, fp: Any) -> bool:
    for verdict in _results(ctx, fp, list(a)):
        if verdict is not True:
            return False
    return True


@native("dedup", list, mutates=True)
def dedup(a: list) -> None:
    """Remove consecutive duplicates (Rhai ``==``)."""
    _dedup(a, rhai_equals)


@_each_callback("dedup", list, CALLBACK, ctx=True, mutates=True)
def dedup_with(ctx: Any, a: list, fp: Any) -> None:
    """Remove each element the comparer says equals the element kept before it."""
    fp = fn_ptr(fp)
    same = ctx.callback(fp, 2) or (lambda kept, item: ctx.call(fp, [kept, item]))
    _dedup(a, lambda kept, item: same(kept, item) is True)


def _dedup(a: list, same: Any) -> None:
    kept: list = []
    for item in list(a):
        if not kept or not same(kept[-1], item):
            kept.append(item)
    a[:] = kept


@_each_callback("reduce", list, CALLBACK, ctx=True)
def reduce(ctx: Any, a: list, fp: Any) -> Any:
    return reduce_from(ctx, a, fp, None)


@_each_callback("reduce", list, CALLBACK, ANY, ctx=True)
def reduce_from(ctx: Any, a: list, fp: Any, initial: Any) -> Any:
    """Fold the array: the reducer gets (accumulated, element[, index]); starts from ``initial``."""
    items = list(a)
    return _fold(ctx, fn_ptr(fp), items, False, initial)


@_each_callback("reduce_rev", list, CALLBACK, ctx=True)
def reduce_rev(ctx: Any, a: list, fp: Any) -> Any:
    return reduce_rev_from(ctx, a, fp, None)


@_each_callback("reduce_rev", list, CALLBACK, ANY, ctx=True)
def reduce_rev_from(ctx: Any, a: list, fp: Any, initial: Any) -> Any:
    """Like ``reduce`` but from the last element to the first."""
    items = list(a)
    return _fold(ctx, fn_ptr(fp), items, True, initial)


def _fold(ctx: Any, fp: FnPtr, items: list, backwards: bool, initial: Any) -> Any:
    """``initial`` folded with ``items`` in turn (``backwards``: the last first), as ``reduce``
    calls the reducer (``call_with_extras``); a closure or script function taking (sum, x)
    or (sum, x, index) is called directly (``ctx.callback``)."""
    result = initial
    elements = reversed(items) if backwards else items
    positions = range(len(items) - 1, -1, -1) if backwards else range(len(items))
    two = ctx.callback(fp, 2)
    if two is not None:
        for item in elements:
            result = two(result, item)
        return result
    three = ctx.callback(fp, 3)
    if three is not None:
        for i, item in zip(positions, elements):
            result = three(result, item, i)
        return result
    for i, item in zip(positions, elements):
        result = call_with_extras(ctx, fp, item, [result], [i], 1)[0]
    return result


_SORTABLE = (int, float, str, Char, bool)


@native("sort", list, ctx=True, mutates=True)
def sort(ctx: Any, a: list, descending: bool = False) -> None:
    """Sort elements of one type (numbers, strings, chars, booleans, units) in natural order
    (Rhai's ``sort_with_builtin``: other element types cannot be sorted)."""
    if len(a) < 2:
        return
    kind = type(a[0])
    if any(type(item) is not kind for item in a):
        raise EvalError("elements of different types cannot be sorted",
                        kind="ErrorFunctionNotFound")
    if kind is type(None):
        return
    if kind not in _SORTABLE:
        raise EvalError(f"elements of {type_name(a[0])} cannot be sorted",
                        kind="ErrorFunctionNotFound")
    if kind is float and any(x != x for x in a):  # NaN: compare as Rust's partial_cmp
        a.sort(key=cmp_to_key(_counted(ctx, _float_order)), reverse=descending)
    else:
        a.sort(reverse=descending)


@native("sort_desc", list, ctx=True, mutates=True)
def sort_desc(ctx: Any, a: list) -> None:
    sort(ctx, a, descending=True)


@native("order", list, ctx=True)
def order(ctx: Any, a: list) -> list:
    """A sorted copy (``sort`` leaves the array as it is)."""
    result = copy_value(a)
    sort(ctx, result)
    return result


@native("order_desc", list, ctx=True)
def order_desc(ctx: Any, a: list) -> list:
    result = copy_value(a)
    sort(ctx, result, descending=True)
    return result


def _counted(ctx: Any, order: Any) -> Any:
    """``order`` counting one operation per 64 comparisons (a long sort meets the limits)."""
    calls = [0]

    def counted(x: Any, y: Any) -> int:
        calls[0] += 1
        if not calls[0] & 63:
            ctx.charge(64)
        return order(x, y)

    return counted


def _float_order(x: float, y: float) -> int:
    """Rust's ``partial_cmp`` with NaN treated as equal to everything."""
    return (x > y) - (x < y)


@_each_callback("sort", list, CALLBACK, ctx=True, mutates=True)
@_each_callback("sort_by", list, CALLBACK, ctx=True, mutates=True)
def sort_with(ctx: Any, a: list, fp: Any) -> None:
    """Sort with a comparer returning an INT (negative, zero, positive) or a bool (``true``:
    the first goes first), as Rhai's ``sort_by``; any other result orders by type."""
    fp = fn_ptr(fp)
    code = ctx.callee(fp, 2)
    if code is None:
        def order(x: Any, y: Any) -> int:
            verdict = ctx.call(fp, [x, y])
            return verdict if type(verdict) is int else _verdict_order(verdict, x, y)
    else:  # a closure |x, y| (or script function) called straight away, as ``ctx.callback``
        depth = ctx.depth - 1

        def order(x: Any, y: Any) -> int:
            verdict = code(depth, None, x, y)
            return verdict if type(verdict) is int else _verdict_order(verdict, x, y)

    a[:] = sorted(list(a), key=cmp_to_key(order))


def _verdict_order(verdict: Any, x: Any, y: Any) -> int:
    """The order of ``x`` and ``y`` a comparer's result that is not an INT gives (Rhai's
    ``sort_by``): ``true`` puts ``x`` first, ``false`` ``y``; any other result orders them by
    type."""
    if type(verdict) is bool:
        return -1 if verdict else 1
    return (type(x).__name__ > type(y).__name__) - (type(x).__name__ < type(y).__name__)


@_each_callback("order", list, CALLBACK, ctx=True)
@_each_callback("order_by", list, CALLBACK, ctx=True)
def order_with(ctx: Any, a: list, fp: Any) -> list:
    """A copy sorted by the comparer (see ``sort_by``)."""
    result = copy_value(a)
    sort_with(ctx, result, fp)
    return result


@_each_callback("zip", list, list, CALLBACK, ctx=True)
def zip_with(ctx: Any, a: list, b: list, fp: Any) -> list:
    """Pairs of elements (as long as the shorter array) mapped by ``fp(x, y[, index])``."""
    fp = fn_ptr(fp)
    xs, ys = list(a), list(b)
    two = ctx.callback(fp, 2)  # a closure |x, y| (or |x, y, i|) called directly
    if two is not None:
        return list(map(two, xs, ys))
    three = ctx.callback(fp, 3)
    if three is not None:
        return list(map(three, xs, ys, range(min(len(xs), len(ys)))))
    return [call_with_extras(ctx, fp, x, [y], [i], 0)[0] for i, (x, y) in enumerate(zip(xs, ys))]
