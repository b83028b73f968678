"""The SQLite store's own behaviour (worker/store.py: files, modes, several writers) and what
values scripts may keep; what every store backend does is in test_store_backends.py."""
from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from worker.scriptapi import from_json_text, to_json_text
from worker.store import STORE_FILENAME, Store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_records_survive_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "d")
    store.put("c", "k", "[1,2]")
    store.close()
    again = Store(tmp_path / "d")
    assert again.get("c", "k") == "[1,2]"
    again.close()


def test_new_folder_is_0700_and_file_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = Store(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    store.put("c", "k", "1")
    assert mode(tmp_path / "a" / "b") == 0o700
    for path in (tmp_path / "a" / "b").iterdir():  # the database and its WAL files
        assert mode(path) == 0o600, path
    store.close()


def _open_store_at_once(folder: str, barrier: "multiprocessing.synchronize.Barrier") -> None:
    barrier.wait()
    Store(Path(folder)).close()


def test_workers_of_a_pool_open_a_new_folder_together(tmp_path: Path) -> None:
    """The workers of a pool start at once on the circle's folder, which the first start
    creates: every one of them must open it (one used to fail with FileExistsError when
    another created the folder between its look and its mkdir)."""
    context = multiprocessing.get_context("fork")
    for round_ in range(10):
        folder = tmp_path / f"new-{round_}"
        barrier = context.Barrier(8)
        workers = [context.Process(target=_open_store_at_once, args=(str(folder), barrier))
                   for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0] * 8
        assert mode(folder) == 0o700


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    (tmp_path / STORE_FILENAME).touch(mode=0o644)
    os.chmod(tmp_path / STORE_FILENAME, 0o644)
    Store(tmp_path).close()
    assert mode(tmp_path / STORE_FILENAME) == 0o600


def test_names_that_look_like_sql_are_just_data(tmp_path: Path) -> None:
    store = Store(tmp_path)
    evil = "x'); DROP TABLE records; --"
    store.put(evil, evil, "1")
    assert store.ids(evil) == [evil] and store.get(evil, evil) == "1"
    store.close()


@pytest.mark.parametrize("value", [None, True, -7, 2.5, "ünï", [1, "a", [None]],
                                   {"a": {"b": [1.5, False]}}])
def test_json_values_round_trip(value: object) -> None:
    assert from_json_text(to_json_text(value)) == value


@pytest.mark.parametrize("value, reason", [
    (b"\x01", "cannot store a value of type blob"),
    ([1, bytearray(b"x")], "cannot store a value of type blob"),
    (float("nan"), "no JSON form"),
    ({"k": float("inf")}, "no JSON form"),
    (object(), "cannot store a value of type"),
])
def test_values_without_json_form_are_refused(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        to_json_text(value)


def test_too_deep_and_too_big_values_are_refused() -> None:
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        to_json_text(deep)
    with pytest.raises(ValueError, match="larger than"):
        to_json_text("x" * (2 << 20))


WRITER = """
import sys
from pathlib import Path
from worker.store import Store
store = Store(Path(sys.argv[1]))
for n in range(int(sys.argv[3])):
    store.put("shared", f"{sys.argv[2]}-{n:04}", str(n))
    store.put("counter", sys.argv[2], str(n))
store.close()
"""


def test_several_processes_write_one_store_at_once(tmp_path: Path) -> None:
    """A worker pool: every process opens the same new store and writes to it at once."""
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "data"), name,
                                 "300"], stderr=subprocess.PIPE, text=True)
               for name in ("a", "b", "c")]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    store = Store(tmp_path / "data")
    assert len(store.ids("shared")) == 900
    assert [store.get("counter", name) for name in "abc"] == ["299"] * 3
    store.close()
    with sqlite3.connect(tmp_path / "data" / STORE_FILENAME) as db:  # WAL mode stays in the file
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
