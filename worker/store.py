"""A circle's persistent key-value store: one SQLite file of JSON texts keyed by (collection, id).

Pure data access: callers hand in and get back JSON text; what may be stored is decided by
``worker.scriptapi``. The file is private to the circle's workers (mode 0600, in a folder created
0700); the workers of a pool open it together: WAL mode lets readers run beside the one writer,
and the busy timeout (set when connecting, so it covers switching to WAL too) makes writers queue.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

log = logging.getLogger(__name__)

STORE_FILENAME = "store.sqlite3"
MAX_NAME_LENGTH = 256
"""Longest collection name or record id, in characters."""
BUSY_TIMEOUT = 5.0
"""Seconds a statement waits for another writer (the other workers of a pool share the file,
in WAL mode; every statement is its own short transaction) before failing as a storage error."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection, id)
) WITHOUT ROWID
"""


def check_name(what: str, name: object) -> str:
    """``name`` if it is a usable collection name or id; ValueError saying why not otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a string")
    if not name:
        raise ValueError(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 for ch in name):
        raise ValueError(f"{what} contains control characters")
    return name


def _private_file(path: Path) -> None:
    """Create ``path`` mode 0600 if missing, and tighten it if it is readable by others."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _write_ahead_log(db: sqlite3.Connection) -> None:
    """Put the store's file in WAL mode (several processes read and write it). Switching a new
    file needs its exclusive lock, which SQLite does not wait for when another connection is
    switching it at the same moment (the workers of a pool open a new store together): then
    look again, with short pauses, until the file is in WAL mode or BUSY_TIMEOUT has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class Store:
    """The records of one circle. One Store per thread (a worker has one); several processes
    may each open the circle's store."""

    def __init__(self, data_dir: Path) -> None:
        # created here unless it exists, in one step: the workers of a pool start together
        # and share the folder, so a look first and a mkdir after could race another worker
        try:
            data_dir.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            if stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
                log.warning("data folder %s is accessible to other users; it should be mode "
                            "0700", data_dir)
        else:
            os.chmod(data_dir, 0o700)  # the mode mkdir gives is masked by the umask
        self.path = data_dir / STORE_FILENAME
        self.errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        """What a failed call raises when storage itself fails."""
        _private_file(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT)
        _write_ahead_log(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def put(self, collection: str, record_id: str, value_json: str) -> None:
        """Insert or replace one record."""
        self._db.execute(
            "INSERT INTO records (collection, id, value) VALUES (?, ?, ?) "
            "ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value",
            (check_name("collection", collection), check_name("id", record_id), value_json))

    def get(self, collection: str, record_id: str) -> str | None:
        """One record's JSON text, or None when there is none."""
        row = self._db.execute(
            "SELECT value FROM records WHERE collection = ? AND id = ?",
            (check_name("collection", collection), check_name("id", record_id))).fetchone()
        return row[0] if row else None

    def delete(self, collection: str, record_id: str) -> bool:
        """Remove one record; True if it existed."""
        cursor = self._db.execute(
            "DELETE FROM records WHERE collection = ? AND id = ?",
            (check_name("collection", collection), check_name("id", record_id)))
        return cursor.rowcount > 0

    def ids(self, collection: str) -> list[str]:
        """The ids in a collection, sorted."""
        rows = self._db.execute(
            "SELECT id FROM records WHERE collection = ? ORDER BY id",
            (check_name("collection", collection),)).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the database (a WAL checkpoint happens on close)."""
        self._db.close()
