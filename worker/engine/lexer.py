"""Turns Rhai source text into tokens, each with its (line, position) for error messages.

Back-tick strings are lexed into parts: literal text and, for every ``${...}``, the token list
of the embedded expression, so the parser can handle interpolation without re-reading text.
"""
from __future__ import annotations

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

OPERATORS = sorted("""
..= ... <<= >>= **= !in ?. ?[ ?? :: => == != <= >= && || << >> ** += -= *= /= %= &= |= ^= .. -> -- ++
+ - * / % = < > ! & | ^ ( ) { } [ ] , ; : . ? #{ @ $ ~ `
""".split(), key=len, reverse=True)


def is_digit(c: str) -> bool:
    """An ASCII digit: Rhai's grammar has no other digits (``²`` or ``٣`` are unexpected)."""
    return "0" <= c <= "9"


def is_letter(c: str) -> bool:
    """An ASCII letter (Rhai identifiers are ASCII)."""
    return c.isascii() and c.isalpha()


def is_word(c: str) -> bool:
    """A character that may continue an identifier or a number: ASCII letter or digit."""
    return c.isascii() and c.isalnum()


@dataclass(slots=True)
class Token:
    """One token: ``kind`` is int/float/str/char/interp/ident/kw/op/eof."""

    kind: str
    value: Any
    line: int
    col: int


class Lexer:
    """A hand-written scanner over the whole source; ``tokenize`` returns the token list."""

    def __init__(self, src: str, max_depth: int = 64, budget: CompileBudget | None = None
                 ) -> None:
        self.budget = budget  # counts the tokens against max_ast_size
        self.src = src
        self.max_depth = max_depth or 10_000
        self.nesting = 0
        self.i = 0
        self.line = 1
        self.col = 1

    def error(self, msg: str, line: int | None = None, col: int | None = None,
              kind: str = "BadInput") -> ParseError:
        return ParseError(msg, line or self.line, col or self.col, kind=kind)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.src[j] if j < len(self.src) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.src):
                if self.src[self.i] == "\n":
                    self.line += 1
                    self.col = 1
                else:
                    self.col += 1
                self.i += 1

    def tokenize(self, until_brace: bool = False) -> list[Token]:
        """All tokens to the end (or, inside ``${``, to the matching ``}``, consumed)."""
        out: list[Token] = []
        depth = 0
        while True:
            self.skip_space()
            if self.i >= len(self.src):
                if until_brace:
                    raise self.error("Unterminated string interpolation", kind="MissingRightBrace")
                out.append(Token("eof", None, self.line, self.col))
                return out
            if until_brace:
                c = self.peek()
                if c == "{" or (c == "#" and self.peek(1) == "{"):
                    depth += 1
                elif c == "}":
                    if depth == 0:
                        out.append(Token("eof", None, self.line, self.col))
                        self.advance()
                        return out
                    depth -= 1
            out.append(self.next_token())
            if self.budget is not None:
                self.budget.add_token()

    def skip_space(self) -> None:
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            if c in " \t\r\n\ufeff":
                self.advance()
            elif c == "/" and self.peek(1) == "/":
                while self.i < len(src) and src[self.i] != "\n":
                    self.advance()
            elif c == "/" and self.peek(1) == "*":
                line, col = self.line, self.col
                self.advance(2)
                level = 1
                while level:
                    if self.i >= len(src):
                        raise self.error("Unterminated comment", line, col, "UnterminatedComment")
                    if src.startswith("/*", self.i):
                        level += 1
                        self.advance(2)
                    elif src.startswith("*/", self.i):
                        level -= 1
                        self.advance(2)
                    else:
                        self.advance()
            else:
                return

    def next_token(self) -> Token:
        line, col = self.line, self.col
        c = self.peek()
        if is_digit(c):
            return self.number(line, col)
        if is_letter(c) or c == "_":
            j = self.i
            while j < len(self.src) and (is_word(self.src[j]) or self.src[j] == "_"):
                j += 1
            word = self.src[self.i:j]
            self.advance(j - self.i)
            if not word.isascii():
                raise self.error(f"Invalid identifier: '{word}'", line, col)
            if word[0] == "_" and len(word) > 1:  # Rhai: names start with a letter
                raise self.error(f"Variable name is not proper: '{word}'", line, col,
                                 "MalformedIdentifier")
            if word in KEYWORDS:
                return Token("kw", word, line, col)
            return Token("ident", word, line, col)
        if c == '"':
            self.advance()
            return Token("str", self.quoted('"', line, col), line, col)
        if c == "'":
            self.advance()
            text = self.quoted("'", line, col)
            if len(text) != 1:
                raise self.error("Invalid character literal", line, col, "MalformedChar")
            return Token("char", Char(text), line, col)
        if c == "`":
            self.advance()
            return Token("interp", self.backtick(line, col), line, col)
        if c == "#" and self.peek(1) in ('"', "#"):
            return Token("str", self.raw_string(line, col), line, col)
        for op in OPERATORS:
            if self.src.startswith(op, self.i):
                if op == "!in" and (is_word(self.peek(3)) or self.peek(3) == "_"):
                    continue
                self.advance(len(op))
                return Token("op", op, line, col)
        raise self.error(f"Unexpected character '{c}'", line, col)

    def number(self, line: int, col: int) -> Token:
        src = self.src
        j = self.i
        if src[j] == "0" and j + 1 < len(src) and src[j + 1] in "xXoObB":
            base = {"x": 16, "o": 8, "b": 2}[src[j + 1].lower()]
            k = j + 2
            while k < len(src) and (is_word(src[k]) or src[k] == "_"):
                k += 1
            text = src[j + 2:k].replace("_", "")
            self.advance(k - j)
            try:
                value = int(text, base)
            except ValueError:
                raise self.error(f"Invalid number: '{src[j:k]}'", line, col,
                                 "MalformedNumber") from None
            if value > 0xFFFF_FFFF_FFFF_FFFF:
                raise self.error(f"Invalid number: '{src[j:k]}'", line, col, "MalformedNumber")
            if value > INT_MAX:
                value -= 1 << 64
            if self.peek() == "." and is_digit(self.peek(1)):
                raise self.error(f"Invalid number: '{src[j:k]}.'", line, col, "MalformedNumber")
            return Token("int", value, line, col)
        k = j
        while k < len(src) and (is_digit(src[k]) or src[k] == "_"):
            k += 1
        is_float = False
        if k < len(src) and src[k] == "." and not src.startswith("..", k) and \
                not (k + 1 < len(src) and (is_letter(src[k + 1]) or src[k + 1] == "_")):
            is_float = True
            k += 1
            while k < len(src) and (is_digit(src[k]) or src[k] == "_"):
                k += 1
        if k < len(src) and src[k] in "eE":
            m = k + 1
            if m < len(src) and src[m] in "+-":
                m += 1
            if m < len(src) and is_digit(src[m]):
                is_float = True
                k = m
                while k < len(src) and is_digit(src[k]):
                    k += 1
        if k < len(src) and (is_letter(src[k]) or src[k] == "_"):
            raise self.error(f"Invalid number: '{src[j:k + 1]}'", line, col, "MalformedNumber")
        if is_float and src.startswith(".", k) and k + 1 < len(src) and is_digit(src[k + 1]):
            raise self.error(f"Invalid number: '{src[j:k + 2]}'", line, col, "MalformedNumber")
        text = src[j:k].replace("_", "")
        self.advance(k - j)
        if is_float:
            return Token("float", float(text), line, col)
        value = int(text)
        if value > INT_MAX:
            if value == INT_MAX + 1:
                return Token("int", value, line, col)  # only valid as the operand of unary minus
            raise self.error(f"Integer overflow: {text}", line, col, "MalformedNumber")
        return Token("int", value, line, col)

    def escape(self, line: int, col: int) -> str:
        """Decode one escape sequence after a backslash (already consumed)."""
        c = self.peek()
        simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
        if c in simple:
            self.advance()
            return simple[c]
        if c and c in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[c]
            digits = self.src[self.i + 1:self.i + 1 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"Invalid escape sequence: '\\{c}{digits}'", line, col,
                                 "MalformedEscapeSequence")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.error(f"Invalid escape sequence: '\\{c}{digits}'", line, col,
                                 "MalformedEscapeSequence")
            self.advance(n + 1)
            return chr(code)
        raise self.error(f"Invalid escape sequence: '\\{c}'", line, col, "MalformedEscapeSequence")

    def quoted(self, quote: str, line: int, col: int) -> str:
        out = []
        while True:
            c = self.peek()
            if c == "":
                raise self.error("Unterminated string literal", line, col, "UnterminatedString")
            if c == quote:
                self.advance()
                return "".join(out)
            if c == "\\":
                self.advance()
                if self.peek() == "\n":  # line continuation: skip the newline and indentation
                    self.advance()
                    while self.peek() in (" ", "\t"):
                        self.advance()
                    continue
                out.append(self.escape(line, col))
                continue
            if c == "\n" and quote == "'":
                raise self.error("Unterminated character literal", line, col, "MalformedChar")
            if c == "\n":
                raise self.error("Unterminated string literal", line, col, "UnterminatedString")
            out.append(c)
            self.advance()

    def raw_string(self, line: int, col: int) -> str:
        hashes = 0
        while self.peek() == "#":
            hashes += 1
            self.advance()
        if self.peek() != '"':
            raise self.error("Invalid raw string", line, col)
        self.advance()
        end = '"' + "#" * hashes
        k = self.src.find(end, self.i)
        if k < 0:
            raise self.error("Unterminated raw string literal", line, col, "UnterminatedString")
        text = self.src[self.i:k]
        self.advance(k + len(end) - self.i)
        return text

    def backtick(self, line: int, col: int) -> list:
        """Parts of a back-tick string: ``str`` literals and token lists for ``${...}``."""
        parts: list = []
        buf: list[str] = []
        if self.peek() == "\n":
            self.advance()
        elif self.peek() == "\r" and self.peek(1) == "\n":
            self.advance(2)
        while True:
            c = self.peek()
            if c == "":
                raise self.error("Unterminated string literal", line, col, "UnterminatedString")
            if c == "`":
                if self.peek(1) == "`":
                    buf.append("`")
                    self.advance(2)
                    continue
                self.advance()
                break
            if c == "$" and self.peek(1) == "{":
                self.advance(2)
                if buf:
                    parts.append("".join(buf))
                    buf = []
                self.nesting += 1
                if self.nesting > self.max_depth:
                    raise self.error("Expression exceeds maximum complexity (max_expr_depth)",
                                     kind="ExprTooDeep")
                parts.append(self.tokenize(until_brace=True))
                self.nesting -= 1
                continue
            if c == "\r":
                self.advance()
                continue
            buf.append(c)
            self.advance()
        if buf:
            parts.append("".join(buf))
        return parts


def tokenize(src: str, max_depth: int = 64, budget: CompileBudget | None = None
             ) -> list[Token]:
    """The tokens of ``src``, ending with an ``eof`` token (counted against ``budget``)."""
    return Lexer(src, max_depth, budget).tokenize()
