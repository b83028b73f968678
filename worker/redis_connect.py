"""The one place Redis URLs are parsed and Redis clients are made, for every component.

Accepted URLs (see docs/DEPLOYMENT.md for examples):

- ``redis://[[username]:password@]host[:port][/db][?option=value...]``  (TCP)
- ``rediss://...``  the same over TLS
- ``unix://[[username]:password@]/path/to/redis.sock[?db=N&...]``  (unix socket)
- ``redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db][?...]``
  Redis Sentinel: the hosts are the *sentinels* (port default 26379), ``service_name`` the
  monitored master's name. The user/password before ``@`` are the *master's* (and replicas');
  the sentinels' own credentials, if they have any, are the query options ``sentinel_username``
  and ``sentinel_password``. ``rediss+sentinel://`` speaks TLS to the master *and* the sentinels;
  ``sentinel_tls=no`` (or ``yes`` with ``redis+sentinel://``) sets the sentinels' side alone.
  Other options: ``ssl_ca_certs=PATH``, ``ssl_certfile=PATH``, ``ssl_keyfile=PATH``,
  ``ssl_cert_reqs=required|optional|none`` (for every TLS connection). Nothing else.

Clients made here for a Sentinel URL ask the sentinels for the current master on every new
connection (redis-py's ``master_for``), so they follow a failover by themselves. The sentinel
modules are imported only when such a URL is used. Passwords are percent-decoded like redis-py
does; no message or log line made here ever contains one (``masked_url`` for logs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

if TYPE_CHECKING:
    import redis
    import redis.asyncio

DIRECT_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_SOCKET_TIMEOUT = 2.0
"""Seconds a sentinel may take to connect or answer before the next sentinel is asked."""
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password", "sentinel_tls", "ssl_ca_certs",
                    "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_CERT_REQS = ("required", "optional", "none")
_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")
_SERVICE_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
MASK = "***"


@dataclass(frozen=True)
class SentinelTarget:
    """A parsed Sentinel URL: where the sentinels are and how to talk to them and the master."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False
    sentinel_tls: bool = False
    ssl_options: tuple[tuple[str, str], ...] = ()

    def master_kwargs(self) -> dict[str, Any]:
        """Connection arguments for the master (and its replicas)."""
        kwargs: dict[str, Any] = {"db": self.db}
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password
        if self.tls:
            kwargs["ssl"] = True
            kwargs.update(self.ssl_options)
        return kwargs

    def sentinel_kwargs(self) -> dict[str, Any]:
        """Connection arguments for the sentinels themselves."""
        kwargs: dict[str, Any] = {"socket_timeout": SENTINEL_SOCKET_TIMEOUT,
                                  "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT}
        if self.sentinel_username is not None:
            kwargs["username"] = self.sentinel_username
        if self.sentinel_password is not None:
            kwargs["password"] = self.sentinel_password
        if self.sentinel_tls:
            kwargs["ssl"] = True
            kwargs.update(self.ssl_options)
        return kwargs


def masked_url(url: str) -> str:
    """``url`` for logs and messages: any password (userinfo or ``*password=`` option) is ***."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK if "@" in url else url
    before_query, q_sep, query = rest.partition("?")
    netloc, slash, path = before_query.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hosts}" if colon else f"{MASK}@{hosts}"
    if q_sep:
        pairs = []
        for item in query.split("&"):
            name, eq, _ = item.partition("=")
            pairs.append(f"{name}={MASK}" if eq and "password" in name.lower() else item)
        query = "&".join(pairs)
    return f"{scheme}://{netloc}{slash}{path}{q_sep}{query}"


def _bad(url: str, problem: str) -> ValueError:
    return ValueError(f"Redis URL {masked_url(url)!r}: {problem}")


def _split_userinfo(netloc: str) -> tuple[str | None, str | None, str]:
    """(username, password, hosts) of a URL's netloc, percent-decoded."""
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None, unquote(password) if colon else None, hosts)


def _host_port(url: str, text: str, default_port: int | None, what: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, port_text = text.partition("]")
        host += "]"
        if port_text and not port_text.startswith(":"):
            raise _bad(url, f"{what} {text!r} is not host:port")
        port_text = port_text[1:]
    else:
        host, _, port_text = text.partition(":")
    if not _HOST.fullmatch(host):
        raise _bad(url, f"{what} {text!r}: {host!r} is not a host name or IP address")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise _bad(url, f"{what} {text!r}: port {port_text!r} is not a number 1-65535")
        port = int(port_text)
    return host.strip("[]"), port


def _db_number(url: str, text: str) -> int:
    if not text.isdigit():
        raise _bad(url, f"database {text!r} is not a whole number")
    return int(text)


def _yes_no(url: str, name: str, value: str) -> bool:
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise _bad(url, f"option {name!r} must be yes or no, not {value!r}")


def _options(url: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        shown = MASK if "password" in name else repr(value)
        if name not in SENTINEL_OPTIONS:
            raise _bad(url, f"unknown option {name!r} (allowed: {', '.join(SENTINEL_OPTIONS)})")
        if name in options:
            raise _bad(url, f"option {name!r} is given twice")
        if not value and name != "sentinel_password":
            raise _bad(url, f"option {name!r} is empty ({shown})")
        options[name] = value
    reqs = options.get("ssl_cert_reqs")
    if reqs is not None and reqs not in _CERT_REQS:
        raise _bad(url, f"option 'ssl_cert_reqs' must be one of {', '.join(_CERT_REQS)}, "
                        f"not {reqs!r}")
    return options


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The parts of a ``redis+sentinel://`` / ``rediss+sentinel://`` URL; ValueError naming the
    bad part otherwise (never the password)."""
    scheme, sep, rest = url.partition("://")
    if scheme not in SENTINEL_SCHEMES or not sep:
        raise _bad(url, f"not a Sentinel URL (expected {' or '.join(SENTINEL_SCHEMES)}://)")
    before_query, _, query = rest.partition("?")
    if "#" in before_query or "#" in query:
        raise _bad(url, "'#' is not allowed (percent-encode it as %23 in a password)")
    netloc, _, path = before_query.partition("/")
    username, password, hosts = _split_userinfo(netloc)
    if not hosts:
        raise _bad(url, "no sentinel host:port given")
    sentinels = []
    for item in hosts.split(","):
        if not item:
            raise _bad(url, "empty entry in the sentinel list (a stray ',')")
        host, port = _host_port(url, item, DEFAULT_SENTINEL_PORT, "sentinel")
        assert port is not None
        sentinels.append((host, port))
    parts = path.split("/") if path else []
    if not parts or not parts[0]:
        raise _bad(url, "no service name (the sentinels' master name) after the hosts, e.g. "
                        "redis+sentinel://host:26379/mymaster")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1]):
        raise _bad(url, "path must be /service_name or /service_name/db")
    service_name = unquote(parts[0])
    if not _SERVICE_NAME.fullmatch(service_name):
        raise _bad(url, f"service name {service_name!r} may hold only letters, digits, '.', "
                        "'_' and '-' (1-128 characters)")
    db = _db_number(url, parts[1]) if len(parts) == 2 else 0
    options = _options(url, query)
    tls = scheme == "rediss+sentinel"
    sentinel_tls = (_yes_no(url, "sentinel_tls", options["sentinel_tls"])
                    if "sentinel_tls" in options else tls)
    ssl_options = tuple((name, value) for name, value in options.items()
                        if name.startswith("ssl_"))
    return SentinelTarget(
        sentinels=tuple(sentinels), service_name=service_name, db=db, username=username,
        password=password, sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"), tls=tls, sentinel_tls=sentinel_tls,
        ssl_options=ssl_options)


@dataclass(frozen=True)
class PlainTarget:
    """A ``redis://`` or ``unix://`` URL without TLS or client options: all a bare RESP
    connection needs (``unix_path`` set for a unix socket, else ``host``/``port``)."""

    host: str = "localhost"
    port: int = 6379
    unix_path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def setup_commands(self) -> list[tuple[Any, ...]]:
        """What a new connection sends first, as redis-py does: AUTH [username] password when
        either is given, SELECT db unless 0."""
        commands: list[tuple[Any, ...]] = []
        if self.username or self.password:
            commands.append(("AUTH", self.username, self.password or "") if self.username
                            else ("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


def plain_target(url: str) -> PlainTarget | None:
    """The parts of a valid ``redis://`` URL without options or ``unix://`` URL with at most
    ``?db=N``; None for any other URL (TLS, Sentinel, redis-py client options: those need redis-py).

    Lets a process talk RESP itself without importing redis-py (19 MB and 130 ms per process).
    """
    scheme, _, rest = url.partition("://")
    if scheme not in ("redis", "unix"):
        return None
    before_query, _, query = rest.partition("?")
    options = parse_qsl(query, keep_blank_values=True)
    if "#" in rest or (query and (scheme != "unix" or len(options) != 1 or options[0][0] != "db")):
        return None
    check_url(url)
    netloc, _, path = before_query.partition("/")
    username, password, hosts = _split_userinfo(netloc)
    db = int(options[0][1]) if options else 0
    if scheme == "unix":
        return PlainTarget(unix_path=unquote("/" + path), db=db, username=username, password=password)
    host, port = _host_port(url, hosts, 6379, "host") if hosts else ("localhost", 6379)
    if path.strip("/"):
        db = int(path.strip("/"))
    assert port is not None
    return PlainTarget(host=host, port=port, db=db, username=username, password=password)


def _check_direct_url(url: str) -> None:
    """ValueError naming the bad part of a redis://, rediss:// or unix:// URL."""

    scheme, _, rest = url.partition("://")
    before_query = rest.partition("?")[0]
    netloc, _, path = before_query.partition("/")
    hosts = _split_userinfo(netloc)[2]
    if scheme == "unix":
        if not path:
            raise _bad(url, "no socket path (expected unix:///path/to/redis.sock)")
    else:
        if "," in hosts:
            raise _bad(url, "several hosts are only allowed in a redis+sentinel:// URL")
        if hosts:
            _host_port(url, hosts, None, "host")
        if path and path.strip("/") and not path.strip("/").isdigit():
            raise _bad(url, f"database {path!r} is not a whole number")
    query = rest.partition("?")[2]
    if scheme != "rediss" and not query:
        return  # nothing left that redis-py's parser would check: spare importing it
    if scheme == "unix" and query.startswith("db=") and "&" not in query:
        if not query[3:].isdigit():
            raise _bad(url, f"database {query[3:]!r} is not a whole number")
        return
    from redis.connection import parse_url  # redis-py's own rules for the options it knows

    try:
        parse_url(url)
    except ValueError as exc:
        raise _bad(url, str(exc)) from None


def check_url(url: str) -> str:
    """``url`` unchanged if it is a Redis URL this project can use; ValueError naming the bad
    part (never the password) otherwise. No I/O."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("Redis URL is empty")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _bad(url, "contains spaces or control characters")
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in DIRECT_SCHEMES + SENTINEL_SCHEMES:
        raise _bad(url, "unknown scheme (expected " +
                   ", ".join(f"{s}://" for s in DIRECT_SCHEMES + SENTINEL_SCHEMES) + ")")
    if scheme in SENTINEL_SCHEMES:
        parse_sentinel_url(url)
    else:
        _check_direct_url(url)
    return url


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names a master through Redis Sentinel."""
    return url.partition("://")[0] in SENTINEL_SCHEMES


def no_master_message(service_name: str) -> str:
    """What a client says when the sentinels name no master (redis-py's own message lists every
    sentinel client's whole repr: unreadable in a JSON-RPC error or a log line)."""
    return (f"no master for service {service_name!r}: the sentinels know no healthy master "
            "(failover in progress?) or none of them answers")


_UNRESOLVED = {"host": "127.0.0.1", "port": 0}
"""Where a Sentinel-managed connection points before the sentinels named the master: a code path
that connects without asking them fails (port 0) instead of reaching redis-py's localhost:6379."""


def _sync_sentinel_pool(target: SentinelTarget, options: dict[str, Any]) -> Any:
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

    class BriefSentinel(Sentinel):
        def discover_master(self, service_name: str) -> Any:
            try:
                return super().discover_master(service_name)
            except MasterNotFoundError:
                raise MasterNotFoundError(no_master_message(service_name)) from None

    manager = BriefSentinel(list(target.sentinels), sentinel_kwargs={
        **target.sentinel_kwargs(), "retry": Retry(NoBackoff(), 0)})
    return SentinelConnectionPool(target.service_name, manager, is_master=True,
                                  **{**target.master_kwargs(), **options, **_UNRESOLVED})


def _async_sentinel_pool(target: SentinelTarget, options: dict[str, Any]) -> Any:
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool
    from redis.backoff import NoBackoff

    class BriefSentinel(Sentinel):
        async def discover_master(self, service_name: str) -> Any:
            try:
                return await super().discover_master(service_name)
            except MasterNotFoundError:
                raise MasterNotFoundError(no_master_message(service_name)) from None

    manager = BriefSentinel(list(target.sentinels), sentinel_kwargs={
        **target.sentinel_kwargs(), "retry": Retry(NoBackoff(), 0)})
    return SentinelConnectionPool(target.service_name, manager, is_master=True,
                                  **{**target.master_kwargs(), **options, **_UNRESOLVED})


def sync_client(url: str, **options: Any) -> "redis.Redis":
    """A ``redis.Redis`` for ``url`` with redis-py client ``options`` (decode_responses,
    socket_timeout, retry, ...); for a Sentinel URL, one that always talks to the current master."""
    import redis

    check_url(url)
    if is_sentinel_url(url):
        return redis.Redis.from_pool(_sync_sentinel_pool(parse_sentinel_url(url), options))
    return redis.Redis.from_url(url, **options)


def worker_client(url: str, timeout: float) -> Any:
    """A blocking client for the worker (and circlesctl's start): string replies (invalid UTF-8
    replaced), no silent retries, ``timeout`` seconds for a connect or an answer. A plain URL (``plain_target``) gets
    a ``worker.redis_link.SyncLink``, which never loads redis-py; others a redis-py client."""
    target = plain_target(url)
    if target is not None:
        from worker.redis_link import SyncLink

        return SyncLink(target, timeout)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return sync_client(url, decode_responses=True, encoding_errors="replace",
                       retry=Retry(NoBackoff(), 0), socket_timeout=timeout,
                       socket_connect_timeout=timeout)


@dataclass(frozen=True)
class ClientErrors:
    """What a synchronous client raises, by kind, whichever library made it."""

    down: tuple[type[Exception], ...]
    """Redis unreachable, the connection lost or no answer in time: reconnect and retry."""
    any: tuple[type[Exception], ...]
    """Every Redis failure, error replies included."""
    no_script: type[Exception]
    """The NOSCRIPT error reply (EVALSHA of a script Redis does not know)."""


def client_errors(client: Any) -> ClientErrors:
    """The exception classes of ``client`` (a ``worker_client`` or any redis-py client); redis-py
    is imported only for its own clients."""
    from worker import redis_link

    if isinstance(client, redis_link.SyncLink):
        return ClientErrors((redis_link.LinkDown,), (redis_link.RedisLinkError,),
                            redis_link.NoScriptError)
    from redis import exceptions

    return ClientErrors((exceptions.ConnectionError, exceptions.TimeoutError),
                        (exceptions.RedisError,), exceptions.NoScriptError)


def async_pool(url: str, **options: Any) -> "redis.asyncio.ConnectionPool":
    """A ``redis.asyncio`` connection pool for ``url`` (Sentinel: connections to the current
    master). Keep a reference to it as long as its connections live: a Sentinel pool's
    connections point back at it weakly."""
    import redis.asyncio

    check_url(url)
    if is_sentinel_url(url):
        return _async_sentinel_pool(parse_sentinel_url(url), options)
    return redis.asyncio.ConnectionPool.from_url(url, **options)


def async_client(url: str, **options: Any) -> "redis.asyncio.Redis":
    """A ``redis.asyncio.Redis`` for ``url``; see ``sync_client``."""
    import redis.asyncio

    return redis.asyncio.Redis.from_pool(async_pool(url, **options))
