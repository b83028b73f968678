"""Run and talk to the supervisord of a state folder (XML-RPC over its private unix socket)."""
from __future__ import annotations

import base64
import configparser
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import TREE_MARK, StatePaths
from .redis_embed import PROGRAM as REDIS_PROGRAM

log = logging.getLogger(__name__)

RPC_ERRORS = (OSError, xmlrpc.client.Error, http.client.HTTPException)
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF", "STOPPING"})


class SupervisorError(Exception):
    """supervisord could not be started, reached or stopped."""


@dataclass(frozen=True)
class ProcessInfo:
    """The part of supervisord's getAllProcessInfo that circlesctl uses."""

    name: str
    group: str
    state: str
    pid: int
    description: str
    spawnerr: str

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> "ProcessInfo":
        return cls(raw["name"], raw["group"], raw["statename"], int(raw.get("pid") or 0),
                   raw.get("description", ""), raw.get("spawnerr", ""))


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (supervisord's private one); reconnects when used after a close."""

    def __init__(self, socket_path: str) -> None:
        super().__init__("localhost")
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """XML-RPC to supervisord over its unix socket: one persistent connection, HTTP basic auth,
    one attempt per call, a ProtocolError for any answer but 200 -- what supervisor's own
    ``SupervisorTransport`` does, without importing the supervisor package (~30 ms of CPU for
    every circlesctl command, on a start before supervisord is even launched)."""

    def __init__(self, socket_path: str, username: str | None, password: str | None) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.connection: _UnixHTTPConnection | None = None
        self.request_headers = {"User-Agent": self.user_agent, "Content-Type": "text/xml",
                                "Accept": "text/xml"}
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self.request_headers["Authorization"] = f"Basic {token}"

    def close(self) -> None:
        """Drop the connection; the next call opens a new one."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, host: Any, handler: str, request_body: bytes | str,
                verbose: bool = False) -> Any:
        """POST one call and return its unmarshalled answer (xmlrpc.client's hook)."""
        if self.connection is None:
            self.connection = _UnixHTTPConnection(self.socket_path)
        body = request_body.encode() if isinstance(request_body, str) else request_body
        self.connection.request("POST", handler, body,
                                {**self.request_headers, "Content-Length": str(len(body))})
        response = self.connection.getresponse()
        if response.status != 200:
            self.close()
            raise xmlrpc.client.ProtocolError(f"{host}{handler}", response.status,
                                              response.reason, {})
        parser, unmarshaller = self.getparser()
        parser.feed(response.read())
        parser.close()
        return unmarshaller.close()


def read_credentials(conf: Path) -> tuple[str, str] | None:
    """The username/password stored in a rendered supervisord.conf, or None if unusable."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    try:
        if not parser.read(conf):
            return None
        return parser.get("supervisorctl", "username"), parser.get("supervisorctl", "password")
    except (configparser.Error, OSError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(pidfile: Path) -> int:
    """The pid in supervisord's pid file, 0 when missing or garbled."""
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return 0


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def process_cmdline(pid: int) -> list[str]:
    """The command line of ``pid`` (empty when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [os.fsdecode(arg) for arg in raw.split(b"\0") if arg]


def is_tree_supervisord(pid: int, paths: StatePaths) -> bool:
    """Whether ``pid`` is alive AND is the supervisord of ``paths`` (its command line names
    this state folder's supervisord.conf), so a pid file whose pid was reused is not trusted."""
    if not pid_alive(pid):
        return False
    argv = process_cmdline(pid)
    return (any("supervisord" in arg for arg in argv)
            and str(paths.supervisord_conf) in argv)


def live_supervisord(paths: StatePaths) -> int:
    """The pid of this state folder's supervisord when it is alive, else 0."""
    pid = read_pid(paths.supervisor_pidfile)
    return pid if is_tree_supervisord(pid, paths) else 0


def clean_stale(paths: StatePaths) -> bool:
    """Clean up after a killed supervisord: stop its orphaned programs, remove its socket and
    pid file. True if there was anything to clean. Does nothing while supervisord lives."""
    if live_supervisord(paths) or socket_answers(paths.supervisor_socket):
        return False
    removed = stop_orphans(paths) > 0
    for leftover in (paths.supervisor_socket, paths.supervisor_pidfile):
        if leftover.exists() or leftover.is_symlink():
            leftover.unlink()
            removed = True
            log.info("removed stale %s", leftover)
    return removed


def _socket_inodes(path: Path) -> set[str]:
    """Inodes of the unix sockets bound to ``path`` (from /proc/net/unix)."""
    wanted = str(path)
    inodes = set()
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as handle:
            next(handle, None)
            for line in handle:
                fields = line.split(None, 7)
                if len(fields) == 8 and fields[7].rstrip("\n") == wanted:
                    inodes.add(fields[6])
    except OSError:
        return set()
    return inodes


def _holds_socket(pid: str, inodes: set[str]) -> bool:
    """Whether process ``pid`` has one of the socket ``inodes`` open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


def orphans(paths: StatePaths) -> list[int]:
    """Live processes started by this state folder's supervisord.

    Programs carry ``CIRCLES_TREE=<state folder>`` in their environment. redis-server rewrites
    its process title over its environment, so the embedded Redis is recognised by the socket
    it listens on instead: the private run/redis.sock of this state folder.
    """
    mark = os.fsencode(f"{TREE_MARK}={paths.root}")
    redis_inodes = _socket_inodes(paths.redis_socket)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                marked = mark in handle.read().split(b"\0")
        except OSError:
            continue
        if (marked or (redis_inodes and _holds_socket(entry, redis_inodes))) \
                and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def stop_orphans(paths: StatePaths, timeout: float = 10.0) -> int:
    """SIGTERM (then SIGKILL) the programs a killed supervisord left running; how many."""
    victims = orphans(paths)
    for pid in victims:
        log.warning("stopping program pid %d left running by a killed supervisord", pid)
        _signal(pid, signal.SIGTERM)
    if not _wait_dead(victims, timeout):
        for pid in victims:
            if pid_alive(pid):
                _signal(pid, signal.SIGKILL)
        _wait_dead(victims, timeout)
    return len(victims)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_dead(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Supervisor:
    """A handle on one state folder's supervisord."""

    def __init__(self, paths: StatePaths, username: str, password: str) -> None:
        self.paths = paths
        self.process: subprocess.Popen[bytes] | None = None
        self.transport = UnixTransport(str(paths.supervisor_socket), username, password)
        self.rpc: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=self.transport)

    @classmethod
    def attach(cls, paths: StatePaths) -> "Supervisor | None":
        """A handle on a running supervisord of ``paths``, or None when none answers."""
        credentials = read_credentials(paths.supervisord_conf)
        if credentials is None or not socket_answers(paths.supervisor_socket):
            return None
        handle = cls(paths, *credentials)
        return handle if handle.answers() else None

    def answers(self) -> bool:
        """Whether supervisord answers XML-RPC (a failed call resets the connection)."""
        try:
            self.rpc.supervisor.getState()
        except RPC_ERRORS:
            self.transport.close()
            return False
        return True

    @property
    def pid(self) -> int:
        """supervisord's pid (0 when the pid file names a process that is not it)."""
        if self.process is not None:
            return self.process.pid
        return live_supervisord(self.paths)

    def launch(self, timeout: float = 30.0) -> None:
        """Start ``supervisord -n`` in its own session and wait until it answers XML-RPC."""
        argv = [sys.executable, "-m", "supervisor.supervisord", "-n", "-c",
                str(self.paths.supervisord_conf)]
        console = self.paths.logs / "supervisord.console"
        with open(os.open(console, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            umask=0o077, close_fds=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = console.read_text(errors="replace").strip().splitlines()[-5:]
                raise SupervisorError(f"supervisord exited at start (status "
                                      f"{self.process.returncode}): {' '.join(err)}")
            if self.answers():
                break
            if time.monotonic() > deadline:
                self.kill()
                raise SupervisorError(f"supervisord did not answer within {timeout:g} s")
            time.sleep(0.02)
        log.info("supervisord running, pid %d", self.process.pid)

    def processes(self) -> list[ProcessInfo]:
        """All programs' states, in one XML-RPC call."""
        return [ProcessInfo.from_rpc(raw) for raw in self.rpc.supervisor.getAllProcessInfo()]

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every program and supervisord itself; wait until it is gone and cleaned up.

        supervisord's own shutdown handles one group per loop turn (up to a second each), so
        the programs are stopped here first, all circles at once and then Redis; supervisord
        then finds nothing left to stop and exits at once.
        """
        pid = self.pid
        deadline = time.monotonic() + timeout
        try:
            groups = {i.group for i in self.processes()}
            self._stop_groups(groups - {REDIS_PROGRAM}, deadline)
            self._stop_groups(groups & {REDIS_PROGRAM}, deadline)
            self.rpc.supervisor.shutdown()
        except RPC_ERRORS as exc:
            self.transport.close()
            log.info("shutdown request failed (%s); signalling supervisord", exc)
            if self._alive(pid):
                os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, max(1.0, deadline - time.monotonic())):
            log.warning("supervisord (pid %d) did not stop within %g s; killing it", pid, timeout)
            self.kill()
        clean_stale(self.paths)

    def _stop_groups(self, groups: set[str], deadline: float) -> None:
        """Stop every process of ``groups`` at once and wait until they have stopped.

        One multicall of stopProcess(wait=False): each call only sends the signal, whereas
        stopProcessGroup is deferred and costs supervisord a loop turn per group.
        """
        running = [i for i in self.processes()
                   if i.group in groups and i.state in ACTIVE_STATES - {"STOPPING"}]
        if running:
            self.rpc.system.multicall([{"methodName": "supervisor.stopProcess",
                                        "params": [f"{i.group}:{i.name}", False]}
                                       for i in running])
        while time.monotonic() < deadline:
            if not any(i.state in ACTIVE_STATES for i in self.processes() if i.group in groups):
                return
            time.sleep(0.05)

    def _alive(self, pid: int) -> bool:
        """Whether our supervisord still runs (a pid alone may have been reused)."""
        if self.process is not None:
            return self.process.poll() is None
        return is_tree_supervisord(pid, self.paths)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None:
                try:
                    self.process.wait(timeout=0.05)
                    return True
                except subprocess.TimeoutExpired:
                    pass
            elif not self._alive(pid):
                return True
            else:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                return False

    def kill(self) -> None:
        """Last resort: SIGKILL supervisord and everything below it."""
        pid = self.pid
        if not self._alive(pid):
            return
        for victim in [pid] + descendants(pid):
            _signal(victim, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
