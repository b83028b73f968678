"""The start sequence once the config is valid: state, keys, render, supervisord, readiness,
init scripts, table, then the foreground wait (or return with --detach).

Whatever goes wrong after supervisord is launched, the whole tree is shut down again before
returning, so a failed start leaves no process, socket or pid file behind.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Mapping, Sequence

import click

from worker import redis_connect
from worker.redis_link import RedisLinkError

from .config import Circle, Config
from .inflight import stop_notices
from .initscripts import run_init_scripts
from .circlekeys import worker_host_keys
from .keys import KeyPair, backup_keys, ensure_keys, read_keys
from .logs import last_lines, lines_since, log_offsets
from .paths import StatePaths
from .pythonpath import current_import_path
from .readiness import StartupFailed, Target, wait_ready
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .status import format_table, tree_view
from .supervisor import RPC_ERRORS, Supervisor, SupervisorError
from .tree import SUPERVISOR_USER, TreeSettings, dump_settings, render_conf

LOG_TAIL_LINES = 20
RUNTIME_ERRORS = (SupervisorError, RedisLinkError) + RPC_ERRORS
"""Failures of a start after the config was found valid; plus the Redis client's own errors
(redis-py's only when the Redis URL needs redis-py, see ``connect_redis``)."""
REDIS_TIMEOUT = 10.0
"""Seconds circlesctl waits for Redis to connect or answer (above protocol.WAIT_SLICE)."""


def connect_redis(url: str) -> tuple[Any, tuple[type[Exception], ...]]:
    """A client for readiness checks and init scripts, and the errors it raises. A plain
    ``redis://``/``unix://`` URL gets the worker's lean link, so a start never imports redis-py
    (0.1 CPU-s before supervisord is even launched); TLS and Sentinel URLs get redis-py."""
    client = redis_connect.worker_client(url, REDIS_TIMEOUT)
    return client, redis_connect.client_errors(client).any


class StartupAborted(Exception):
    """Start-up failed; everything started has been stopped again."""


class _StopRequested(BaseException):
    """Raised (once) by the SIGINT/SIGTERM/SIGHUP handler to unwind to the shutdown path."""


@dataclass(frozen=True)
class StartOptions:
    """The start command's options."""

    detach: bool = False
    new_keys: bool = False
    redis_url: str | None = None
    ready_timeout: float = 30.0
    init_timeout: float = 30.0
    debug: bool = False
    tty: bool = False
    redis_server: str = "redis-server"
    """The embedded Redis's binary, found by the preflight (unused with redis_url)."""
    max_memory_mb: int | None = None
    max_attempts: int | None = None


class _SignalStop:
    """SIGINT/SIGTERM/SIGHUP raise _StopRequested the first time, and are ignored after.

    SIGHUP is what a closed terminal sends: it stops the tree like Ctrl+C."""

    def __init__(self) -> None:
        self.armed = True
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "_SignalStop":
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            raise _StopRequested(signal.Signals(signum).name)

    def disarm(self) -> None:
        self.armed = False


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically, mode 0600 from creation."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def targets_for(circles: Sequence[Circle], keys: dict[str, KeyPair], embedded: bool,
                role: str = "all") -> list[Target]:
    """What to wait for: the embedded Redis (if any), then each circle's workers and server
    (only its workers on a workers host)."""
    targets = [Target(REDIS_PROGRAM, "redis")] if embedded else []
    for circle in circles:
        public_key = keys[circle.name].public_key
        targets += [Target(process, "worker", public_key) for process in circle.worker_processes]
        if role == "all":
            targets.append(Target(circle.ws_program, "ws", public_key, circle.host, circle.port))
    return targets


def _prepare(config: Config, paths: StatePaths,
             options: StartOptions) -> tuple[Supervisor, str, dict[str, KeyPair]]:
    """Create the state folder, keys and data folders; render supervisord.conf (0600)."""
    paths.create(embedded_redis=not options.redis_url)
    if options.new_keys:
        backup = backup_keys(paths.keys)
        if backup is not None:
            click.echo(f"Saved the previous keys in {backup}")
    if config.role == "workers":
        keys = worker_host_keys(config, read_keys(paths.keys))
    else:
        keys = ensure_keys(paths.keys, [c.name for c in config.circles], options.new_keys)
    for circle in config.circles:
        paths.circle_data(keys[circle.name].public_key).mkdir(mode=0o700, exist_ok=True)
    settings = TreeSettings(
        python=sys.executable, redis_url=options.redis_url,
        redis_binary=None if options.redis_url else options.redis_server, debug=options.debug,
        max_memory_mb=options.max_memory_mb, max_attempts=options.max_attempts,
        role=config.role, import_path=current_import_path())
    url = settings.redis_url_for(paths)
    password = secrets.token_urlsafe(24)
    write_private(paths.tree_settings, dump_settings(settings))
    write_private(paths.supervisord_conf, render_conf(config, keys, paths, settings, password))
    paths.init_results.unlink(missing_ok=True)
    return Supervisor(paths, SUPERVISOR_USER, password), url, keys


def _progress(tty: bool) -> Callable[[str, int, int], None]:
    """A readiness reporter: one compact, rewritten line on a terminal, else a line each."""
    started = time.monotonic()

    def report(program: str, done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        if tty:
            click.echo(f"\rWaiting for programs: {done}/{total} ready ({elapsed:.1f} s)",
                       nl=done == total)
        else:
            click.echo(f"  ready: {program} ({elapsed:.1f} s)")
    return report


def say(text: str, err: bool = False) -> None:
    """Print, but never fail: on the shutdown path a closed terminal (EIO) or a broken pipe
    must not stop the clean-up."""
    try:
        click.echo(text, err=err)
    except OSError:
        pass


def log_tails(paths: StatePaths, programs: Sequence[str],
              offsets: Mapping[str, int] | None = None) -> list[str]:
    """The last lines of each of ``programs``' logs; only those written after ``offsets``
    (from log_offsets, taken when this start or reload began) when given."""
    lines = []
    for program in programs:
        path = paths.program_log(program)
        if offsets is None:
            lines.append(f"--- last lines of {path} ---")
            lines += last_lines(path, LOG_TAIL_LINES) or ["(empty)"]
        else:
            lines.append(f"--- last lines of {path} (this start) ---")
            lines += lines_since(path, offsets.get(program, 0), LOG_TAIL_LINES) or ["(empty)"]
    return lines


def show_log_tails(paths: StatePaths, programs: Sequence[str],
                   offsets: Mapping[str, int] | None = None) -> None:
    """Print log_tails on stderr (why programs failed); never fails on a closed stderr."""
    for line in log_tails(paths, programs, offsets):
        say(line, err=True)


def _programs(config: Config, embedded: bool) -> list[str]:
    names = [REDIS_PROGRAM] if embedded else []
    for circle in config.circles:
        names += circle.processes(config.role)
    return names


def start_tree(config: Config, paths: StatePaths, options: StartOptions) -> int:
    """Start everything for ``config``; return the exit code (raises StartupAborted).

    Whatever ends the start (a failure, a signal, a broken pipe, any exception), everything
    started is stopped again unless the tree was left running on purpose (--detach).
    """
    supervisor: Supervisor | None = None
    started_up = False
    keep_running = False
    offsets: dict[str, int] = {}
    runtime_errors = RUNTIME_ERRORS

    def stop_tree() -> None:
        nonlocal supervisor
        if supervisor is not None:
            handle, supervisor = supervisor, None
            handle.shutdown()

    with _SignalStop() as stopper:
        try:
            supervisor, url, keys = _prepare(config, paths, options)
            offsets = log_offsets(paths, _programs(config, not options.redis_url))
            what = "circle(s)" if config.role == "all" else "circle(s), workers only"
            click.echo(f"Starting {len(config.circles)} {what}; state in {paths.root}")
            supervisor.launch(options.ready_timeout)
            client, redis_errors = connect_redis(url)
            runtime_errors = RUNTIME_ERRORS + redis_errors
            wait_ready(supervisor,
                       targets_for(config.circles, keys, not options.redis_url, config.role),
                       client, options.ready_timeout, _progress(options.tty))
            init: dict[str, str] = {}
            if config.role == "all":  # init scripts run on the host that serves the circle
                init = run_init_scripts(client, config.circles, keys, options.init_timeout)
                write_private(paths.init_results, json.dumps(init, indent=2) + "\n")
            click.echo(format_table(tree_view(config, keys, supervisor.processes(), init)))
            started_up = True
            if options.detach:
                click.echo(f"Running in the background; stop with: circlesctl stop "
                           f"{config.path} --state-dir {paths.root}")
                keep_running = True
                return 0
            click.echo("Running; press Ctrl+C to stop.")
            code = _wait_foreground(supervisor, stopper)
            stop_tree()
            if code == 0:
                say("supervisord was shut down from elsewhere (circlesctl stop?); exiting.")
                return 0
            raise StartupAborted(f"supervisord exited unexpectedly (status {code}); see "
                                 f"{paths.supervisord_log}")
        except _StopRequested as stop:
            stopper.disarm()
            say(f"\nReceived {stop}; stopping circles...")
            if supervisor is not None:
                for line in stop_notices(paths, config):
                    say(line)
            stop_tree()
            say("Stopped.")
            return 0 if started_up else 1
        except StartupFailed as exc:
            stopper.disarm()
            say("", err=True)
            show_log_tails(paths, exc.programs, offsets)
            stop_tree()
            raise StartupAborted(f"{exc}; stopped everything") from None
        except runtime_errors as exc:
            stopper.disarm()
            stop_tree()
            raise StartupAborted(f"start-up failed: {exc}; stopped everything") from None
        finally:
            stopper.disarm()
            if not keep_running:
                stop_tree()


def _wait_foreground(supervisor: Supervisor, stopper: _SignalStop) -> int:
    """Block until a signal (raises _StopRequested) or supervisord ends on its own; its status."""
    assert supervisor.process is not None
    code = supervisor.process.wait()
    stopper.disarm()
    return code
