"""The worker's own blocking Redis link (worker.redis_link.SyncLink), against real redis-servers.

It replaces redis-py for plain URLs, so it must give the same answers, survive what Redis does
to connections (refusal, closing mid-exchange, restarts), and never go out of step.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import hiredis
import pytest
import redis

from conftest import redis_server_binary
from worker import protocol, redis_connect
from worker.redis_connect import PlainTarget
from worker.redis_link import (LinkDown, NoScriptError, ReplyError, SyncLink, encode_argument,
                               pack_commands)
from worker.taskqueue import TaskQueue

TIMEOUT = 5.0
PK = "02" + "ab" * 32


@pytest.fixture
def link(redis_url: str, redis_client: redis.Redis) -> Iterator[SyncLink]:
    """A link on the session's redis-server (database emptied by ``redis_client``)."""
    made = redis_connect.worker_client(redis_url, TIMEOUT)
    assert isinstance(made, SyncLink)
    try:
        yield made
    finally:
        made.close()


def start_server(folder: Path, *options: str) -> tuple[subprocess.Popen, Path]:
    """A redis-server of the test's own on a unix socket in ``folder``; (process, socket)."""
    sock = folder / "own.sock"
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm",
         "700", "--dir", str(folder), "--save", "", "--appendonly", "no", *options],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for the event: the server says it accepts connections
        if b"ready to accept connections" in line.lower():
            break
    else:
        raise RuntimeError("own redis-server did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: never block it
    return proc, sock


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def test_plain_urls_get_a_link_and_the_worker_does_not_load_redis_py(redis_url: str) -> None:
    code = ("import sys\nfrom worker import runner\n"
            f"client = runner.connect({redis_url!r})\n"
            "assert type(client).__name__ == 'SyncLink', client\n"
            "assert client.exchange([('PING',)]) == ['PONG']\n"
            "assert 'redis' not in sys.modules, 'redis-py was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=False)
    assert done.returncode == 0, done.stderr


def test_urls_that_need_redis_py_still_get_it(redis_url: str) -> None:
    client = redis_connect.worker_client(redis_url + "?db=0&ssl_cert_reqs=none", TIMEOUT)
    assert isinstance(client, redis.Redis)
    client.close()


def test_replies_come_back_in_order_and_decoded(link: SyncLink,
                                                redis_client: redis.Redis) -> None:
    replies = link.exchange([("SET", "k", "välue"), ("GET", "k"), ("RPUSH", "l", 1, 2.5),
                             ("LRANGE", "l", 0, -1), ("GET", "missing")])
    assert replies == ["OK", "välue", 2, ["1", "2.5"], None]
    assert redis_client.get("k") == "välue"


def test_arguments_are_encoded_as_redis_py_encodes_them() -> None:
    assert encode_argument("a\ud800b") == "a\ud800b".encode("utf-8", "replace") == b"a?b"
    assert encode_argument(0.5) == b"0.5" and encode_argument(-3) == b"-3"
    assert encode_argument(b"\xff") == b"\xff"
    with pytest.raises(TypeError, match="bool"):
        encode_argument(True)


def test_commands_are_packed_as_their_arguments_encode() -> None:
    """hiredis packs plain commands itself; the bytes are those of ``encode_argument``."""
    commands = [("SET", "k", "välue 😀", "EX", 10), ("RPUSH", "l", 2.5, -3, 1e20, b"\xff"),
                ("SET", "s", "a\ud800b")]
    assert pack_commands(commands) == b"".join(
        hiredis.pack_command(tuple(map(encode_argument, command))) for command in commands)
    assert b"a?b" in pack_commands(commands[2:])
    with pytest.raises(TypeError, match="bool"):
        pack_commands([("SET", "k", True)])


def test_invalid_utf8_in_a_reply_is_replaced(link: SyncLink, redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    raw.set("bad", b"ok\xff")
    raw.close()
    assert link.exchange([("GET", "bad")]) == ["ok\ufffd"]


def test_an_error_reply_is_a_value_and_the_link_stays_in_step(link: SyncLink,
                                                              redis_client: redis.Redis) -> None:
    redis_client.set("text", "not a number")
    incr, after = link.exchange([("INCR", "text"), ("GET", "text")])
    assert isinstance(incr, ReplyError) and "not an integer" in str(incr)
    assert after == "not a number"
    assert link.exchange([("PING",)]) == ["PONG"]
    missing, = link.exchange([("EVALSHA", "0" * 40, 0)])
    assert isinstance(missing, NoScriptError)


def test_connection_refused_is_link_down(tmp_path: Path) -> None:
    gone = SyncLink(PlainTarget(unix_path=str(tmp_path / "no.sock")), TIMEOUT)
    with pytest.raises(LinkDown, match="cannot connect to Redis at .*no.sock"):
        gone.exchange([("PING",)])
    with socket_listening_nowhere() as port:
        tcp = SyncLink(PlainTarget(host="127.0.0.1", port=port), TIMEOUT)
        with pytest.raises(LinkDown, match=f"cannot connect to Redis at 127.0.0.1:{port}"):
            tcp.exchange([("PING",)])


class socket_listening_nowhere:
    """A free TCP port nothing listens on (bound, never listening, for the test's duration)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_redis_closing_the_connection_mid_exchange_is_link_down(link: SyncLink) -> None:
    own_id, = link.exchange([("CLIENT", "ID")])
    # Redis answers QUIT, then closes the connection before the GET's reply.
    with pytest.raises(LinkDown, match="closed the connection"):
        link.exchange([("QUIT",), ("GET", "k")])
    assert link.exchange([("PING",)]) == ["PONG"]  # a fresh connection, in step
    assert link.exchange([("CLIENT", "ID")])[0] != own_id


def test_a_redis_that_stops_answering_is_link_down_then_a_fresh_connection_is_used(
        tmp_path: Path) -> None:
    proc, sock = start_server(tmp_path)
    try:
        link = SyncLink(PlainTarget(unix_path=str(sock)), 0.3)
        own_id, = link.exchange([("CLIENT", "ID")])
        proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(LinkDown, match="did not answer in time"):
                link.exchange([("PING",)])
        finally:
            proc.send_signal(signal.SIGCONT)
        assert link.exchange([("CLIENT", "ID")])[0] != own_id
    finally:
        stop_server(proc)


def test_a_connection_closed_while_idle_is_replaced_before_use(
        link: SyncLink, redis_client: redis.Redis) -> None:
    own_id, = link.exchange([("CLIENT", "ID")])
    assert redis_client.client_kill_filter(_id=own_id) == 1
    assert link.exchange([("SET", "after", "1")]) == ["OK"]  # not lost on the dead socket
    assert redis_client.get("after") == "1"


def test_restart_then_reconnect(tmp_path: Path) -> None:
    proc, sock = start_server(tmp_path)
    link = SyncLink(PlainTarget(unix_path=str(sock)), TIMEOUT)
    try:
        assert link.exchange([("SET", "k", "1")]) == ["OK"]
        stop_server(proc)
        with pytest.raises(LinkDown):
            link.exchange([("GET", "k")])
        proc, sock = start_server(tmp_path)
        assert link.exchange([("GET", "k")]) == [None]  # the new server has no data
    finally:
        link.close()
        stop_server(proc)


def test_user_password_and_database_from_the_url(tmp_path: Path) -> None:
    proc, sock = start_server(tmp_path, "--requirepass", "s3cret")
    try:
        link = redis_connect.worker_client(f"unix://:s3cret@{sock}?db=3", TIMEOUT)
        assert link.exchange([("SET", "k", "v")]) == ["OK"]
        assert " db=3 " in link.exchange([("CLIENT", "INFO")])[0]
        acl = link.exchange([("ACL", "SETUSER", "app", "on", ">apppw", "~*", "+@all")])
        assert acl == ["OK"]
        link.close()
        as_app = redis_connect.worker_client(f"unix://app:apppw@{sock}", TIMEOUT)
        assert as_app.exchange([("ACL", "WHOAMI")]) == ["app"]
        as_app.close()
        wrong = redis_connect.worker_client(f"unix://:wrong@{sock}", TIMEOUT)
        with pytest.raises(LinkDown, match="refused the connection's set-up: WRONGPASS") as caught:
            wrong.exchange([("PING",)])
        assert "wrong" not in str(caught.value).replace("WRONGPASS", "")
    finally:
        stop_server(proc)


def test_two_threads_share_the_link(link: SyncLink, redis_client: redis.Redis) -> None:
    """The heartbeat thread sends while the main thread waits in a blocking command."""
    blocked = threading.Thread(target=lambda: link.exchange([("BLPOP", "wake", 5)]))
    blocked.start()
    assert link.exchange([("LPUSH", "wake", "x")]) == [1]  # on a second connection
    blocked.join()
    assert redis_client.llen("wake") == 0


def test_task_queue_on_the_link_after_redis_forgot_the_scripts(
        link: SyncLink, redis_client: redis.Redis) -> None:
    queue = TaskQueue(link, PK, result_ttl=500)
    first = protocol.submit(link, PK, "1", "me")
    second = protocol.submit(link, PK, "2", "me")
    redis_client.script_flush()
    task = queue.wait(0.1)
    assert task is not None and task.task_id == first and task.status == "pending"
    redis_client.script_flush()
    following, = queue.finish_many([(task, protocol.TaskResult(first, "completed", "1"))], 1)
    assert following.task_id == second
    queue.release([following])
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [second]
    assert protocol.await_result(link, first, 1).output == "1"
