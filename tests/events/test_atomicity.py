"""A change and its outbox event are never apart: a failure forced between them leaves neither.

The failure is a database trigger that refuses inserts into one table, so the test does not depend
on how the code writes (one statement, one transaction, or, wrongly, two transactions): if the
event were written after the change's commit, the change would survive the event's failure here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.events.models import OutboxEvent
from backend.partybuilding import rotating_code
from backend.partybuilding import service as party_service
from backend.partybuilding.models import Activity, Branch, BranchMember, Checkin
from backend.partybuilding.schemas import ActivityCreate, CheckinCreate
from backend.wechat.client import WeChatService
from backend.wechat.emulator import openid_for
from tests.factories import make_authority, make_open_activity, make_org, make_user

TRIGGER = "guard_injected_failure"


@asynccontextmanager
async def inserts_fail(table: str) -> AsyncIterator[None]:
    """Every INSERT into ``table`` raises until the block ends."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(
            "CREATE OR REPLACE FUNCTION guard_injected_failure() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
        )
        await conn.execute_query(
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION guard_injected_failure()"
        )
    else:
        await conn.execute_query(
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    try:
        yield
    finally:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_query(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}")
        else:
            await conn.execute_query(f"DROP TRIGGER IF EXISTS {TRIGGER}")


@pytest.fixture
async def activity(db) -> Activity:
    return await make_open_activity(title="原子性")


async def _scan(activity: Activity, member) -> tuple[object, bool]:
    now = datetime.now(UTC)
    code = rotating_code.current(secret=activity.code_secret, activity_id=activity.id, interval_s=60, now=now)
    body = CheckinCreate(code=code.code, latitude=22.5431, longitude=114.0579, accuracy=5)
    return await party_service.check_in(activity_id=activity.id, member=member, body=body, now=now)


async def test_a_check_in_whose_event_fails_is_not_recorded(activity):
    member = await make_user()
    async with inserts_fail("outbox_events"):
        with pytest.raises(Exception, match="injected failure"):
            await _scan(activity, member)
    assert await Checkin.filter(activity=activity).count() == 0
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 0
    # Once the failure is gone, the scan records both, together.
    _, created = await _scan(activity, member)
    assert created
    assert await Checkin.filter(activity=activity, user=member).count() == 1
    assert await OutboxEvent.filter(idempotency_key=f"checkin:{activity.id}:{member.id}").count() == 1


async def test_a_check_in_that_fails_leaves_no_event(activity):
    member = await make_user()
    async with inserts_fail("party_checkins"):
        with pytest.raises(Exception, match="injected failure"):
            await _scan(activity, member)
    assert await OutboxEvent.all().count() == 0
    assert await Checkin.all().count() == 0


@pytest.fixture
async def organizer(db, settings, emulator):
    org = await make_org(await make_authority("440300"))
    staff = await make_user(openid=openid_for(settings.wechat_appid, "atomic-staff"))
    await StaffRole.create(user=staff, organization=org, role="owner")
    branch = await Branch.create(organization=org, name="第一党支部")
    await BranchMember.create(branch=branch, user=await make_user(), membership="full")
    wechat = WeChatService.create(
        appid=settings.wechat_appid, secret=settings.wechat_secret.get_secret_value(), api_base=emulator.url
    )
    yield {"org": org, "staff": staff, "branch": branch, "wechat": wechat}
    wechat.close()


async def _publish(organizer) -> Activity:
    starts = datetime.now(UTC) + timedelta(days=1)
    data = ActivityCreate(
        kind="theme_day",
        title="明天的主题党日",
        branch_id=organizer["branch"].id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        place="市民中心",
        latitude=22.5431,
        longitude=114.0579,
        expected="branch",
    )
    return await party_service.create_activity(
        actor=organizer["staff"],
        code=organizer["org"].credit_code,
        data=data,
        wechat=organizer["wechat"],
        default_interval_s=15,
    )


@pytest.mark.parametrize("failing", ["outbox_events", "audit_entries"])
async def test_an_activity_and_its_reminder_are_recorded_together_or_not_at_all(organizer, failing):
    async with inserts_fail(failing):
        with pytest.raises(Exception, match="injected failure"):
            await _publish(organizer)
    assert await Activity.all().count() == 0
    assert await OutboxEvent.filter(kind="activity.reminder_due").count() == 0
    assert await AuditEntry.filter(action="activity.create").count() == 0
    activity = await _publish(organizer)
    reminder = await OutboxEvent.get(kind="activity.reminder_due")
    assert reminder.payload["activity_id"] == activity.id
