"""The physical limit for ``bench.tasks``: a bare relay that answers tasks without an engine.

It speaks the worker's side of the task protocol as plainly as redis-py allows — BLMOVE the id
into the processing list, read the script, reply, release — and answers every task with a fixed
output instead of running it. Whatever a real worker does beyond this is engine and bookkeeping.
Run as ``python -m bench.relay REDIS_URL CIRCLE_PUBLIC_KEY OUTPUT``; stops on SIGTERM.
"""
from __future__ import annotations

import json
import signal
import sys

import redis

from worker import protocol

WAIT_SECONDS = 0.5


def relay(client: redis.Redis, circle_pk: str, output: str) -> None:
    """Answer tasks on the circle's queue with ``output`` until SIGTERM."""
    stopping = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)
    queue, processing = protocol.queue_key(circle_pk), protocol.processing_key(circle_pk)
    while not stopping:
        task_id = client.blmove(queue, processing, WAIT_SECONDS, "RIGHT", "LEFT")
        if task_id is None:
            continue
        details = protocol.details_key(task_id)
        reply_to = protocol.reply_queue_for(task_id, client.hget(details, "reply_queue_name"))
        pipe = client.pipeline(transaction=False)
        pipe.hset(details, mapping={"status": protocol.STATUS_COMPLETED, "output": output})
        pipe.lpush(reply_to, json.dumps({"task_id": task_id, "status": "completed",
                                         "output": output, "error": None}))
        pipe.lrem(processing, 1, task_id)
        pipe.execute()


def main(argv: list[str]) -> int:
    redis_url, circle_pk, output = argv
    relay(redis.Redis.from_url(redis_url, decode_responses=True), circle_pk, output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
