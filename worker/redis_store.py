"""A circle's key-value store in Redis, shared by all its workers on every host.

Same interface, names and limits as ``worker.store.Store`` (the SQLite default): callers hand in
and get back JSON text. One Redis hash per circle and collection, ``circles_store:<circle
pubkey>:<collection>``, field = record id, value = the JSON text (see docs/PROTOCOL.md). Each
call is one Redis command, so each is atomic; nothing spans two calls.
"""
from __future__ import annotations

from typing import Any

from worker import protocol, redis_connect
from worker.store import check_name

STORE_PREFIX = "circles_store:"


def store_key(circle_public_key: str, collection: str) -> str:
    """The hash holding one collection of a circle's records."""
    return f"{STORE_PREFIX}{circle_public_key}:{collection}"


class RedisStore:
    """The records of one circle, on a synchronous client that decodes responses to str (a
    ``worker.redis_link.SyncLink`` or a redis-py client). ``errors``: what a failed call raises."""

    def __init__(self, client: Any, circle_public_key: str) -> None:
        self.client = client
        self.circle_public_key = circle_public_key
        self.errors = redis_connect.client_errors(client).any

    def _key(self, collection: str) -> str:
        return store_key(self.circle_public_key, check_name("collection", collection))

    def _call(self, *command: Any) -> Any:
        return protocol.raise_errors(protocol.round_trip(self.client, [command]))[0]

    def put(self, collection: str, record_id: str, value_json: str) -> None:
        """Insert or replace one record."""
        self._call("HSET", self._key(collection), check_name("id", record_id), value_json)

    def get(self, collection: str, record_id: str) -> str | None:
        """One record's JSON text, or None when there is none."""
        text: str | None = self._call("HGET", self._key(collection), check_name("id", record_id))
        return text

    def delete(self, collection: str, record_id: str) -> bool:
        """Remove one record; True if it existed."""
        return bool(self._call("HDEL", self._key(collection), check_name("id", record_id)))

    def ids(self, collection: str) -> list[str]:
        """The ids in a collection, sorted by code point (as SQLite's BINARY order of UTF-8)."""
        return sorted(self._call("HKEYS", self._key(collection)))

    def close(self) -> None:
        """Nothing to release: the client belongs to the worker."""
