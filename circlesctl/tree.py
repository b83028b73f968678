"""The settings a tree was started with, and the supervisord.conf they render to.

``start`` records its tree-wide settings (Redis URL, interpreter, Redis binary, --debug and the
worker-limit defaults) in the state folder, so ``reload`` and ``start`` on a running tree render
exactly what ``start`` would have rendered: an unchanged circle renders to identical sections and
supervisord leaves it alone.
"""
from __future__ import annotations

import configparser
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .config import ROLES, Config, slugify, with_worker_defaults
from .keys import KeyPair
from .paths import StatePaths
from .pythonpath import python_command, python_environment
from .redis_embed import PROGRAM as REDIS_PROGRAM
from .redis_embed import embedded_url, redis_argv
from .render import build_context, render

SUPERVISOR_USER = "circles"


class SettingsError(Exception):
    """The state folder's tree.json is missing or unreadable (names the file)."""


@dataclass(frozen=True)
class TreeSettings:
    """Tree-wide choices made at ``start`` (the circles themselves come from circles.json)."""

    python: str
    redis_url: str | None = None
    """None: the embedded Redis, run from ``redis_binary``."""
    redis_binary: str | None = None
    debug: bool = False
    max_memory_mb: int | None = None
    max_attempts: int | None = None
    role: str = "all"
    """``all``: servers and workers; ``workers``: a workers host (``start --role workers``)."""
    import_path: tuple[str, ...] | None = None
    """The programs' PYTHONPATH for ``python -S`` (pythonpath.py); None: they start with site."""

    def redis_url_for(self, paths: StatePaths) -> str:
        """What the programs connect to: the given URL, else the embedded Redis's socket."""
        return self.redis_url or embedded_url(paths)


def dump_settings(settings: TreeSettings) -> str:
    """The text of tree.json for ``settings``."""
    return json.dumps(asdict(settings), indent=2) + "\n"


def load_settings(path: Path) -> TreeSettings:
    """The settings ``start`` recorded; SettingsError if there are none usable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: missing (the tree was started by an older circlesctl; "
                            "stop and start it once)") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read: {exc}") from None
    known = {f.name for f in fields(TreeSettings)}
    if not isinstance(data, dict) or "python" not in data or set(data) - known:
        raise SettingsError(f"{path}: not a tree settings file written by circlesctl")
    if data.get("role", "all") not in ROLES:
        raise SettingsError(f"{path}: unknown role {data['role']!r}")
    if data.get("import_path") is not None:
        data["import_path"] = tuple(data["import_path"])
    return TreeSettings(**data)


def recorded_role(path: Path) -> str:
    """The role a tree in this state folder was started with; ``all`` when there is no usable
    tree.json (nothing started yet: the command's own checks then say what is wrong)."""
    try:
        return load_settings(path).role
    except SettingsError:
        return "all"


def render_conf(config: Config, keys: dict[str, KeyPair], paths: StatePaths,
                settings: TreeSettings, password: str) -> str:
    """The supervisord.conf text for ``config`` under ``settings`` (pure)."""
    resolved = with_worker_defaults(config, settings.max_memory_mb, settings.max_attempts)
    embedded = settings.redis_url is None
    context = build_context(
        resolved.circles, keys, paths, settings.redis_url_for(paths),
        python_command(settings.python, settings.import_path), SUPERVISOR_USER, password,
        redis_argv=redis_argv(paths, settings.redis_binary or "redis-server") if embedded else None,
        debug=settings.debug, role=settings.role,
        python_env=python_environment(settings.import_path))
    return render(context)


@dataclass(frozen=True)
class Changes:
    """Process groups (circle slugs, or ``redis``) that differ between two rendered configs."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = field(default=())

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _groups(text: str) -> dict[str, dict[str, dict[str, str]]]:
    """Per group of a rendered supervisord.conf, its [group:x] and [program:y] sections."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False,
                                          interpolation=None)
    parser.read_string(text)
    programs = {s.split(":", 1)[1]: dict(parser.items(s)) for s in parser.sections()
                if s.startswith("program:")}
    groups: dict[str, dict[str, dict[str, str]]] = {}
    for section in parser.sections():
        if section.startswith("group:"):
            members = parser.get(section, "programs").split(",")
            groups[section.split(":", 1)[1]] = {
                "group": dict(parser.items(section)),
                **{m: programs.pop(m, {}) for m in members}}
    for name, items in programs.items():  # a program outside any group is its own group
        groups[name] = {name: items}
    return groups


def diff_confs(old_text: str, new_text: str) -> Changes:
    """What applying ``new_text`` over ``old_text`` changes, group by group (pure)."""
    old, new = _groups(old_text), _groups(new_text)
    return Changes(
        added=tuple(g for g in new if g not in old),
        changed=tuple(g for g in new if g in old and old[g] != new[g]),
        removed=tuple(g for g in old if g not in new),
        unchanged=tuple(g for g in new if g in old and old[g] == new[g]))


def describe(changes: Changes, config: Config, keys: dict[str, KeyPair]) -> list[str]:
    """Human lines for ``changes``, circles in file order, e.g. "added: 'New'"."""
    names = {c.slug: c.name for c in config.circles}
    names.update({slugify(n): n for n in keys if slugify(n) not in names})

    order = {c.slug: n for n, c in enumerate(config.circles)}

    def label(groups: tuple[str, ...]) -> str:
        ordered = sorted(groups, key=lambda g: (order.get(g, len(order)), g))
        return ", ".join(repr(names.get(g, g)) if g != REDIS_PROGRAM else "the embedded Redis"
                         for g in ordered)
    lines = []
    for verb, groups in (("added", changes.added), ("changed", changes.changed),
                         ("removed", changes.removed)):
        if groups:
            lines.append(f"{verb}: {label(groups)}")
    return lines
