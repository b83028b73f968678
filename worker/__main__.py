"""``python -m worker``: one circle's worker process, as supervisord runs it.

Exit status: 0 after SIGTERM/SIGINT (the task in hand is finished first), 2 for bad arguments,
1 when the data folder cannot be opened, 75 when the worker left to be replaced by a fresh
process (its memory backstop, ``--max-memory-mb``): supervisord's autorestart starts it again.
"""
from __future__ import annotations

from worker.optional import deferred

# Two standard modules the worker's libraries import at load but it uses only on rare paths,
# loaded at their first use instead (-1.1 MB of resident memory, see docs/BENCHMARKS.md):
# ``inspect`` (with ``ast`` and ``dis``; dataclasses use it only to write a docstring for a class
# that has none, and every class in the worker has one) and ``traceback`` (with ``linecache`` and
# ``tokenize``; logging uses it only to format an exception or a stack). Before the imports below.
deferred("inspect", "traceback")

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from typing import Sequence  # noqa: E402

from worker.config import parse_args  # noqa: E402
from worker.logformat import log_handler  # noqa: E402
from worker.memory import cap_data_memory  # noqa: E402

log = logging.getLogger("worker")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve the circle's queue until a stop signal, return the exit status."""
    config = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
    logging.basicConfig(level=logging.DEBUG if config.debug else logging.INFO,
                        handlers=[log_handler()])
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
