"""The same db_* behaviour on both store backends: SQLite (worker/store.py, per host) and Redis
(worker/redis_store.py, shared by a circle's workers on every host), against a real redis-server."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis

from bench.common import Children, new_keypair, round_trip
from worker.engine import Engine, RhaiError
from worker.redis_store import RedisStore, store_key
from worker.scriptapi import MAX_VALUE_BYTES, store_functions
from worker.store import MAX_NAME_LENGTH, Store

CIRCLE = "02" + "ab" * 32


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh, empty store of each kind."""
    if request.param == "sqlite":
        backend: Any = Store(tmp_path / "data")
    else:
        backend = RedisStore(request.getfixturevalue("redis_client"), CIRCLE)
    yield backend
    backend.close()


@pytest.fixture
def run(store: Any) -> Any:
    """Run a Rhai script with the db_* functions over ``store``; return its value."""
    engine = Engine()
    for name, fn in store_functions(store).items():
        engine.register_fn(name, fn)
    return lambda script: engine.eval(engine.compile(script))


def test_put_get_delete_list(store: Any) -> None:
    store.put("users", "bob", '{"age":3}')
    store.put("users", "alice", '"hi"')
    store.put("other", "x", "1")
    assert store.get("users", "bob") == '{"age":3}'
    assert store.get("users", "nobody") is None
    assert store.ids("users") == ["alice", "bob"]
    assert store.delete("users", "bob") is True
    assert store.delete("users", "bob") is False
    assert store.ids("users") == ["alice"]
    assert store.ids("empty") == []


def test_put_replaces(store: Any) -> None:
    store.put("c", "k", "1")
    store.put("c", "k", "2")
    assert store.get("c", "k") == "2" and store.ids("c") == ["k"]


def test_ids_sort_by_code_point(store: Any) -> None:
    names = ["b", "B", "a", "é", "Z", "10", "9", "ä", "日本", "_"]
    for name in names:
        store.put("c", name, "1")
    assert store.ids("c") == sorted(names)


def test_collections_are_separate_even_with_colons(store: Any) -> None:
    store.put("a:b", "c", "1")
    store.put("a", "b:c", "2")
    assert store.ids("a:b") == ["c"] and store.ids("a") == ["b:c"]
    assert store.get("a:b", "c") == "1" and store.get("a", "b:c") == "2"


@pytest.mark.parametrize("name, reason", [
    ("", "must not be empty"),
    ("a" * (MAX_NAME_LENGTH + 1), "longer than"),
    ("a\nb", "control characters"),
    (5, "must be a string"),
])
def test_bad_names_are_refused(store: Any, name: object, reason: str) -> None:
    for call in (lambda: store.put(name, "k", "1"), lambda: store.put("c", name, "1"),
                 lambda: store.get("c", name), lambda: store.delete(name, "k"),
                 lambda: store.ids(name)):
        with pytest.raises(ValueError, match=reason):
            call()
    assert store.ids("c") == []


def test_longest_names_are_accepted(store: Any) -> None:
    longest = "n" * MAX_NAME_LENGTH
    store.put(longest, longest, "1")
    assert store.ids(longest) == [longest]


def test_scripts_see_the_same_values(run: Any) -> None:
    run('db_set("users", "bob", #{name: "Bob", tags: ["a", 1, 2.5, true, ()]})')
    assert run('db_get("users", "bob")') == {"name": "Bob", "tags": ["a", 1, 2.5, True, None]}
    assert run('db_get("users", "nobody")') is None
    assert run('db_list("users")') == ["bob"]
    assert run('db_delete("users", "bob")') is True
    assert run('db_delete("users", "bob")') is False
    assert run('db_list("users")') == []


@pytest.mark.parametrize("script, message", [
    ('db_set("c", "k", blob(3))', "db_set: cannot store a value of type blob"),
    ('let s = "0123456789abcdef"; for i in 0..16 { s += s; } db_set("c", "k", s)',  # 1 MiB + 2
     f"db_set: value is larger than {MAX_VALUE_BYTES} bytes as JSON"),
    ('db_set("", "k", 1)', "db_set: collection must not be empty"),
    ('db_get("c", "")', "db_get: id must not be empty"),
    ('db_list(1)', "db_list: collection must be a string"),
    ('db_set("c", "k")', "db_set(collection, id, value) takes 3 arguments, not 2"),
])
def test_scripts_get_the_same_errors(run: Any, script: str, message: str) -> None:
    with pytest.raises(RhaiError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(script)
    assert run('db_list("c")') == []


def test_redis_keys_are_one_hash_per_circle_and_collection(redis_client: redis.Redis) -> None:
    store = RedisStore(redis_client, CIRCLE)
    store.put("users", "bob", "1")
    assert redis_client.hgetall(store_key(CIRCLE, "users")) == {"bob": "1"}
    assert store_key(CIRCLE, "users") == f"circles_store:{CIRCLE}:users"
    other = RedisStore(redis_client, "03" + "cd" * 32)
    assert other.ids("users") == [] and other.get("users", "bob") is None


def test_storage_failure_is_a_script_error(tmp_path: Path) -> None:
    gone = redis.Redis(unix_socket_path=str(tmp_path / "no.sock"), decode_responses=True)
    engine = Engine()
    for name, fn in store_functions(RedisStore(gone, CIRCLE)).items():
        engine.register_fn(name, fn)
    with pytest.raises(RhaiError, match="db_get: storage error"):
        engine.eval(engine.compile('db_get("c", "k")'))


@pytest.mark.parametrize("backend, shared", [("sqlite", False), ("redis", True)])
def test_what_another_worker_host_sees(tmp_path: Path, redis_url: str, redis_client: redis.Redis,
                                       backend: str, shared: bool) -> None:
    """Two real workers of one circle with their own data folders (as on two hosts): with the
    Redis store the second sees the first's record; with SQLite each host has its own."""
    _, circle = new_keypair()
    children = Children(tmp_path)

    def worker(name: str) -> Any:
        data = tmp_path / name
        return children.start(name, [sys.executable, "-m", "worker", "--name", "c",
                                     "--public-key", circle, "--data-dir", str(data),
                                     "--redis-url", redis_url, "--store", backend])

    try:
        first = worker("host-a")
        assert round_trip(redis_url, circle, 'db_set("c", "k", 7); db_get("c", "k")',
                          check=lambda: children.check_alive(first)) == "7"
        children.stop(first)
        second = worker("host-b")
        seen = round_trip(redis_url, circle, 'db_get("c", "k")',
                          check=lambda: children.check_alive(second))
    finally:
        children.stop_all()
    assert seen == ("7" if shared else "")


# --- choosing the backend -------------------------------------------------------------------

def test_circles_json_store_field_reaches_the_worker_command(tmp_path: Path) -> None:
    from circlesctl.config import ConfigError, parse_config
    from circlesctl.keys import KeyPair
    from circlesctl.paths import StatePaths
    from circlesctl.render import worker_argv

    config = parse_config(json.dumps([{"name": "A", "port": 1, "store": "redis"},
                                      {"name": "B", "port": 2}]), tmp_path / "circles.json")
    shared, local = config.circles
    assert (shared.store, local.store) == ("redis", "sqlite")
    pair, paths = KeyPair.generate(), StatePaths(tmp_path / "state")
    argv = worker_argv([sys.executable], shared, pair, paths, False)
    assert argv[argv.index("--store") + 1] == "redis"
    assert "--store" not in worker_argv([sys.executable], local, pair, paths, False)
    with pytest.raises(ConfigError, match="circle 'C': field 'store': must be \"sqlite\" or "
                                          "\"redis\", got 'mysql'"):
        parse_config(json.dumps([{"name": "C", "port": 1, "store": "mysql"}]),
                     tmp_path / "circles.json")


def test_worker_store_option(tmp_path: Path) -> None:
    from worker.config import parse_args

    common = ["--name", "n", "--public-key", CIRCLE, "--data-dir", str(tmp_path)]
    assert parse_args(common, {}).store == "sqlite"
    assert parse_args([*common, "--store", "redis"], {}).store == "redis"
    done = subprocess.run([sys.executable, "-m", "worker", *common, "--store", "files"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --store: invalid choice: 'files' (choose from 'sqlite', 'redis')" in done.stderr
