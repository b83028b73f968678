"""Checks against the machine before anything starts: the programs and files a start needs,
ports free, external Redis reachable. Nothing is written before these pass."""
from __future__ import annotations

import importlib.resources
import importlib.util
import socket

from worker import protocol, redis_connect

from .config import Config, ConfigError
from .redis_embed import RedisServerMissing, redis_server_binary
from .render import TEMPLATE_NAME, TEMPLATE_PACKAGE


class MissingRequirement(Exception):
    """Something a start needs is not installed or not readable; the message says what."""


def find_requirements(embedded_redis: bool) -> str | None:
    """Check supervisord is importable and the template readable; with an embedded Redis,
    return the redis-server binary to run (None otherwise). Raises MissingRequirement."""
    if importlib.util.find_spec("supervisor.supervisord") is None:
        raise MissingRequirement("supervisord is not installed for this Python "
                                 "(the 'supervisor' package); reinstall circlesctl")
    try:
        importlib.resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_NAME).read_text("utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise MissingRequirement(f"the supervisord template {TEMPLATE_PACKAGE}/{TEMPLATE_NAME} "
                                 f"cannot be read ({exc}); reinstall circlesctl") from None
    if not embedded_redis:
        return None
    try:
        return redis_server_binary()
    except RedisServerMissing as exc:
        raise MissingRequirement(str(exc)) from None


def port_free(host: str, port: int) -> str | None:
    """None when ``host:port`` can be bound (as Tornado binds it), else the reason."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def check_ports(config: Config) -> None:
    """Raise a ConfigError naming the circle whose host:port cannot be bound."""
    for circle in config.circles:
        problem = port_free(circle.host, circle.port)
        if problem:
            if problem.startswith("cannot resolve"):
                raise ConfigError(config.path, problem, repr(circle.name), "host")
            raise ConfigError(config.path, f"{problem} (is another program using it?)",
                              repr(circle.name), "port")


def check_redis(url: str, timeout: float = 3.0) -> str | None:
    """None when the Redis at ``url`` answers PING, else why not (credentials not echoed).
    Through the client a start uses (orchestrate.connect_redis): no redis-py for plain URLs."""
    try:
        client = redis_connect.worker_client(url, timeout)
    except ValueError as exc:
        return str(exc)
    try:
        protocol.raise_errors(protocol.round_trip(client, [("PING",)]))
    except redis_connect.client_errors(client).any as exc:  # error replies included
        return f"Redis not reachable: {exc}"
    finally:
        client.close()
    return None

