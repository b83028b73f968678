"""What a reload would change (pure diff of rendered configs) and the recorded tree settings."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from circlesctl.config import parse_config
from circlesctl.keys import KeyPair
from circlesctl.paths import StatePaths
from circlesctl.tree import (SettingsError, TreeSettings, describe, diff_confs, dump_settings,
                             load_settings, render_conf)

KEYS = {name: KeyPair.generate() for name in ("A", "B", "C", "D")}


def conf(tmp_path: Path, circles: list[dict], settings: TreeSettings | None = None) -> str:
    config = parse_config(json.dumps(circles), tmp_path / "circles.json")
    return render_conf(config, KEYS, StatePaths(tmp_path / "state"),
                       settings or TreeSettings(python=sys.executable,
                                                redis_binary="/bin/redis-server"), "pw")


def test_unchanged_circles_render_identically(tmp_path: Path) -> None:
    circles = [{"name": "A", "port": 1}, {"name": "B", "port": 2}]
    changes = diff_confs(conf(tmp_path, circles), conf(tmp_path, list(reversed(circles))))
    assert not changes.any
    assert set(changes.unchanged) == {"a", "b", "redis"}


def test_added_changed_removed(tmp_path: Path) -> None:
    old = conf(tmp_path, [{"name": "A", "port": 1}, {"name": "B", "port": 2},
                          {"name": "C", "port": 3}])
    new = conf(tmp_path, [{"name": "A", "port": 1}, {"name": "B", "port": 2, "workers": 2},
                          {"name": "D", "port": 4}])
    changes = diff_confs(old, new)
    assert (changes.added, changes.changed, changes.removed) == (("d",), ("b",), ("c",))
    assert set(changes.unchanged) == {"a", "redis"}
    config = parse_config(json.dumps([{"name": "A", "port": 1}, {"name": "B", "port": 2},
                                      {"name": "D", "port": 4}]), tmp_path / "c.json")
    assert describe(changes, config, KEYS) == ["added: 'D'", "changed: 'B'", "removed: 'C'"]


@pytest.mark.parametrize("change", [{"port": 9}, {"host": "0.0.0.0"}, {"auth": False},
                                    {"max_memory_mb": 256}, {"max_attempts": 1},
                                    {"modules": "modules"}])
def test_every_setting_of_a_circle_counts_as_a_change(tmp_path: Path, change: dict) -> None:
    old = conf(tmp_path, [{"name": "A", "port": 1}])
    new = conf(tmp_path, [{"name": "A", "port": 1, **change}])
    assert diff_confs(old, new).changed == ("a",)


def test_a_changed_modules_folder_changes_the_circle(tmp_path: Path) -> None:
    old = conf(tmp_path, [{"name": "A", "port": 1, "modules": "mods"}, {"name": "B", "port": 2}])
    new = conf(tmp_path, [{"name": "A", "port": 1, "modules": "mods2"}, {"name": "B", "port": 2}])
    assert diff_confs(old, new).changed == ("a",)


def test_tree_defaults_change_only_circles_without_their_own(tmp_path: Path) -> None:
    circles = [{"name": "A", "port": 1, "max_memory_mb": 200}, {"name": "B", "port": 2}]
    base = TreeSettings(python=sys.executable, redis_binary="/bin/redis-server")
    raised = TreeSettings(python=sys.executable, redis_binary="/bin/redis-server",
                          max_memory_mb=300)
    changes = diff_confs(conf(tmp_path, circles, base), conf(tmp_path, circles, raised))
    assert changes.changed == ("b",)


def test_settings_round_trip_and_bad_files(tmp_path: Path) -> None:
    settings = TreeSettings(python="/usr/bin/python3", redis_url="unix:///x.sock", debug=True,
                            max_attempts=3)
    path = tmp_path / "tree.json"
    path.write_text(dump_settings(settings))
    assert load_settings(path) == settings
    with pytest.raises(SettingsError, match="missing"):
        load_settings(tmp_path / "none.json")
    path.write_text('{"colour": 1}')
    with pytest.raises(SettingsError, match=str(path)):
        load_settings(path)
