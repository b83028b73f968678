"""What the workers are running right now, read from the task protocol's processing lists, so
that stopping can say what it waits for (a worker finishes its script before it exits)."""
from __future__ import annotations

import configparser
import logging
import re
from typing import TYPE_CHECKING

from worker import protocol, redis_connect

from .circlekeys import tree_keys
from .config import Config, ConfigError
from .keys import KeyFileError
from .paths import StatePaths
from .render import STOP_WAIT_SECS

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

ENV_ITEM = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"')


def tree_redis_url(paths: StatePaths) -> str | None:
    """The Redis URL the running tree's programs were given (read from supervisord.conf)."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read(paths.supervisord_conf)
    except (configparser.Error, OSError):
        return None
    for section in parser.sections():
        if parser.has_option(section, "environment"):
            env = dict(ENV_ITEM.findall(parser.get(section, "environment")))
            if protocol.REDIS_URL_ENV in env:
                return env[protocol.REDIS_URL_ENV].replace("%%", "%")
    return None


def running_scripts(client: redis.Redis, config: Config,
                    public_keys: dict[str, str]) -> dict[str, list[str]]:
    """Per circle name, the ids of the tasks its workers have taken and not finished: the
    entries of every processing list of the circle (``rhai_processing:<pk>`` and, with worker
    pools, one ``rhai_processing:<pk>:<host>:<pid>`` per worker)."""
    running = {}
    for circle in config.circles:
        public_key = public_keys.get(circle.name)
        if not public_key:
            continue
        prefix = protocol.processing_key(public_key)
        ids = []
        for key in sorted(client.scan_iter(match=prefix + "*", count=1000)):
            if key == prefix or key.startswith(prefix + ":"):
                ids += [str(i) for i in client.lrange(key, 0, -1)]
        if ids:
            running[circle.name] = ids
    return running


def stop_notices(paths: StatePaths, config: Config) -> list[str]:
    """One line per circle whose worker is running a script, saying the stop waits for it;
    empty when none is (or when Redis cannot be asked: stopping must not depend on it)."""
    import redis  # here: a start imports this module but needs redis-py only to stop

    url = tree_redis_url(paths)
    if url is None:
        return []
    try:
        public_keys = {name: pair.public_key for name, pair in tree_keys(config, paths).items()}
        client = redis_connect.sync_client(url, decode_responses=True, socket_timeout=2,
                                           socket_connect_timeout=2)
        try:
            running = running_scripts(client, config, public_keys)
        finally:
            client.close()
    except (KeyFileError, ConfigError, redis.RedisError, ValueError) as exc:
        log.info("cannot tell which scripts are running: %s", exc)
        return []
    return [f"Waiting for circle {name!r} to finish the script(s) its workers are running "
            f"({', '.join(ids)}); at most {STOP_WAIT_SECS} s, then a worker is killed."
            for name, ids in running.items()]
