"""Running one script on the circle's worker through Redis (see worker/protocol.py)."""
from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from worker import protocol

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_MARGIN = 5.0
"""Seconds a Redis reply may lag behind a BRPOP's own timeout before the connection is dropped."""


def connect(redis_url: str, max_connections: int, wait: float) -> aioredis.Redis:
    """One shared async client for the server; a play waits up to ``wait`` s for a free connection.

    Retries are off on purpose: a resent play pipeline would queue the task twice. The socket
    timeout must outlast a play's BRPOP (``wait`` s): redis-py's 5 s default would cut off any
    script that runs longer than that.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url, max_connections=max_connections, timeout=wait, decode_responses=True,
        retry=Retry(NoBackoff(), 0), socket_timeout=wait + SOCKET_TIMEOUT_MARGIN)
    return aioredis.Redis(connection_pool=pool)


async def run_script(client: aioredis.Redis, circle_public_key: str, script: str, caller: str,
                     timeout: float) -> protocol.TaskResult:
    """Queue ``script`` for the circle's worker and wait up to ``timeout`` s for its reply.

    Same keys and fields as ``protocol.submit_async`` + ``protocol.await_result_async``, but
    sent as one pipeline (HSET, LPUSH, BRPOP) on one pooled connection: one round trip and one
    connection per in-flight play, which measured about a quarter more plays/s.
    On timeout a task the worker has not picked up yet is withdrawn from the queue and marked
    ``timeout``, so it cannot run later for a caller who has already been told it failed.
    """
    task_id, fields = protocol.new_task(script, caller)
    pipe = client.pipeline(transaction=False)
    pipe.hset(protocol.details_key(task_id), mapping=fields)
    pipe.lpush(protocol.queue_key(circle_public_key), task_id)
    pipe.brpop([protocol.reply_key(task_id)], timeout=timeout)
    popped = (await pipe.execute())[2]
    if popped is not None:
        return protocol.decode_reply(popped[1])
    result = protocol.timeout_result(task_id, timeout)
    await _withdraw(client, circle_public_key, result)
    return result


async def _withdraw(client: aioredis.Redis, circle_public_key: str,
                    result: protocol.TaskResult) -> None:
    removed = await client.lrem(protocol.queue_key(circle_public_key), 1, result.task_id)
    if removed:
        key = protocol.details_key(result.task_id)
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, mapping=dict(protocol.finished_fields(result)))
        pipe.expire(key, protocol.DEFAULT_RESULT_TTL)
        await pipe.execute()
        log.info("task %s withdrawn: no worker took it within the timeout", result.task_id)
