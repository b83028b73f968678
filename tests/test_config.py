"""Bad circles.json files: exit 2, a message naming file, circle and field, nothing created."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from circlesctl.cli import cli
from circlesctl.config import (ConfigError, load_config, parse_config, slugify,
                               with_worker_defaults)

MEMBER = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
UNCOMPRESSED = ("04" "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write(folder: Path, data: object, name: str = "circles.json") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def start(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["start", "--detach", str(path)])
    return result.exit_code, result.output


def assert_rejected(tmp_path: Path, data: object, *expected: str) -> str:
    """Start with ``data`` as config: exit 2, message names everything expected, no state dir."""
    path = write(tmp_path, data)
    code, output = start(path)
    assert code == 2, output
    assert str(path) in output
    for text in expected:
        assert text in output, output
    assert "Traceback" not in output
    assert not (tmp_path / ".circles").exists()
    return output


def test_valid_config_parses_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "init.rhai").write_text("print(1);")
    path = write(tmp_path, [{"name": "Dunia Cybercity", "port": 8091, "script_path": "init.rhai",
                             "members": [UNCOMPRESSED]}])
    config = load_config(path)
    circle = config.circles[0]
    assert (circle.name, circle.port, circle.host, circle.auth) == ("Dunia Cybercity", 8091,
                                                                   "127.0.0.1", True)
    assert circle.slug == "duniacybercity"
    assert circle.worker_program == "worker-duniacybercity"
    assert circle.script_path == (tmp_path / "init.rhai").resolve()
    assert circle.members == (MEMBER,)


def test_shipped_config_is_valid(project_root: Path) -> None:
    config = load_config(project_root / "circles.json")
    assert len(config.circles) >= 2
    assert all(c.script_path is not None and c.script_path.is_file() for c in config.circles)


def test_slugify() -> None:
    assert slugify("Dunia Cybercity") == "duniacybercity"
    assert slugify("Our-World 2") == "ourworld2"
    assert slugify("Café") == "cafe"


def test_missing_file(tmp_path: Path) -> None:
    code, output = start(tmp_path / "nope.json")
    assert code == 2
    assert str(tmp_path / "nope.json") in output and "no such file" in output
    assert not (tmp_path / ".circles").exists()


def test_default_config_is_circles_json_in_cwd(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["start", "--detach"])
    assert result.exit_code == 2
    assert str(tmp_path / "circles.json") in result.output


def test_unreadable_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.json"
    folder.mkdir()
    code, output = start(folder)
    assert code == 2 and str(folder) in output and "folder" in output


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    text = '[\n  {"name": "A", "port": 8090},\n  {"name": "B" "port": 8091}\n]\n'
    output = assert_rejected(tmp_path, text, "line 3", "column 16")
    assert "invalid JSON" in output


def test_not_a_list(tmp_path: Path) -> None:
    assert_rejected(tmp_path, {"name": "A", "port": 1}, "must be a JSON list")


def test_empty_list(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [], "no circles")


def test_circle_not_an_object(tmp_path: Path) -> None:
    assert_rejected(tmp_path, ["OurWorld"], "circle #1", "must be an object")


@pytest.mark.parametrize("circle, field, text", [
    ({"port": 8090}, "name", "is required"),
    ({"name": "", "port": 8090}, "name", "non-empty string"),
    ({"name": 5, "port": 8090}, "name", "non-empty string"),
    ({"name": "!!!", "port": 8090}, "name", "letter or digit"),
    ({"name": "A\nB", "port": 8090}, "name", "control characters"),
    ({"name": "Redis", "port": 8090}, "name", "reserved"),
    ({"name": "A"}, "port", "is required"),
    ({"name": "A", "port": "8090"}, "port", "must be an integer"),
    ({"name": "A", "port": True}, "port", "must be an integer, got boolean"),
    ({"name": "A", "port": 80.5}, "port", "must be an integer"),
    ({"name": "A", "port": 0}, "port", "between 1 and 65535"),
    ({"name": "A", "port": 70000}, "port", "between 1 and 65535"),
    ({"name": "A", "port": 8090, "host": 5}, "host", "host name or IP"),
    ({"name": "A", "port": 8090, "host": "a b"}, "host", "host name or IP"),
    ({"name": "A", "port": 8090, "auth": "yes"}, "auth", "true or false"),
    ({"name": "A", "port": 8090, "members": "02ab"}, "members", "list of public keys or addresses"),
    ({"name": "A", "port": 8090, "members": [5]}, "members", "must be a string"),
    ({"name": "A", "port": 8090, "members": ["zz"]}, "members", "not hex"),
    ({"name": "A", "port": 8090, "members": ["02" + "ff" * 32]}, "members", "not a point"),
    ({"name": "A", "port": 8090, "script_path": 3}, "script_path", "non-empty string"),
    ({"name": "A", "port": 8090, "colour": "red"}, "colour", "unknown field"),
    ({"name": "A", "port": 8090, "workers": 0}, "workers", "between 1 and 64"),
    ({"name": "A", "port": 8090, "workers": 65}, "workers", "between 1 and 64"),
    ({"name": "A", "port": 8090, "workers": "2"}, "workers", "whole number, got string"),
    ({"name": "A", "port": 8090, "workers": 2.0}, "workers", "whole number, got number"),
    ({"name": "A", "port": 8090, "workers": True}, "workers", "whole number, got boolean"),
    ({"name": "A", "port": 8090, "max_memory_mb": -1}, "max_memory_mb", "at least 0"),
    ({"name": "A", "port": 8090, "max_memory_mb": 64}, "max_memory_mb", "0 (no limit) or at"),
    ({"name": "A", "port": 8090, "max_memory_mb": "512"}, "max_memory_mb", "whole number"),
    ({"name": "A", "port": 8090, "max_attempts": 0}, "max_attempts", "at least 1"),
    ({"name": "A", "port": 8090, "max_attempts": None}, "max_attempts", "whole number, got null"),
    ({"name": "A", "port": 8090, "script_timeout": -1}, "script_timeout", "0 (no limit) or more"),
    ({"name": "A", "port": 8090, "script_timeout": "10"}, "script_timeout", "number of seconds"),
    ({"name": "A", "port": 8090, "script_timeout": True}, "script_timeout", "number of seconds"),
    ({"name": "A", "port": 8090, "max_operations": -5}, "max_operations", "at least 0"),
    ({"name": "A", "port": 8090, "max_operations": 1.5}, "max_operations", "whole number"),
])
def test_bad_field(tmp_path: Path, circle: dict, field: str, text: str) -> None:
    output = assert_rejected(tmp_path, [circle], f"field '{field}'", text)
    assert "circle " in output


def test_pool_and_limit_fields(tmp_path: Path) -> None:
    config = parse_config(json.dumps([
        {"name": "Solo", "port": 8090},
        {"name": "Pool", "port": 8091, "workers": 3, "max_memory_mb": 0, "max_attempts": 1,
         "script_timeout": 30, "max_operations": 0},
    ]), tmp_path / "circles.json")
    solo, pool = config.circles
    assert (solo.workers, solo.max_memory_mb, solo.max_attempts) == (1, None, None)
    assert (solo.script_timeout, solo.max_operations) == (None, None)
    assert (pool.script_timeout, pool.max_operations) == (30.0, 0)
    assert solo.worker_processes == ("worker-solo",)
    assert (pool.workers, pool.max_memory_mb, pool.max_attempts) == (3, 0, 1)
    assert pool.worker_processes == ("worker-pool-1", "worker-pool-2", "worker-pool-3")
    assert config.find("worker-pool-2") is pool and config.find("worker-pool") is pool


def test_tree_defaults_fill_only_unset_limits(tmp_path: Path) -> None:
    config = parse_config(json.dumps([
        {"name": "Own", "port": 8090, "max_memory_mb": 200, "max_attempts": 3},
        {"name": "Default", "port": 8091},
    ]), tmp_path / "circles.json")
    own, default = with_worker_defaults(config, 256, 1).circles
    assert (own.max_memory_mb, own.max_attempts) == (200, 3)
    assert (default.max_memory_mb, default.max_attempts) == (256, 1)
    unchanged = with_worker_defaults(config, None, None).circles[1]
    assert (unchanged.max_memory_mb, unchanged.max_attempts) == (None, None)


def test_modules_folder_is_resolved_from_the_config_folder(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub" / "lib").mkdir(parents=True)
    path = write(tmp_path / "sub", [{"name": "A", "port": 1, "modules": "lib"},
                                    {"name": "B", "port": 2}])
    monkeypatch.chdir(tmp_path)
    with_modules, without = load_config(path).circles
    assert with_modules.modules == (tmp_path / "sub" / "lib").resolve()
    assert without.modules is None
    workers_host = load_config(path, role="workers").circles[0]
    assert workers_host.modules == (tmp_path / "sub" / "lib").resolve()


@pytest.mark.parametrize("value, text", [("gone", "does not exist"),
                                         ("file.txt", "is not a folder"),
                                         ("", "must be a non-empty string"),
                                         (["lib"], "must be a non-empty string")])
def test_bad_modules_folder(tmp_path: Path, value: object, text: str) -> None:
    (tmp_path / "file.txt").write_text("")
    assert_rejected(tmp_path, [{"name": "A", "port": free_port(), "modules": value}],
                    "circle 'A'", "field 'modules'", text)


def test_wrong_circle_is_named(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [{"name": "Good", "port": 8090}, {"name": "Bad", "port": "x"}],
                    "circle 'Bad'", "field 'port'")


def test_duplicate_name(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [{"name": "A", "port": 8090}, {"name": "A", "port": 8091}],
                    "circle 'A'", "field 'name'", "duplicate")


def test_duplicate_port(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [{"name": "A", "port": 8090}, {"name": "B", "port": 8090}],
                    "circle 'B'", "field 'port'", "already used by circle 'A'")


def test_names_with_same_program_name(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [{"name": "Our World", "port": 8090},
                               {"name": "our-world", "port": 8091}],
                    "circle 'our-world'", "field 'name'", "'ourworld'")


def test_missing_script(tmp_path: Path) -> None:
    assert_rejected(tmp_path, [{"name": "A", "port": free_port(), "script_path": "gone.rhai"}],
                    "circle 'A'", "field 'script_path'", "gone.rhai", "does not exist")


def test_script_path_relative_to_config_folder(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "init.rhai").write_text("print(1);")
    path = write(tmp_path / "sub", [{"name": "A", "port": 1, "script_path": "init.rhai"}])
    monkeypatch.chdir(tmp_path)
    assert load_config(path).circles[0].script_path == (tmp_path / "sub" / "init.rhai").resolve()


def test_port_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_rejected(tmp_path, [{"name": "Taken", "port": port}],
                        "circle 'Taken'", "field 'port'", f"127.0.0.1:{port}")


def test_unreachable_redis_url(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "A", "port": free_port()}])
    result = CliRunner().invoke(cli, ["start", "--detach", str(path), "--redis-url",
                                      f"unix://{tmp_path}/no-redis.sock"])
    assert result.exit_code == 2
    assert "Redis not reachable" in result.output and "--redis-url" in result.output
    assert not (tmp_path / ".circles").exists()


def test_config_error_from_pure_parser_has_parts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[{"name": "A", "port": -1}]', tmp_path / "c.json")
    error = info.value
    assert (error.file, error.circle, error.field) == (str(tmp_path / "c.json"), "'A'", "port")
