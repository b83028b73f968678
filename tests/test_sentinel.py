"""Redis Sentinel with real processes: a master, a replica and three Sentinels (``redis-server
--sentinel``) on free ports of 127.0.0.1, a real worker and wsserver (and circlesctl) given the
``redis+sentinel://`` URL. Every wait is for an event, with a generous safety timeout."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import redis

from bench.common import Children, free_port
from bench.failover import SentinelCluster, play_through_failover, start_circle
from worker import redis_connect
from wsserver.client import play_script

WAIT = 120.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    children = Children(tmp_path)
    try:
        cluster = SentinelCluster(tmp_path, children, password="pw-" + secrets.token_hex(8))
        cluster.start()
        yield cluster
    finally:
        children.stop_all()


def logs_of(folder: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in folder.rglob("*.log"))


def test_plays_fail_fast_during_a_failover_and_work_again_after_it(
        tmp_path: Path, cluster: SentinelCluster) -> None:
    ws_url, private_key, _ = start_circle(tmp_path, cluster.children, cluster.url)
    killed: list[str] = []
    run = asyncio.run(play_through_failover(
        ws_url, private_key, lambda: killed.append(cluster.kill_master()), warmup=10, after=20,
        timeout=WAIT))
    assert len(killed) == 1 and cluster.master_name() != killed[0]  # the other was promoted
    before = run.before_kill
    assert len(before) >= 10 and all(p.outcome == "answered" for p in before)
    # after the kill: refused with -32603 "task queue unavailable: ..." until the new master is
    # up (never a hang until the play timeout, never a wrong answer), then answered again
    outcomes = {p.outcome for p in run.after_kill}
    assert outcomes <= {"refused", "answered"}, [p.detail for p in run.plays if p.outcome == "lost"]
    assert run.count("answered", run.after_kill) >= 20
    after_recovery = run.after_recovery
    assert after_recovery and all(p.outcome == "answered" for p in after_recovery), \
        [p.detail for p in after_recovery if p.outcome != "answered"]
    assert cluster.password not in logs_of(tmp_path)


def test_circlesctl_runs_circles_on_sentinel(tmp_path: Path, cluster: SentinelCluster) -> None:
    """circlesctl's preflight, readiness and init scripts, the worker and the server all resolve
    the master through the sentinels; the redis store writes to that master."""
    script = tmp_path / "init.rhai"
    script.write_text('db_set("boot", "done", true); "ok"')
    port = free_port()
    config = tmp_path / "circles.json"
    config.write_text(json.dumps([{"name": "Ha", "port": port, "script_path": "init.rhai",
                                   "store": "redis"}]))
    state = tmp_path / "st"
    env = dict(os.environ, CIRCLES_REDIS_URL=cluster.url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "circlesctl", args[0], str(config),
                               "--state-dir", str(state), *args[1:]],
                              capture_output=True, text=True, timeout=WAIT, env=env)

    started = cli("start", "--detach")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "| ok" in started.stdout  # the init script ran
        keys = json.loads((state / "keys.json").read_text())["Ha"]
        assert play_script(f"ws://127.0.0.1:{port}/ws", 'db_get("boot", "done")',
                           keys["private_key"], timeout=WAIT) == "true"
        master = redis_connect.sync_client(cluster.url, decode_responses=True)
        assert master.hget(f"circles_store:{keys['public_key']}:boot", "done") == "true"
        master.close()
        assert cluster.password not in logs_of(state) + started.stdout + started.stderr
    finally:
        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_circlesctl_refuses_a_sentinel_url_naming_no_known_master(
        tmp_path: Path, cluster: SentinelCluster) -> None:
    config = tmp_path / "circles.json"
    config.write_text(json.dumps([{"name": "X", "port": free_port()}]))
    url = cluster.url.replace("/circles", "/nosuchservice")
    result = subprocess.run([sys.executable, "-m", "circlesctl", "start", str(config),
                             "--state-dir", str(tmp_path / "st")],
                            capture_output=True, text=True, timeout=WAIT,
                            env=dict(os.environ, CIRCLES_REDIS_URL=url))
    assert result.returncode == 2
    assert "no master for service 'nosuchservice'" in result.stderr
    assert cluster.password not in result.stderr
    assert not (tmp_path / "st").exists()  # nothing half-started


def test_failover_benchmark_quick_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.failover", "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| outage: kill to first answered play |" in done.stdout
    assert "| plays lost (sent, never answered or refused) | 0.00 plays |" in done.stdout


def test_sentinels_with_a_password_of_their_own(tmp_path: Path) -> None:
    """``sentinel_password`` reaches the sentinels (sync and asyncio clients); without it the
    error says so, and neither password shows."""
    children = Children(tmp_path)
    try:
        cluster = SentinelCluster(tmp_path, children, password="pw-" + secrets.token_hex(8),
                                  sentinel_password="spw-" + secrets.token_hex(8))
        cluster.start()
        sync = redis_connect.sync_client(cluster.url, decode_responses=True)
        assert sync.set("k", "v") and sync.get("k") == "v"
        sync.close()

        async def read_back() -> str | None:
            client = redis_connect.async_client(cluster.url, decode_responses=True)
            try:
                return await client.get("k")
            finally:
                await client.aclose()

        assert asyncio.run(read_back()) == "v"
        without = redis_connect.sync_client(cluster.url.split("?")[0])
        with pytest.raises(redis.ConnectionError) as caught:
            without.ping()
        message = str(caught.value)
        assert message.startswith("no master for service 'circles'")
        assert cluster.password not in message and str(cluster.sentinel_password) not in message
    finally:
        children.stop_all()
