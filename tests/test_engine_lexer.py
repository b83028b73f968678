"""The engine's lexer: every kind of token with its value and (line, position), the lexical
errors with their messages and positions, the nesting limit of interpolation and the compile
budget's token count, deadline and ``max_ast_size``.

Positions count characters (code points; a tab is one) from 1, as Rhai reports them. The last
test builds random token sequences with random spaces, line breaks and comments between them
and checks every token's kind, value and position against the ones it placed there.
"""
from __future__ import annotations

import random
import time

import pytest

from worker.engine.budget import TOKENS_PER_CLOCK_LOOK, CompileBudget
from worker.engine.errors import LimitError, ParseError
from worker.engine.lexer import Token, tokenize
from worker.engine.values import INT_MAX, Char


def simple(tokens: list[Token]) -> list[tuple]:
    """(kind, value, line, col) of each token, interpolation parts included, without ``eof``."""
    out = []
    for t in tokens:
        if t.kind == "eof":
            continue
        value = t.value
        if t.kind == "interp":
            value = [p if isinstance(p, str) else simple(p) for p in value]
        out.append((t.kind, value, t.line, t.col))
    return out


def kinds_values(src: str) -> list[tuple]:
    return [(k, v) for k, v, _, _ in simple(tokenize(src))]


def lex_error(src: str, max_depth: int = 64) -> tuple[str, str, int, int]:
    with pytest.raises(ParseError) as info:
        tokenize(src, max_depth)
    e = info.value
    return e.kind, e.message, e.line, e.position


def test_statement_tokens_and_positions() -> None:
    assert simple(tokenize("let x = 42;\n  x += 1")) == [
        ("kw", "let", 1, 1), ("ident", "x", 1, 5), ("op", "=", 1, 7), ("int", 42, 1, 9),
        ("op", ";", 1, 11), ("ident", "x", 2, 3), ("op", "+=", 2, 5), ("int", 1, 2, 8)]
    eof = tokenize("a \n  ")[-1]
    assert (eof.kind, eof.line, eof.col) == ("eof", 2, 3)


@pytest.mark.parametrize("src, expected", [
    ("fn private this global", [("kw", "fn"), ("kw", "private"), ("kw", "this"),
                                ("kw", "global")]),
    ("var match _ a_1 Z9", [("ident", "var"), ("ident", "match"), ("ident", "_"),
                            ("ident", "a_1"), ("ident", "Z9")]),
    ("a..=b...c..d.e", [("ident", "a"), ("op", "..="), ("ident", "b"), ("op", "..."),
                        ("ident", "c"), ("op", ".."), ("ident", "d"), ("op", "."),
                        ("ident", "e")]),
    ("a?.b?[c]??d::e=>f->g", [("ident", "a"), ("op", "?."), ("ident", "b"), ("op", "?["),
                              ("ident", "c"), ("op", "]"), ("op", "??"), ("ident", "d"),
                              ("op", "::"), ("ident", "e"), ("op", "=>"), ("ident", "f"),
                              ("op", "->"), ("ident", "g")]),
    ("**= ** <<= << >>= >> <= >= == != && || ++ -- ^= |= &= %= /= *= -= +=",
     [("op", op) for op in "**= ** <<= << >>= >> <= >= == != && || ++ -- ^= |= &= %= /= *= "
      "-= +=".split()]),
    ("x !in y; !index; !in", [("ident", "x"), ("op", "!in"), ("ident", "y"), ("op", ";"),
                              ("op", "!"), ("ident", "index"), ("op", ";"), ("op", "!in")]),
    ("#{a: 1} @ $ ~ a/b", [("op", "#{"), ("ident", "a"), ("op", ":"), ("int", 1),
                           ("op", "}"), ("op", "@"), ("op", "$"), ("op", "~"),
                           ("ident", "a"), ("op", "/"), ("ident", "b")]),
])
def test_names_keywords_operators(src: str, expected: list) -> None:
    assert kinds_values(src) == expected


@pytest.mark.parametrize("src, expected", [
    ("1_000_000", [("int", 1_000_000)]),
    ("0x_FF 0XfF 0o17 0b1010_1010", [("int", 255), ("int", 255), ("int", 15), ("int", 170)]),
    ("0xFFFFFFFFFFFFFFFF 0x8000000000000000", [("int", -1), ("int", -(1 << 63))]),
    ("9223372036854775807 9223372036854775808", [("int", INT_MAX), ("int", INT_MAX + 1)]),
    ("1.5 2. 3.25e2 1e3 1E-3 4e+1 1_0.5_0", [("float", 1.5), ("float", 2.0),
                                             ("float", 325.0), ("float", 1000.0),
                                             ("float", 0.001), ("float", 40.0),
                                             ("float", 10.5)]),
    ("1..2 1..=2", [("int", 1), ("op", ".."), ("int", 2), ("int", 1), ("op", "..="),
                    ("int", 2)]),
    ("1.abs() 1.e", [("int", 1), ("op", "."), ("ident", "abs"), ("op", "("), ("op", ")"),
                     ("int", 1), ("op", "."), ("ident", "e")]),
    # Rhai's rule (src/tokenizer.rs): a number ends at the first character its form cannot
    # take, and the next token starts there
    ("12abc 1e 1_000_x 12e", [("int", 12), ("ident", "abc"), ("int", 1), ("ident", "e"),
                              ("int", 1000), ("ident", "x"), ("int", 12), ("ident", "e")]),
    ("1.2.3 1e5.3", [("float", 1.2), ("op", "."), ("int", 3), ("float", 1e5), ("op", "."),
                     ("int", 3)]),
    ("0b102 0o78 0x1g 0x0x1f", [("int", 2), ("int", 2), ("int", 7), ("int", 8), ("int", 1),
                                ("ident", "g"), ("int", 0), ("ident", "x1f")]),
    ("0x1.5 1e5_ 0__x1f", [("int", 1), ("op", "."), ("int", 5), ("float", 1e5), ("int", 31)]),
    ("1.) 1.;", [("float", 1.0), ("op", ")"), ("float", 1.0), ("op", ";")]),
    ("1.", [("int", 1), ("op", ".")]),  # a point at the very end is not part of the number
    # decimal digits past i64 are a FLOAT, any number of them; 2^63 stays an ``int`` token
    # because ``-9223372036854775808`` is i64's minimum (the parser decides)
    ("99999999999999999999 1_000_000_000_000_000_000_000",
     [("float", 1e20), ("float", 1e21)]),
    ("1" + "0" * 5000, [("float", float("inf"))]),
    ("000000000000000000000000042", [("int", 42)]),
])
def test_numbers(src: str, expected: list) -> None:
    values = kinds_values(src)
    assert values == expected
    assert all(type(v) is {"int": int, "float": float}.get(k, str) for k, v in values)


@pytest.mark.parametrize("src, message, col", [
    ("  0x", "Invalid number: ''", 3),
    ("0x_", "Invalid number: ''", 1),
    ("1e+", "Invalid number: '1e+'", 1),
    ("1E-x", "Invalid number: '1E-'", 1),
    ("0x1_0000_0000_0000_0000", "Invalid number: '10000000000000000'", 1),
    ("x = 0xffffffffffffffffff", "Invalid number: 'ffffffffffffffffff'", 5),
])
def test_number_errors(src: str, message: str, col: int) -> None:
    assert lex_error(src) == ("MalformedNumber", message, 1, col)


def test_strings_and_escapes() -> None:
    assert kinds_values(r'"a\tb\n\r\0\\\"\'" "\x41\u00e9\U0001F600" ""') == [
        ("str", "a\tb\n\r\0\\\"'"), ("str", "A\u00e9\U0001F600"), ("str", "")]
    # a backslash at the end of a line continues the string; the indentation is skipped
    assert simple(tokenize('"ab\\\n    cd" x')) == [("str", "abcd", 1, 1), ("ident", "x", 2, 9)]
    assert simple(tokenize('"é𝄞" x')) == [("str", "é𝄞", 1, 1), ("ident", "x", 1, 6)]


@pytest.mark.parametrize("src, expected", [
    ('x = "abc', ("UnterminatedString", "Unterminated string literal", 1, 5)),
    ('x = "ab\nc"', ("UnterminatedString", "Unterminated string literal", 1, 5)),
    ('\n "a\\q"', ("MalformedEscapeSequence", "Invalid escape sequence: '\\q'", 2, 2)),
    ('"\\x4"', ("MalformedEscapeSequence", "Invalid escape sequence: '\\x4\"'", 1, 1)),
    ('"\\uD800"', ("MalformedEscapeSequence", "Invalid escape sequence: '\\uD800'", 1, 1)),
    ('"\\U00110000"', ("MalformedEscapeSequence", "Invalid escape sequence: '\\U00110000'",
                       1, 1)),
    ('"\\', ("MalformedEscapeSequence", "Invalid escape sequence: '\\'", 1, 1)),
    ("'ab'", ("MalformedChar", "Invalid character literal", 1, 1)),
    ("''", ("MalformedChar", "Invalid character literal", 1, 1)),
    ("x 'a\n'", ("MalformedChar", "Unterminated character literal", 1, 3)),
    ("'a", ("UnterminatedString", "Unterminated string literal", 1, 1)),
])
def test_string_and_char_errors(src: str, expected: tuple) -> None:
    assert lex_error(src) == expected


def test_chars() -> None:
    values = kinds_values("'a' '\\n' 'é' '\"' '\\u0041'")
    assert values == [("char", "a"), ("char", "\n"), ("char", "é"), ("char", '"'),
                      ("char", "A")]
    assert all(type(v) is Char for _, v in values)


def test_raw_strings() -> None:
    assert simple(tokenize('#"a\\n"# ##"x"#y"## #"two\nlines"# z')) == [
        ("str", "a\\n", 1, 1), ("str", 'x"#y', 1, 9), ("str", "two\nlines", 1, 20),
        ("ident", "z", 2, 9)]
    assert lex_error("x ##y") == ("BadInput", "Invalid raw string", 1, 3)
    assert lex_error('#"abc"') == ("UnterminatedString", "Unterminated raw string literal",
                                   1, 1)
    assert lex_error("# 1") == ("BadInput", "Unexpected character '#'", 1, 1)


def test_interpolation() -> None:
    assert simple(tokenize("`a${x + 1}b` y")) == [
        ("interp", ["a", [("ident", "x", 1, 5), ("op", "+", 1, 7), ("int", 1, 1, 9)], "b"],
         1, 1),
        ("ident", "y", 1, 14)]
    # nested strings and braces inside ``${}``; ``\`\``` is a back-tick
    assert simple(tokenize('`${ #{a: `${"}"}`}.a }``!`')) == [
        ("interp", [[("op", "#{", 1, 5), ("ident", "a", 1, 7), ("op", ":", 1, 8),
                     ("interp", [[("str", "}", 1, 13)]], 1, 10), ("op", "}", 1, 18),
                     ("op", ".", 1, 19), ("ident", "a", 1, 20)], "`!"], 1, 1)]
    # a line break right after the opening back-tick and every \r are dropped
    assert simple(tokenize("`\r\nline\r\n${1}$x`\nz")) == [
        ("interp", ["line\n", [("int", 1, 3, 3)], "$x"], 1, 1), ("ident", "z", 4, 1)]
    assert kinds_values("``") == [("interp", [])]


def test_interpolated_names_and_their_end() -> None:
    """``${name}`` (read without a nested scan) gives the tokens any ``${...}`` gives: the
    name or keyword where it stands, then ``eof`` at the ``}``."""
    tokens = tokenize("`${a}${ true }\n${\tb_1  }${c }`")
    assert [[(t.kind, t.value, t.line, t.col) for t in part] for part in tokens[0].value
            if not isinstance(part, str)] == [
        [("ident", "a", 1, 4), ("eof", None, 1, 5)],
        [("kw", "true", 1, 9), ("eof", None, 1, 14)],
        [("ident", "b_1", 2, 4), ("eof", None, 2, 9)],
        [("ident", "c", 2, 12), ("eof", None, 2, 14)]]
    budget = CompileBudget(max_ast_size=4)
    tokenize("`${a}${b}${c}`", 64, budget)
    assert budget.tokens == 4  # the back-tick string and its three names
    with pytest.raises(LimitError):
        tokenize("`${a}${b}${c}${d}`", 64, CompileBudget(max_ast_size=4))


@pytest.mark.parametrize("src, max_depth, expected", [
    ("`abc", 64, ("UnterminatedString", "Unterminated string literal", 1, 1)),
    ("x `a${1 + ", 64, ("MissingRightBrace", "Unterminated string interpolation", 1, 11)),
    ("`${`${`${1}`}`}`", 2,
     ("ExprTooDeep", "Expression exceeds maximum complexity (max_expr_depth)", 1, 10)),
    ("`${ 'ab' }`", 64, ("MalformedChar", "Invalid character literal", 1, 5)),
])
def test_interpolation_errors(src: str, max_depth: int, expected: tuple) -> None:
    assert lex_error(src, max_depth) == expected


def test_interpolation_within_the_depth_limit() -> None:
    tokens = tokenize("`${`${1}`}`", 2)
    assert tokens[0].value[0][0].value == [[Token("int", 1, 1, 7), Token("eof", None, 1, 8)]]


def test_comments() -> None:
    src = ("// line\n/// doc\n//! module doc\nx /* block /* nested */ still\n*/ y"
           "/**/z /*/ x */ w // end")
    assert simple(tokenize(src)) == [("ident", "x", 4, 1), ("ident", "y", 5, 4),
                                     ("ident", "z", 5, 9), ("ident", "w", 5, 20)]
    assert lex_error("a\n  /* /* */") == ("UnterminatedComment", "Unterminated comment", 2, 3)


def test_spaces_tabs_unicode_and_line_ends() -> None:
    assert simple(tokenize("\ufeffa\tb\r\nc \t  d")) == [
        ("ident", "a", 1, 2), ("ident", "b", 1, 4), ("ident", "c", 2, 1), ("ident", "d", 2, 6)]
    assert lex_error("x = é") == ("BadInput", "Unexpected character 'é'", 1, 5)
    assert lex_error("x\u00a0") == ("BadInput", "Unexpected character '\u00a0'", 1, 2)
    assert lex_error("a \\ b") == ("BadInput", "Unexpected character '\\'", 1, 3)
    assert lex_error("_x") == ("MalformedIdentifier", "Variable name is not proper: '_x'", 1, 1)
    assert lex_error("`é`\n  ²") == ("BadInput", "Unexpected character '²'", 2, 3)


def test_budget_counts_every_token_and_stops_at_max_ast_size() -> None:
    budget = CompileBudget(max_ast_size=100)
    tokenize("let s = `a${x}b${y + 1}`;", budget=budget)
    assert budget.tokens == 9  # let s = x y + 1 interp ; (eof not counted)
    for limit in (1, 8, 9):
        budget = CompileBudget(max_ast_size=limit)
        if limit < 9:
            with pytest.raises(LimitError) as info:
                tokenize("let s = `a${x}b${y + 1}`;", budget=budget)
            assert info.value.limit == "max_ast_size"
            assert budget.tokens == limit + 1
        else:
            tokenize("let s = `a${x}b${y + 1}`;", budget=budget)


def test_budget_on_a_long_script_stops_at_the_limit() -> None:
    src = "x+" * 500_000 + "x"
    budget = CompileBudget(max_ast_size=20_000)
    with pytest.raises(LimitError) as info:
        tokenize(src, budget=budget)
    assert "20000 tokens" in info.value.message
    assert budget.tokens == 20_001


def test_deadline_is_looked_at_while_lexing() -> None:
    past = time.monotonic() - 1
    short = "x " * (TOKENS_PER_CLOCK_LOOK - 1)
    tokenize(short, budget=CompileBudget(deadline=past, timeout=1.0))  # no look yet
    budget = CompileBudget(deadline=past, timeout=1.0)
    with pytest.raises(LimitError) as info:
        tokenize(short + "`${x}` x", budget=budget)
    assert info.value.limit == "timeout"
    assert budget.tokens == TOKENS_PER_CLOCK_LOOK


PIECES = [  # (source text, kind, value): tokens that keep their meaning next to a space
    ("let", "kw", "let"), ("while", "kw", "while"), ("abc", "ident", "abc"),
    ("_", "ident", "_"), ("x_1", "ident", "x_1"), ("42", "int", 42), ("0x1f", "int", 31),
    ("1_000", "int", 1000), ("2.5", "float", 2.5), ("1e3", "float", 1000.0),
    ('"s p"', "str", "s p"), ('"q\\"\\n"', "str", 'q"\n'), ('#"r\\"#', "str", "r\\"),
    ("'c'", "char", "c"), ("'\\t'", "char", "\t"), ("+", "op", "+"), ("..=", "op", "..="),
    ("!in", "op", "!in"), ("#{", "op", "#{"), ("(", "op", "("), ("}", "op", "}"),
    ("/", "op", "/"), ("?.", "op", "?."), ("é", None, None),
]
SEPARATORS = [" ", "  ", "\t", "\n", " \r\n ", " // note\n", " /* a\n /* b */ c */ ", " \ufeff"]


def expected_tokens(rng: random.Random) -> tuple[str, list[tuple]]:
    """A random source of PIECES and SEPARATORS, and the tokens it must lex to (the last
    piece may be an unexpected character: then the error is expected)."""
    parts: list[str] = []
    expected: list[tuple] = []
    line, col = 1, 1
    for _ in range(rng.randint(1, 30)):
        text, kind, value = rng.choice(PIECES)
        if kind is None:
            parts.append(text)
            return "".join(parts), expected + [("error", f"Unexpected character '{text}'",
                                                line, col)]
        parts.append(text)
        expected.append((kind, value, line, col))
        for c in text + (sep := rng.choice(SEPARATORS)):
            line, col = (line + 1, 1) if c == "\n" else (line, col + 1)
        parts.append(sep)
    return "".join(parts), expected


def test_random_sequences_of_tokens() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        src, expected = expected_tokens(rng)
        if expected and expected[-1][0] == "error":
            with pytest.raises(ParseError) as info:
                tokenize(src)
            e = info.value
            assert ("error", e.message, e.line, e.position) == expected[-1], src
        else:
            assert simple(tokenize(src)) == expected, src
