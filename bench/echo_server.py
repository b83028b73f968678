"""Baseline for bench.ws: a bare Tornado WebSocket server that echoes every message back.

Run as ``python -m bench.echo_server --port P``; it does nothing but what any Tornado WebSocket
server must do, so the gap to it is what authentication, JSON-RPC and the Redis round trip cost.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

import tornado.web
import tornado.websocket


class EchoHandler(tornado.websocket.WebSocketHandler):
    """Sends each text message straight back."""

    def check_origin(self, origin: str) -> bool:
        return True

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


async def serve(host: str, port: int) -> None:
    """Listen until SIGTERM or SIGINT, then close the listener and return."""
    app = tornado.web.Application([(r"/.*", EchoHandler)])
    server = app.listen(port, address=host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
