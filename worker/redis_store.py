"""A circle's key-value store in Redis, shared by all its workers on every host.

Same interface, names and limits as ``worker.store.Store`` (the SQLite default): callers hand in
and get back JSON text. One Redis hash per circle and collection, ``circles_store:<circle
pubkey>:<collection>``, field = record id, value = the JSON text (see docs/PROTOCOL.md). Each
call is one Redis command, so each is atomic; nothing spans two calls.
"""
from __future__ import annotations

from typing import Any

from worker.store import check_name

STORE_PREFIX = "circles_store:"


def store_key(circle_public_key: str, collection: str) -> str:
    """The hash holding one collection of a circle's records."""
    return f"{STORE_PREFIX}{circle_public_key}:{collection}"


class RedisStore:
    """The records of one circle, on a redis-py client that decodes responses to str."""

    def __init__(self, client: Any, circle_public_key: str) -> None:
        self.client = client
        self.circle_public_key = circle_public_key

    def _key(self, collection: str) -> str:
        return store_key(self.circle_public_key, check_name("collection", collection))

    def put(self, collection: str, record_id: str, value_json: str) -> None:
        """Insert or replace one record."""
        self.client.hset(self._key(collection), check_name("id", record_id), value_json)

    def get(self, collection: str, record_id: str) -> str | None:
        """One record's JSON text, or None when there is none."""
        return self.client.hget(self._key(collection), check_name("id", record_id))

    def delete(self, collection: str, record_id: str) -> bool:
        """Remove one record; True if it existed."""
        return bool(self.client.hdel(self._key(collection), check_name("id", record_id)))

    def ids(self, collection: str) -> list[str]:
        """The ids in a collection, sorted by code point (as SQLite's BINARY order of UTF-8)."""
        return sorted(self.client.hkeys(self._key(collection)))

    def close(self) -> None:
        """Nothing to release: the client belongs to the worker."""
