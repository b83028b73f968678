"""``python -m wsserver``: run one circle's WebSocket JSON-RPC server until SIGTERM/SIGINT.

Exit codes: 0 after a signal, 1 when the address cannot be bound, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import math
import os
import signal
import sys
from typing import Sequence

from worker import protocol
from worker.identity import parse_member, parse_public_key
from wsserver.app import CircleServer
from wsserver.auth import DEFAULT_NONCE_TTL
from wsserver.config import DEFAULT_MAX_FAILED_LOGINS, DEFAULT_PLAY_TIMEOUT, ServerConfig
from wsserver.origins import is_loopback, normalize_origin

log = logging.getLogger("wsserver")


def _public_key(text: str) -> str:
    try:
        parse_public_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _member(text: str) -> str:
    try:
        return parse_member(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _origin(text: str) -> str:
    try:
        return normalize_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line; argparse prints the problem and exits 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m wsserver",
                                     description="One circle's WebSocket JSON-RPC server.")
    parser.add_argument("--name", required=True, type=_name, help="the circle's name (for logs)")
    parser.add_argument("--public-key", required=True, type=_public_key,
                        help="the circle's secp256k1 public key (hex); also its queue name")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="port to listen on")
    parser.add_argument("--member", action="append", default=[], type=_member,
                        metavar="KEY_OR_ADDRESS",
                        help="a public key or Ethereum address that may play besides the circle")
    parser.add_argument("--origin", action="append", default=[], type=_origin,
                        help="a browser origin allowed to connect, e.g. https://app.example.org "
                             "(default: the circle's own http://HOST:PORT, and the localhost "
                             "forms on a loopback host)")
    parser.add_argument("--no-auth", action="store_true",
                        help="let anyone play without logging in (caller id is then empty); "
                             "only on a loopback --host")
    parser.add_argument("--max-failed-logins", type=_positive_int,
                        default=DEFAULT_MAX_FAILED_LOGINS, metavar="N",
                        help="failed logins after which a connection is closed")
    parser.add_argument("--play-timeout", type=_seconds, default=DEFAULT_PLAY_TIMEOUT,
                        metavar="SECONDS", help="how long a play waits for the worker")
    parser.add_argument("--nonce-ttl", type=_seconds, default=DEFAULT_NONCE_TTL,
                        metavar="SECONDS", help="how long a login nonce stays valid")
    parser.add_argument("--redis-url", default=None,
                        help=f"default: ${protocol.REDIS_URL_ENV}, else {protocol.DEFAULT_REDIS_URL}")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    args = parser.parse_args(argv)
    if args.no_auth and not is_loopback(args.host):
        parser.error(f"--no-auth is only allowed on a loopback --host, not {args.host!r}")
    return args


def config_from(args: argparse.Namespace) -> ServerConfig:
    """The server settings a parsed command line asks for."""
    return ServerConfig(
        name=args.name,
        public_key=args.public_key,
        redis_url=(args.redis_url or os.environ.get(protocol.REDIS_URL_ENV)
                   or protocol.DEFAULT_REDIS_URL),
        host=args.host,
        port=args.port,
        members=frozenset(args.member),
        auth=not args.no_auth,
        origins=tuple(dict.fromkeys(args.origin)),
        max_failed_logins=args.max_failed_logins,
        play_timeout=args.play_timeout,
        nonce_ttl=args.nonce_ttl,
    )


def configure_logging(debug: bool) -> None:
    """INFO to stderr (DEBUG with --debug); successful HTTP requests only show with --debug."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.DEBUG if debug else logging.WARNING)


async def serve(config: ServerConfig) -> int:
    """Listen, serve until SIGTERM/SIGINT, shut down; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # supervisorctl signal HUP (or a log rotator) must not kill the server: it logs to stderr,
    # which supervisord owns and rotates, so there is no file of its own to reopen.
    loop.add_signal_handler(signal.SIGHUP, log.info,
                            "SIGHUP: logging to stderr, nothing to reopen; still serving")
    server = CircleServer(config)
    try:
        port = server.listen()
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        log.error("cannot listen on %s:%s: %s", config.host, config.port, reason)
        await server.stop()
        return 1
    log.info("circle %s (%s) listening on ws://%s:%s/ws", config.name, config.public_key,
             config.host, port)
    if not config.auth:
        log.warning("auth is off: anyone who reaches %s:%s may play on circle %s",
                    config.host, port, config.name)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.debug)
    return asyncio.run(serve(config_from(args)))


if __name__ == "__main__":
    sys.exit(main())
