"""Reading a client's WebSocket frames: Tornado's protocol with a leaner frame reader.

Why: Tornado's reader asks its stream for each frame in three reads (header, mask, payload),
each a future and a coroutine step, and between two messages it stops and restarts watching
the socket (two ``epoll_ctl`` calls). Under the plays benchmark its reading was about a third
of the server's time per play in a profile, and the echo baseline pays it too.
``CircleProtocol`` reads the socket itself when Tornado's stream finds it readable: one
``recv`` per arrival of data, every complete frame cut out of it and handled in that same
callback, with no future, no coroutine step and no second ``recv`` that finds nothing (a
stream's ``read_bytes`` always tries to read at once before it waits); between messages the
socket stays watched. While the stream holds answer bytes the client has not taken yet, the
stream watches for writing only, so a client that does not read its answers is not read either
until they are written.

The frames are judged exactly as Tornado's ``WebSocketProtocol13._receive_frame`` judges them
(same aborts, the same 1009 close for a message over the size limit, announced before its
payload is read) and each complete message goes to Tornado's own ``_handle_message`` (text
decoding, close, ping, pong); writing is Tornado's. A connection that negotiated compression
(this server offers none), or whose stream is not a plain socket stream (TLS), keeps Tornado's
reader, and so does every connection under a Tornado whose ``IOStream`` lacks the private parts
this reader uses (``_STREAM_HOOKS``).
"""
from __future__ import annotations

import asyncio
import struct

import tornado.websocket
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream
from tornado.util import _websocket_mask

READ_SIZE = 64 * 1024
"""Most bytes taken from the socket per read (Tornado's own read chunk)."""
_READ_BUFFER = bytearray(READ_SIZE)
_READ_VIEW = memoryview(_READ_BUFFER)
"""Where every connection's reads land (one event loop: each read is copied out at once)."""
YIELD_AFTER = 256 * 1024
FRAME_COST = 1024
"""Like Tornado's reader: after this much work (a frame counts FRAME_COST bytes plus its size)
without waiting for the socket, the reader lets other connections run."""
_STREAM_HOOKS = ("_handle_read", "_consume", "_add_io_state")
"""The private parts of Tornado's ``IOStream`` (6.3 to 6.6) the reader uses: a Tornado without
one of them keeps its own reader (pyproject.toml also keeps Tornado below 7)."""
_STREAM_FITS = all(callable(getattr(IOStream, name, None)) for name in _STREAM_HOOKS)


def _reader_fits(stream: object) -> bool:
    """Whether ``CircleProtocol`` may read ``stream`` itself: a plain socket ``IOStream`` (not
    TLS) of a Tornado with the private parts it uses."""
    return (type(stream) is IOStream and _STREAM_FITS
            and isinstance(getattr(stream, "_read_buffer_size", None), int))


_FIN, _RSV, _OPCODE, _CONTROL = 0x80, 0x70, 0x0F, 0x08
_MASKED, _LENGTH = 0x80, 0x7F
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class CircleProtocol(tornado.websocket.WebSocketProtocol13):
    """RFC 6455 as Tornado speaks it, reading frames with one read per arrival of data.

    The handler's ``on_message`` must be synchronous (``CircleSocket``'s is): a message is
    handled inside the read callback, and nothing waits for a coroutine it might return.
    """

    _received: bytearray
    """Bytes read and not handled yet: the start of a frame still on its way, or frames left
    for the next turn of the event loop (``YIELD_AFTER``)."""
    _resume: asyncio.Handle | None
    """The scheduled handling of frames left over when a callback used up its share of work."""
    _stream_closed: asyncio.Future[None]

    async def _receive_frame_loop(self) -> None:
        stream = self.stream
        if self._decompressor is not None or not _reader_fits(stream):
            await super()._receive_frame_loop()
            return
        loop = asyncio.get_running_loop()
        self._received = bytearray()
        self._resume = None
        self._stream_closed = loop.create_future()
        stream.set_close_callback(self._on_stream_closed)
        try:
            # Tornado's stream calls its _handle_read when the socket is readable; from now
            # on that is this reader. Nothing else reads this stream (no read_bytes is ever
            # pending, its own buffer stays empty), so the stream watches the socket for reads
            # whenever it has no answer bytes left to write.
            stream._handle_read = self._on_readable  # type: ignore[method-assign]
            if stream._read_buffer_size:  # frames sent right behind the handshake
                handshake_tail = stream._consume(stream._read_buffer_size)
                self._wire_bytes_in += len(handshake_tail)
                self._received += handshake_tail
                self._handle_received()
            if not stream.closed():
                stream._add_io_state(IOLoop.READ)
            await self._stream_closed
        finally:
            if self._resume is not None:
                self._resume.cancel()
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    def _on_stream_closed(self) -> None:
        if not self._stream_closed.done():
            self._stream_closed.set_result(None)

    def _on_readable(self) -> None:
        """The socket is readable: read what arrived and handle every complete frame in it."""
        if self._resume is not None or self.client_terminated:
            return  # frames read earlier come first; the socket stays readable meanwhile
        stream = self.stream
        try:
            nbytes = stream.socket.recv_into(_READ_BUFFER)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # reset by the client, or broken: as Tornado's read closes it
            stream.close(exc_info=exc)
            return
        if not nbytes:  # the client closed its side
            stream.close()
            return
        self._wire_bytes_in += nbytes
        self._received += _READ_VIEW[:nbytes]
        self._handle_received()

    def _handle_received(self) -> None:
        """Handle the complete frames received, oldest first, until a share of work is done;
        the rest is scheduled for the next turn of the event loop."""
        self._resume = None
        data = self._received
        pos, end, work = 0, len(data), 0
        while not self.client_terminated:
            frame = self._next_frame(data, pos, end)
            if frame is None:
                break
            if frame is False:
                return
            pos, head, payload = frame
            self._take_frame(head, payload)
            work += FRAME_COST + len(payload)
            if work >= YIELD_AFTER and pos < end:
                self._resume = asyncio.get_running_loop().call_soon(self._handle_received)
                break
        del data[:pos]
        if self.client_terminated:
            self._on_stream_closed()

    def _next_frame(self, data: bytes | bytearray, pos: int,
                    end: int) -> tuple[int, int, bytes] | bool | None:
        """The complete frame at ``pos``: (where the next one starts, its first header byte, its
        unmasked payload); None while it is incomplete; False when it is refused (the
        connection is then closed)."""
        if end - pos < 2:
            return None
        head, second = data[pos], data[pos + 1]
        length = second & _LENGTH
        start = pos + 2
        if head & _RSV:  # an extension nobody negotiated
            self._abort()
            return False
        if length >= 126:
            if head & _CONTROL:  # control frames carry at most 125 bytes
                self._abort()
                return False
            if length == 126:
                if end - start < 2:
                    return None
                length = _U16.unpack_from(data, start)[0]
                start += 2
            else:
                if end - start < 8:
                    return None
                length = _U64.unpack_from(data, start)[0]
                start += 8
        so_far = self._fragmented_message_buffer
        if length + (len(so_far) if so_far is not None else 0) > self.params.max_message_size:
            self.close(1009, "message too big")
            self._abort()
            return False
        if second & _MASKED:
            mask_at, start = start, start + 4
        else:
            mask_at = -1
        stop = start + length
        if stop > end:
            return None
        payload = bytes(data[start:stop])
        if mask_at >= 0:
            payload = _websocket_mask(bytes(data[mask_at:start]), payload)
        return stop, head, payload

    def _take_frame(self, head: int, payload: bytes) -> None:
        """One complete frame: a message (or control frame) goes to Tornado's
        ``_handle_message``; a fragment is kept until its message is complete."""
        final = head & _FIN
        opcode = head & _OPCODE
        if opcode & _CONTROL:
            if not final:  # control frames are never fragmented
                self._abort()
                return
        elif opcode == 0:  # continuation
            if self._fragmented_message_buffer is None:
                self._abort()
                return
            self._fragmented_message_buffer.extend(payload)
            if not final:
                return
            opcode = self._fragmented_message_opcode
            payload = bytes(self._fragmented_message_buffer)
            self._fragmented_message_buffer = None
        else:  # the first frame of a message
            if self._fragmented_message_buffer is not None:
                self._abort()
                return
            if not final:
                self._fragmented_message_opcode = opcode
                self._fragmented_message_buffer = bytearray(payload)
                return
        self._handle_message(opcode, payload)
