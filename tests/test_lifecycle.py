"""The tree never leaks, with the real supervisord, redis-server, workers and servers: a closed
terminal (SIGHUP), a broken pipe, a kill -9 of supervisord, a pid file whose pid was reused;
and what an operator reads while starting and stopping."""
from __future__ import annotations

import contextlib
import inspect
import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import redis

from circlesctl.supervisor import pid_alive
from worker import protocol
from test_e2e import CLI, WAIT, Tree, free_port, make_tree, tree_folder, wait_until  # noqa: F401  (fixture)


def redis_servers(tree: Tree) -> list[int]:
    """Live redis-server processes working in this tree's Redis folder (its --dir)."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or "redis" not in (proc.info["name"] or ""):
            continue
        try:
            if Path(proc.cwd()) == tree.state / "redis":
                found.append(proc.info["pid"])
        except psutil.Error:
            continue
    return found


def program_pids(tree: Tree) -> set[int]:
    return {p.pid for p in tree.supervisor().processes() if p.pid}


def start_detached(tree: Tree, *extra: str) -> subprocess.CompletedProcess[str]:
    started = tree.cli("start", "--detach", *extra)
    assert started.returncode == 0, started.stdout + started.stderr
    return started


def kill_supervisord(tree: Tree) -> int:
    pid = tree.supervisor().pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), "supervisord to die")
    return pid


def foreground(tree: Tree, *extra: str) -> subprocess.Popen[str]:
    """A foreground `circlesctl start`, read up to its "press Ctrl+C" line."""
    proc = subprocess.Popen(CLI + ["start", str(tree.config), "--state-dir", str(tree.state),
                                   *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = []
    for line in proc.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if "Ctrl+C" in line:
            return proc
    proc.wait(timeout=WAIT)
    raise AssertionError("".join(seen) + proc.stderr.read())  # type: ignore[union-attr]


def test_sighup_from_a_closed_terminal_stops_the_tree(tree_folder: Path) -> None:
    tree = make_tree(tree_folder, None)
    proc = foreground(tree)
    try:
        pids = tree.tree_pids()
        assert redis_servers(tree), "the embedded redis-server should run"
        proc.stdout.close()  # type: ignore[union-attr]  # the terminal is gone: writes fail
        proc.stderr.close()  # type: ignore[union-attr]
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=WAIT)
        tree.assert_nothing_left(pids)
        assert redis_servers(tree) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def failing_start(tree: Tree, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """`start --detach` whose last WebSocket server cannot start: its port is taken once the
    validation is over (the config is rendered after it), before the server gets there."""
    port = tree.circles()[-1]["port"]
    proc = subprocess.Popen(CLI + ["start", "--detach", str(tree.config), "--state-dir",
                                   str(tree.state), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    conf = tree.state / "supervisord.conf"
    try:
        with socket.socket() as thief:
            wait_until(lambda: conf.exists() or proc.poll() is not None, "the rendered config")
            thief.bind(("127.0.0.1", port))
            thief.listen()
            yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_closed_output_during_a_failed_start_leaves_no_process(tree_folder: Path,
                                                                closed: str) -> None:
    tree = make_tree(tree_folder, None)
    with failing_start(tree) as proc:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("Starting"), first
        getattr(proc, closed).close()  # e.g. `circlesctl start | head -1`
        if closed == "stderr":
            proc.stdout.read()  # type: ignore[union-attr]
        assert proc.wait(timeout=WAIT * 2) != 0
    assert tree.leftovers(set()) == []
    assert redis_servers(tree) == []
    assert not (tree.state / "run" / "supervisor.sock").exists()
    assert not (tree.state / "run" / "supervisord.pid").exists()


def test_start_after_kill_9_of_supervisord_runs_exactly_one_redis(tree_folder: Path) -> None:
    tree = make_tree(tree_folder, None)
    start_detached(tree)
    [old_redis] = redis_servers(tree)
    old_programs = program_pids(tree)
    kill_supervisord(tree)
    assert all(pid_alive(pid) for pid in old_programs), "orphans are what this test is about"

    again = tree.cli("start", "--detach")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Cleaned up after a supervisord that was killed" in again.stdout
    assert not any(pid_alive(pid) for pid in old_programs)
    current = redis_servers(tree)
    assert len(current) == 1 and current != [old_redis], current
    played = tree.cli("play", "OurWorld", "-", stdin='print("still here");')
    assert played.returncode == 0 and "still here" in played.stdout, played.stderr

    pids = tree.tree_pids()
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)
    assert redis_servers(tree) == []


def test_reused_pid_in_stale_pid_file_is_not_trusted(tree_folder: Path) -> None:
    tree = make_tree(tree_folder, None)
    start_detached(tree)
    programs = program_pids(tree)
    pids = tree.tree_pids()
    kill_supervisord(tree)
    bystander = subprocess.Popen(["sleep", "600"])  # took over the dead supervisord's pid
    try:
        (tree.state / "run" / "supervisord.pid").write_text(f"{bystander.pid}\n")

        status = tree.cli("status")
        assert status.returncode == 1
        assert "supervisord is gone" in status.stderr and "still run" in status.stderr
        assert "circlesctl stop" in status.stderr
        assert all(pid_alive(pid) for pid in programs), "status must not change anything"
        assert (tree.state / "run" / "supervisord.pid").exists()

        stopped = tree.cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "had been killed" in stopped.stdout and "nothing to stop" not in stopped.stdout
        tree.assert_nothing_left(pids - {bystander.pid})
        assert redis_servers(tree) == []
        assert bystander.poll() is None, "a process that merely reused the pid was touched"
    finally:
        bystander.kill()
        bystander.wait()


def test_failed_start_shows_only_this_starts_log_lines(tree_folder: Path,
                                                        redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    logs = tree.state / "logs"
    logs.mkdir(parents=True)
    failing = logs / "ws-duniacybercity.log"
    failing.write_text("line from an earlier run\n")
    with failing_start(tree, "--redis-url", redis_url) as proc:
        out, err = proc.communicate(timeout=WAIT * 2)
    assert proc.returncode == 1, out + err
    assert f"last lines of {failing} (this start)" in err
    assert "earlier run" not in err
    assert "address already in use" in err  # what this start's server said
    assert tree.leftovers(set()) == []


def test_stop_says_it_waits_for_a_running_script(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    start_detached(tree)
    pids = tree.tree_pids()
    worker = next(p.pid for p in tree.supervisor().processes() if p.name == "worker-ourworld")
    circle_key = tree.keys()["OurWorld"]["public_key"]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    # Runs until the engine's wall-clock limit: many seconds, far more than it takes to see it.
    slow = "let a = []; a.pad(50000, 1); loop { a.sort(); }"
    stop = None
    try:
        task_id = protocol.submit(client, circle_key, slow, circle_key)
        wait_until(lambda: client.hget(protocol.details_key(task_id), "status") == "processing",
                   "the worker to take the long script")
        os.kill(worker, signal.SIGSTOP)  # hold the script "running" until stop has spoken
        stop = subprocess.Popen(CLI + ["stop", str(tree.config), "--state-dir", str(tree.state)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = [stop.stdout.readline(), stop.stdout.readline()]  # type: ignore[union-attr]
        os.kill(worker, signal.SIGCONT)
        out, err = stop.communicate(timeout=WAIT)
        assert stop.returncode == 0, err
        assert seen[0] == "Stopping circles...\n"
        assert seen[1].startswith("Waiting for circle 'OurWorld' to finish the script(s) its "
                                  "workers are running")
        assert task_id in seen[1] and "Dunia" not in "".join(seen) + out
        tree.assert_nothing_left(pids)
    finally:
        if pid_alive(worker):
            os.kill(worker, signal.SIGCONT)
        if stop is not None and stop.poll() is None:
            stop.kill()
            stop.wait()
        client.close()


def test_play_calls_a_syntax_error_a_syntax_error(tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    start_detached(tree)
    pids = tree.tree_pids()
    syntax = tree.cli("play", "OurWorld", "-", stdin="let x = ;")
    assert syntax.returncode == 1
    assert "script failed on 'OurWorld': syntax error:" in syntax.stderr
    assert "Execution Error" not in syntax.stderr
    thrown = tree.cli("play", "OurWorld", "-", stdin='throw "no such thing";')
    assert thrown.returncode == 1
    assert "script failed on 'OurWorld': Runtime error: no such thing" in thrown.stderr
    assert "syntax" not in thrown.stderr and "Execution Error" not in thrown.stderr
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)


def test_logs_and_verbosity_accept_supervisorctl_forms(tree_folder: Path,
                                                       redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    started = subprocess.run(CLI + ["-v", "start", "--detach", str(tree.config), "--state-dir",
                                    str(tree.state), "--redis-url", redis_url],
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "INFO circlesctl" in started.stderr  # -v before the command is honoured
    pids = tree.tree_pids()
    after = tree.cli("status", "-v")
    assert after.returncode == 0, after.stderr

    # The program names as the README and `supervisorctl status` write them both work.
    ctl = subprocess.run(["supervisorctl", "-c", str(tree.state / "supervisord.conf"), "tail",
                          "ourworld:ws-ourworld"], capture_output=True, text=True, timeout=60)
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    for name in ("ourworld:ws-ourworld", "ws-ourworld"):
        shown = tree.cli("logs", name, "-n", "5")
        assert shown.returncode == 0, shown.stderr
        assert "ws-ourworld.log" in shown.stdout and "worker-ourworld.log" not in shown.stdout
    wrong_group = tree.cli("logs", "duniacybercity:ws-ourworld")
    assert wrong_group.returncode == 2
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)


@pytest.mark.skipif("output" not in inspect.signature(protocol.error_result).parameters,
                    reason="needs contract C4 (the worker keeps printed output on error), "
                           "from branch worker-ops")
def test_init_column_shows_what_a_failing_init_script_printed(tree_folder: Path,
                                                              redis_url: str) -> None:
    (tree_folder / "noisy.rhai").write_text('print("checking settings");\nthrow "no owner";\n')
    tree = make_tree(tree_folder, redis_url, [{"name": "Noisy", "port": free_port(),
                                               "script_path": "noisy.rhai"}])
    started = start_detached(tree)
    pids = tree.tree_pids()
    saved = json.loads((tree.state / "init.json").read_text())["Noisy"]
    assert saved.startswith("Runtime error: no owner") and \
        saved.endswith("; printed: checking settings")
    status = tree.cli("status")
    for table in (started.stdout, status.stdout):
        row = next(line for line in table.splitlines() if line.startswith("Noisy "))
        cell = row.split("|")[-1].strip()
        # The whole summary, or its start when the table is cut to fit the terminal.
        assert cell == saved or saved.startswith(cell.rstrip(".…")), (cell, saved)
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)
