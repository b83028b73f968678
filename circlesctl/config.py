"""circles.json: parse and validate into dataclasses (pure, apart from ``load_config``'s reads).

Every problem raises a ``ConfigError`` that names the file, the circle and the field at fault,
so the CLI can print one clear line and exit 2 before anything is created or started.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from worker.identity import parse_member, parse_public_key
from wsserver.origins import is_loopback, normalize_origin

from worker.memory import MIN_MAX_MEMORY_MB

DEFAULT_HOST = "127.0.0.1"
RESERVED_SLUGS = frozenset({"redis"})
"""Slugs taken by programs circlesctl adds itself (the embedded Redis)."""

_FIELDS = {"name", "port", "script_path", "host", "auth", "members", "workers", "max_memory_mb",
           "max_attempts", "store", "origins", "public_key", "modules", "script_timeout",
           "max_operations"}
ROLES = ("all", "workers")
"""What a tree runs: every circle's server and workers (``all``), or only workers (``workers``)."""
SERVER_FIELDS = ("port", "host", "auth", "members", "origins", "script_path")
"""Fields only the server and the init script use: ignored (not even validated) on a workers
host, which runs neither."""
MAX_WORKERS = 64
"""Upper bound on a circle's worker pool: catches a typo (2000) before it forks a process storm."""
STORES = ("sqlite", "redis")
"""Where a circle's db_* records live: a SQLite file per host (default) or Redis (shared)."""
_HOST_RE = re.compile(r"^[A-Za-z0-9.:\-\[\]]+$")


class ConfigError(Exception):
    """A bad circles.json: knows the file, the circle (name or index) and the field."""

    def __init__(self, file: str | Path, message: str, circle: str | None = None,
                 field_name: str | None = None) -> None:
        self.file = str(file)
        self.circle = circle
        self.field = field_name
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.circle is not None:
            where += f": circle {self.circle}"
        if self.field is not None:
            where += f": field '{self.field}'"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Circle:
    """One circle as configured; ``script_path`` is absolute (resolved from the config's folder)."""

    name: str
    port: int
    slug: str
    host: str = DEFAULT_HOST
    auth: bool = True
    members: tuple[str, ...] = ()
    script_path: Path | None = None
    workers: int = 1
    max_memory_mb: int | None = None
    """None: not set in the file; the tree's default (``start --max-memory-mb``), else the
    worker's own default (512) applies."""
    max_attempts: int | None = None
    """None: not set in the file; the tree's default, else the worker's own default (2)."""
    script_timeout: float | None = None
    """Seconds a script may run (0: no time limit); None: the worker's default (10)."""
    max_operations: int | None = None
    """Operations a script may count (0: no limit); None: the worker's default."""
    store: str = "sqlite"
    origins: tuple[str, ...] = ()
    """Browser origins allowed to connect; empty = the server's default (its own console)."""
    public_key: str | None = None
    """The circle's public key (compressed hex) when circles.json names it; None: the state
    folder's keys.json holds the circle's keypair."""
    modules: Path | None = None
    """The folder of ``.rhai`` modules the circle's scripts may ``import`` (absolute, resolved
    from the config's folder); None: no modules."""

    @property
    def worker_program(self) -> str:
        """The supervisord program (section) of the circle's worker pool."""
        return f"worker-{self.slug}"

    @property
    def worker_processes(self) -> tuple[str, ...]:
        """The pool's process names: ``worker-<slug>`` alone, or ``worker-<slug>-1`` .. ``-N``."""
        if self.workers == 1:
            return (self.worker_program,)
        return tuple(f"{self.worker_program}-{n}" for n in range(1, self.workers + 1))

    @property
    def ws_program(self) -> str:
        return f"ws-{self.slug}"

    def processes(self, role: str) -> tuple[str, ...]:
        """The processes a tree of ``role`` runs for this circle: its workers, and its server
        unless the tree is a workers host."""
        return self.worker_processes + ((self.ws_program,) if role == "all" else ())


@dataclass(frozen=True)
class Config:
    """The whole file: where it is and its circles, in file order."""

    path: Path
    circles: tuple[Circle, ...] = field(default_factory=tuple)
    role: str = "all"
    ignored: tuple[str, ...] = ()
    """Notes naming the server fields a workers-role config carries and that are ignored."""

    def find(self, name: str) -> Circle | None:
        """The circle called ``name``, or owning the program/group called ``name``."""
        for circle in self.circles:
            if name in (circle.name, circle.slug, circle.worker_program, circle.ws_program,
                        *circle.worker_processes):
                return circle
        return None


def with_worker_defaults(config: Config, max_memory_mb: int | None,
                         max_attempts: int | None) -> Config:
    """``config`` with the tree-wide defaults filled in where a circle does not set its own."""
    circles = tuple(replace(
        c, max_memory_mb=c.max_memory_mb if c.max_memory_mb is not None else max_memory_mb,
        max_attempts=c.max_attempts if c.max_attempts is not None else max_attempts)
        for c in config.circles)
    return replace(config, circles=circles)


def slugify(name: str) -> str:
    """Program-name form of a circle name: lowercase ASCII letters and digits only."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_name.lower())


def _json_error(file: str, exc: json.JSONDecodeError) -> ConfigError:
    return ConfigError(file, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _parse_circle(file: str, index: int, raw: Any, base: Path, role: str = "all") -> Circle:
    label = f"#{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(file, f"must be an object, got {_type_name(raw)}", label)
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        label = repr(name)
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(file, f"unknown field (allowed: {', '.join(sorted(_FIELDS))})", label,
                          unknown[0])
    if "name" not in raw:
        raise ConfigError(file, "is required", label, "name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, f"must be a non-empty string, got {name!r}", label, "name")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ConfigError(file, "must not contain control characters", label, "name")
    slug = slugify(name)
    if not slug:
        raise ConfigError(file, "must contain at least one ASCII letter or digit", label, "name")
    if slug in RESERVED_SLUGS:
        raise ConfigError(file, f"program name {slug!r} is reserved for circlesctl", label, "name")

    public_key = None
    if "public_key" in raw:
        if not isinstance(raw["public_key"], str):
            raise ConfigError(file, f"must be a string, got {_type_name(raw['public_key'])}",
                              label, "public_key")
        try:
            public_key = parse_public_key(raw["public_key"])
        except ValueError as exc:
            raise ConfigError(file, str(exc), label, "public_key") from None
    workers = _whole_number(file, raw, label, "workers", 1, 1, MAX_WORKERS)
    max_memory_mb = _whole_number(file, raw, label, "max_memory_mb", None, 0)
    if max_memory_mb is not None and memory_limit_problem(max_memory_mb):
        raise ConfigError(file, memory_limit_problem(max_memory_mb), label, "max_memory_mb")
    max_attempts = _whole_number(file, raw, label, "max_attempts", None, 1)
    script_timeout = _seconds(file, raw, label, "script_timeout")
    max_operations = _whole_number(file, raw, label, "max_operations", None, 0)
    store = raw.get("store", "sqlite")
    if store not in STORES:
        raise ConfigError(file, f"must be \"sqlite\" or \"redis\", got {store!r}", label, "store")
    modules = _folder(file, raw, label, "modules", base)
    if role == "workers":
        return Circle(name=name, port=0, slug=slug, workers=workers, max_memory_mb=max_memory_mb,
                      max_attempts=max_attempts, store=store, public_key=public_key,
                      modules=modules, script_timeout=script_timeout,
                      max_operations=max_operations)

    if "port" not in raw:
        raise ConfigError(file, "is required", label, "port")
    port = raw["port"]
    if not isinstance(port, int) or isinstance(port, bool):
        raise ConfigError(file, f"must be an integer, got {_type_name(port)} {port!r}", label,
                          "port")
    if not 1 <= port <= 65535:
        raise ConfigError(file, f"must be between 1 and 65535, got {port}", label, "port")

    host = raw.get("host", DEFAULT_HOST)
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
        raise ConfigError(file, f"must be a host name or IP address, got {host!r}", label, "host")

    auth = raw.get("auth", True)
    if not isinstance(auth, bool):
        raise ConfigError(file, f"must be true or false, got {auth!r}", label, "auth")
    if not auth and not is_loopback(host):
        raise ConfigError(file, f"false is only allowed when 'host' is a loopback address "
                          f"(127.0.0.1, ::1, localhost), not {host!r}", label, "auth")

    origins = _parse_origins(file, label, raw.get("origins", []))

    members_raw = raw.get("members", [])
    if not isinstance(members_raw, list):
        raise ConfigError(file, "must be a list of public keys or addresses, got "
                          f"{_type_name(members_raw)}", label, "members")
    members = []
    for position, member in enumerate(members_raw):
        if not isinstance(member, str):
            raise ConfigError(file, f"entry {position + 1} must be a string, got "
                              f"{_type_name(member)}", label, "members")
        try:
            members.append(parse_member(member))
        except ValueError as exc:
            raise ConfigError(file, f"entry {position + 1}: {exc}", label, "members") from None

    script_path = None
    if "script_path" in raw and raw["script_path"] is not None:
        script = raw["script_path"]
        if not isinstance(script, str) or not script.strip():
            raise ConfigError(file, f"must be a non-empty string, got {script!r}", label,
                              "script_path")
        script_path = (base / script).resolve()

    return Circle(name=name, port=port, slug=slug, host=host, auth=auth,
                  members=tuple(dict.fromkeys(members)), script_path=script_path,
                  workers=workers, max_memory_mb=max_memory_mb, max_attempts=max_attempts,
                  store=store, origins=origins, public_key=public_key, modules=modules,
                  script_timeout=script_timeout, max_operations=max_operations)


def _folder(file: str, raw: dict[str, Any], label: str, name: str, base: Path) -> Path | None:
    """The path field ``name`` of a circle, resolved from the config's folder (None when
    absent or null); ``load_config`` checks that it is a folder."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(file, f"must be a non-empty string (a folder), got {value!r}", label,
                          name)
    return (base / value).resolve()


def memory_limit_problem(megabytes: int) -> str:
    """Why ``megabytes`` is not a worker memory limit the worker accepts ("" when it is)."""
    if megabytes < 0 or 0 < megabytes < MIN_MAX_MEMORY_MB:
        return f"must be 0 (no limit) or at least {MIN_MAX_MEMORY_MB}, got {megabytes}"
    return ""


def _whole_number(file: str, raw: dict[str, Any], label: str, name: str, default: int | None,
                  minimum: int, maximum: int | None = None) -> int | None:
    """The integer field ``name`` of a circle (``default`` when absent), checked in range."""
    if name not in raw:
        return default
    value = raw[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(file, f"must be a whole number, got {_type_name(value)} {value!r}",
                          label, name)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(file, f"must be {bound}, got {value}", label, name)
    return value


def _seconds(file: str, raw: dict[str, Any], label: str, name: str) -> float | None:
    """The duration field ``name`` of a circle in seconds, 0 or more (None when absent)."""
    if name not in raw:
        return None
    value = raw[name]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise ConfigError(file, f"must be a number of seconds, got {_type_name(value)} "
                          f"{value!r}", label, name)
    if not 0 <= value < float("inf"):
        raise ConfigError(file, f"must be 0 (no limit) or more seconds, got {value}", label,
                          name)
    return float(value)


def _parse_origins(file: str, label: str, value: Any) -> tuple[str, ...]:
    """The ``origins`` field: a list of http(s) origins, normalised, duplicates dropped."""
    if not isinstance(value, list):
        raise ConfigError(file, f"must be a list of origins like \"https://app.example.org\", "
                          f"got {_type_name(value)}", label, "origins")
    origins = []
    for position, origin in enumerate(value):
        try:
            origins.append(normalize_origin(origin))
        except ValueError as exc:
            raise ConfigError(file, f"entry {position + 1}: {exc}", label, "origins") from None
    return tuple(dict.fromkeys(origins))


def _ignored_note(raw: Any) -> str:
    """The note for a workers-role circle that carries server fields (empty when none)."""
    present = [f for f in SERVER_FIELDS if isinstance(raw, dict) and f in raw]
    if not present:
        return ""
    return (f"circle {raw.get('name')!r}: {', '.join(present)} ignored (a workers host runs no "
            "server and no init script)")


def parse_config(text: str, path: Path, role: str = "all") -> Config:
    """Parse and validate the text of a circles.json that lives at ``path`` (no I/O), for a
    tree of ``role``: with ``workers``, the server fields are not needed and are ignored."""
    file = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(file, exc) from None
    if not isinstance(data, list):
        raise ConfigError(file, f"must be a JSON list of circles, got {_type_name(data)}")
    if not data:
        raise ConfigError(file, "lists no circles")
    base = path.parent
    circles = [_parse_circle(file, index, raw, base, role) for index, raw in enumerate(data)]
    seen_keys: dict[str, Circle] = {}
    seen_names: dict[str, Circle] = {}
    seen_ports: dict[int, Circle] = {}
    seen_slugs: dict[str, Circle] = {}
    for circle in circles:
        label = repr(circle.name)
        if circle.name in seen_names:
            raise ConfigError(file, "duplicate name", label, "name")
        if circle.public_key is not None and circle.public_key in seen_keys:
            raise ConfigError(file, f"is the same as circle {seen_keys[circle.public_key].name!r}'s "
                              "(one queue cannot be two circles)", label, "public_key")
        if role == "all" and circle.port in seen_ports:
            raise ConfigError(file, f"port {circle.port} is already used by circle "
                              f"{seen_ports[circle.port].name!r}", label, "port")
        if circle.slug in seen_slugs:
            raise ConfigError(file, f"program name {circle.slug!r} is the same as circle "
                              f"{seen_slugs[circle.slug].name!r}'s; choose a more distinct name",
                              label, "name")
        if circle.public_key is not None:
            seen_keys[circle.public_key] = circle
        seen_names[circle.name] = circle
        seen_ports[circle.port] = circle
        seen_slugs[circle.slug] = circle
    notes = tuple(note for note in map(_ignored_note, data) if note) if role == "workers" else ()
    return Config(path=path, circles=tuple(circles), role=role, ignored=notes)


def load_config(path: Path, role: str = "all") -> Config:
    """Read, parse and validate ``path`` for a tree of ``role``, and check every init script
    is a readable file and every modules folder a folder."""
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "no such file (give the config file as an argument)") from None
    except IsADirectoryError:
        raise ConfigError(path, "is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    config = parse_config(text, path, role)
    for circle in config.circles:
        if circle.modules is not None and not circle.modules.is_dir():
            problem = "is not a folder" if circle.modules.exists() else "does not exist"
            raise ConfigError(path, f"modules folder {str(circle.modules)!r} {problem}",
                              repr(circle.name), "modules")
        if circle.script_path is None:
            continue
        try:
            circle.script_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            message = f"script file {str(circle.script_path)!r} does not exist"
        except (OSError, UnicodeDecodeError) as exc:
            message = f"cannot read script file {str(circle.script_path)!r}: {exc}"
        else:
            continue
        raise ConfigError(path, message, repr(circle.name), "script_path")
    return config
