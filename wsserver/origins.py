"""Which browsers may talk to a circle: the origin policy and the Host check (pure functions).

- A request without ``Origin`` (CLI tools, other servers) passes the origin check; browsers
  always send it on WebSocket handshakes.
- ``Origin`` must be one of the circle's allowed origins (default: its own console origin and,
  on a loopback host, the ``localhost``/``127.0.0.1`` forms), or the very origin the request was
  sent to (same origin: the console served by this server, whatever name it was reached by).
- ``Host`` must name this server: an IP literal, ``localhost``, the host it listens on, or the
  host of an allowed origin. A DNS-rebinding page reaches us under its own name, so it fails here.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from worker.identity import excerpt

LOOPBACK_NAMES = frozenset({"localhost"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]")


def _bare_host(host: str) -> str:
    """``host`` lowercase, without IPv6 brackets."""
    host = host.strip().lower()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_bare_host(host))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP address) can only be reached from this machine."""
    address = _ip(host)
    return address.is_loopback if address is not None else _bare_host(host) in LOOPBACK_NAMES


def _url_host(host: str) -> str:
    """``host`` as it appears in a URL (IPv6 addresses in brackets)."""
    bare = _bare_host(host)
    return f"[{bare}]" if ":" in bare else bare


def normalize_origin(text: str) -> str:
    """``scheme://host[:port]`` lowercase, default port dropped; ValueError for anything else.

    Only http and https origins exist for the pages that may talk to a circle; a path, query,
    user name or wildcard is refused so a typo cannot widen the policy.
    """
    if not isinstance(text, str):
        raise ValueError("origin must be a string")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"not an origin (scheme://host[:port]): {excerpt(text)}") from None
    scheme = parts.scheme.lower()
    if (scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None
            or parts.path not in ("", "/") or parts.query or parts.fragment
            or not _HOST.fullmatch(parts.netloc.rsplit(":", 1)[0] if port else parts.netloc)):
        raise ValueError(f"not an http(s) origin like 'https://app.example.org': {excerpt(text)}")
    host = _url_host(parts.hostname)
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def default_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins allowed when none are configured: the circle's own console origin, plus the
    ``localhost``/``127.0.0.1`` forms when it listens on a loopback address."""
    origins = [] if host in WILDCARD_HOSTS else [normalize_origin(f"http://{_url_host(host)}:{port}")]
    if is_loopback(host):
        origins += [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    return tuple(dict.fromkeys(origins))


def allowed_host_names(listen_host: str, origins: tuple[str, ...]) -> frozenset[str]:
    """Host names (lowercase, no port) a request's ``Host`` may carry besides IP literals."""
    names = set(LOOPBACK_NAMES)
    if listen_host not in WILDCARD_HOSTS:
        names.add(_bare_host(listen_host))
    for origin in origins:
        names.add(_bare_host(urlsplit(origin).hostname or ""))
    return frozenset(names)


def split_host_header(host_header: str) -> str:
    """The host name of a ``Host`` header (``name:port``, ``[v6]:port``), lowercase."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host_header: str | None, names: frozenset[str]) -> bool:
    """Whether a request's ``Host`` names this server (an IP literal is never a rebound name)."""
    if not host_header:
        return False
    host = split_host_header(host_header)
    return _ip(host) is not None or host in names


def origin_allowed(origin: str | None, host_header: str | None, origins: tuple[str, ...]) -> bool:
    """Whether a request with this ``Origin`` may proceed (``Host`` is checked separately)."""
    if origin is None:
        return True
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        return False  # "null" (sandboxed frames, file://) and anything malformed
    if normalized in origins:
        return True
    return host_header is not None and urlsplit(normalized).netloc == host_header.strip().lower()


def origin_authorities(origins: tuple[str, ...]) -> frozenset[str]:
    """``host[:port]`` of each origin: the domains a SIWE message may name."""
    return frozenset(urlsplit(origin).netloc for origin in origins)
