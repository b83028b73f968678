"""Render circlesctl/templates/supervisord.conf.j2 (pure: a context in, the config text out).

Values land in an ini file that supervisord reads with inline comments (`` ;`` / `` #``),
%-expansion and shell-like splitting of commands, so everything is escaped here, once.
"""
from __future__ import annotations

import importlib.resources
import re
import shlex
from dataclasses import dataclass, field
from typing import Sequence

import jinja2

from worker import protocol

from .config import Circle
from .keys import KeyPair
from .paths import TREE_MARK, StatePaths
from .redis_embed import PROGRAM as REDIS_PROGRAM

TEMPLATE_PACKAGE = "circlesctl.templates"
"""The template ships inside the package (and so inside the wheel), read with importlib.resources."""
TEMPLATE_NAME = "supervisord.conf.j2"

LOG_MAX_BYTES = "10MB"
LOG_BACKUPS = 5
STOP_WAIT_SECS = 15
"""Longer than a script may run (the engine's 10 s timeout): on SIGTERM a worker finishes its task."""
START_SECS = 1
REDIS_PRIORITY = 10
WORKER_PRIORITY = 100
WS_PRIORITY = 200
POOL_SUFFIX = "-%(process_num)d"
"""supervisord expands this per process of a pool: worker-<slug>-1, -2, ... (see Circle)."""


def _check_plain(value: str, what: str) -> str:
    """Reject a value the ini format cannot carry unquoted (paths, URLs)."""
    if "\n" in value or "\r" in value or "%" in value or re.search(r"\s[;#]", value):
        raise ValueError(f"{what} {value!r} contains a newline, '%' or ' ;'/' #', "
                         "which supervisord's config format cannot carry")
    return value


def ini_command(argv: Sequence[str]) -> str:
    """A command line supervisord splits back into exactly ``argv``.

    Arguments are shell-quoted, ``%`` is doubled (supervisord %-expands commands), and a quote
    is closed and reopened before ``;``/``#`` so they never follow whitespace (inline comment).
    """
    parts = []
    for arg in argv:
        quoted = shlex.quote(arg)
        if quoted.startswith("'"):
            quoted = re.sub(r"([;#])", r"''\1", quoted)
        parts.append(quoted.replace("%", "%%"))
    return " ".join(parts)


def ini_environment(env: dict[str, str]) -> str:
    """KEY="value",... as supervisord's environment= expects (values must not hold quotes)."""
    items = []
    for key, value in env.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"bad environment variable name {key!r}")
        if any(ch in value for ch in "\"'\n\r\\") or re.search(r"\s[;#]", value):
            raise ValueError(f"environment value for {key} contains a quote, backslash, "
                             "newline or ' ;'/' #', which supervisord cannot carry")
        items.append(f'{key}="{value.replace("%", "%%")}"')
    return ",".join(items)


@dataclass(frozen=True)
class Program:
    """One [program:x] section."""

    name: str
    command: str
    priority: int
    logfile: str
    environment: str = ""
    directory: str = ""
    numprocs: int = 1
    """More than one: a pool of processes named ``<name>-1`` .. ``<name>-N`` (and log files)."""


@dataclass(frozen=True)
class Group:
    """One [group:x] section."""

    name: str
    programs: tuple[str, ...]


@dataclass(frozen=True)
class RenderContext:
    """Everything the template needs, already escaped."""

    socket: str
    username: str
    password: str
    pidfile: str
    logfile: str
    childlogdir: str
    identifier: str
    programs: tuple[Program, ...] = field(default_factory=tuple)
    groups: tuple[Group, ...] = field(default_factory=tuple)
    log_max_bytes: str = LOG_MAX_BYTES
    log_backups: int = LOG_BACKUPS
    stop_wait_secs: int = STOP_WAIT_SECS
    start_secs: int = START_SECS


def check_renderable(paths: StatePaths, redis_url: str | None) -> None:
    """Raise ValueError if the state folder or Redis URL cannot be written into the config."""
    _check_plain(str(paths.root), "state folder")
    if redis_url:
        ini_environment({protocol.REDIS_URL_ENV: redis_url})


def worker_argv(python: Sequence[str], circle: Circle, pair: KeyPair, paths: StatePaths,
                debug: bool) -> list[str]:
    """``python -m worker`` for one circle (``python``: the interpreter and its options; the Redis
    URL travels in the environment)."""
    argv = [*python, "-m", "worker", "--name", circle.name, "--public-key", pair.public_key,
            "--data-dir", str(paths.circle_data(pair.public_key))]
    if circle.max_memory_mb is not None:
        argv += ["--max-memory-mb", str(circle.max_memory_mb)]
    if circle.max_attempts is not None:
        argv += ["--max-attempts", str(circle.max_attempts)]
    if circle.script_timeout is not None:
        argv += ["--script-timeout", repr(circle.script_timeout)]
    if circle.max_operations is not None:
        argv += ["--max-operations", str(circle.max_operations)]
    if circle.store != "sqlite":
        argv += ["--store", circle.store]
    if circle.modules is not None:
        argv += ["--modules-dir", str(circle.modules)]
    return argv + (["--debug"] if debug else [])


def ws_argv(python: Sequence[str], circle: Circle, pair: KeyPair, debug: bool) -> list[str]:
    """``python -m wsserver`` for one circle (``python``: the interpreter and its options)."""
    argv = [*python, "-m", "wsserver", "--name", circle.name, "--public-key", pair.public_key,
            "--host", circle.host, "--port", str(circle.port)]
    for member in circle.members:
        argv += ["--member", member]
    for origin in circle.origins:
        argv += ["--origin", origin]
    if not circle.auth:
        argv.append("--no-auth")
    return argv + (["--debug"] if debug else [])


def build_context(circles: Sequence[Circle], keys: dict[str, KeyPair], paths: StatePaths,
                  redis_url: str, python: Sequence[str], username: str, password: str,
                  redis_argv: Sequence[str] | None = None, debug: bool = False,
                  role: str = "all", python_env: dict[str, str] | None = None) -> RenderContext:
    """The template context for ``circles``; ``redis_argv`` adds the embedded Redis program.
    ``python`` is the programs' interpreter with its options and ``python_env`` what it needs in
    the environment (see pythonpath.py). With ``role`` ``workers`` only the circles' worker
    programs are rendered."""
    root = _check_plain(str(paths.root), "state folder")
    env = ini_environment({protocol.REDIS_URL_ENV: redis_url, "PYTHONUNBUFFERED": "1",
                           TREE_MARK: root, **(python_env or {})})
    programs: list[Program] = []
    groups: list[Group] = []
    if redis_argv is not None:
        programs.append(Program(REDIS_PROGRAM, ini_command(redis_argv), REDIS_PRIORITY,
                                str(paths.program_log(REDIS_PROGRAM)),
                                ini_environment({TREE_MARK: root}), root))
    for circle in circles:
        pair = keys[circle.name]
        worker_log = circle.worker_program + (POOL_SUFFIX if circle.workers > 1 else "")
        programs.append(Program(circle.worker_program,
                                ini_command(worker_argv(python, circle, pair, paths, debug)),
                                WORKER_PRIORITY, str(paths.program_log(worker_log)), env, root,
                                numprocs=circle.workers))
        if role == "workers":
            groups.append(Group(circle.slug, (circle.worker_program,)))
            continue
        programs.append(Program(circle.ws_program,
                                ini_command(ws_argv(python, circle, pair, debug)),
                                WS_PRIORITY, str(paths.program_log(circle.ws_program)), env, root))
        groups.append(Group(circle.slug, (circle.worker_program, circle.ws_program)))
    return RenderContext(
        socket=str(paths.supervisor_socket), username=username, password=password,
        pidfile=str(paths.supervisor_pidfile), logfile=str(paths.supervisord_log),
        childlogdir=str(paths.logs), identifier=f"circles:{root}", programs=tuple(programs),
        groups=tuple(groups),
    )


def render(context: RenderContext) -> str:
    """The supervisord.conf text for ``context``."""
    source = importlib.resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_NAME).read_text("utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return env.from_string(source).render(ctx=context, pool_suffix=POOL_SUFFIX)
