"""Hostile scripts against the engine's limits (issue #7): each runs in a fresh subprocess.

``python -m bench.hostile`` prints, for every script, the limit it must hit, the error it ended
with, its wall time next to the time it was allowed (timeout + max(0.25 s, 5 %)) and its peak
memory growth (``VmHWM`` from ``/proc/self/status`` after resetting it, minus ``VmRSS`` before
the run). ``tests/test_engine_hostile.py`` runs the same catalogue and asserts every line.
``--only NAME[,NAME]`` runs some, ``--quick`` one of each family (sizes, operations, deadline,
compile, recursion, memory); ``--jobs N`` runs N children at a time (default 2).
A child is ``python -m bench.hostile --child NAME``; it prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PROJECT_ROOT, machine_line, python_env  # noqa: E402

MEMORY_BOUND_MB = 300  # peak growth every hostile script must stay under
TIME_ONLY = {"timeout": 2.0, "max_operations": 0}  # cases the deadline alone must stop
WALK = {"max_operations": 1_000_000}  # library walks counted: 10 walks of 100,000 elements
BIG = "let big = []; big.pad(100000, 0);"  # 100,000 INTs: the default max_array_size
QUOTES = 'let q = ""; q.pad(2000000, "\\""); let a = [q, q, q, q];'  # 8 MB; 16 MB escaped


MIN_CPU_SHARE = 0.02
"""Below this share of a core the machine is too busy to say anything about time."""


@dataclass(frozen=True)
class Case:
    """One hostile script: the engine limits it runs under and the limit it must hit."""

    name: str
    script: str
    expect: str  # LimitError.limit, or "ParseError:<kind>"
    limits: dict = field(default_factory=dict)
    memory_mb: int = 0  # if set: the child may map only this much more memory (RLIMIT_AS)

    @property
    def timeout(self) -> float:
        return float(self.limits.get("timeout", 10.0))

    @property
    def time_bound(self) -> float:
        """The issue's bound: timeout + max(0.25 s, 5 %)."""
        return self.timeout + max(0.25, 0.05 * self.timeout)

    def allowed_wall(self, result: dict[str, Any]) -> float:
        """``time_bound`` with its slack measured in the CPU the child got: on a machine busy
        with other work a run gets a share of a core, so the work the engine does between the
        deadline and noticing it takes longer in wall time. With a whole core (the quiet case)
        this is exactly ``time_bound``."""
        share = min(1.0, max(result.get("cpu_share") or 1.0, MIN_CPU_SHARE))
        return self.timeout + (self.time_bound - self.timeout) / share


CASES = [
    # ---- sizes: every produced value counted recursively ---------------------------------
    Case("array-literal", "let a = [1, 2, 3, 4, 5];", "max_array_size", {"max_array_size": 3}),
    Case("map-literal", "let m = #{a: 1, b: 2, c: 3, d: 4};", "max_map_size",
         {"max_map_size": 3}),
    Case("nested-doubling", "let x = [1]; for i in 0..22 { x = [x, x]; }", "max_array_size"),
    Case("nested-map-doubling", "let m = #{a: 1}; loop { m = #{x: m, y: m}; }",
         "max_map_size"),
    Case("pad-with-array", "let b = []; b.pad(10000, 0); let a = []; a.pad(10000, b);",
         "max_array_size"),
    Case("pad-string", 'let s = ""; s.pad(20000000, "x");', "max_string_size"),
    Case("strings-in-array", 'let s = ""; s.pad(8000000, "x"); let a = []; '
         "for i in 0..60 { a.push(s); }", "max_string_size"),
    Case("string-doubling-plus", 'let s = "ab"; loop { s = s + s; }', "max_string_size"),
    Case("string-doubling-append", 'let s = "ab"; loop { s += s; }', "max_string_size"),
    Case("interpolation-doubling", 'let s = "x"; loop { s = `${s}${s}`; }',
         "max_string_size"),
    Case("array-self-append", "let a = [1]; loop { a += a; }", "max_array_size"),
    Case("array-plus-nested", "let a = [[1, 2], [3]]; loop { a = a + a; }", "max_array_size"),
    Case("index-store-doubling", "let a = [0, 0]; loop { a[0] = a; a[1] = a; }",
         "max_array_size"),
    Case("property-store-doubling", "let m = #{a: 0, b: 0}; loop { m.a = m; m.b = m; }",
         "max_map_size"),
    Case("map-insert-loop", 'let m = #{}; let i = 0; loop { m["k" + i] = i; i += 1; }',
         "max_map_size", {"max_map_size": 1000}),
    Case("nested-push", 'let m = #{a: []}; loop { m.a.push("xxxxxxxxxx"); }',
         "max_array_size"),
    Case("replace-growth", 'let s = "x"; loop { s.replace("x", "xx"); }', "max_string_size"),
    Case("to-string-nested", 'let s = ""; s.pad(1000000, "x"); let a = [s, s, s, s, s, s, s, s];'
         ' let t = ""; loop { t = t + a; }', "max_string_size"),
    Case("to-debug-escapes", QUOTES + " let t = a.to_debug();", "max_string_size"),
    Case("to-string-escapes", QUOTES + " let t = [a].to_string();", "max_string_size"),
    Case("debug-escapes", QUOTES + " debug(a);", "max_string_size"),
    Case("print-nested", QUOTES + " print([a]);", "max_string_size"),
    Case("to-json-escapes", 'let q = ""; q.pad(2000000, "\\""); '
         "let m = #{a: q, b: q, c: q, d: q}; let t = m.to_json();", "max_string_size"),
    Case("split-result", 'let s = ""; s.pad(200000, ","); let parts = s.split(",");',
         "max_array_size"),
    Case("map-result", 'let a = []; a.pad(1000, 0); let s = ""; s.pad(100000, "x"); '
         "let r = a.map(|v| s + v);", "max_string_size"),
    Case("filter-result-doubling", "let a = [1]; loop { a = a + a.filter(|x| true); }",
         "max_array_size"),
    Case("blob-huge", "let b = blob(1000000000);", "max_array_size"),
    Case("blob-doubling", "let b = blob(1000); loop { b += b; }", "max_array_size"),
    Case("eval-result", 'let s = "x"; loop { s = eval("s + s"); }', "max_string_size"),
    Case("host-result-string", "let t = big_text(20000000);", "max_string_size"),
    Case("host-result-array", "let t = db_list(200000);", "max_array_size"),
    # ---- operations and the deadline: collection-walking work counts ---------------------
    Case("contains-loop", BIG + " for i in 0..500 { big.contains(i); }", "max_operations", WALK),
    Case("contains-loop-deadline", BIG + " for i in 0..5000 { big.contains(i); }", "timeout",
         TIME_ONLY),
    Case("index-of-loop", BIG + " for i in 0..500 { big.index_of(i); }", "max_operations", WALK),
    Case("in-operator-loop", BIG + " for i in 0..500 { if i in big { } }", "max_operations", WALK),
    Case("equals-loop", BIG + " let c = big; for i in 0..500 { if big == c { } }",
         "max_operations", WALK),
    Case("copy-loop", BIG + " loop { let c = big; }", "timeout", TIME_ONLY),
    Case("for-break-loop", BIG + " loop { for v in big { break; } }", "timeout", TIME_ONLY),
    Case("sort-loop", BIG + " for i in 0..5000 { big.sort(); }", "max_operations", WALK),
    Case("reverse-loop", BIG + " loop { big.reverse(); }", "max_operations", WALK),
    Case("sort-floats-with-nan", "let f = []; for i in 0..99999 { f.push(i.to_float()); } "
         "f.push(0.0 / 0.0); loop { f.sort(); }", "timeout", TIME_ONLY),
    Case("sort-comparator", BIG + " for i in 0..500 { big.sort(|a, b| b - a); }", "timeout",
         TIME_ONLY),
    Case("sort-comparator-ops", BIG + " big.sort(|a, b| b - a);", "max_operations",
         {"max_operations": 50000}),
    Case("map-loop", BIG + " for i in 0..500 { big.map(|v| v); }", "timeout", TIME_ONLY),
    Case("reduce-loop", BIG + " for i in 0..500 { big.reduce(|s, v| s + v, 0); }",
         "max_operations", {"max_operations": 500_000}),
    Case("to-string-loop", BIG + " for i in 0..500 { big.to_string(); }", "max_operations", WALK),
    Case("string-search-loop", 'let s = ""; s.pad(5000000, "x"); '
         'for i in 0..100000 { s.index_of("y"); }', "max_operations"),
    Case("host-call-loop", "for i in 0..1000 { db_list(5000); }", "timeout", TIME_ONLY),
    Case("eval-loop", 'loop { eval("let x = 1; x + 1"); }', "timeout",
         {"timeout": 1.0, "max_operations": 0}),
    Case("empty-loop-deadline", "loop { }", "timeout", {"timeout": 1.0, "max_operations": 0}),
    Case("string-copy-loop", 'let s = ""; s.pad(5000000, "x"); loop { let t = s + "y"; }',
         "timeout", TIME_ONLY),
    Case("string-append-copy-loop", 'let s = ""; s.pad(2000000, "x"); '
         'loop { let t = s; t += "y"; }', "timeout", TIME_ONLY),
    Case("string-compare-loop", 'let s = ""; s.pad(5000000, "x"); let t = ""; '
         't.pad(5000000, "x"); loop { if s == t && s <= t { } }', "timeout", TIME_ONLY),
    Case("string-slice-loop", 'let s = ""; s.pad(5000000, "x"); '
         "loop { let t = s[1..]; s[0] = 'y'; }", "timeout", TIME_ONLY),
    Case("eval-big-loop", 'let s = "let x = 0;"; for i in 0..11 { s += s; } loop { eval(s); }',
         "timeout", {"timeout": 1.0, "max_operations": 0}),
    Case("huge-range", "for i in 0..1000000000 { }", "max_operations"),
    # loops left part-way through a counting chunk, again and again
    Case("loop-left-by-throw", "loop { try { for i in 0..1000000 { if i == 1000 { throw 1; } } } "
         "catch { } }", "max_operations", {"max_operations": 1_000_000}),
    Case("loop-left-by-return", "fn f() { let i = 0; while true { i += 1; if i == 1000 "
         "{ return i; } } } loop { f(); }", "max_operations", {"max_operations": 1_000_000}),
    # ---- compile bombs, direct and through eval ------------------------------------------
    Case("compile-statements", "let x = 0;\n" + "x += 1;\n" * 100_000, "max_ast_size"),
    Case("compile-source-size", "// " + "x" * 1_100_000 + "\n1", "max_script_size"),
    Case("compile-functions", "".join(f"fn f{i}(a) {{ a + {i} }}\n" for i in range(300)),
         "max_functions"),
    Case("compile-closures", "let x = 0;\n" + "let f = |a| a + x;\n" * 300, "max_functions"),
    Case("eval-statements", 'let s = "let x = 0;"; for i in 0..16 { s += s; } eval(s);',
         "max_ast_size"),
    Case("eval-source-size", 'let s = "let x = 0;"; for i in 0..17 { s += s; } eval(s);',
         "max_script_size"),
    Case("eval-functions", 'let s = ""; for i in 0..300 { s += `fn f${i}() { ${i} }\n`; } '
         "eval(s);", "max_functions"),
    # ---- recursion through closures and function pointers --------------------------------
    Case("closure-recursion", "fn r(f) { f.call(f) } r(|f| r(f));", "max_call_levels"),
    Case("fn-pointer-recursion", 'fn g(f) { f.call(f) } let p = Fn("g"); p.call(p);',
         "max_call_levels"),
    Case("curry-recursion", 'fn g(f, n) { f.call(f, n + 1) } let p = Fn("g"); p.call(p, 0);',
         "max_call_levels"),
    Case("deep-value", "let x = []; loop { x = [x]; }", "max_call_levels"),
    # ---- the memory backstop: a MemoryError is the script's limit error ------------------
    Case("memory-exhausted", 'let s = "xxxxxxxx"; loop { s += s; }', "memory",
         {"max_string_size": 0}, memory_mb=200),
    Case("memory-exhausted-array", "let a = [1]; loop { a += a; }", "memory",
         {"max_array_size": 0, "max_operations": 0}, memory_mb=200),
]
CASES_BY_NAME = {case.name: case for case in CASES}
QUICK = ("nested-doubling", "contains-loop", "empty-loop-deadline", "compile-statements",
         "closure-recursion", "memory-exhausted")


def db_list(n: int) -> list:
    """A host function like a database listing: ``n`` small records."""
    return [{"id": i, "name": f"item {i}"} for i in range(n)]


def big_text(n: int) -> str:
    return "x" * n


def status_kb(field_name: str) -> int:
    """A ``/proc/self/status`` figure in kB (VmRSS, VmHWM, VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5), so the peak read after the
    run is the run's own; when that is not allowed the peak since start is used instead."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def child(name: str) -> dict[str, Any]:
    """Run one case in this (fresh) process: outcome, wall time and memory growth."""
    from worker.engine import Engine, RhaiError

    case = CASES_BY_NAME[name]
    engine = Engine(**case.limits, on_print=lambda s: None, on_debug=lambda s: None)
    engine.register_fn("db_list", db_list)
    engine.register_fn("big_text", big_text)
    if case.memory_mb:
        import resource

        limit = (status_kb("VmSize") + case.memory_mb * 1024) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    reset_peak()
    rss_before = status_kb("VmRSS")
    started, cpu_started = time.monotonic(), time.process_time()
    outcome: dict[str, Any] = {"error": None, "limit": None, "kind": None, "message": None}
    try:
        engine.eval(case.script)
    except RhaiError as exc:
        outcome = {"error": type(exc).__name__, "limit": getattr(exc, "limit", None),
                   "kind": exc.kind, "message": str(exc)[:300]}
    wall = time.monotonic() - started
    cpu_share = (time.process_time() - cpu_started) / wall if wall > 0 else 1.0
    growth_mb = (status_kb("VmHWM") - rss_before) / 1024
    return {"name": name, **outcome, "wall": wall, "cpu_share": cpu_share,
            "growth_mb": growth_mb}


def run_case(case: Case) -> dict[str, Any]:
    """Run ``case`` in a fresh ``python -m bench.hostile --child`` process; its JSON line."""
    done = subprocess.run([sys.executable, "-m", "bench.hostile", "--child", case.name],
                          cwd=str(PROJECT_ROOT), env=python_env(), capture_output=True,
                          text=True, timeout=120 + 3 * case.timeout, check=False)
    if done.returncode != 0:
        return {"name": case.name, "error": "child failed", "limit": None, "kind": None,
                "message": (done.stderr or done.stdout)[-2000:], "wall": None,
                "growth_mb": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cases(cases: list[Case], jobs: int) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(run_case, cases))


def outcome_of(result: dict[str, Any]) -> str:
    """What a run ended with, in the form of ``Case.expect``."""
    if result["error"] == "ParseError":
        return f"ParseError:{result['kind']}"
    return result["limit"] or result["error"] or "no error"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--jobs", type=int, default=2, help="children run at a time")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK)}")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES_BY_NAME]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    if args.quick and not names:
        names = list(QUICK)
    cases = [CASES_BY_NAME[n] for n in names] if names else CASES
    print(f"### Hostile scripts (bench.hostile, {len(cases)} scripts, {args.jobs} at a time)\n")
    print(machine_line() + "\n")
    print(f"baseline: the limit each script must hit; time allowed = timeout + max(0.25 s, 5 %) "
          f"of CPU (the slack is divided by the CPU share the child got, 1.0 on a quiet "
          f"machine); memory bound {MEMORY_BOUND_MB} MB peak growth\n")
    print("| script | limit expected | ended with | wall s | CPU share | allowed s | "
          "peak growth MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    failures = 0
    for case, result in zip(cases, run_cases(cases, args.jobs)):
        ended = outcome_of(result)
        wall, growth = result["wall"], result["growth_mb"]
        allowed = case.allowed_wall(result)
        ok = (ended == case.expect and wall is not None and wall <= allowed
              and growth < MEMORY_BOUND_MB)
        failures += not ok
        share = result.get("cpu_share")
        print(f"| {case.name} | {case.expect} | {ended}{'' if ok else ' (FAIL)'} | "
              f"{wall if wall is None else f'{wall:.2f}'} | "
              f"{share if share is None else f'{share:.2f}'} | {allowed:.2f} | "
              f"{growth if growth is None else f'{growth:.1f}'} |", flush=True)
    print(f"\n{len(cases) - failures} of {len(cases)} scripts ended as expected within bounds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
