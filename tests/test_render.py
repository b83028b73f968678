"""The rendered supervisord.conf: parses, has every program/group/option, escapes names."""
from __future__ import annotations

import configparser
import shlex
import stat
import sys
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from circlesctl.config import parse_config
from circlesctl.keys import KeyPair
from circlesctl.orchestrate import write_private
from circlesctl.paths import StatePaths
from circlesctl.redis_embed import embedded_url, redis_argv
from circlesctl.render import build_context, check_renderable, ini_command, render

MEMBER = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
CONFIG = f"""[
  {{"name": "OurWorld", "port": 8090}},
  {{"name": "Dunia Cybercity", "port": 8091, "host": "::1", "auth": false,
    "members": ["{MEMBER}"], "origins": ["https://App.Example.org:443/"]}}
]"""


def rendered(tmp_path: Path, text: str = CONFIG, embedded: bool = True,
             url: str | None = None, debug: bool = False) -> tuple[str, StatePaths, dict]:
    config = parse_config(text, tmp_path / "circles.json")
    keys = {c.name: KeyPair.generate() for c in config.circles}
    paths = StatePaths(tmp_path / "state")
    redis_url = url or embedded_url(paths)
    context = build_context(config.circles, keys, paths, redis_url, [sys.executable], "circles",
                            "s3cret", redis_argv=redis_argv(paths, "/bin/redis-server")
                            if embedded else None, debug=debug)
    return render(context), paths, keys


def ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=True)
    parser.read_string(text)
    return parser


def supervisor_view(text: str, paths: StatePaths, tmp_path: Path) -> ServerOptions:
    """Parse the config exactly as supervisord does."""
    paths.create()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    options = ServerOptions()
    options.configfile = str(conf)
    options.process_config(do_usage=False)
    return options


def test_sections_and_options(tmp_path: Path) -> None:
    text, paths, keys = rendered(tmp_path)
    parser = ini(text)
    assert set(parser.sections()) == {
        "unix_http_server", "supervisord", "rpcinterface:supervisor", "supervisorctl",
        "program:redis", "program:worker-ourworld", "program:ws-ourworld",
        "program:worker-duniacybercity", "program:ws-duniacybercity",
        "group:ourworld", "group:duniacybercity"}
    assert parser.get("unix_http_server", "file") == str(paths.supervisor_socket)
    assert parser.get("unix_http_server", "chmod") == "0700"
    assert parser.get("supervisorctl", "serverurl") == f"unix://{paths.supervisor_socket}"
    assert parser.get("supervisorctl", "password") == parser.get("unix_http_server", "password")
    assert parser.get("supervisord", "pidfile") == str(paths.supervisor_pidfile)
    assert parser.get("group:ourworld", "programs") == "worker-ourworld,ws-ourworld"
    for name in ("worker-ourworld", "ws-duniacybercity"):
        section = f"program:{name}"
        for option, value in [("autorestart", "true"), ("stopasgroup", "true"),
                              ("killasgroup", "true"), ("stopsignal", "TERM"),
                              ("redirect_stderr", "true")]:
            assert parser.get(section, option) == value
        assert parser.get(section, "stdout_logfile") == str(paths.program_log(name))
        assert parser.has_option(section, "stdout_logfile_maxbytes")
        assert parser.has_option(section, "stdout_logfile_backups")
        assert parser.has_option(section, "stopwaitsecs")
        assert "CIRCLES_REDIS_URL=" in parser.get(section, "environment")
    assert int(parser.get("program:redis", "priority")) < int(
        parser.get("program:worker-ourworld", "priority"))


def test_commands_as_supervisord_reads_them(tmp_path: Path) -> None:
    text, paths, keys = rendered(tmp_path, debug=True)
    options = supervisor_view(text, paths, tmp_path)
    programs = {p.name: p for g in options.process_group_configs for p in g.process_configs}
    worker = shlex.split(programs["worker-ourworld"].command)
    pk = keys["OurWorld"].public_key
    assert worker == [sys.executable, "-m", "worker", "--name", "OurWorld", "--public-key", pk,
                      "--data-dir", str(paths.circle_data(pk)), "--debug"]
    ws = shlex.split(programs["ws-duniacybercity"].command)
    assert ws[:4] == [sys.executable, "-m", "wsserver", "--name"]
    assert ws[4] == "Dunia Cybercity"
    assert ["--host", "::1", "--port", "8091"] == ws[7:11]
    assert ["--member", MEMBER] == ws[11:13]
    assert ["--origin", "https://app.example.org"] == ws[13:15]
    assert "--no-auth" in ws and "--no-auth" not in shlex.split(programs["ws-ourworld"].command)
    assert programs["ws-ourworld"].environment["CIRCLES_REDIS_URL"] == embedded_url(paths)
    for program in programs.values():  # lets circlesctl find programs a killed supervisord left
        assert program.environment["CIRCLES_TREE"] == str(paths.root)
    redis_cmd = shlex.split(programs["redis"].command)
    assert redis_cmd[redis_cmd.index("--port") + 1] == "0"
    assert redis_cmd[redis_cmd.index("--unixsocketperm") + 1] == "700"
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert redis_cmd[redis_cmd.index("--dir") + 1] == str(paths.redis_dir)


def test_secrets_not_in_command_lines(tmp_path: Path) -> None:
    url = "redis://:topsecret@db.example:6379/0"
    text, paths, keys = rendered(tmp_path, embedded=False, url=url)
    options = supervisor_view(text, paths, tmp_path)
    programs = [p for g in options.process_group_configs for p in g.process_configs]
    assert {p.name for p in programs} == {"worker-ourworld", "ws-ourworld",
                                          "worker-duniacybercity", "ws-duniacybercity"}
    for program in programs:
        assert "topsecret" not in program.command
        assert program.environment["CIRCLES_REDIS_URL"] == url
        for pair in keys.values():
            assert pair.private_key not in program.command


@pytest.mark.parametrize("name", ['Dunia "Cyber" 100%', "Bob's ;place #1", "Tab\u00e9 $HOME `x`"])
def test_special_characters_in_names_survive(tmp_path: Path, name: str) -> None:
    import json
    text, paths, _ = rendered(tmp_path, json.dumps([{"name": name, "port": 8090}]))
    options = supervisor_view(text, paths, tmp_path)
    for group in options.process_group_configs:
        for program in group.process_configs:
            if program.name != "redis":
                argv = shlex.split(program.command)
                assert argv[argv.index("--name") + 1] == name


def test_percent_in_redis_url_survives(tmp_path: Path) -> None:
    url = "redis://:p%40ss@127.0.0.1:6379/0"
    text, paths, _ = rendered(tmp_path, embedded=False, url=url)
    options = supervisor_view(text, paths, tmp_path)
    program = options.process_group_configs[0].process_configs[0]
    assert program.environment["CIRCLES_REDIS_URL"] == url


def test_unrenderable_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state folder"):
        check_renderable(StatePaths(tmp_path / "100%"), None)
    with pytest.raises(ValueError, match="quote"):
        check_renderable(StatePaths(tmp_path), 'redis://x"y')


def test_ini_command_quotes_comment_characters() -> None:
    line = ini_command(["a b", "x ;y", "50%"])
    assert " ;" not in line and " #" not in line
    assert shlex.split(line.replace("%%", "%")) == ["a b", "x ;y", "50%"]


def test_written_config_is_private(tmp_path: Path) -> None:
    text, paths, _ = rendered(tmp_path)
    target = tmp_path / "supervisord.conf"
    write_private(target, text)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == text


def test_worker_pool_renders_numprocs_and_a_name_per_process(tmp_path: Path) -> None:
    import json
    text, paths, keys = rendered(tmp_path, json.dumps([
        {"name": "Pool", "port": 8090, "workers": 3}, {"name": "Solo", "port": 8091}]))
    options = supervisor_view(text, paths, tmp_path)
    groups = {g.name: g for g in options.process_group_configs}
    pool = [p for p in groups["pool"].process_configs]
    assert [p.name for p in pool] == ["worker-pool-1", "worker-pool-2", "worker-pool-3", "ws-pool"]
    assert [p.stdout_logfile for p in pool[:3]] == [
        str(paths.program_log(f"worker-pool-{n}")) for n in (1, 2, 3)]
    assert len({p.command for p in pool[:3]}) == 1  # identical workers compete for one queue
    assert [p.name for p in groups["solo"].process_configs] == ["worker-solo", "ws-solo"]


def test_worker_limits_render_as_worker_flags_only_when_set(tmp_path: Path) -> None:
    import json
    text, paths, keys = rendered(tmp_path, json.dumps([
        {"name": "Set", "port": 8090, "max_memory_mb": 0, "max_attempts": 1,
         "script_timeout": 2.5, "max_operations": 0},
        {"name": "Unset", "port": 8091}]))
    options = supervisor_view(text, paths, tmp_path)
    programs = {p.name: p for g in options.process_group_configs for p in g.process_configs}
    argv = shlex.split(programs["worker-set"].command)
    assert argv[argv.index("--max-memory-mb") + 1] == "0"
    assert argv[argv.index("--max-attempts") + 1] == "1"
    assert argv[argv.index("--script-timeout") + 1] == "2.5"
    assert argv[argv.index("--max-operations") + 1] == "0"
    unset = shlex.split(programs["worker-unset"].command)
    assert not {"--max-memory-mb", "--max-attempts", "--script-timeout",
                "--max-operations"} & set(unset)


def test_modules_folder_renders_as_the_workers_modules_dir(tmp_path: Path) -> None:
    import json
    text, paths, keys = rendered(tmp_path, json.dumps([
        {"name": "Mods", "port": 8090, "modules": "my modules; #1"},
        {"name": "Plain", "port": 8091}]))
    options = supervisor_view(text, paths, tmp_path)
    programs = {p.name: p for g in options.process_group_configs for p in g.process_configs}
    argv = shlex.split(programs["worker-mods"].command)
    assert argv[argv.index("--modules-dir") + 1] == str(tmp_path / "my modules; #1")
    assert "--modules-dir" not in shlex.split(programs["worker-plain"].command)
    assert "--modules-dir" not in shlex.split(programs["ws-mods"].command)
