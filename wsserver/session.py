"""One client connection's state and the JSON-RPC methods it can call.

Each connection has its own nonce store and login, so a nonce fetched on one connection can
only be spent on that connection.
"""
from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from worker import protocol
from wsserver import rpc, tasks
from wsserver.auth import NonceStore, normalize_public_key, recover_public_key
from wsserver.config import ServerConfig

log = logging.getLogger(__name__)

ANONYMOUS_CALLER = ""
"""The caller id (CALLER_PUBLIC_KEY) of an unauthenticated play on a circle run with --no-auth."""

METHODS: dict[str, tuple[str, ...]] = {
    "fetch_nonce": ("pubkey",),
    "authenticate": ("pubkey", "signature"),
    "play": ("script",),
    "whoami": (),
}
"""Method name -> its params, in positional order (all required strings)."""


class Session:
    """Per-connection login state; ``call`` runs one request and returns its result."""

    def __init__(self, config: ServerConfig, redis: tasks.RedisConnections) -> None:
        self.config = config
        self.redis = redis
        self.nonces = NonceStore(ttl=config.nonce_ttl)
        self.public_key: str | None = None

    async def call(self, request: rpc.Request) -> Any:
        """Dispatch one request; raises ``rpc.RpcError`` for anything the client should see."""
        names = METHODS.get(request.method)
        if names is None:
            raise rpc.RpcError(rpc.METHOD_NOT_FOUND, f"no method named {request.method!r}")
        params = rpc.bind_params(names, request.params)
        return await getattr(self, request.method)(**params)

    async def fetch_nonce(self, pubkey: str) -> dict[str, Any]:
        try:
            nonce = self.nonces.issue(pubkey)
        except ValueError as exc:
            raise rpc.RpcError(rpc.INVALID_PARAMS, f"pubkey: {exc}") from None
        return {"nonce": nonce.value, "expires_at": int(nonce.expires_at)}

    async def authenticate(self, pubkey: str, signature: str) -> dict[str, Any]:
        nonce = self.nonces.take(pubkey)
        if nonce is None:
            log.info("login refused: no live nonce for %s", pubkey[:80])
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, "no live nonce for this key: fetch_nonce first")
        try:
            signer = recover_public_key(nonce, signature)
        except ValueError as exc:
            log.info("login refused for %s: %s", pubkey, exc)
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, f"signature: {exc}") from None
        key = normalize_public_key(pubkey)
        if signer != key:
            log.info("login refused for %s: signature is by another key", key)
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, "signature does not match pubkey")
        self.public_key = key
        log.info("authenticated %s on circle %s", key, self.config.name)
        return {"authenticated": True}

    async def whoami(self) -> dict[str, Any]:
        return {"pubkey": self.public_key, "circle": self.config.public_key,
                "authenticated": self.public_key is not None}

    async def play(self, script: str) -> dict[str, Any]:
        caller = self._caller()
        try:
            result = await tasks.run_script(self.redis, self.config.public_key, script, caller,
                                            self.config.play_timeout)
        except RedisError as exc:
            log.warning("play failed on circle %s: redis: %s", self.config.name, exc)
            raise rpc.RpcError(rpc.INTERNAL_ERROR, f"task queue unavailable: {exc}") from None
        if result.status == protocol.STATUS_COMPLETED:
            return {"output": result.output if result.output is not None else ""}
        if result.status == protocol.STATUS_TIMEOUT:
            raise rpc.RpcError(rpc.TIMEOUT, result.error)
        raise rpc.RpcError(rpc.EXECUTION_ERROR, result.error or f"task ended with {result.status}")

    def _caller(self) -> str:
        """The caller id a play runs as, or the error that forbids playing."""
        if not self.config.auth:
            return self.public_key or ANONYMOUS_CALLER
        if self.public_key is None:
            raise rpc.RpcError(rpc.AUTH_REQUIRED, "call fetch_nonce and authenticate first")
        if not self.config.may_play(self.public_key):
            raise rpc.RpcError(rpc.NOT_AUTHORIZED,
                               f"{self.public_key} is neither this circle's key nor a member")
        return self.public_key
