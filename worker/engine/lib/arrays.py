"""Rhai array functions (``BasicArrayPackage``).

Functions that change the array take it by reference (``mutates=True``) and edit it in place.
Callbacks may be function pointers or function names; they are called the way Rhai does, with
the element as parameter or bound to ``this``, plus the index when they take one more parameter.
An element passed as a parameter is a copy (Rhai clones it); one bound to ``this`` is the array's
own, so what the callback does to it stays (``_Walk``). A callback that changes the array the
function is walking (through a variable it captured) is Rhai's ``ErrorDataRace``.
"""
from __future__ import annotations

from functools import cmp_to_key, partial
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from ..errors import EvalError, LimitError, ScriptExit
from ..natives import ANY, native
from ..values import Char, FnPtr, Instant, RhaiRange, type_name
from .common import (CONTAINERS, Walk, copy_value, fn_ptr, index_in, is_not_found, offset_len,
                     range_start_len, rhai_equals)

CALLBACK = (FnPtr, str)
"""A callback parameter: a function pointer or the name of a function."""


def _each_callback(name: str, *params: Any, **flags: Any) -> Callable[[Callable], Callable]:
    """Register one overload per callback kind (FnPtr and function-name string) at ``CALLBACK``:
    for the functions Rhai also takes a function's name for (its deprecated ``*_by_fn_name``,
    src/api/deprecated.rs: map, filter, index_of, some, all, dedup, reduce, reduce_rev, sort,
    drain, retain); the others (for_each, find, find_map, sort_by, order, order_by, zip) take
    only a function pointer."""

    def register(fn: Callable) -> Callable:
        for kind in CALLBACK:
            native(name, *(kind if p is CALLBACK else p for p in params), **flags)(fn)
        return fn

    return register


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


class _Walk(Walk):
    """One pass of a library function over an array, calling a callback on its elements as
    Rhai's ``call_raw_with_extra_args`` does (src/packages/array_basic.rs: ``array.iter_mut()``,
    each element ``Some(item)``): a copy of the element when it is moved into the parameters,
    the element itself when it is bound to ``this`` (changes written back, as through Rhai's
    ``&mut``).

    A callback can reach the array only through a captured variable, so a change to it (its
    length after a call, its elements by the end) is Rhai's ``ErrorDataRace`` (see ``Walk``).
    Callers test the length after every call inline, ``len(a) == walk.length or
    walk.raced()``: a call of a method per element would cost a fifth of a cheap callback's
    time."""

    __slots__ = ("length", "flat")

    def __init__(self, array: list) -> None:
        super().__init__(array)
        self.length = len(array)
        self.flat = False  # no element is an array, map or blob (known once ``arguments`` ran)

    def arguments(self, start: int = 0, backwards: bool = False) -> Iterable[Any]:
        """The elements from ``start`` (or all, the last first) as a callback gets them moved
        into its parameters: copies (Rhai's ``this_ptr.clone()``); scalars are immutable and
        passed as they are."""
        items = self.items
        chosen: Iterable[Any] = (reversed(items) if backwards else
                                 islice(items, start, None) if start else items)
        self.flat = CONTAINERS.isdisjoint(map(type, items))
        return chosen if self.flat else map(copy_value, chosen)

    def results(self, ctx: Any, fp: FnPtr | str, start: int = 0) -> Iterator[Any]:
        """The callback's result for each element from ``start`` (``fp(element[, index])`` or
        ``this``-bound), as they are asked for (a caller may stop early, then ``done``; it
        checks the length after each); a closure or script function of one arity is called
        directly (``ctx.callback``)."""
        fp = fn_ptr(fp)
        one = ctx.callback(fp, 1)
        if one is not None:
            return map(one, self.arguments(start))
        two = ctx.callback(fp, 2)
        if two is not None:
            return map(two, self.arguments(start), range(start, self.length))
        return (self.call(ctx, fp, i, [], 0) for i in range(start, self.length))

    def call(self, ctx: Any, fp: FnPtr, i: int, args: list, move_to: int | None) -> Any:
        """Call ``fp`` on element ``i`` the general way (``call_with_extras``, index last)."""
        return self.call_at(ctx, fp, i, args, [i], move_to)


@_each_callback("drain", list, CALLBACK, ctx=True, mutates=True)
def drain_filter(ctx: Any, a: list, fp: Any) -> list:
    """Remove the elements the predicate accepts and return them."""
    return _partition(ctx, a, fp, keep_when=False)


@_each_callback("retain", list, CALLBACK, ctx=True, mutates=True)
def retain_filter(ctx: Any, a: list, fp: Any) -> list:
    """Keep the elements the predicate accepts; remove and return the others."""
    return _partition(ctx, a, fp, keep_when=True)


def _partition(ctx: Any, a: list, fp: Any, keep_when: bool) -> list:
    walk = _Walk(a)
    verdicts = [verdict is True for verdict in walk.results(ctx, fp)
                if len(a) == walk.length or walk.raced()]
    walk.done(ctx)
    kept, removed = [], []
    for item, verdict in zip(walk.items, verdicts):
        (kept if verdict == keep_when else removed).append(item)
    a[:] = kept
    return removed


@native("for_each", list, FnPtr, ctx=True, mutates=True)
def for_each(ctx: Any, a: list, fp: Any) -> None:
    """Call the function on every element bound to ``this`` (changes are kept); Rhai's
    ``for_each`` moves nothing into the parameters, so one parameter is the index."""
    fp = fn_ptr(fp)
    walk = _Walk(a)
    code = ctx.callee(fp, 0)
    indexed = code is None
    if indexed:
        code = ctx.callee(fp, 1)
    if code is None:
        for i in range(walk.length):
            walk.call(ctx, fp, i, [], None)
        walk.done(ctx)
        return
    depth = ctx.depth - 1  # called straight away, as ``call_with_extras`` calls it
    items, length = walk.items, walk.length
    for i in range(length):
        item = items[i]
        box = [item]
        if indexed:
            code(depth, box, i)
        else:
            code(depth, box)
        items[i] = box[0]
        if len(a) != length or a[i] is not item:
            walk.raced()
        a[i] = box[0]
    walk.bound = True
    walk.done(ctx)


@_each_callback("map", list, CALLBACK, ctx=True)
def map_items(ctx: Any, a: list, fp: Any) -> list:
    """The callback's results, their sizes counted as they arrive (``map`` is COLLECTING)."""
    walk = _Walk(a)
    fp = fn_ptr(fp)
    results = ctx.collect_mapped(fp, walk.arguments(), walk)
    if results is None:
        results = [result for result in walk.results(ctx, fp)
                   if len(a) == walk.length or walk.raced()]
    walk.done(ctx)
    return results


@_each_callback("filter", list, CALLBACK, ctx=True)
def filter_items(ctx: Any, a: list, fp: Any) -> list:
    """The elements the predicate accepts, as they are after the call (``this`` may change
    them), copied."""
    walk = _Walk(a)
    length = walk.length
    chosen = [item for verdict, item in zip(walk.results(ctx, fp), walk.items)
              if (len(a) == length or walk.raced()) and verdict is True]
    walk.done(ctx)
    if walk.flat:
        return chosen
    return [copy_value(item) if type(item) in CONTAINERS else item for item in chosen]


@native("contains", list, ANY)
def contains(a: list, value: Any) -> bool:
    """Whether an element equals ``value`` (Rhai ``==``); drives the ``in`` operator."""
    return any(rhai_equals(item, value) for item in a)


def _start(length: int, start: int) -> int:
    return offset_len(length, start, 0)[0]


def _find_index(ctx: Any, a: list, fp: Any, start: int) -> int:
    """The index of the first element from ``start`` the predicate accepts, or -1."""
    walk = _Walk(a)
    first = _start(walk.length, start)
    found = -1
    for i, verdict in enumerate(walk.results(ctx, fp, first), first):
        if len(a) != walk.length:
            walk.raced()
        if verdict is True:
            found = i
            break
    walk.done(ctx)
    return found


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


@native("find", list, FnPtr, ctx=True)
def find(ctx: Any, a: list, fp: Any) -> Any:
    return find_from(ctx, a, fp, 0)


@native("find", list, FnPtr, int, ctx=True)
def find_from(ctx: Any, a: list, fp: Any, start: int) -> Any:
    """The first element (from ``start``) the predicate accepts, or ``()``."""
    index = _find_index(ctx, a, fp, start)
    return None if index < 0 else copy_value(a[index])


@native("find_map", list, FnPtr, ctx=True)
def find_map(ctx: Any, a: list, fp: Any) -> Any:
    return find_map_from(ctx, a, fp, 0)


@native("find_map", list, FnPtr, int, ctx=True)
def find_map_from(ctx: Any, a: list, fp: Any, start: int) -> Any:
    """The first result of the mapper (from ``start``) that is not ``()``."""
    walk = _Walk(a)
    found = None
    for result in walk.results(ctx, fp, _start(walk.length, start)):
        if len(a) != walk.length:
            walk.raced()
        if result is not None:
            found = result
            break
    walk.done(ctx)
    return found


@_each_callback("some", list, CALLBACK, ctx=True)
def some(ctx: Any, a: list, fp: Any) -> bool:
    """Whether the predicate accepts an element (it is not called after the first)."""
    walk = _Walk(a)
    found = any(verdict is True for verdict in walk.results(ctx, fp)
                if len(a) == walk.length or walk.raced())
    walk.done(ctx)
    return found


@_each_callback("all", list, CALLBACK, ctx=True)
def all_items(ctx: Any, a: list, fp: Any) -> bool:
    """Whether the predicate accepts every element (it is not called after a refusal)."""
    walk = _Walk(a)
    every = all(verdict is True for verdict in walk.results(ctx, fp)
                if len(a) == walk.length or walk.raced())
    walk.done(ctx)
    return every


@native("dedup", list, mutates=True)
def dedup(a: list) -> None:
    """Remove consecutive duplicates (Rhai ``==``)."""
    _dedup(a, rhai_equals)


@_each_callback("dedup", list, CALLBACK, ctx=True, mutates=True)
def dedup_with(ctx: Any, a: list, fp: Any) -> None:
    """Remove each element the comparer says equals the element kept before it."""
    _dedup(a, _dedup_same(ctx, fn_ptr(fp), _Walk(a)))


def _dedup_same(ctx: Any, fp: FnPtr, walk: _Walk) -> Callable[[Any, Any], bool]:
    """Whether ``fp(kept, element)`` (called as ``_comparer_call`` calls it) says the two are
    the same, as Rhai's ``dedup_by_comparer`` asks it: only a ``true`` result is; an error in
    the comparer is ``false`` (``unwrap_or(false)``), ``exit`` included, and so is a call that
    changed the array's length, a data race inside the call in Rhai (the array is put back;
    ``dedup`` then replaces it anyway). Limits still stop the script (the sandbox; Rhai would
    only stop at the next operation)."""
    call = _comparer_call(ctx, fp, walk)

    def same(kept: Any, item: Any) -> bool:
        try:
            verdict = call(kept, item)
        except LimitError:
            raise
        except (EvalError, ScriptExit):
            return False
        if len(walk.container) != walk.length:
            walk.restore()
            return False
        return verdict is True

    return same


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
    return _fold(ctx, fn_ptr(fp), a, False, initial)


@_each_callback("reduce_rev", list, CALLBACK, ctx=True)
def reduce_rev(ctx: Any, a: list, fp: Any) -> Any:
    return reduce_rev_from(ctx, a, fp, None)


@_each_callback("reduce_rev", list, CALLBACK, ANY, ctx=True)
def reduce_rev_from(ctx: Any, a: list, fp: Any, initial: Any) -> Any:
    """Like ``reduce`` but from the last element to the first."""
    return _fold(ctx, fn_ptr(fp), a, True, initial)


def _fold(ctx: Any, fp: FnPtr, a: list, backwards: bool, initial: Any) -> Any:
    """``initial`` folded with the elements of ``a`` in turn (``backwards``: the last first),
    as ``reduce`` calls the reducer (``call_with_extras``: (sum, copy of the element[,
    index]) or the element bound to ``this``); a closure or script function taking (sum, x)
    or (sum, x, index) is called directly (``ctx.callback``)."""
    walk = _Walk(a)
    result = initial
    positions = range(walk.length - 1, -1, -1) if backwards else range(walk.length)
    two = ctx.callback(fp, 2)
    three = None if two is not None else ctx.callback(fp, 3)
    length = walk.length
    if two is not None:
        for item in walk.arguments(backwards=backwards):
            result = two(result, item)
            if len(a) != length:
                walk.raced()
    elif three is not None:
        for i, item in zip(positions, walk.arguments(backwards=backwards)):
            result = three(result, item, i)
            if len(a) != length:
                walk.raced()
    else:
        for i in positions:
            result = walk.call(ctx, fp, i, [result], 1)
    walk.done(ctx)
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
@native("sort_by", list, FnPtr, ctx=True, mutates=True)
def sort_with(ctx: Any, a: list, fp: Any) -> None:
    """Sort with a comparer, as Rhai's ``sort_by`` (src/packages/array_basic.rs): it gets copies
    of two elements; an INT result orders them by its sign, ``true`` puts the first first,
    ``false`` the second; an error in the comparer (``.ok()``) or any other result orders the
    two by type (``_type_order``), so elements of one type stay as they are."""
    walk = _Walk(a)
    a[:] = _sorted_by(ctx, walk, list(a), fn_ptr(fp))


def _sorted_by(ctx: Any, walk: _Walk, items: list, fp: FnPtr) -> list:
    """``items`` sorted by the comparer ``fp`` (see ``sort_with``). ``walk`` watches the array
    the method was called on: a comparer changing it is a data race in Rhai, an error the sort
    ignores, so the array is put back as it was. (Here the racing comparer's result still
    counts: a test of the array after each of the n log n comparisons would cost a sixth of
    a sort's time.)"""
    ordered = sorted(items, key=cmp_to_key(_sort_order(ctx, fp, walk)))
    if walk.container != walk.items:
        walk.restore()
    return ordered


def _sort_order(ctx: Any, fp: FnPtr, walk: _Walk) -> Callable[[Any, Any], int]:
    """The order of two elements ``sort_by`` takes from the comparer (called as
    ``_comparer_call`` calls it): its INT result by sign, ``true`` -1, ``false`` 1, an error
    (``.ok()``: ``exit`` included; limits still stop the script) or any other result by type.
    A closure taking two on an array of scalars is called straight away (a sort makes
    n log n calls)."""
    code = ctx.callee(fp, 2)
    depth = ctx.depth - 1
    if code is None or not CONTAINERS.isdisjoint(map(type, walk.items)):
        code = _as_code(_comparer_call(ctx, fp, walk))

    def order(x: Any, y: Any) -> int:
        try:
            verdict = code(depth, None, x, y)
        except LimitError:
            raise
        except (EvalError, ScriptExit):
            return _type_order(x, y)
        if type(verdict) is int:
            return verdict
        if type(verdict) is bool:
            return -1 if verdict else 1
        return _type_order(x, y)

    return order


def _as_code(call: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``call`` in the form of a closure's compiled code, ``code(levels, this, x, y)``."""
    return lambda _levels, _this, x, y: call(x, y)


def _comparer_call(ctx: Any, fp: FnPtr, walk: _Walk) -> Callable[[Any, Any], Any]:
    """``fp(x, y)`` as Rhai's ``sort`` and ``dedup`` call a comparer: copies of two elements of
    the array ``walk`` watches, no ``this`` (``call_raw(&ctx, None, [x.clone(), y.clone()])``);
    a closure or script function taking two is called directly."""
    code = ctx.callee(fp, 2)
    if code is not None:
        call: Callable[[Any, Any], Any] = partial(code, ctx.depth - 1, None)
    else:
        def call(x: Any, y: Any) -> Any:
            return ctx.call(fp, [x, y])
    if CONTAINERS.isdisjoint(map(type, walk.items)):
        return call
    return lambda x, y: call(copy_value(x), copy_value(y))


_TYPE_RANKS = {int: 0, float: 1, list: 3, str: 4, dict: 5, Char: 7, type(None): 8, bool: 9,
               bytearray: 10, Instant: 11, FnPtr: 12}
"""The order of Rust's ``TypeId``s of Rhai's types in the oracle's build (v1.26.0, x86-64
Linux), which ``sort_by`` falls back on: INT, FLOAT, exclusive range (2), array, string, map,
inclusive range (6), char, (), bool, blob, timestamp, Fn (sorting one element of each with a
comparer returning ``()``). ``TypeId`` is a hash of the type: another Rust build may differ."""


def _type_rank(value: Any) -> int:
    if type(value) is RhaiRange:
        return 6 if value.inclusive else 2
    return _TYPE_RANKS.get(type(value), len(_TYPE_RANKS) + 2)


def _type_order(x: Any, y: Any) -> int:
    """``x.type_id().cmp(&y.type_id())``: equal for values of one type."""
    rx, ry = _type_rank(x), _type_rank(y)
    return (rx > ry) - (rx < ry)


@native("order", list, FnPtr, ctx=True)
@native("order_by", list, FnPtr, ctx=True)
def order_with(ctx: Any, a: list, fp: Any) -> list:
    """A copy sorted by the comparer (see ``sort_by``)."""
    return _sorted_by(ctx, _Walk(a), copy_value(a), fn_ptr(fp))


@native("zip", list, list, FnPtr, ctx=True)
def zip_with(ctx: Any, a: list, b: list, fp: FnPtr) -> list:
    """Pairs of elements (as long as the shorter array) mapped by ``fp(x, y[, index])``: as
    Rhai's ``zip``, a copy of the element of the first and the element of the second (an
    argument: a copy already), no ``this``, and only a function pointer (no function name)."""
    walk = _Walk(a)
    ys = list(b)
    positions = range(min(walk.length, len(ys)))
    xs = walk.arguments()
    two = ctx.callback(fp, 2)  # a closure |x, y| (or |x, y, i|) called directly
    if two is not None:
        calls: Iterable[Any] = map(two, xs, ys)
    elif (three := ctx.callback(fp, 3)) is not None:
        calls = map(three, xs, ys, positions)
    else:
        calls = (_zip_call(ctx, fp, x, y, i) for i, x, y in zip(positions, xs, ys))
    results = [result for result in calls if len(a) == walk.length or walk.raced()]
    walk.done(ctx)
    return results


def _zip_call(ctx: Any, fp: FnPtr, x: Any, y: Any, index: int) -> Any:
    """``fp(x, y)``, or ``fp(x, y, index)`` when it takes three parameters or has no
    two-parameter form (then its error is that call's), as ``call_raw_with_extra_args`` with
    no ``this``."""
    arity = ctx.arity(fp)
    if arity == 3:
        return ctx.call(fp, [x, y, index])
    try:
        return ctx.call(fp, [x, y])
    except EvalError as err:
        if arity == 2 or not is_not_found(err, fp.name):
            raise
    return ctx.call(fp, [x, y, index])
