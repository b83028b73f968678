"""Circle keypairs in keys.json: generated once with coincurve, reused on every start.

The file is private (0600 from the moment it exists) and written atomically, so a crash never
leaves a half-written or world-readable key file. Private keys are never logged or printed.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import coincurve

log = logging.getLogger(__name__)


class KeyFileError(Exception):
    """keys.json exists but cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class KeyPair:
    """A circle's identity: the compressed public key and the private key, both hex."""

    public_key: str
    private_key: str = ""

    def __repr__(self) -> str:  # keep private keys out of logs and tracebacks
        return f"KeyPair(public_key={self.public_key!r})"

    @classmethod
    def generate(cls) -> "KeyPair":
        private = coincurve.PrivateKey()
        return cls(private.public_key.format(compressed=True).hex(), private.secret.hex())

    @classmethod
    def from_private_hex(cls, private_hex: str) -> "KeyPair":
        """The pair for a private key given as 64 hex digits; ValueError if it is not one."""
        text = private_hex.strip().lower()
        if text.startswith("0x"):
            text = text[2:]
        if len(text) != 64:
            raise ValueError("a private key is 64 hex digits")
        try:
            private = coincurve.PrivateKey(bytes.fromhex(text))
        except ValueError:
            raise ValueError("not a valid secp256k1 private key") from None
        return cls(private.public_key.format(compressed=True).hex(), text)


def _parse(path: Path, text: str) -> dict[str, KeyPair]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{path}: invalid JSON at line {exc.lineno}, "
                           f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise KeyFileError(f"{path}: must be an object mapping circle names to keys")
    pairs = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("private_key"), str):
            raise KeyFileError(f"{path}: circle {name!r}: field 'private_key' is missing")
        try:
            pair = KeyPair.from_private_hex(entry["private_key"])
        except ValueError as exc:
            raise KeyFileError(f"{path}: circle {name!r}: field 'private_key': {exc}") from None
        if entry.get("public_key") != pair.public_key:
            raise KeyFileError(f"{path}: circle {name!r}: field 'public_key' does not match "
                               "the private key")
        pairs[name] = pair
    return pairs


def read_keys(path: Path) -> dict[str, KeyPair]:
    """The pairs stored in ``path`` (empty when there is no file yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc}") from None
    return _parse(path, text)


def write_keys(path: Path, pairs: dict[str, KeyPair]) -> None:
    """Replace ``path`` atomically with ``pairs`` (temp file created 0600, then renamed)."""
    data = {name: {"public_key": p.public_key, "private_key": p.private_key}
            for name, p in pairs.items()}
    fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def backup_keys(path: Path, now: float | None = None) -> Path | None:
    """Copy ``path`` to ``keys.json.<UTC timestamp>.bak`` beside it (0600); None when there is
    no key file. Done before --new-keys replaces identities, which cannot be recreated."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    log.info("saved the previous keys in %s", backup)
    return backup


def ensure_keys(path: Path, names: Iterable[str], new_keys: bool = False) -> dict[str, KeyPair]:
    """Keys for every circle in ``names``: reuse stored ones, generate the missing ones.

    ``new_keys`` replaces the pairs of the named circles. Pairs of circles no longer configured
    are kept in the file (a key is an identity; dropping a circle from the config must not
    destroy it).
    """
    stored = read_keys(path)
    changed = False
    for name in names:
        if new_keys or name not in stored:
            stored[name] = KeyPair.generate()
            changed = True
            log.info("generated a new keypair for circle %r", name)
    if changed or not path.exists():
        write_keys(path, stored)
    else:
        os.chmod(path, 0o600)
    return stored
