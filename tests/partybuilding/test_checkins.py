"""Rotating codes, check-ins exactly once, refusals, leave and make-up, attendance and its privacy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind, User
from backend.events.models import OutboxEvent
from backend.partybuilding import rotating_code
from backend.partybuilding import service as party_service
from backend.partybuilding.models import Activity, Checkin
from backend.partybuilding.schemas import CheckinCreate
from tests.conftest import error_code, login
from tests.factories import make_authority, make_org

PLACE = {"latitude": 22.5431, "longitude": 114.0579}
NEAR = {"latitude": 22.5436, "longitude": 114.0579}  # about 55 m north
FAR = {"latitude": 22.5531, "longitude": 114.0579}  # about 1.1 km north


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=headers)).json()["id"]


@pytest.fixture
async def world(client: httpx.AsyncClient) -> dict[str, Any]:
    authority = await make_authority("440300", name="深圳市民政局")
    org = await make_org(authority)
    staff = await login(client, "organizer")
    await accounts_service.grant_staff(
        user=await User.get(id=await user_id(client, staff)),
        organization=org,
        role=StaffRoleKind.OWNER,
        actor=None,
    )
    branch = (
        await client.post(
            f"/api/v1/orgs/{org.credit_code}/branches", json={"name": "第一党支部"}, headers=staff
        )
    ).json()
    members = {name: await login(client, name) for name in ("m1", "m2", "m3")}
    for name, headers in members.items():
        body = {
            "user_id": await user_id(client, headers),
            "membership": "full",
            "group_name": "第一小组" if name != "m3" else None,
        }
        assert (
            await client.put(f"/api/v1/branches/{branch['id']}/members", json=body, headers=staff)
        ).status_code == 200
    return {"org": org, "staff": staff, "branch": branch, "members": members, "authority": authority}


async def publish(client, world, **overrides) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "kind": "theme_day",
        "title": "主题党日活动",
        "description": "学习交流",
        "branch_id": world["branch"]["id"],
        "starts_at": (now + timedelta(minutes=20)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "place": "深圳市民中心",
        **PLACE,
        "radius_m": 200,
        "checkin_opens_minutes_before": 30,
        "late_after_minutes": 10,
        "expected": "branch",
        **overrides,
    }
    response = await client.post(
        f"/api/v1/orgs/{world['org'].credit_code}/activities", json=body, headers=world["staff"]
    )
    assert response.status_code == 201, response.text
    return response.json()


async def current_code(client, world, activity_id: int) -> str:
    response = await client.get(f"/api/v1/activities/{activity_id}/checkin-code", headers=world["staff"])
    assert response.status_code == 200, response.text
    return response.json()["code"]


async def scan(client, headers, activity_id: int, code: str, position=NEAR, accuracy=10) -> httpx.Response:
    return await client.post(
        f"/api/v1/activities/{activity_id}/checkins",
        json={"code": code, **position, "accuracy": accuracy},
        headers=headers,
    )


async def test_activity_shows_organization_place_and_radius(client, world):
    activity = await publish(client, world)
    shown = (await client.get(f"/api/v1/activities/{activity['id']}")).json()
    assert shown["organization"]["credit_code"] == world["org"].credit_code
    assert shown["place"] == {"name": "深圳市民中心", **PLACE, "radius_m": 200}
    assert await OutboxEvent.filter(kind="activity.reminder_due").count() == 1


async def test_risky_text_is_refused_before_publishing(client, world):
    now = datetime.now(UTC)
    body = {
        "kind": "other",
        "title": "赌博活动",
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "place": "某地",
        **PLACE,
        "expected": "open",
    }
    response = await client.post(
        f"/api/v1/orgs/{world['org'].credit_code}/activities", json=body, headers=world["staff"]
    )
    assert response.status_code == 422
    assert error_code(response) == "content.rejected"
    assert await Activity.all().count() == 0


async def test_first_scan_records_and_second_returns_the_first(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    first = await scan(client, world["members"]["m1"], activity["id"], code)
    second = await scan(client, world["members"]["m1"], activity["id"], "anything at all")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert first.json()["status"] == "present"
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 1


async def test_many_parallel_scans_by_one_member_record_once(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    responses = await asyncio.gather(
        *(scan(client, world["members"]["m2"], activity["id"], code) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["checked_in_at"] for r in responses}) == 1
    assert await Checkin.filter(activity_id=activity["id"]).count() == 1
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 1


async def test_many_members_checking_in_at_once_are_each_recorded_once(client, world):
    activity = await publish(client, world, expected="open", branch_id=None)
    code = await current_code(client, world, activity["id"])
    crowd = [await login(client, f"crowd{i}") for i in range(30)]
    responses = await asyncio.gather(
        *(scan(client, h, activity["id"], code) for h in crowd for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [200] * 30 + [201] * 30
    assert await Checkin.filter(activity_id=activity["id"]).count() == 30
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 30


async def test_refusals_each_have_their_code(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    member = world["members"]["m1"]
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    other = await publish(client, world, title="另一场活动")
    cases = [
        (forged, NEAR, "checkin.code_invalid"),
        (await current_code(client, world, other["id"]), NEAR, "checkin.code_invalid"),
        ("not-a-code", NEAR, "checkin.code_invalid"),
        (code, FAR, "checkin.outside_geofence"),
    ]
    for scanned, position, expected in cases:
        response = await scan(client, member, activity["id"], scanned, position)
        assert response.status_code == 422, (expected, response.text)
        assert error_code(response) == expected
    far = await scan(client, member, activity["id"], code, FAR)
    assert far.json()["error"]["details"]["distance_m"] > 1000
    outsider = await login(client, "outsider")
    response = await scan(client, outsider, activity["id"], code)
    assert (response.status_code, error_code(response)) == (422, "checkin.not_expected")
    assert await Checkin.all().count() == 0


async def test_group_activity_expects_only_its_group(client, world):
    activity = await publish(client, world, expected="group", expected_group="第一小组")
    code = await current_code(client, world, activity["id"])
    assert (await scan(client, world["members"]["m1"], activity["id"], code)).status_code == 201
    refused = await scan(client, world["members"]["m3"], activity["id"], code)
    assert error_code(refused) == "checkin.not_expected"


async def test_window_not_yet_open_and_already_closed(client, world):
    now = datetime.now(UTC)
    later = await publish(
        client,
        world,
        starts_at=(now + timedelta(hours=5)).isoformat(),
        ends_at=(now + timedelta(hours=6)).isoformat(),
    )
    code = await current_code(client, world, later["id"])
    response = await scan(client, world["members"]["m1"], later["id"], code)
    assert (response.status_code, error_code(response)) == (422, "checkin.outside_window")


async def test_only_the_organizer_sees_the_code(client, world):
    activity = await publish(client, world)
    member = await client.get(
        f"/api/v1/activities/{activity['id']}/checkin-code", headers=world["members"]["m1"]
    )
    anonymous = await client.get(f"/api/v1/activities/{activity['id']}/checkin-code")
    png = await client.get(
        f"/api/v1/activities/{activity['id']}/checkin-code?format=png", headers=world["staff"]
    )
    assert (member.status_code, anonymous.status_code) == (403, 401)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_an_outsider_beyond_the_geofence_is_told_first_that_they_are_not_expected(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    response = await scan(client, await login(client, "outsider"), activity["id"], code, FAR)
    assert (response.status_code, error_code(response)) == (422, "checkin.not_expected")


async def test_the_event_is_written_with_the_check_in_as_the_outbox_reads_it(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    response = await scan(client, world["members"]["m1"], activity["id"], code)
    assert response.status_code == 201
    checkin = await Checkin.get(activity_id=activity["id"])
    event = await OutboxEvent.get(kind="checkin.recorded")
    assert event.idempotency_key == f"checkin:{activity['id']}:{checkin.user_id}"
    assert event.recipients == [checkin.user_id]
    assert event.payload == {
        "activity_id": activity["id"],
        "title": "主题党日活动",
        "status": "present",
        "checked_in_at": checkin.checked_in_at.isoformat(),
    }
    assert (event.status, event.attempts) == ("pending", 0)
    assert event.available_at == event.created_at == checkin.checked_in_at
    assert response.json()["checked_in_at"] == checkin.checked_in_at.isoformat().replace("+00:00", "Z")


async def test_a_change_to_the_activity_reaches_a_process_that_cached_it(client, world):
    """The rules are cached per process; the revision in the insert makes the next scan see a change."""
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    assert (await scan(client, world["members"]["m1"], activity["id"], code)).status_code == 201
    # Another process closes check-in (no edit endpoint yet: the row changes as one would).
    past = datetime.now(UTC) - timedelta(minutes=1)
    await Activity.filter(id=activity["id"]).update(checkin_closes_at=past, revision=2)
    refused = await scan(client, world["members"]["m2"], activity["id"], code)
    assert (refused.status_code, error_code(refused)) == (422, "checkin.outside_window")
    assert await Checkin.filter(activity_id=activity["id"]).count() == 1
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 1


async def test_a_deleted_activity_is_not_found_even_when_cached(client, world):
    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    assert (await scan(client, world["members"]["m1"], activity["id"], code)).status_code == 201
    await Activity.filter(id=activity["id"]).delete()
    response = await scan(client, world["members"]["m2"], activity["id"], code)
    assert (response.status_code, error_code(response)) == (404, "activity.not_found")


async def test_a_member_removed_from_the_branch_after_the_rules_were_cached_is_not_expected(client, world):
    from backend.partybuilding.models import BranchMember

    activity = await publish(client, world)
    code = await current_code(client, world, activity["id"])
    assert (await scan(client, world["members"]["m1"], activity["id"], code)).status_code == 201
    m2 = await user_id(client, world["members"]["m2"])
    await BranchMember.filter(branch_id=world["branch"]["id"], user_id=m2).delete()
    response = await scan(client, world["members"]["m2"], activity["id"], code)
    assert (response.status_code, error_code(response)) == (422, "checkin.not_expected")
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 1


# --- the edges of the window and of the interval, with the clock in the test's hands -------------


def _activity(now: datetime) -> Activity:
    return Activity(
        id=7,
        code_secret="s" * 43,
        code_interval_s=15,
        checkin_opens_at=now,
        checkin_closes_at=now + timedelta(hours=1),
        late_after=now + timedelta(minutes=30),
    )


def test_code_is_valid_through_its_interval_plus_grace_then_expires():
    start = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)  # a multiple of 15 s
    code = rotating_code.current(secret="k" * 43, activity_id=7, interval_s=15, now=start).code
    for offset in (0, 14.9, 15 + rotating_code.GRACE_SECONDS):
        rotating_code.verify(
            code, secret="k" * 43, activity_id=7, interval_s=15, now=start + timedelta(seconds=offset)
        )
    with pytest.raises(rotating_code.CodeExpired):
        rotating_code.verify(
            code,
            secret="k" * 43,
            activity_id=7,
            interval_s=15,
            now=start + timedelta(seconds=15 + rotating_code.GRACE_SECONDS + 0.001),
        )


def test_code_from_the_future_or_another_secret_is_invalid():
    now = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
    future = rotating_code.current(
        secret="k" * 43, activity_id=7, interval_s=15, now=now + timedelta(seconds=30)
    ).code
    with pytest.raises(rotating_code.CodeInvalid):
        rotating_code.verify(future, secret="k" * 43, activity_id=7, interval_s=15, now=now)
    other = rotating_code.current(secret="x" * 43, activity_id=7, interval_s=15, now=now).code
    with pytest.raises(rotating_code.CodeInvalid):
        rotating_code.verify(other, secret="k" * 43, activity_id=7, interval_s=15, now=now)


def test_next_code_is_not_derivable_from_earlier_ones():
    now = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
    codes = [
        rotating_code.current(
            secret="k" * 43, activity_id=7, interval_s=15, now=now + timedelta(seconds=15 * i)
        ).code
        for i in range(3)
    ]
    macs = [c.rsplit(".", 1)[1] for c in codes]
    assert len(set(macs)) == 3
    windows = [int(c.split(".")[2]) for c in codes]
    assert windows == [windows[0], windows[0] + 1, windows[0] + 2]


async def test_window_edges_and_late_marking(db, world):
    activity = await Activity.get(id=(await _publish_direct(world)).id)
    member = await User.get(id=(await BranchUser.first(world)))
    opens = activity.checkin_opens_at

    def body(at: datetime) -> CheckinCreate:
        code = rotating_code.current(
            secret=activity.code_secret, activity_id=activity.id, interval_s=activity.code_interval_s, now=at
        ).code
        return CheckinCreate(code=code, **NEAR, accuracy=5)

    with pytest.raises(party_service.OutsideWindow):
        await party_service.check_in(
            activity_id=activity.id,
            member=member,
            body=body(opens - timedelta(seconds=1)),
            now=opens - timedelta(seconds=1),
        )
    late_time = activity.late_after + timedelta(seconds=1)
    checkin, created = await party_service.check_in(
        activity_id=activity.id, member=member, body=body(late_time), now=late_time
    )
    assert created and checkin.status == "late"
    closes = activity.checkin_closes_at
    other = await User.get(id=(await BranchUser.second(world)))
    checkin, _ = await party_service.check_in(
        activity_id=activity.id, member=other, body=body(closes), now=closes
    )
    assert checkin.status == "late"
    third = await User.get(id=(await BranchUser.third(world)))
    with pytest.raises(party_service.OutsideWindow):
        after = closes + timedelta(seconds=1)
        await party_service.check_in(activity_id=activity.id, member=third, body=body(after), now=after)


class BranchUser:
    """The ids of the world's branch members, in order."""

    @staticmethod
    async def _ids(world) -> list[int]:
        from backend.partybuilding.models import BranchMember

        return list(
            await BranchMember.filter(branch_id=world["branch"]["id"])
            .order_by("id")
            .values_list("user_id", flat=True)
        )

    @classmethod
    async def first(cls, world) -> int:
        return (await cls._ids(world))[0]

    @classmethod
    async def second(cls, world) -> int:
        return (await cls._ids(world))[1]

    @classmethod
    async def third(cls, world) -> int:
        return (await cls._ids(world))[2]


async def _publish_direct(world) -> Activity:
    now = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
    return await Activity.create(
        organization=world["org"],
        branch_id=world["branch"]["id"],
        kind="theme_day",
        title="边界测试",
        starts_at=now + timedelta(minutes=30),
        ends_at=now + timedelta(hours=2),
        place="某地",
        **PLACE,
        radius_m=200,
        checkin_opens_at=now,
        checkin_closes_at=now + timedelta(hours=2),
        late_after=now + timedelta(minutes=40),
        expected="branch",
        code_secret="z" * 43,
        code_interval_s=15,
    )


# --- leave, make-up, attendance ---------------------------------------------------------------


async def test_leave_and_makeup_are_decided_by_the_organizer_and_shape_attendance(client, world):
    activity = await publish(client, world)
    m1, m2, m3 = (world["members"][n] for n in ("m1", "m2", "m3"))
    code = await current_code(client, world, activity["id"])
    assert (await scan(client, m1, activity["id"], code)).status_code == 201
    leave = await client.post(
        f"/api/v1/activities/{activity['id']}/leave-requests", json={"reason": "出差在外"}, headers=m2
    )
    assert leave.status_code == 201, leave.text
    dup = await client.post(
        f"/api/v1/activities/{activity['id']}/leave-requests", json={"reason": "出差在外"}, headers=m2
    )
    assert dup.status_code == 409
    makeup = await client.post(
        f"/api/v1/activities/{activity['id']}/makeup-requests", json={"reason": "手机没电"}, headers=m3
    )
    assert makeup.status_code == 201, makeup.text
    forbidden = await client.post(
        f"/api/v1/attendance-requests/{leave.json()['id']}/decision",
        json={"approve": True, "reason": "同意"},
        headers=m1,
    )
    assert forbidden.status_code == 403
    for made in (leave, makeup):
        decided = await client.post(
            f"/api/v1/attendance-requests/{made.json()['id']}/decision",
            json={"approve": True, "reason": "情况属实"},
            headers=world["staff"],
        )
        assert decided.json()["status"] == "approved"
    report = (
        await client.get(f"/api/v1/activities/{activity['id']}/attendance", headers=world["staff"])
    ).json()
    assert report["counts"] == {"present": 1, "late": 0, "made_up": 1, "on_leave": 1, "absent": 0}
    assert report["attendance_rate"] == round(2 / 3, 4)
    csv = await client.get(
        f"/api/v1/activities/{activity['id']}/attendance?format=csv", headers=world["staff"]
    )
    assert csv.status_code == 200 and csv.text.count("\n") == 4
    xlsx = await client.get(
        f"/api/v1/activities/{activity['id']}/attendance?format=xlsx", headers=world["staff"]
    )
    assert xlsx.content.startswith(b"PK")
    history = (await client.get("/api/v1/me/checkins", headers=m3)).json()["items"]
    assert [h["status"] for h in history] == ["made_up"]


async def test_attendance_is_visible_only_to_staff_secretary_and_officers_of_the_jurisdiction(client, world):
    activity = await publish(client, world)
    url = f"/api/v1/activities/{activity['id']}/attendance"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=world["members"]["m1"])).status_code == 403
    officer = await login(client, "officer-sz")
    await accounts_service.grant_officer(
        user=await User.get(id=await user_id(client, officer)), authority=world["authority"], actor=None
    )
    assert (await client.get(url, headers=officer)).status_code == 200
    elsewhere = await login(client, "officer-gz")
    gz = await make_authority("440100", name="广州市民政局")
    await accounts_service.grant_officer(
        user=await User.get(id=await user_id(client, elsewhere)), authority=gz, actor=None
    )
    assert (await client.get(url, headers=elsewhere)).status_code == 403
    # The branch secretary sees it too.
    await client.put(
        f"/api/v1/branches/{world['branch']['id']}/members",
        json={
            "user_id": await user_id(client, world["members"]["m3"]),
            "membership": "full",
            "role": "secretary",
        },
        headers=world["staff"],
    )
    assert (await client.get(url, headers=world["members"]["m3"])).status_code == 200
