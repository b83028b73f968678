"""The ``circlesctl`` command line: start, status, stop, logs, play.

Exit codes: 0 success, 1 runtime failure (a program did not start, a script failed, not
running), 2 usage or configuration error (nothing is started or created).
"""
from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from . import keys as keyfile
from . import logs as logfiles
from . import preflight, render
from .config import Config, ConfigError, load_config
from .inflight import stop_notices
from .orchestrate import StartOptions, StartupAborted, start_tree
from .paths import StatePaths, resolve_state_dir
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .status import build_rows, format_table, websocket_url
from .supervisor import RPC_ERRORS, Supervisor, clean_stale, live_supervisord, orphans

if TYPE_CHECKING:
    from wsserver.client import CircleRpcError

EXIT_RUNTIME = 1
EXIT_USAGE = 2
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
            loaded = _load(Path(config or config_option or DEFAULT_CONFIG))
            own = args[len(args) - len(positionals):]
            return func(loaded, resolve_state_dir(loaded.path, state_dir), *own, **kwargs)
        return wrapper
    return decorate


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
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


def show_status(config: Config, paths: StatePaths, supervisor: Supervisor) -> bool:
    """Print the live table; True when every program is RUNNING."""
    try:
        infos = {i.name: i for i in supervisor.processes()}
    except RPC_ERRORS as exc:
        raise Fail(f"supervisord of {paths.root} stopped answering: {exc}") from None
    rows = build_rows(config.circles, _read_keys(paths), infos, _read_init(paths))
    click.echo(format_table(rows))
    return all(i.state == "RUNNING" for i in infos.values())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="circlesctl")
@click.option("-v", "--verbose", count=True,
              help="-v info, -vv debug, -vvv debug for every library too (also accepted after "
                   "the command).")
def cli(verbose: int) -> None:
    """Run Circles: per-circle Rhai workers and WebSocket servers under supervisord."""


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
def start(config: Config, paths: StatePaths, detach: bool, new_keys: bool, yes: bool,
          redis_url: str | None, ready_timeout: float, init_timeout: float, debug: bool) -> None:
    """Start every circle in CONFIG (default ./circles.json) and show their status.

    Stays in the foreground until Ctrl+C or SIGTERM, which stop everything, unless --detach.
    If the circles already run from this state folder, shows their status and exits 0.
    """
    if paths.root.is_dir():
        running = Supervisor.attach(paths)
        if running is not None:
            click.echo(f"Circles are already running from {paths.root}; not starting twice.")
            show_status(config, paths, running)
            return
        if clean_stale(paths):
            click.echo("Cleaned up after a supervisord that was killed (stale socket/pid file, "
                       "orphaned programs).")
    redis_server = _preflight(config, paths, redis_url)
    if new_keys and not yes:
        _confirm_new_keys(paths)
    options = StartOptions(detach=detach, new_keys=new_keys, redis_url=redis_url,
                           ready_timeout=ready_timeout, init_timeout=init_timeout, debug=debug,
                           tty=sys.stdout.isatty(), redis_server=redis_server or "")
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
        keyfile.read_keys(paths.keys)
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


@cli.command()
@common_options()
def status(config: Config, paths: StatePaths) -> None:
    """Show the circles' live status (exit 1 if not running or a program is not RUNNING)."""
    if not show_status(config, paths, _attach_or_fail(paths)):
        sys.exit(EXIT_RUNTIME)


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
    if circle is not None and name in (circle.worker_program, circle.ws_program):
        files = [paths.program_log(name)]
    elif circle is not None:
        files = [paths.program_log(circle.worker_program), paths.program_log(circle.ws_program)]
    elif name == REDIS_PROGRAM:
        files = [paths.program_log(REDIS_PROGRAM)]
    elif name == "supervisord":
        files = [paths.supervisord_log]
    else:
        known = ", ".join(repr(c.name) for c in config.circles)
        raise Fail(f"no circle or program called {name!r} in {config.path} (circles: {known})",
                   EXIT_USAGE)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `circlesctl logs x | head` ends quietly
    if not any(f.exists() for f in files):
        raise Fail(f"no logs yet for {name!r} in {paths.logs}")
    for path in files:
        click.echo(f"==> {path} <==")
        for line in logfiles.last_lines(path, lines):
            click.echo(line)
    if follow:
        try:
            logfiles.follow(files, lambda p, line: click.echo(f"[{p.stem}] {line}"))
        except KeyboardInterrupt:
            return


def _program_name(config: Config, name: str) -> str:
    """'group:program' (supervisorctl's name) as the bare program name when the group is the
    circle's; anything else unchanged."""
    group, colon, program = name.partition(":")
    circle = config.find(program) if colon else None
    if circle is not None and circle.slug == group and program in (circle.worker_program,
                                                                   circle.ws_program):
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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="circlesctl")
