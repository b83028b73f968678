"""Benchmark: the Rhai engine against the same programs in plain CPython, and native Rhai.

For each program of ``bench.engine_programs`` (Rhai's own scripts and benches, and everyday
Circles-script work), in one process: the engine's run time with every limit active (numeric
limits raised so the programs fit), the same algorithm written plainly in Python inside a
function, and, when ``../shared/rhai-native/rhai-oracle`` is present, native Rhai's own eval time.
Prints the three times and the ratios per program, the geometric mean and the worst, then a
compile table: the engine's parse + code generation against CPython's ``compile()`` of the
Python twin's source, and the fixed cost of a run: an eval of an already compiled ``40 + 2``
against a call of a Python function returning the same. ``--quick`` uses small sizes for a smoke
test.
``--baseline REV`` instead times this checkout's engine against the engine of git revision REV
(for example the commit before a change), in alternating child processes so that drift in the
machine's speed hits both alike, and prints the ratio per program.
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
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_programs import PROGRAMS, Program  # noqa: E402
from worker.engine import Engine, RhaiError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ORACLE = REPO.parent / "shared" / "rhai-native" / "rhai-oracle"
ORACLE_TIMEOUT = 300.0
SCRIPT_SEPARATOR = "\n\x1e\n"


def best_of(repeat: int, fn: Callable[[], Any],
            clock: Callable[[], float] = time.perf_counter) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds on ``clock``) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = clock()
        result = fn()
        best = min(best, clock() - start)
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


def siblings(size: int) -> list[int]:
    """Two sizes written with as many digits as ``size``: a program's source with them differs
    from its own only in the values of literals, so it has the same shape."""
    near = [size + 1, size + 2, size - 1, size - 2, size + 3]
    return [n for n in near if n >= 0 and len(str(n)) == len(str(size))][:2]


def compile_ratio(engine: Engine, program: Program, size: int,
                  repeat: int) -> tuple[float, float, float]:
    """Seconds to compile the Rhai source with the engine from scratch (nothing of its shape
    kept, see worker/engine/shapes.py and codecache.py), with the engine when scripts of its
    shape were compiled before (two with other values of its literals: from then on the
    engine only fills the shape's holes, unless it needs the values), and the Python twin
    with compile()."""
    from worker.engine import codecache  # here: a --baseline child's engine may predate it

    rhai_source = program.rhai.format(n=size)
    python_source = textwrap.dedent(inspect.getsource(program.python))
    shapes = getattr(engine, "shapes", None)

    def from_scratch() -> float:
        codecache.forget()
        if shapes is not None:
            shapes.clear()
        start = time.perf_counter()
        engine.compile(rhai_source)
        return time.perf_counter() - start

    t_cold = min(from_scratch() for _ in range(repeat))
    for other in siblings(size):
        engine.compile(program.rhai.format(n=other))
    t_shape_kept, _ = best_of(repeat, lambda: engine.compile(rhai_source))
    t_python, _ = best_of(repeat, lambda: compile(python_source, program.name, "exec"))
    return t_cold, t_shape_kept, t_python


FIXED_COST_SOURCE = "40 + 2"
FIXED_COST_CALLS = 2000  # evals per timed round: a few milliseconds


def forty_two() -> int:
    """The Python twin of ``40 + 2``."""
    return 40 + 2


def cpu_us_per_call(run: Callable[[], object], calls: int, repeat: int) -> float:
    """CPU microseconds per call of ``run``: the best of ``repeat`` rounds of ``calls``."""
    def rounds() -> None:
        for _ in range(calls):
            run()
    seconds, _ = best_of(repeat, rounds, time.process_time)
    return seconds / calls * 1e6


def fixed_cost(engine: Engine, repeat: int) -> tuple[float, float]:
    """CPU microseconds per ``engine.eval`` of an already compiled ``40 + 2`` (a script that
    does almost nothing, so: what every run costs) and per call of ``forty_two``, best of
    ``repeat`` rounds."""
    compiled = engine.compile(FIXED_COST_SOURCE)
    engine.eval(compiled)  # the first run prepares what later runs reuse
    return (cpu_us_per_call(lambda: engine.eval(compiled), FIXED_COST_CALLS, repeat),
            cpu_us_per_call(forty_two, FIXED_COST_CALLS, repeat))


TASK_SCRIPTS_PER_ROUND = 1000


def task_script_costs(repeat: int, per_round: int = TASK_SCRIPTS_PER_ROUND) -> dict[str, float]:
    """CPU microseconds per script of ``bench.tasks``' workloads in a fresh engine, best of
    ``repeat`` rounds: a compiled script run again (*repeated*), a new text of one shape
    compiled and run (*distinct*: found by its text, see worker/engine/shapes.py), a new shape
    compiled and run (*novel*), and, as the baseline, CPython's ``compile()`` of the novel
    script's Python twin and a call of it."""
    from bench.tasks import NOVEL_TEMPLATE, SCRIPT_TEMPLATE

    engine = Engine()
    seeds = iter(range(10**11, 10**12, 7919))
    compiled = engine.compile(SCRIPT_TEMPLATE.format(seed=7))
    for _ in range(3):  # the shape is compiled with holes from its second script on
        engine.eval(SCRIPT_TEMPLATE.format(seed=next(seeds)))

    def python_twin() -> object:
        seed = next(seeds)
        namespace: dict = {}
        exec(compile(f"def task():\n    seed = {seed}\n    total_{seed} = 0\n"
                     f"    for i in range(10):\n        total_{seed} += i * seed % 7\n"
                     f"    return f'task {{seed}}: {{total_{seed}}}'\n", "<twin>", "exec"),
             namespace)
        return namespace["task"]()

    return {
        "repeated": cpu_us_per_call(lambda: engine.eval(compiled), per_round, repeat),
        "distinct": cpu_us_per_call(lambda: engine.eval(SCRIPT_TEMPLATE.format(seed=next(seeds))),
                                    per_round, repeat),
        "novel": cpu_us_per_call(lambda: engine.eval(NOVEL_TEMPLATE.format(seed=next(seeds))),
                                 per_round, repeat),
        "python": cpu_us_per_call(python_twin, per_round, repeat),
    }


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def bench_engine() -> Engine:
    """The engine every timing uses: all limits active, numeric ones raised so programs fit."""
    return Engine(max_operations=500_000_000, max_array_size=5_000_000, timeout=600)


def engine_times(programs: list[Program], sizes: dict[str, int],
                 repeat: int) -> dict[str, float | None]:
    """The engine's best CPU time per program (None where it failed or gave a wrong answer):
    CPU time, so that other work on the machine disturbs a comparison less."""
    engine = bench_engine()
    times: dict[str, float | None] = {}
    for program in programs:
        size = sizes[program.name]
        try:
            compiled = engine.compile(program.rhai.format(n=size))
            seconds, got = best_of(repeat, lambda: engine.eval(compiled), time.process_time)
        except RhaiError:
            times[program.name] = None
            continue
        times[program.name] = seconds if got == program.python(size) else None
    return times


def child_times(engine_root: Path, names: list[str], quick: bool) -> dict[str, float | None]:
    """Best of 3 runs per program in a fresh process whose ``worker`` package is engine_root's."""
    command = [sys.executable, "-m", "bench.engine", "--times-json", "--repeat", "3",
               "--only", ",".join(names)] + (["--quick"] if quick else [])
    environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="0")
    done = subprocess.run(command, cwd=engine_root, env=environment, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def compare_with_baseline(revision: str, programs: list[Program], quick: bool,
                          rounds: int) -> int:
    """Time this checkout's engine against revision's, alternating child processes per round."""
    names = [p.name for p in programs]
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as baseline_root:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "worker"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", baseline_root], input=archive, check=True)
        roots = {"current": REPO, "baseline": Path(baseline_root)}
        best: dict[str, dict[str, float | None]] = {side: {} for side in roots}
        for round_number in range(rounds):
            order = list(roots) if round_number % 2 == 0 else list(reversed(roots))
            for side in order:
                for name, seconds in child_times(roots[side], names, quick).items():
                    previous = best[side].get(name)
                    if seconds is not None and (previous is None or seconds < previous):
                        best[side][name] = seconds
                    elif name not in best[side]:
                        best[side][name] = None
    print(f"engine of this checkout against the engine of {revision}: best of {rounds} "
          f"alternating rounds of 3 runs, one fresh process per round and side")
    print(f"{'program':<18} {'current s':>10} {'baseline s':>10} {'ratio':>7}  (CPU seconds)")
    ratios: list[tuple[float, str]] = []
    for name in names:
        current, baseline = best["current"].get(name), best["baseline"].get(name)
        if current is None or baseline is None:
            print(f"{name:<18} {'-' if current is None else f'{current:.4f}':>10} "
                  f"{'-' if baseline is None else f'{baseline:.4f}':>10} {'-':>7}")
            continue
        ratios.append((current / baseline, name))
        print(f"{name:<18} {current:>10.4f} {baseline:>10.4f} {current / baseline:>7.3f}")
    if ratios:
        worst_ratio, worst_name = max(ratios)
        print(f"geometric mean current/baseline: {geometric_mean([r for r, _ in ratios]):.3f} "
              f"over {len(ratios)} programs; worst: {worst_name} {worst_ratio:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per program (best counts)")
    parser.add_argument("--only", default="", help="comma-separated program names")
    parser.add_argument("--baseline", metavar="REV",
                        help="compare with the engine of this git revision instead")
    parser.add_argument("--times-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    wanted = {name for name in args.only.split(",") if name}
    programs = [p for p in PROGRAMS if not wanted or p.name in wanted]
    sizes = {p.name: p.quick if args.quick else p.full for p in programs}
    if args.times_json:
        print(json.dumps(engine_times(programs, sizes, args.repeat)))
        return 0
    if args.baseline:
        return compare_with_baseline(args.baseline, programs, args.quick, args.repeat)
    engine = bench_engine()

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
    eval_us, call_us = fixed_cost(engine, max(args.repeat, 5))
    print(f"eval fixed cost: {eval_us:.2f} us per eval of a compiled `{FIXED_COST_SOURCE}`, "
          f"vs {call_us:.2f} us for a Python function call of the same (CPU time)")

    print()
    print(f"{'compile':<18} {'engine ms':>10} {'python ms':>10} {'ratio':>7} {'rhai chars':>11} "
          f"{'shape kept ms':>14} {'ratio':>7}")
    compile_ratios: list[float] = []
    kept_ratios: list[float] = []
    for program in programs:
        try:
            t_engine, t_kept, t_python = compile_ratio(engine, program, sizes[program.name],
                                                       args.repeat)
        except RhaiError as error:
            print(f"{program.name:<18} engine error: {str(error).splitlines()[0]}")
            continue
        compile_ratios.append(t_engine / t_python)
        kept_ratios.append(t_kept / t_python)
        print(f"{program.name:<18} {t_engine * 1e3:>10.3f} {t_python * 1e3:>10.3f} "
              f"{t_engine / t_python:>7.2f} {len(program.rhai):>11} {t_kept * 1e3:>14.3f} "
              f"{t_kept / t_python:>7.2f}")
    print(f"compile geometric mean engine/python: {geometric_mean(compile_ratios):.2f} from "
          f"scratch; {geometric_mean(kept_ratios):.2f} when scripts of its shape were compiled "
          f"before (only the values of literals differ)")

    per_round = 100 if args.quick else TASK_SCRIPTS_PER_ROUND
    costs = task_script_costs(max(args.repeat, 5), per_round)
    print()
    print(f"task scripts (bench.tasks' workloads), CPU per script, best of "
          f"{max(args.repeat, 5)} rounds of {per_round:,}: repeated (run again) "
          f"{costs['repeated']:.1f} us; distinct (new text of one shape, compiled and run) "
          f"{costs['distinct']:.1f} us; novel (new shape, compiled and run) "
          f"{costs['novel']:.1f} us; baseline: CPython compile() and call of the novel "
          f"script's Python twin {costs['python']:.1f} us (novel/baseline "
          f"{costs['novel'] / costs['python']:.1f}x)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
