"""CLI behaviour around the tree's lifecycle: not running, stale files, running twice, bad names."""
from __future__ import annotations

import json
import os
import socket
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from circlesctl.cli import cli
from test_e2e import Tree, make_tree, tree_folder  # noqa: F401  (tree_folder is a fixture)


def write_config(folder: Path) -> Path:
    path = folder / "circles.json"
    path.write_text(json.dumps([{"name": "OurWorld", "port": 8090}]))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_status_when_not_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = run("status", str(config))
    assert code == 1
    assert "not running" in output and str(tmp_path / ".circles") in output
    assert "circlesctl start" in output
    assert not (tmp_path / ".circles").exists()


def test_stop_when_not_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = run("stop", str(config))
    assert code == 0
    assert "not running" in output and "nothing to stop" in output


def test_state_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    monkeypatch.setenv("CIRCLES_STATE_DIR", str(tmp_path / "elsewhere"))
    code, output = run("status", str(config))
    assert code == 1 and str(tmp_path / "elsewhere") in output


def test_stale_socket_and_pidfile_are_reported_by_status_and_cleaned_by_stop(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    run_dir = tmp_path / ".circles" / "run"
    run_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / "supervisord.pid").write_text(f"{dead.pid}\n")
    with socket.socket(socket.AF_UNIX) as sock:  # a socket file nobody listens on any more
        sock.bind(str(run_dir / "supervisor.sock"))
    code, output = run("status", str(config))
    assert code == 1 and "stale" in output
    assert (run_dir / "supervisord.pid").exists(), "status must not change anything"
    assert (run_dir / "supervisor.sock").exists(), "status must not change anything"
    code, output = run("stop", str(config))
    assert code == 0 and "had been killed" in output
    assert not (run_dir / "supervisord.pid").exists()
    assert not (run_dir / "supervisor.sock").exists()


def test_logs_unknown_name(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = run("logs", str(config), "Nowhere")
    assert code == 2 and "'Nowhere'" in output and "'OurWorld'" in output


def test_logs_before_any_start(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = run("logs", str(config), "OurWorld")
    assert code == 1 and "no logs yet" in output


def test_logs_piped_into_head_ends_quietly_and_leaves_sigpipe_alone(tmp_path: Path) -> None:
    """`circlesctl logs x | head` exits 0 without a traceback, and the command never changes the
    process's SIGPIPE handling (an in-process caller's sockets would then die of SIGPIPE)."""
    config = write_config(tmp_path)
    logs = tmp_path / ".circles" / "logs"
    logs.mkdir(parents=True)
    (logs / "worker-ourworld.log").write_text("".join(f"line {n}\n" for n in range(200_000)))
    code, _ = run("logs", str(config), "OurWorld", "-n", "10")
    assert code == 0
    assert signal.getsignal(signal.SIGPIPE) is signal.SIG_IGN
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    done = subprocess.run([sys.executable, "-m", "circlesctl", "logs", str(config), "OurWorld",
                           "-n", "200000"], stdout=reader.stdin, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    reader.stdin.close()
    first = reader.stdout.read()
    reader.wait(timeout=60)
    assert first.startswith(b"==> ") and done.returncode == 0
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_play_unknown_circle_and_bad_key(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    script = tmp_path / "s.rhai"
    script.write_text("print(1);")
    code, output = run("play", str(config), "Nowhere", str(script))
    assert code == 2 and "'Nowhere'" in output
    code, output = run("play", str(config), "OurWorld", str(script), "--key", "abc")
    assert code == 2 and "--key" in output and "64 hex digits" in output
    code, output = run("play", str(config), "OurWorld", str(tmp_path / "missing.rhai"))
    assert code == 2 and "missing.rhai" in output


def test_play_when_not_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    script = tmp_path / "s.rhai"
    script.write_text("print(1);")
    code, output = run("play", str(config), "OurWorld", str(script))
    assert code == 1 and "no key for circle 'OurWorld'" in output


def test_too_many_arguments_is_a_usage_error(tmp_path: Path) -> None:
    code, output = run("status", "a.json", "b.json")
    assert code == 2 and "[CONFIG]" in output


def test_second_start_and_script_error(tree_folder: Path, redis_url: str) -> None:
    tree: Tree = make_tree(tree_folder, redis_url)
    first = tree.cli("start", "--detach")
    assert first.returncode == 0, first.stdout + first.stderr
    pids = tree.tree_pids()
    second = tree.cli("start", "--detach")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout and "not starting twice" in second.stdout
    assert "OurWorld" in second.stdout and "RUNNING" in second.stdout
    assert tree.tree_pids() == pids

    failed = tree.cli("play", "OurWorld", "-", stdin="let x = ;")
    assert failed.returncode == 1
    assert "script failed on 'OurWorld'" in failed.stderr and "Traceback" not in failed.stderr

    logs = tree.cli("logs", "OurWorld")
    assert logs.returncode == 0
    assert "worker-ourworld.log" in logs.stdout and "ws-ourworld.log" in logs.stdout
    one = tree.cli("logs", "ws-ourworld", "-n", "5")
    assert one.returncode == 0
    assert "ws-ourworld.log" in one.stdout and "worker-ourworld.log" not in one.stdout

    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)
    status = tree.cli("status")
    assert status.returncode == 1 and "not running" in status.stderr
    assert os.path.isdir(tree.state)


def test_follow_prints_only_new_lines(tmp_path: Path) -> None:
    from circlesctl.logs import follow

    log = tmp_path / "ws-x.log"
    log.write_text("old line\n")
    seen: list[str] = []
    turns = iter([True, True, False])

    def keep_going() -> bool:
        going = next(turns)
        if going and not seen:
            with log.open("a") as handle:
                handle.write("new line\npartial")
        return going

    follow([log], lambda path, line: seen.append(f"{path.name}: {line}"), keep_going, 0.01)
    assert seen == ["ws-x.log: new line"]


def test_verbose_before_or_after_the_command(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for args in (["-v", "status", str(config)], ["status", str(config), "-v"],
                 ["-v", "status", "-v", str(config)]):
        code, output = run(*args)
        assert code == 1 and "not running" in output, (args, output)


def test_init_result_shows_what_was_printed_before_an_error() -> None:
    from circlesctl.initscripts import init_summary
    from worker.protocol import TaskResult

    assert init_summary(TaskResult("t", "completed", "hello", None)) == "ok"
    assert init_summary(TaskResult("t", "error", None, "boom (line 3)")) == "boom (line 3)"
    shown = init_summary(TaskResult("t", "error", "step 1\nstep 2\n", "boom (line 3)\nmore"))
    first, _, rest = shown.partition("\n")
    assert first == "boom (line 3); printed: step 1 / step 2"
    assert rest == "more"
