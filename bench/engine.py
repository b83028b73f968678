"""Benchmark: the Rhai engine against the same programs in plain CPython, and native Rhai.

For each program of ``bench.engine_programs`` (Rhai's own scripts and benches, and everyday
Circles-script work), in one process: the engine's run time with every limit active (numeric
limits raised so the programs fit), the same algorithm written plainly in Python inside a
function, and, when ``../shared/rhai-native/rhai-oracle`` is present, native Rhai's own eval time.
Prints the three times and the ratios per program, the geometric mean and the worst, then a
compile table: the engine's parse + code generation against CPython's ``compile()`` of the
Python twin's source. ``--quick`` uses small sizes for a smoke test.
Run as ``python -m bench.engine``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_programs import PROGRAMS, Program  # noqa: E402
from worker.engine import Engine, RhaiError  # noqa: E402

ORACLE = Path(__file__).resolve().parent.parent.parent / "shared" / "rhai-native" / "rhai-oracle"
ORACLE_TIMEOUT = 300.0
SCRIPT_SEPARATOR = "\n\x1e\n"


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def native_times(sources: list[str], repeat: int) -> list[float | None]:
    """Native Rhai's best eval time per source (its own timer), or None where it failed."""
    if not ORACLE.exists():
        return [None] * len(sources)
    best: list[float | None] = [None] * len(sources)
    for _ in range(repeat):
        done = subprocess.run([str(ORACLE)], input=SCRIPT_SEPARATOR.join(sources),
                              capture_output=True, text=True, timeout=ORACLE_TIMEOUT)
        for index, line in enumerate(done.stdout.splitlines()[:len(sources)]):
            answer = json.loads(line)
            if answer.get("ok"):
                secs = float(answer["secs"])
                previous = best[index]
                best[index] = secs if previous is None else min(previous, secs)
    return best


def compile_ratio(engine: Engine, program: Program, size: int, repeat: int) -> tuple[float, float]:
    """Seconds to compile the Rhai source with the engine and the Python twin with compile()."""
    rhai_source = program.rhai.format(n=size)
    python_source = textwrap.dedent(inspect.getsource(program.python))
    t_engine, _ = best_of(repeat, lambda: engine.compile(rhai_source + f"\n// {time.time_ns()}"))
    t_python, _ = best_of(repeat, lambda: compile(python_source + f"\n# {time.time_ns()}",
                                                  program.name, "exec"))
    return t_engine, t_python


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per program (best counts)")
    parser.add_argument("--only", default="", help="comma-separated program names")
    args = parser.parse_args(argv)
    wanted = {name for name in args.only.split(",") if name}
    programs = [p for p in PROGRAMS if not wanted or p.name in wanted]
    engine = Engine(max_operations=500_000_000, max_array_size=5_000_000, timeout=600)

    sizes = {p.name: p.quick if args.quick else p.full for p in programs}
    sources = [p.rhai.format(n=sizes[p.name]) for p in programs]
    native = native_times(sources, args.repeat)
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{os.cpu_count()} CPUs; native Rhai: "
          f"{'rhai-oracle (v1.26.0, its own eval timer)' if ORACLE.exists() else 'not present'}")
    print(f"{'program':<18} {'engine s':>9} {'python s':>9} {'rhai s':>9} "
          f"{'eng/py':>7} {'eng/rhai':>8}")
    ratios: list[tuple[float, str]] = []
    failures = 0
    for program, source, native_secs in zip(programs, sources, native):
        size = sizes[program.name]
        t_python, expected = best_of(args.repeat, lambda: program.python(size))
        try:
            compiled = engine.compile(source)
            t_engine, got = best_of(args.repeat, lambda: engine.eval(compiled))
        except RhaiError as error:
            failures += 1
            print(f"{program.name:<18} engine error: {str(error).splitlines()[0]}")
            continue
        if got != expected:
            failures += 1
            print(f"{program.name:<18} wrong result: engine {got!r}, python {expected!r}")
            continue
        ratio = t_engine / t_python
        ratios.append((ratio, program.name))
        rhai_text = f"{native_secs:>9.4f}" if native_secs else f"{'-':>9}"
        vs_rhai = f"{t_engine / native_secs:>8.2f}" if native_secs else f"{'-':>8}"
        print(f"{program.name:<18} {t_engine:>9.4f} {t_python:>9.4f} {rhai_text} "
              f"{ratio:>7.2f} {vs_rhai}")
    if ratios:
        worst_ratio, worst_name = max(ratios)
        print(f"geometric mean engine/python: {geometric_mean([r for r, _ in ratios]):.2f} over "
              f"{len(ratios)} programs; worst: {worst_name} {worst_ratio:.2f}; "
              f"failed: {failures}")

    print()
    print(f"{'compile':<18} {'engine ms':>10} {'python ms':>10} {'ratio':>7} {'rhai chars':>11}")
    compile_ratios = []
    for program in programs:
        try:
            t_engine, t_python = compile_ratio(engine, program, sizes[program.name], args.repeat)
        except RhaiError as error:
            print(f"{program.name:<18} engine error: {str(error).splitlines()[0]}")
            continue
        compile_ratios.append(t_engine / t_python)
        print(f"{program.name:<18} {t_engine * 1e3:>10.3f} {t_python * 1e3:>10.3f} "
              f"{t_engine / t_python:>7.2f} {len(program.rhai):>11}")
    print(f"compile geometric mean engine/python: {geometric_mean(compile_ratios):.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
