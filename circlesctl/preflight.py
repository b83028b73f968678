"""Checks against the machine before anything starts: ports free, external Redis reachable."""
from __future__ import annotations

import socket

import redis

from worker import redis_connect

from .config import Config, ConfigError


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
    """None when the Redis at ``url`` answers PING, else why not (credentials not echoed)."""
    try:
        client = redis_connect.sync_client(url, socket_connect_timeout=timeout,
                                           socket_timeout=timeout)
    except ValueError as exc:
        return str(exc)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis not reachable: {exc}"
    finally:
        client.close()
    return None

