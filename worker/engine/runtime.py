"""What compiled scripts call at run time: function dispatch, indexing, properties, iteration,
limits, ``eval`` and the ctx API the standard library uses (``call``, ``check_*``).

One ``Runtime`` per script run; the generated code reaches its methods through names bound in
the run's namespace (``_call``, ``_index``, ...), so nothing in a script can name Python objects.
"""
from __future__ import annotations

import re
import time
from functools import partial
from typing import Any, Callable, Iterable, Iterator

from . import ops
from .corefns import BUILTINS, not_found
from .errors import (EvalError, LimitError, ParseError, RhaiError, ThrownError, bit_bounds_error,
                     bounds_error, index_mismatch_error, indexer_unavailable, mismatch_error,
                     property_error)
from .natives import ANY, LIBRARY, NativeFn
from .ops import CONTAINERS
from .sizes import SIZED, SizeLimits, array_too_large, map_too_large, string_bytes
from .values import (INT_MAX, INT_MIN, Char, FnPtr, Instant, RhaiRange, StepRange,
                     data_type_name, int_step_range, to_display, type_name)

COMPARED_BY_OPS = frozenset({list, dict, FnPtr, float})
"""Types ``==``/``!=`` leave to ``ops`` even when both sides have them: containers (element by
element) and FLOATs (Rhai's relative epsilon, ``src/func/builtin.rs``)."""
TICK = 1024  # loop iterations counted locally before they are accounted
GRANT = 250  # operations the ``_ops`` countdown gets at a time: small ints, which CPython
# caches, so counting allocates nothing
CONSTANT_WORK = frozenset({
    "len", "get$len", "is_empty", "get$is_empty", "push", "pop", "shift", "get", "set",
    "insert", "remove", "clear", "truncate", "append",
})
"""Library functions whose work does not grow with their first argument's size (``push``
appends): they count no operations of their own. Every other library call counts one operation
per element of a first-argument array or map, or one per 64 characters or bytes of a
first-argument string or blob (C-speed work), so ``max_operations`` and the deadline also bound
loops of library calls on large collections; constant work (a scalar or short string first
argument) is covered by the operation of the statement or loop step that makes the call."""
C_SPEED = frozenset({"reverse", "extract", "chop", "splice", "split", "keys", "values"})
"""Array/map functions whose walk runs at C speed (when they call no script callback): they
count one operation per 64 elements, like string and blob functions."""
NOT_GROWING = frozenset({"reverse", "sort", "dedup", "retain", "drain", "truncate", "chop",
                         "clear", "remove", "pop", "shift", "split"})
"""Functions that change their first argument only by reordering or removing elements: its
sizes cannot grow, so it is not walked again afterwards."""
MAP_FN_EXEMPT = frozenset({"call", "curry"})
"""Method names Rhai's ``make_method_call`` handles before a map's function pointers (as does
``is_shared`` with no arguments): ``m.call(f)`` calls ``f`` on ``m``."""


def calls_map_fn(name: str, arity: int) -> bool:
    """Whether ``m.name(<arity> args)`` on an object map holding a function pointer under
    ``name`` calls that function (Rhai's ``make_method_call``: before any other function)."""
    return name not in MAP_FN_EXEMPT and (arity > 0 or name != "is_shared")


FORMATTING = frozenset({"to_string", "to_debug", "to_json"})
"""Conversions to text: the value's own sizes are checked before it is formatted (a value
within the limits formats to at most a few times them; one from the host may not be). They
take no runtime context and change nothing in place, so ``Runtime.invoke_plain`` runs them and
makes that check."""
COLLECTING = frozenset({"map"})
"""Library functions whose result collects their callbacks' results: those results' sizes are
added up as they arrive, so an oversized result fails before it is all built."""
SELF_CHECKED = frozenset({"pad"})
"""Array functions that check (and record in ``known``) the sizes of their result before
growing the array, so the runtime need not walk it again."""
APPENDING = {"push": 1, "insert": 2, "append": 1}
"""Array functions that only add the value at this argument position: the array's new size is
its last known size plus that value's, so a ``push`` loop is not quadratic."""
PARSING = frozenset({"parse_json"})
"""Functions whose result is parsed from their first argument, a string: it holds at most one
array element per character of the text, one map entry per four (``"":0``) and no more string
bytes than the text has, so a result parsed from a text (within the limits) no longer than
``max_array_size`` (less 2, see ``SPLITTING``) and ``max_map_size`` fits them without a walk."""
SPLITTING = frozenset({"split", "split_rev"})
"""Functions that cut their first argument, when it is a string, into pieces (Rust's ``split``,
``splitn``, ``rsplit``, ``split_whitespace``, a cut at a position): at most one piece per
character and two more (an empty separator gives an empty piece at each end), no more string
bytes than the string has and no maps: they are ``PARSING`` functions too."""
WORK_UNITS = 1 << 16  # units of uncounted work between two looks at the clock (see spend)
KNOWN_ARRAYS = 16  # arrays whose sizes are remembered at a time (see Runtime.remember)
FEW_PARTS = 8  # interpolations of up to this many parts are built by appending (Runtime.interp)
SHORT_TEXT = 4096  # interpolation results up to this long cost no work units (Runtime.check_text)


class NativeCall:
    """A library overload with the runtime's per-call decisions about it made once: whether
    and how it counts operations, and which size checks its result and first argument need
    (from the name sets above)."""

    __slots__ = ("fn", "name", "ctx", "mutates", "writes_back", "counts_work", "c_speed",
                 "formatting", "collecting", "appended_at", "may_grow", "self_checked", "parsing",
                 "plain", "direct", "builtin", "returns")

    def __init__(self, native: NativeFn) -> None:
        name = native.name
        self.fn, self.name, self.ctx = native.fn, name, native.ctx
        self.mutates, self.writes_back = native.mutates, native.writes_back
        self.counts_work = name not in CONSTANT_WORK
        self.c_speed = name in C_SPEED
        self.formatting = name in FORMATTING
        self.collecting = name in COLLECTING
        self.appended_at = APPENDING.get(name)
        self.may_grow = name not in NOT_GROWING
        self.self_checked = name in SELF_CHECKED
        self.parsing = name in PARSING or (name in SPLITTING and native.params[:1] == (str,))
        # neither the runtime context nor an argument changed in place: the few steps of
        # ``Runtime.invoke_plain`` are all such a call needs
        self.plain = not (native.ctx or native.mutates)
        # and no operations to count nor a value to write back: a getter such as ``len`` is
        # called and its result checked, nothing more (see ``Runtime.prop``)
        self.direct = self.plain and not self.counts_work and not native.writes_back
        self.builtin = name in BUILTINS  # an engine built-in of this name is called instead
        self.returns = native.returns  # the type of every result, when promised


NATIVE_CALLS: dict[tuple, NativeCall | None] = {}
"""(name, argument types...) -> the matching overload: the library is fixed once imported, so
every run shares what earlier runs looked up."""
NOT_LOOKED_UP = object()  # a key not yet in NATIVE_CALLS
GETTERS: dict[tuple, NativeCall] = {}
"""(property name, object type) -> the getter ``obj.name`` calls (``get$name`` or ``name``),
once found: like ``NATIVE_CALLS``, shared by every run."""


def native_for(key: tuple) -> NativeCall | None:
    """The library overload for ``key`` = (name, argument types...): the first whose
    parameter types match exactly (``ANY`` matches every type), remembered in
    ``NATIVE_CALLS``. The runtime asks with the types of the values a call has; the compiler
    with the types it knows statically (``ExpressionCompiler.bound_method``)."""
    found = NATIVE_CALLS.get(key, NOT_LOOKED_UP)
    if found is not NOT_LOOKED_UP:
        return found
    found = None
    types = key[1:]
    for fn in LIBRARY.get(key[0], ()):
        if len(fn.params) == len(types) and all(
                p is ANY or t is p for p, t in zip(fn.params, types)):
            found = NativeCall(fn)
            break
    NATIVE_CALLS[key] = found
    return found


def call_levels(max_call_levels: int) -> int:
    """The ``_d`` a script's main body starts with: generated functions get the call levels
    still allowed and fail on entry when none are left (``if not _d``)."""
    return (max_call_levels or 1_000_000) + 1


def chunk_size(max_ops: int) -> int:
    """Loop iterations counted locally before they are added to the operation count."""
    return min(TICK, max_ops) if max_ops else TICK


def to_python(v: Any) -> Any:
    """A Rhai value as the host sees it: plain str, bytes, lists and dicts."""
    t = type(v)
    if t is Char:
        return str(v)
    if t is list:
        return [to_python(x) for x in v]
    if t is dict:
        return {k: to_python(v[k]) for k in sorted(v)}
    if t is bytearray:
        return bytes(v)
    return v


HOST_NESTING = 200  # nesting of lists/dicts accepted from the host (scope, host results)


def from_python(v: Any, what: str = "value", active: set | None = None) -> Any:
    """A host value as a Rhai value; anything that is not plain data is refused with an
    EvalError naming ``what``: other types, non-string map keys, a list or dict that contains
    itself, nesting deeper than HOST_NESTING."""
    t = type(v)
    if v is None or t in (int, bool, str, Char, FnPtr, Instant, RhaiRange, StepRange):
        if t is int and not (-(1 << 63) <= v <= INT_MAX):
            raise EvalError(f"Integer too large for a Rhai INT: {v}", kind="ErrorArithmetic")
        return v
    if t is float:
        return v
    if t in (bytes, bytearray):
        return bytearray(v)
    if t not in (list, tuple, dict):
        raise EvalError(f"Unsupported {what} type: {t.__name__}", kind="ErrorMismatchDataType")
    active = set() if active is None else active
    if id(v) in active:
        raise EvalError(f"The {what} contains itself", kind="ErrorMismatchDataType")
    if len(active) >= HOST_NESTING:
        raise EvalError(f"The {what} is nested more than {HOST_NESTING} levels deep",
                        kind="ErrorMismatchDataType")
    active.add(id(v))
    try:
        if t is dict:
            if any(type(k) is not str for k in v):
                raise EvalError(f"Map keys must be strings in {what}",
                                kind="ErrorMismatchDataType")
            return {k: from_python(v[k], what, active) for k in sorted(v)}
        return [from_python(x, what, active) for x in v]
    finally:
        active.discard(id(v))


def irange(a: Any, b: Any, inclusive: bool) -> range:
    """``a..b`` / ``a..=b`` as a Python range for a ``for`` loop."""
    if type(a) is int and type(b) is int:
        return range(a, b + 1 if inclusive else b)
    return ops.make_range(a, b, inclusive).as_range()


def switch_range(value: Any, start: int, end: int, inclusive: bool) -> bool:
    """Whether a ``switch`` value matches a range case (an INT or FLOAT inside it, or that
    range)."""
    if type(value) is int or type(value) is float:
        return start <= value <= end if inclusive else start <= value < end
    return type(value) is RhaiRange and value == RhaiRange(start, end, inclusive)


def switch_value(value: Any, case: Any) -> bool:
    """Whether a ``switch`` value matches a constant case: Rhai looks the value's hash up, so
    only a value of the same type matches (``1.0`` is not case ``1``, ``'a'`` not ``"a"``)."""
    return type(value) is type(case) and value == case


UNSET = object()  # an ``eval`` script's top-level variable not declared yet


def eval_out(variables: dict, values: dict) -> None:
    """Hand an ``eval`` script's top-level variables back to its caller."""
    for name, value in values.items():
        if value is not UNSET:
            variables[name] = value


_FIELD_PATTERNS = {
    "ErrorFunctionNotFound": re.compile(r"Function not found: (?P<function>.*)", re.S),
    "ErrorVariableNotFound": re.compile(r"Variable not found: (?P<variable>.*)", re.S),
    "ErrorMismatchDataType": re.compile(
        r"Data type incorrect: (?P<actual>.*) \(expecting (?P<requested>.*)\)", re.S),
    "ErrorMismatchOutputType": re.compile(
        r"Output type incorrect: (?P<actual>.*) \(expecting (?P<requested>.*)\)", re.S),
    "ErrorDotExpr": re.compile(r"(?P<property>.*)", re.S),
    "ErrorIndexingType": re.compile(r"Indexer unavailable: (?P<type>.*)", re.S),
}


def error_fields(kind: str, message: str) -> dict:
    """The data Rhai's error variant carries, read back from its message."""
    pattern = _FIELD_PATTERNS.get(kind)
    match = pattern.fullmatch(message) if pattern else None
    return match.groupdict() if match else {}


INT_OPERATORS = {"+": ops.add, "-": ops.sub, "*": ops.mul}


def i64(r: int, op: str, a: int, b: int) -> int:
    """``r``, the result of the inline INT fast path ``a op b`` once it left the one-digit
    range, if it fits an i64; else the generic operator raises Rhai's overflow error, whose
    message names the operands."""
    if INT_MIN <= r <= INT_MAX:
        return r
    return INT_OPERATORS[op](a, b)


def partial_chunk(chunk: range | tuple, last: Any) -> int:
    """Iterations a ``break`` left of a chunk (a range of numbers, or a tuple of one value):
    up to and including ``last``."""
    if type(chunk) is range and type(last) is int and last in chunk:
        return chunk.index(last) + 1
    return len(chunk)


def no_var(name: str) -> None:
    """Assignment to a variable that was never declared."""
    raise EvalError(f"Variable not found: {name}", kind="ErrorVariableNotFound")


def const_fail(name: str) -> None:
    """Changing part of a constant (``const a = [1]; a[0] = 2;``)."""
    raise EvalError(f"Cannot modify constant '{name}'", kind="ErrorAssignmentToConstant")


class Runtime:
    """State of one script run: limits, output callbacks, function tables, operation count.

    Keep instances (and ModuleRuntime's) under 30 attributes: beyond that CPython 3.11 no
    longer stores them inline, and every ``self.x`` in the hot paths gets slower."""

    def __init__(self, limits: dict, on_print: Callable[[str], Any],
                 on_debug: Callable[[str], Any], host_fns: dict, ns: dict,
                 script_fns: dict, eval_hook: Callable[..., Any]) -> None:
        self.limits = limits
        self.on_print = on_print
        self.on_debug = on_debug
        self.host_fns = host_fns
        self.ns = ns
        self.fns = script_fns  # (name, arity) -> python function (d, tb, *args)
        self.eval_hook = eval_hook
        # the names of script functions, and of ``fn type.name()`` methods without the type
        # (set by the engine): a method call of another name needs no look-up in ``fns``
        self.method_names: frozenset[str] = frozenset()
        # the script position of an error, from its traceback (set by the engine)
        self.locate: Callable[[BaseException], tuple[int, int]] = lambda exc: (0, 0)
        # Rhai's ErrorInFunctionCall wrapping of an error, from its traceback (set by the engine)
        self.in_function_call: Callable[[RhaiError], RhaiError] = lambda exc: exc
        self.max_ops = limits["max_operations"] or 0
        self.chunk_size = chunk_size(self.max_ops)
        # take ``n`` operations off the script's countdown and give what is left; set it
        # (both replaced by the script's, see ``engine.countdown_access``)
        self.take_ops: Callable[[int], int] = lambda n: self.granted - n
        self.set_ops: Callable[[int], None] = lambda value: None
        max_string = limits["max_string_size"] or 0
        self.max_array = limits["max_array_size"] or 0
        self.max_map = limits["max_map_size"] or 0
        self.size = SizeLimits(max_string, self.max_array, self.max_map)
        self.quarter_string = self.size.max_string // 4  # see SizeLimits.check_string
        # one dict for the runtime's life: generated code reads it (``_known``, see
        # ``ExpressionCompiler.push_onto``)
        self.known: dict[int, list] = {}
        timeout = limits["timeout"]
        self.reset(time.monotonic() + timeout if timeout else 0.0)

    def reset(self, deadline: float) -> None:
        """Start a run from scratch: every attribute that changes while a script runs is set
        here, and only here, to its initial value (the engine reuses a runtime for another run
        of the same script, see ``Engine.eval``). Also resets the script's countdown ``_ops``
        once ``set_ops`` is the script's."""
        self.depth = 0  # call level of the native call in progress (see invoke_at_depth)
        self.total = 0  # operations accounted so far
        self.granted = min(GRANT, self.max_ops) if self.max_ops else GRANT  # last countdown
        self.set_ops(self.granted)
        self.deadline = deadline
        self.known.clear()  # id -> [array, its length, its 3 sizes], see remember
        self.collected: tuple | None = None  # sizes of a COLLECTING native's callback results
        self.work = WORK_UNITS  # see spend
        # False when a scope value is over a size limit: every value the script makes is
        # checked as it is made, so only then must a value be walked before it is formatted
        self.values_within_limits = True
        self.modules: Any = None  # the ModuleView of code that uses modules (modules.py)
        # a closure of this run's code was made: it may outlive the run (returned, thrown,
        # given to a host function) and it calls into this runtime and namespace, so they
        # must never serve another run
        self.handed_out = False

    # ---- limits ---------------------------------------------------------------------------
    def tick(self) -> None:
        """The countdown ``_ops`` ran out: account the operations, enforce max_operations and
        the timeout, and grant the next batch (at most ``GRANT``, at least 1)."""
        self.total += self.granted - self.take_ops(0)
        if self.max_ops and self.total > self.max_ops:
            raise LimitError("max_operations",
                             f"Too many operations: more than {self.max_ops} (max_operations)")
        if self.deadline and time.monotonic() > self.deadline:
            raise self.timed_out()
        grant = GRANT
        if self.max_ops:  # at least 1: the countdown reaching 0 is what calls ``tick``
            left = self.max_ops - self.total
            if left < grant:
                grant = left if left > 0 else 1
        self.granted = grant
        self.set_ops(grant)

    def chunk(self) -> int:
        """A loop used up its local budget of ``chunk_size`` operations: account and check."""
        left = self.take_ops(self.chunk_size)
        if left <= 0:
            self.tick()
        return self.chunk_size

    def chunk_done(self, n: int) -> None:
        """A ``for`` loop over a range finished a chunk of ``n`` iterations."""
        left = self.take_ops(n)
        if left <= 0:
            self.tick()

    def ranges(self, a: Any, b: Any, inclusive: bool) -> Iterator[range]:
        """``a..b`` as consecutive ranges of at most ``chunk_size`` numbers (``number_chunks``);
        a loop left by ``break`` counts its last range itself (with ``partial_chunk``)."""
        if type(a) is not int or type(b) is not int:
            raise ops.no_op("..=" if inclusive else "..", a, b)
        return self.number_chunks(range(a, b + 1 if inclusive else b))

    def call_ranges(self, d: int, *args: Any) -> Iterator[range | tuple]:
        """``for x in range(...)``: what ``range(...)``, called by name as any call is, gives,
        chunked as ``ranges`` chunks ``a..b``. An INT range comes in ranges of numbers (see
        ``number_chunks``); any other value (a FLOAT range, or what a script's own ``range``
        returns) one item per chunk, counted one by one. The call is made here, at once, so
        its errors have the position of the call. INT arguments of the engine's ``range``
        (no script function takes the name: ``call_name``'s rule) that make a valid range
        need no call: their numbers are known."""
        if "range" not in self.method_names and type(args[0]) is int and type(args[1]) is int:
            if len(args) == 2:
                return self.number_chunks(range(args[0], args[1]))
            if type(args[2]) is int and args[2]:
                return self.number_chunks(int_step_range(*args))
        value = self.call_name(d, "range", *args)
        t = type(value)
        numbers = (value.int_range() if t is StepRange else value.as_range() if t is RhaiRange
                   else None)
        if numbers is None:
            return self.one_by_one(self.iterate(value))
        return self.number_chunks(numbers)

    def number_chunks(self, numbers: range) -> Iterator[range]:
        """``numbers`` in consecutive ranges of at most ``chunk_size``, each counted (one
        operation per number) when its loop asks for the next one or ends: the iterations of
        a loop over them cost nothing."""
        size = self.chunk_size
        start = 0
        while chunk := numbers[start:start + size]:  # no len(numbers): it may exceed a C long
            yield chunk
            self.chunk_done(len(chunk))
            start += size

    def one_by_one(self, items: Iterator) -> Iterator[tuple]:
        """``items`` as chunks of one, each counted when its loop asks for the next one."""
        for item in items:
            yield (item,)
            self.chunk_done(1)

    def enter(self, d: int) -> None:
        """Before direct calls of INT-specialised functions: a call level must be left for
        them, and the countdown (already lowered by the number of calls) may have run out."""
        if d < 2:
            self.too_deep(d)
        self.tick()

    def too_deep(self, d: int) -> None:
        raise LimitError("max_call_levels",
                         f"Stack overflow: more than {self.limits['max_call_levels']} nested "
                         "function calls (max_call_levels)", kind="ErrorStackOverflow")

    def check(self, v: Any) -> Any:
        """Enforce the size limits on a value that may have grown, counting nested containers
        the way Rhai does (see ``sizes``)."""
        t = type(v)
        if t is str:
            return self.size.check_string(v)
        if t is list or t is dict or t is bytearray:
            self.size.sizes(v)
        return v

    def check_before_formatting(self, v: Any) -> Any:
        """A value about to be turned into text, which must not be much larger than the value:
        walked against the size limits only when the run was given an oversized scope value."""
        return v if self.values_within_limits else self.check(v)

    def check_long_string(self, s: str) -> str:
        """After ``s += t`` made a long string: its size, and the deadline, since the append
        may have copied the whole string (when it is shared) without counting operations."""
        if self.deadline and time.monotonic() > self.deadline:
            raise self.timed_out()
        return self.size.check_string(s)

    def check_top(self, v: Any) -> Any:
        """The library's quick check of what it just grew (the outer length; the runtime then
        checks the nested sizes of every library result and changed argument)."""
        t = type(v)
        if t is str:
            return self.size.check_string(v)
        if t is list:
            self.check_array_len(len(v))
        elif t is dict:
            if self.max_map and len(v) > self.max_map:
                raise map_too_large(self.max_map)
        elif t is bytearray:
            self.check_array_len(len(v))
        return v

    check_string = check_array = check_map = check_blob = check_top

    def check_array_len(self, n: int) -> None:
        """Enforce max_array_size on an array about to have ``n`` elements (check before
        building a big array, not after)."""
        if self.max_array and n > self.max_array:
            raise array_too_large(self.max_array)

    def remembered(self, a: list, length: int) -> tuple | None:
        """``a``'s sizes as remembered when it had ``length`` elements, if they were."""
        entry = self.known.get(id(a))
        if entry is not None and entry[0] is a and entry[1] == length:
            return entry[2], entry[3], entry[4]
        return None

    def remember(self, a: list, sizes: tuple) -> None:
        """Remember the sizes of an array that push-like functions grow, so that growing it
        again costs the added value's sizes, not a walk of the whole array (a ``push`` loop
        stays linear). A few arrays are remembered; replacing an element drops an entry.
        An entry is a list, [array, length, arrays, maps, chars]: a push of a value of no size
        updates it in place (``push_item``)."""
        if len(self.known) >= KNOWN_ARRAYS and id(a) not in self.known:
            self.known.clear()
        self.known[id(a)] = [a, len(a), *sizes]

    def grown_sizes(self, a: list, length: int, added: list) -> tuple:
        """The sizes of ``a`` (``length`` elements) plus those of the elements ``added``;
        raises a LimitError if over a limit. A remembered estimate may be high (an element
        replaced by a smaller one in generated code), so an error from it is confirmed by
        walking ``a``."""
        base = self.remembered(a, length)
        if base is not None:
            try:
                if len(added) == 1:
                    return self.size.with_element(added[0], base)
                return self.size.sizes(added, base)
            except LimitError:
                pass
        exact = self.size.sizes(a)
        if len(a) == length:
            return self.size.sizes(added, exact)
        return exact  # ``added`` is already in ``a``

    def check_pushed(self, a: list, old_len: int, value: Any) -> None:
        """``a`` (``old_len`` elements before) gained the element ``value``: for a remembered
        array, its sizes plus the value's, without walking the array."""
        entry = self.known.get(id(a))
        if entry is not None and entry[1] == old_len and entry[0] is a:
            size = self.size
            arrays, maps, chars = entry[2], entry[3], entry[4]
            tv = type(value)
            if tv is str:
                chars += len(value) if value.isascii() else string_bytes(value)
            elif tv is list or tv is dict:
                try:
                    arrays, maps, chars = size.sizes(value, (arrays, maps, chars))
                except LimitError:  # the remembered sizes may be high: confirm by a walk
                    arrays = size.max_array + 1
            elif tv is bytearray:
                arrays += 1 + len(value)
            arrays += 1
            if arrays <= size.max_array and maps <= size.max_map and chars <= size.max_string:
                entry[1:] = old_len + 1, arrays, maps, chars
                return
        self.check_grown(a, old_len, [value])

    def check_grown(self, a: list, old_len: int, added: list) -> None:
        """``a`` (``old_len`` elements before) gained the elements of the list ``added``."""
        self.remember(a, self.grown_sizes(a, old_len, added))

    def check_repeat(self, a: list, count: int, item: Any) -> None:
        """Before appending ``count`` copies of ``item`` to ``a``: would the result fit?"""
        arrays, maps, chars = self.size.sizes(a)
        one = self.size.sizes(item)
        total = (arrays + count * (1 + one[0]), maps + count * one[1], chars + count * one[2])
        self.size.check_total(total)
        self.known[id(a)] = [a, len(a) + count, *total]  # the size pad will give a

    def charge(self, n: int) -> None:
        """Count ``n`` operations of work done outside generated code (library calls, copies,
        comparisons of big values); running out of the countdown checks the limits and the
        deadline."""
        left = self.take_ops(n)
        if left <= 0:
            self.tick()

    def charge_value(self, v: Any, c_speed: bool = False) -> None:
        """Charge the work of walking ``v``: its elements (or, for work done at C speed, its
        elements / 64), or its characters or bytes / 64. Constant work (a scalar, a short
        string) costs nothing beyond the operation of the statement or loop step doing it."""
        t = type(v)
        if t is list or t is dict:
            n = len(v) >> 6 if c_speed else len(v)
        elif t is str or t is bytearray:
            n = len(v) >> 6
        else:
            return
        if n:
            self.charge(n)

    def spend(self, n: int) -> None:
        """Work that does not count as operations but takes time (copying values, moving
        long strings at memory speed): ``n`` units of about one element copied or 1 KB moved;
        the deadline is checked every WORK_UNITS units."""
        self.work -= n
        if self.work <= 0:
            self.work = WORK_UNITS
            self.check_deadline()

    def check_deadline(self) -> None:
        if self.deadline and time.monotonic() > self.deadline:
            raise self.timed_out()

    def timed_out(self) -> LimitError:
        return LimitError("timeout",
                          f"Script timed out after {self.limits['timeout']} seconds (timeout)",
                          kind="ErrorTerminated")

    def copy(self, v: Any) -> Any:
        """Rhai's value semantics (``ops.copy_value``), counting the elements copied."""
        t = type(v)
        if t is list:
            self.spend(1 + len(v))
            if CONTAINERS.isdisjoint(map(type, v)):  # nothing nested: a copy at C speed
                return v[:]
            return [self.copy(x) if type(x) in CONTAINERS else x for x in v]
        if t is dict:
            self.spend(1 + len(v))
            if CONTAINERS.isdisjoint(map(type, v.values())):
                return v.copy()
            return {k: self.copy(x) if type(x) in CONTAINERS else x for k, x in v.items()}
        if t is bytearray:
            self.spend(1 + (len(v) >> 6))
            return bytearray(v)
        return v

    def array_literal(self, items: list, stored: tuple) -> list:
        """``[a, b, ...]``: the sizes are checked before the items at the positions
        ``stored`` (values of variables, elements, properties) are copied."""
        if SIZED.isdisjoint(map(type, items)):
            self.check_array_len(len(items))
            return items
        self.check(items)
        for i in stored:
            if type(items[i]) in CONTAINERS:
                items[i] = self.copy(items[i])
        return items

    def map_literal(self, items: dict, stored: tuple) -> dict:
        """``#{a: x, ...}``: as ``array_literal``; ``stored`` are positions in key order."""
        self.size.sizes(items)
        if stored:
            keys = list(items)
            for i in stored:
                if type(items[keys[i]]) in CONTAINERS:
                    items[keys[i]] = self.copy(items[keys[i]])
        return items

    def sized_literal(self, items: list | dict, stored: tuple) -> tuple[list | dict, tuple]:
        """An array or map literal checked as ``array_literal`` / ``map_literal`` check it
        (the same errors), and its sizes, which ``push_sized`` adds to an array's."""
        sizes = self.size.sizes(items)
        if stored:
            keys = list(items) if type(items) is dict else range(len(items))
            for i in stored:
                key = keys[i]
                if type(items[key]) in CONTAINERS:
                    items[key] = self.copy(items[key])
        return items, sizes

    # ---- operators that may grow values ----------------------------------------------------
    def add(self, a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is str and type(b) is int:  # what ``ops.add`` does, without its type tests
            r = a + str(b)
            if len(r) > 4096:
                self.spend(len(r) >> 10)
            return self.size.check_string(r)
        if ta is list or ta is dict:
            if type(b) is ta:  # check the combined sizes before copying both
                self.size.sizes(b, self.size.sizes(a))
            self.charge_value(a)
            self.charge_value(b)
        r = ops.add(a, b)
        tr = type(r)
        if tr is str:  # a copy at memory speed: one operation per 4 KB
            if len(r) > 4096:
                self.spend(len(r) >> 10)
            return self.size.check_string(r)
        return self.check(r) if tr is not int and tr is not float else r

    def iadd(self, a: Any, b: Any) -> Any:
        """``a += b``: arrays append (or extend with an array), maps merge, others ``+``."""
        ta = type(a)
        if ta is str:  # the commonest: string building
            return self.add(a, b)
        if ta is list:
            added = b if type(b) is list else [b]
            grown = self.grown_sizes(a, len(a), added)  # fits before anything is copied
            a.extend(self.copy(added) if added is b else [self.copy(b)])
            self.remember(a, grown)
            return a
        if ta is dict and type(b) is dict:
            self.size.sizes(b, self.size.sizes(a))
            for k, v in b.items():
                a[k] = self.copy(v)
            return self.check(a)
        if ta is bytearray:
            if type(b) is bytearray:
                a.extend(b)
            elif type(b) is int:
                a.append(b & 0xFF)
            elif type(b) is str:
                a.extend(b.encode())
            else:
                raise ops.no_op("+=", a, b)
            return self.check(a)
        return self.add(a, b)

    def equals(self, a: Any, b: Any) -> bool:
        """``==``: comparing containers counts their elements."""
        ta = type(a)
        if ta is type(b) and ta not in COMPARED_BY_OPS:
            if ta is str and len(a) > 4096:  # a compare at memory speed: 1 per 4 KB
                self.spend(len(a) >> 10)
            return a == b  # what ``ops.equals`` does for these, without the call
        if ta in CONTAINERS:
            self.charge_value(a)
        return ops.equals(a, b)

    def not_equals(self, a: Any, b: Any) -> bool:
        ta = type(a)
        if ta is type(b) and ta not in COMPARED_BY_OPS:
            if ta is str and len(a) > 4096:
                self.spend(len(a) >> 10)
            return a != b
        if ta in CONTAINERS:
            self.charge_value(a)
        return ops.not_equals(a, b)

    def counted(self, compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        """``compare`` (``<``, ``<=``, ...) counting 1 operation per 4 KB of a long string."""
        def run(a: Any, b: Any) -> bool:
            if type(a) is str and len(a) > 4096:
                self.spend(len(a) >> 10)
            return compare(a, b)
        return run

    def contains(self, container: Any, item: Any) -> bool:
        """``item in container``: a search counts the container's elements."""
        tc = type(container)
        if tc is dict and type(item) is str:
            return item in container  # what ``ops.contains`` does, without the call
        if tc is not dict:
            self.charge_value(container)
        return ops.contains(container, item)

    def interp(self, *parts: Any) -> str:
        """A string interpolation: containers are size-checked before they are formatted.
        Up to ``FEW_PARTS`` parts are appended one by one, cheaper than a list comprehension
        (a call in 3.11) and a join; more are joined (appending could copy the text once per
        part)."""
        if len(parts) <= FEW_PARTS:
            text = ""
            for p in parts:
                text += p if type(p) is str else str(p) if type(p) is int else \
                    to_display(self.check_before_formatting(p))
        else:
            text = "".join([p if type(p) is str else str(p) if type(p) is int else
                            to_display(self.check_before_formatting(p)) for p in parts])
        if len(text) > SHORT_TEXT or len(text) > self.quarter_string:
            self.check_text(text)
        return text

    def check_text(self, text: str) -> None:
        """An interpolation's text, longer than ``SHORT_TEXT`` or than a quarter of the string
        limit (shorter ones are within it): its copy is counted (one unit per KB above
        ``SHORT_TEXT``) and its size checked."""
        if len(text) > SHORT_TEXT:  # a copy at memory speed
            self.spend(len(text) >> 10)
        if len(text) > self.quarter_string:
            self.size.check_string(text)

    # ---- indexing and properties ------------------------------------------------------------
    def index(self, obj: Any, idx: Any) -> Any:
        """``obj[idx]`` by Rhai's rule (``get_indexed_mut``, src/eval/chaining.rs): an array or
        a blob takes an INT index, a string or an INT an INT or a range (a substring, bits), a
        map a string; other values have no indexer. See ``index_error``."""
        t, ti = type(obj), type(idx)
        if t is dict and ti is str:  # generated code indexes arrays by INT itself
            return obj.get(idx)
        if t is list:
            if ti is int:
                n = len(obj)
                if -n <= idx < n:
                    return obj[idx]
                raise bounds_error("Array", idx, n)
        elif t is str:
            if ti is int:
                n = len(obj)
                if -n <= idx < n:
                    return Char(obj[idx])
                raise bounds_error("String", idx, n)
            if ti is RhaiRange:
                s, e = self.slice_bounds(len(obj), idx)
                if e - s > 4096:  # a copy at memory speed: 1 operation per 4 KB
                    self.spend((e - s) >> 10)
                return obj[s:e]
        elif t is int:
            if ti is int:
                bit = self.bit_pos(idx)
                return bool((obj >> bit) & 1)
            if ti is RhaiRange:
                s, e = self.bit_range(idx)
                if e <= s:
                    return 0
                mask = ((1 << (e - s)) - 1) << s
                mask = mask - (1 << 64) if mask > INT_MAX else mask  # an i64, as in Rhai
                return (obj & mask) >> s  # the top bit, when taken, extends the sign
        elif t is bytearray:
            if ti is int:
                n = len(obj)
                if -n <= idx < n:
                    return obj[idx]
                raise bounds_error("Blob", idx, n)
        raise self.index_error(obj, idx)

    def index_update(self, obj: Any, idx: Any, value: Any) -> Any:
        """The element ``obj[idx] op= value`` updates, as ``index`` reads it; but a value
        without an indexer fails as the store Rhai then tries does (an indexer's get, then its
        set, src/eval/chaining.rs): ``ErrorIndexingType`` naming ``value``'s type."""
        t = type(obj)
        if t is list or t is dict or t is str or t is int or t is bytearray:
            return self.index(obj, idx)
        raise self.index_error(obj, idx, type_name(value))

    @staticmethod
    def index_error(obj: Any, idx: Any, stored: str | None = None) -> EvalError:
        """The error of ``obj[idx]`` (or of ``obj[idx] = value``, ``stored`` the value's type
        name) where the index does not suit ``obj``: an array, blob, string or INT wants an
        INT (a string or an INT also a range) and a map a string, else Rhai's
        ``ErrorMismatchDataType`` (at the index); any other value has no indexer:
        ``ErrorIndexingType`` (at the ``[``). Arrays and blobs take no range
        (src/eval/chaining.rs ``get_indexed_mut``)."""
        t = type(obj)
        if t is list or t is bytearray or t is str or t is int:
            return index_mismatch_error(data_type_name(idx), "i64")
        if t is dict:
            return index_mismatch_error(data_type_name(idx), "string")
        return indexer_unavailable(type_name(obj), type_name(idx), stored)

    @staticmethod
    def slice_bounds(n: int, r: RhaiRange) -> tuple[int, int]:
        """Rhai's (clamping) start/end for ``x[a..b]`` with negative ends counting back."""
        s, e = r.start, r.end
        if s < 0:
            s = max(n + s, 0)
        if e < 0:
            e = max(n + e, 0)
            if e <= s:
                return s, s
        if r.inclusive:
            e += 1
        s, e = min(s, n), min(e, n)
        return (s, e) if e > s else (s, s)

    @staticmethod
    def bit_pos(idx: int) -> int:
        """The bit ``x[idx]`` names: 0 to 63, or -64 to -1 counting from the top."""
        if 0 <= idx < 64:
            return idx
        if -64 <= idx < 0:
            return 64 + idx
        raise bit_bounds_error(idx)

    @staticmethod
    def bit_range(r: RhaiRange) -> tuple[int, int]:
        """The first bit and the bit after the last of ``x[a..b]`` / ``x[a..=b]``: Rhai's
        bounds (src/eval/chaining.rs), no negative ones, an open end (``a..``, which the parser
        makes ``a..INT_MAX``) the top bit; the start is checked first."""
        if not 0 <= r.start < 64:
            raise bit_bounds_error(r.start)
        if r.inclusive:
            end = 63 if r.end == INT_MAX else r.end
            if not 0 <= end < 64:
                raise bit_bounds_error(end)
            return r.start, end + 1
        end = 64 if r.end == INT_MAX else r.end
        if not 0 <= end <= 64:
            raise bit_bounds_error(end)
        return r.start, end

    def set_index(self, obj: Any, idx: Any, value: Any) -> Any:
        """Store ``value`` at ``obj[idx]``; returns the container (new for strings and ints).
        A stored value is size-checked (as Rhai checks the element it assigns)."""
        t, ti, tv = type(obj), type(idx), type(value)
        if t is list:
            if ti is int:
                n = len(obj)
                if -n <= idx < n:
                    if (tv is str or tv in CONTAINERS) and obj[idx] is not value:
                        self.check(value)  # a new value, not a chain's write-back
                        self.known.pop(id(obj), None)  # an element may have grown
                    obj[idx] = value
                    return obj
                raise bounds_error("Array", idx, n)
        elif t is dict:
            if ti is str:
                if (tv is str or tv in CONTAINERS) and obj.get(idx) is not value:
                    self.check(value)
                obj[idx] = value
                if self.max_map and len(obj) > self.max_map:  # check_top, without the call
                    raise map_too_large(self.max_map)
                return obj
        elif t is str:
            if ti is int:
                n = len(obj)
                if not -n <= idx < n:
                    raise bounds_error("String", idx, n)
                if tv is not Char:
                    raise mismatch_error(data_type_name(value), "char")
                i = idx % n
                if n > 4096:  # the string is copied: 1 operation per 4 KB
                    self.spend(n >> 10)
                return obj[:i] + value + obj[i + 1:]
            if ti is RhaiRange:  # any value replaces a substring, as its display
                if tv is not str:
                    value = self.check(to_display(self.check_before_formatting(value)))
                s, e = self.slice_bounds(len(obj), idx)
                if len(obj) > 4096:
                    self.spend(len(obj) >> 10)
                return self.check(obj[:s] + value + obj[e:])
        elif t is int:
            if ti is int:
                if tv is not bool:
                    raise mismatch_error(data_type_name(value), "bool")
                bit = self.bit_pos(idx)
                r = (obj | (1 << bit)) if value else (obj & ~(1 << bit))
                return r - (1 << 64) if r > INT_MAX else r
            if ti is RhaiRange:
                if tv is not int:
                    raise mismatch_error(data_type_name(value), "integer")
                s, e = self.bit_range(idx)
                if e <= s:
                    return obj
                mask = ((1 << (e - s)) - 1) << s
                r = ((obj & ~mask) | ((value << s) & mask)) & 0xFFFF_FFFF_FFFF_FFFF
                return r - (1 << 64) if r > INT_MAX else r
        elif t is bytearray:
            if ti is int:
                n = len(obj)
                if not -n <= idx < n:
                    raise bounds_error("Blob", idx, n)
                if tv is not int:
                    raise mismatch_error(data_type_name(value), "INT")
                obj[idx] = value & 0xFF
                return obj
        raise self.index_error(obj, idx, type_name(value))

    def prop(self, obj: Any, name: str) -> Any:
        if type(obj) is dict:
            return obj.get(name)
        call = GETTERS.get((name, type(obj)))
        if call is not None:
            if call.direct:  # what invoke_plain does for it, without the call
                try:
                    result = call.fn(obj)
                except (EvalError, LimitError, RecursionError, MemoryError):
                    raise
                except Exception as exc:  # a stdlib bug must not escape as a Python error
                    raise EvalError(f"Error in function {call.name}: {exc}",
                                    kind="ErrorRuntime") from None
                tr = type(result)
                return result if tr is int or tr is bool else self.check(result)
            if call.plain:
                return self.invoke_plain(call, (obj,), None)
            return self.invoke_native(call, (obj,))
        for fname in ("get$" + name, name):
            call = self.find_native(fname, (obj,))
            if call is not None:
                GETTERS[(name, type(obj))] = call
                return self.invoke_native(call, (obj,))
        raise property_error(f"Unknown property '{name}' - a getter is not registered for type "
                             f"'{type_name(obj)}'")

    def set_prop(self, obj: Any, name: str, value: Any) -> Any:
        """``obj.name = value``; a new string or container value is size-checked (not the
        write-back of a chain, which stores the object already there)."""
        if type(obj) is dict:
            tv = type(value)
            if tv not in SIZED and len(obj) < self.size.max_map:
                obj[name] = value  # a value of no size into a map with room for a new entry:
                return obj  # nothing to check
            if (tv is str or tv in CONTAINERS) and obj.get(name) is not value:
                self.check(value)
            obj[name] = value
            return self.check_top(obj)
        fn = self.find_native("set$" + name, (obj, value))
        if fn is not None:
            box = [obj]
            self.invoke_native(fn, [obj, value], box)
            return box[0]
        raise property_error(f"No writable property '{name}' - a setter is not registered for "
                             f"type '{type_name(obj)}' to handle '{type_name(value)}'")

    # ---- iteration ---------------------------------------------------------------------------
    def iterate(self, v: Any) -> Any:
        t = type(v)
        if t is RhaiRange:
            return v.as_range()
        # a snapshot taken at C speed (counted per 64 items), elements copied one by one as
        # the loop (which counts its iterations) reaches them
        if t is list:
            self.spend(1 + (len(v) >> 6))
            if CONTAINERS.isdisjoint(map(type, v)):
                return v[:]  # nothing to copy: a snapshot at C speed
            return (self.copy(x) if type(x) in CONTAINERS else x for x in v[:])
        if t is str:
            return map(Char, v)
        if t is StepRange:
            return v.iterate()
        if t is bytearray:
            self.spend(1 + (len(v) >> 6))
            return iter(bytes(v))
        if t is dict:
            self.spend(1 + (len(v) >> 6))
            return sorted(v)
        raise EvalError("For loop expects iterable type", kind="ErrorFor")

    def iterate_shared(self, v: Any) -> Any:
        """``iterate`` for a loop whose body only reads its variable
        (``StatementCompiler.reads_elements_only``): an array's snapshot holds its elements
        themselves, not copies, counted as ``iterate`` counts a snapshot."""
        if type(v) is list:
            self.spend(1 + (len(v) >> 6))
            return v[:]
        return self.iterate(v)

    # ---- function dispatch -------------------------------------------------------------------
    def find_native(self, name: str, args: tuple | list) -> NativeCall | None:
        """The library overload of ``name`` whose parameter types match ``args`` exactly."""
        arity = len(args)
        if arity == 1:
            key: tuple = (name, type(args[0]))
        elif arity == 2:
            key = (name, type(args[0]), type(args[1]))
        else:
            key = (name, *map(type, args))
        try:
            return NATIVE_CALLS[key]
        except KeyError:
            return native_for(key)

    def invoke_plain(self, call: NativeCall, args: list | tuple, box: list | None) -> Any:
        """``invoke_native`` for a ``call.plain`` overload with at least one argument: the same
        operation count, checks before formatting, write-back and size checks, without the
        steps such a call never needs (copying a first argument changed in place, the
        runtime context)."""
        if call.counts_work:
            first = args[0]
            tf = type(first)
            if tf is str:
                if len(first) >= 64:
                    self.charge(len(first) >> 6)
            elif tf is list or tf is dict or tf is bytearray:
                self.charge_value(first, call.c_speed)
            if call.formatting:
                self.check_before_formatting(first)
        try:
            result = call.fn(*args)
        except (EvalError, LimitError, RecursionError, MemoryError):
            raise
        except Exception as exc:  # a stdlib bug must not escape as a Python error
            raise EvalError(f"Error in function {call.name}: {exc}", kind="ErrorRuntime") from None
        if call.writes_back:
            new, result = result
            if type(new) is str and len(new) > self.quarter_string:  # shorter ones fit
                self.size.check_string(new)
            if box is not None:
                box[0] = new
        tr = type(result)
        if tr is str:
            if len(result) > self.quarter_string:  # shorter strings are within the limit
                self.size.check_string(result)
        elif tr is list or tr is dict or tr is bytearray:
            if not (call.parsing and self.parsed_fits(args[0])):
                self.size.sizes(result)
        return result

    @staticmethod
    def native_failed(call: NativeCall, exc: Exception) -> None:
        """A library function called inline by generated code (``inline_native``) raised a
        Python error that is not Rhai's: a library bug, reported as ``invoke_plain`` does."""
        raise EvalError(f"Error in function {call.name}: {exc}", kind="ErrorRuntime") from None

    def native_result(self, call: NativeCall, result: Any, first: Any) -> None:
        """The size check ``invoke_plain`` makes of a library result that is a long string,
        an array, a map or a blob, for a call generated inline (``inline_native``)."""
        if type(result) is str:
            self.size.check_string(result)
        elif not (call.parsing and self.parsed_fits(first)):
            self.size.sizes(result)

    def parsed_fits(self, text: str) -> bool:
        """Whether whatever a ``PARSING`` function makes of ``text`` is within the limits."""
        n = len(text)
        return n + 2 <= self.size.max_array and n <= self.size.max_map and \
            self.values_within_limits

    def invoke_native(self, call: NativeCall, args: list | tuple, box: list | None = None) -> Any:
        """Run a native; a by-reference first argument lives in ``box`` (written back).

        The call counts operations in proportion to its work (see ``CONSTANT_WORK``); its
        result and a first argument it changed are size-checked, as Rhai checks them."""
        if call.plain and args:
            return self.invoke_plain(call, args, box)
        first = args[0] if args else None
        tf = type(first)
        if call.counts_work:  # a scalar's work, or a short string's, is the statement's
            if tf is str:
                if len(first) >= 64:
                    self.charge(len(first) >> 6)
            elif tf is list or tf is dict or tf is bytearray:
                self.charge_value(first, call.c_speed)
        mutated = call.mutates and (tf is list or tf is dict or tf is bytearray)
        if mutated:
            if box is None:
                args = (self.copy(first), *args[1:])
                first = args[0]
            old_len = len(first)
        try:
            if not call.ctx:
                result = call.fn(*args)
            elif self.collected is not None or call.collecting:
                saved = self.collected  # callbacks' results count for a COLLECTING native
                self.collected = (0, 0, 0) if call.collecting else None
                try:
                    result = call.fn(self, *args)
                finally:
                    self.collected = saved
            else:
                result = call.fn(self, *args)
        except (EvalError, LimitError, RecursionError, MemoryError):
            raise
        except Exception as exc:  # a stdlib bug must not escape as a Python error
            raise EvalError(f"Error in function {call.name}: {exc}", kind="ErrorRuntime") from None
        if call.writes_back:
            new, result = result
            if type(new) is str:
                self.size.check_string(new)
            if box is not None:
                box[0] = new
        elif mutated:
            added = call.appended_at
            if added is not None and tf is list:
                if call.name == "append":
                    self.check_grown(first, old_len, args[added])
                else:
                    self.check_pushed(first, old_len, args[added])
            elif call.may_grow and not (
                    call.self_checked and self.remembered(first, len(first))):
                self.size.sizes(first)
        tr = type(result)
        if tr is str:
            if len(result) > self.quarter_string:  # shorter strings are within the limit
                self.size.check_string(result)
        elif tr is list or tr is dict or tr is bytearray:
            self.size.sizes(result)
        return result

    def invoke_at_depth(self, d: int, call: NativeCall, args: tuple, box: list | None) -> Any:
        """``invoke_native`` for a call made at call depth ``d``: a native that takes the
        runtime context may call back into script functions, which must start from ``d``."""
        if not call.ctx:
            return self.invoke_native(call, args, box)
        saved, self.depth = self.depth, d
        try:
            return self.invoke_native(call, args, box)
        finally:
            self.depth = saved

    def call_name(self, d: int, name: str, *args: Any) -> Any:
        """Call a function by name with arguments passed by value: an engine built-in or a
        plain library overload of a name no script function has straight away (``call_ref``'s
        order: a built-in wins over the library), anything else by ``call_ref``."""
        if name not in self.method_names:
            builtin = BUILTINS.get(name)
            if builtin is not None:
                return builtin(self, d, None, *args)
            if args:
                call = self.find_native(name, args)
                if call is not None and call.plain:
                    return self.invoke_plain(call, args, None)
        return self.call_ref(d, name, None, args)

    def call_ref(self, d: int, name: str, box: list | None, args: Any) -> Any:
        """Call ``name``; when ``box`` is given it holds the first argument by reference.

        Lookup order: script function, engine built-in, library overload, host function.
        """
        if box is not None:
            args = (box[0], *args)
        call = self.find_native(name, args)
        if call is not None and (name, len(args)) not in self.fns and name not in BUILTINS:
            return self.invoke_at_depth(d, call, args, box)
        f = self.fns.get((name, len(args)))
        if f is not None:
            return f(d - 1, None, *[ops.copy_value(a) for a in args])
        builtin = BUILTINS.get(name)
        if builtin is not None:
            return builtin(self, d, box, *args)
        host = self.host_fns.get(name)
        if host is not None:
            return self.call_host(name, host, args)
        raise not_found(name, args)

    def call_host(self, name: str, host: Callable[..., Any], args: Any) -> Any:
        """Call a host function with plain copies of ``args``; its result must be plain data
        within the size limits. The deadline is checked after every host call (they may be
        slow whatever their arguments)."""
        for a in args:
            self.charge_value(a)
        self.check_deadline()  # a slow host call must not start after the deadline
        try:
            result = host(*[to_python(a) for a in args])
        except (EvalError, LimitError, MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise EvalError(f"Error in function {name}: {exc}", kind="ErrorRuntime") from None
        self.check_deadline()
        value = from_python(result, f"result of {name}")
        self.charge_value(value)
        return self.check(value)

    def method(self, d: int, name: str, box: list, *args: Any) -> Any:
        """``obj.name(args)`` with ``obj`` by reference in ``box``: script fns bind ``this``.
        As Rhai's ``make_method_call`` (src/func/call.rs): a function pointer an object map
        holds under ``name`` comes first (``call_map_fn``), then a method defined for the
        object's type (``fn int.name()``), a script function ``name``, a library overload,
        and what ``call_ref`` finds. Most calls name no script function (``name`` not in
        ``method_names``): those skip every script-function lookup."""
        try:
            obj = box[0]
        except TypeError:  # ``this.name(...)`` where no ``this`` is bound: ``box`` is None
            obj = self.this(box)
        to = type(obj)
        if to is dict and type(fp := obj.get(name)) is FnPtr and calls_map_fn(name, len(args)):
            return self.call_map_fn(d, fp, box, args)
        if name == "call" and to is FnPtr:  # a closure call in one step
            func = obj.func  # what call_ref -> the built-in ``call`` -> call_fn_ptr does;
            # no script function can be named ``call`` (a reserved word). The test of
            # ``FnPtr.code_for``, inline: a closure call's hot path
            if func is not None and len(args) == func[1] and not obj.curry \
                    and "call" not in LIBRARY:
                return func[0](d - 1, None, *args)
        arity = len(args)
        scripted = name in self.method_names
        if scripted:
            fns = self.fns
            f = fns.get((f"{type_name(obj)}.{name}", arity)) or fns.get((name, arity))
            if f is not None:
                return f(d - 1, box, *[ops.copy_value(a) for a in args])
        if arity == 0:  # find_native's key, built here to save a call
            key: tuple = (name, to)
        elif arity == 1:
            key = (name, to, type(args[0]))
        else:
            key = (name, to, *map(type, args))
        call = NATIVE_CALLS.get(key, NOT_LOOKED_UP)
        if call is NOT_LOOKED_UP:
            call = self.find_native(name, (obj, *args))
        if call is not None and not call.builtin and not (scripted and (name, arity + 1) in self.fns):  # as call_ref
            if call.plain:
                return self.invoke_plain(call, (obj, *args), box)
            if call.ctx:
                return self.invoke_at_depth(d, call, (obj, *args), box)
            return self.invoke_native(call, (obj, *args), box)
        return self.call_ref(d, name, box, args)

    def call_map_fn(self, d: int, fp: FnPtr, box: list, args: tuple) -> Any:
        """``m.name(args)`` where the object map ``m`` (in ``box``) holds the function pointer
        ``fp`` under ``name``: ``fp`` called with ``m`` as ``this`` (written back through
        ``box``), its curried arguments first."""
        func = fp.func  # ``FnPtr.code_for``, inline: what call_fn_ptr does, in one step
        if func is not None and not fp.curry and len(args) == func[1]:
            return func[0](d - 1, box, *args)
        return self.call_fn_ptr(d, fp, list(args), box)

    def push_method(self, d: int, name: str, box: list, item: Any) -> Any:
        """``a.push(item)`` on a variable, the commonest way to build an array: a push onto
        an array in a few steps; anything else (a blob, a script function named ``push``)
        the general way."""
        try:
            a = box[0]
        except TypeError:  # ``this.push(...)`` where no ``this`` is bound: ``box`` is None
            a = self.this(box)
        if type(a) is not list or name in self.method_names:
            return self.method(d, name, box, item)
        return self.push_item(a, item)

    def push_item(self, a: list, item: Any) -> None:
        """``a.push(item)`` onto an array when no script function is named ``push``
        (generated code calls it itself for a variable known to hold an array): a value of
        no size onto an array whose sizes are remembered is one more element; anything
        else is appended and its sizes checked. ``item`` is the push's own value: generated
        code copies a stored one (a variable, element or property) when it passes it
        (``ExpressionCompiler.args``), so it is not copied again here."""
        old_len = len(a)
        entry = self.known.get(id(a))
        if entry is not None and entry[1] == old_len and entry[0] is a:
            if type(item) not in SIZED and entry[2] < self.size.max_array:
                # a value of no size onto an array whose sizes are remembered: one more
                # element, its entry updated in place
                a.append(item)
                entry[1] = old_len + 1
                entry[2] += 1
                return None
        a.append(item)
        self.check_pushed(a, old_len, item)
        return None

    def push_sized(self, a: list, item: Any, sizes: tuple) -> None:
        """``a.push(item)`` of a new array or map whose sizes are ``sizes`` (generated code
        calls it for a literal pushed onto a variable known to hold an array): onto an array
        whose sizes are remembered, when the totals with the item's stay within the limits,
        one more element and the item's sizes added to its entry; anything else as
        ``push_item`` (which walks the item)."""
        old_len = len(a)
        entry = self.known.get(id(a))
        if entry is not None and entry[1] == old_len and entry[0] is a:
            size = self.size
            arrays, maps = entry[2] + 1 + sizes[0], entry[3] + sizes[1]
            chars = entry[4] + sizes[2]
            if arrays <= size.max_array and maps <= size.max_map and chars <= size.max_string:
                a.append(item)
                entry[1:] = old_len + 1, arrays, maps, chars
                return None
        a.append(item)
        self.check_pushed(a, old_len, item)
        return None

    def method_at(self, d: int, name: str, parent: Any, key: Any, is_prop: bool,
                  *args: Any) -> Any:
        """A method call on ``parent[key]`` / ``parent.key``: the result is written back."""
        child = self.prop(parent, key) if is_prop else self.index(parent, key)
        self.known.pop(id(parent), None)  # the child may grow in place
        box = [child]
        result = self.method(d, name, box, *args)
        if box[0] is not child:
            if is_prop:
                self.set_prop(parent, key, box[0])
            else:
                self.set_index(parent, key, box[0])
        return result

    def arity(self, fp: FnPtr) -> int | None:
        """How many arguments a function pointer still takes, if that is known."""
        if fp.func is not None:
            return fp.func[1] - len(fp.curry)
        arities = [n for (name, n) in self.fns if name == fp.name]
        if len(arities) == 1:
            return arities[0] - len(fp.curry)
        return None

    def call_fn_ptr(self, d: int, fp: Any, args: list, box: list | None = None) -> Any:
        """Call a function pointer; ``box`` (if any) is bound to ``this``. Curried arguments
        are passed as copies (Rhai's ``FnPtr::call_raw``: ``self.curry().iter().cloned()``),
        so a call cannot change the pointer's own."""
        if type(fp) is str:
            fp = FnPtr(fp)
        if type(fp) is not FnPtr:
            raise EvalError(f"Function pointer expected, not {type_name(fp)}",
                            kind="ErrorMismatchDataType")
        curry = fp.curry
        if curry and not CONTAINERS.isdisjoint(map(type, curry)):
            curry = [ops.copy_value(value) for value in curry]
        full = [*curry, *args]
        if fp.func is not None:
            fn, arity = fp.func
            if len(full) == arity:
                return fn(d - 1, box, *full)
            # as Rhai's message, with the type of ``this`` first when there is one
            raise not_found(fp.name, full if box is None else [box[0], *full])
        f = self.fns.get((fp.name, len(full)))
        if f is not None:
            return f(d - 1, box, *full)
        if box is not None:
            return self.call_ref(d, fp.name, box, full)
        return self.call_ref(d, fp.name, None, full)

    # ---- the ctx API used by the standard library ---------------------------------------------
    def call(self, fp: Any, args: list) -> Any:
        """Call a function pointer (or function name) with ``args``: the stdlib's callback API."""
        code = fp.code_for(len(args)) if type(fp) is FnPtr else None
        if code is not None:  # what call_fn_ptr does for a closure
            return self.collect(code(self.depth - 1, None, *args))
        return self.collect(self.call_fn_ptr(self.depth, fp, list(args)))

    def callback(self, fp: Any, arity: int) -> Callable[..., Any] | None:
        """For a library function calling ``fp`` once per element: when ``fp`` is a closure
        (or anonymous function) taking exactly ``arity`` arguments, or names a script function
        of that arity (see ``callee``), a caller that does what ``call(fp, args)`` does, in
        fewer steps; else None (use ``call``). Valid during the library call that asked for
        it (it calls at that call's depth)."""
        code = self.callee(fp, arity)
        if code is None:
            return None
        depth = self.depth - 1
        if self.collected is not None:  # each result counts for the COLLECTING native
            return lambda *args: self.collect(code(depth, None, *args))
        return partial(code, depth, None)

    def callee(self, fp: Any, arity: int) -> Callable[..., Any] | None:
        """The compiled code a call of ``fp`` with ``arity`` arguments runs when it needs
        nothing else, to be called as ``code(levels, None, *args)``: a closure's
        (``FnPtr.code_for``) or, for a pointer that names a script function (no curried
        arguments) defined with that one arity, that function, which is what ``call`` and
        ``call_with_extras`` then call; else None."""
        if type(fp) is not FnPtr:
            return None
        code = fp.code_for(arity)
        if code is None and fp.func is None and not fp.curry and self.arity(fp) == arity:
            code = self.fns.get((fp.name, arity))
        return code

    def collect_mapped(self, fp: FnPtr, items: Iterable[Any], walk: Any) -> list | None:
        """For a COLLECTING native (``map``): when ``fp`` is a closure or script function
        taking the element (and its index) (``callee``), its results on ``items`` (what the
        library's ``walk`` of an array passes, one per element) in a list, their sizes added
        up as ``collect`` adds them (the same errors at the same element), without two more
        calls per result, the array's length checked after each (``walk.raced`` if changed);
        else None (call it as ``call`` does)."""
        code = self.callee(fp, 1)
        indexed = code is None
        if indexed and (code := self.callee(fp, 2)) is None:
            return None
        call = partial(code, self.depth - 1, None)
        array, length = walk.container, walk.length
        calls = map(call, items, range(length)) if indexed else map(call, items)
        size = self.size
        max_array = size.max_array
        arrays, maps, chars = self.collected
        results: list = []
        for result in calls:
            if len(array) != length:
                walk.raced()
            if type(result) not in SIZED and arrays < max_array:
                arrays += 1
            else:
                arrays, maps, chars = size.sizes([result], (arrays, maps, chars))
            results.append(result)
        self.collected = arrays, maps, chars
        return results

    def check_changed(self, a: list) -> None:
        """After a library function let callbacks change ``a``'s elements in place (bound to
        ``this``): its remembered sizes are stale, and it is checked against the limits as
        Rhai checks a ``&mut`` argument after a native call (src/func/call.rs)."""
        self.known.pop(id(a), None)
        self.size.sizes(a)

    def call_method(self, fp: Any, box: list, args: list) -> Any:
        """Call a function pointer with ``box[0]`` bound to ``this``: the stdlib's callback
        API for an element the callback may change (``box`` then holds it changed)."""
        return self.collect(self.call_fn_ptr(self.depth, fp, list(args), box))

    def collect(self, result: Any) -> Any:
        """A callback's result: inside a COLLECTING native, add its sizes to the total (a
        value of no size is one more element, what ``sizes([result], collected)`` gives)."""
        collected = self.collected
        if collected is not None:
            if type(result) not in SIZED and collected[0] < self.size.max_array:
                self.collected = (collected[0] + 1, collected[1], collected[2])
            else:
                self.collected = self.size.sizes([result], collected)
        return result

    def var_lookup(self, name: str) -> Any:
        scope = self.ns["_SCOPE"]
        if name in scope:
            return scope[name]
        if any(n == name for (n, _) in self.fns):
            return FnPtr(name)
        raise EvalError(f"Variable not found: {name}", kind="ErrorVariableNotFound")

    def var_assign(self, name: str, value: Any) -> None:
        """Assignment to a variable the compiler does not know: one of the scope's."""
        scope = self.ns["_SCOPE"]
        if name not in scope:
            no_var(name)
        scope[name] = value

    def this(self, tb: list | None) -> Any:
        if tb is None:
            raise EvalError("'this' not bound", kind="ErrorUnboundThis")
        return tb[0]

    def closure(self, name: str, func: tuple[Callable[..., Any], int]) -> FnPtr:
        """A closure value (``|x| ...``): its code belongs to this run (see ``handed_out``)."""
        self.handed_out = True
        return FnPtr(name, [], func)

    def throw(self, value: Any) -> None:
        text = to_display(value)  # Rhai's ErrorRuntime: "Runtime error[: value]"
        raise ThrownError(value, f"Runtime error: {text}" if text else "Runtime error")

    def catch_value(self, exc: Exception) -> Any:
        """What ``catch (e)`` binds: a thrown value as it is; for any other error Rhai's map
        (src/eval/stmt.rs + ``dump_fields`` in src/types/error.rs): ``message``, ``error``
        (the variant), ``line``/``position`` and the variant's own fields."""
        if isinstance(exc, LimitError):
            raise exc
        if isinstance(exc, ThrownError):
            return exc.value
        if not isinstance(exc, RhaiError):
            raise exc
        if not exc.line:
            exc.at(*self.locate(exc))
        exc = self.in_function_call(exc)
        kind = "ErrorParsing" if isinstance(exc, ParseError) else exc.kind
        message = "Syntax error: " + exc.message if kind == "ErrorParsing" else exc.message
        out: dict[str, Any] = {"message": message, "error": kind}
        if exc.line:
            out["line"], out["position"] = exc.line, exc.position
        out.update(error_fields(kind, exc.message))
        out.update(getattr(exc, "fields", {}))
        return out

    def is_def_var(self, name: Any, visible: frozenset) -> bool:
        return name in visible or name in self.ns["_SCOPE"]

    def eval(self, d: int, source: Any, visible: dict, top_level: bool,
             names: tuple[tuple[str, bool, bool], ...]) -> Any:
        """``eval(source)`` in the caller's scope: ``visible`` holds the caller's variables
        and gets their new values; ``names`` gives (name, is constant, declared in the
        caller's innermost block) for each. Compiling counts one operation per 16 characters
        and is held to the run's deadline; the result is size-checked."""
        if type(source) is not str:
            raise EvalError(f"Data type incorrect: {type_name(source)} (expecting string)",
                            kind="ErrorMismatchDataType")
        self.charge(1 + (len(source) >> 4))
        self.check_deadline()
        new: dict = {}
        try:
            return self.check(self.eval_hook(self, d, source, visible, new, top_level, names))
        finally:
            declared = {name: innermost for name, _, innermost in names}
            for name, value in new.items():
                if name not in declared:  # a new variable: looked up at run time
                    self.ns["_SCOPE"][name] = value
                elif declared[name]:  # shadows a variable of the same block: replaces it
                    visible[name] = value

    def global_const(self, name: str) -> Any:
        """``global::NAME``: a constant defined at the top level of the script."""
        consts = self.ns["_GLOBALS"]
        if name in consts:
            return consts[name]
        raise EvalError(f"Variable not found: global::{name}", kind="ErrorVariableNotFound")
