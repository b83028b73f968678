"""The WebSocket server's Redis connections (wsserver.tasks.RedisConnections) on a real Redis:
a round trip sent at once on an idle connection, waits for a free one in turn, gives up after
its wait, and an abandoned round trip never leaves a connection out of step.
"""
from __future__ import annotations

import asyncio
import uuid

import pytest

from wsserver.tasks import RedisConnections, RedisFailure


def key() -> str:
    return f"pool-test:{uuid.uuid4()}"


def test_round_trips_queue_for_the_connections_and_give_up_after_their_wait(
        redis_url: str) -> None:
    async def scenario() -> list[object]:
        redis = RedisConnections(redis_url, 1, 0.2)
        held, queued = key(), key()
        await redis.round_trip([("PING",)])  # opens the connection: start() sends at once
        holder = redis.start([("BRPOP", held, 0)])  # holds the only connection until pushed
        with pytest.raises(RedisFailure, match="No connection available"):
            await redis.round_trip([("PING",)])
        waiter = redis.start([("LPUSH", queued, "x")])  # queued: sent once the holder is done
        await asyncio.sleep(0)
        assert not waiter.done()
        patient = RedisConnections(redis_url, 1, 30.0)
        await patient.round_trip([("LPUSH", held, "go")])
        answers = [await holder, await waiter, await redis.round_trip([("RPOP", queued)])]
        await redis.aclose()
        await patient.aclose()
        return answers

    holder, waiter, popped = asyncio.run(scenario())
    assert holder[0][1] == "go" and waiter == [1] and popped == ["x"]


def test_an_abandoned_round_trip_frees_its_connection_and_the_next_one_is_in_step(
        redis_url: str) -> None:
    async def scenario() -> list[object]:
        redis = RedisConnections(redis_url, 1, 30.0)
        waiting = key()
        await redis.round_trip([("PING",)])  # opens the connection: start() sends at once
        abandoned = redis.start([("BRPOP", waiting, 0)])
        abandoned.cancel()  # a client left mid-play: its connection is dropped, not reused
        replies = await redis.round_trip([("LPUSH", waiting, "late"), ("PING",)])
        await redis.aclose()
        return replies

    assert asyncio.run(scenario()) == [1, "PONG"]


def test_a_round_trip_larger_than_the_socket_buffers_is_written_and_read_whole(
        redis_url: str) -> None:
    async def scenario() -> list[object]:
        redis = RedisConnections(redis_url, 1, 30.0)
        await redis.round_trip([("PING",)])  # opens the connection: start() sends at once
        stored = key()
        value = "0123456789abcdef" * (512 * 1024)  # 8 MiB: more than one send takes
        replies = await asyncio.wait_for(
            redis.start([("SET", stored, value), ("STRLEN", stored), ("GET", stored),
                         ("DEL", stored)]), 30)
        after = await asyncio.wait_for(redis.round_trip([("PING",)]), 30)
        await redis.aclose()
        return [*replies[:2], replies[2] == value, *replies[3:], *after]

    assert asyncio.run(scenario()) == ["OK", 8 * 1024 * 1024, True, 1, "PONG"]
