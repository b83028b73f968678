"""Worker-only hosts: two "hosts" on this machine (two state folders, two supervisord trees) on
one real Redis. Host A runs the whole circle; host B runs only workers for it, from A's
``export-public`` file, with no private key."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import redis

from circlesctl.keys import KeyPair
from circlesctl.paths import StatePaths
from circlesctl.supervisor import Supervisor
from test_e2e import CLI, WAIT, Tree, free_port, tree_folder, wait_until  # noqa: F401  (fixture)
from worker import protocol
from worker.redis_store import RedisStore

BACKLOG = 12
GATED = ('db_set("started", "{task}", true);\n'
         'while db_get("gate", "open") == () {{ }}\n'
         'let runs = db_get("runs", "{task}");\n'
         'db_set("runs", "{task}", if runs == () {{ 1 }} else {{ runs + 1 }});\n'
         'print("{task}");')
"""A backlog task: records that it started, waits for the test's gate (so the test can kill a
worker while it holds a task and others are still queued), then records its run."""


@pytest.fixture
def host_b_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Host B's folder; stops a tree left running in it."""
    folder = tmp_path_factory.mktemp("hostb")
    yield folder
    handle = Supervisor.attach(StatePaths(folder / "state"))
    if handle is not None:
        handle.shutdown()


class WorkerHost(Tree):
    """A worker host's tree: it has no keys.json (its programs are found by its state folder)."""

    def keys(self) -> dict[str, dict[str, str]]:
        return {}


def tree_of(folder: Path, redis_url: str, circles: list[dict], kind: type[Tree] = Tree) -> Tree:
    config = folder / "circles.json"
    config.write_text(json.dumps(circles, indent=2))
    return kind(folder, config, folder / "state", redis_url, KeyPair.generate())


def status_json(tree: Tree) -> dict:
    result = tree.cli("status", "--cluster", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def worker_pids(tree: Tree) -> dict[str, int]:
    return {p.name: p.pid for p in tree.supervisor().processes()
            if p.name.startswith("worker-") and p.state == "RUNNING"}


def test_refusals_before_anything_is_written(tmp_path: Path, redis_url: str) -> None:
    """No shared Redis, a bad public key, a circle without a key: exit 2, nothing created."""
    config = tmp_path / "circles.json"
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != protocol.REDIS_URL_ENV}

    def start(circles: list[dict], *extra: str) -> subprocess.CompletedProcess[str]:
        config.write_text(json.dumps(circles))
        return subprocess.run(CLI + ["start", str(config), "--state-dir", str(state), "--role",
                                     "workers", "--detach", *extra],
                              capture_output=True, text=True, timeout=120, env=env)

    good = {"name": "W", "public_key": KeyPair.generate().public_key}
    try:
        no_redis = start([good])
        assert no_redis.returncode == 2 and "--redis-url" in no_redis.stderr, no_redis.stderr
        bad_key = start([{"name": "W", "public_key": "02" + "ff" * 32}], "--redis-url",
                        redis_url)
        assert bad_key.returncode == 2, bad_key.stderr
        assert "circle 'W': field 'public_key'" in bad_key.stderr
        keyless = start([{"name": "W"}], "--redis-url", redis_url)
        assert keyless.returncode == 2 and "export-public" in keyless.stderr, keyless.stderr
        assert "Traceback" not in no_redis.stderr + bad_key.stderr + keyless.stderr
        assert not state.exists()
    finally:
        handle = Supervisor.attach(StatePaths(state)) if state.exists() else None
        if handle is not None:
            handle.shutdown()


def test_worker_host_answers_for_a_stopped_main_worker_and_loses_nothing(
        tree_folder: Path, host_b_folder: Path, redis_url: str,
        redis_client: redis.Redis) -> None:
    host_a = tree_of(tree_folder, redis_url,
                     [{"name": "Shared", "port": free_port(), "store": "redis"}])
    started = host_a.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    pair = host_a.keys()["Shared"]

    exported = host_a.cli("export-public", "-o", str(host_b_folder / "public.json"))
    assert exported.returncode == 0, exported.stderr
    text = (host_b_folder / "public.json").read_text()
    assert pair["private_key"] not in text and "private" not in text
    assert host_a.cli("export-public").stdout == text
    circles = json.loads(text)
    assert circles == [{"name": "Shared", "public_key": pair["public_key"], "workers": 1,
                        "store": "redis"}]

    circles[0]["workers"] = 2
    circles[0]["port"] = 1  # a server field: ignored on a worker host, with a note
    host_b = tree_of(host_b_folder, redis_url, circles, WorkerHost)
    started_b = host_b.cli("start", "--detach", "--role", "workers")
    assert started_b.returncode == 0, started_b.stdout + started_b.stderr
    assert "port ignored" in started_b.stdout
    assert "ready: worker-shared-1" in started_b.stdout
    assert "ready: worker-shared-2" in started_b.stdout
    assert not (host_b.state / "keys.json").exists()
    assert json.loads((host_b.state / "tree.json").read_text())["role"] == "workers"
    assert {f"{p.group}:{p.name}" for p in host_b.supervisor().processes()} == {
        "shared:worker-shared-1", "shared:worker-shared-2"}

    # The cluster view: each host lists the workers of both, and knows its own.
    pids_a, pids_b = worker_pids(host_a), worker_pids(host_b)
    for host, own in ((host_a, pids_a), (host_b, pids_b)):
        data = status_json(host)
        assert data["ok"]
        (circle,) = data["cluster"]
        assert circle["public_key"] == pair["public_key"]
        listed = {w["pid"]: w for w in circle["workers"]}
        assert set(listed) == set(pids_a.values()) | set(pids_b.values())
        assert {pid for pid, w in listed.items() if w["this_tree"]} == set(own.values())
        assert all(w["host"] == socket.gethostname() and w["last_beat"] > 0
                   for w in listed.values())
    assert status_json(host_b)["role"] == "workers"
    table = host_b.cli("status", "--cluster")
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("this tree") == 2 and table.stdout.count("other tree") == 1

    # A's worker stopped through A's supervisord: plays through A's server are B's to answer.
    ctl = subprocess.run(["supervisorctl", "-c", str(host_a.state / "supervisord.conf"), "stop",
                          "shared:worker-shared"], capture_output=True, text=True, timeout=60)
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    assert worker_pids(host_a) == {}
    for number in range(3):
        played = host_a.cli("play", "Shared", "-", stdin=f'print("answered {number}");')
        assert played.returncode == 0, played.stderr
        assert played.stdout.strip() == f"answered {number}"

    # A backlog; B's first worker is killed while it holds a task and others are queued.
    public_key = pair["public_key"]
    store = RedisStore(redis_client, public_key)
    tasks = {f"t{n}": protocol.submit(redis_client, public_key, GATED.format(task=f"t{n}"),
                                      public_key) for n in range(BACKLOG)}
    members = {name: protocol.worker_member(socket.gethostname(), pid)
               for name, pid in pids_b.items()}
    in_hand = wait_until(
        lambda: (held := protocol.tasks_in_hand(redis_client, public_key))
        and all(held.get(m) for m in members.values()) and held,
        "both of B's workers to hold a task")
    victim = members["worker-shared-1"]
    held_by_victim = in_hand[victim]
    assert redis_client.llen(protocol.queue_key(public_key)) == BACKLOG - 2
    os.kill(pids_b["worker-shared-1"], signal.SIGKILL)
    store.put("gate", "open", "true")

    for name, task_id in tasks.items():
        result = protocol.await_result(redis_client, task_id, WAIT)
        assert result.ok and result.output == name, result
    for name in tasks:
        runs = store.get("runs", name)
        assert runs is not None and int(runs) >= 1, (name, runs)
    assert set(held_by_victim) <= set(tasks.values())
    assert redis_client.llen(protocol.worker_processing_key(
        public_key, socket.gethostname(), pids_b["worker-shared-1"])) == 0

    reloaded = host_b.cli("reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert "No changes" in reloaded.stdout
    circles[0]["workers"] = 1
    host_b.config.write_text(json.dumps(circles))
    reloaded = host_b.cli("reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert "changed: 'Shared'" in reloaded.stdout
    assert set(worker_pids(host_b)) == {"worker-shared"}
    restarted = host_b.cli("restart", "worker-shared")
    assert restarted.returncode == 0 and "Restarted shared:worker-shared" in restarted.stdout, (
        restarted.stdout + restarted.stderr)
    assert not (host_b.state / "keys.json").exists()
    refused = host_b.cli("play", "Shared", "-", stdin='print("x");')
    assert refused.returncode == 2 and "worker host" in refused.stderr, refused.stderr

    # stop, status, logs work on the worker host with its own programs only.
    logs = host_b.cli("logs", "Shared", "-n", "3")
    assert logs.returncode == 0 and "worker-shared.log" in logs.stdout
    assert "ws-shared" not in logs.stdout
    running_b, running_a = host_b.tree_pids(), host_a.tree_pids()
    assert host_b.cli("stop").returncode == 0
    assert host_a.cli("stop").returncode == 0
    host_b.assert_nothing_left(running_b)
    host_a.assert_nothing_left(running_a)
