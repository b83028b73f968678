"""Run every benchmark of issue #4 in turn and print their tables (pasteable Markdown).

``python -m bench`` or ``python bench/run_all.py``; ``--quick`` gives tiny sizes. Each benchmark
runs as its own subprocess (``python -m bench.<name>``), so one's processes and memory never
colour the next one's figures, and a failing benchmark does not stop the others.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if not __package__:  # run as a file (python bench/run_all.py): make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PROJECT_ROOT, machine_line, python_env  # noqa: E402

BENCHMARKS = ("tasks", "ws", "startup", "memory", "engine", "hostile")
PLAIN_TEXT = {"engine": "Rhai engine vs. plain Python (bench.engine)"}
"""Benchmarks printing plain text rather than Markdown: their output is fenced under a title."""


def run_one(name: str, quick: bool) -> tuple[int, float]:
    """Run ``python -m bench.<name>``, its output going straight to ours; (exit code, seconds)."""
    argv = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if quick else [])
    title = PLAIN_TEXT.get(name)
    if title:
        print(f"### {title}\n\n```", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=str(PROJECT_ROOT), env=python_env())
    terminated: list[int] = []

    def on_sigterm(signum: int, frame: object) -> None:
        """Pass SIGTERM on; the benchmark stops its processes, then the whole run ends."""
        terminated.append(signum)
        proc.terminate()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the child got the Ctrl+C too and stops its own processes
        proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if title:
            print("```\n", flush=True)
    if terminated:
        print("terminated", file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM)
    return code, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} "
                     f"(choose from {', '.join(BENCHMARKS)})")

    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"`python -m bench{' --quick' if args.quick else ''}`, {started}\n\n{machine_line()}\n",
          flush=True)
    failed, timings = [], []
    try:
        for name in chosen:
            code, seconds = run_one(name, args.quick)
            timings.append(f"{name} {seconds:.0f} s")
            if code != 0:
                failed.append(f"{name} (exit {code})")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"run time: {', '.join(timings)}", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
