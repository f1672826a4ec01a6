"""A volunteer posting's check-in: the party-building rotating code, reused; who came prefills the hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from backend.audit.models import AuditEntry
from backend.events.models import OutboxEvent
from backend.partybuilding.models import Activity, Checkin
from backend.recruitment.models import Posting
from tests.conftest import error_code, login
from tests.recruitment.conftest import members, open_posting, user_of

LAT, LON = 22.53, 113.93


def _soon() -> dict[str, str]:
    """Times of a posting starting in ten minutes: its check-in (30 minutes before) is open now."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "signup_deadline": (start - timedelta(minutes=5)).isoformat(),
    }


async def _code(client: httpx.AsyncClient, activity_id: int, staff: dict[str, str]) -> str:
    response = await client.get(f"/api/v1/activities/{activity_id}/checkin-code", headers=staff)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


async def _scan(
    client: httpx.AsyncClient, activity_id: int, code: str, who: dict[str, str], lat: float = LAT
) -> httpx.Response:
    return await client.post(
        f"/api/v1/activities/{activity_id}/checkins",
        json={"code": code, "latitude": lat, "longitude": LON, "accuracy": 10},
        headers=who,
    )


async def _sign_up(client: httpx.AsyncClient, posting: dict[str, Any], who: dict[str, str]) -> None:
    response = await client.post(
        f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=who
    )
    assert response.status_code == 201, response.text


async def test_volunteers_check_in_once_by_scanning_and_the_sheet_marks_who_came(client, org):
    posting = await open_posting(client, org, kind="volunteer", capacity=3, **_soon())
    a, b, c = await members(client, 3, prefix="ci")
    for who in (a, b, c):
        await _sign_up(client, posting, who)
    outsider = await login(client, "ci-outsider")

    url = f"/api/v1/postings/{posting['id']}/checkin"
    opened = await client.post(url, json={"radius_m": 100}, headers=org["staff"])
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["geofence"] is True and session["radius_m"] == 100
    again = await client.post(url, json={}, headers=org["staff"])
    assert (again.status_code, again.json()["activity_id"]) == (200, session["activity_id"])
    assert await AuditEntry.filter(action="posting.checkin_open").count() == 1

    activity_id = session["activity_id"]
    code = await _code(client, activity_id, org["staff"])
    first = await _scan(client, activity_id, code, a)
    assert first.status_code == 201, first.text
    assert (await _scan(client, activity_id, code, a)).status_code == 200  # the earlier record
    far = await _scan(client, activity_id, code, b, lat=LAT + 0.05)  # about 5.5 km away
    assert (far.status_code, error_code(far)) == (422, "checkin.outside_geofence")
    stranger = await _scan(client, activity_id, code, outsider)
    assert (stranger.status_code, error_code(stranger)) == (422, "checkin.not_signed_up")
    a_id = (await user_of(client, a)).id
    assert await Checkin.filter(activity_id=activity_id).count() == 1
    events = await OutboxEvent.filter(kind="checkin.recorded")
    assert [(e.recipients, e.payload["activity_id"]) for e in events] == [([a_id], activity_id)]

    sheet = await client.get(f"/api/v1/postings/{posting['id']}/service-records", headers=org["staff"])
    assert sheet.status_code == 200, sheet.text
    body = sheet.json()
    assert body["checkin_activity_id"] == activity_id
    rows = {r["user_id"]: r for r in body["rows"]}
    assert len(rows) == 3
    assert (rows[a_id]["checked_in"], rows[a_id]["prefill_hours"]) == (True, 2.0)
    assert rows[a_id]["checked_in_at"] is not None
    others = [r for uid, r in rows.items() if uid != a_id]
    assert [(r["checked_in"], r["prefill_hours"]) for r in others] == [(False, 0.0), (False, 0.0)]


async def test_a_sheet_without_a_check_in_prefills_every_confirmed_volunteer(client, org):
    posting = await open_posting(client, org, kind="volunteer", **_soon())
    await _sign_up(client, posting, await login(client, "ci-plain"))
    body = (
        await client.get(f"/api/v1/postings/{posting['id']}/service-records", headers=org["staff"])
    ).json()
    assert body["checkin_activity_id"] is None
    assert [(r["checked_in"], r["prefill_hours"]) for r in body["rows"]] == [(None, 2.0)]


async def test_a_posting_without_coordinates_has_no_geofence(client, org):
    posting = await open_posting(client, org, kind="volunteer", latitude=None, longitude=None, **_soon())
    volunteer = await login(client, "ci-anywhere")
    await _sign_up(client, posting, volunteer)
    opened = await client.post(f"/api/v1/postings/{posting['id']}/checkin", json={}, headers=org["staff"])
    assert opened.status_code == 201 and opened.json()["geofence"] is False
    activity_id = opened.json()["activity_id"]
    code = await _code(client, activity_id, org["staff"])
    anywhere = await _scan(client, activity_id, code, volunteer, lat=LAT + 5)
    assert anywhere.status_code == 201, anywhere.text
    assert anywhere.json()["distance_m"] is None


async def test_a_cancelled_or_waitlisted_volunteer_cannot_check_in(client, org):
    posting = await open_posting(client, org, kind="volunteer", capacity=1, **_soon())
    leaver, waiting = await members(client, 2, prefix="ci-x")
    await _sign_up(client, posting, leaver)
    await _sign_up(client, posting, waiting)  # waitlisted behind the leaver
    opened = await client.post(f"/api/v1/postings/{posting['id']}/checkin", json={}, headers=org["staff"])
    activity_id = opened.json()["activity_id"]
    code = await _code(client, activity_id, org["staff"])
    # The waitlisted one scans while the other holds the seat: refused.
    refused = await _scan(client, activity_id, code, waiting)
    assert (refused.status_code, error_code(refused)) == (422, "checkin.not_signed_up")
    cancelled = await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=leaver)
    assert cancelled.status_code == 200
    gone = await _scan(client, activity_id, code, leaver)
    assert (gone.status_code, error_code(gone)) == (422, "checkin.not_signed_up")
    # Promoted from the waitlist by that cancellation: now they may.
    assert (await _scan(client, activity_id, code, waiting)).status_code == 201


async def test_simultaneous_scans_of_one_volunteer_write_one_check_in(client, org):
    posting = await open_posting(client, org, kind="volunteer", **_soon())
    volunteer = await login(client, "ci-twice")
    await _sign_up(client, posting, volunteer)
    opened = await client.post(f"/api/v1/postings/{posting['id']}/checkin", json={}, headers=org["staff"])
    activity_id = opened.json()["activity_id"]
    code = await _code(client, activity_id, org["staff"])
    answers = await asyncio.gather(*(_scan(client, activity_id, code, volunteer) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
    assert await Checkin.filter(activity_id=activity_id).count() == 1
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == 1


async def test_only_its_staff_open_the_check_in_of_a_published_volunteer_posting(client, org):
    activity = await open_posting(client, org, kind="activity", **_soon())
    refused = await client.post(f"/api/v1/postings/{activity['id']}/checkin", json={}, headers=org["staff"])
    assert (refused.status_code, error_code(refused)) == (422, "service.not_volunteer")
    # It said "service hours are recorded for volunteer postings only" to someone opening a check-in.
    assert refused.json()["error"]["message"].startswith("仅志愿服务活动可签到")
    posting = await open_posting(client, org, kind="volunteer", **_soon())
    stranger = await login(client, "ci-stranger")
    forbidden = await client.post(f"/api/v1/postings/{posting['id']}/checkin", json={}, headers=stranger)
    assert forbidden.status_code == 403
    await Posting.filter(id=posting["id"]).update(status="cancelled")
    late = await client.post(f"/api/v1/postings/{posting['id']}/checkin", json={}, headers=org["staff"])
    assert (late.status_code, error_code(late)) == (409, "posting.bad_status")
    assert await Activity.filter(posting_id=posting["id"]).count() == 0
