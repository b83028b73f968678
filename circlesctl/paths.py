"""Where everything lives in the state folder (one place, so no module invents its own paths)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_ENV = "CIRCLES_STATE_DIR"
DEFAULT_STATE_DIR_NAME = ".circles"
TREE_MARK = "CIRCLES_TREE"
"""Environment variable every program gets (= the state folder), so that programs orphaned by
a killed supervisord can still be found and stopped."""
MAX_UNIX_SOCKET_PATH = 107
"""Linux limit on a unix socket path (sun_path is 108 bytes including the NUL)."""


@dataclass(frozen=True)
class StatePaths:
    """The layout of one state folder."""

    root: Path

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def keys(self) -> Path:
        return self.root / "keys.json"

    @property
    def tree_settings(self) -> Path:
        """The tree-wide settings start used (Redis URL, interpreter, defaults) for reload."""
        return self.root / "tree.json"

    @property
    def init_results(self) -> Path:
        return self.root / "init.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def supervisord_log(self) -> Path:
        return self.logs / "supervisord.log"

    @property
    def redis_socket(self) -> Path:
        return self.run / "redis.sock"

    def program_log(self, program: str) -> Path:
        return self.logs / f"{program}.log"

    def circle_data(self, public_key: str) -> Path:
        return self.data / public_key

    def too_long_sockets(self) -> list[Path]:
        """Socket paths the kernel would refuse because they are too long."""
        return [p for p in (self.supervisor_socket, self.redis_socket)
                if len(os.fsencode(str(p))) > MAX_UNIX_SOCKET_PATH]

    def create(self, embedded_redis: bool = True) -> None:
        """Make the folders (private to the user: 0700); ``redis/`` only for an embedded Redis."""
        folders = (self.root, self.logs, self.run, self.data)
        for folder in folders + ((self.redis_dir,) if embedded_redis else ()):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)


def resolve_state_dir(config_path: Path, option: str | Path | None) -> StatePaths:
    """--state-dir, else $CIRCLES_STATE_DIR, else .circles/ beside the config file."""
    chosen = option or os.environ.get(STATE_DIR_ENV)
    root = Path(chosen) if chosen else Path(config_path).absolute().parent / DEFAULT_STATE_DIR_NAME
    return StatePaths(root.absolute())
