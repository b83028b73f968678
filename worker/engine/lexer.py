"""Turns Rhai source text into tokens, each with its (line, position) for error messages.

Back-tick strings are lexed into parts: literal text and, for every ``${...}``, the token list
of the embedded expression, so the parser can handle interpolation without re-reading text.

Speed: every token is scanned by one match of a compiled regular expression (or one
``str.find``), never character by character in Python. ``_TOKEN`` reads the common tokens
(names, operators, plain integers and floats, strings and chars without escapes, ``//``
comments, line breaks); anything else (exponents, radix numbers, escapes, raw and back-tick
strings, block comments, errors) goes to a method of its own, which also scans with regular
expressions. The budget's token count is kept in a local counter between its checks.

Positions: the line is counted at each line break; the position on the line is the number of
characters (code points, a tab is one) since the line's start, plus one, as Rhai counts it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .budget import CompileBudget
from .errors import ParseError
from .values import INT_MAX, Char

KEYWORDS = frozenset({
    "let", "const", "if", "else", "switch", "while", "loop", "do", "until", "for", "in",
    "break", "continue", "return", "throw", "try", "catch", "fn", "private", "true", "false",
    "this", "import", "export", "as", "global",
})
RESERVED = frozenset({
    "var", "static", "shared", "goto", "match", "case", "public", "protected", "new",
    "use", "with", "module", "package", "super", "spawn", "thread", "go", "sync", "async",
    "await", "yield", "default", "void", "null", "nil", "is",
})

# The back-tick is not among them: it starts an interpolated string.
OPERATORS = sorted("""
..= ... <<= >>= **= !in ?. ?[ ?? :: => == != <= >= && || << >> ** += -= *= /= %= &= |= ^= .. -> -- ++
+ - * / % = < > ! & | ^ ( ) { } [ ] , ; : . ? #{ @ $ ~
""".split(), key=len, reverse=True)
# An operator that is one only when no name character follows (``!in`` but not ``!index``).
WORD_GUARDED = frozenset({"!in"})
WORD_CHARS = "A-Za-z0-9_"

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
HEX_DIGITS = "0123456789abcdefABCDEF"
UNICODE_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}
RADIXES = {"x": 16, "o": 8, "b": 2}
NO_BUDGET_ROOM = 1 << 62  # tokens between two budget checks when there is no budget


def operator_pattern(ops: list[str], prefix: str = "") -> str:
    """A regex for the longest of ``ops`` at a position, built as a trie (one branch per first
    character, longer continuations tried first) so the regex engine does not try each of the
    fifty operators in turn."""
    by_first: dict[str, list[str]] = {}
    for op in ops:
        by_first.setdefault(op[0], []).append(op[1:])
    branches = []
    for first, rests in by_first.items():
        branch = re.escape(first)
        if prefix + first == "/":
            branch += "(?![/*])"  # ``//`` and ``/*`` start comments
        if prefix + first in WORD_GUARDED:
            branch += f"(?![{WORD_CHARS}])"
        longer = [rest for rest in rests if rest]
        if longer:
            optional = "?" if "" in rests else ""
            branch += f"(?:{operator_pattern(longer, prefix + first)}){optional}"
        branches.append(branch)
    return "|".join(branches)


# One match per token of the common kinds; ``other`` hands the rest to ``Lexer.special``.
# An ``int`` is digits not followed by a letter or a ``.``, but for the ``..`` of a range
# (``0..n``: Rhai's rule, see ``_DECIMAL``, makes that ``0`` an INT too).
# The most frequent kinds come first (the regex engine tries the branches in order).
# ``lines`` is the end of a line with the following empty or comment-only lines, in one match.
# Possessive quantifiers keep a failed look-ahead from shortening a name or a number, and the
# spaces from being read as ``other``: nothing matches at the end of the source or in the
# spaces before it, so ``finditer`` stops there.
_TOKEN = re.compile(rf"""
    [ \t\r\ufeff]*+
    (?:
      (?P<op>{operator_pattern(OPERATORS)})
    | (?P<ident>[A-Za-z][{WORD_CHARS}]*+|_(?![{WORD_CHARS}]))
    | (?P<lines>(?:(?://[^\n]*+)?\n[ \t\r\ufeff]*+)+)
    | (?P<int>[0-9][0-9_]*+)(?![A-Za-z]|\.(?!\.))
    | (?P<float>[0-9][0-9_]*+\.(?=[^.A-Za-z_])[0-9_]*+)(?![.A-Za-z_])
    | "(?P<str>[^"\\\n]*+)"
    | '(?P<char>[^'\\\n])'
    | (?P<comment>//[^\n]*+)
    | (?P<block>/\*)
    | (?P<other>.)
    )""", re.VERBOSE | re.DOTALL)
# The group numbers, compared with ``Match.lastindex`` (cheaper than group names).
(OP, IDENT, LINES, INT, FLOAT, STR, CHAR, COMMENT, BLOCK, OTHER) = (
    _TOKEN.groupindex[name] for name in
    ("op", "ident", "lines", "int", "float", "str", "char", "comment", "block", "other"))
# Rhai's number rule (src/tokenizer.rs): digits and ``_`` separators; a ``.`` belongs to the
# number when a digit follows it, or a character that cannot start a property name (then it
# reads as ``.0``: ``1.)`` is 1.0); ``e``/``E`` when a digit or sign follows; ``0x``/``0o``/``0b``
# (separators may come between the ``0`` and the letter) switch to that radix's digits. The number
# ends at the first character that fits none of these: ``12abc`` is ``12`` then ``abc``.
_DECIMAL = re.compile(r"""
    [0-9_]*+
    (?: (?P<point>\.(?=[0-9])[0-9_]*+) | (?P<bare_point>\.(?=[^0-9A-Za-z_.])) )?
    (?P<exp>[eE](?=[0-9+-])[+-]?[0-9_]*+)?
    """, re.VERBOSE | re.DOTALL)
_RADIX = re.compile(r"0_*+(?P<radix>[xXoObB])")
_RADIX_DIGITS = {16: re.compile(r"[0-9A-Fa-f_]*+"), 8: re.compile(r"[0-7_]*+"),
                 2: re.compile(r"[01_]*+")}
_UNDERSCORE_NAME = re.compile(rf"_[{WORD_CHARS}]*+")
_BLOCK_COMMENT_MARK = re.compile(r"/\*|\*/")
_STRING_CHUNK = {'"': re.compile(r'[^"\\\n]*+'), "'": re.compile(r"[^'\\\n]*+")}
_INDENT = re.compile(r"[ \t]*+")
_HASHES = re.compile(r"#++")
_BACKTICK_CHUNK = re.compile(r"(?:[^`$\r]|\$(?!\{))*+")
# ``${name}``, the most frequent interpolation: its two tokens without a nested ``tokenize``
_NAME_ONLY = re.compile(r"[ \t]*+(?P<name>[A-Za-z][A-Za-z0-9_]*+)[ \t]*+}")


@dataclass(slots=True)
class Token:
    """One token: ``kind`` is int/float/str/char/interp/ident/kw/op/eof. ``radix`` is set on an
    int written in base 16, 8 or 2: its radix letter and digits as Rhai's tokenizer reports them
    when a minus makes such a number invalid (``-0x1``: ``'x1'``, see ``Parser.unary``)."""

    kind: str
    value: Any
    line: int
    col: int
    radix: str | None = None


class Lexer:
    """A scanner over the whole source; ``tokenize`` returns the token list.

    ``pos`` is the index in the source, ``line`` the current line and ``line_start`` the index
    where it starts; the special-token methods read and advance these three.
    """

    def __init__(self, src: str, max_depth: int = 64, budget: CompileBudget | None = None
                 ) -> None:
        self.budget = budget  # counts the tokens against max_ast_size
        self.src = src
        self.max_depth = max_depth or 10_000
        self.nesting = 0
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, msg: str, pos: int, kind: str = "BadInput") -> ParseError:
        """A syntax error at source index ``pos`` (on the current line)."""
        return ParseError(msg, self.line, pos - self.line_start + 1, kind=kind)

    def token_room(self) -> int:
        """How many tokens may be counted locally before the budget must see them."""
        return self.budget.token_room() if self.budget is not None else NO_BUDGET_ROOM

    def count_tokens(self, n: int) -> None:
        """Hand ``n`` tokens counted locally to the budget (fewer than ``token_room``, so no
        check of ``add_token`` is skipped)."""
        if self.budget is not None:
            self.budget.tokens += n

    def count_checked_token(self, n: int) -> None:
        """Hand ``n`` tokens to the budget, the last through ``add_token`` for its checks."""
        if self.budget is not None:
            self.budget.tokens += n - 1
            self.budget.add_token()

    def tokenize(self, until_brace: bool = False) -> list[Token]:
        """All tokens to the end (or, inside ``${``, to the matching ``}``, consumed); every
        token but the closing ``eof`` is counted against the budget.

        The common tokens come from one pass of ``_TOKEN.finditer`` (each match starts where
        the last ended: ``_TOKEN`` matches at every position but in the spaces at the end); a
        special token ends the pass and the next one starts after it. One loop for all kinds,
        with the budget's counter in a local variable: this is the per-token hot path."""
        src = self.src
        finditer = _TOKEN.finditer
        out: list[Token] = []
        append = out.append
        line, line_start = self.line, self.line_start
        depth = 0  # braces opened inside an interpolation
        room = left = self.token_room()
        special_at = self.pos
        while True:
            for m in finditer(src, special_at):
                kind = m.lastindex
                if kind == OP:
                    value = m[OP]
                    if until_brace and (value == "{" or value == "#{" or value == "}"):
                        if value != "}":
                            depth += 1
                        elif depth:
                            depth -= 1
                        else:
                            self.pos, self.line, self.line_start = m.end(), line, line_start
                            self.count_tokens(room - left)
                            append(Token("eof", None, line, m.start(OP) - line_start + 1))
                            return out
                    append(Token("op", value, line, m.start(OP) - line_start + 1))
                elif kind == IDENT:
                    value = m[IDENT]
                    append(Token("kw" if value in KEYWORDS else "ident", value, line,
                                 m.start(IDENT) - line_start + 1))
                elif kind == LINES:
                    text = m[LINES]
                    line += text.count("\n")
                    line_start = m.end() - len(text) + text.rfind("\n") + 1
                    continue
                elif kind == STR:
                    append(Token("str", m[STR], line, m.start(STR) - line_start))
                elif kind == INT and len(m[INT]) <= 18:  # below INT_MAX
                    value = m[INT]
                    append(Token("int", int(value.replace("_", "") if "_" in value else value),
                                 line, m.start(INT) - line_start + 1))
                elif kind == FLOAT:
                    value = m[FLOAT]
                    append(Token("float", float(value.replace("_", "")), line,
                                 m.start(FLOAT) - line_start + 1))
                elif kind == CHAR:
                    append(Token("char", Char(m[CHAR]), line,
                                 m.start(CHAR) - line_start))
                elif kind == COMMENT:
                    continue
                else:  # needs more than one match: see ``special``
                    special_at = m.start(kind)
                    break
                left -= 1
                if not left:
                    self.count_checked_token(room)
                    room = left = self.token_room()
            else:  # only spaces are left
                if until_brace:
                    self.line, self.line_start = line, line_start
                    raise self.error("Unterminated string interpolation", len(src),
                                     "MissingRightBrace")
                self.count_tokens(room - left)
                append(Token("eof", None, line, len(src) - line_start + 1))
                return out
            self.count_tokens(room - left)
            self.pos, self.line, self.line_start = special_at, line, line_start
            token = self.special()
            special_at, line, line_start = self.pos, self.line, self.line_start
            room = left = self.token_room()
            if token is not None:
                append(token)
                left -= 1
                if not left:
                    self.count_checked_token(room)
                    room = left = self.token_room()

    def special(self) -> Token | None:
        """The token at ``pos`` that ``_TOKEN`` leaves to Python (None after a block
        comment), or the error there; ``pos`` moves past it."""
        start = self.pos
        c = self.src[start]
        line, col = self.line, start - self.line_start + 1
        if "0" <= c <= "9":
            return self.number(line, col)
        if c == '"':
            return Token("str", self.quoted('"'), line, col)
        if c == "'":
            text = self.quoted("'")
            if len(text) != 1:
                raise ParseError("Invalid character literal", line, col, kind="MalformedChar")
            return Token("char", Char(text), line, col)
        if c == "`":
            return Token("interp", self.backtick(), line, col)
        if c == "#" and self.src[start + 1:start + 2] in ('"', "#"):
            return Token("str", self.raw_string(), line, col)
        if c == "/":  # ``/*``: ``_TOKEN`` reads a lone ``/`` as an operator
            self.block_comment()
            return None
        if c == "_":  # a lone ``_`` is a name; Rhai names start with a letter
            word = _UNDERSCORE_NAME.match(self.src, start).group()
            raise ParseError(f"Variable name is not proper: '{word}'", line, col,
                             kind="MalformedIdentifier")
        raise ParseError(f"Unexpected character '{c}'", line, col)

    def advance_to(self, end: int) -> None:
        """Move ``pos`` to ``end``, counting the line breaks passed."""
        src, start = self.src, self.pos
        breaks = src.count("\n", start, end)
        if breaks:
            self.line += breaks
            self.line_start = src.rfind("\n", start, end) + 1
        self.pos = end

    def block_comment(self) -> None:
        """Skip a ``/* ... */`` comment; comments nest, as in Rhai."""
        src, start = self.src, self.pos
        level = 0
        i = start
        while True:
            m = _BLOCK_COMMENT_MARK.search(src, i)
            if m is None:
                raise self.error("Unterminated comment", start, "UnterminatedComment")
            i = m.end()
            level += 1 if m.group() == "/*" else -1
            if not level:
                self.advance_to(i)
                return

    def number(self, line: int, col: int) -> Token:
        """An ``int`` or ``float`` token by Rhai's rule (see ``_DECIMAL``): a decimal INT too
        large for i64 is a FLOAT, as in Rhai (``INT_MAX + 1`` stays an ``int`` token: only the
        parser knows whether a minus makes it i64's minimum); a radix literal is 64 bits, the
        top one the sign (``0xFF..FF`` is -1)."""
        src, start = self.src, self.pos
        radix = _RADIX.match(src, start)
        if radix:
            base = RADIXES[radix["radix"].lower()]
            end = _RADIX_DIGITS[base].match(src, radix.end()).end()
            self.pos = end
            digits = src[radix.end():end].replace("_", "")
            value = int(digits, base) if digits else None
            if value is None or value > 0xFFFF_FFFF_FFFF_FFFF:  # none, or over 64 bits
                raise self.error(f"Invalid number: '{digits}'", start, "MalformedNumber")
            return Token("int", value - (1 << 64) if value > INT_MAX else value, line, col,
                         radix["radix"] + digits)
        m = _DECIMAL.match(src, start + 1)
        self.pos = m.end()
        text = src[start:m.end()].replace("_", "")
        if m["bare_point"]:
            text += "0"
        if not m["point"] and not m["bare_point"] and not m["exp"]:
            if len(text.lstrip("0")) <= 19:  # else past i64 (and past int()'s digit limit)
                value = int(text)
                if value <= INT_MAX + 1:
                    return Token("int", value, line, col)
        try:
            return Token("float", float(text), line, col)
        except ValueError:  # an exponent without digits: ``1e+``
            raise self.error(f"Invalid number: '{text}'", start, "MalformedNumber") from None

    def quoted(self, quote: str) -> str:
        """A ``"string"`` or ``'c'`` with escapes and ``\\``-newline continuations (which also
        skip the next line's indentation); errors point at the opening quote."""
        src, start = self.src, self.pos
        line, col = self.line, start - self.line_start + 1
        chunk = _STRING_CHUNK[quote].match
        out: list[str] = []
        i = start + 1
        while True:
            end = chunk(src, i).end()
            if end > i:
                out.append(src[i:end])
                i = end
            c = src[i:i + 1]
            if c == quote:
                self.pos = i + 1
                return "".join(out)
            if c == "\\":
                if src.startswith("\n", i + 1):  # line continuation
                    self.line += 1
                    self.line_start = i + 2
                    i = _INDENT.match(src, i + 2).end()
                    continue
                text, i = self.escape(i + 1, line, col)
                out.append(text)
                continue
            if c == "\n" and quote == "'":
                raise ParseError("Unterminated character literal", line, col,
                                 kind="MalformedChar")
            raise ParseError("Unterminated string literal", line, col, kind="UnterminatedString")

    def escape(self, i: int, line: int, col: int) -> tuple[str, int]:
        """Decode the escape sequence at ``i`` (after its backslash): the character and the
        index after it. Errors point at the literal's start (``line``, ``col``)."""
        src = self.src
        c = src[i:i + 1]
        if c in ESCAPES:
            return ESCAPES[c], i + 1
        if c and c in UNICODE_ESCAPE_DIGITS:
            n = UNICODE_ESCAPE_DIGITS[c]
            digits = src[i + 1:i + 1 + n]
            if len(digits) == n and all(d in HEX_DIGITS for d in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    return chr(code), i + 1 + n
            raise ParseError(f"Invalid escape sequence: '\\{c}{digits}'", line, col,
                             kind="MalformedEscapeSequence")
        raise ParseError(f"Invalid escape sequence: '\\{c}'", line, col,
                         kind="MalformedEscapeSequence")

    def raw_string(self) -> str:
        """A raw string ``#"..."#`` (any number of ``#``): no escapes, may span lines."""
        src, start = self.src, self.pos
        i = _HASHES.match(src, start).end()
        end_mark = '"' + "#" * (i - start)
        if not src.startswith('"', i):
            raise self.error("Invalid raw string", start)
        k = src.find(end_mark, i + 1)
        if k < 0:
            raise self.error("Unterminated raw string literal", start, "UnterminatedString")
        self.advance_to(k + len(end_mark))
        return src[i + 1:k]

    def backtick(self) -> list:
        """Parts of a back-tick string: ``str`` literals and token lists for ``${...}``.
        A line break right after the opening back-tick is dropped, and so is every ``\\r``."""
        src, start = self.src, self.pos
        line, col = self.line, start - self.line_start + 1
        parts: list = []
        buf: list[str] = []
        self.pos = start + 1
        if src.startswith("\n", self.pos):
            self.advance_to(self.pos + 1)
        elif src.startswith("\r\n", self.pos):
            self.advance_to(self.pos + 2)
        while True:
            i = self.pos
            end = _BACKTICK_CHUNK.match(src, i).end()
            if end > i:
                buf.append(src[i:end])
                self.advance_to(end)
                i = end
            c = src[i:i + 1]
            if c == "":
                raise ParseError("Unterminated string literal", line, col,
                                 kind="UnterminatedString")
            if c == "`":
                if src.startswith("`", i + 1):
                    buf.append("`")
                    self.pos = i + 2
                    continue
                self.pos = i + 1
                break
            if c == "\r":
                self.pos = i + 1
                continue
            self.pos = i + 2  # ``${``
            if buf:
                parts.append("".join(buf))
                buf = []
            self.nesting += 1
            if self.nesting > self.max_depth:
                raise self.error("Expression exceeds maximum complexity (max_expr_depth)",
                                 self.pos, "ExprTooDeep")
            parts.append(self.name_only() or self.tokenize(until_brace=True))
            self.nesting -= 1
        if buf:
            parts.append("".join(buf))
        return parts

    def name_only(self) -> list[Token] | None:
        """At the start of a ``${...}`` that holds one name: the tokens ``tokenize`` would
        give (the name, counted, then ``eof`` at the ``}``), with ``pos`` after the ``}``;
        else None and nothing moves."""
        m = _NAME_ONLY.match(self.src, self.pos)
        if m is None:
            return None
        name = m["name"]
        self.count_checked_token(1)
        self.pos = m.end()
        return [Token("kw" if name in KEYWORDS else "ident", name, self.line,
                      m.start("name") - self.line_start + 1),
                Token("eof", None, self.line, m.end() - self.line_start)]


def tokenize(src: str, max_depth: int = 64, budget: CompileBudget | None = None
             ) -> list[Token]:
    """The tokens of ``src``, ending with an ``eof`` token (counted against ``budget``)."""
    return Lexer(src, max_depth, budget).tokenize()
