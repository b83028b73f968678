"""The programs' interpreter: ``python -S`` on the import path ``start`` resolved (pythonpath.py)."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from circlesctl.config import parse_config
from circlesctl.keys import KeyPair
from circlesctl.paths import StatePaths
from circlesctl.pythonpath import (current_import_path, python_command, python_environment,
                                   resolve_import_path)
from circlesctl.tree import TreeSettings, dump_settings, load_settings, render_conf


def test_path_puts_package_roots_first_and_drops_the_start_folder_and_stdlib() -> None:
    path = resolve_import_path(["/home/me/cwd", "/usr/lib/python3.11", "/venv/site-packages",
                                "/project", "/venv/site-packages"],
                               ["/project", "/project"], {"/usr/lib/python3.11"})
    assert path == ("/project", "/venv/site-packages")


@pytest.mark.parametrize("entry", ["/opt/a:b", '/opt/say "hi"', "/opt/back\\slash",
                                   "/opt/new\nline"])
def test_a_path_supervisord_cannot_carry_leaves_the_programs_on_site(entry: str) -> None:
    assert resolve_import_path(["", entry], ["/project"], set()) is None
    assert python_command("/usr/bin/python3", None) == ["/usr/bin/python3"]
    assert python_environment(None) == {}


def test_programs_import_everything_they_need_without_site(tmp_path: Path) -> None:
    """What the worker and the server import at start must resolve on the recorded path alone."""
    path = current_import_path()
    assert path is not None
    env = {"PATH": os.environ.get("PATH", ""), **python_environment(path)}
    done = subprocess.run(
        [*python_command(sys.executable, path), "-c",
         "import sys, worker.__main__, worker.runner, wsserver.__main__, wsserver.app\n"
         "assert 'site' not in sys.modules\n"
         "print(worker.__file__, wsserver.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import worker
    import wsserver
    assert done.stdout.split() == [worker.__file__, wsserver.__file__]


def test_rendered_programs_start_with_dash_s_and_the_recorded_path(tmp_path: Path) -> None:
    config = parse_config(json.dumps([{"name": "A", "port": 8101}]), tmp_path / "circles.json")
    keys = {"A": KeyPair.generate()}
    paths = StatePaths(tmp_path / "state")
    settings = TreeSettings(python="/usr/bin/python3", redis_url="unix:///x.sock",
                            import_path=("/project", "/venv/site-packages"))
    paths.root.mkdir()
    paths.tree_settings.write_text(dump_settings(settings))
    assert load_settings(paths.tree_settings) == settings
    text = render_conf(config, keys, paths, settings, "pw")
    commands = [line.split("=", 1)[1] for line in text.splitlines()
                if line.startswith("command=") and "-m " in line]
    assert [shlex.split(c)[:4] for c in commands] == [
        ["/usr/bin/python3", "-S", "-m", "worker"], ["/usr/bin/python3", "-S", "-m", "wsserver"]]
    assert text.count('PYTHONPATH="/project:/venv/site-packages"') == 2
    plain = render_conf(config, keys, paths, TreeSettings(python="/usr/bin/python3",
                                                          redis_url="unix:///x.sock"), "pw")
    assert "PYTHONPATH" not in plain and " -S " not in plain
