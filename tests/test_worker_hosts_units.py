"""The pure parts of worker-only hosts: circles.json by role, keys by role, the rendered
supervisord.conf, the exported file, the cluster view and the systemd unit."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from circlesctl import cluster
from circlesctl.circlekeys import check_named_keys, public_circles, worker_host_keys
from circlesctl.config import ConfigError, parse_config
from circlesctl.keys import KeyPair
from circlesctl.paths import StatePaths
from circlesctl.systemd import UnitOptions, render_unit
from circlesctl.tree import TreeSettings, render_conf

PATH = Path("/etc/circles/circles.json")
KEY = KeyPair.generate()


def parse(circles: list[dict], role: str = "all"):
    return parse_config(json.dumps(circles), PATH, role)


def test_workers_role_needs_no_server_fields_and_notes_the_ignored_ones() -> None:
    config = parse([{"name": "A", "public_key": KEY.public_key, "workers": 3},
                    {"name": "B", "public_key": KeyPair.generate().public_key, "port": 80,
                     "members": ["not even checked"], "store": "redis"}], "workers")
    assert [c.workers for c in config.circles] == [3, 1]
    assert config.circles[1].store == "redis"
    assert config.ignored == ("circle 'B': port, members ignored (a workers host runs no "
                              "server and no init script)",)
    assert config.circles[0].processes("workers") == ("worker-a-1", "worker-a-2", "worker-a-3")
    with pytest.raises(ConfigError, match="field 'port': is required"):
        parse([{"name": "A", "public_key": KEY.public_key}])


def test_public_key_is_validated_normalised_and_unique() -> None:
    not_on_curve = "04" + "00" * 64
    with pytest.raises(ConfigError, match="circle 'A': field 'public_key'"):
        parse([{"name": "A", "public_key": not_on_curve}], "workers")
    with pytest.raises(ConfigError, match="field 'public_key': must be a string"):
        parse([{"name": "A", "public_key": 5}], "workers")
    config = parse([{"name": "A", "public_key": "0x" + KEY.public_key.upper()}], "workers")
    assert config.circles[0].public_key == KEY.public_key
    with pytest.raises(ConfigError, match="circle 'B': field 'public_key': is the same as"):
        parse([{"name": "A", "public_key": KEY.public_key},
               {"name": "B", "public_key": KEY.public_key}], "workers")


def test_keys_by_role() -> None:
    workers = parse([{"name": "A", "public_key": KEY.public_key}, {"name": "B"}], "workers")
    other = KeyPair.generate()
    keys = worker_host_keys(workers, {"B": other})
    assert {n: (p.public_key, p.private_key) for n, p in keys.items()} == {
        "A": (KEY.public_key, ""), "B": (other.public_key, "")}
    with pytest.raises(ConfigError, match="circle 'B': field 'public_key': is required"):
        worker_host_keys(workers, {})
    full = parse([{"name": "A", "port": 8000, "public_key": KEY.public_key}])
    check_named_keys(full, {"A": KEY})
    with pytest.raises(ConfigError, match="not the key of this circle"):
        check_named_keys(full, {"A": other})
    with pytest.raises(ConfigError, match="--role workers"):
        check_named_keys(full, {})


def test_a_workers_tree_renders_only_workers(tmp_path: Path) -> None:
    config = parse([{"name": "A", "public_key": KEY.public_key, "workers": 2}], "workers")
    paths = StatePaths(tmp_path)
    settings = TreeSettings(python="/usr/bin/python3", redis_url="redis://10.0.0.5:6379/0",
                            role="workers")
    text = render_conf(config, {"A": KeyPair(KEY.public_key)}, paths, settings, "pw")
    assert "[program:worker-a]" in text and "numprocs=2" in text
    assert "wsserver" not in text and "[program:redis]" not in text
    assert "[group:a]\nprograms=worker-a\n" in text


def test_export_carries_public_values_only() -> None:
    config = parse([{"name": "A", "port": 8000, "workers": 2, "store": "redis",
                     "max_attempts": 3, "members": [KEY.public_key]},
                    {"name": "B", "port": 8001}])
    other = KeyPair.generate()
    exported = public_circles(config, {"A": KEY, "B": other})
    assert exported == [
        {"name": "A", "public_key": KEY.public_key, "workers": 2, "store": "redis",
         "max_attempts": 3},
        {"name": "B", "public_key": other.public_key, "workers": 1, "store": "sqlite"}]
    text = json.dumps(exported)
    assert KEY.private_key not in text and other.private_key not in text
    again = parse(exported, "workers")
    assert [c.public_key for c in again.circles] == [KEY.public_key, other.public_key]


def test_cluster_view_tells_this_tree_this_host_and_other_hosts() -> None:
    beats = {KEY.public_key: [
        {"pid": 30, "host": "vm2", "started_at": 100.0, "ts": 190.0},
        {"pid": 20, "host": "vm1", "started_at": 100.0, "ts": 195.0},
        {"pid": 10, "host": "vm1", "started_at": 90.0, "ts": 199.0}]}
    view = cluster.cluster_view({"A": KEY.public_key, "B": "02" + "11" * 32}, beats, "vm1",
                                {10})
    assert [(w.host, w.pid, w.this_host, w.this_tree) for w in view[0].workers] == [
        ("vm1", 10, True, True), ("vm1", 20, True, False), ("vm2", 30, False, False)]
    assert view[1].workers == ()
    table = cluster.format_cluster(view, now=200.0)
    lines = table.splitlines()
    assert "this tree" in lines[3] and "1 s ago" in lines[3]
    assert "this host, other tree" in lines[4] and "other host" in lines[5]
    assert lines[6].startswith("B ") and "no live worker" in lines[6]
    data = cluster.to_json(view)
    assert data[0]["workers"][2] == {"host": "vm2", "pid": 30, "started_at": 100.0,
                                     "last_beat": 190.0, "this_host": False,
                                     "this_tree": False}


def test_systemd_unit_for_a_worker_host() -> None:
    unit = render_unit(UnitOptions(python="/usr/bin/python3", config=PATH,
                                   state_dir=Path("/var/lib/circles"), user="circles",
                                   role="workers"))
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert start.endswith("--state-dir /var/lib/circles --role workers")
    assert "\nEnvironmentFile=/etc/circlesctl.env\n" in unit
    reload_line = next(line for line in unit.splitlines() if line.startswith("ExecReload="))
    assert "--role" not in reload_line
