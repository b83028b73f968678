"""One client connection's state and the JSON-RPC methods it can call.

Each connection has its own nonce store and login, so a nonce fetched on one connection can
only be spent on that connection. Two logins: Sign-In with Ethereum (EIP-4361, recommended) and
the legacy ``personal_sign`` of a bare nonce, in every parameter spelling the original Circles
clients use (docs/PROTOCOL.md).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

from worker import protocol
from worker.identity import address_of, excerpt, is_address, parse_address, parse_public_key
from wsserver import rpc, tasks
from wsserver.auth import NonceStore, recover_public_key
from wsserver.config import ServerConfig
from wsserver.origins import origin_authorities

log = logging.getLogger(__name__)

ANONYMOUS_CALLER = ""
"""The caller id (CALLER_PUBLIC_KEY) of an unauthenticated play on a circle run with --no-auth."""
FAILED_LOGIN_LOG_INTERVAL = 60.0
"""Seconds between two log lines about refused logins; the ones in between are counted."""

SIMPLE_METHODS: dict[str, tuple[str, ...]] = {
    "play": ("script",),
    "whoami": (),
}
"""Methods whose params are plain required strings -> their names, in positional order."""


class FailedLoginLog:
    """Logs refused logins as a summary: the first at once, then one line per interval at most.

    One per server process, so a flood of bad logins over many connections costs a few lines.
    """

    def __init__(self, interval: float = FAILED_LOGIN_LOG_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last_logged = float("-inf")
        self._suppressed = 0
        self._last_reason = ""
        self._flush: asyncio.TimerHandle | None = None

    def record(self, reason: str) -> None:
        """Count one refused login; log it now or in the next summary line."""
        now = self._clock()
        if not self._suppressed and now - self._last_logged >= self.interval:
            self._last_logged = now
            log.warning("login refused: %s", reason)
            return
        self._suppressed += 1
        self._last_reason = reason
        if self._flush is None:
            delay = max(0.0, self._last_logged + self.interval - now)
            self._flush = asyncio.get_running_loop().call_later(delay, self.flush)

    def flush(self) -> None:
        """Log the refused logins counted since the last line (also called at shutdown)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._suppressed:
            log.warning("login refused %d more time(s) in the last %.0f s; last: %s",
                        self._suppressed, self._clock() - self._last_logged, self._last_reason)
            self._suppressed = 0
            self._last_logged = self._clock()


@dataclass(frozen=True)
class Connection:
    """What the HTTP handshake told us about a connection: its Host header, scheme and peer."""

    host: str
    secure: bool = False
    remote: str = ""


def _fetch_nonce_target(params: Any) -> tuple[str, str]:
    """``("pubkey" | "address", value)`` from ``{"pubkey"}``, ``{"address"}`` or ``[value]``."""
    if isinstance(params, list):
        if len(params) != 1 or not isinstance(params[0], str):
            raise rpc.RpcError(rpc.INVALID_PARAMS, "expected 1 param (pubkey or address)")
        return ("address" if is_address(params[0]) else "pubkey"), params[0]
    if len(params) != 1 or not ({"pubkey", "address"} & set(params)):
        raise rpc.RpcError(rpc.INVALID_PARAMS, "expected exactly one of the params pubkey, address")
    [(name, value)] = params.items()
    if not isinstance(value, str):
        raise rpc.RpcError(rpc.INVALID_PARAMS, f"param {name} must be a string")
    return name, value


def _credentials(params: Any) -> dict[str, str]:
    """The login params in any accepted spelling, as ``{pubkey, signature}`` or
    ``{message, signature}``: named, positional ``[pubkey, signature]``, one object in a list,
    or wrapped as ``{"credentials": {...}}``."""
    if isinstance(params, list):
        if len(params) == 2:
            params = {"pubkey": params[0], "signature": params[1]}
        elif len(params) == 1 and isinstance(params[0], dict):
            params = params[0]
        else:
            raise rpc.RpcError(rpc.INVALID_PARAMS, "expected params pubkey, signature "
                               "(or message, signature)")
    if set(params) == {"credentials"} and isinstance(params["credentials"], dict):
        params = params["credentials"]
    if set(params) not in ({"pubkey", "signature"}, {"message", "signature"}):
        raise rpc.RpcError(rpc.INVALID_PARAMS, "expected params {pubkey, signature} or "
                           "{message, signature}")
    for name, value in params.items():
        if not isinstance(value, str):
            raise rpc.RpcError(rpc.INVALID_PARAMS, f"param {name} must be a string")
    return dict(params)


class Session:
    """Per-connection login state; ``call`` runs one request and returns its result."""

    def __init__(self, config: ServerConfig, redis: tasks.RedisConnections,
                 connection: Connection, failures: FailedLoginLog) -> None:
        self.config = config
        self.redis = redis
        self.connection = connection
        self.failures = failures
        self.nonces = NonceStore(ttl=config.nonce_ttl)
        self.public_key: str | None = None
        self.address: str | None = None
        self.failed_logins = 0
        self.player = None if config.auth else ANONYMOUS_CALLER
        """The caller id this connection plays as, None while it may not play (set at login)."""

    @property
    def too_many_failures(self) -> bool:
        """Whether this connection has failed to log in often enough to be closed."""
        return self.failed_logins >= self.config.max_failed_logins

    def start(self, request: rpc.Request) -> Any:
        """Run one request as far as it goes without waiting: its result, or for a play the
        ``tasks.QueuedScript`` to finish with ``play_answer`` or ``finish_play``.

        Raises ``rpc.RpcError`` for anything the client should see.
        """
        if request.method == "fetch_nonce":
            return self.fetch_nonce(*_fetch_nonce_target(request.params))
        if request.method == "authenticate":
            try:
                return self.authenticate(_credentials(request.params))
            except rpc.RpcError as exc:
                self.failed_logins += 1
                self.failures.record(f"{exc.data} (from {self.connection.remote})")
                raise
        names = SIMPLE_METHODS.get(request.method)
        if names is None:
            raise rpc.RpcError(rpc.METHOD_NOT_FOUND, f"no method named {excerpt(request.method)}")
        return getattr(self, request.method)(**rpc.bind_params(names, request.params))

    async def call(self, request: rpc.Request) -> Any:
        """Dispatch one request and wait for its result; raises ``rpc.RpcError`` as ``start``."""
        outcome = self.start(request)
        if isinstance(outcome, tasks.QueuedScript):
            return await self.finish_play(outcome)
        return outcome

    def fetch_nonce(self, kind: str, value: str) -> dict[str, Any]:
        """A nonce for a public key (legacy) or an address (SIWE, with the message to sign)."""
        try:
            identity = parse_address(value) if kind == "address" else parse_public_key(value)
        except ValueError as exc:
            raise rpc.RpcError(rpc.INVALID_PARAMS, f"{kind}: {exc}") from None
        nonce = self.nonces.issue(identity)
        result: dict[str, Any] = {"nonce": nonce.value, "expires_at": int(nonce.expires_at)}
        if kind == "address":
            from wsserver import siwe  # Sign-In with Ethereum code loads at its first use

            scheme = "https" if self.connection.secure else "http"
            result["message"] = siwe.build_message(
                domain=self.connection.host, address=identity,
                statement=f"Sign in to the circle {self.config.name}.",
                uri=f"{scheme}://{self.connection.host}/", nonce=nonce.value,
                issued_at=time.time(), expiration_time=int(nonce.expires_at))
        return result

    def authenticate(self, credentials: dict[str, str]) -> dict[str, Any]:
        """Log the connection in; raises -32602 for malformed input, -32002 for a refusal."""
        if "message" in credentials:
            public_key = self._sign_in_with_ethereum(credentials["message"],
                                                     credentials["signature"])
        else:
            public_key = self._legacy_login(credentials["pubkey"], credentials["signature"])
        self.public_key, self.address = public_key, address_of(public_key)
        self.player = public_key if self._may_play() else None
        log.info("authenticated %s (%s) on circle %s", public_key, self.address, self.config.name)
        return {"authenticated": True, "address": self.address, "pubkey": public_key}

    def _legacy_login(self, pubkey: str, signature: str) -> str:
        try:
            key = parse_public_key(pubkey)
        except ValueError as exc:
            raise rpc.RpcError(rpc.INVALID_PARAMS, f"pubkey: {exc}") from None
        nonce = self.nonces.take(key)
        if nonce is None:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS,
                               f"no live nonce for {key[:12]}… on this connection: fetch_nonce first")
        try:
            signer = recover_public_key(nonce, signature)
        except ValueError as exc:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, f"signature: {exc}") from None
        if signer != key:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, "signature does not match pubkey")
        return key

    def _sign_in_with_ethereum(self, text: str, signature: str) -> str:
        from wsserver import siwe  # Sign-In with Ethereum code loads at its first use

        try:
            message = siwe.parse_message(text)
        except siwe.SiweError as exc:
            raise rpc.RpcError(rpc.INVALID_PARAMS, f"message: {exc}") from None
        nonce = self.nonces.take_value(message.nonce)
        if nonce is None:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS,
                               "Nonce is not a live nonce of this connection: fetch_nonce first")
        issued_to = nonce.identity if is_address(nonce.identity) else address_of(nonce.identity)
        if issued_to != message.address:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, "Nonce was issued for another account")
        allowed = origin_authorities(self.config.allowed_origins) | {self.connection.host.lower()}
        try:
            siwe.check_message(message, allowed, time.time())
            signer = recover_public_key(text, signature)
        except ValueError as exc:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS, str(exc)) from None
        if address_of(signer) != message.address:
            raise rpc.RpcError(rpc.INVALID_CREDENTIALS,
                               "signature is not by the message's address")
        return signer

    def whoami(self) -> dict[str, Any]:
        return {"pubkey": self.public_key, "address": self.address,
                "circle": self.config.public_key, "circle_name": self.config.name,
                "authenticated": self.public_key is not None, "may_play": self._may_play()}

    def play(self, script: str) -> tasks.QueuedScript:
        """Queue ``script`` for the worker (refused unless this caller may play)."""
        caller = self.player if self.player is not None else self._refuse_play()
        try:
            return tasks.start_script(self.redis, self.config.public_key, script, caller,
                                      self.config.play_timeout)
        except (tasks.RedisFailure, OSError) as exc:
            raise self._queue_unavailable(exc) from None

    def play_answer(self, queued: tasks.QueuedScript) -> dict[str, Any] | None:
        """The result of a play whose round trip is done, or None when the worker did not
        answer in time (``finish_play`` then withdraws the task); raises ``rpc.RpcError``."""
        try:
            result = tasks.reply_of(queued.replies.result())
        except (tasks.RedisFailure, OSError) as exc:
            raise self._queue_unavailable(exc) from None
        return None if result is None else self._play_result(result)

    async def finish_play(self, queued: tasks.QueuedScript) -> dict[str, Any]:
        """The result of a play, once its worker replied or its timeout passed."""
        try:
            result = tasks.reply_of(await queued.replies)
            if result is None:
                result = await tasks.give_up(self.redis, self.config.public_key, queued.task_id,
                                             self.config.play_timeout)
        except (tasks.RedisFailure, OSError) as exc:
            raise self._queue_unavailable(exc) from None
        return self._play_result(result)

    def _queue_unavailable(self, exc: Exception) -> rpc.RpcError:
        """Log a play that Redis failed, and return the error its caller gets."""
        log.warning("play failed on circle %s: redis: %s", self.config.name, exc)
        return rpc.RpcError(rpc.INTERNAL_ERROR, f"task queue unavailable: {exc}")

    @staticmethod
    def _play_result(result: protocol.TaskResult) -> dict[str, Any]:
        """A finished task as the play's result, or the ``rpc.RpcError`` it ended with."""
        if result.status == protocol.STATUS_COMPLETED:
            return {"output": result.output if result.output is not None else ""}
        if result.status == protocol.STATUS_TIMEOUT:
            raise rpc.RpcError(rpc.TIMEOUT, result.error)
        raise rpc.RpcError(rpc.EXECUTION_ERROR, result.error or f"task ended with {result.status}")

    def _may_play(self) -> bool:
        if not self.config.auth:
            return True
        return self.public_key is not None and self.config.may_play(
            self.public_key, self.address or "")

    def _refuse_play(self) -> NoReturn:
        """Raise the error that forbids this connection to play (``player`` is None)."""
        if self.public_key is None:
            raise rpc.RpcError(rpc.AUTH_REQUIRED, "call fetch_nonce and authenticate first")
        raise rpc.RpcError(rpc.NOT_AUTHORIZED, f"{self.public_key} ({self.address}) is "
                           "neither this circle's key nor a member")
