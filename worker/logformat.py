"""The worker's log lines: the standard ``logging.Formatter``, with each second's date and time
formatted once rather than for every record.

Why: the worker logs a line per task, and ``Formatter.formatTime`` turns every record's time into
text anew (``time.localtime`` and ``time.strftime``), a third of what formatting that line cost.
The lines are the same, character for character.
"""
from __future__ import annotations

import logging
import time

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The worker's log line: time, level, logger, message."""


class StampCachingFormatter(logging.Formatter):
    """``logging.Formatter`` whose default ``asctime`` reuses the text of the record's second
    while records keep falling in the same second (the milliseconds are added per record)."""

    _stamp: tuple[int, str] = (-1, "")
    """The last second formatted, and its text; one attribute, so a thread that logs meanwhile
    (the heartbeat's) never pairs one second with another's text."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached_second, text = self._stamp
        if second != cached_second:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._stamp = (second, text)
        return self.default_msec_format % (text, record.msecs)


def log_handler() -> logging.Handler:
    """A handler writing the worker's log lines to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(StampCachingFormatter(LOG_FORMAT))
    return handler
