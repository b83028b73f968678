"""reload, restart and status --json on a real tree (supervisord, redis-server, workers)."""
from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import psutil

from circlesctl.keys import KeyPair
from test_e2e import Tree, free_port, make_tree, tree_folder  # noqa: F401  (fixture)
from wsserver.client import play_script


def pids(tree: Tree) -> dict[str, int]:
    """supervisorctl-style name -> pid of every process the tree runs."""
    return {f"{p.group}:{p.name}": p.pid for p in tree.supervisor().processes()}


def supervisorctl_status(tree: Tree) -> dict[str, tuple[str, int]]:
    """`supervisorctl status` as name -> (state, pid) (pid 0 when it shows none)."""
    ctl = subprocess.run(["supervisorctl", "-c", str(tree.state / "supervisord.conf"), "status"],
                         capture_output=True, text=True, timeout=60)
    found = {}
    for line in ctl.stdout.splitlines():
        name, state, *rest = line.split(None, 2)
        detail = rest[0] if rest else ""
        pid = int(detail.split(",")[0].split()[1]) if detail.startswith("pid ") else 0
        found[name] = (state, pid)
    return found


def status_json(tree: Tree) -> tuple[int, dict]:
    result = tree.cli("status", "--json")
    return result.returncode, json.loads(result.stdout)


def test_reload_adds_changes_and_removes_and_leaves_the_rest_alone(
        tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url, [{"name": "Leaving", "port": free_port()}])
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    before = pids(tree)
    leaving_key = tree.keys()["Leaving"]["public_key"]

    (tree_folder / "new.rhai").write_text('db_set("init", "ran", "yes"); print("new init");')
    newcomer = KeyPair.generate()
    circles = [c for c in tree.circles() if c["name"] != "Leaving"]
    circles[1]["members"] = [newcomer.public_key]  # Dunia Cybercity changes
    circles.append({"name": "Newcomer", "port": free_port(), "script_path": "new.rhai"})
    tree.config.write_text(json.dumps(circles))

    # Before the reload: status shows the running tree against the edited file.
    code, data = status_json(tree)
    assert code == 1  # Newcomer is configured but ABSENT
    states = {c["name"]: (c["state"], c["configured"]) for c in data["circles"]}
    assert states["Newcomer"] == ("ABSENT", True)
    assert states["Leaving"] == ("RUNNING", False)
    again = tree.cli("start", "--detach")
    assert again.returncode == 3, again.stdout + again.stderr
    assert "reload" in again.stderr and "'Newcomer'" in again.stderr
    assert pids(tree) == before  # start applied nothing

    reloaded = tree.cli("reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert "added: 'Newcomer'" in reloaded.stdout
    assert "changed: 'Dunia Cybercity'" in reloaded.stdout
    assert "removed: 'Leaving'" in reloaded.stdout

    after = pids(tree)
    for name in ("ourworld:worker-ourworld", "ourworld:ws-ourworld"):
        assert after[name] == before[name], f"{name} was restarted"
    for name in ("duniacybercity:worker-duniacybercity", "duniacybercity:ws-duniacybercity"):
        assert after[name] not in (0, before[name]), f"{name} was not restarted"
    assert not any(name.startswith("leaving:") for name in after)
    assert after["newcomer:worker-newcomer"] and after["newcomer:ws-newcomer"]

    # The change is live: the new member may now play on Dunia Cybercity.
    output = play_script(tree.url("Dunia Cybercity"), "print(CALLER_PUBLIC_KEY);",
                         private_key_hex=newcomer.private_key, timeout=30)
    assert newcomer.public_key in output
    # The new circle got a key, ran its init script, and shows it.
    keys = tree.keys()
    played = tree.cli("play", "Newcomer", "-", stdin='print(db_get("init", "ran"));')
    assert played.returncode == 0 and "yes" in played.stdout, played.stderr
    code, data = status_json(tree)
    assert code == 0, data
    newcomer_row = next(c for c in data["circles"] if c["name"] == "Newcomer")
    assert newcomer_row["init"] == "ok"
    assert newcomer_row["public_key"] == keys["Newcomer"]["public_key"]
    # The removed circle's identity and data are kept.
    assert keys["Leaving"]["public_key"] == leaving_key
    assert (tree.state / "data" / leaving_key).is_dir()
    assert not any(c["name"] == "Leaving" for c in data["circles"])

    unchanged = tree.cli("reload")
    assert unchanged.returncode == 0 and "No changes" in unchanged.stdout
    assert pids(tree) == after

    running = set(tree.tree_pids())
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(running)


def test_status_json_matches_supervisorctl_and_restart(tree_folder: Path,
                                                       redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr

    code, data = status_json(tree)
    assert code == 0 and data["ok"] is True
    ctl = supervisorctl_status(tree)
    assert {p["name"]: (p["state"], p["pid"]) for p in data["programs"]} == ctl
    keys = tree.keys()
    for circle in data["circles"]:
        assert circle["public_key"] == keys[circle["name"]]["public_key"]
        assert circle["url"] == tree.url(circle["name"])
        for program in circle["programs"]:
            assert ctl[program["name"]] == (program["state"], program["pid"])

    table = tree.cli("status")
    assert table.returncode == 0
    assert max(len(line) for line in table.stdout.splitlines()) <= 100
    wide = tree.cli("status", "--wide")
    assert keys["OurWorld"]["public_key"] in wide.stdout

    before = pids(tree)
    restarted = tree.cli("restart", "ws-ourworld")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = pids(tree)
    assert after["ourworld:ws-ourworld"] != before["ourworld:ws-ourworld"]
    assert {k: v for k, v in after.items() if k != "ourworld:ws-ourworld"} == {
        k: v for k, v in before.items() if k != "ourworld:ws-ourworld"}

    restarted = tree.cli("restart", "Dunia Cybercity")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    again = pids(tree)
    for name in ("duniacybercity:worker-duniacybercity", "duniacybercity:ws-duniacybercity"):
        assert again[name] != after[name]
    assert again["ourworld:ws-ourworld"] == after["ourworld:ws-ourworld"]
    played = tree.cli("play", "Dunia Cybercity", "-", stdin="print(40 + 2);")
    assert played.returncode == 0 and "42" in played.stdout, played.stderr

    unknown = tree.cli("restart", "Nowhere")
    assert unknown.returncode == 2 and "'Nowhere'" in unknown.stderr

    # A program that stops is reported, with exit 1, and status changes nothing.
    tree.supervisor().rpc.supervisor.stopProcess("ourworld:ws-ourworld", True)
    code, data = status_json(tree)
    assert code == 1 and data["ok"] is False
    ourworld = next(c for c in data["circles"] if c["name"] == "OurWorld")
    assert ourworld["state"] == "ws STOPPED"
    assert supervisorctl_status(tree)["ourworld:ws-ourworld"][0] == "STOPPED"

    running = set(tree.tree_pids())
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(running)


def test_reload_refuses_bad_changes_and_applies_tree_defaults(tree_folder: Path,
                                                              redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    not_running = tree.cli("reload")
    assert not_running.returncode == 1 and "not running" in not_running.stderr
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    before = pids(tree)
    good = tree.config.read_text()

    circles = json.loads(good)
    circles[0]["workers"] = 0
    tree.config.write_text(json.dumps(circles))
    bad = tree.cli("reload")
    assert bad.returncode == 2 and "'OurWorld'" in bad.stderr and "'workers'" in bad.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        circles = json.loads(good) + [{"name": "Blocked", "port": taken.getsockname()[1]}]
        tree.config.write_text(json.dumps(circles))
        blocked = tree.cli("reload")
    assert blocked.returncode == 2, blocked.stdout + blocked.stderr
    assert "'Blocked'" in blocked.stderr and "nothing was changed" in blocked.stderr
    assert pids(tree) == before
    assert "Blocked" not in tree.keys()

    # A circle that does not become ready is taken out again; the next reload adds it afresh.
    circles = json.loads(good) + [{"name": "Slow", "port": free_port()}]
    tree.config.write_text(json.dumps(circles))
    slow = tree.cli("reload", "--ready-timeout", "0.5")  # startsecs is 1 s: never ready in time
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "within 0.5 s" in slow.stderr and "slow" in slow.stderr
    assert "Traceback" not in slow.stderr
    assert pids(tree) == before
    code, data = status_json(tree)
    assert code == 1
    assert next(c for c in data["circles"] if c["name"] == "Slow")["state"] == "ABSENT"
    retried = tree.cli("reload")
    assert retried.returncode == 0 and "added: 'Slow'" in retried.stdout, retried.stderr
    assert {k: v for k, v in pids(tree).items() if not k.startswith("slow:")} == before

    tree.config.write_text(good)
    defaults = tree.cli("reload", "--max-attempts", "3")
    assert defaults.returncode == 0, defaults.stdout + defaults.stderr
    changed = next(l for l in defaults.stdout.splitlines() if l.startswith("Reloaded: changed"))
    assert "'OurWorld'" in changed and "'Dunia Cybercity'" in changed
    commands = {p.name: p for p in tree.supervisor().processes()}
    worker_pid = commands["worker-ourworld"].pid
    argv = psutil.Process(worker_pid).cmdline()
    assert argv[argv.index("--max-attempts") + 1] == "3"
    # The new default is kept: a later reload without the option changes nothing.
    again = tree.cli("reload")
    assert again.returncode == 0 and "No changes" in again.stdout

    running = set(tree.tree_pids())
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(running)
