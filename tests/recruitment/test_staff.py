"""What staff and admins do: the content check, approval, membership, rosters and their exports."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind
from backend.audit.models import AuditEntry
from backend.events.models import OutboxEvent
from backend.recruitment.models import Member
from tests.conftest import TEST_APPID, error_code, login
from tests.factories import make_org
from tests.recruitment.conftest import members, open_posting, posting_body, user_of


async def _draft(client, org, **overrides):
    created = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(**overrides), headers=org["staff"]
    )
    assert created.status_code == 201, created.text
    return created.json()


async def _admin(client, name):
    user = await accounts_service.get_or_create_user_by_ref(ref=f"dev-{name}", appid=TEST_APPID)
    await accounts_service.grant_admin(user=user, actor=None, reason="test")
    return await login(client, name)


async def _sign(client, posting_id, headers, answers=None):
    return await client.post(
        f"/api/v1/postings/{posting_id}/signups", json={"answers": answers or {}}, headers=headers
    )


# --- WeChat's content check ---------------------------------------------------------------------------


async def test_risky_text_is_refused_with_its_label_and_stays_a_draft(client, org):
    draft = await _draft(client, org, body="这里有赌博内容")
    response = await client.post(f"/api/v1/postings/{draft['id']}/publish", headers=org["staff"])
    assert (response.status_code, error_code(response)) == (422, "content.risky")
    assert response.json()["error"]["details"]["label"] == 20006
    shown = await client.get(f"/api/v1/postings/{draft['id']}", headers=org["staff"])
    assert shown.json()["status"] == "draft"


async def test_text_for_review_is_held_until_a_platform_admin_opens_it(client, org):
    draft = await _draft(client, org, title="review-test-word 活动")
    held = await client.post(f"/api/v1/postings/{draft['id']}/publish", headers=org["staff"])
    assert held.status_code == 200 and held.json()["status"] == "in_review"
    assert (await client.get(f"/api/v1/postings/{draft['id']}")).status_code == 404  # not public yet
    member = await login(client, "early-bird")
    assert error_code(await _sign(client, draft["id"], member)) == "posting.not_open"
    decision = {"approve": True, "reason": "人工审核通过"}
    url = f"/api/v1/admin/postings/{draft['id']}/decision"
    refused = await client.post(url, json=decision, headers=org["staff"])
    assert (refused.status_code, error_code(refused)) == (403, "auth.admin_required")
    admin = await _admin(client, "root-admin")
    opened = await client.post(url, json=decision, headers=admin)
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    assert (await client.get(f"/api/v1/postings/{draft['id']}")).status_code == 200
    again = await client.post(url, json=decision, headers=admin)
    assert (again.status_code, error_code(again)) == (409, "posting.bad_status")
    assert await AuditEntry.filter(action="posting.review_decision").count() == 1


async def test_an_admin_may_reject_a_held_posting(client, org):
    draft = await _draft(client, org, body="review-test-word")
    await client.post(f"/api/v1/postings/{draft['id']}/publish", headers=org["staff"])
    admin = await _admin(client, "root-admin2")
    rejected = await client.post(
        f"/api/v1/admin/postings/{draft['id']}/decision",
        json={"approve": False, "reason": "内容不当"},
        headers=admin,
    )
    assert rejected.json()["status"] == "rejected"
    assert (await client.get(f"/api/v1/postings/{draft['id']}")).status_code == 404


# --- permissions --------------------------------------------------------------------------------------


async def test_staff_of_another_organization_and_members_cannot_touch_a_posting(client, org):
    posting = await open_posting(client, org)
    other_staff = await login(client, "other-staff")
    await accounts_service.grant_staff(
        user=await user_of(client, other_staff),
        organization=await make_org(),
        role=StaffRoleKind.OWNER,
        actor=None,
    )
    member = await login(client, "nosy")
    for headers in (other_staff, member):
        roster = await client.get(f"/api/v1/postings/{posting['id']}/signups", headers=headers)
        assert roster.status_code == 403
        close = await client.post(
            f"/api/v1/postings/{posting['id']}/close", json={"reason": "试试"}, headers=headers
        )
        assert close.status_code == 403
        created = await client.post(
            f"/api/v1/orgs/{org['code']}/postings", json=posting_body(), headers=headers
        )
        assert created.status_code == 403
        assert (await client.get(f"/api/v1/orgs/{org['code']}/members", headers=headers)).status_code == 403
    assert error_code(await client.get(f"/api/v1/postings/{posting['id']}/signups", headers=member)) == (
        "auth.staff_required"
    )


# --- approval and membership ----------------------------------------------------------------------------


async def test_approval_postings_hold_signups_pending_until_staff_decide(client, org):
    posting = await open_posting(client, org, admission="approval", capacity=1)
    a, b, c = await members(client, 3, prefix="applicant")
    signed = [(await _sign(client, posting["id"], h)).json() for h in (a, b, c)]
    assert [s["status"] for s in signed] == ["pending"] * 3
    decide = "/api/v1/signups/{}/decision"
    first = await client.post(
        decide.format(signed[0]["id"]), json={"decision": "approve"}, headers=org["staff"]
    )
    assert first.json()["status"] == "confirmed"
    # Full now: an approval goes to the waitlist instead of beyond capacity.
    second = await client.post(
        decide.format(signed[1]["id"]), json={"decision": "approve"}, headers=org["staff"]
    )
    assert (second.json()["status"], second.json()["waitlist_position"]) == ("waitlisted", 1)
    third = await client.post(
        decide.format(signed[2]["id"]),
        json={"decision": "reject", "reason": "名额有限"},
        headers=org["staff"],
    )
    assert third.json()["status"] == "rejected"
    again = await client.post(
        decide.format(signed[2]["id"]), json={"decision": "approve"}, headers=org["staff"]
    )
    assert (again.status_code, error_code(again)) == (409, "signup.already_decided")
    kinds = [e.kind for e in await OutboxEvent.all().order_by("id")]
    assert kinds == ["posting.reminder_due"] + ["signup.pending"] * 3 + [
        "signup.approved",
        "signup.waitlisted",
        "signup.rejected",
    ]
    rejected = await OutboxEvent.get(kind="signup.rejected")
    assert rejected.payload["reason"] == "名额有限"
    assert await AuditEntry.filter(action="signup.decision").count() == 3
    # A rejected person may apply again.
    assert (await _sign(client, posting["id"], c)).status_code == 201


async def test_approving_a_membership_signup_makes_a_numbered_member_who_may_leave(client, org):
    posting = await open_posting(client, org, kind="membership", admission="approval", capacity=None)
    a, b = await members(client, 2, prefix="joiner")
    ids = [(await _sign(client, posting["id"], h)).json()["id"] for h in (a, b)]
    for signup_id in ids:
        await client.post(
            f"/api/v1/signups/{signup_id}/decision", json={"decision": "approve"}, headers=org["staff"]
        )
    listed = (await client.get(f"/api/v1/orgs/{org['code']}/members", headers=org["staff"])).json()["items"]
    assert [(m["member_no"], m["status"]) for m in listed] == [(1, "active"), (2, "active")]
    left = await client.delete(f"/api/v1/orgs/{org['code']}/members/me", headers=a)
    assert left.status_code == 200 and left.json()["status"] == "left" and left.json()["member_no"] == 1
    assert left.headers["cache-control"] == "no-store"
    again = await client.delete(f"/api/v1/orgs/{org['code']}/members/me", headers=a)
    assert (again.status_code, error_code(again)) == (404, "member.not_found")
    csv_export = await client.get(
        f"/api/v1/orgs/{org['code']}/members", params={"format": "csv"}, headers=org["staff"]
    )
    rows = list(csv.reader(io.StringIO(csv_export.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["member_no", "user_id"] and [r[4] for r in rows[1:]] == ["left", "active"]
    xlsx = await client.get(
        f"/api/v1/orgs/{org['code']}/members", params={"format": "xlsx"}, headers=org["staff"]
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 3


async def test_member_numbers_stay_unique_when_approved_at_once(client, org):
    import asyncio

    posting = await open_posting(client, org, kind="membership", admission="approval", capacity=None)
    people = await members(client, 12, prefix="crowd")
    ids = [(await _sign(client, posting["id"], h)).json()["id"] for h in people]
    await asyncio.gather(
        *(
            client.post(f"/api/v1/signups/{i}/decision", json={"decision": "approve"}, headers=org["staff"])
            for i in ids
        )
    )
    numbers = sorted(await Member.filter(organization_id=org["org"].id).values_list("member_no", flat=True))
    assert numbers == list(range(1, 13))


async def test_a_first_come_membership_drive_makes_members_of_those_who_get_a_seat(client, org):
    posting = await open_posting(client, org, kind="membership", capacity=1)
    a, b = await members(client, 2, prefix="fc")
    await _sign(client, posting["id"], a)
    await _sign(client, posting["id"], b)  # waitlisted: not a member yet
    assert await Member.filter(organization_id=org["org"].id).count() == 1
    await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=a)  # b is promoted
    member_users = await Member.filter(organization_id=org["org"].id).values_list("user_id", flat=True)
    assert (await user_of(client, b)).id in member_users


# --- the roster -------------------------------------------------------------------------------------------


async def test_the_roster_shows_staff_the_answers_in_full_and_exports_them_safely(client, org):
    questions = [
        {"id": "name", "kind": "text", "label": "姓名", "required": True},
        {"id": "phone", "kind": "phone", "label": "手机号", "required": True},
        {"id": "days", "kind": "multiple_choice", "label": "日期", "options": ["六", "日"]},
    ]
    posting = await open_posting(client, org, questions=questions, capacity=1)
    a, b = await members(client, 2, prefix="roster")
    await _sign(
        client, posting["id"], a, {"name": '=HYPERLINK("http://x")', "phone": "13800138000", "days": ["六"]}
    )
    await _sign(client, posting["id"], b, {"name": "李四", "phone": "13900139000"})
    roster = await client.get(f"/api/v1/postings/{posting['id']}/signups", headers=org["staff"])
    assert roster.status_code == 200 and roster.headers["cache-control"] == "no-store"
    body = roster.json()
    assert (body["confirmed"], body["waitlisted"]) == (1, 1)
    assert [r["answers"]["phone"] for r in body["items"]] == ["13800138000", "13900139000"]
    exported = await client.get(
        f"/api/v1/postings/{posting['id']}/signups", params={"format": "csv"}, headers=org["staff"]
    )
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["姓名", "手机号", "日期"]
    assert rows[1][-3:] == ['\'=HYPERLINK("http://x")', "13800138000", "六"]  # no live formula
    xlsx = await client.get(
        f"/api/v1/postings/{posting['id']}/signups", params={"format": "xlsx"}, headers=org["staff"]
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(row=3, column=8).value == "13900139000"
    assert exported.headers["cache-control"] == "no-store"
