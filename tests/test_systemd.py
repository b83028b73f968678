"""`circlesctl systemd-unit`: a unit that runs the tree in the foreground, accepted by systemd."""
from __future__ import annotations

import configparser
import getpass
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from circlesctl.cli import cli
from circlesctl.systemd import quote


def unit_for(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    config = tmp_path / "my circles" / "circles.json"
    config.parent.mkdir()
    config.write_text(json.dumps([{"name": "OurWorld", "port": 8090}]))
    result = CliRunner().invoke(cli, ["systemd-unit", str(config), *extra])
    return result.exit_code, result.output, config


def service(text: str) -> dict[str, str]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser.items("Service"))


def systemd_words(line: str) -> list[str]:
    """A command line split as systemd splits it (no specifiers or variables used here)."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line)]


def test_unit_runs_start_reload_stop_in_the_foreground(tmp_path: Path) -> None:
    code, text, config = unit_for(tmp_path, "--user", "circles", "--state-dir",
                                  str(tmp_path / "state"))
    assert code == 0, text
    svc = service(text)
    assert svc["Type"] == "simple" and svc["User"] == "circles"
    assert svc["WorkingDirectory"] == str(config.parent)
    for key, verb in (("ExecStart", "start"), ("ExecReload", "reload"), ("ExecStop", "stop")):
        assert systemd_words(svc[key]) == [sys.executable, "-m", "circlesctl", verb, str(config),
                                           "--state-dir", str(tmp_path / "state")]
    assert "--detach" not in svc["ExecStart"]
    assert svc["KillMode"] == "mixed" and svc["Restart"] == "on-failure"
    assert int(svc["TimeoutStopSec"]) >= 60
    assert "[Install]" in text and "WantedBy=multi-user.target" in text


def test_default_user_and_state_folder(tmp_path: Path) -> None:
    code, text, config = unit_for(tmp_path)
    assert code == 0, text
    svc = service(text)
    assert svc["User"] == getpass.getuser()
    assert systemd_words(svc["ExecStart"])[-1] == str(config.parent / ".circles")


def test_bad_user_is_refused(tmp_path: Path) -> None:
    code, text, _ = unit_for(tmp_path, "--user", "a b")
    assert code == 2 and "--user" in text and "Traceback" not in text


def test_quote_doubles_specifiers_and_quotes_spaces() -> None:
    assert quote("/usr/bin/python3") == "/usr/bin/python3"
    assert quote("/srv/my circles/50%") == '"/srv/my circles/50%%"'
    assert quote('a"b$c') == '"a\\"b$$c"'
    with pytest.raises(ValueError):
        quote("a\nb")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    code, text, _ = unit_for(tmp_path, "--user", "root")
    assert code == 0, text
    unit = tmp_path / "circles-test.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "circles-test.service" not in result.stderr, result.stderr
