"""The worker's command line: parsed and validated into a ``WorkerConfig`` (pure, no I/O).

A bad argument ends the program through argparse: a message naming the option and value, exit 2.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from worker import protocol, redis_connect
from worker.memory import MIN_MAX_MEMORY_MB
from worker.identity import parse_public_key

DEFAULT_MAX_OUTPUT_BYTES = (1 << 20) - (64 << 10)
"""A reply's output and error together, as JSON strings: 1 MiB minus 64 KiB, so a capped reply
still fits one 1 MiB WebSocket message with room for the JSON-RPC framing around it."""
DEFAULT_MAX_MEMORY_MB = 512
STORES = ("sqlite", "redis")
"""Where db_* keeps a circle's records: a SQLite file per host, or Redis (shared by all hosts)."""

_MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class WorkerConfig:
    """Everything one worker process needs to know; engine limits left None use engine defaults."""

    name: str
    public_key: str
    data_dir: Path
    redis_url: str = protocol.DEFAULT_REDIS_URL
    debug: bool = False
    result_ttl: int = protocol.DEFAULT_RESULT_TTL
    max_operations: int | None = None
    script_timeout: float | None = None
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB
    max_attempts: int = protocol.DEFAULT_MAX_ATTEMPTS
    store: str = "sqlite"
    modules_dir: Path | None = None
    """The folder scripts may ``import`` ``.rhai`` modules from; None: no modules."""


def _circle_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if len(text) > _MAX_NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"longer than {_MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 for ch in text):
        raise argparse.ArgumentTypeError(f"contains control characters: {text!r}")
    return text


def _public_key(text: str) -> str:
    """The key as given (it names the queue verbatim), once ``worker.identity`` accepts it."""
    try:
        parse_public_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _data_dir(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
    return path


def _modules_dir(text: str) -> Path:
    path = Path(text)
    if not text or not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path


def _redis_url(text: str) -> str:
    try:
        return redis_connect.check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(minimum: int, complaint: str) -> Callable[[str], int]:
    """An argparse type for integers of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} {complaint}")
        return value

    return parse


_positive_int = _whole_number(1, "must be at least 1")
_non_negative_int = _whole_number(0, "must not be negative")


def _memory_limit(text: str) -> int:
    value = _non_negative_int(text)
    if 0 < value < MIN_MAX_MEMORY_MB:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too small: 0 (no limit) or at least {MIN_MAX_MEMORY_MB}")
    return value


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The argument parser; the Redis URL default comes from ``environ``."""
    parser = argparse.ArgumentParser(
        prog="python -m worker",
        description="Run one circle's worker: take Rhai scripts from the circle's Redis queue, "
                    "run them, post the results back.")
    parser.add_argument("--name", required=True, type=_circle_name, help="the circle's name")
    parser.add_argument("--public-key", required=True, type=_public_key,
                        help="the circle's secp256k1 public key (hex); names its queue")
    parser.add_argument("--data-dir", required=True, type=_data_dir,
                        help="folder for the circle's persistent store (created mode 0700)")
    parser.add_argument("--redis-url", type=_redis_url,
                        default=environ.get(protocol.REDIS_URL_ENV) or protocol.DEFAULT_REDIS_URL,
                        help=f"Redis to serve (default: ${protocol.REDIS_URL_ENV}, "
                             f"else {protocol.DEFAULT_REDIS_URL})")
    parser.add_argument("--debug", action="store_true",
                        help="debug-level logging (every task is logged at INFO anyway)")
    parser.add_argument("--result-ttl", type=_positive_int, default=protocol.DEFAULT_RESULT_TTL,
                        metavar="SECONDS",
                        help="how long finished tasks and replies are kept (default: one day)")
    parser.add_argument("--max-operations", type=_non_negative_int, default=None,
                        help="operations a script may run (0 = unlimited; default: engine's)")
    parser.add_argument("--script-timeout", type=_non_negative_seconds, default=None,
                        metavar="SECONDS",
                        help="wall-clock limit per script (0 = unlimited; default: engine's)")
    parser.add_argument("--max-output-bytes", type=_positive_int,
                        default=DEFAULT_MAX_OUTPUT_BYTES,
                        help="most bytes of a reply's output and error together, counted as JSON "
                             "strings; more is cut with a marker line "
                             f"(default: {DEFAULT_MAX_OUTPUT_BYTES}, 1 MiB - 64 KiB)")
    parser.add_argument("--max-memory-mb", type=_memory_limit, default=DEFAULT_MAX_MEMORY_MB,
                        metavar="MIB",
                        help="the worker's data memory limit: a script needing more fails, and a "
                             "worker still holding over half of it after a task exits to be "
                             f"restarted (0 = off; default: {DEFAULT_MAX_MEMORY_MB})")
    parser.add_argument("--max-attempts", type=_positive_int,
                        default=protocol.DEFAULT_MAX_ATTEMPTS,
                        help="times a task may be started; a task whose worker died that often "
                             "is answered with an error instead "
                             f"(default: {protocol.DEFAULT_MAX_ATTEMPTS})")
    parser.add_argument("--store", choices=STORES, default="sqlite",
                        help="where db_* keeps records: sqlite (a file in --data-dir, this host "
                             "only; default) or redis (shared by the circle's workers on every "
                             "host)")
    parser.add_argument("--modules-dir", type=_modules_dir, default=None, metavar="FOLDER",
                        help="folder of .rhai modules scripts may import (import \"name\" "
                             "loads FOLDER/name.rhai; nothing outside it); default: none")
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str]) -> WorkerConfig:
    """Parse the command line; exits 2 with a message on a bad argument."""
    args = build_parser(environ).parse_args(list(argv))
    return WorkerConfig(
        name=args.name, public_key=args.public_key, data_dir=args.data_dir,
        redis_url=args.redis_url, debug=args.debug, result_ttl=args.result_ttl,
        max_operations=args.max_operations, script_timeout=args.script_timeout,
        max_output_bytes=args.max_output_bytes, max_memory_mb=args.max_memory_mb,
        max_attempts=args.max_attempts, store=args.store, modules_dir=args.modules_dir)
