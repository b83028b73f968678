"""``python -m worker``: one circle's worker process, as supervisord runs it.

Exit status: 0 after SIGTERM/SIGINT (the task in hand is finished first), 2 for bad arguments,
1 when the data folder cannot be opened, 75 when the worker left to be replaced by a fresh
process (its memory backstop, ``--max-memory-mb``): supervisord's autorestart starts it again.
"""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
from typing import Sequence

from worker.config import parse_args
from worker.memory import cap_data_memory

log = logging.getLogger("worker")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve the circle's queue until a stop signal, return the exit status."""
    config = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
    logging.basicConfig(
        level=logging.DEBUG if config.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # That format uses no caller, thread or process fields, so no record computes them (the
    # logging HOWTO's "Optimization"): the worker logs a line per task, and finding the caller's
    # frame plus the thread and process look-ups were a third of what that line cost.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    from worker.runner import EXIT_RECYCLE, Worker  # after parsing: --help stays fast

    try:
        worker = Worker(config)
    except (OSError, sqlite3.Error) as exc:
        print(f"worker: cannot open the store in {config.data_dir}: {exc}", file=sys.stderr)
        return 1

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s; stopping after the current task", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    cap_data_memory(config.max_memory_mb)
    try:
        worker.run()
    except MemoryError:
        log.error("worker %s ran out of memory outside a script (limit %d MiB); exiting to be "
                  "restarted", config.name, config.max_memory_mb)
        return EXIT_RECYCLE
    return EXIT_RECYCLE if worker.recycle_reason is not None else 0


if __name__ == "__main__":
    sys.exit(main())
