"""Data-size limits counted the way Rhai counts them (``src/eval/data_check.rs``).

A value's sizes are three totals over the whole value, nested containers included: array
elements (every element of every nested array; a blob inside an array or map adds 1 + its
length, a blob on its own its length),
object-map entries (every entry of every nested map) and string bytes (UTF-8 bytes of every
string anywhere inside). Each total is held against its own limit: ``max_array_size``,
``max_map_size``, ``max_string_size``. The walk stops as soon as a total is over its limit, so
checking an oversized value costs at most about the limit, never the value's full size.
"""
from __future__ import annotations

from typing import Any

from .errors import LimitError

Sizes = tuple[int, int, int]  # (array elements, map entries, string bytes)
SIZED = frozenset({str, list, dict, bytearray})  # the element types that add to the totals
ONLY_STR = frozenset({str})  # the element types of an array of strings (no chars)


def string_bytes(s: str) -> int:
    """The UTF-8 length of ``s`` (its length when ASCII, which CPython knows without a scan)."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def string_too_large(limit: int) -> LimitError:
    return LimitError("max_string_size", f"Length of string too large: over {limit} bytes "
                      "(max_string_size)", kind="ErrorDataTooLarge")


def array_too_large(limit: int) -> LimitError:
    return LimitError("max_array_size", f"Size of array/BLOB too large: over {limit} elements "
                      "(max_array_size)", kind="ErrorDataTooLarge")


def map_too_large(limit: int) -> LimitError:
    return LimitError("max_map_size", f"Size of object map too large: over {limit} entries "
                      "(max_map_size)", kind="ErrorDataTooLarge")


class SizeLimits:
    """The three size limits of one engine (0 = unlimited) and the checks that apply them."""

    def __init__(self, max_string: int, max_array: int, max_map: int) -> None:
        # an unlimited total is compared against a bound no value can reach
        self.max_string = max_string or 1 << 62
        self.max_array = max_array or 1 << 62
        self.max_map = max_map or 1 << 62
        self.limited = bool(max_string or max_array or max_map)

    def fail(self, arrays: int, maps: int, chars: int) -> None:
        """Raise the error for whichever total is over its limit (string first, as Rhai)."""
        if chars > self.max_string:
            raise string_too_large(self.max_string)
        if arrays > self.max_array:
            raise array_too_large(self.max_array)
        if maps > self.max_map:
            raise map_too_large(self.max_map)

    def check_string(self, s: str) -> str:
        if len(s) > self.max_string // 4 and string_bytes(s) > self.max_string:
            raise string_too_large(self.max_string)
        return s

    def sizes(self, value: Any, base: Sizes = (0, 0, 0)) -> Sizes:
        """``base`` plus the recursive sizes of ``value``; raises a LimitError as soon as a
        total is over its limit (so the walk never costs much more than the limits)."""
        t = type(value)
        if t is list:
            arrays, maps, chars = base
            arrays += len(value)
            items = value
        elif t is dict:
            arrays, maps, chars = base
            maps += len(value)
            items = value.values()
        elif t is str:
            return base[0], base[1], base[2] + string_bytes(value)
        elif t is bytearray:
            arrays = base[0] + len(value)
            if arrays > self.max_array:
                raise array_too_large(self.max_array)
            return arrays, base[1], base[2]
        else:
            return base
        if len(items) > 8:
            if SIZED.isdisjoint(map(type, items)):  # only scalars: C speed
                if arrays > self.max_array or maps > self.max_map:
                    self.fail(arrays, maps, chars)
                return arrays, maps, chars
            if ONLY_STR == set(map(type, items)) and all(map(str.isascii, items)):
                chars += sum(map(len, items))  # only ASCII strings (``keys``): C speed
                if arrays > self.max_array or maps > self.max_map or chars > self.max_string:
                    self.fail(arrays, maps, chars)
                return arrays, maps, chars
        nested = []
        for item in items:  # the first level inline: most values are flat
            ti = type(item)
            if ti is str:
                chars += len(item) if item.isascii() else string_bytes(item)
            elif ti is list or ti is dict:
                nested.append(item)
            elif ti is bytearray:  # as Rhai: 1 + its length, also inside a map
                arrays += 1 + len(item)
        if arrays > self.max_array or maps > self.max_map or chars > self.max_string:
            self.fail(arrays, maps, chars)
        return self.nested_sizes(nested, arrays, maps, chars) if nested else (arrays, maps, chars)

    def nested_sizes(self, stack: list, arrays: int, maps: int, chars: int) -> Sizes:
        """The totals plus those of the containers on ``stack`` and everything inside them."""
        max_array, max_map, max_string = self.max_array, self.max_map, self.max_string
        while stack:
            container = stack.pop()
            if type(container) is list:
                arrays += len(container)
                items = container
            else:
                maps += len(container)
                items = container.values()
            if SIZED.isdisjoint(map(type, items)):  # only scalars: a C-speed look
                if arrays > max_array or maps > max_map:
                    self.fail(arrays, maps, chars)
                continue
            for item in items:
                ti = type(item)
                if ti is str:
                    chars += len(item) if item.isascii() else string_bytes(item)
                elif ti is list or ti is dict:
                    stack.append(item)
                elif ti is bytearray:
                    arrays += 1 + len(item)
            if arrays > max_array or maps > max_map or chars > max_string:
                self.fail(arrays, maps, chars)
        return arrays, maps, chars

    def with_element(self, value: Any, base: Sizes) -> Sizes:
        """``base`` plus one more array element ``value`` (the push of a value)."""
        t = type(value)
        arrays, maps, chars = base
        if t is str:
            chars += string_bytes(value)
            if chars > self.max_string:
                raise string_too_large(self.max_string)
        elif t is list or t is dict:
            return self.sizes(value, (arrays + 1, maps, chars))
        elif t is bytearray:
            arrays += 1 + len(value)
        arrays += 1
        if arrays > self.max_array:
            raise array_too_large(self.max_array)
        return arrays, maps, chars

    def check(self, value: Any) -> Any:
        """``value`` if its recursive sizes are within the limits, else a LimitError."""
        t = type(value)
        if t is str:
            return self.check_string(value)
        if t is list or t is dict or t is bytearray:
            self.sizes(value)
        return value

    def within(self, value: Any) -> bool:
        """Whether ``value``'s recursive sizes are all within the limits."""
        try:
            self.check(value)
        except LimitError:
            return False
        return True

    def check_total(self, total: Sizes) -> None:
        """Raise if a precomputed total (e.g. ``n`` copies of a value) is over a limit."""
        arrays, maps, chars = total
        if arrays > self.max_array or maps > self.max_map or chars > self.max_string:
            self.fail(arrays, maps, chars)
