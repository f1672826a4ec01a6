"""Check-in and attendance rules that had no test: the cap on the phone's accuracy allowance, leave
only before the start, a make-up only after check-in opened, requests only from expected members.

Service-level, with ``now`` given, so each edge is tested to the second.
"""

from __future__ import annotations

import math
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


def east(metres: float, north_m: float = 0.0) -> tuple[float, float]:
    """``metres`` east (and ``north_m`` north) of the centre, on the sphere's local flat map."""
    lat = CENTER[0] + north_m / METRES_PER_DEGREE_LAT
    return (lat, CENTER[1] + metres / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))))


def test_distance_counts_the_longitude_too():
    """East-west and diagonal offsets (every other test moves the phone due north, where the
    longitude term of the haversine is zero); references computed independently of the code."""
    R = geofence.EARTH_RADIUS_M
    assert geofence.distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(R * math.pi / 180, rel=1e-9)
    assert geofence.distance_m(0.0, 0.0, 0.0, 90.0) == pytest.approx(R * math.pi / 2, rel=1e-9)
    assert geofence.distance_m(0.0, -45.0, 0.0, 45.0) == pytest.approx(R * math.pi / 2, rel=1e-9)
    # along a parallel at 60 degrees: the chord of a small circle of radius R cos 60
    chord = 2 * R * math.asin(math.cos(math.radians(60)) * math.sin(math.radians(0.5)))
    assert geofence.distance_m(60.0, 10.0, 60.0, 11.0) == pytest.approx(chord, rel=1e-9)
    # Shenzhen to Beijing (39.9042, 116.4074): the spherical law of cosines, another formula
    p1, p2 = math.radians(CENTER[0]), math.radians(39.9042)
    cos_c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
        math.radians(116.4074 - CENTER[1])
    )
    assert geofence.distance_m(*CENTER, 39.9042, 116.4074) == pytest.approx(R * math.acos(cos_c), rel=1e-6)
    for metres in (30.0, 99.0, 140.0, 1000.0):
        assert geofence.distance_m(*CENTER, *east(metres)) == pytest.approx(metres, rel=1e-3)
        assert geofence.distance_m(*CENTER, *east(-metres)) == pytest.approx(metres, rel=1e-3)
        assert geofence.distance_m(*CENTER, *east(metres, metres)) == pytest.approx(
            metres * math.sqrt(2), rel=1e-3
        )
        assert geofence.distance_m(*CENTER, *east(0.6 * metres, -0.8 * metres)) == pytest.approx(
            metres, rel=1e-3
        )


def test_the_circle_is_a_circle_east_west_and_diagonally():
    inside = dict(center=CENTER, radius_m=100, accuracy_m=0)
    for position in (east(99), east(-99), east(70, 70), east(-70, -70), east(60, -79)):
        geofence.require_inside(**inside, position=position)
    for position in (east(101), east(-101), east(72, 72), east(-72, 72), east(61, -80)):
        with pytest.raises(geofence.OutsideGeofence):
            geofence.require_inside(**inside, position=position)


def test_no_accuracy_no_allowance_to_the_half_metre():
    inside = dict(center=CENTER, radius_m=100)
    geofence.require_inside(**inside, position=north(99.5), accuracy_m=0)
    for accuracy in (0, 0.0, -1):
        with pytest.raises(geofence.OutsideGeofence):
            geofence.require_inside(**inside, position=north(100.5), accuracy_m=accuracy)
    geofence.require_inside(**inside, position=north(100.5), accuracy_m=1)  # 1 m of accuracy: 1 m wider


def test_the_refusal_says_how_far_and_what_radius():
    with pytest.raises(geofence.OutsideGeofence) as refused:
        geofence.require_inside(center=CENTER, radius_m=100, position=east(250), accuracy_m=0)
    assert refused.value.details == {"distance_m": pytest.approx(250, abs=0.3), "radius_m": 100}
    assert "250" in str(refused.value.message) and "100" in str(refused.value.message)


# --- the rotating code as shown to the organizer ---------------------------------------------------


@pytest.mark.parametrize("interval", [60, 45, 7])
def test_the_code_shown_expires_at_the_end_of_its_window(interval):
    window_start = datetime.fromtimestamp((int(STARTS.timestamp()) // interval + 3) * interval, UTC)
    for offset in (0, 1, interval / 2, interval - 1, interval - 0.001):
        now = window_start + timedelta(seconds=offset)
        shown = rotating_code.current(secret="s" * 43, activity_id=7, interval_s=interval, now=now)
        assert shown.expires_at == window_start + timedelta(seconds=interval), (interval, offset)
        assert shown.expires_at.tzinfo is not None and shown.expires_at.utcoffset() == timedelta(0)
        assert shown.interval_s == interval
        # the code shown is accepted until it expires, and refused once expired plus the grace
        rotating_code.verify(shown.code, secret="s" * 43, activity_id=7, interval_s=interval, now=now)
        rotating_code.verify(
            shown.code, secret="s" * 43, activity_id=7, interval_s=interval, now=shown.expires_at
        )
    following = rotating_code.current(
        secret="s" * 43, activity_id=7, interval_s=interval, now=window_start + timedelta(seconds=interval)
    )
    assert following.expires_at == window_start + timedelta(seconds=2 * interval)


def test_an_expired_code_says_when_it_expired():
    interval, now = 60, STARTS + timedelta(seconds=17)
    shown = rotating_code.current(secret="s" * 43, activity_id=7, interval_s=interval, now=now)
    late = shown.expires_at + timedelta(seconds=rotating_code.GRACE_SECONDS + 1)
    with pytest.raises(rotating_code.CodeExpired) as refused:
        rotating_code.verify(shown.code, secret="s" * 43, activity_id=7, interval_s=interval, now=late)
    assert refused.value.details == {"expired_at": shown.expires_at.isoformat()}
    assert shown.expires_at.isoformat() == "2026-12-02T06:01:00+00:00"


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
