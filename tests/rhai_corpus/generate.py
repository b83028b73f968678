"""Builds ``cases.jsonl``, the differential corpus, by running every script through the real
Rhai (the oracle) and recording what it gives: value, printed lines, or error kind/position.

Scripts come from three places, each tagged with the Rhai source file whose rule it checks:
- ``language.txt`` (written for this project from Rhai's source): ``@ src/file.rs`` sets the
  rule file for the scripts after it; every other non-blank line is one script, and a block
  between two ``---`` lines is one multi-line script;
- the ```rhai examples in the doc comments of Rhai's ``src/packages/*.rs``;
- Rhai's own ``scripts/*.rhai`` (without the definitions file and the fuzzing corpus).

Usage (from the repository root): ``python tests/rhai_corpus/generate.py [RHAI_SRC] [ORACLE]``
(defaults: ``/work/rhai-src`` and ``../shared/rhai-native/rhai-oracle``). Rhai is MIT/Apache-2.0
licensed; the examples taken from it keep that license.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SEPARATOR = "\n\x1e\n"
SKIPPED_SCRIPTS = {"all_in_one.d.rhai", "fuzzing_seed_corpus_all.rhai"}


def language_cases(path: Path) -> list[dict]:
    """The hand-written scripts of ``language.txt`` with their rule files."""
    cases, rule, block = [], None, None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if block is not None:
            if line.strip() == "---":
                cases.append({"script": "\n".join(block), "rule": rule})
                block = None
            else:
                block.append(line)
        elif line.startswith("@ "):
            rule = line[2:].strip()
        elif line.strip() == "---":
            block = []
        elif line.strip():
            if rule is None:
                raise SystemExit(f"{path}:{number}: script before the first '@ src/...' line")
            cases.append({"script": line, "rule": rule})
    return cases


def doc_examples(rhai_src: Path) -> list[dict]:
    """The ```rhai blocks in the doc comments of Rhai's packages."""
    cases = []
    for source in sorted((rhai_src / "src" / "packages").glob("*.rs")):
        block = None
        for line in source.read_text().splitlines():
            text = line.strip()
            if not text.startswith("///"):
                block = None
                continue
            body = re.sub(r"^/// ?", "", text)
            if body.startswith("```rhai"):
                block = []
            elif block is not None and body.startswith("```"):
                cases.append({"script": "\n".join(block),
                              "rule": f"src/packages/{source.name}"})
                block = None
            elif block is not None:
                block.append(body)
    return cases


def repo_scripts(rhai_src: Path) -> list[dict]:
    return [{"script": p.read_text(), "rule": f"scripts/{p.name}"}
            for p in sorted((rhai_src / "scripts").glob("*.rhai")) if p.name not in SKIPPED_SCRIPTS]


def run_oracle(oracle: Path, scripts: list[str]) -> list[dict]:
    proc = subprocess.run([str(oracle)], input=SEPARATOR.join(scripts), capture_output=True,
                          text=True, timeout=600, check=True)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(results) != len(scripts):
        raise SystemExit(f"the oracle answered {len(results)} times for {len(scripts)} scripts")
    return results


def expectation(result: dict, again: dict) -> dict:
    """What the corpus keeps of an oracle answer; printed lines only when they are stable."""
    out: dict = {"ok": result["ok"]}
    if result["ok"]:
        out.update(value=result["value"], type=result["type"], display=result["display"],
                   debug=result["debug"])
    else:
        out.update(kind=result["kind"], error=result["error"], line=result.get("line"),
                   position=result.get("position"))
    if result["print"] == again["print"]:
        out["print"] = result["print"]
    return out


def main() -> None:
    rhai_src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/rhai-src")
    oracle = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        REPO.parent / "shared" / "rhai-native" / "rhai-oracle"
    cases = language_cases(HERE / "language.txt") + doc_examples(rhai_src) + \
        repo_scripts(rhai_src)
    scripts = [c["script"] for c in cases]
    first, second = run_oracle(oracle, scripts), run_oracle(oracle, scripts)
    seen = set()
    with open(HERE / "cases.jsonl", "w") as out:
        for case, result, again in zip(cases, first, second):
            digest = hashlib.sha1(case["script"].encode()).hexdigest()[:8]
            if digest in seen or result.get("value", {}).get("t") == "timestamp":
                continue
            seen.add(digest)
            record = {"id": f"{case['rule']}#{digest}", **case,
                      "oracle": expectation(result, again)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(cases)} scripts written to {HERE / 'cases.jsonl'}")


if __name__ == "__main__":
    main()
