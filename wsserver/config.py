"""The settings one circle's WebSocket server runs with, and who may play on it."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from wsserver.auth import DEFAULT_NONCE_TTL, normalize_public_key

DEFAULT_PLAY_TIMEOUT = 30.0
"""Seconds a play waits for the worker's reply before answering -32004."""
DEFAULT_MAX_IN_FLIGHT = 64
"""Requests one connection may have running at once; more are refused with -32005."""
DEFAULT_REDIS_CONNECTIONS = 256
"""Redis connections one server opens at most (each in-flight play holds one while waiting)."""
MAX_MESSAGE_SIZE = 1024 * 1024
"""Largest WebSocket message accepted (1 MiB); a bigger one closes the connection (1009)."""


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``CircleServer`` needs; ``public_key`` is used verbatim as the queue name."""

    name: str
    public_key: str
    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    members: frozenset[str] = field(default_factory=frozenset)
    auth: bool = True
    play_timeout: float = DEFAULT_PLAY_TIMEOUT
    nonce_ttl: float = DEFAULT_NONCE_TTL
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    redis_connections: int = DEFAULT_REDIS_CONNECTIONS

    @cached_property
    def owner(self) -> str:
        """The circle's own key, normalised (compressed lowercase hex)."""
        return normalize_public_key(self.public_key)

    def may_play(self, public_key: str) -> bool:
        """Whether a normalised key is the circle's own or a member's (``members`` are normalised)."""
        return public_key == self.owner or public_key in self.members
