"""Volunteer service records: the prefilled sheet, who may record what and when, a volunteer's total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.audit.models import AuditEntry
from backend.recruitment.models import Posting, ServiceRecord
from tests.conftest import error_code, login
from tests.recruitment.conftest import members, open_posting, user_of


async def _begun(posting_id: int) -> None:
    """Move the posting into the past: hours are recorded after it has begun."""
    now = datetime.now(UTC)
    await Posting.filter(id=posting_id).update(
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        signup_deadline=now - timedelta(hours=4),
    )


async def test_the_sheet_is_prefilled_with_confirmed_participants_and_the_postings_length(client, org):
    posting = await open_posting(client, org, kind="volunteer", capacity=2)
    a, b, c = await members(client, 3, prefix="vol")
    for h in (a, b, c):  # c is waitlisted: not a participant
        await client.post(f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=h)
    sheet = await client.get(f"/api/v1/postings/{posting['id']}/service-records", headers=org["staff"])
    assert sheet.status_code == 200 and sheet.headers["cache-control"] == "no-store"
    body = sheet.json()
    assert body["suggested_hours"] == 2.0
    ids = {(await user_of(client, h)).id for h in (a, b)}
    assert {r["user_id"] for r in body["rows"]} == ids
    assert all(r["signed_up"] and r["hours"] is None for r in body["rows"])


async def test_staff_record_hours_after_it_began_and_the_volunteer_sees_their_total(client, org):
    first = await open_posting(client, org, kind="volunteer")
    second = await open_posting(client, org, kind="volunteer")
    volunteer = await login(client, "helper")
    uid = (await user_of(client, volunteer)).id
    for p in (first, second):
        await client.post(f"/api/v1/postings/{p['id']}/signups", json={"answers": {}}, headers=volunteer)
    url = f"/api/v1/postings/{first['id']}/service-records"
    early = await client.put(url, json={"records": [{"user_id": uid, "hours": 2}]}, headers=org["staff"])
    assert (early.status_code, error_code(early)) == (422, "service.too_early")
    await _begun(first["id"])
    await _begun(second["id"])
    done = await client.put(
        url, json={"records": [{"user_id": uid, "hours": 2.5, "note": "整理图书"}]}, headers=org["staff"]
    )
    assert done.status_code == 200, done.text
    assert done.json()["rows"][0]["hours"] == 2.5
    corrected = await client.put(
        url, json={"records": [{"user_id": uid, "hours": 1.75}]}, headers=org["staff"]
    )
    assert corrected.json()["rows"][0]["hours"] == 1.75
    await client.put(
        f"/api/v1/postings/{second['id']}/service-records",
        json={"records": [{"user_id": uid, "hours": 3}]},
        headers=org["staff"],
    )
    mine = (await client.get("/api/v1/me/volunteer-hours", headers=volunteer)).json()
    assert mine["total_hours"] == 4.75
    assert [i["posting_id"] for i in mine["items"]] == [second["id"], first["id"]]
    assert mine["items"][1]["organization"]["credit_code"] == org["code"]
    entries = await AuditEntry.filter(action="service.record").order_by("id")
    assert [e.before for e in entries[:2]] == [None, {"hours": 2.5, "note": "整理图书"}]


async def test_only_confirmed_participants_of_a_volunteer_posting_by_its_staff(client, org):
    activity = await open_posting(client, org, kind="activity")
    posting = await open_posting(client, org, kind="volunteer")
    outsider = await login(client, "outsider")
    uid = (await user_of(client, outsider)).id
    await _begun(posting["id"])
    body = {"records": [{"user_id": uid, "hours": 1}]}
    refused = await client.put(
        f"/api/v1/postings/{posting['id']}/service-records", json=body, headers=org["staff"]
    )
    assert (refused.status_code, error_code(refused)) == (422, "service.not_participants")
    assert refused.json()["error"]["details"] == {"user_ids": [uid]}
    wrong_kind = await client.get(f"/api/v1/postings/{activity['id']}/service-records", headers=org["staff"])
    assert (wrong_kind.status_code, error_code(wrong_kind)) == (422, "service.not_volunteer")
    member = await client.put(
        f"/api/v1/postings/{posting['id']}/service-records", json=body, headers=outsider
    )
    assert member.status_code == 403
    bad = await client.put(
        f"/api/v1/postings/{posting['id']}/service-records",
        json={"records": [{"user_id": uid, "hours": 0.3}]},
        headers=org["staff"],
    )
    assert bad.status_code == 422  # quarters of an hour


@pytest.mark.parametrize("hours", [1e-10, 0.0000001, 1e-300])
async def test_hours_below_a_quarter_are_refused_not_recorded_as_zero(client, org, hours):
    # multiple_of tolerates a float's rounding: 1e-10 passed it and gt=0, and was kept as 0 minutes.
    posting = await open_posting(client, org, kind="volunteer")
    volunteer = await login(client, "tiny")
    uid = (await user_of(client, volunteer)).id
    await client.post(f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=volunteer)
    await _begun(posting["id"])
    response = await client.put(
        f"/api/v1/postings/{posting['id']}/service-records",
        json={"records": [{"user_id": uid, "hours": hours}]},
        headers=org["staff"],
    )
    assert response.status_code == 422, response.text
    assert not await ServiceRecord.filter(posting_id=posting["id"]).exists()


async def test_one_volunteer_twice_in_one_sheet_is_refused(client, org):
    posting = await open_posting(client, org, kind="volunteer")
    volunteer = await login(client, "twice")
    uid = (await user_of(client, volunteer)).id
    await client.post(f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=volunteer)
    await _begun(posting["id"])
    response = await client.put(
        f"/api/v1/postings/{posting['id']}/service-records",
        json={"records": [{"user_id": uid, "hours": 2}, {"user_id": uid, "hours": 3}]},
        headers=org["staff"],
    )
    assert response.status_code == 422, response.text
    assert not await AuditEntry.filter(action="service.record").exists()
