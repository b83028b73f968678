"""The browser console: ``GET /`` serves a single page that talks to this circle's ``/ws``.

The page and its script and style sheet are static files shipped in the package
(``wsserver/console/``). Every response, errors included, carries a strict Content-Security-Policy
(no inline script or style, connections only back to this server) and headers that stop MIME
sniffing, framing and referrers.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tornado.web

CONSOLE_DIR = Path(__file__).with_name("console")
"""Where the console's static files live."""
STATIC_PREFIX = "/console/"
"""URL path under which the console's script, style sheet and icon are served."""
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
"""Content type per file suffix; anything else is served as opaque bytes."""
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
"""A Host header that is safe to write into the policy: a name or IP literal and a port."""


def content_security_policy(host: str) -> str:
    """The policy for a page reached as ``host`` (the request's Host header).

    The page may only load its own files and open WebSockets back to the host it came from; a Host
    header that is not a plain ``name[:port]`` adds no WebSocket source beyond ``'self'``.
    """
    sockets = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self'{sockets}; img-src 'self'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


class ConsoleFileHandler(tornado.web.StaticFileHandler):
    """Serves the console's files: the page at ``/`` and its assets under ``/console/``.

    ``StaticFileHandler`` already refuses paths outside the folder and directory listings (403).
    """

    def set_default_headers(self) -> None:
        # Runs for every response, error pages included.
        self.set_header("Content-Security-Policy", content_security_policy(self.request.host))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")

    def get_content_type(self) -> str:
        return CONTENT_TYPES.get(Path(self.absolute_path).suffix, "application/octet-stream")


def routes() -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The console's routes, to append to the application's."""
    folder = {"path": str(CONSOLE_DIR)}
    return [
        (r"/()", ConsoleFileHandler, {**folder, "default_filename": "index.html"}),
        (STATIC_PREFIX + r"(.*)", ConsoleFileHandler, folder),
    ]
