"""Start-up (issue #4, figure 3): ``circlesctl start --detach`` for N circles, until its table.

Baseline: supervisord alone starting the same number (2N) of trivial Python programs that import
nothing, timed until all are RUNNING. Also prints where the time goes: the CPU the programs,
circlesctl and supervisord used, and the start-up and import cost of the worker and the
WebSocket server programs (each circle starts one of each).

Each figure is measured twice, on two private copies of the project's packages (MODES): with
bytecode compiled ahead, as ``pip install .`` (the README's quick start) leaves it, and without
any bytecode and PYTHONDONTWRITEBYTECODE=1, as an editable install runs on a machine that sets
that variable: there every program compiles each project module from source at every start.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from bench.common import (MODES, Children, Code, Row, cpu_seconds, free_port, parse_modes,
                          print_table, project_copy, run_main, start_redis, tree_total,
                          wait_until, workspace)

INIT_SCRIPT = "let answer = 40 + 2;\nanswer\n"
CIRCLESCTL = [sys.executable, "-c", "import sys; from circlesctl.cli import main; sys.exit(main())"]
BASELINE_PROGRAM = [sys.executable, "-S", "-c", "import time; time.sleep(1e6)"]
def circlesctl_start_secs() -> int:
    """The ``startsecs`` circlesctl renders, so the baseline's programs must stay up as long."""
    from circlesctl.render import START_SECS

    return START_SECS


def write_circles(folder: Path, n: int) -> Path:
    """A circles.json with ``n`` circles on distinct free ports and a trivial init script."""
    script = folder / "init.rhai"
    script.write_text(INIT_SCRIPT)
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    circles = [{"name": f"bench{i}", "port": port, "script_path": script.name}
               for i, port in enumerate(sorted(ports))]
    path = folder / "circles.json"
    path.write_text(json.dumps(circles, indent=2))
    return path


def stop_circles(config: Path, state_dir: Path, code: Code) -> float:
    """``circlesctl stop``; returns its wall time."""
    t0 = time.perf_counter()
    done = subprocess.run([*CIRCLESCTL, "stop", str(config), "--state-dir", str(state_dir)],
                          capture_output=True, text=True, env=code.env, cwd=code.root,
                          timeout=120, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"circlesctl stop exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def _kill_supervisord(state_dir: Path) -> None:
    """Last resort after a failed or interrupted start/stop: SIGKILL the state folder's
    supervisord and everything below it (found by the state folder in their command lines)."""
    from circlesctl.supervisor import descendants

    marker = str(state_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "cmdline").read_bytes():
                continue
        except OSError:
            continue
        for victim in [int(entry.name), *descendants(int(entry.name))]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)


def tree_cpu(state_dir: Path) -> tuple[float, float]:
    """CPU seconds (the circles' programs, supervisord itself) used so far; Redis not counted."""
    from circlesctl.paths import StatePaths
    from circlesctl.supervisor import Supervisor

    handle = Supervisor.attach(StatePaths(state_dir))
    if handle is None:
        raise RuntimeError(f"no supervisord answers for {state_dir} after start")
    programs = sum(tree_total(info.pid, cpu_seconds) for info in handle.processes()
                   if info.pid and info.name != "redis")
    return programs, cpu_seconds(handle.pid)


def children_cpu() -> float:
    """CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class StartRun:
    """One ``circlesctl start`` + ``stop`` of N circles, and the CPU seconds the start took."""

    start: float
    stop: float
    programs_cpu: float
    circlesctl_cpu: float
    supervisord_cpu: float

    @property
    def total_cpu(self) -> float:
        """Everything the start cost in CPU (Redis aside); over the cores, a floor on its wall."""
        return self.programs_cpu + self.circlesctl_cpu + self.supervisord_cpu


def time_circlesctl(folder: Path, n: int, redis_url: str, mode: str, code: Code) -> StartRun:
    """Time start and stop of ``n`` circles on a fresh state folder; the CPU the start used."""
    work = folder / f"circles-{n}-{mode}"
    work.mkdir()
    config = write_circles(work, n)
    state_dir = work / "state"
    argv = [*CIRCLESCTL, "start", "--detach", str(config), "--state-dir", str(state_dir),
            "--redis-url", redis_url, "--ready-timeout", "600", "--init-timeout", "600"]
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=code.env,
                              cwd=code.root, timeout=300, check=False)
        started = time.perf_counter() - t0
        own_cpu = children_cpu() - cpu0
        if done.returncode != 0:
            raise RuntimeError(f"circlesctl start ({n} circles) exited {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        table_rows = sum(1 for line in done.stdout.splitlines() if re.search(r"\bbench\d+\b", line))
        if table_rows < n:
            raise RuntimeError(f"circlesctl start printed {table_rows} of {n} circles:\n"
                               f"{done.stdout}")
        programs, supervisord = tree_cpu(state_dir)
        return StartRun(started, stop_circles(config, state_dir, code), programs, own_cpu,
                        supervisord)
    except BaseException:
        _kill_supervisord(state_dir)
        raise


def baseline_conf(folder: Path, programs: int, start_secs: int) -> tuple[Path, Path]:
    """A supervisord.conf running ``programs`` idle interpreters; returns (conf, socket)."""
    sock = folder / "supervisor.sock"
    lines = ["[unix_http_server]", f"file={sock}", "chmod=0700", "",
             "[supervisord]", f"logfile={folder / 'supervisord.log'}",
             f"pidfile={folder / 'supervisord.pid'}", f"childlogdir={folder}", "nodaemon=true",
             "loglevel=warn", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", ""]
    command = " ".join(f"'{arg}'" if " " in arg else arg for arg in BASELINE_PROGRAM)
    for i in range(programs):
        lines += [f"[program:idle{i}]", f"command={command}", "autostart=true",
                  f"startsecs={start_secs}", "stopasgroup=true", "killasgroup=true",
                  "stdout_logfile=NONE", "redirect_stderr=true", ""]
    # one group, so shutdown stops them all at once (supervisord stops one group per loop tick)
    lines += ["[group:idle]", "programs=" + ",".join(f"idle{i}" for i in range(programs)), ""]
    conf = folder / "supervisord.conf"
    conf.write_text("\n".join(lines))
    return conf, sock


def time_baseline(folder: Path, children: Children, programs: int, start_secs: int) -> float:
    """Seconds from launching supervisord until all ``programs`` are RUNNING; then shut it down."""
    from supervisor.xmlrpc import SupervisorTransport

    work = folder / f"baseline-{programs}"
    work.mkdir()
    conf, sock = baseline_conf(work, programs, start_secs)
    def rpc() -> xmlrpc.client.ServerProxy:
        """A fresh proxy: the transport's connection is unusable after a failed request."""
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{sock}"))

    t0 = time.perf_counter()
    proc = children.start(f"supervisord-{programs}",
                          [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf)])

    def all_running() -> bool:
        try:
            infos = rpc().supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            return False
        return len(infos) == programs and all(i["statename"] == "RUNNING" for i in infos)

    wait_until(all_running, 300, f"{programs} baseline programs",
               lambda: children.check_alive(proc), interval=0.02)
    elapsed = time.perf_counter() - t0
    rpc().supervisor.shutdown()
    proc.wait(timeout=120)
    return elapsed


def median_seconds(argv: list[str], runs: int, code: Code) -> tuple[float, float]:
    """Median wall time and median CPU time of running ``argv`` to completion."""
    times, cpu = [], []
    for _ in range(runs):
        cpu0 = children_cpu()
        t0 = time.perf_counter()
        subprocess.run(argv, env=code.env, cwd=code.root, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
        cpu.append(children_cpu() - cpu0)
    return statistics.median(times), statistics.median(cpu)


def top_imports(module: str, code: Code, count: int = 6) -> list[tuple[str, float]]:
    """The ``count`` packages whose own import time (``-X importtime`` self, ms) is largest."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          env=code.env, cwd=code.root, capture_output=True, text=True,
                          check=True)
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            costs[package] = costs.get(package, 0.0) + int(match.group(1)) / 1000
    return sorted(costs.items(), key=lambda kv: -kv[1])[:count]


def import_report(runs: int, mode: str, code: Code) -> list[str]:
    """Lines saying what one program start costs in ``mode``: interpreter, then each program's
    imports (wall and CPU, medians)."""
    bare, bare_cpu = median_seconds([sys.executable, "-c", "pass"], runs, code)
    lines = [f"{mode}: bare `python -c pass`: {bare * 1000:.0f} ms, {bare_cpu * 1000:.0f} ms CPU "
             f"(medians of {runs})"]
    for program, module in (("worker", "worker.runner"), ("wsserver", "wsserver.app")):
        help_s, _ = median_seconds([sys.executable, "-m", program, "--help"], runs, code)
        imp_s, imp_cpu = median_seconds([sys.executable, "-c", f"import {module}"], runs, code)
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in top_imports(module, code))
        lines.append(f"{mode}: `python -m {program} --help`: {help_s * 1000:.0f} ms; "
                     f"`import {module}`: {imp_s * 1000:.0f} ms, {imp_cpu * 1000:.0f} ms CPU "
                     f"({(imp_cpu - bare_cpu) * 1000:.0f} ms CPU over bare); "
                     f"import time by package: {top}")
    return lines


def cpu_note(n: int, mode: str, run: StartRun, cores: int) -> str:
    """What the start of ``n`` circles cost in CPU, and the wall time that bounds on ``cores``."""
    return (f"{n} circle(s), {mode}: {run.total_cpu:.1f} CPU-s to the table (>= "
            f"{run.total_cpu / cores:.1f} s on {cores} cores): the {2 * n} programs "
            f"{run.programs_cpu:.1f} ({run.programs_cpu / (2 * n):.3f} per program start), "
            f"circlesctl {run.circlesctl_cpu:.2f}, supervisord {run.supervisord_cpu:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--circles", default="1,10,50",
                        help="comma-separated circle counts (default 1,10,50)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, of {', '.join(MODES)} (default both)")
    parser.add_argument("--import-runs", type=int, default=5,
                        help="runs per import-time median (default 5)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.circles, args.import_runs = "1,2", 1
    counts = [int(n) for n in args.circles.split(",")]
    try:
        modes = parse_modes(args.modes)
    except ValueError as exc:
        parser.error(f"--modes: {exc}")
    goals = {10: 2.0, 50: 8.0}  # seconds to the ready table (issue #12)
    start_secs = circlesctl_start_secs()

    rows: list[Row] = []
    cpu_notes: list[str] = []
    imports: list[str] = []
    cores = os.cpu_count() or 1
    with workspace("startup") as (folder, children):
        redis_url = start_redis(folder, children)
        codes = {mode: project_copy(folder, mode) for mode in modes}
        for n in counts:
            runs: dict[str, StartRun] = {}
            base = 0.0
            for i, mode in enumerate(modes):  # the baseline runs between the two modes
                runs[mode] = time_circlesctl(folder, n, redis_url, mode, codes[mode])
                if i == 0:
                    base = time_baseline(folder, children, 2 * n, start_secs)
            goal = goals.get(n)
            for mode, run in runs.items():
                rows.append(Row(f"start, {n} circle(s), {mode}", run.start, "s", base,
                                f"<= {goal:g} s" if goal else "",
                                (run.start <= goal) if goal else None, higher_is_better=False))
            for mode, run in runs.items():
                rows.append(Row(f"stop, {n} circle(s), {mode}", run.stop, "s",
                                higher_is_better=False))
                cpu_notes.append(cpu_note(n, mode, run, cores))
        for mode in modes:
            imports += import_report(args.import_runs, mode, codes[mode])
    notes = ["start = `circlesctl start --detach` wall time until it exits after printing its "
             "table (all programs ready, init scripts run); Redis is the benchmark's own "
             "(`--redis-url`), so its start is not counted",
             *(f"{mode} = {MODES[mode]}" for mode in modes),
             "the goals are for a regular install, so the bytecode rows are the ones to judge; "
             "the source rows show what an editable checkout costs on a machine that sets "
             "PYTHONDONTWRITEBYTECODE=1 (circlesctl leaves that setting alone)",
             f"baseline: supervisord alone starting 2N `python -S -c sleep` programs until all "
             f"are RUNNING, with circlesctl's startsecs={start_secs} (one baseline per N, run "
             f"between the modes)",
             "ratio = baseline / circlesctl (below 1: circlesctl is slower)",
             f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
             *cpu_notes, *imports]
    print_table("Start-up (bench.startup)", rows, "supervisord + 2N idle Python programs", notes)
    return 0

if __name__ == "__main__":
    run_main(main)
