"""WebSocket frames as a client may send them, on a raw socket to a real ``python -m wsserver``:
several frames in one write, a frame in many writes, every length encoding, fragmented
messages with a ping between the fragments, closing, and the frames the server must refuse
(wsserver.frames reads them; Tornado judged them the same way before)."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Iterator
from urllib.parse import urlparse

import pytest
from coincurve import PrivateKey

from wshelpers import Server, pub, request

CIRCLE = PrivateKey()
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
GUARD = 30.0
"""Seconds a read may block before the test fails instead of hanging (not a timing check)."""


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    running = Server(redis_url, CIRCLE)
    yield running
    running.stop()


def frame(opcode: int, payload: bytes, final: bool = True, rsv: int = 0,
          length_code: int | None = None) -> bytes:
    """A masked client frame; ``length_code`` forces the 7-bit length field (126 or 127)."""
    size = len(payload)
    code = length_code if length_code is not None else (
        size if size < 126 else 126 if size <= 0xFFFF else 127)
    head = bytes([(0x80 if final else 0) | rsv | opcode, 0x80 | code])
    if code == 126:
        head += struct.pack("!H", size)
    elif code == 127:
        head += struct.pack("!Q", size)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawClient:
    """A WebSocket client on a plain socket, so tests choose every byte it sends."""

    def __init__(self, url: str, first: bytes = b"") -> None:
        """Connect and shake hands; ``first`` is sent in the same write as the handshake."""
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=GUARD)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode() + first)
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        status, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server")
        return data

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        head, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._take(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._take(8))[0]
        return head & 0x0F, self._take(size)

    def answer(self) -> dict:
        opcode, payload = self.read_frame()
        assert opcode == TEXT
        return json.loads(payload)

    def frames_until_closed(self) -> list[tuple[int, bytes]]:
        """The frames the server sends until it ends the connection."""
        frames = []
        try:
            while True:
                frames.append(self.read_frame())
        except ConnectionError:
            return frames

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client(server: Server) -> Iterator[RawClient]:
    connection = RawClient(server.url)
    yield connection
    connection.close()


def whoami(request_id: object) -> bytes:
    return request("whoami", request_id=request_id).encode()


def test_frames_sent_in_one_write_are_all_answered_in_order(client: RawClient) -> None:
    client.send(b"".join(frame(TEXT, whoami(n)) for n in range(20)))
    answers = [client.answer() for _ in range(20)]
    assert [answer["id"] for answer in answers] == list(range(20))
    assert answers[0]["result"]["circle"] == pub(CIRCLE)


def test_more_frames_in_one_write_than_one_turn_handles_are_all_answered_in_order(
        client: RawClient) -> None:
    count = 1000  # several times what the reader handles before letting others run
    client.send(b"".join(frame(TEXT, whoami(n)) for n in range(count)))
    assert [client.answer()["id"] for _ in range(count)] == list(range(count))


def test_a_frame_sent_with_the_handshake_is_answered(server: Server) -> None:
    client = RawClient(server.url, first=frame(TEXT, whoami("eager")))
    try:
        assert client.answer()["id"] == "eager"
    finally:
        client.close()


def test_a_frame_sent_a_byte_at_a_time_is_answered(client: RawClient) -> None:
    for byte in frame(TEXT, whoami("slow")) + frame(TEXT, whoami("next")):
        client.send(bytes([byte]))
    assert [client.answer()["id"] for _ in range(2)] == ["slow", "next"]


@pytest.mark.parametrize("size", [200, 70_000])
def test_16_and_64_bit_lengths_are_read(client: RawClient, size: int) -> None:
    long_id = "i" * size
    client.send(frame(TEXT, whoami(long_id)))
    assert client.answer()["id"] == long_id


def test_a_64_bit_length_may_encode_a_short_frame(client: RawClient) -> None:
    client.send(frame(TEXT, whoami(7), length_code=127))
    assert client.answer()["id"] == 7


def test_a_binary_message_is_read_as_json_too(client: RawClient) -> None:
    client.send(frame(BINARY, whoami("bin")))
    assert client.answer()["id"] == "bin"


def test_fragments_make_one_message_and_a_ping_between_them_is_answered(
        client: RawClient) -> None:
    text = whoami("parts")
    client.send(frame(TEXT, text[:5], final=False) + frame(PING, b"are you there")
                + frame(CONTINUATION, text[5:12], final=False))
    assert client.read_frame() == (PONG, b"are you there")
    client.send(frame(CONTINUATION, text[12:]))
    assert client.answer()["id"] == "parts"


def test_a_close_frame_is_echoed_with_its_code(client: RawClient) -> None:
    client.send(frame(CLOSE, struct.pack("!H", 1000) + b"bye"))
    opcode, payload = client.read_frame()
    assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1000
    assert client.frames_until_closed() == []


def test_a_message_announced_over_the_limit_is_refused_before_its_payload(
        client: RawClient) -> None:
    client.send(bytes([0x80 | TEXT, 0x80 | 127]) + struct.pack("!Q", 2 << 20) + os.urandom(4))
    opcode, payload = client.read_frame()
    assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1009
    assert client.frames_until_closed() == []


def test_fragments_adding_up_to_over_the_limit_are_refused(client: RawClient) -> None:
    half = b"x" * (600 * 1024)
    client.send(frame(TEXT, half, final=False))
    client.send(frame(CONTINUATION, half))
    opcode, payload = client.read_frame()
    assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1009
    assert client.frames_until_closed() == []


@pytest.mark.parametrize("bad", [
    frame(TEXT, whoami(1), rsv=0x40),                      # an extension nobody negotiated
    frame(CONTINUATION, whoami(1)),                        # continues nothing
    frame(PING, b"x" * 126),                               # control frame over 125 bytes
    frame(PING, b"x", final=False),                        # fragmented control frame
    frame(TEXT, b"\xff\xfe not utf-8"),                    # text that is not UTF-8
    frame(TEXT, b"{", final=False) + frame(TEXT, b"}"),    # a new message inside another
    frame(0x3, whoami(1)),                                 # reserved opcode
], ids=["rsv", "orphan-continuation", "long-control", "fragmented-control", "bad-utf8",
        "interleaved-message", "reserved-opcode"])
def test_refused_frames_end_the_connection(server: Server, bad: bytes) -> None:
    client = RawClient(server.url)
    try:
        client.send(frame(TEXT, whoami("before")) + bad + frame(TEXT, whoami("after")))
        assert client.answer()["id"] == "before"
        assert TEXT not in [opcode for opcode, _ in client.frames_until_closed()]
    finally:
        client.close()
    survivor = RawClient(server.url)
    try:
        survivor.send(frame(TEXT, whoami("still served")))
        assert survivor.answer()["id"] == "still served"
    finally:
        survivor.close()
