"""The settings one circle's WebSocket server runs with, and who may play on it."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from worker.identity import address_of, parse_public_key
from wsserver.auth import DEFAULT_NONCE_TTL
from wsserver.origins import allowed_host_names, default_origins

DEFAULT_PLAY_TIMEOUT = 30.0
"""Seconds a play waits for the worker's reply before answering -32004."""
DEFAULT_MAX_IN_FLIGHT = 64
"""Requests one connection may have running at once; more are refused with -32005."""
DEFAULT_REDIS_CONNECTIONS = 256
"""Redis connections one server opens at most (each in-flight play holds one while waiting)."""
DEFAULT_MAX_FAILED_LOGINS = 10
"""Failed ``authenticate`` calls after which a connection is closed (code 1008)."""
MAX_MESSAGE_SIZE = 1024 * 1024
"""Largest WebSocket message a server accepts (1 MiB); a bigger one closes the connection (1009)."""
MAX_REPLY_SIZE = 16 * 1024 * 1024
"""Largest answer a client accepts: a reply carrying the worker's capped output (1 MiB) and error
text, even if JSON escaping makes every byte six (``\\u0001``), fits with room to spare."""


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``CircleServer`` needs; ``public_key`` is used verbatim as the queue name.

    ``members`` holds compressed public keys and lowercase addresses (``worker.identity``);
    ``origins`` the normalised allowed origins, empty meaning ``default_origins``.
    """

    name: str
    public_key: str
    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    members: frozenset[str] = field(default_factory=frozenset)
    auth: bool = True
    origins: tuple[str, ...] = ()
    play_timeout: float = DEFAULT_PLAY_TIMEOUT
    nonce_ttl: float = DEFAULT_NONCE_TTL
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    redis_connections: int = DEFAULT_REDIS_CONNECTIONS
    max_failed_logins: int = DEFAULT_MAX_FAILED_LOGINS

    @cached_property
    def owner(self) -> str:
        """The circle's own key, normalised (compressed lowercase hex)."""
        return parse_public_key(self.public_key)

    @cached_property
    def owner_address(self) -> str:
        """The circle's own Ethereum address."""
        return address_of(self.owner)

    @cached_property
    def allowed_origins(self) -> tuple[str, ...]:
        """The configured origins, or the defaults for this host and port."""
        return self.origins or default_origins(self.host, self.port)

    @cached_property
    def host_names(self) -> frozenset[str]:
        """Host names a request's Host header may carry (IP literals are always accepted)."""
        return allowed_host_names(self.host, self.allowed_origins)

    def may_play(self, public_key: str, address: str) -> bool:
        """Whether a logged-in identity is the circle's own or a member's, by key or address."""
        return (public_key == self.owner or public_key in self.members
                or address in self.members)
