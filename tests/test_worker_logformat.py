"""The worker's log lines read exactly as the standard formatter writes them."""
from __future__ import annotations

import logging

from worker.logformat import LOG_FORMAT, StampCachingFormatter


def record_at(created: float, message: str = "task %s completed") -> logging.LogRecord:
    record = logging.LogRecord("worker.runner", logging.INFO, __file__, 1, message, ("t1",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_lines_match_the_standard_formatter_within_and_across_seconds() -> None:
    ours, standard = StampCachingFormatter(LOG_FORMAT), logging.Formatter(LOG_FORMAT)
    times = [1_780_000_000.001, 1_780_000_000.5, 1_780_000_000.999, 1_780_000_001.0,
             1_780_000_001.25, 1_780_003_600.75, 1_780_000_000.5]  # and back to an earlier one
    for created in times:
        record = record_at(created)
        assert ours.format(record) == standard.format(record)


def test_an_explicit_date_format_is_honoured() -> None:
    ours = StampCachingFormatter("%(asctime)s %(message)s", datefmt="%H:%M")
    standard = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M")
    record = record_at(1_780_000_000.5)
    assert ours.format(record) == standard.format(record)
