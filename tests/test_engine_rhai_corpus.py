"""Differential corpus: scripts written from Rhai's source (tests/rhai_corpus/language.txt),
the ```rhai examples of Rhai's packages and Rhai's own scripts/*.rhai, each with what the real
Rhai v1.26.0 gave (value, printed lines, or error kind) and the Rhai source file of the rule.
The expectations were recorded by tests/rhai_corpus/generate.py; this test needs no oracle.

The few scripts where the engine deliberately differs are listed in ``DIFFERENCES`` with the
reason (docs/ENGINE.md has the same list); everything else must agree exactly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rhai_compare import differences, run_engine

CASES_FILE = Path(__file__).resolve().parent / "rhai_corpus" / "cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text().splitlines() if line.strip()]

SANDBOX = "no sleeping in the sandbox (a script must not hold a worker)"
NO_TAGS = "values carry no tag (Dynamic::tag) in this engine"
ITERATORS = "chars() gives an array here, an iterator type in Rhai"
DIFFERENCES = {
    "src/packages/lang_core.rs#6b69ebfd": SANDBOX,
    "src/packages/lang_core.rs#21302e88": SANDBOX,
    "src/packages/time_basic.rs#22014459": SANDBOX,
    "src/packages/lang_core.rs#8a66c50e": NO_TAGS,
    "src/packages/string_more.rs#4984fc45": ITERATORS,
    "src/packages/string_more.rs#da7649e0": ITERATORS,
    "src/parser.rs#b4f39815": "a step range's type is named StepRange, not Rust's type path",
}


def test_the_corpus_is_large_and_traced_to_rhai_sources():
    assert len(CASES) >= 300
    assert all(case["rule"].startswith(("src/", "scripts/")) for case in CASES)
    assert set(DIFFERENCES) <= {case["id"] for case in CASES}, "stale ids in DIFFERENCES"


@pytest.mark.parametrize("case", [c for c in CASES if c["id"] not in DIFFERENCES],
                         ids=lambda c: c["id"])
def test_engine_agrees_with_rhai(case):
    found = differences(run_engine(case["script"]), case["oracle"])
    assert not found, f"{case['rule']}: {case['script']!r}\n" + "\n".join(found)
