"""How the server writes answers: whole frames, in order, also when the client reads slowly."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import tornado.websocket
from coincurve import PrivateKey

from wshelpers import Server, request, run, running_worker

OWNER = PrivateKey()
PLAYS = 12
BIG_OUTPUT = 'let s = ""; s.pad(1000, "x"); for i in 0..900 { print(s); }'
"""A play answered with ~900 KB: a dozen of them are more than the kernel buffers between the
server and a client that reads nothing (with its receive buffer kept small)."""


def test_answers_larger_than_the_socket_buffers_arrive_whole_while_the_client_waits(
        redis_url: str, tmp_path: Path) -> None:
    # The client reads nothing until every play has been answered, so the server's writes find
    # the socket full: part of an answer is sent at once, the rest (and the answers behind it)
    # queue in Tornado's stream. Each must still arrive as one whole message.
    server = Server(redis_url, OWNER, "--no-auth")

    async def scenario() -> tuple[list[Any], Any]:
        slow = await tornado.websocket.websocket_connect(server.url)
        slow.protocol.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        for i in range(PLAYS):
            await slow.write_message(request("play", {"script": BIG_OUTPUT}, request_id=i))
            await slow.write_message(request("whoami", request_id=f"who-{i}"))
        # The worker runs tasks oldest first: once a later play is answered, so were the dozen.
        other = await tornado.websocket.websocket_connect(server.url)
        await other.write_message(request("play", {"script": "40 + 2"}, request_id="last"))
        last = json.loads(await other.read_message())
        other.close()
        replies = [json.loads(await slow.read_message()) for _ in range(2 * PLAYS)]
        slow.close()
        return replies, last

    try:
        with running_worker(redis_url, OWNER, tmp_path):
            replies, last = run(scenario())
    finally:
        code, log = server.stop()
    assert last["result"] == {"output": "42"}
    by_id = {reply["id"]: reply for reply in replies}
    assert sorted(by_id, key=str) == sorted([*range(PLAYS), *(f"who-{i}" for i in range(PLAYS))],
                                            key=str)
    expected = "\n".join(["x" * 1000] * 900)
    assert all(by_id[i]["result"] == {"output": expected} for i in range(PLAYS))
    assert all(by_id[f"who-{i}"]["result"]["authenticated"] is False for i in range(PLAYS))
    assert code == 0, log
