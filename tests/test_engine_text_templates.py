"""Scripts found to be of a compiled shape by their text alone (``shapes.TextTemplate``):
a text the template accepts must lex to the template's tokens but for the values of its
literals, so it gets the shape's code with exactly the values the lexer would have read."""
from __future__ import annotations

import random
import re

import pytest

from test_engine_rhai_differential import Generator
from test_engine_shapes import LIMITS, Recorder, on_its_own
from worker.engine import Engine, RhaiError
from worker.engine.lexer import tokenize
from worker.engine.shapes import Shaped, shape_of, text_template

# Texts with literals in every place the rule must get right: before ``..`` and ``..=``,
# after a minus, in strings next to map keys, inside interpolations, after tabs and
# non-ASCII characters (positions count code points), on lines ending in "\r\n", beside
# digits in names and comments.
TEXTS = [
    'let seed = 123456789012;\nlet total = 0;\nfor i in 0..10 { total += i * seed % 7; }\n'
    '`task ${seed}: ${total}`',
    'let a = -5; let b = - 17; [a, b, -3 - 1, 40..=42]',
    'let m = #{"k": 1, name: "alice", "v2": "x"}; m.name + "/" + m.v2 + m.k',
    '\tlet e = "héllo";\t// é 12 apples\n\tlet n2 = 34; /* é */ e + n2 + `é${n2 + 5}|${e}|${"in" + 6}`',
    'let x = 1;\r\nlet y = "two";\r\n/* 3 */ x + y.len() + 4',
    'fn f(v, w) { v * w + 100 }\nlet s = "";\nfor k in 1..4 { s += f(k, 20) + ","; }\ns',
    'let a = [1, 22, 333]; a[1] = 9; a[-1] += 1000; a',
    'switch 3 { 1 => "a", 2 | 3 => "b", _ => "c" }',
    'let total_5 = 5; let t6 = "6"; total_5 + t6 + 7',
    'let price = 12.50; let qty = 3; let f = -0.25; [price * qty, f, 1.5..3, `${2.75 + f}`]',
    'let r = 0.5; for i in 0..4 { r = r * 1.125 + 2.0; } [r, 10.0 / 4.0, floor(1.75)]',
]
MUTATION_CHARS = list("019axobeE_.\"'\\\n `${}#/*-+:é;\r")


def hole_tokens_of(source: str) -> tuple[tuple, list, list]:
    """``source``'s shape key, literal values and the tokens of its holes."""
    holes: list = []
    key, values = shape_of(tokenize(source), holes)
    return key, values, holes


def mutants(source: str, rng: random.Random, count: int) -> list[str]:
    """Texts differing from ``source`` in one to three characters anywhere: most are not of
    its shape (or not Rhai), some only change a literal's digits or letters."""
    out = []
    for _ in range(count):
        chars = list(source)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice(MUTATION_CHARS)
        out.append("".join(chars))
    return out


def same_length_values(source: str, rng: random.Random) -> str:
    """``source`` with every INT, FLOAT (digits, point, digits) and plain string literal
    replaced by a random one of the same length, without leading zeros (what a client
    filling a template sends)."""
    _, _, holes = hole_tokens_of(source)
    line_starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
    chars = list(source)
    for token in holes:
        at = line_starts[token.line - 1] + token.col - 1
        if token.kind in ("int", "float"):
            end = at + len(re.match(r"[0-9.]*", source[at:]).group())
            for i in range(at, end):
                if chars[i] != ".":
                    chars[i] = rng.choice("0123456789" if i > at else "123456789")
        else:
            for i in range(at + 1, at + 1 + len(token.value)):
                chars[i] = rng.choice("abcXYZ 019$.,é")
    return "".join(chars)


@pytest.mark.parametrize("source", TEXTS)
def test_a_template_accepts_its_own_text_with_its_own_values(source):
    key, values, holes = hole_tokens_of(source)
    template = text_template(source, key, holes)
    assert template is not None, source
    assert template.values_of(source) == values


@pytest.mark.parametrize("source", TEXTS)
def test_an_accepted_text_lexes_to_the_templates_shape_with_the_values_read(source):
    """The rule itself: for thousands of texts near the template's (random characters
    changed anywhere, or literals refilled), whenever the template accepts one, lexing it
    gives the template's shape and the same values; and it accepts every refilled one."""
    rng = random.Random(source)
    key, _, holes = hole_tokens_of(source)
    template = text_template(source, key, holes)
    accepted = 0
    for text in mutants(source, rng, 3000):
        values = template.values_of(text)
        if values is None:
            continue
        accepted += 1
        assert shape_of(tokenize(text)) == (key, values), text
    for _ in range(300):
        text = same_length_values(source, rng)
        assert template.values_of(text) == shape_of(tokenize(text))[1], text
        assert shape_of(tokenize(text))[0] == key
    assert accepted > 10  # mutants inside literals were accepted, not only refused


def test_generated_scripts_accepted_by_their_template_lex_to_its_shape():
    """Random scripts over every kind of literal and statement: those with a template
    (plain INT, FLOAT and string literals only) accept mutants of the same shape only."""
    generator = Generator(random.Random(20261204))
    rng = random.Random(7)
    templates = accepted = 0
    for _ in range(3000):
        source = generator.script()
        key, values, holes = hole_tokens_of(source)
        template = text_template(source, key, holes) if values else None
        if template is None:
            continue
        templates += 1
        assert template.values_of(source) == values
        for text in mutants(source, rng, 40):
            try:
                tokens = tokenize(text)
            except RhaiError:
                assert template.values_of(text) is None, text
                continue
            found = template.values_of(text)
            if found is not None:
                accepted += 1
                assert shape_of(tokens) == (key, found), text
    assert templates > 100 and accepted > 100, (templates, accepted)


@pytest.mark.parametrize("source", [
    "let x = 1.5e3; x",          # a FLOAT with an exponent
    "let x = 1.5_0; x",          # a FLOAT with a separator
    "let x = 15.0.abs(); x",     # a FLOAT before a lone ``.``
    "let x = 1e5; x",            # a FLOAT with no point
    "let x = 1_000; x",          # an INT with a separator
    "let x = 007; x",            # leading zeros
    "let x = 0x1F + 2; x",       # a radix INT is no hole, the 2 is: fine, but...
    "let x = 12.abs(); x",       # ...not an INT before a lone ``.``
    "let x = 5x1; x",            # nor before a name character (``0x1`` is a radix INT)
    'let s = "a\\tb"; s',        # an escape
    'let s = #"raw"#; s',        # a raw string
    "let x = 1234567890123456789; x",  # 19 digits: could be past i64
])
def test_literals_a_template_cannot_check_leave_the_script_to_the_lexer(source):
    key, values, holes = hole_tokens_of(source)
    if source.startswith("let x = 0x1F"):
        assert text_template(source, key, holes) is not None
        return
    assert text_template(source, key, holes) is None


def test_scripts_of_a_compiled_shape_are_served_by_their_text_and_do_what_they_do_alone():
    """The engine's path: after two scripts of a shape, the next ones are found by their text
    (no lexing) and run as they do compiled alone; texts near them run as they do alone
    whether they are of the shape or not."""
    rng = random.Random(11)
    for source in TEXTS:
        recorder = Recorder(**LIMITS)
        first, second = same_length_values(source, rng), same_length_values(source, rng)
        for text in (first, second):
            assert recorder.outcome(text) == on_its_own(text, **LIMITS)
        served = 0
        for text in [same_length_values(source, rng) for _ in range(5)] \
                + mutants(source, rng, 25):
            found = recorder.engine.shapes.by_text(text)
            served += found is not None
            assert recorder.outcome(text) == on_its_own(text, **LIMITS), text
        assert served >= 5, source


def test_a_served_script_shares_its_shapes_code_with_its_own_constants():
    engine = Engine()
    source = 'let who = "{}"; let n = {}; `${{who}} has ${{n * 2}}`'
    engine.compile(source.format("ann", 10))
    engine.compile(source.format("bob", 20))
    text = source.format("cyd", 33)
    found = engine.shapes.by_text(text)
    assert found is not None and type(found[0]) is Shaped
    compiled = engine.compile(text)
    assert compiled.shape is found[0].compiled
    assert engine.eval(compiled) == "cyd has 66"
    assert engine.eval(source.format("dee", 44)) == "dee has 88"
