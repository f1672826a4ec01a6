"""An event is stored if and only if the change that caused it commits."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from backend.accounts.models import User
from backend.events import service as events_service
from backend.events.models import OutboxEvent, OutboxStatus
from tests.factories import make_user


class Boom(Exception):
    pass


async def _create_user_with_event(openid: str, *, fail: bool = False) -> None:
    async with in_transaction():
        user = await make_user(openid=openid)
        await events_service.record(
            kind="user.joined",
            payload={"user_id": user.id},
            recipients=[user.id],
            idempotency_key=f"joined:{openid}",
        )
        if fail:
            raise Boom()


async def test_committed_change_has_its_event(db):
    await _create_user_with_event("o-committed")
    event = await OutboxEvent.get(idempotency_key="joined:o-committed")
    user = await User.get(openid="o-committed")
    assert event.payload == {"user_id": user.id}
    assert event.recipients == [user.id]
    assert event.status == OutboxStatus.PENDING
    assert [e.id for e in await events_service.get_pending()] == [event.id]


async def test_rolled_back_change_leaves_no_event(db):
    with pytest.raises(Boom):
        await _create_user_with_event("o-rolled-back", fail=True)
    assert await User.filter(openid="o-rolled-back").count() == 0
    assert await OutboxEvent.filter(idempotency_key="joined:o-rolled-back").count() == 0


async def test_same_idempotency_key_records_one_event(db):
    user = await make_user()
    for _ in range(3):
        async with in_transaction():
            await events_service.record(
                kind="checkin.recorded", payload={"n": 1}, recipients=[user.id], idempotency_key="checkin:1:1"
            )
    assert await OutboxEvent.filter(idempotency_key="checkin:1:1").count() == 1


async def test_a_duplicate_key_does_not_abort_the_surrounding_transaction(db):
    # On PostgreSQL a failed INSERT would poison the transaction; ON CONFLICT DO NOTHING must not.
    user = await make_user()
    await events_service.record(kind="k", payload={}, recipients=[user.id], idempotency_key="dup")
    async with in_transaction():
        await events_service.record(kind="k", payload={}, recipients=[user.id], idempotency_key="dup")
        await make_user(openid="o-after-duplicate")
    assert await User.filter(openid="o-after-duplicate").count() == 1


async def test_concurrent_records_of_one_key_yield_one_event(db):
    user = await make_user()

    async def record_once() -> int:
        async with in_transaction():
            event = await events_service.record(
                kind="k", payload={}, recipients=[user.id], idempotency_key="race"
            )
            return event.id

    ids = await asyncio.gather(*(record_once() for _ in range(10)))
    assert len(set(ids)) == 1
    assert await OutboxEvent.filter(idempotency_key="race").count() == 1
