"""Change a running tree in place: apply an edited circles.json (reload) and restart programs.

``reload`` works like ``supervisorctl update``: supervisord re-reads the re-rendered config
(reloadConfig), removed groups are stopped and dropped, changed groups are replaced, added groups
start; unchanged groups are not touched. New circles get keys, become ready and run their init
script. Everything goes through supervisord's XML-RPC interface.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from worker import redis_connect

from .config import Circle, Config
from .initscripts import run_init_scripts
from .circlekeys import tree_keys
from .keys import KeyPair
from .orchestrate import write_private
from .paths import StatePaths
from .preflight import check_ports
from .readiness import Target, health_ok, wait_ready
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .status import namespec
from .supervisor import ACTIVE_STATES, ProcessInfo, Supervisor, read_credentials
from .tree import Changes, TreeSettings, diff_confs, render_conf

log = logging.getLogger(__name__)

STOP_TIMEOUT = 60.0
"""How long stopping may take: a worker finishes its running script first (stopwaitsecs)."""


class ReloadError(Exception):
    """The tree cannot be changed as asked; nothing was changed."""


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the changed groups and the init results of the added circles."""

    changes: Changes
    init: dict[str, str]


def targets(circle: Circle, public_key: str, processes: Sequence[str] | None = None,
            role: str = "all") -> list[Target]:
    """Readiness targets for ``circle``'s programs in a tree of ``role`` (all of them, or only
    ``processes``)."""
    found = [Target(p, "worker", public_key) for p in circle.worker_processes]
    if role == "all":
        found.append(Target(circle.ws_program, "ws", public_key, circle.host, circle.port))
    return [t for t in found if processes is None or t.program in processes]


def check_ports_to_take(config: Config, keys: dict[str, KeyPair], running: set[str]) -> None:
    """ConfigError for a circle whose port is not free, unless its own server already holds it
    (a workers host listens on no port)."""
    if config.role == "workers":
        return
    to_check = tuple(c for c in config.circles
                     if not (c.slug in running and c.name in keys
                             and health_ok(c.host, c.port, keys[c.name].public_key)))
    check_ports(replace(config, circles=to_check))


def pending_changes(config: Config, paths: StatePaths, settings: TreeSettings) -> Changes:
    """How ``config`` differs from the config the tree runs (circles without a key yet are
    added); reads the state folder, changes nothing."""
    current = paths.supervisord_conf.read_text(encoding="utf-8")
    credentials = read_credentials(paths.supervisord_conf)
    keys = tree_keys(config, paths)
    with_keys = replace(config, circles=tuple(c for c in config.circles if c.name in keys))
    rendered = render_conf(with_keys, keys, paths, settings, credentials[1] if credentials else "")
    changes = diff_confs(current, rendered)
    keyless = tuple(c.slug for c in config.circles if c.name not in keys)
    return replace(changes, added=changes.added + keyless)


def stop_processes(supervisor: Supervisor, infos: Sequence[ProcessInfo],
                   timeout: float = STOP_TIMEOUT) -> None:
    """Stop ``infos`` all at once (one multicall) and wait until none is active."""
    specs = {namespec(i.group, i.name) for i in infos}
    active = [i for i in infos if i.state in ACTIVE_STATES - {"STOPPING"}]
    if active:
        supervisor.rpc.system.multicall([
            {"methodName": "supervisor.stopProcess", "params": [namespec(i.group, i.name), False]}
            for i in active])
    deadline = time.monotonic() + timeout
    while any(namespec(i.group, i.name) in specs and i.state in ACTIVE_STATES
              for i in supervisor.processes()):
        if time.monotonic() > deadline:
            raise ReloadError(f"programs did not stop within {timeout:g} s: {', '.join(specs)}")
        time.sleep(0.05)


def start_processes(supervisor: Supervisor, specs: Sequence[str]) -> None:
    """Ask supervisord to start ``specs`` (one multicall, without waiting)."""
    supervisor.rpc.system.multicall([{"methodName": "supervisor.startProcess",
                                      "params": [spec, False]} for spec in specs])


def _stop_groups(supervisor: Supervisor, groups: Sequence[str]) -> None:
    stop_processes(supervisor, [i for i in supervisor.processes() if i.group in groups])


def apply_config(config: Config, paths: StatePaths, supervisor: Supervisor,
                 settings: TreeSettings, ready_timeout: float, init_timeout: float,
                 on_ready: Callable[[str, int, int], None]) -> ReloadResult:
    """Render ``config``, make supervisord run exactly it, wait for what started; return what
    changed (raises readiness.StartupFailed naming the programs that did not become ready)."""
    credentials = read_credentials(paths.supervisord_conf)
    if credentials is None:
        raise ReloadError(f"{paths.supervisord_conf}: unreadable; stop and start the tree")
    keys = tree_keys(config, paths, create=True)
    for circle in config.circles:
        paths.circle_data(keys[circle.name].public_key).mkdir(mode=0o700, exist_ok=True)
    text = render_conf(config, keys, paths, settings, credentials[1])
    write_private(paths.supervisord_conf, text)
    added, changed, removed = supervisor.rpc.supervisor.reloadConfig()[0]
    log.info("reloadConfig: added %s, changed %s, removed %s", added, changed, removed)
    _stop_groups(supervisor, list(changed) + list(removed))
    for group in list(changed) + list(removed):
        supervisor.rpc.supervisor.removeProcessGroup(group)
    for group in list(changed) + list(added):
        supervisor.rpc.supervisor.addProcessGroup(group)
    started = set(changed) | set(added)
    by_slug = {c.slug: c for c in config.circles}
    waiting = [Target(REDIS_PROGRAM, "redis")] if REDIS_PROGRAM in started else []
    for group in sorted(started - {REDIS_PROGRAM}):
        waiting += targets(by_slug[group], keys[by_slug[group].name].public_key,
                           role=config.role)
    client = redis_connect.sync_client(settings.redis_url_for(paths), decode_responses=True)
    try:
        wait_ready(supervisor, waiting, client, ready_timeout, on_ready)
        new_circles = [by_slug[g] for g in added if g in by_slug and config.role == "all"]
        init = run_init_scripts(client, new_circles, keys, init_timeout)
    finally:
        client.close()
    return ReloadResult(Changes(tuple(added), tuple(changed), tuple(removed)), init)


def withdraw(supervisor: Supervisor, programs: Sequence[str]) -> list[str]:
    """Stop and remove the groups of ``programs`` (which failed to start), so that the next
    reload adds them afresh; their slugs."""
    groups = sorted({i.group for i in supervisor.processes() if i.name in programs})
    _stop_groups(supervisor, groups)
    for group in groups:
        supervisor.rpc.supervisor.removeProcessGroup(group)
    return groups


def merge_init_results(paths: StatePaths, results: dict[str, str]) -> None:
    """Add ``results`` to init.json (earlier circles' results are kept)."""
    try:
        known = json.loads(paths.init_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    known.update(results)
    write_private(paths.init_results, json.dumps(known, indent=2) + "\n")


def resolve_restart(name: str, config: Config, infos: Sequence[ProcessInfo]
                    ) -> tuple[Circle, list[ProcessInfo]]:
    """The circle and processes ``name`` means: a circle (every program), ``worker-<slug>`` (the
    whole pool), or one program (``ws-x``, ``worker-x-2``, ``x:ws-x``); ReloadError otherwise."""
    group, _, process = name.rpartition(":")
    circle = config.find(process)
    if circle is None or (group and group != circle.slug):
        known = ", ".join(repr(c.name) for c in config.circles)
        raise ReloadError(f"no circle or program called {name!r} in {config.path} "
                          f"(circles: {known})")
    mine = [i for i in infos if i.group == circle.slug]
    if process in (circle.name, circle.slug) and not group:
        chosen = mine
    elif process == circle.worker_program:
        chosen = [i for i in mine if i.name in circle.worker_processes]
    else:
        chosen = [i for i in mine if i.name == process]
    if not chosen:
        raise ReloadError(f"{name!r} is not running in this tree (see 'circlesctl status'; "
                          "'circlesctl reload' applies a changed config)")
    return circle, chosen
