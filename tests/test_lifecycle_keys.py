"""--new-keys discards identities: it saves the old keys.json (0600) and asks first."""
from __future__ import annotations

import os
import pty
import stat
import subprocess
from pathlib import Path

from test_e2e import CLI, WAIT, make_tree, tree_folder  # noqa: F401  (tree_folder is a fixture)


def backups(state: Path) -> list[Path]:
    return sorted(state.glob("keys.json.*.bak"))


def test_new_keys_asks_refuses_without_terminal_and_saves_the_old_keys(
        tree_folder: Path, redis_url: str) -> None:
    tree = make_tree(tree_folder, redis_url)
    first = tree.cli("start", "--detach")
    assert first.returncode == 0, first.stdout + first.stderr
    assert tree.cli("stop").returncode == 0
    old = (tree.state / "keys.json").read_bytes()

    refused = tree.cli("start", "--detach", "--new-keys")  # stdin is not a terminal
    assert refused.returncode == 2
    assert "--yes" in refused.stderr and "Not on a terminal" in refused.stderr
    assert (tree.state / "keys.json").read_bytes() == old and backups(tree.state) == []
    assert not (tree.state / "run" / "supervisor.sock").exists()

    # On a terminal it asks; "n" keeps everything as it was.
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(CLI + ["start", "--detach", "--new-keys", str(tree.config),
                                       "--state-dir", str(tree.state), "--redis-url", redis_url],
                                stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        prompt = b""
        while b"[y/N]" not in prompt:
            chunk = os.read(proc.stdout.fileno(), 4096)  # type: ignore[union-attr]
            assert chunk, prompt
            prompt += chunk
        assert b"replaces the keys of 2 circle(s)" in prompt
        os.write(controller, b"n\n")
        out, err = proc.communicate(timeout=WAIT)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2, out + err
    assert b"Keys not replaced" in err
    assert (tree.state / "keys.json").read_bytes() == old and backups(tree.state) == []

    replaced = tree.cli("start", "--detach", "--new-keys", "--yes")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    [backup] = backups(tree.state)
    assert f"Saved the previous keys in {backup}" in replaced.stdout
    assert backup.read_bytes() == old
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    new = tree.keys()
    assert new["OurWorld"]["public_key"] not in old.decode()
    played = tree.cli("play", "OurWorld", "-", stdin="print(CIRCLE_PUBLIC_KEY);")
    assert played.returncode == 0 and new["OurWorld"]["public_key"] in played.stdout
    pids = tree.tree_pids()
    assert tree.cli("stop").returncode == 0
    tree.assert_nothing_left(pids)
