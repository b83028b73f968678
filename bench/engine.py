"""Benchmark: the Rhai engine against the same programs in plain Python.

Runs a 1,000,000-step countdown loop, a sieve of Eratosthenes up to 1,000,000 and naive fib(28)
with every engine limit active (numeric limits raised so the scripts fit), and prints each time
and the ratio engine/Python. ``--quick`` uses small sizes for a smoke test.
Run as ``python bench/engine.py`` or ``python -m bench.engine``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.engine import Engine  # noqa: E402

LOOP = """
let n = {n};
while n > 0 {{
    n -= 1;
}}
n
"""

SIEVE = """
let n = {n};
let composite = [];
composite.pad(n + 1, false);
let count = 0;
let i = 2;
while i <= n {{
    if !composite[i] {{
        count += 1;
        let j = i * i;
        while j <= n {{
            composite[j] = true;
            j += i;
        }}
    }}
    i += 1;
}}
count
"""

FIB = """
fn fib(n) {{
    if n < 2 {{ n }} else {{ fib(n - 1) + fib(n - 2) }}
}}
fib({n})
"""


def py_loop(n: int) -> int:
    while n > 0:
        n -= 1
    return n


def py_sieve(n: int) -> int:
    composite = [False] * (n + 1)
    count = 0
    i = 2
    while i <= n:
        if not composite[i]:
            count += 1
            j = i * i
            while j <= n:
                composite[j] = True
                j += i
        i += 1
    return count


def py_fib(n: int) -> int:
    if n < 2:
        return n
    return py_fib(n - 1) + py_fib(n - 2)


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per program (best counts)")
    args = parser.parse_args(argv)
    sizes = {"loop": 10_000, "sieve": 10_000, "fib": 15} if args.quick else \
        {"loop": 1_000_000, "sieve": 1_000_000, "fib": 28}
    expected = {"loop": 0, "sieve": 1229 if args.quick else 78_498,
                "fib": 610 if args.quick else 317_811}
    engine = Engine(max_operations=50_000_000, max_array_size=2_000_000, timeout=120)
    programs = [("loop", LOOP, py_loop), ("sieve", SIEVE, py_sieve), ("fib", FIB, py_fib)]
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{os.cpu_count()} CPUs")
    print(f"{'program':<8} {'engine s':>10} {'python s':>10} {'ratio':>7}")
    worst = 0.0
    for name, template, py_fn in programs:
        n = sizes[name]
        compiled = engine.compile(template.format(n=n))
        t_engine, r_engine = best_of(args.repeat, lambda: engine.eval(compiled))
        t_python, r_python = best_of(args.repeat, lambda: py_fn(n))
        if r_engine != expected[name] or r_python != expected[name]:
            print(f"{name}: wrong result engine={r_engine} python={r_python}", file=sys.stderr)
            return 1
        ratio = t_engine / t_python
        worst = max(worst, ratio)
        print(f"{name:<8} {t_engine:>10.3f} {t_python:>10.3f} {ratio:>7.2f}")
    print(f"worst ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
