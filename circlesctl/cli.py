"""The ``circlesctl`` command line: start, status, stop, reload, restart, logs, play,
export-public, systemd-unit.

Exit codes: 0 success, 1 runtime failure (a program did not start, a script failed, not
running), 2 usage or configuration error (nothing is started or created), 3 ``start`` found the
tree already running with a different config (nothing applied; ``reload`` applies it).
"""
from __future__ import annotations

import functools
import getpass
import json
import logging
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from worker import redis_connect

from . import keys as keyfile
from . import logs as logfiles
from . import preflight, render
from . import reload as reloading
from . import status as tree_status
from . import cluster
from .circlekeys import public_circles, tree_keys
from .config import (ROLES, Config, ConfigError, load_config, memory_limit_problem,
                     with_worker_defaults)
from .inflight import stop_notices
from .orchestrate import (StartOptions, StartupAborted, show_log_tails, start_tree,
                          write_private)
from .paths import StatePaths, resolve_state_dir
from .readiness import StartupFailed, wait_ready
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .status import format_table, notes, tree_view, websocket_url
from .supervisor import (RPC_ERRORS, Supervisor, clean_stale, live_supervisord, orphans,
                         read_pid)
from .systemd import UnitOptions, render_unit
from .tree import (SettingsError, TreeSettings, describe, dump_settings, load_settings,
                   recorded_role)

if TYPE_CHECKING:
    from wsserver.client import CircleRpcError

EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_CONFIG_DIFFERS = 3
PROJECT_LOGGERS = ("circlesctl", "worker", "wsserver")
DEFAULT_CONFIG = "circles.json"


class Fail(click.ClickException):
    """A clean error for the user: message on stderr, chosen exit code, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def setup_logging(verbose: int) -> None:
    """-v info, -vv debug for the project's modules, -vvv debug for everything."""
    logging.basicConfig(level=logging.DEBUG if verbose >= 3 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if verbose in (1, 2):
        for name in PROJECT_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO if verbose == 1 else logging.DEBUG)


def common_options(*positionals: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """[CONFIG] before the command's own ``positionals``, -c/--config, --state-dir and -v.

    CONFIG is optional, so it is told apart from the command's arguments by their count.
    """
    usage = " ".join(["[CONFIG]", *positionals])

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @click.argument("args", nargs=-1, metavar=usage)
        @click.option("-c", "--config", "config_option", type=click.Path(path_type=Path),
                      help="Config file (default: ./circles.json); same as the CONFIG argument.")
        @click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                      help="State folder (default: $CIRCLES_STATE_DIR, else .circles/ beside "
                           "the config file).")
        @click.option("-v", "--verbose", count=True,
                      help="-v info, -vv debug, -vvv debug for every library too.")
        @functools.wraps(func)
        def wrapper(args: tuple[str, ...], config_option: Path | None, state_dir: Path | None,
                    verbose: int, **kwargs: Any) -> Any:
            if len(args) not in (len(positionals), len(positionals) + 1):
                raise click.UsageError(f"expected arguments {usage}, got {len(args)}")
            config = args[0] if len(args) > len(positionals) else None
            if config is not None and config_option is not None:
                raise click.UsageError("give the config file as CONFIG or --config, not both")
            setup_logging(verbose + click.get_current_context().find_root().params["verbose"])
            path = Path(config or config_option or DEFAULT_CONFIG)
            paths = resolve_state_dir(path, state_dir)
            role = kwargs.pop("role", None) or recorded_role(paths.tree_settings)
            loaded = _load(path, role)
            own = args[len(args) - len(positionals):]
            return func(loaded, paths, *own, **kwargs)
        return wrapper
    return decorate


def _load(path: Path, role: str) -> Config:
    try:
        return load_config(path, role)
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None


def _tree_keys(config: Config, paths: StatePaths) -> dict[str, keyfile.KeyPair]:
    """The keys of the tree's circles as its role has them (see circlekeys), read-only."""
    try:
        return tree_keys(config, paths)
    except (keyfile.KeyFileError, ConfigError) as exc:
        raise Fail(str(exc), EXIT_USAGE) from None


def _read_keys(paths: StatePaths) -> dict[str, keyfile.KeyPair]:
    try:
        return keyfile.read_keys(paths.keys)
    except keyfile.KeyFileError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None


def _read_init(paths: StatePaths) -> dict[str, str]:
    try:
        data = json.loads(paths.init_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _attach_or_fail(paths: StatePaths) -> Supervisor:
    """The running supervisord, or a Fail saying what is there instead. Changes nothing:
    only start and stop clean up after a killed supervisord."""
    supervisor = Supervisor.attach(paths) if paths.root.is_dir() else None
    if supervisor is not None:
        return supervisor
    left = orphans(paths) if paths.root.is_dir() else []
    if left:
        raise Fail(f"circles are not running properly (state folder {paths.root}): supervisord "
                   f"is gone but {len(left)} program(s) it started still run (pids "
                   f"{', '.join(map(str, sorted(left)))}); 'circlesctl stop' stops them, "
                   "'circlesctl start' cleans up and starts again")
    stale = [p for p in (paths.supervisor_socket, paths.supervisor_pidfile) if p.exists()]
    if stale and not live_supervisord(paths):
        raise Fail(f"circles are not running (state folder {paths.root}); a killed supervisord "
                   f"left {' and '.join(p.name for p in stale)} behind (stale; 'circlesctl "
                   "stop' or 'circlesctl start' removes them)")
    raise Fail(f"circles are not running (state folder {paths.root}); "
               "start them with 'circlesctl start'")


def _tree_view(config: Config, paths: StatePaths,
               supervisor: Supervisor) -> tree_status.TreeView:
    try:
        infos = supervisor.processes()
    except RPC_ERRORS as exc:
        raise Fail(f"supervisord of {paths.root} stopped answering: {exc}") from None
    return tree_view(config, _tree_keys(config, paths), infos, _read_init(paths))


def show_status(config: Config, paths: StatePaths, supervisor: Supervisor,
                wide: bool = False) -> bool:
    """Print the running tree's table (and notes); True when every configured program runs."""
    view = _tree_view(config, paths, supervisor)
    click.echo(format_table(view, wide=wide))
    for line in notes(view, str(config.path)):
        click.echo(line)
    return view.ok


def _load_settings(paths: StatePaths) -> TreeSettings:
    try:
        return load_settings(paths.tree_settings)
    except SettingsError as exc:
        raise Fail(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="circlesctl")
@click.option("-v", "--verbose", count=True,
              help="-v info, -vv debug, -vvv debug for every library too (also accepted after "
                   "the command).")
def cli(verbose: int) -> None:
    """Run Circles: per-circle Rhai workers and WebSocket servers under supervisord."""


def _check_memory_limit(ctx: click.Context, param: click.Parameter,
                        value: int | None) -> int | None:
    if value is not None and memory_limit_problem(value):
        raise click.BadParameter(memory_limit_problem(value))
    return value


@cli.command()
@common_options()
@click.option("--detach", is_flag=True, help="Return after start-up; leave the circles running.")
@click.option("--new-keys", is_flag=True,
              help="Replace every circle's keypair with a fresh one (new identities; the old "
                   "keys.json is saved beside it). Asks first on a terminal.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (--new-keys).")
@click.option("--redis-url", envvar="CIRCLES_REDIS_URL",
              help="Use this Redis (default: $CIRCLES_REDIS_URL, else an embedded one).")
@click.option("--ready-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for every program to be ready.")
@click.option("--init-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for the init scripts' results.")
@click.option("-d", "--debug", is_flag=True, help="Debug logging in workers and servers too.")
@click.option("--max-memory-mb", type=click.IntRange(min=0), callback=_check_memory_limit,
              help="Default memory limit per worker for circles that set no max_memory_mb "
                   "(default: the worker's, 512; 0 = off).")
@click.option("--max-attempts", type=click.IntRange(min=1),
              help="Default max_attempts for circles that set none (default: the worker's, 2).")
@click.option("--role", type=click.Choice(ROLES), default="all", show_default=True,
              help="all: servers, workers and init scripts; workers: only the circles' workers, "
                   "on a shared Redis (--redis-url), no private keys (a worker host).")
def start(config: Config, paths: StatePaths, detach: bool, new_keys: bool, yes: bool,
          redis_url: str | None, ready_timeout: float, init_timeout: float, debug: bool,
          max_memory_mb: int | None, max_attempts: int | None) -> None:
    """Start every circle in CONFIG (default ./circles.json) and show their status.

    Stays in the foreground until Ctrl+C or SIGTERM, which stop everything, unless --detach.
    If the circles already run from this state folder, shows their status and exits 0, or 3
    when CONFIG differs from what runs (then 'circlesctl reload' applies it).
    With --role workers, runs only the workers of CONFIG's circles (named by "public_key")
    against the shared Redis of --redis-url / CIRCLES_REDIS_URL.
    """
    if config.role == "workers":
        if not redis_url:
            raise Fail("--role workers needs the shared Redis of the main host: give "
                       "--redis-url or CIRCLES_REDIS_URL (a worker host runs no Redis of its "
                       "own); nothing was started", EXIT_USAGE)
        if new_keys:
            raise Fail("--new-keys: a worker host has no keys of its own (the circles' keys "
                       "live on the main host)", EXIT_USAGE)
        for note in config.ignored:
            click.echo(f"Note: {note}.")
    if paths.root.is_dir():
        running = Supervisor.attach(paths)
        recorded = recorded_role(paths.tree_settings)
        if running is not None and recorded != config.role:
            raise Fail(f"circles already run from {paths.root} with --role {recorded}; stop "
                       f"them first to start with --role {config.role}", EXIT_CONFIG_DIFFERS)
        if running is not None:
            click.echo(f"Circles are already running from {paths.root}; not starting twice.")
            show_status(config, paths, running)
            _exit_if_config_differs(config, paths)
            return
        if clean_stale(paths):
            click.echo("Cleaned up after a supervisord that was killed (stale socket/pid file, "
                       "orphaned programs).")
    redis_server = _preflight(config, paths, redis_url)
    if new_keys and not yes:
        _confirm_new_keys(paths)
    options = StartOptions(detach=detach, new_keys=new_keys, redis_url=redis_url,
                           ready_timeout=ready_timeout, init_timeout=init_timeout, debug=debug,
                           tty=sys.stdout.isatty(), max_memory_mb=max_memory_mb,
                           max_attempts=max_attempts, redis_server=redis_server or "")
    try:
        code = start_tree(config, paths, options)
    except keyfile.KeyFileError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    except StartupAborted as exc:
        raise Fail(str(exc)) from None
    sys.exit(code)


def _confirm_new_keys(paths: StatePaths) -> None:
    """--new-keys discards identities: ask on a terminal, refuse (exit 2) without one."""
    existing = sorted(_read_keys(paths))
    if not existing:
        return
    what = (f"--new-keys replaces the keys of {len(existing)} circle(s) in {paths.keys} "
            "(their identities, and so their data, are left behind; the old file is saved "
            "beside it)")
    if not sys.stdin.isatty():
        raise Fail(f"{what}. Not on a terminal, so not asking: add --yes to confirm.",
                   EXIT_USAGE)
    if not click.confirm(f"{what}. Continue?", default=False):
        raise Fail("Keys not replaced; nothing started.", EXIT_USAGE)


def _preflight(config: Config, paths: StatePaths, redis_url: str | None) -> str | None:
    """Everything that can be wrong before anything is created (exit 2 on a problem); the
    embedded Redis's binary (None with redis_url)."""
    try:
        redis_server = preflight.find_requirements(embedded_redis=not redis_url)
    except preflight.MissingRequirement as exc:
        raise Fail(f"cannot start: {exc}", EXIT_USAGE) from None
    too_long = paths.too_long_sockets()
    if too_long:
        raise Fail(f"state folder {paths.root}: socket path {too_long[0]} is too long for the "
                   "kernel; use a shorter --state-dir", EXIT_USAGE)
    try:
        render.check_renderable(paths, redis_url)
    except ValueError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    try:
        tree_keys(config, paths)
        if config.role == "all":
            preflight.check_ports(config)
    except keyfile.KeyFileError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    if redis_url:
        problem = preflight.check_redis(redis_url)
        if problem:
            raise Fail(f"--redis-url / CIRCLES_REDIS_URL: {problem}", EXIT_USAGE)
    return redis_server


def _exit_if_config_differs(config: Config, paths: StatePaths) -> None:
    """On a running tree: exit 3 naming what differs from CONFIG (reload applies it)."""
    try:
        changes = reloading.pending_changes(config, paths, load_settings(paths.tree_settings))
    except (SettingsError, keyfile.KeyFileError, ConfigError, OSError) as exc:
        click.echo(f"Cannot compare {config.path} with the running tree: {exc}")
        return
    if changes.any:
        lines = "; ".join(describe(changes, config, _tree_keys(config, paths)))
        click.echo(f"{config.path} differs from what runs ({lines}); nothing was applied. "
                   f"Apply it with: circlesctl reload {config.path} --state-dir {paths.root}",
                   err=True)
        sys.exit(EXIT_CONFIG_DIFFERS)


@cli.command()
@common_options()
@click.option("--json", "as_json", is_flag=True,
              help="Print the tree as JSON (every full value; each process as supervisorctl "
                   "names it).")
@click.option("--wide", is_flag=True, help="Full public keys and queue names in the table.")
@click.option("--cluster", "with_cluster", is_flag=True,
              help="Also list every live worker of each circle on every host (from the "
                   "workers' heartbeats in Redis).")
def status(config: Config, paths: StatePaths, as_json: bool, wide: bool,
           with_cluster: bool) -> None:
    """Show the running tree (exit 1 if not running or a configured program is not RUNNING).

    Lists circles that run but are no longer in CONFIG, and configured ones that do not run
    (ABSENT). --cluster adds, per circle, the workers of every host sharing its Redis. Changes
    nothing.
    """
    supervisor = Supervisor.attach(paths) if paths.root.is_dir() else None
    if as_json:
        if supervisor is None:
            click.echo(json.dumps({"running": False, "ok": False, "state_dir": str(paths.root),
                                   "config": str(config.path),
                                   "error": "circles are not running"},
                                  indent=2))
            sys.exit(EXIT_RUNTIME)
        view = _tree_view(config, paths, supervisor)
        data = tree_status.to_json(view, str(paths.root), str(config.path))
        data["supervisord_pid"] = read_pid(paths.supervisor_pidfile)
        data["role"] = config.role
        if with_cluster:
            data["cluster"] = cluster.to_json(_cluster_view(config, paths, view))
        click.echo(json.dumps(data, indent=2))
        ok = view.ok
    else:
        supervisor = supervisor or _attach_or_fail(paths)
        ok = show_status(config, paths, supervisor, wide)
        if with_cluster:
            view = _tree_view(config, paths, supervisor)
            click.echo("")
            click.echo(cluster.format_cluster(_cluster_view(config, paths, view), time.time()))
    if not ok:
        sys.exit(EXIT_RUNTIME)


def _cluster_view(config: Config, paths: StatePaths,
                  view: tree_status.TreeView) -> list[cluster.CircleWorkers]:
    """The live workers of the configured circles on every host, read from Redis."""
    import redis  # here: the other commands, start among them, never need redis-py

    keys = _tree_keys(config, paths)
    circles = {c.name: keys[c.name].public_key for c in config.circles if c.name in keys}
    own_pids = {p.pid for p in view.programs if p.pid}
    url = _load_settings(paths).redis_url_for(paths)
    client = redis_connect.sync_client(url, decode_responses=True, socket_timeout=5,
                                       socket_connect_timeout=5)
    try:
        beats = {pk: cluster.read_heartbeats(client, pk) for pk in circles.values()}
    except redis.RedisError as exc:
        raise Fail(f"cluster view: cannot read the heartbeats from Redis "
                   f"({redis_connect.masked_url(url)}): {exc}") from None
    finally:
        client.close()
    return cluster.cluster_view(circles, beats, socket.gethostname(), own_pids)


@cli.command()
@common_options()
@click.option("--ready-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for started programs to be ready.")
@click.option("--init-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for the new circles' init scripts.")
@click.option("--max-memory-mb", type=click.IntRange(min=0), callback=_check_memory_limit,
              help="New default memory limit for circles that set no max_memory_mb (kept for "
                   "later reloads).")
@click.option("--max-attempts", type=click.IntRange(min=1),
              help="New default max_attempts for circles that set none (kept for later "
                   "reloads).")
def reload(config: Config, paths: StatePaths, ready_timeout: float, init_timeout: float,
           max_memory_mb: int | None, max_attempts: int | None) -> None:
    """Apply CONFIG to the running tree: start added circles, restart changed ones, stop removed
    ones (their keys and data are kept); unchanged circles are not touched."""
    supervisor = _attach_or_fail(paths)
    settings = _load_settings(paths)
    if max_memory_mb is not None:
        settings = replace(settings, max_memory_mb=max_memory_mb)
    if max_attempts is not None:
        settings = replace(settings, max_attempts=max_attempts)
    try:
        running = {i.group for i in supervisor.processes()}
        reloading.check_ports_to_take(config, _tree_keys(config, paths), running)
    except ConfigError as exc:
        raise Fail(f"{exc}; nothing was changed", EXIT_USAGE) from None
    except RPC_ERRORS as exc:
        raise Fail(f"supervisord of {paths.root} stopped answering: {exc}") from None
    write_private(paths.tree_settings, dump_settings(settings))
    try:
        result = reloading.apply_config(config, paths, supervisor, settings, ready_timeout,
                                        init_timeout, _ready_line)
    except (keyfile.KeyFileError, ConfigError) as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    except StartupFailed as exc:
        show_log_tails(paths, exc.programs)
        failed = reloading.withdraw(supervisor, exc.programs)
        raise Fail(f"reload: {exc}; took {', '.join(failed)} out of the running tree again (the "
                   "other circles are unaffected): fix it and reload again") from None
    except (reloading.ReloadError, *RPC_ERRORS) as exc:
        raise Fail(f"reload failed: {exc}") from None
    reloading.merge_init_results(paths, result.init)
    keys = _tree_keys(config, paths)
    if result.changes.any:
        for line in describe(result.changes, config, keys):
            click.echo(f"Reloaded: {line}")
    else:
        click.echo(f"No changes: the running tree already matches {config.path}.")
    show_status(config, paths, supervisor)


def _ready_line(program: str, done: int, total: int) -> None:
    click.echo(f"  ready: {program} ({done}/{total})")


@cli.command()
@common_options("NAME")
@click.option("--ready-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for the restarted programs to be ready.")
def restart(config: Config, paths: StatePaths, name: str, ready_timeout: float) -> None:
    """Restart NAME: a circle (both its programs, every worker of a pool), its worker pool
    (worker-<slug>), or one program (ws-<slug>, worker-<slug>-2, <slug>:ws-<slug>)."""
    supervisor = _attach_or_fail(paths)
    settings = _load_settings(paths)
    try:
        circle, chosen = reloading.resolve_restart(name, config, supervisor.processes())
    except reloading.ReloadError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    pair = _tree_keys(config, paths).get(circle.name)
    if pair is None:
        raise Fail(f"no key for circle {circle.name!r} in {paths.keys}")
    specs = [tree_status.namespec(i.group, i.name) for i in chosen]
    old_pids = {i.name: i.pid for i in chosen}
    client = redis_connect.sync_client(settings.redis_url_for(paths), decode_responses=True)
    try:
        reloading.stop_processes(supervisor, chosen)
        reloading.start_processes(supervisor, specs)
        wait_ready(supervisor,
                   reloading.targets(circle, pair.public_key, list(old_pids), config.role),
                   client, ready_timeout, lambda *_: None)
    except StartupFailed as exc:
        show_log_tails(paths, exc.programs)
        raise Fail(f"restart: {exc}") from None
    except (reloading.ReloadError, *RPC_ERRORS) as exc:
        raise Fail(f"restart failed: {exc}") from None
    finally:
        client.close()
    new_pids = {i.name: i.pid for i in supervisor.processes() if i.group == circle.slug}
    for info in chosen:
        click.echo(f"Restarted {tree_status.namespec(info.group, info.name)} "
                   f"(pid {old_pids[info.name]} -> {new_pids.get(info.name, 0)}); ready.")


@cli.command()
@common_options()
def stop(config: Config, paths: StatePaths) -> None:
    """Stop every program and supervisord, and wait until they are gone."""
    supervisor = Supervisor.attach(paths) if paths.root.is_dir() else None
    if supervisor is None:
        if paths.root.is_dir() and clean_stale(paths):
            click.echo("supervisord had been killed; stopped the programs it left running and "
                       "removed its stale socket/pid file.")
        else:
            click.echo(f"Circles are not running (state folder {paths.root}); nothing to stop.")
        return
    click.echo("Stopping circles...")
    for line in stop_notices(paths, config):
        click.echo(line)
    supervisor.shutdown()
    click.echo("Stopped.")


@cli.command()
@common_options("NAME")
@click.option("-f", "--follow", is_flag=True, help="Keep printing lines as they are written.")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=50, show_default=True,
              help="How many of the last lines to show per program.")
def logs(config: Config, paths: StatePaths, name: str, follow: bool, lines: int) -> None:
    """Show the logs of NAME: a circle (both its programs), a program (as 'ws-ourworld' or as
    supervisorctl names it, 'ourworld:ws-ourworld'), or 'redis'/'supervisord'."""
    name = _program_name(config, name)
    circle = config.find(name)
    if circle is not None and name in circle.processes(config.role):
        files = [paths.program_log(name)]
    elif circle is not None and name == circle.worker_program:  # a whole pool
        files = [paths.program_log(p) for p in circle.worker_processes]
    elif circle is not None and name != circle.ws_program:
        files = [paths.program_log(p) for p in circle.processes(config.role)]
    elif name == REDIS_PROGRAM:
        files = [paths.program_log(REDIS_PROGRAM)]
    elif name == "supervisord":
        files = [paths.supervisord_log]
    else:
        known = ", ".join(repr(c.name) for c in config.circles)
        raise Fail(f"no circle or program called {name!r} in {config.path} (circles: {known})",
                   EXIT_USAGE)
    if not any(f.exists() for f in files):
        raise Fail(f"no logs yet for {name!r} in {paths.logs}")
    try:
        for path in files:
            click.echo(f"==> {path} <==")
            for line in logfiles.last_lines(path, lines):
                click.echo(line)
        if follow:
            logfiles.follow(files, lambda p, line: click.echo(f"[{p.stem}] {line}"))
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `circlesctl logs x | head`: the reader has what it wanted
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so the interpreter's final flush
    does not report a broken pipe (Python's documented remedy; changing the process's SIGPIPE
    handling instead would also apply to every socket of an in-process caller)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _program_name(config: Config, name: str) -> str:
    """'group:program' (supervisorctl's name) as the bare program name when the group is the
    circle's; anything else unchanged."""
    group, colon, program = name.partition(":")
    circle = config.find(program) if colon else None
    if circle is not None and circle.slug == group and program in (
            circle.worker_program, *circle.worker_processes, circle.ws_program):
        return program
    return name


@cli.command()
@common_options("NAME", "FILE|-")
@click.option("--key", "key_hex",
              help="Private key (hex) to log in with, e.g. a member's (visible in ps: prefer "
                   "--key-file).")
@click.option("--key-file", type=click.File("r"), help="File holding the private key (hex).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for the result.")
def play(config: Config, paths: StatePaths, name: str, script: str, key_hex: str | None,
         key_file: Any, timeout: float) -> None:
    """Run the Rhai script FILE (or stdin: -) on circle NAME and print its output.

    Logs in with the circle's own key from keys.json unless --key / --key-file is given.
    """
    from wsserver.client import CircleClientError, CircleRpcError, play_script

    circle = config.find(name)
    if circle is None:
        known = ", ".join(repr(c.name) for c in config.circles)
        raise Fail(f"no circle called {name!r} in {config.path} (circles: {known})", EXIT_USAGE)
    if config.role == "workers":
        raise Fail(f"{paths.root} is a worker host (--role workers): it runs no server; play "
                   "through the main host's", EXIT_USAGE)
    source = _read_script(script)
    private_key = _play_key(paths, circle.name, key_hex, key_file)
    try:
        output = play_script(websocket_url(circle), source, private_key_hex=private_key,
                             timeout=timeout)
    except CircleRpcError as exc:
        raise Fail(f"script failed on {circle.name!r}: {_describe_failure(exc, source)}") from None
    except CircleClientError as exc:
        raise Fail(f"{exc} (is circle {circle.name!r} running? see 'circlesctl status')") from None
    click.echo(output, nl=not output.endswith("\n"))


def _describe_failure(error: CircleRpcError, source: str) -> str:
    """A failed play as a person reads it: the worker's message, called a syntax error when the
    script does not even parse (JSON-RPC labels every script failure "Execution Error")."""
    from worker.engine import Engine, ParseError, RhaiError
    from wsserver.rpc import EXECUTION_ERROR

    if error.code != EXECUTION_ERROR or error.data is None:
        return str(error)
    try:
        Engine().compile(source)
    except ParseError:
        return f"syntax error: {error.data}"
    except RhaiError:
        pass
    return str(error.data)


def _read_script(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Fail(f"cannot read script {name}: {exc}", EXIT_USAGE) from None


def _play_key(paths: StatePaths, name: str, key_hex: str | None, key_file: Any) -> str:
    if key_hex and key_file:
        raise Fail("give --key or --key-file, not both", EXIT_USAGE)
    if key_file is not None:
        key_hex = key_file.read().strip()
    if key_hex:
        try:
            return keyfile.KeyPair.from_private_hex(key_hex).private_key
        except ValueError as exc:
            source = "--key-file" if key_file is not None else "--key"
            raise Fail(f"{source}: {exc}", EXIT_USAGE) from None
    pair = _read_keys(paths).get(name)
    if pair is None:
        raise Fail(f"no key for circle {name!r} in {paths.keys}; start the circles first")
    return pair.private_key


@cli.command("export-public")
@common_options()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the file here (mode 0600) instead of printing it.")
def export_public(config: Config, paths: StatePaths, output: Path | None) -> None:
    """Print the circles file a worker host needs: each circle's name, public key (from the
    state folder's keys.json), worker count, store and worker limits; never a private key.

    'circlesctl start --role workers FILE' on the worker host accepts it as it is.
    """
    keys = _tree_keys(config, paths)
    missing = [c.name for c in config.circles if c.name not in keys]
    if missing:
        raise Fail(f"no key yet for circle(s) {', '.join(map(repr, missing))} in {paths.keys}: "
                   "start the circles once first ('circlesctl start')")
    try:
        settings: TreeSettings | None = load_settings(paths.tree_settings)
    except SettingsError:
        settings = None
    if settings is not None:
        config = with_worker_defaults(config, settings.max_memory_mb, settings.max_attempts)
    text = json.dumps(public_circles(config, keys), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_private(output.absolute(), text)
    except OSError as exc:
        raise Fail(f"cannot write {output}: {exc}", EXIT_USAGE) from None
    click.echo(f"Wrote {len(config.circles)} circle(s) to {output} (public keys only).",
               err=True)


@cli.command("systemd-unit")
@common_options()
@click.option("--user", default=getpass.getuser, show_default="the current user",
              help="The user the circles run as (User=); owns the state folder.")
@click.option("--role", type=click.Choice(ROLES),
              help="The role the unit starts the tree with (default: the state folder's, else "
                   "all); workers for a worker host.")
def systemd_unit(config: Config, paths: StatePaths, user: str) -> None:
    """Print a systemd service unit that runs CONFIG's circles in the foreground.

    Save it as /etc/systemd/system/circles.service; `systemctl reload circles` runs
    'circlesctl reload'. See "Running on a VM" in the README.
    """
    try:
        unit = render_unit(UnitOptions(python=sys.executable, config=config.path,
                                       state_dir=paths.root, user=user, role=config.role))
    except ValueError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    click.echo(unit, nl=False)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="circlesctl")
