"""Check-in and attendance rules that had no test: the cap on the phone's accuracy allowance, leave
only before the start, a make-up only after check-in opened, requests only from expected members.

Service-level, with ``now`` given, so each edge is tested to the second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.partybuilding import geofence, rotating_code
from backend.partybuilding import service as party_service
from backend.partybuilding.models import Activity, AttendanceRequest, Branch, BranchMember, Checkin
from backend.partybuilding.schemas import CheckinCreate
from tests.factories import make_authority, make_org, make_user

CENTER = (22.5431, 114.0579)
STARTS = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
OPENS = STARTS - timedelta(minutes=30)
METRES_PER_DEGREE_LAT = 111_195.0  # on this sphere (geofence.EARTH_RADIUS_M)


def north(metres: float) -> tuple[float, float]:
    return (CENTER[0] + metres / METRES_PER_DEGREE_LAT, CENTER[1])


@pytest.fixture
async def meeting(db) -> dict[str, Any]:
    org = await make_org(await make_authority("440300"))
    branch = await Branch.create(organization=org, name="第一党支部")
    first, second, outsider = await make_user(), await make_user(), await make_user()
    await BranchMember.create(branch=branch, user=first, membership="full", group_name="第一小组")
    await BranchMember.create(branch=branch, user=second, membership="full", group_name="第二小组")
    activity = await Activity.create(
        organization=org,
        branch=branch,
        kind="general_meeting",
        title="支部党员大会",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=2),
        place="会议室",
        latitude=CENTER[0],
        longitude=CENTER[1],
        radius_m=100,
        checkin_opens_at=OPENS,
        checkin_closes_at=STARTS + timedelta(hours=2),
        late_after=STARTS + timedelta(minutes=10),
        expected="branch",
        code_secret="r" * 43,
        code_interval_s=60,
    )
    return {"activity": activity, "branch": branch, "first": first, "second": second, "outsider": outsider}


def _body(activity: Activity, now: datetime, position: tuple[float, float], accuracy: float) -> CheckinCreate:
    code = rotating_code.current(secret=activity.code_secret, activity_id=activity.id, interval_s=60, now=now)
    return CheckinCreate(code=code.code, latitude=position[0], longitude=position[1], accuracy=accuracy)


# --- the accuracy allowance ------------------------------------------------------------------------


def test_accuracy_widens_the_circle_by_at_most_fifty_metres():
    assert geofence.MAX_ACCURACY_SLACK_M == 50.0
    inside = dict(center=CENTER, radius_m=100)
    assert geofence.require_inside(**inside, position=north(140), accuracy_m=45) == pytest.approx(
        140, abs=0.5
    )
    for accuracy in (50, 51, 500, 100_000):
        geofence.require_inside(**inside, position=north(149), accuracy_m=accuracy)
        with pytest.raises(geofence.OutsideGeofence):
            geofence.require_inside(**inside, position=north(151), accuracy_m=accuracy)
    with pytest.raises(geofence.OutsideGeofence):  # no accuracy, no allowance
        geofence.require_inside(**inside, position=north(101), accuracy_m=0)
    with pytest.raises(geofence.OutsideGeofence):  # a negative accuracy shrinks nothing and widens nothing
        geofence.require_inside(**inside, position=north(101), accuracy_m=-1000)


async def test_a_vague_fix_does_not_check_in_from_a_hundred_kilometres_away(meeting):
    activity, now = meeting["activity"], STARTS
    far = _body(activity, now, north(100_000), accuracy=100_000)
    with pytest.raises(geofence.OutsideGeofence):
        await party_service.check_in(activity_id=activity.id, member=meeting["first"], body=far, now=now)
    just_beyond = _body(activity, now, north(160), accuracy=100_000)
    with pytest.raises(geofence.OutsideGeofence):
        await party_service.check_in(
            activity_id=activity.id, member=meeting["first"], body=just_beyond, now=now
        )
    assert await Checkin.all().count() == 0
    within_allowance = _body(activity, now, north(140), accuracy=45)
    checkin, created = await party_service.check_in(
        activity_id=activity.id, member=meeting["first"], body=within_allowance, now=now
    )
    assert created and checkin.distance_m == pytest.approx(140, abs=0.5)


# --- leave before the start, a make-up after check-in opened ---------------------------------------


async def _ask(meeting, kind: str, now: datetime, who: str = "first") -> AttendanceRequest:
    return await party_service.request_attendance(
        kind=kind, activity_id=meeting["activity"].id, member=meeting[who], reason="事由说明", now=now
    )


async def test_leave_is_requested_before_the_start_and_not_from_the_start_on(meeting):
    for now in (STARTS, STARTS + timedelta(seconds=1), STARTS + timedelta(hours=1)):
        with pytest.raises(party_service.RequestNotAllowed):
            await _ask(meeting, "leave", now)
    made = await _ask(meeting, "leave", STARTS - timedelta(seconds=1))
    assert made.kind == "leave" and made.status == "pending"


async def test_no_leave_once_checked_in(meeting):
    activity, now = meeting["activity"], OPENS + timedelta(minutes=1)
    await party_service.check_in(
        activity_id=activity.id, member=meeting["first"], body=_body(activity, now, CENTER, 5), now=now
    )
    with pytest.raises(party_service.RequestNotAllowed):
        await _ask(meeting, "leave", now)


async def test_a_make_up_is_requested_only_after_check_in_opened(meeting):
    for now in (OPENS - timedelta(hours=1), OPENS - timedelta(seconds=1), OPENS):
        with pytest.raises(party_service.RequestNotAllowed):
            await _ask(meeting, "makeup", now)
    made = await _ask(meeting, "makeup", OPENS + timedelta(seconds=1))
    assert made.kind == "makeup"


async def test_no_make_up_for_a_member_already_checked_in(meeting):
    activity, now = meeting["activity"], OPENS + timedelta(minutes=1)
    await party_service.check_in(
        activity_id=activity.id, member=meeting["second"], body=_body(activity, now, CENTER, 5), now=now
    )
    with pytest.raises(party_service.RequestNotAllowed):
        await _ask(meeting, "makeup", STARTS + timedelta(hours=3), who="second")


# --- requests only from the members expected -------------------------------------------------------


async def test_requests_come_only_from_expected_members(meeting):
    for kind, now in (("leave", STARTS - timedelta(hours=1)), ("makeup", STARTS + timedelta(hours=3))):
        with pytest.raises(party_service.NotExpected):
            await _ask(meeting, kind, now, who="outsider")
    assert await AttendanceRequest.all().count() == 0
    assert (await _ask(meeting, "leave", STARTS - timedelta(hours=1))).status == "pending"


async def test_a_group_activity_takes_requests_from_its_group_only(meeting):
    await Activity.filter(id=meeting["activity"].id).update(expected="group", expected_group="第一小组")
    with pytest.raises(party_service.NotExpected):
        await _ask(meeting, "leave", STARTS - timedelta(hours=1), who="second")
    assert (await _ask(meeting, "leave", STARTS - timedelta(hours=1), who="first")).kind == "leave"


async def test_an_open_activity_takes_requests_from_anyone(meeting):
    await Activity.filter(id=meeting["activity"].id).update(expected="open")
    assert (await _ask(meeting, "leave", STARTS - timedelta(hours=1), who="outsider")).kind == "leave"
