"""The origin policy and Host check: pure rules, circles.json fields, and a real server."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import tornado.httpclient
import tornado.websocket
from coincurve import PrivateKey
from eth_account import Account

from circlesctl.config import ConfigError, parse_config
from wsserver import origins
from wshelpers import ROOT, Server, child_env, free_port, pub, request, run

OWNER = PrivateKey()


# --- the rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, normal", [
    ("https://App.Example.org", "https://app.example.org"),
    ("https://app.example.org:443/", "https://app.example.org"),
    ("http://localhost:8090", "http://localhost:8090"),
    ("http://[::1]:80", "http://[::1]"),
])
def test_origins_are_normalised(text: str, normal: str) -> None:
    assert origins.normalize_origin(text) == normal


@pytest.mark.parametrize("text", ["app.example.org", "ftp://x.org", "https://x.org/app",
                                  "https://user@x.org", "https://*.x.org", "null", "https://x.org?a"])
def test_things_that_are_not_origins_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        origins.normalize_origin(text)


def test_default_origins_are_the_console_and_its_loopback_forms() -> None:
    assert origins.default_origins("127.0.0.1", 8090) == ("http://127.0.0.1:8090",
                                                          "http://localhost:8090")
    assert origins.default_origins("::1", 8090) == ("http://[::1]:8090", "http://localhost:8090",
                                                    "http://127.0.0.1:8090")
    assert origins.default_origins("circle.example.org", 443) == ("http://circle.example.org:443",)


def test_host_check_accepts_ip_literals_and_configured_names_only() -> None:
    names = origins.allowed_host_names("0.0.0.0", ("https://app.example.org",))
    for host in ["10.1.2.3:8090", "[::1]:8090", "localhost:8090", "APP.example.org", "127.0.0.1"]:
        assert origins.host_allowed(host, names), host
    for host in ["rebind.evil.example:8090", "", None, "example.org"]:
        assert not origins.host_allowed(host, names), host


# --- circles.json ----------------------------------------------------------------------------

def parse(circle: dict[str, Any]) -> Any:
    return parse_config(json.dumps([{"name": "A", "port": 8090, **circle}]),
                        Path("/cfg/circles.json")).circles[0]


def test_config_carries_origins_and_members_by_address() -> None:
    address = Account.create().address
    circle = parse({"origins": ["https://App.example.org/"], "members": [address, pub(OWNER)]})
    assert circle.origins == ("https://app.example.org",)
    assert circle.members == (address.lower(), pub(OWNER))


@pytest.mark.parametrize("circle, field, complaint", [
    ({"origins": "https://x.org"}, "origins", "must be a list of origins"),
    ({"origins": ["x.org"]}, "origins", "entry 1"),
    ({"auth": False, "host": "0.0.0.0"}, "auth", "only allowed when 'host' is a loopback"),
    ({"members": ["0x1234"]}, "members", "entry 1"),
])
def test_bad_origin_fields_are_config_errors(circle: dict[str, Any], field: str,
                                             complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(circle)
    assert caught.value.field == field and complaint in str(caught.value)


def test_no_auth_on_a_loopback_host_is_allowed() -> None:
    assert parse({"auth": False, "host": "localhost"}).auth is False


# --- a real server ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["auth", "no-auth"])
def server(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Server]:
    """One server with auth and one without: both obey the same origin and Host checks."""
    extra = ("--no-auth",) if request.param == "no-auth" else ()
    running = Server(redis_url, OWNER, *extra)
    yield running
    running.stop()


async def connect(server: Server, origin: str | None = None, host: str | None = None) -> Any:
    """whoami over a WebSocket opened with these headers; the HTTP status if refused."""
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if host is not None:
        headers["Host"] = host
    try:
        connection = await tornado.websocket.websocket_connect(
            tornado.httpclient.HTTPRequest(server.url, headers=headers))
    except tornado.httpclient.HTTPClientError as exc:
        return exc.code
    await connection.write_message(request("whoami"))
    answer = json.loads(await connection.read_message())
    connection.close()
    return answer["result"]["circle"]


def test_clients_without_origin_connect(server: Server) -> None:
    assert run(connect(server)) == pub(OWNER)


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
def test_the_circles_own_console_origins_connect(server: Server, origin: str) -> None:
    assert run(connect(server, origin.format(port=server.port))) == pub(OWNER)


def test_console_reached_by_localhost_name_is_same_origin(server: Server) -> None:
    here = f"localhost:{server.port}"
    assert run(connect(server, f"http://{here}", host=here)) == pub(OWNER)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:{other}", "null"])
def test_foreign_origins_are_refused(server: Server, origin: str) -> None:
    assert run(connect(server, origin.format(other=free_port()))) == 403


def test_dns_rebinding_host_is_refused_even_with_a_matching_origin(server: Server) -> None:
    rebound = f"rebind.evil.example:{server.port}"
    assert run(connect(server, f"http://{rebound}", host=rebound)) == 403
    assert run(connect(server, f"http://127.0.0.1:{server.port}", host=rebound)) == 403
    health = urllib.request.Request(server.health_url, headers={"Host": rebound})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(health, timeout=10)
    assert caught.value.code == 403


def test_a_configured_origin_and_its_host_are_accepted(redis_url: str) -> None:
    other_page = f"http://localhost:{free_port()}"
    proxied = Server(redis_url, OWNER, "--origin", other_page, "--origin", "https://app.example.org")
    try:
        assert run(connect(proxied, other_page)) == pub(OWNER)
        assert run(connect(proxied, "https://app.example.org", host="app.example.org")) == pub(OWNER)
        # Configured origins replace the defaults; only same-origin (the console itself) stays.
        assert run(connect(proxied, f"http://localhost:{proxied.port}")) == 403
        assert run(connect(proxied, f"http://127.0.0.1:{proxied.port}")) == pub(OWNER)
    finally:
        proxied.stop()


def test_no_auth_on_a_public_address_is_refused_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wsserver", "--name", "t", "--public-key", pub(OWNER),
         "--host", "0.0.0.0", "--port", "1", "--no-auth"],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--no-auth is only allowed on a loopback --host" in done.stderr
