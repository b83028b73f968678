"""Worker pools on a real tree: "workers": N runs N competing workers for one circle."""
from __future__ import annotations

import json
from pathlib import Path

from test_e2e import WAIT, free_port, make_tree, tree_folder, wait_until  # noqa: F401  (fixture)
from worker import protocol
from worker.store import Store

LONG = ('db_set("started", "long", true); while db_get("gate", "long") == () { } "long"')
"""Records that it started, then runs until the test opens its gate (no guessing of times)."""


def test_pool_answers_a_small_play_while_a_long_script_runs(tree_folder: Path,
                                                            redis_url: str) -> None:
    # no time or operation limit: the long script runs until the test opens its gate, however
    # slowly a busy machine gets there
    tree = make_tree(tree_folder, redis_url, [{"name": "Pool", "port": free_port(),
                                               "workers": 2, "script_timeout": 0,
                                               "max_operations": 0}])
    started = tree.cli("start", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "ready: worker-pool-1" in started.stdout and "ready: worker-pool-2" in started.stdout

    ctl_names = {f"{p.group}:{p.name}" for p in tree.supervisor().processes()}
    assert {"pool:worker-pool-1", "pool:worker-pool-2", "pool:ws-pool"} <= ctl_names
    status = json.loads(tree.cli("status", "--json").stdout)
    pool = next(c for c in status["circles"] if c["name"] == "Pool")
    assert (pool["workers"], pool["running_workers"], pool["state"]) == (2, 2, "RUNNING")
    assert [p["name"] for p in pool["programs"]] == [
        "pool:worker-pool-1", "pool:worker-pool-2", "pool:ws-pool"]

    pk = tree.keys()["Pool"]["public_key"]
    client = tree.redis_client()
    store = Store(tree.state / "data" / pk)
    long_task = protocol.submit(client, pk, LONG, pk)
    wait_until(lambda: store.get("started", "long") is not None, "the long script to start")

    # The long script's gate is shut, so it still runs while the other worker answers these.
    small = tree.cli("play", "Pool", "-", stdin='print("small");')
    assert small.returncode == 0 and small.stdout.strip() == "small", small.stderr
    assert client.hget(protocol.details_key(long_task), "status") != "completed"
    gate = tree.cli("play", "Pool", "-", stdin='db_set("gate", "long", true); print("open");')
    assert gate.returncode == 0, gate.stderr
    result = protocol.await_result(client, long_task, WAIT)
    assert result.ok and result.output == "long", result

    logs = tree.cli("logs", "Pool", "-n", "5")
    assert logs.returncode == 0
    assert "worker-pool-1.log" in logs.stdout and "worker-pool-2.log" in logs.stdout

    running = set(tree.tree_pids())
    store.close()
    client.close()
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(running)
