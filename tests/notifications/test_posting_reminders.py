"""Posting reminders: recorded when a posting opens, due before it starts, sent once to confirmed sign-ups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from backend.events.models import OutboxEvent, OutboxStatus
from backend.recruitment import reminders
from backend.subscriptions import deliveries
from backend.subscriptions.models import Delivery, DeliveryStatus
from notifications.delivery import build_wechat
from notifications.embedded import EmbeddedWorker
from tests.conftest import login
from tests.recruitment.conftest import (
    open_posting,
    org,  # noqa: F401  (the fixture)
    user_of,
)

from .conftest import consent

KIND = "posting.reminder_due"


async def _signed_up(client: httpx.AsyncClient, posting: dict[str, Any], names: list[str]) -> list[Any]:
    users = []
    for name in names:
        headers = await login(client, name)
        response = await client.post(
            f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=headers
        )
        assert response.status_code == 201, response.text
        users.append((headers, await user_of(client, headers)))
    return users


async def _fall_due(posting_id: int, starts_in: timedelta = timedelta(minutes=30)) -> None:
    """Move the posting to start soon and its reminder to be due now."""
    now = datetime.now(UTC)
    event = next(e for e in await OutboxEvent.filter(kind=KIND) if e.payload["posting_id"] == posting_id)
    event.payload = {
        **event.payload,
        "starts_at": (now + starts_in).isoformat(),
        "due_at": (now - timedelta(seconds=1)).isoformat(),
    }
    event.available_at = now - timedelta(seconds=1)
    await event.save()


async def test_opening_a_posting_records_its_reminder_due_the_configured_time_before(client, org):  # noqa: F811
    posting = await open_posting(client, org)
    events = await OutboxEvent.filter(kind=KIND)
    assert len(events) == 1
    starts_at = datetime.fromisoformat(posting["starts_at"])
    assert events[0].available_at == starts_at - reminders.DEFAULT_BEFORE
    assert datetime.fromisoformat(events[0].payload["due_at"]) == starts_at - reminders.DEFAULT_BEFORE
    assert events[0].recipients == []  # decided when due
    assert events[0].idempotency_key == f"{KIND}:{posting['id']}"
    # Not before it is due: the relay leaves it alone.
    assert await deliveries.expand_due_events(now=datetime.now(UTC), templates={KIND: "t"}) == 0


async def test_a_due_reminder_reaches_each_confirmed_sign_up_once_with_two_workers_racing(
    client,
    org,  # noqa: F811
    notify_settings,
    emulator,
):
    posting = await open_posting(client, org, capacity=2)
    (_, a), (b_h, b), (_, c) = await _signed_up(client, posting, ["rem-a", "rem-b", "rem-c"])
    # c waits; b cancels, so c is promoted: a and c hold the seats when the reminder falls due.
    assert (
        await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=b_h)
    ).status_code == 200
    for user in (a, b, c):
        await consent(user, KIND, notify_settings, emulator, count=3)
    await _fall_due(posting["id"])
    local = notify_settings.model_copy(update={"redis_url": None})
    workers = [EmbeddedWorker(settings=local, wechat=build_wechat(local)) for _ in range(2)]
    try:
        for _ in range(3):
            await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        for w in workers:
            w.wechat.close()
    delivered = await Delivery.filter(kind=KIND)
    assert sorted(d.user_id for d in delivered) == sorted([a.id, c.id])
    assert all(d.status == DeliveryStatus.SENT for d in delivered)
    messages = [m for m in emulator.messages() if m["data"]["thing1"]["value"] == posting["title"]]
    assert sorted(m["touser"] for m in messages) == sorted([a.openid, c.openid])
    event = await OutboxEvent.get(kind=KIND)
    assert event.status == OutboxStatus.DELIVERED and sorted(event.recipients) == sorted([a.id, c.id])


async def test_relays_racing_on_one_due_reminder_expand_it_once(client, org):  # noqa: F811
    posting = await open_posting(client, org)
    await _signed_up(client, posting, ["race-a", "race-b"])
    await _fall_due(posting["id"])
    now = datetime.now(UTC)
    await asyncio.gather(*(deliveries.expand_due_events(now=now, templates={KIND: "t"}) for _ in range(4)))
    assert await Delivery.filter(kind=KIND).count() == 2
    event = await OutboxEvent.get(kind=KIND)
    assert (event.status, event.attempts) == (OutboxStatus.DELIVERED, 1)  # expanded by one relay


async def test_a_cancelled_posting_reminds_nobody(client, org):  # noqa: F811
    posting = await open_posting(client, org)
    await _signed_up(client, posting, ["gone-a", "gone-b"])
    cancelled = await client.post(
        f"/api/v1/postings/{posting['id']}/cancel", json={"reason": "天气原因取消"}, headers=org["staff"]
    )
    assert cancelled.status_code == 200
    await _fall_due(posting["id"])
    await deliveries.expand_due_events(now=datetime.now(UTC), templates={KIND: "t"})
    assert await Delivery.filter(kind=KIND).count() == 0
    assert (await OutboxEvent.get(kind=KIND)).status == OutboxStatus.DELIVERED


async def test_a_cancelled_sign_up_is_not_reminded(client, org):  # noqa: F811
    posting = await open_posting(client, org)
    (_, stays), (leaver_h, _) = await _signed_up(client, posting, ["keep-a", "leave-b"])
    assert (
        await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=leaver_h)
    ).status_code == 200
    await _fall_due(posting["id"])
    await deliveries.expand_due_events(now=datetime.now(UTC), templates={KIND: "t"})
    assert [d.user_id for d in await Delivery.filter(kind=KIND)] == [stays.id]
