"""A task's text for its reply: printed lines collected within a budget, and the cap that cuts
output and error text so a reply always fits one WebSocket message (pure, no I/O).

Sizes are counted the way the reply carries the text: as a JSON string in ASCII (``json.dumps``),
where a control character takes 6 bytes and a character outside the BMP 12. So a cap of N bytes
bounds the reply's size whatever the script prints.
"""
from __future__ import annotations

import json

TRUNCATED_MARK = "[output truncated: over {limit} bytes]"
"""The line that ends a cut output or error; ``limit`` is the cap in bytes."""
WIDEST_CHARACTER = 12
"""Most bytes one character takes in a JSON string (a surrogate pair, ``\\ud83d\\ude00``)."""


def json_size(text: str) -> int:
    """Bytes ``text`` takes inside the quotes of a JSON string (ASCII-escaped)."""
    return len(json.dumps(text)) - 2


def cap_text(text: str, max_bytes: int) -> str:
    """``text`` if its JSON size is at most ``max_bytes``; else its longest prefix (whole
    characters) that, followed by a newline and the truncation mark, fits ``max_bytes``."""
    if len(text) * WIDEST_CHARACTER <= max_bytes:
        return text
    if len(text) <= max_bytes and json_size(text) <= max_bytes:  # a character takes >= 1 byte
        return text
    mark = "\n" + TRUNCATED_MARK.format(limit=max_bytes)
    budget = max_bytes - json_size(mark)
    low, high = max(0, budget // WIDEST_CHARACTER), max(0, min(len(text), budget))
    if json_size(text[:high]) <= budget:  # plain text: one byte a character
        low = high
    while low < high:  # the longest prefix within budget
        middle = (low + high + 1) // 2
        if json_size(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + mark if low else mark[1:]


def cap_reply_texts(output: str | None, error: str | None,
                    max_bytes: int) -> tuple[str | None, str | None]:
    """Output and error cut so that together they take at most ``max_bytes``: the error keeps
    up to half of it, the output the rest."""
    if error is not None:
        error = cap_text(error, max_bytes // 2)
        max_bytes -= json_size(error)
    if output is not None:
        output = cap_text(output, max_bytes)
    return output, error


class OutputCollector:
    """A task's printed lines; once they pass ``max_bytes`` the rest is not kept (the final
    ``cap_text`` then cuts and marks the output), so printing costs no unbounded memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lines: list[str] = []
        self._used = 0

    def reset(self) -> None:
        self.lines = []
        self._used = 0

    def print(self, line: str) -> None:
        """The engine's on_print: keep ``line`` while the output is within its budget."""
        if self._used <= self.max_bytes:
            self.lines.append(line)
            self._used += len(line) + 1

    def text(self, last_line: str | None = None) -> str:
        """The printed lines, then ``last_line`` if given, joined by newlines."""
        lines = self.lines if last_line is None else [*self.lines, last_line]
        return "\n".join(lines)
