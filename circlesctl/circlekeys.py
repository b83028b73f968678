"""Which public key each circle of a tree runs under, by the tree's role.

A full tree (role ``all``) keeps every circle's keypair in the state folder's keys.json; a
``public_key`` in circles.json must then match it (so a worker host's file used by mistake on the
main host never mints a new identity). A workers host needs no private key: each circle's key is
its ``public_key``, else the public half of a keypair the state folder happens to hold.
"""
from __future__ import annotations

from .config import Config, ConfigError
from .keys import KeyPair, ensure_keys, read_keys
from .paths import StatePaths


def check_named_keys(config: Config, stored: dict[str, KeyPair]) -> None:
    """Role ``all``: ConfigError for a circle whose ``public_key`` is not its stored key's."""
    for circle in config.circles:
        if circle.public_key is None:
            continue
        pair = stored.get(circle.name)
        if pair is None:
            raise ConfigError(config.path, "names a circle whose keypair is not in the state "
                              "folder's keys.json; a circle known only by its public key runs on "
                              "a workers host ('circlesctl start --role workers')",
                              repr(circle.name), "public_key")
        if pair.public_key != circle.public_key:
            raise ConfigError(config.path, f"is not the key of this circle in keys.json "
                              f"({pair.public_key[:12]}…)", repr(circle.name), "public_key")


def worker_host_keys(config: Config, stored: dict[str, KeyPair]) -> dict[str, KeyPair]:
    """Role ``workers``: each circle's public key (no private key); ConfigError for a circle
    without one."""
    found = {}
    for circle in config.circles:
        public_key = circle.public_key or (stored[circle.name].public_key
                                           if circle.name in stored else None)
        if public_key is None:
            raise ConfigError(config.path, "is required on a workers host (the circle's public "
                              "key; 'circlesctl export-public' on the main host writes a file "
                              "with it)", repr(circle.name), "public_key")
        found[circle.name] = KeyPair(public_key)
    return found


def tree_keys(config: Config, paths: StatePaths, create: bool = False) -> dict[str, KeyPair]:
    """The keys of the tree's circles. Role ``all``: keys.json's pairs (generating the missing
    ones when ``create``); role ``workers``: public keys only, and keys.json is never written.
    Raises ConfigError or keys.KeyFileError."""
    stored = read_keys(paths.keys)
    if config.role == "workers":
        return worker_host_keys(config, stored)
    check_named_keys(config, stored)
    if create:
        return ensure_keys(paths.keys, [c.name for c in config.circles])
    return stored


def public_circles(config: Config, keys: dict[str, KeyPair]) -> list[dict[str, object]]:
    """The circles file a worker host needs (``export-public``): per circle its name, public
    key, worker count, store and the worker limits that are set; never a private key."""
    exported: list[dict[str, object]] = []
    for circle in config.circles:
        entry: dict[str, object] = {"name": circle.name,
                                    "public_key": keys[circle.name].public_key,
                                    "workers": circle.workers, "store": circle.store}
        if circle.max_memory_mb is not None:
            entry["max_memory_mb"] = circle.max_memory_mb
        if circle.max_attempts is not None:
            entry["max_attempts"] = circle.max_attempts
        exported.append(entry)
    return exported
