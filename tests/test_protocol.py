"""The Redis task protocol: key names and layouts other Circles tools rely on, and the worker's
atomic steps over them (worker/taskqueue.py)."""
from __future__ import annotations

import json
import os
import socket
import uuid

import pytest
import redis

from worker import protocol
from worker.taskqueue import Task, TaskQueue, finish_arguments

PK = "02" + "ab" * 32


def test_key_names_match_rhai_client() -> None:
    assert protocol.queue_key(PK) == f"rhai_tasks:{PK}"
    assert protocol.processing_key(PK) == f"rhai_processing:{PK}"
    assert protocol.details_key("t1") == "rhai_task_details:t1"
    assert protocol.reply_key("t1") == "rhai_reply:t1"
    assert protocol.heartbeat_key(PK) == f"circles_worker:{PK}:heartbeat"
    assert protocol.worker_heartbeat_key(PK, "vm1", 42) == f"circles_worker:{PK}:heartbeat:vm1:42"
    assert protocol.worker_processing_key(PK, "vm1", 42) == f"rhai_processing:{PK}:vm1:42"
    assert protocol.workers_key(PK) == f"circles_worker:{PK}:workers"
    assert protocol.worker_member("vm1", 42) == "vm1:42"
    assert protocol.parse_worker_member("vm-1.example:42") == ("vm-1.example", 42)
    assert protocol.parse_worker_member("nonsense") is None


def test_new_task_has_every_field_rhai_client_writes() -> None:
    task_id, fields = protocol.new_task("40 + 2", "03" + "cd" * 32, now=1700000000.7)
    assert uuid.UUID(task_id).version == 4
    assert fields == {
        "script": "40 + 2", "status": "pending", "caller_id": "03" + "cd" * 32,
        "reply_queue_name": f"rhai_reply:{task_id}",
        "created_at": "1700000000", "updated_at": "1700000000",
    }


def test_new_tasks_get_distinct_ids() -> None:
    assert len({protocol.new_task("1", "c")[0] for _ in range(100)}) == 100


def test_task_ids_are_random_uuid4_in_their_canonical_text() -> None:
    for _ in range(200):
        task_id = protocol.new_task_id()
        parsed = uuid.UUID(task_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122) and str(parsed) == task_id


def test_reply_round_trips_through_json() -> None:
    result = protocol.TaskResult("t1", protocol.STATUS_COMPLETED, "hi\n42", None)
    raw = protocol.encode_reply(result)
    assert json.loads(raw) == {"task_id": "t1", "status": "completed", "output": "hi\n42",
                               "error": None}
    assert protocol.decode_reply(raw) == result
    assert protocol.decode_reply(raw.encode()) == result
    assert result.ok


def test_reply_text_is_what_json_dumps_writes() -> None:
    """Other Circles components read the reply queue: its text stays json.dumps' (ASCII-escaped,
    ", " and ": " separators), whatever the output holds."""
    output = 'ü \u2028 \x00 \U0001f600 "q" \\ \n'
    result = protocol.error_result("t3", "boom\tthere", output)
    assert protocol.encode_reply(result) == json.dumps(
        {"task_id": "t3", "status": "error", "output": output, "error": "boom\tthere"})


@pytest.mark.parametrize("raw", [' {"task_id": "t", "status": "completed"}\n',
                                 '\t{"task_id": "t", "status": "completed"}'])
def test_decode_reply_accepts_whitespace_around_the_object(raw: str) -> None:
    assert protocol.decode_reply(raw) == protocol.TaskResult("t", "completed")


def test_decode_reply_refuses_data_after_the_object() -> None:
    with pytest.raises(ValueError):
        protocol.decode_reply('{"task_id": "t", "status": "completed"} {}')


def test_error_reply_is_not_ok() -> None:
    result = protocol.error_result("t2", "boom (line 1, position 3)")
    decoded = protocol.decode_reply(protocol.encode_reply(result))
    assert decoded.status == "error" and decoded.error == "boom (line 1, position 3)"
    assert not decoded.ok


@pytest.mark.parametrize("raw", ['[1, 2]', '{"status": "completed"}', '{"task_id": "x"}', '42'])
def test_decode_reply_refuses_non_replies(raw: str) -> None:
    with pytest.raises(ValueError, match="not a task reply"):
        protocol.decode_reply(raw)


def test_decode_reply_refuses_broken_json() -> None:
    with pytest.raises(ValueError):
        protocol.decode_reply("{nope")


def test_timeout_result_names_the_wait() -> None:
    result = protocol.timeout_result("t3", 2.5)
    assert result.status == "timeout" and result.error == "no reply within 2.5 s"


def test_finished_fields_store_output_or_error() -> None:
    done = protocol.TaskResult("t", protocol.STATUS_COMPLETED, "42")
    assert protocol.finished_fields(done, now=5.9) == {"status": "completed", "updated_at": "5",
                                                       "output": "42"}
    failed = protocol.error_result("t", "bad")
    assert protocol.finished_fields(failed, now=7) == {"status": "error", "updated_at": "7",
                                                       "error": "bad"}


def test_reply_queue_only_honours_reply_queues() -> None:
    assert protocol.reply_queue_for("t", "rhai_reply:custom") == "rhai_reply:custom"
    assert protocol.reply_queue_for("t", None) == "rhai_reply:t"
    assert protocol.reply_queue_for("t", "") == "rhai_reply:t"
    assert protocol.reply_queue_for("t", f"rhai_tasks:{PK}") == "rhai_reply:t"


def test_heartbeat_round_trip() -> None:
    raw = protocol.encode_heartbeat(1234, "Dunia", 100.5, 103.25, "vm1")
    assert protocol.decode_heartbeat(raw) == {"pid": 1234, "name": "Dunia", "host": "vm1",
                                              "started_at": 100.5, "ts": 103.25}


@pytest.mark.parametrize("raw", [None, "", "garbage", "[]", '{"pid": "12"}', '{"name": "x"}'])
def test_decode_heartbeat_rejects_non_heartbeats(raw: str | None) -> None:
    assert protocol.decode_heartbeat(raw) is None


def test_submit_writes_hash_then_queues_id(redis_client: redis.Redis) -> None:
    task_id = protocol.submit(redis_client, PK, "print(1)", "caller")
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [task_id]
    details = redis_client.hgetall(protocol.details_key(task_id))
    assert details["script"] == "print(1)" and details["status"] == "pending"
    assert details["caller_id"] == "caller"


def test_await_result_returns_the_pushed_reply(redis_client: redis.Redis) -> None:
    reply = protocol.TaskResult("t9", protocol.STATUS_COMPLETED, "42")
    redis_client.lpush(protocol.reply_key("t9"), protocol.encode_reply(reply))
    assert protocol.await_result(redis_client, "t9", timeout=1) == reply


def test_await_result_times_out_without_reply(redis_client: redis.Redis) -> None:
    assert protocol.await_result(redis_client, "never", timeout=0.1).status == "timeout"


@pytest.fixture
def queue(redis_client: redis.Redis) -> TaskQueue:
    return TaskQueue(redis_client, PK, result_ttl=500)


def claim(client: redis.Redis, processing: str) -> None:
    """Move the oldest queued id into a processing list, as a worker does."""
    client.lmove(protocol.queue_key(PK), processing, "RIGHT", "LEFT")


def test_wait_claims_oldest_task_and_marks_it_processing(redis_client: redis.Redis,
                                                         queue: TaskQueue) -> None:
    first = protocol.submit(redis_client, PK, "1 + 1", "me")
    protocol.submit(redis_client, PK, "2", "me")
    task = queue.wait(0.1)
    assert task == Task(first, "1 + 1", "me", f"rhai_reply:{first}", "pending", 1)
    assert redis_client.hget(protocol.details_key(first), "status") == "processing"
    assert redis_client.hget(protocol.details_key(first), "attempts") == "1"
    assert redis_client.lrange(queue.processing, 0, -1) == [first]
    assert queue.processing == protocol.worker_processing_key(PK, socket.gethostname(),
                                                               os.getpid())


def test_wait_and_finish_work_after_redis_forgot_the_scripts(redis_client: redis.Redis,
                                                              queue: TaskQueue) -> None:
    first = protocol.submit(redis_client, PK, "1", "me")
    second = protocol.submit(redis_client, PK, "2", "me")
    redis_client.script_flush()  # as after a Redis restart
    task = queue.wait(0.1)
    assert task is not None and task.task_id == first and task.status == "pending"
    assert redis_client.hget(protocol.details_key(first), "status") == "processing"
    redis_client.script_flush()
    following, = queue.finish_many([(task, protocol.TaskResult(first, "completed", "1"))], 1)
    assert following.task_id == second
    assert protocol.await_result(redis_client, first, 1).output == "1"


def test_wait_on_empty_queue_returns_none(queue: TaskQueue) -> None:
    assert queue.wait(0.05) is None


def test_missing_and_finished_tasks_are_left_alone(redis_client: redis.Redis,
                                                   queue: TaskQueue) -> None:
    redis_client.hset("rhai_task_details:done", mapping={"script": "1", "status": "completed"})
    redis_client.lpush(protocol.queue_key(PK), "done", "gone")
    done = queue.wait(0.1)
    assert done is not None and done.finished and not done.missing
    assert redis_client.hget("rhai_task_details:done", "status") == "completed"
    gone, = queue.finish_many([(done, None)], 1)
    assert gone.task_id == "gone" and gone.missing
    assert not redis_client.exists("rhai_task_details:gone")
    assert redis_client.llen(protocol.reply_key("done")) == 0


def test_task_withdrawn_by_its_caller_is_not_run(redis_client: redis.Redis,
                                                 queue: TaskQueue) -> None:
    task_id = protocol.submit(redis_client, PK, "1", "me")
    redis_client.hset(protocol.details_key(task_id), "status", "timeout")
    task = queue.wait(0.1)
    assert task.finished
    assert redis_client.hget(protocol.details_key(task_id), "status") == "timeout"


def test_finish_writes_result_reply_expiry_and_claims_next(redis_client: redis.Redis,
                                                           queue: TaskQueue) -> None:
    task_id = protocol.submit(redis_client, PK, "40 + 2", "me")
    next_id = protocol.submit(redis_client, PK, "next", "you")
    task = queue.wait(0.1)
    result = protocol.TaskResult(task_id, protocol.STATUS_COMPLETED, "42")
    following, = queue.finish_many([(task, result)], 1)
    details = redis_client.hgetall(protocol.details_key(task_id))
    assert details["status"] == "completed" and details["output"] == "42"
    assert 0 < redis_client.ttl(protocol.details_key(task_id)) <= 500
    assert 0 < redis_client.ttl(protocol.reply_key(task_id)) <= 500
    assert protocol.await_result(redis_client, task_id, 1) == result
    assert following == Task(next_id, "next", "you", f"rhai_reply:{next_id}", "pending", 1)
    assert redis_client.lrange(queue.processing, 0, -1) == [next_id]
    assert queue.finish_many([(following, protocol.error_result(next_id, "bad"))], 1) == []
    assert redis_client.hget(protocol.details_key(next_id), "error") == "bad"
    assert redis_client.llen(queue.processing) == 0


def test_finish_without_claim_leaves_the_queue(redis_client: redis.Redis,
                                               queue: TaskQueue) -> None:
    task_id = protocol.submit(redis_client, PK, "1", "me")
    protocol.submit(redis_client, PK, "2", "me")
    task = queue.wait(0.1)
    assert queue.finish_many([(task, protocol.TaskResult(task_id, "completed", "1"))], 0) == []
    assert redis_client.llen(protocol.queue_key(PK)) == 1


def test_error_reply_for_a_missing_hash_creates_no_hash(redis_client: redis.Redis,
                                                         queue: TaskQueue) -> None:
    redis_client.lpush(protocol.queue_key(PK), "ghost")
    task = queue.wait(0.1)
    queue.finish_many([(task, protocol.error_result("ghost", "task details not found"))], 1)
    assert not redis_client.exists(protocol.details_key("ghost"))
    assert 0 < redis_client.ttl(protocol.reply_key("ghost")) <= 500
    assert protocol.await_result(redis_client, "ghost", 1).error == "task details not found"


def test_finish_arguments_layout() -> None:
    task = Task("t", "s", "c", "rhai_reply:t", "processing", 1)
    result = protocol.TaskResult("t", protocol.STATUS_COMPLETED, "42")
    assert finish_arguments(task, result, now=10.5) == [
        "t", protocol.encode_reply(result), 6, "status", "completed", "updated_at", "10",
        "output", "42"]
    gone = Task("t", None, None, "rhai_reply:t", None)
    assert finish_arguments(gone, result, now=10) == ["t", protocol.encode_reply(result), 0]
    assert finish_arguments(task, None, now=10) == ["t", "", 0]


def test_finish_many_answers_every_task_and_claims_a_batch_oldest_first(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    ids = [protocol.submit(redis_client, PK, str(n), "me") for n in range(5)]
    first = queue.wait(0.1)
    batch = queue.finish_many([(first, protocol.TaskResult(ids[0], "completed", "0"))], claim=3)
    assert [task.task_id for task in batch] == ids[1:4]
    assert all(redis_client.hget(protocol.details_key(i), "status") == "processing"
               for i in ids[1:4])
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [ids[4]]
    results = [(task, protocol.TaskResult(task.task_id, "completed", task.script))
               for task in batch]
    assert queue.finish_many(results, claim=0) == []
    for n in range(4):
        assert protocol.await_result(redis_client, ids[n], 1).output == str(n)
        assert redis_client.hget(protocol.details_key(ids[n]), "status") == "completed"
    assert redis_client.llen(queue.processing) == 0
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [ids[4]]


def test_recover_requeues_unfinished_oldest_first_and_drops_finished(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    first = protocol.submit(redis_client, PK, "1", "me")
    second = protocol.submit(redis_client, PK, "2", "me")
    done = protocol.submit(redis_client, PK, "3", "me")
    for _ in range(3):  # this worker's pid took all three, finished one, then died
        claim(redis_client, queue.processing)
    redis_client.hset(protocol.details_key(done), "status", "completed")
    requeued, dropped = queue.recover()
    assert requeued == [first, second] and dropped == [done]
    assert redis_client.llen(queue.processing) == 0
    assert queue.wait(0.1).task_id == first
    assert queue.wait(0.1).task_id == second
    assert redis_client.llen(protocol.queue_key(PK)) == 0


def test_recover_takes_back_the_one_list_per_circle_of_older_workers(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    task_id = protocol.submit(redis_client, PK, "1", "me")
    claim(redis_client, protocol.processing_key(PK))
    assert queue.recover() == ([task_id], [])
    assert redis_client.llen(protocol.processing_key(PK)) == 0
    assert queue.wait(0.1).task_id == task_id


def test_recover_leaves_the_old_list_alone_while_another_worker_beats(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    task_id = protocol.submit(redis_client, PK, "1", "me")
    claim(redis_client, protocol.processing_key(PK))
    other = TaskQueue(redis_client, PK, 500, host="other-vm", pid=7)
    other.beat(protocol.encode_heartbeat(7, "n", 1.0, 2.0, "other-vm"))
    assert queue.recover() == ([], [])
    assert redis_client.lrange(protocol.processing_key(PK), 0, -1) == [task_id]


def test_recover_with_nothing_left_is_a_no_op(queue: TaskQueue) -> None:
    assert queue.recover() == ([], [])


def pool_member(client: redis.Redis, host: str, pid: int, alive: set[int]) -> TaskQueue:
    """Another worker of the pool, as seen by the queue under test (``alive``: live pids)."""
    member = TaskQueue(client, PK, 500, host=host, pid=pid, is_running=alive.__contains__)
    member.beat(protocol.encode_heartbeat(pid, "n", 1.0, 2.0, host))
    return member


def test_sweep_recovers_a_dead_workers_list_and_never_a_live_ones(
        redis_client: redis.Redis) -> None:
    host = socket.gethostname()
    alive = {1, 2}
    me = pool_member(redis_client, host, 1, alive)
    live = pool_member(redis_client, host, 2, alive)
    dead = pool_member(redis_client, host, 3, alive)  # its process is gone, its beat not yet
    remote = pool_member(redis_client, "other-vm", 4, alive)  # beating on another machine
    ids = [protocol.submit(redis_client, PK, str(n), "me") for n in range(3)]
    for holder in (live, dead, remote):
        assert holder.wait(0.1) is not None
    assert me.sweep() == {f"{host}:3": ([ids[1]], [])}
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == [ids[1]]
    assert redis_client.lrange(live.processing, 0, -1) == [ids[0]]
    assert redis_client.lrange(remote.processing, 0, -1) == [ids[2]]
    assert not redis_client.exists(dead.own_heartbeat)
    assert not redis_client.sismember(protocol.workers_key(PK), f"{host}:3")
    redis_client.delete(remote.own_heartbeat)  # the remote worker's heartbeat expired
    assert me.sweep() == {"other-vm:4": ([ids[2]], [])}
    assert me.sweep() == {}
    assert redis_client.smembers(protocol.workers_key(PK)) == {f"{host}:1", f"{host}:2"}


def test_tasks_in_hand_lists_what_each_worker_holds(redis_client: redis.Redis) -> None:
    first = pool_member(redis_client, "vm", 1, {1, 2})
    pool_member(redis_client, "vm", 2, {1, 2})  # holds nothing
    ids = [protocol.submit(redis_client, PK, str(n), "me") for n in range(3)]
    first.wait(0.1)
    first.finish_many([], 1)  # claims one more, as after a batch
    claim(redis_client, protocol.processing_key(PK))  # left by an older worker
    assert protocol.tasks_in_hand(redis_client, PK) == {"vm:1": ids[:2], "": [ids[2]]}


def test_attempts_are_counted_and_a_task_is_not_started_past_the_limit(
        redis_client: redis.Redis) -> None:
    task_id = protocol.submit(redis_client, PK, "1", "me")
    dying = [TaskQueue(redis_client, PK, 500, max_attempts=2, host="vm", pid=pid)
             for pid in (1, 2, 3)]
    for attempt, worker in zip((1, 2, 3), dying):
        task = worker.wait(0.1)
        assert task.task_id == task_id and task.attempt == attempt
        assert worker.counted(task) == (attempt <= 2)
        if attempt <= 2:  # its worker died: the next one to start puts it back in the queue
            worker.recover()
    assert redis_client.hget(protocol.details_key(task_id), "attempts") == "2"
    done = protocol.submit(redis_client, PK, "2", "me")
    redis_client.hset(protocol.details_key(done), "status", "completed")
    assert dying[0].wait(0.1).attempt is None
    assert not redis_client.hexists(protocol.details_key(done), "attempts")


def test_hash_without_attempts_field_from_rhai_client_is_a_first_start(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    task_id = "from-rhai-client"
    redis_client.hset(protocol.details_key(task_id), mapping={
        "script": "1", "status": "pending", "caller_id": "c",
        "reply_queue_name": f"rhai_reply:{task_id}", "created_at": "1", "updated_at": "1"})
    redis_client.lpush(protocol.queue_key(PK), task_id)
    assert queue.wait(0.1).attempt == 1


def test_release_hands_back_the_claim_without_counting_it(redis_client: redis.Redis,
                                                          queue: TaskQueue) -> None:
    ids = [protocol.submit(redis_client, PK, str(n), "me") for n in range(3)]
    first = queue.wait(0.1)
    batch = queue.finish_many([(first, protocol.TaskResult(ids[0], "completed", "0"))], 2)
    queue.release(batch)
    assert redis_client.lrange(protocol.queue_key(PK), 0, -1) == ids[:0:-1]  # oldest next
    assert [redis_client.hget(protocol.details_key(i), "attempts") for i in ids[1:]] == ["0"] * 2
    assert redis_client.llen(queue.processing) == 0


def test_heartbeat_set_and_cleared(redis_client: redis.Redis, queue: TaskQueue) -> None:
    host, pid = socket.gethostname(), os.getpid()
    queue.beat(protocol.encode_heartbeat(pid, "n", 1.0, 2.0, host))
    own = protocol.worker_heartbeat_key(PK, host, pid)
    for key in (own, protocol.heartbeat_key(PK)):
        assert protocol.decode_heartbeat(redis_client.get(key))["pid"] == pid
        assert 0 < redis_client.ttl(key) <= protocol.HEARTBEAT_TTL
    queue.clear_heartbeat()
    assert not redis_client.exists(own)
    assert not redis_client.exists(protocol.heartbeat_key(PK))


def test_clearing_keeps_another_workers_circle_wide_heartbeat(
        redis_client: redis.Redis, queue: TaskQueue) -> None:
    """In a pool, a worker that stops must not hide the circle-wide beat of one still running."""
    queue.beat(protocol.encode_heartbeat(os.getpid(), "n", 1.0, 2.0, socket.gethostname()))
    other = protocol.encode_heartbeat(os.getpid() + 1, "n", 1.0, 3.0, socket.gethostname())
    redis_client.set(protocol.heartbeat_key(PK), other)
    queue.clear_heartbeat()
    assert redis_client.get(protocol.heartbeat_key(PK)) == other


def test_await_result_outlasts_the_client_socket_timeout(redis_url: str) -> None:
    """A caller may wait longer than its client's socket timeout (redis-py 8 defaults to 5 s)."""
    impatient = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=1.5)
    try:
        assert protocol.await_result(impatient, "nobody-answers", timeout=2.5).status == "timeout"
    finally:
        impatient.close()
