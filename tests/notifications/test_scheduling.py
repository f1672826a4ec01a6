"""Reminders wait for their time; several workers never send one message twice; crashes leave a trace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.events import service as events_service
from backend.events.models import OutboxEvent, OutboxStatus
from backend.subscriptions import deliveries
from backend.subscriptions.models import Delivery, DeliveryStatus, SubscriptionConsent
from notifications.delivery import build_wechat
from notifications.embedded import EmbeddedWorker

from .conftest import consent, record_checkin, wechat_user


def _reminder(starts_in: timedelta, due_in: timedelta) -> dict:
    now = datetime.now(UTC)
    return {
        "activity_id": 3,
        "due_at": (now + due_in).isoformat(),
        "title": "支部委员会",
        "starts_at": (now + starts_in).isoformat(),
        "place": "党员活动室",
    }


async def test_a_reminder_is_not_delivered_before_it_is_due(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "activity.reminder_due", notify_settings, emulator)
    event = await events_service.record(
        kind="activity.reminder_due",
        payload=_reminder(timedelta(hours=2), timedelta(seconds=1)),
        recipients=[user.id],
        idempotency_key="activity:3:reminder",
    )
    assert event.available_at > datetime.now(UTC) + timedelta(seconds=0.5)
    await worker.run_once()
    assert await Delivery.all().count() == 0
    assert emulator.messages() == []
    # Once due, it goes out, once.
    await asyncio.sleep((event.available_at - datetime.now(UTC)).total_seconds() + 0.05)
    await worker.run_once()
    await worker.run_once()
    [message] = emulator.messages()
    assert message["data"]["thing3"] == {"value": "党员活动室"}


async def test_a_reminder_written_without_its_available_at_still_waits(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await OutboxEvent.create(
        kind="posting.reminder_due",
        payload={
            **_reminder(timedelta(hours=2), timedelta(hours=1)),
            "posting_title": "植树",
            "posting_id": 9,
        },
        recipients=[user.id],
        idempotency_key="posting:9:reminder",
    )
    await worker.run_once()
    event = await OutboxEvent.get(idempotency_key="posting:9:reminder")
    assert event.status == OutboxStatus.PENDING
    assert event.available_at > datetime.now(UTC) + timedelta(minutes=59)
    assert await Delivery.all().count() == 0


async def test_a_reminder_of_something_already_begun_is_skipped(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "activity.reminder_due", notify_settings, emulator)
    await events_service.record(
        kind="activity.reminder_due",
        payload=_reminder(-timedelta(minutes=5), -timedelta(hours=1)),
        recipients=[user.id],
        idempotency_key="activity:4:reminder",
    )
    await worker.run_once()
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.SKIPPED, "reminder.too_late")
    assert (await SubscriptionConsent.get(user=user)).remaining == 1  # given back
    assert emulator.messages() == []


async def test_two_workers_at_once_send_every_message_exactly_once(db, notify_settings, emulator):
    users = [await wechat_user(emulator) for _ in range(12)]
    for user in users:
        await consent(user, "checkin.recorded", notify_settings, emulator, count=2)
        for n in range(3):
            await record_checkin(user, n)
    local = notify_settings.model_copy(update={"redis_url": None, "notify_batch_size": 5})
    workers = [EmbeddedWorker(settings=local, wechat=build_wechat(local)) for _ in range(2)]
    try:
        for _ in range(4):
            await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        for w in workers:
            w.wechat.close()
    messages = emulator.messages()
    pairs = [(m["touser"], m["data"]["thing1"]["value"]) for m in messages]
    assert len(messages) == 24 == len(set((m["touser"], m["msgid"]) for m in messages))
    statuses = [d.status for d in await Delivery.all()]
    assert statuses.count(DeliveryStatus.SENT) == 24
    assert statuses.count(DeliveryStatus.SKIPPED) == 12
    assert len(pairs) == 24
    assert all(c.remaining == 0 for c in await SubscriptionConsent.all())


async def test_consents_never_go_below_zero_when_claims_race(db, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, None, count=3)
    for n in range(10):
        await record_checkin(user, n)
    await deliveries.expand_due_events(now=datetime.now(UTC), templates={"checkin.recorded": "t"}, limit=100)
    await Delivery.all().update(template_id=(await SubscriptionConsent.get(user=user)).template_id)
    ids = [d.id for d in await Delivery.all()]
    results = await asyncio.gather(*(deliveries.claim(ids=[i], now=datetime.now(UTC)) for i in ids))
    assert sum(len(r.to_send) for r in results) == 3
    assert (await SubscriptionConsent.get(user=user)).remaining == 0


async def test_a_send_interrupted_by_a_crash_is_dead_lettered_not_resent(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    await record_checkin(user)
    await worker.relay.tick()
    await worker.drain()
    delivery = await Delivery.get(user_id=user.id)
    # As a worker that died after claiming would leave it:
    await Delivery.filter(id=delivery.id).update(
        status=DeliveryStatus.SENDING, claim_token="x", claimed_at=datetime.now(UTC) - timedelta(hours=1)
    )
    await deliveries.recover_interrupted(now=datetime.now(UTC), lease=60)
    delivery = await Delivery.get(id=delivery.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.DEAD, "delivery.interrupted")
    assert delivery.dead_letters == 1
