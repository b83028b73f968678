"""circlesctl as a user runs it: real supervisord, Redis, workers, WebSocket servers, signatures."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import psutil
import pytest
import redis

from circlesctl.keys import KeyPair
from circlesctl.paths import StatePaths
from circlesctl.status import short_key
from circlesctl.supervisor import Supervisor, pid_alive
from worker import protocol
from wsserver.client import play_script

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "circlesctl"]
WAIT = 60.0
"""Generous deadline for things that must happen (never asserted as a speed)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], what: str, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@dataclass
class Tree:
    """A circles.json in a temp folder and the commands to drive it."""

    folder: Path
    config: Path
    state: Path
    redis_url: str | None
    member: KeyPair

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = ["--redis-url", self.redis_url] if self.redis_url and args[0] == "start" else []
        return subprocess.run(CLI + [args[0], str(self.config), "--state-dir", str(self.state),
                                     *extra, *args[1:]],
                              input=stdin, capture_output=True, text=True, timeout=120)

    def keys(self) -> dict[str, dict[str, str]]:
        return json.loads((self.state / "keys.json").read_text())

    def circles(self) -> list[dict]:
        return json.loads(self.config.read_text())

    def url(self, name: str) -> str:
        port = next(c["port"] for c in self.circles() if c["name"] == name)
        return f"ws://127.0.0.1:{port}/ws"

    def supervisor(self) -> Supervisor:
        handle = Supervisor.attach(StatePaths(self.state))
        assert handle is not None, "supervisord is not running"
        return handle

    def redis_client(self) -> redis.Redis:
        url = self.redis_url or f"unix://{self.state}/run/redis.sock"
        return redis.Redis.from_url(url, decode_responses=True, socket_timeout=None)

    def tree_pids(self) -> set[int]:
        """supervisord and every program it runs, right now."""
        supervisor = self.supervisor()
        return {supervisor.pid} | {p.pid for p in supervisor.processes() if p.pid}

    def leftovers(self, pids: set[int]) -> list[str]:
        """Live processes of this tree: known pids, or naming its state folder or keys."""
        marks = [str(self.state)] + [k["public_key"] for k in self.keys().values()]
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["pid"] in pids or any(mark in cmdline for mark in marks):
                found.append(f"{proc.info['pid']}: {cmdline}")
        return found

    def assert_nothing_left(self, pids: set[int]) -> None:
        wait_until(lambda: not self.leftovers(pids), "every process of the tree to exit")
        run = self.state / "run"
        assert not (run / "supervisor.sock").exists()
        assert not (run / "supervisord.pid").exists()


def make_tree(folder: Path, redis_url: str | None, extra: list[dict] | None = None) -> Tree:
    shutil.copytree(ROOT / "scripts", folder / "scripts")
    member = KeyPair.generate()
    circles = [
        {"name": "OurWorld", "port": free_port(), "script_path": "scripts/ourworld.rhai",
         "members": [member.public_key]},
        {"name": "Dunia Cybercity", "port": free_port(),
         "script_path": "scripts/dunia_cybercity.rhai"},
    ] + (extra or [])
    config = folder / "circles.json"
    config.write_text(json.dumps(circles, indent=2))
    return Tree(folder, config, folder / "state", redis_url, member)


@pytest.fixture
def tree_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A short temp folder (unix socket paths have a length limit); stops any tree left in it."""
    folder = tmp_path_factory.mktemp("e2e")
    yield folder
    handle = Supervisor.attach(StatePaths(folder / "state"))
    if handle is not None:
        handle.shutdown()


def user_session(tree: Tree) -> None:
    """Start detached, inspect, play, submit by hand, survive a worker kill, stop."""
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    table = started.stdout
    keys = tree.keys()
    for name in ("OurWorld", "Dunia Cybercity"):
        line = next(l for l in table.splitlines() if l.startswith(name + " "))
        cells = [c.strip() for c in line.split("|")]
        assert cells[1] == short_key(keys[name]["public_key"])
        assert cells[2] == short_key(protocol.queue_key(keys[name]["public_key"]))
        assert cells[3] == tree.url(name)
        assert cells[4:] == ["1/1", "RUNNING", "ok"]

    ctl = subprocess.run(["supervisorctl", "-c", str(tree.state / "supervisord.conf"), "status"],
                         capture_output=True, text=True, timeout=60)
    programs = {line.split()[0]: line.split()[1] for line in ctl.stdout.splitlines()}
    expected = {"ourworld:worker-ourworld", "ourworld:ws-ourworld",
                "duniacybercity:worker-duniacybercity", "duniacybercity:ws-duniacybercity"}
    if tree.redis_url is None:
        expected.add("redis")
    assert set(programs) == expected
    assert set(programs.values()) == {"RUNNING"}

    own = keys["OurWorld"]
    output = play_script(tree.url("OurWorld"), "print(CALLER_PUBLIC_KEY);",
                         private_key_hex=own["private_key"], timeout=30)
    assert own["public_key"] in output
    output = play_script(tree.url("OurWorld"), "print(CALLER_PUBLIC_KEY);",
                         private_key_hex=tree.member.private_key, timeout=30)
    assert tree.member.public_key in output
    played = tree.cli("play", "Dunia Cybercity", "-", stdin='print(db_get("settings", "owner"));')
    assert played.returncode == 0, played.stderr
    assert keys["Dunia Cybercity"]["public_key"] in played.stdout

    client = tree.redis_client()
    circle_pk = keys["Dunia Cybercity"]["public_key"]
    task_id = "by-hand-1"
    client.hset(f"rhai_task_details:{task_id}", mapping={
        "script": 'print("hello from rhai_client");', "status": "pending",
        "caller_id": circle_pk, "reply_queue_name": f"rhai_reply:{task_id}",
        "created_at": "0", "updated_at": "0"})
    client.lpush(f"rhai_tasks:{circle_pk}", task_id)
    popped = client.blpop([f"rhai_reply:{task_id}"], timeout=30)
    assert popped is not None, "no reply from the worker"
    reply = json.loads(popped[1])
    assert reply["task_id"] == task_id and reply["status"] == "completed"
    assert "hello from rhai_client" in reply["output"]

    supervisor = tree.supervisor()
    old = next(p for p in supervisor.processes() if p.name == "worker-ourworld")
    os.kill(old.pid, signal.SIGKILL)

    def restarted() -> bool:
        info = next(p for p in supervisor.processes() if p.name == "worker-ourworld")
        beat = client.get(protocol.heartbeat_key(own["public_key"]))
        return (info.state == "RUNNING" and info.pid != old.pid and beat is not None
                and json.loads(beat)["pid"] == info.pid)
    wait_until(restarted, "supervisord to restart the killed worker")
    played = tree.cli("play", "OurWorld", "-", stdin="let x = 40 + 2; print(`x=${x}`);")
    assert played.returncode == 0, played.stderr
    assert "x=42" in played.stdout

    status = tree.cli("status")
    assert status.returncode == 0 and "RUNNING" in status.stdout

    pids = tree.tree_pids()
    stopped = tree.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    tree.assert_nothing_left(pids)
    client.close()


def test_user_session_with_external_redis(tree_folder: Path, redis_url: str) -> None:
    user_session(make_tree(tree_folder, redis_url))


def test_user_session_with_embedded_redis(tree_folder: Path) -> None:
    tree = make_tree(tree_folder, None)
    user_session(tree)
    assert (tree.state / "redis").is_dir() and any((tree.state / "redis").iterdir())


def test_foreground_start_stops_on_sigterm(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    proc = subprocess.Popen(CLI + ["start", str(tree.config), "--state-dir", str(tree.state),
                                   "--redis-url", redis_url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "Ctrl+C" in line:
                break
        assert any("Ctrl+C" in line for line in seen), "".join(seen) + proc.stderr.read()
        pids = tree.tree_pids()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
        tree.assert_nothing_left(pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_init_script_error_is_shown_but_not_fatal(tree_folder: Path, redis_url: str) -> None:
    (tree_folder / "broken.rhai").write_text("let x = ;\n")
    tree = make_tree(tree_folder, redis_url, [{"name": "Broken Init", "port": free_port(),
                                               "script_path": "broken.rhai"}])
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    line = next(l for l in started.stdout.splitlines() if l.startswith("Broken Init "))
    cells = [c.strip() for c in line.split("|")]
    assert cells[5] == "RUNNING"
    assert cells[6] not in ("ok", "-", "")
    status = tree.cli("status")
    assert cells[6] in status.stdout
    pids = tree.tree_pids()
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)


def test_program_that_cannot_start_aborts_everything(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    port = tree.circles()[1]["port"]
    proc = subprocess.Popen(CLI + ["start", "--detach", str(tree.config), "--state-dir",
                                   str(tree.state), "--redis-url", redis_url, "--ready-timeout",
                                   "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    conf = tree.state / "supervisord.conf"
    with socket.socket() as thief:
        # Take the port once validation is over (the config is written after it), before the
        # WebSocket server gets there.
        wait_until(lambda: conf.exists() or proc.poll() is not None, "the rendered config")
        thief.bind(("127.0.0.1", port))
        thief.listen()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "ws-duniacybercity" in err
    assert "last lines of" in err and "ws-duniacybercity.log" in err
    assert "Traceback" not in err.split("last lines of")[0]
    assert tree.leftovers(set()) == []
    assert not (tree.state / "run" / "supervisor.sock").exists()
    assert not (tree.state / "run" / "supervisord.pid").exists()


def test_killed_supervisord_leaves_nothing_after_stop(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    pids = tree.tree_pids()
    supervisord = tree.supervisor().pid
    os.kill(supervisord, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisord), "supervisord to die")
    assert (tree.state / "run" / "supervisord.pid").exists()  # stale, as a kill -9 leaves it
    stopped = tree.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "had been killed" in stopped.stdout
    tree.assert_nothing_left(pids)
    restarted = tree.cli("start", "--detach")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    pids = tree.tree_pids()
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)


def test_not_ready_in_time_stops_everything(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    # Programs count as started only after startsecs (1 s), so 0.5 s is never enough.
    started = tree.cli("start", "--detach", "--ready-timeout", "0.5")
    assert started.returncode == 1
    assert "within 0.5 s" in started.stderr and "stopped everything" in started.stderr
    assert "Traceback" not in started.stderr
    assert tree.leftovers(set()) == []
    assert not (tree.state / "run" / "supervisor.sock").exists()
    assert not (tree.state / "run" / "supervisord.pid").exists()
