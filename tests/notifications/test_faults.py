"""Real faults, real processes: `gongxin worker` killed mid-batch, Redis gone and back, two workers.

Each test ends with the same check (``assert_accounted_for``): every (event, recipient) was sent
exactly once or is recorded as skipped, failed or dead with its reason; WeChat (the emulator) got
no message twice, and got none that is not recorded as sent, except the ones the worker was
sending when it was killed (recorded as dead: ``delivery.interrupted``, outcome unknown).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.events.models import OutboxEvent, OutboxStatus
from backend.subscriptions.models import Delivery, DeliveryStatus
from backend.wechat.emulator import WeChatEmulator

from .conftest import consent, record_checkin, wechat_user
from .processes import RedisServer, WorkerProcess

SEND = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
async def workers(settings, tmp_path) -> AsyncIterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
    for worker in started:
        if worker.log.exists():
            print(worker.log.read_text()[-3000:])  # shown when the test fails


def spawn(workers, settings, redis_url, tmp_path: Path, name: str, **env: str) -> WorkerProcess:
    worker = WorkerProcess(settings, redis_url, tmp_path / f"{name}.log", **env)
    worker.start()
    workers.append(worker)
    return worker


async def make_events(emulator: WeChatEmulator, settings, count: int) -> int:
    """``count`` check-in events for members who each accepted the template once (here and at WeChat)."""
    for n in range(count):
        user = await wechat_user(emulator)
        await consent(user, "checkin.recorded", settings, emulator)
        await record_checkin(user, n)
    return count


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)


async def sent_count() -> int:
    return await Delivery.filter(status=DeliveryStatus.SENT).count()


async def all_final(expected: int) -> bool:
    pending = await OutboxEvent.filter(status=OutboxStatus.PENDING).count()
    final = await Delivery.filter(
        status__in=[DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED, DeliveryStatus.DEAD]
    ).count()
    return pending == 0 and final == expected


async def assert_accounted_for(emulator: WeChatEmulator, expected: int) -> dict[str, int]:
    deliveries = await Delivery.all()
    assert len(deliveries) == expected
    by_status = Counter(d.status.value for d in deliveries)
    assert sum(by_status.values()) == expected  # the counts add up
    assert all(d.reason for d in deliveries if d.status != DeliveryStatus.SENT)
    messages = emulator.messages()
    per_user = Counter(m["touser"] for m in messages)
    assert max(per_user.values(), default=0) <= 1, "a message was sent twice"
    msgids = {str(m["msgid"]) for m in messages}
    sent = [d for d in deliveries if d.status == DeliveryStatus.SENT]
    assert all(d.msgid in msgids for d in sent), "a delivery recorded as sent is not at WeChat"
    recorded = {d.msgid for d in sent}
    unrecorded = msgids - recorded
    interrupted = [d for d in deliveries if d.reason == "delivery.interrupted"]
    assert len(unrecorded) <= len(interrupted), "WeChat got messages nobody knows about"
    return dict(by_status)


async def test_a_worker_killed_mid_batch_and_started_again_sends_nothing_twice(
    db, settings, emulator, redis_server, workers, tmp_path
):
    total = await make_events(emulator, settings, 120)
    emulator.add_fault(SEND, count=10_000, latency_ms=60)  # slow enough to be killed mid-batch
    # The rest of the killed worker's batches is handed out again when their queue lease ends.
    env = {"NOTIFY_SEND_LEASE_SECONDS": "2", "NOTIFY_QUEUE_LEASE_SECONDS": "2"}
    first = spawn(workers, settings, redis_server.url, tmp_path, "first", **env)
    await wait_until(lambda: _at_least(20), 60, "20 messages are sent")
    first.kill()
    in_flight = await Delivery.filter(status=DeliveryStatus.SENDING).count()
    assert in_flight > 0, "killed between batches, not in the middle of one"
    sent_before = await sent_count()
    emulator.clear_faults()
    spawn(workers, settings, redis_server.url, tmp_path, "second", **env)
    await wait_until(lambda: all_final(total), 60, "every delivery is final")
    counts = await assert_accounted_for(emulator, total)
    assert counts.get("sent", 0) + counts.get("dead", 0) == total
    assert counts.get("dead", 0) == in_flight  # exactly the ones claimed when it died
    assert counts["sent"] > sent_before  # the second worker sent the rest


async def _at_least(n: int) -> bool:
    return await sent_count() >= n


async def test_redis_stopped_and_started_delivery_resumes_by_itself(
    db, settings, emulator, redis_server, workers, tmp_path, client
):
    spawn(workers, settings, redis_server.url, tmp_path, "worker", NOTIFY_QUEUE_LEASE_SECONDS="1")
    first = await make_events(emulator, settings, 30)
    await wait_until(lambda: all_final(first), 60, "the first events are delivered")

    redis_server.stop()
    more = await make_events(emulator, settings, 30)
    # The API does not need the queue: a member still reports consents while Redis is down.
    from tests.conftest import login

    headers = await login(client, "during-outage")
    assert (await client.get("/api/v1/me/subscriptions", headers=headers)).status_code == 200
    await asyncio.sleep(1.5)
    assert await OutboxEvent.filter(status=OutboxStatus.PENDING).count() == more  # waiting in the outbox
    assert await sent_count() == first

    redis_server.start()  # the same port, empty: whatever was queued before is gone
    await wait_until(lambda: all_final(first + more), 60, "delivery resumes after Redis is back")
    counts = await assert_accounted_for(emulator, first + more)
    assert counts == {"sent": first + more}


async def test_redis_lost_with_jobs_queued_they_are_handed_out_again(
    db, settings, emulator, redis_server, workers, tmp_path
):
    total = await make_events(emulator, settings, 40)
    emulator.add_fault(SEND, count=10_000, latency_ms=40)
    spawn(workers, settings, redis_server.url, tmp_path, "worker", NOTIFY_QUEUE_LEASE_SECONDS="1")
    await wait_until(lambda: _at_least(5), 60, "some messages are sent")
    redis_server.stop()  # the jobs still queued go with it
    await asyncio.sleep(0.5)
    redis_server.start()
    emulator.clear_faults()
    await wait_until(lambda: all_final(total), 60, "every delivery is final")
    counts = await assert_accounted_for(emulator, total)
    assert counts == {"sent": total}


async def test_two_workers_at_once_send_each_message_once(
    db, settings, emulator, redis_server, workers, tmp_path
):
    total = await make_events(emulator, settings, 150)
    emulator.add_fault(SEND, count=50, errcode=-1)  # some retries too, picked up by either worker
    spawn(workers, settings, redis_server.url, tmp_path, "a")
    spawn(workers, settings, redis_server.url, tmp_path, "b")
    await wait_until(lambda: all_final(total), 60, "every delivery is final")
    counts = await assert_accounted_for(emulator, total)
    assert counts == {"sent": total}
    assert await Delivery.filter(retries__gt=0).count() > 0
