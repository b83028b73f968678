"""The status view of a running tree (pure): ABSENT, unlisted circles, pools, 100 columns, JSON."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from circlesctl.cli import cli
from circlesctl.config import parse_config
from circlesctl.keys import KeyPair
from circlesctl.status import (TABLE_WIDTH, format_table, namespec, notes, short_key, to_json,
                               tree_view)
from circlesctl.supervisor import ProcessInfo

KEYS = {name: KeyPair.generate() for name in ("OurWorld", "Dunia Cybercity", "Old Circle")}


def config(tmp_path: Path, circles: list[dict]):
    return parse_config(json.dumps(circles), tmp_path / "circles.json")


def info(group: str, name: str, state: str = "RUNNING", pid: int = 100) -> ProcessInfo:
    return ProcessInfo(name, group, state, pid if state == "RUNNING" else 0,
                       f"pid {pid}" if state == "RUNNING" else "", "")


def two_circles(tmp_path: Path, workers: int = 1):
    return config(tmp_path, [{"name": "OurWorld", "port": 8090},
                             {"name": "Dunia Cybercity", "port": 8091, "workers": workers}])


def test_running_tree_is_ok_and_fits_100_columns(tmp_path: Path) -> None:
    cfg = two_circles(tmp_path)
    infos = [info("redis", "redis"), info("ourworld", "worker-ourworld"),
             info("ourworld", "ws-ourworld"), info("duniacybercity", "worker-duniacybercity"),
             info("duniacybercity", "ws-duniacybercity")]
    view = tree_view(cfg, KEYS, infos, {"OurWorld": "ok",
                                        "Dunia Cybercity": "Syntax error: " + "x" * 200})
    assert view.ok
    table = format_table(view)
    assert max(len(line) for line in table.splitlines()) <= TABLE_WIDTH
    pk = KEYS["OurWorld"].public_key
    assert pk not in table and short_key(pk) in table
    wide = format_table(view, wide=True)
    assert pk in wide and f"rhai_tasks:{pk}" in wide
    rows = [line.split("|") for line in table.splitlines()[2:]]
    assert [r[0].strip()[:5] for r in rows] == ["OurWo", "Dunia"]
    assert {r[5].strip() for r in rows} == {"RUNNING"}
    assert rows[1][6].strip().startswith("Syntax") and rows[1][6].strip().endswith("…")


def test_configured_but_not_running_is_absent_and_not_ok(tmp_path: Path) -> None:
    cfg = two_circles(tmp_path)
    infos = [info("ourworld", "worker-ourworld"), info("ourworld", "ws-ourworld", "BACKOFF")]
    view = tree_view(cfg, KEYS, infos, {})
    assert not view.ok
    states = {c.name: c.state for c in view.circles}
    assert states == {"OurWorld": "ws BACKOFF", "Dunia Cybercity": "ABSENT"}


def test_running_but_removed_from_config_is_listed_and_does_not_fail(tmp_path: Path) -> None:
    cfg = config(tmp_path, [{"name": "OurWorld", "port": 8090}])
    infos = [info("ourworld", "worker-ourworld"), info("ourworld", "ws-ourworld"),
             info("oldcircle", "worker-oldcircle"), info("oldcircle", "ws-oldcircle")]
    view = tree_view(cfg, KEYS, infos, {})
    assert view.ok
    unlisted = view.unlisted
    assert [(c.name, c.state, c.configured) for c in unlisted] == [("Old Circle", "RUNNING",
                                                                     False)]
    assert unlisted[0].public_key == KEYS["Old Circle"].public_key
    assert "Old Circle" in format_table(view)
    assert any("'Old Circle'" in line and "reload" in line for line in notes(view, "c.json"))


def test_pool_shows_each_worker(tmp_path: Path) -> None:
    cfg = two_circles(tmp_path, workers=3)
    infos = [info("ourworld", "worker-ourworld"), info("ourworld", "ws-ourworld"),
             info("duniacybercity", "worker-duniacybercity-1", pid=1),
             info("duniacybercity", "worker-duniacybercity-2", "BACKOFF"),
             info("duniacybercity", "worker-duniacybercity-3", pid=3),
             info("duniacybercity", "ws-duniacybercity", pid=4)]
    view = tree_view(cfg, KEYS, infos, {})
    pool = view.circles[1]
    assert (pool.workers, pool.running_workers, pool.state) == (3, 2, "worker-2 BACKOFF")
    assert "2/3" in format_table(view)
    assert not view.ok
    starting = [info("duniacybercity", f"worker-duniacybercity-{n}", "STARTING")
                for n in (1, 2, 3)] + [info("duniacybercity", "ws-duniacybercity")]
    assert tree_view(cfg, KEYS, starting, {}).circles[1].state == "workers STARTING"


def test_json_names_processes_as_supervisorctl(tmp_path: Path) -> None:
    cfg = two_circles(tmp_path)
    infos = [info("redis", "redis", pid=7), info("ourworld", "worker-ourworld", pid=8)]
    data = to_json(tree_view(cfg, KEYS, infos, {}), "/state", "/c.json")
    json.dumps(data)
    assert [p["name"] for p in data["programs"]] == ["redis", "ourworld:worker-ourworld"]
    assert data["programs"][1]["pid"] == 8
    ourworld = data["circles"][0]
    assert ourworld["public_key"] == KEYS["OurWorld"].public_key
    assert [(p["name"], p["state"]) for p in ourworld["programs"]] == [
        ("ourworld:worker-ourworld", "RUNNING"), ("ourworld:ws-ourworld", "ABSENT")]
    assert data["ok"] is False


def test_embedded_redis_down_is_not_ok(tmp_path: Path) -> None:
    cfg = config(tmp_path, [{"name": "OurWorld", "port": 8090}])
    infos = [info("redis", "redis", "FATAL"), info("ourworld", "worker-ourworld"),
             info("ourworld", "ws-ourworld")]
    view = tree_view(cfg, KEYS, infos, {})
    assert not view.ok
    assert any("Redis is FATAL" in line for line in notes(view, "c.json"))


def test_namespec_and_short_key() -> None:
    assert namespec("redis", "redis") == "redis"
    assert namespec("ourworld", "ws-ourworld") == "ourworld:ws-ourworld"
    assert short_key("rhai_tasks:02" + "ab" * 32) == "rhai_tasks:02abab…"
    assert short_key("-") == "-"


def test_status_json_when_not_running(tmp_path: Path) -> None:
    path = tmp_path / "circles.json"
    path.write_text(json.dumps([{"name": "OurWorld", "port": 8090}]))
    result = CliRunner().invoke(cli, ["status", str(path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["running"] is False and data["state_dir"] == str(tmp_path / ".circles")
    assert not (tmp_path / ".circles").exists()
