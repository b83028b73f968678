"""Smoke runs of the benchmark suite (issue #4) at tiny sizes.

Each benchmark runs with ``--quick`` as a user would run it and must finish and print its table:
the figures, the baseline it was compared with, and a ratio. Speed is never asserted here (that
is what the benchmarks themselves report).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RATIO = re.compile(r"\| \d[\d,.]*x \|")


def run_bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRCLES_")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_table(out: str, title: str, baseline: str, figures: list[str]) -> None:
    assert f"### {title}" in out, out
    assert re.search(r"machine: \d+ CPUs, .*Python 3\.\d+\.\d+, Redis \d+\.\d+", out), out
    assert f"baseline: {baseline}" in out, out
    for figure in figures:
        assert f"| {figure}" in out, f"missing figure {figure!r} in:\n{out}"
    assert RATIO.search(out), f"no ratio in:\n{out}"


def test_tasks_quick_prints_each_workload_against_the_relay_and_rq() -> None:
    done = run_bench("-m", "bench.tasks", "--quick", "--submitters", "1,4")
    assert done.returncode == 0, done.stderr
    figures = [f"{what}, {workload}, {n} submitter(s)"
               for what in ("tasks/s", "speed-up over RQ", "p50 latency", "p99 latency")
               for workload in ("repeated", "distinct", "novel", "mix") for n in (1, 4)]
    assert_table(done.stdout, "Task round trip (bench.tasks)", "bare relay (bench.relay)", figures)
    assert re.search(r"relay, 4 submitter\(s\): [\d,]+ tasks/s; RQ: [\d,]+ jobs/s", done.stdout)


def test_ws_quick_prints_plays_and_echo_ratio() -> None:
    done = run_bench("-m", "bench.ws", "--quick")
    assert done.returncode == 0, done.stderr
    assert_table(done.stdout, "WebSocket plays (bench.ws)", "Tornado echo WebSocket server",
                 ["plays/s, 1 client(s)", "p50 latency, 1 client(s)", "plays/s, 10 client(s)",
                  "p99 latency, 10 client(s)"])


def test_startup_quick_prints_start_times_and_import_costs() -> None:
    done = run_bench("-m", "bench.startup", "--quick")
    assert done.returncode == 0, done.stderr
    assert_table(done.stdout, "Start-up (bench.startup)", "supervisord + 2N idle Python programs",
                 ["start, 1 circle(s)", "stop, 1 circle(s)", "start, 2 circle(s)"])
    assert "`python -m worker --help`" in done.stdout
    assert "`python -m wsserver --help`" in done.stdout
    assert "import time by package" in done.stdout


def test_memory_quick_prints_rss_growth_and_baseline() -> None:
    done = run_bench("-m", "bench.memory", "--quick")
    assert done.returncode == 0, done.stderr
    assert_table(done.stdout, "Memory (bench.memory)",
                 "Tornado echo server + idle Python with redis",
                 [f"{figure}, {mode}" for mode in ("bytecode", "source")
                  for figure in ("worker RSS at rest", "WS server RSS after 100 plays",
                                 "circle (worker + server) after 100 plays",
                                 "worker growth 20 -> 100 plays",
                                 "WS server growth 20 -> 100 plays")])
    # the RSS goal is judged on the bytecode circle only (a regular install)
    circle = r"\| circle \(worker \+ server\) at rest, "
    assert re.search(circle + r"bytecode \|.*\| <= 50 MB \| (yes|NO) \|", done.stdout), done.stdout
    assert re.search(circle + r"source \|.*\| - \| - \|", done.stdout), done.stdout


def test_engine_quick_prints_times_against_plain_python() -> None:
    done = run_bench("-m", "bench.engine", "--quick", "--repeat", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"engine s\s+python s\s+rhai s\s+eng/py", done.stdout), done.stdout
    assert re.search(r"geometric mean engine/python: \d+\.\d+ over 26 programs; worst: \w+",
                     done.stdout), done.stdout
    assert re.search(r"compile geometric mean engine/python: \d+\.\d+", done.stdout), done.stdout
    assert re.search(r"eval fixed cost: \d+\.\d+ us per eval of a compiled `40 \+ 2`, vs "
                     r"\d+\.\d+ us for a Python function call", done.stdout), done.stdout
    assert re.search(r"task scripts .*: repeated \(run again\) \d+\.\d+ us; distinct .* "
                     r"\d+\.\d+ us; novel .* \d+\.\d+ us; baseline: .* \d+\.\d+ us",
                     done.stdout), done.stdout


def test_run_all_quick_runs_one_chosen_benchmark_under_the_machine_line() -> None:
    done = run_bench("bench/run_all.py", "--quick", "--only", "engine")
    assert done.returncode == 0, done.stderr
    assert re.search(r"machine: \d+ CPUs, .*Redis \d+\.\d+", done.stdout), done.stdout
    assert "### Rhai engine vs. plain Python (bench.engine)" in done.stdout
    assert "geometric mean engine/python" in done.stdout
    assert re.search(r"run time: engine \d+ s", done.stdout), done.stdout


def test_run_all_rejects_an_unknown_benchmark_by_name() -> None:
    done = run_bench("bench/run_all.py", "--only", "tasks,nope")
    assert done.returncode == 2
    assert "unknown benchmark(s): nope" in done.stderr
    assert "Traceback" not in done.stderr


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _kill_groups(bench: subprocess.Popen, started: list[int]) -> None:
    """SIGKILL the benchmark and the process groups of its children (each leads its own)."""
    for pid in set(started) | set(_children_of(bench.pid)):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    if bench.poll() is None:
        bench.kill()
        bench.wait()


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_benchmark_leaves_no_process_behind(signum: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRCLES_")}
    bench = subprocess.Popen([sys.executable, "-m", "bench.memory", "--tasks", "1000000"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 120
        # redis-server, worker, WebSocket server, echo server and two idle baselines: then the
        # benchmark is driving plays (asyncio) when the signal lands
        while len(started) < 6 and bench.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            started = _children_of(bench.pid)
        assert len(started) >= 6, bench.stderr.read() if bench.poll() is not None else started
        time.sleep(2)
        started = _children_of(bench.pid)
        bench.send_signal(signum)
        _, err = bench.communicate(timeout=120)
    except BaseException:
        _kill_groups(bench, started)
        raise
    leftovers = [pid for pid in started if _alive(pid)]
    _kill_groups(bench, started)  # a failed check below must not leave processes behind either
    assert bench.returncode == 128 + signum
    assert "all benchmark processes stopped" in err
    assert "Traceback" not in err, err
    assert not leftovers, f"processes left running: {leftovers}"



def test_a_signal_during_a_held_clean_up_is_delivered_after_it() -> None:
    from bench.common import signals_held

    finished = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            with signals_held():
                signal.raise_signal(signal.SIGINT)  # Ctrl+C while children are being stopped
                finished.append("clean-up")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished == ["clean-up"]
