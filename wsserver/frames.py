"""Reading a client's WebSocket frames: Tornado's protocol with a leaner frame reader.

Why: Tornado's reader asks its stream for each frame in three reads (header, mask, payload),
each a future and a coroutine step, and between two messages it stops and restarts watching
the socket (two ``epoll_ctl`` calls). Under the plays benchmark its reading was about a third
of the server's time per play in a profile, and the echo baseline pays it too.
``CircleProtocol`` takes whatever bytes have arrived in one read and cuts every complete frame
out of them itself; between messages the socket stays watched.

The frames are judged exactly as Tornado's ``WebSocketProtocol13._receive_frame`` judges them
(same aborts, the same 1009 close for a message over the size limit, announced before its
payload is read) and each complete message goes to Tornado's own ``_handle_message`` (text
decoding, close, ping, pong); writing is Tornado's. A connection that negotiated compression
(this server offers none) keeps Tornado's reader.
"""
from __future__ import annotations

import asyncio
import struct

import tornado.websocket
from tornado.iostream import StreamClosedError
from tornado.util import _websocket_mask

READ_SIZE = 64 * 1024
"""Most bytes taken from the stream per read (Tornado's own read chunk)."""
YIELD_AFTER = 256 * 1024
FRAME_COST = 1024
"""Like Tornado's reader: after this much work (a frame counts FRAME_COST bytes plus its size)
without waiting for the socket, the reader lets other connections run."""
_FIN, _RSV, _OPCODE, _CONTROL = 0x80, 0x70, 0x0F, 0x08
_MASKED, _LENGTH = 0x80, 0x7F
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class CircleProtocol(tornado.websocket.WebSocketProtocol13):
    """RFC 6455 as Tornado speaks it, reading frames with one read per arrival of data."""

    async def _receive_frame_loop(self) -> None:
        if self._decompressor is not None:
            await super()._receive_frame_loop()
            return
        try:
            await self._read_frames()
        except StreamClosedError:
            self._abort()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    async def _read_frames(self) -> None:
        """Handle the frames as they arrive, until the client closes or a frame is refused."""
        stream = self.stream
        pending = bytearray()
        work = 0
        while not self.client_terminated:
            chunk = await stream.read_bytes(READ_SIZE, partial=True)
            self._wire_bytes_in += len(chunk)
            if pending:
                pending += chunk
                data: bytes | bytearray = pending
            else:
                data = chunk
            pos, end = 0, len(data)
            while not self.client_terminated:
                frame = self._next_frame(data, pos, end)
                if frame is None:
                    break
                if frame is False:
                    return
                pos, head, payload = frame
                handled = self._take_frame(head, payload)
                if handled is not None:
                    await handled
                work += FRAME_COST + len(payload)
                if work >= YIELD_AFTER:
                    work = 0
                    await asyncio.sleep(0)
            if pos < end:  # the start of a frame whose rest is still on its way
                if data is pending:
                    del pending[:pos]
                else:
                    pending = bytearray(data[pos:])
            elif pending:
                pending = bytearray()

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

    def _take_frame(self, head: int, payload: bytes) -> asyncio.Future[None] | None:
        """One complete frame: a message (or control frame) goes to Tornado's
        ``_handle_message``; a fragment is kept until its message is complete. Returns what
        ``_handle_message`` returned (an ``on_message`` coroutine's future, or None)."""
        final = head & _FIN
        opcode = head & _OPCODE
        if opcode & _CONTROL:
            if not final:  # control frames are never fragmented
                self._abort()
                return None
        elif opcode == 0:  # continuation
            if self._fragmented_message_buffer is None:
                self._abort()
                return None
            self._fragmented_message_buffer.extend(payload)
            if not final:
                return None
            opcode = self._fragmented_message_opcode
            payload = bytes(self._fragmented_message_buffer)
            self._fragmented_message_buffer = None
        else:  # the first frame of a message
            if self._fragmented_message_buffer is not None:
                self._abort()
                return None
            if not final:
                self._fragmented_message_opcode = opcode
                self._fragmented_message_buffer = bytearray(payload)
                return None
        return self._handle_message(opcode, payload)
