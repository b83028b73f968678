"""Scripts of one shape compiled once: the literals become holes the compiler cannot look into.

Clients fill templates: ``transfer("0x…", 100)``, ``let seed = 42; …``. Such scripts have the
same tokens but for the values of their number and string literals: the same *shape*. Parsing
and generating code for each is most of the cost of a new small script, so from the second
script of a shape on (with other values than the first), the engine compiles the shape once
with every such literal replaced by a ``Hole`` and then only fills the holes (see
``Engine.compile``). Lexing is then most of what is left, so a shape's later scripts are
found by their text when it allows (``TextTemplate``).

Why this is safe by construction: a ``Hole`` knows its type (the shape's key includes every
literal's kind and every token's position) but refuses every operation that would read its
value — comparison, arithmetic, hashing, truth, ``repr``/``str``/``format``, ``len``,
conversion — with ``NeedsValue``. The parser and the compiler ask a literal's type only through
``value_type``. So a compile of the holed tokens that succeeds produced its code, tables and
constants without using any literal's value: the result is the same for every script of the
shape, and each hole reaches the generated code only as a name in the constants table, filled
with the script's own value. A compile that needed a value (a ``switch`` case table, a bound
taken from a literal, a string literal's size checked at compile time) fails with
``NeedsValue`` and the shape is compiled script by script as before. Only plain decimal INT,
FLOAT and string literals become holes: a radix number, the INT ``2^63`` (valid only after a
minus), a map's quoted property name and characters stay in the key by value. Leaving a
literal in the key is always safe; only what becomes a hole needs the argument above.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any, NoReturn

from .lexer import Token
from .values import INT_MAX

HOLE_KINDS = {"int": int, "float": float, "str": str}
"""Token kinds whose literals become holes, and the type of their values."""
MAX_SHAPES = 128
"""Shapes an engine keeps (the least recently used goes first)."""
MAX_SOURCE_CHARS = 4096
"""Longer scripts are compiled alone: a shape keeps its generated Python (about ten times the
source), so this bounds what the cache can hold (a few MB) whatever scripts it is sent."""


class NeedsValue(Exception):
    """The compiler tried to use a hole's value: this shape must be compiled per script."""


class Hole:
    """A literal of known type whose value the compiler must not see: slot ``slot`` of the
    script's literal values, negated when ``negated`` (the parser folds ``-2`` into one
    literal). Every operation that would read the value raises ``NeedsValue``."""

    __slots__ = ("slot", "type", "negated")

    def __init__(self, slot: int, value_type: type, negated: bool = False) -> None:
        self.slot, self.type, self.negated = slot, value_type, negated

    def __neg__(self) -> "Hole":
        if self.type is str:
            refuse()
        return Hole(self.slot, self.type, not self.negated)

    def value_in(self, values: list) -> Any:
        """This hole's value among a script's literal ``values``."""
        value = values[self.slot]
        return -value if self.negated else value


def refuse(*_args: Any) -> NoReturn:
    raise NeedsValue("a literal's value was needed to compile this script's shape")


for _name in ("eq", "ne", "lt", "le", "gt", "ge", "hash", "bool", "repr", "str", "format",
              "bytes", "len", "iter", "contains", "getitem", "index", "int", "float",
              "complex", "round", "trunc", "floor", "ceil", "pos", "abs", "invert", "add",
              "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv",
              "rfloordiv", "mod", "rmod", "divmod", "rdivmod", "pow", "rpow", "lshift",
              "rlshift", "rshift", "rrshift", "and", "rand", "or", "ror", "xor", "rxor",
              "reduce", "reduce_ex", "copy", "deepcopy"):
    setattr(Hole, f"__{_name}__", refuse)


def value_type(value: Any) -> type:
    """The type of a literal's value, a hole's included: the only way the parser and the
    compiler may look at a literal (``type(value)`` would tell a hole from a number)."""
    return value.type if type(value) is Hole else type(value)


def is_hole(value: Any) -> bool:
    """Whether ``value`` is a hole (the compiler then makes no use of its value)."""
    return type(value) is Hole


_HOLE = ("hole",)  # a literal's place in a shape's key


def shape_of(tokens: list[Token], hole_tokens: list[Token] | None = None
             ) -> tuple[tuple, list]:
    """A script's shape (a hashable key: every token's kind, value and position, a hole's
    value left out) and its literal values in slot order (depth first, as ``holed`` numbers
    them); ``hole_tokens``, when given, receives the tokens of those values in that order."""
    key: list = []
    values: list = []
    _walk(tokens, key, values, None, hole_tokens)
    return tuple(key), values


def holed(tokens: list[Token]) -> list[Token]:
    """A copy of ``tokens`` with each literal that is a hole in its shape replaced by a
    ``Hole`` (numbered as ``shape_of`` numbers the values)."""
    out: list[Token] = []
    _walk(tokens, [], [], out)
    return out


def _walk(tokens: list[Token], key: list, values: list, out: list | None,
          hole_tokens: list[Token] | None = None) -> None:
    """``shape_of`` and ``holed`` in one pass (``out`` None: no copy). The rule for holes: an
    INT, FLOAT or string literal, but not a radix INT, the INT ``2^63`` or a string followed
    by ``:`` (a map's property name, checked for duplicates while parsing)."""
    add = key.extend
    last = len(tokens) - 1
    for i, t in enumerate(tokens):
        kind = t.kind
        if kind in HOLE_KINDS and t.radix is None and (kind != "int" or t.value <= INT_MAX) \
                and not (kind == "str" and i < last and tokens[i + 1].kind == "op"
                         and tokens[i + 1].value == ":"):
            add((kind, _HOLE, t.line, t.col))
            if out is not None:
                out.append(Token(kind, Hole(len(values), HOLE_KINDS[kind]), t.line, t.col))
            if hole_tokens is not None:
                hole_tokens.append(t)
            values.append(t.value)
        elif kind == "interp":
            parts: list = []
            copies: list = []
            for part in t.value:
                if type(part) is str:
                    parts.append(part)
                    copies.append(part)
                else:
                    inner: list = []
                    inner_out: list | None = None if out is None else []
                    _walk(part, inner, values, inner_out, hole_tokens)
                    parts.append(tuple(inner))
                    copies.append(inner_out)
            add(("interp", tuple(parts), t.line, t.col))
            if out is not None:
                out.append(Token("interp", copies, t.line, t.col))
        else:
            add((kind, t.value if t.radix is None else (t.value, t.radix), t.line, t.col))
            if out is not None:
                out.append(t)


class Seen:
    """A shape met once, compiled with its values; ``values_hash`` tells a second script of it
    with the same values (the same text, which gains nothing from a shape compile) without
    keeping the values."""

    __slots__ = ("values_hash",)

    def __init__(self, values_hash: int | None) -> None:
        self.values_hash = values_hash


class Shaped:
    """A shape compiled with holes: ``compiled`` is the engine's template for its scripts."""

    __slots__ = ("compiled",)

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled


def filled(consts: dict[str, Any], values: list) -> dict[str, Any]:
    """A shape's constants table with each hole replaced by its value among ``values``."""
    return {name: value.value_in(values) if type(value) is Hole else value
            for name, value in consts.items()}


PLAIN_INT = re.compile(r"[0-9]{1,18}")
"""What an INT hole of a ``TextTemplate`` may hold: fewer than 19 digits, so the lexer reads
an INT below 2^63 whatever they are."""
PLAIN_FLOAT = re.compile(r"[0-9]+\.[0-9]+")
"""What a FLOAT hole of a ``TextTemplate`` may hold: digits, a point and digits (no ``_``,
no exponent), which the lexer reads as one FLOAT token."""
PLAIN_STRING = re.compile(r'[^"\\\n]*')
"""What a string hole of a ``TextTemplate`` may hold: the lexer's plain string (no quote,
backslash or line break), which is its own value."""
_LITERALS = re.compile(r'"[^"\\\n]*"|[0-9]+')
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def text_index(source: str) -> str:
    """Where ``TextTemplate``s are looked up: ``source`` with its quoted strings and digit
    runs masked, the same for every script a template accepts (a hint only: the template
    itself checks the whole text)."""
    return _LITERALS.sub("#", source)


class TextTemplate:
    """The text of a script whose shape has its code, cut at the shape's holes: another text
    is of that shape, with no need to lex it, when it is the same text but in the holes,
    each holding a literal of the same length that the lexer reads as the same kind of token
    (``PLAIN_INT``, ``PLAIN_FLOAT``, ``PLAIN_STRING``) ending at the same place.

    Why that is exact: the lexer reads left to right, each token from its own characters
    and at most two after it. Outside the holes both texts are the same; a hole's literal
    starts where a token of its kind started in the template and, by the forms allowed in it
    and the characters kept around it (no name character or lone ``.`` after a number), ends
    where that token ended. So both texts give the same tokens at the same positions, but
    for the values of the holes' literals: the same shape, and those values."""

    __slots__ = ("key", "length", "checks")

    def __init__(self, key: tuple, length: int, checks: tuple) -> None:
        self.key = key
        self.length = length
        # per hole: (the fixed text before it, where it ends, its form, its value's type);
        # last, the fixed text after the last hole, with no form
        self.checks = checks

    def values_of(self, source: str) -> list | None:
        """The literal values of ``source`` in slot order if it is of this template, else
        None."""
        if len(source) != self.length:
            return None
        values = []
        start = 0
        for fixed, hole_end, form, value_type in self.checks:
            if not source.startswith(fixed, start):
                return None
            if form is None:
                break
            hole_start = start + len(fixed)
            if form.fullmatch(source, hole_start, hole_end) is None:
                return None
            values.append(value_type(source[hole_start:hole_end]))
            start = hole_end
        return values


def text_template(source: str, key: tuple, hole_tokens: list[Token]) -> TextTemplate | None:
    """The ``TextTemplate`` of ``source``, whose shape is ``key`` and whose holes are
    ``hole_tokens`` (see ``shape_of``), or None when a hole's literal is not of a form a
    template can check: an INT with ``_`` or leading zeros, a FLOAT with ``_``, an exponent
    or no digit after its point, a name character or a single ``.`` right after a number, a
    string with escapes or a raw string."""
    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer("\n", source))
    checks = []
    start = 0
    for token in hole_tokens:
        at = line_starts[token.line - 1] + token.col - 1  # as the lexer counts positions
        if token.kind == "int":
            text = str(token.value)
            end = at + len(text)
            if len(text) > 18 or source[at:end] != text or not _number_ends(source, end):
                return None
            checks.append((source[start:at], end, PLAIN_INT, int))
        elif token.kind == "float":
            number = PLAIN_FLOAT.match(source, at)
            if number is None or float(number.group()) != token.value \
                    or not _number_ends(source, number.end()):
                return None
            end = number.end()
            checks.append((source[start:at], end, PLAIN_FLOAT, float))
        elif token.kind == "str":
            at += 1  # after the opening quote
            end = at + len(token.value)
            if source[at - 1:at] != '"' or source[end:end + 1] != '"' \
                    or source[at:end] != token.value or not PLAIN_STRING.fullmatch(token.value):
                return None
            checks.append((source[start:at], end, PLAIN_STRING, str))
        else:
            return None
        if at < start:
            return None
        start = end
    checks.append((source[start:], -1, None, None))
    return TextTemplate(key, len(source), tuple(checks))


def _number_ends(source: str, end: int) -> bool:
    """Whether a number literal ending at ``end`` ends there whatever its digits: no name
    character follows (a radix letter, an exponent, a name) and no ``.`` but that of ``..``."""
    next_char = source[end:end + 1]
    return next_char not in _WORD and (next_char != "." or source[end:end + 2] == "..")


REFUSED = "refused"
"""A shape whose compile needs its literals' values: each script of it is compiled alone."""


class ShapeCache:
    """An engine's shapes: key -> ``Seen``, ``REFUSED`` or what the engine compiled from the
    holed tokens (least recently used first; thread-safe)."""

    def __init__(self, size: int = MAX_SHAPES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, Any] = OrderedDict()
        # text_index() -> the TextTemplate of a shape with code (the last script met of it)
        self._texts: OrderedDict[str, TextTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def by_text(self, source: str) -> tuple[Shaped, list] | None:
        """The compiled shape of ``source`` and its literal values, found from its text alone
        (see ``TextTemplate``), or None: then lex it and look its shape up by key."""
        index = text_index(source)
        with self._lock:
            template = self._texts.get(index)
        if template is None:
            return None
        values = template.values_of(source)
        if values is None:
            return None
        entry = self.get(template.key)
        return (entry, values) if type(entry) is Shaped else None

    def put_text(self, source: str, template: TextTemplate) -> None:
        """Find scripts of ``template``'s shape by their text from now on (see ``by_text``)."""
        index = text_index(source)
        with self._lock:
            self._texts[index] = template
            self._texts.move_to_end(index)
            if len(self._texts) > self.size:
                self._texts.popitem(last=False)

    def get(self, key: tuple) -> Any:
        """The entry for ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Any) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every shape (benchmarks measure compiling from scratch with it)."""
        with self._lock:
            self._entries.clear()
            self._texts.clear()
