"""keys.json: generated once, reused, replaced by --new-keys, private (0600), consistent."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import coincurve
import pytest

from circlesctl.keys import KeyFileError, KeyPair, ensure_keys, read_keys


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generates_compressed_keys_matching_private_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    pairs = ensure_keys(path, ["OurWorld", "Dunia Cybercity"])
    stored = json.loads(path.read_text())
    assert set(stored) == {"OurWorld", "Dunia Cybercity"}
    for name, entry in stored.items():
        public = entry["public_key"]
        assert len(public) == 66 and public[:2] in ("02", "03")
        derived = coincurve.PrivateKey(bytes.fromhex(entry["private_key"])).public_key
        assert derived.format(compressed=True).hex() == public
        assert pairs[name].public_key == public
    assert pairs["OurWorld"].public_key != pairs["Dunia Cybercity"].public_key


def test_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ensure_keys(path, ["A"])
    assert mode(path) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != "keys.json"]  # no temp file left


def test_reused_on_next_start_and_new_circles_added(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = ensure_keys(path, ["A"])
    second = ensure_keys(path, ["A", "B"])
    assert second["A"].public_key == first["A"].public_key
    assert second["A"].private_key == first["A"].private_key
    assert "B" in read_keys(path)


def test_new_keys_replaces_pairs(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = ensure_keys(path, ["A"])
    fresh = ensure_keys(path, ["A"], new_keys=True)
    assert fresh["A"].public_key != first["A"].public_key
    assert read_keys(path)["A"].public_key == fresh["A"].public_key
    assert mode(path) == 0o600


def test_private_key_not_in_repr(tmp_path: Path) -> None:
    pair = KeyPair.generate()
    assert pair.private_key not in repr(pair)


def test_tampered_public_key_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ensure_keys(path, ["A"])
    data = json.loads(path.read_text())
    data["A"]["public_key"] = KeyPair.generate().public_key
    path.write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match=r"circle 'A': field 'public_key' does not match"):
        read_keys(path)


def test_corrupt_file_is_reported_with_position(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{\n  oops\n}")
    with pytest.raises(KeyFileError, match=r"keys.json: invalid JSON at line 2, column 3"):
        read_keys(path)


def test_from_private_hex_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        KeyPair.from_private_hex("abcd")
    with pytest.raises(ValueError, match="not a valid"):
        KeyPair.from_private_hex("00" * 32)


def test_backup_is_a_private_copy_and_never_overwritten(tmp_path: Path) -> None:
    from circlesctl.keys import backup_keys

    path = tmp_path / "keys.json"
    assert backup_keys(path) is None
    ensure_keys(path, ["A"])
    first = backup_keys(path, now=0)
    second = backup_keys(path, now=0)  # same second: a second copy, not an overwrite
    assert first is not None and second is not None and first != second
    for backup in (first, second):
        assert backup.parent == tmp_path and backup.name.startswith("keys.json.19700101T000000Z")
        assert backup.read_bytes() == path.read_bytes()
        assert mode(backup) == 0o600
