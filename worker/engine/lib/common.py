"""Helpers shared by the standard library: Rhai's index arithmetic, equality and callbacks.

Index rules follow Rhai: a negative position counts from the end, and most functions clamp an
out-of-range position or length instead of failing.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NoReturn, Sequence

from ..errors import EvalError
from ..ops import CONTAINERS, copy_value  # noqa: F401  (the library's one deep copy, re-exported)
from ..values import INT_MAX, INT_MIN, Char, FnPtr, RhaiRange


def check_int(value: int, what: str) -> int:
    """Return ``value`` if it fits in an i64, else raise Rhai's arithmetic overflow error."""
    if INT_MIN <= value <= INT_MAX:
        return value
    raise EvalError(f"Arithmetic overflow: {what}", kind="ErrorArithmetic")


def offset_len(length: int, start: int, count: int) -> tuple[int, int]:
    """Rhai's ``calc_offset_len``: clamp (start, count) to a sequence of ``length`` items.

    A negative start counts from the end (before the beginning clamps to 0); a start past the end
    gives ``(length, 0)``; a count <= 0 gives 0 items.
    """
    if start < 0:
        start = length - min(-start, length)
    elif start >= length:
        return length, 0
    if count <= 0:
        return start, 0
    return start, min(count, length - start)


def index_in(length: int, index: int) -> int | None:
    """Rhai's ``calc_index``: the position of ``index`` (negative counts from the end), or None."""
    if index < 0:
        index += length
        return index if index >= 0 else None
    return index if index < length else None


def range_start_len(rng: RhaiRange) -> tuple[int, int]:
    """Turn ``a..b`` / ``a..=b`` into Rhai's (start, len) pair, clamping a negative start to 0."""
    start = max(rng.start, 0)
    end = max(rng.end, start)
    return start, end - start + (1 if rng.inclusive else 0)


def grow_checked(check: Callable[[Any], Any], make: Callable[[int], Any], size: int) -> Any:
    """Build ``make(size)`` through the size-limit ``check``, trying doubling sizes first so an
    oversized request fails before it can use much more memory than the limit allows."""
    probe = 1024
    while probe < size:
        check(make(probe))
        probe *= 2
    return check(make(size))


def rhai_equals(a: Any, b: Any) -> bool:
    """Rhai's ``==`` for stored values: INT and FLOAT compare numerically, a char equals the
    one-character string, containers compare element by element, other mixed types are unequal."""
    ta, tb = type(a), type(b)
    if ta is tb or (ta in (str, Char) and tb in (str, Char)):
        if ta is list:
            return len(a) == len(b) and all(rhai_equals(x, y) for x, y in zip(a, b))
        if ta is dict:
            return a.keys() == b.keys() and all(rhai_equals(a[k], b[k]) for k in a)
        return bool(a == b)
    if {ta, tb} == {int, float}:
        return not math.isnan(a if ta is float else b) and a == b
    return False


def fn_ptr(target: FnPtr | str) -> FnPtr:
    """A callback given as a function pointer or (as Rhai allows) as a function name string."""
    return target if type(target) is FnPtr else FnPtr(str(target))


def truthy(value: Any) -> bool:
    """A predicate's verdict: only the boolean ``true`` counts as true (Rhai's ``as_bool``)."""
    return value is True


def is_not_found(err: EvalError, name: str) -> bool:
    """Whether ``err`` says the callback ``name`` itself has no matching overload."""
    return err.kind == "ErrorFunctionNotFound" and name in err.message


def call_with_extras(ctx: Any, fp: FnPtr, box: list, args: Sequence[Any], extras: Sequence[Any],
                     move_this_to: int | None) -> Any:
    """Call a callback on the element in ``box`` (a one-item list) the way Rhai's
    ``call_raw_with_extra_args`` does (src/types/fn_ptr.rs ``_call_with_extra_args``).

    The callback's arity decides: ``args`` alone (element bound to ``this``, by reference: what
    the callback does to it stays), a copy of the element moved into ``args`` at
    ``move_this_to`` (Rhai passes ``this_ptr.clone()``), or either form followed by ``extras``
    (the index). ``box`` holds ``this`` as the callback left it, also when the call fails
    (Rhai's ``&mut`` keeps a change made before an error), for the caller to write back.
    """
    args = list(args)
    arity = ctx.arity(fp)
    if arity is not None:
        if arity == len(args):
            return ctx.call_method(fp, box, args)
        if move_this_to is not None and arity == len(args) + 1:
            return ctx.call(fp, _moved(box[0], args, move_this_to))
        if move_this_to is not None and arity == len(args) + 1 + len(extras):
            return ctx.call(fp, _moved(box[0], args, move_this_to) + list(extras))
        if arity == len(args) + len(extras):
            return ctx.call_method(fp, box, args + list(extras))
        if move_this_to is None:
            return ctx.call(fp, args)
        return ctx.call(fp, _moved(box[0], args, move_this_to))
    attempts: list[tuple[bool, Callable[[], list]]] = [(True, lambda: args)]
    if move_this_to is not None:
        attempts += [(False, lambda: _moved(box[0], args, move_this_to)),
                     (False, lambda: _moved(box[0], args, move_this_to) + list(extras))]
    else:
        attempts.append((True, lambda: args + list(extras)))
    for bind, call_args in attempts[:-1]:
        try:
            return _call(ctx, fp, box, bind, call_args())
        except EvalError as err:
            if not is_not_found(err, fp.name):
                raise
    bind, call_args = attempts[-1]
    return _call(ctx, fp, box, bind, call_args())


def _moved(this: Any, args: list, at: int) -> list:
    """``args`` with a copy of ``this`` inserted at ``at``: an element moved into a callback's
    arguments is a clone in Rhai, so what the callback does to it leaves the element as it is
    (scalars are immutable and need no copy)."""
    value = copy_value(this) if type(this) in CONTAINERS else this
    return args[:at] + [value] + args[at:]


def _call(ctx: Any, fp: FnPtr, box: list, bind: bool, args: list) -> Any:
    """Call ``fp`` with ``args``, binding the element in ``box`` to ``this`` when ``bind``."""
    if bind:
        return ctx.call_method(fp, box, args)
    return ctx.call(fp, args)


class Walk:
    """What one pass of a library function over an array or a map owes Rhai's locking of it
    (src/eval/target.rs, ``Target::try_from`` of a locked shared value): the container as it
    was (``items``), so that a callback that changed it through a captured variable is an
    ``ErrorDataRace`` with the container put back, and the general call of a callback on one
    element (``call_at``), bound to ``this`` by reference (``&mut``: a change stays, also one
    made before the callback fails)."""

    __slots__ = ("container", "items", "bound")

    def __init__(self, container: list | dict) -> None:
        self.container = container
        self.items = container.copy()
        self.bound = False  # an element was (or may have been) bound to ``this``

    def call_at(self, ctx: Any, fp: FnPtr, place: Any, args: list, extras: list,
                move_this_to: int | None) -> Any:
        """Call ``fp`` on the element at ``place`` (an index or a key) as ``call_with_extras``
        does; the element bound to ``this`` and changed is written back."""
        item = self.items[place]
        self.bound = True
        box = [item]
        try:
            return call_with_extras(ctx, fp, box, args, extras, move_this_to)
        finally:  # also after an error: a change to ``this`` made before it stays, as in Rhai
            after = self.items[place] = box[0]  # kept even when the call raced: it came first
            if self.changed_at(place, item):
                self.raced()
            if after is not item:
                self.container[place] = after

    def changed_at(self, place: Any, item: Any) -> bool:
        """Whether a callback changed the container's size, or the element at ``place``
        (which held ``item``)."""
        container = self.container
        if len(container) != len(self.items):
            return True
        try:
            return container[place] is not item
        except KeyError:  # a map's property removed, another added
            return True

    def done(self, ctx: Any) -> None:
        """After the last call: the container must be as the walk left it; if an element was
        bound to ``this`` its growth is checked against the size limits (Rhai checks a
        ``&mut`` argument after every native call, src/func/call.rs)."""
        if self.container != self.items:  # C speed: an element is first compared by identity
            self.raced()
        if self.bound:
            ctx.check_changed(self.container)

    def restore(self) -> None:
        """Put the container back as the walk found it (with what ``this`` changed)."""
        container = self.container
        container.clear()
        if type(container) is list:
            container.extend(self.items)
        else:
            container.update(self.items)

    def raced(self) -> NoReturn:
        """A callback changed the container being walked: restore it, fail as Rhai does."""
        self.restore()
        raise data_race()


def data_race() -> EvalError:
    """Rhai's ``ErrorDataRace`` for a locked shared value (src/eval/target.rs): a callback
    reached the array or map a library function is walking, through a captured variable."""
    return EvalError("Data race detected", kind="ErrorDataRace")
