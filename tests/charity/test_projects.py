"""Projects: creation rules, progress updates, the cached public pieces (read, write, read)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from backend.charity import canonical
from backend.charity.models import LedgerEntry
from backend.registry.models import Qualification
from tests.charity.conftest import PLAN, donation, expenditure
from tests.conftest import error_code, login


def _body(**overrides):
    body = {"title": "山区图书角", "kind": "public_campaign", "plan": PLAN, "target_fen": 100_000}
    body.update(overrides)
    return body


async def test_public_campaign_needs_a_filing_number(client, foundation):
    org = foundation["org"]
    response = await client.post(
        f"/api/v1/orgs/{org.credit_code}/projects", json=_body(), headers=foundation["staff"]
    )
    assert response.status_code == 422 and error_code(response) == "project.filing_number_required"


async def test_filing_number_must_begin_with_the_credit_code(client, foundation):
    org = foundation["org"]
    body = _body(filing_number="53440300MJL0000000A001")
    response = await client.post(
        f"/api/v1/orgs/{org.credit_code}/projects", json=body, headers=foundation["staff"]
    )
    assert response.status_code == 422 and error_code(response) == "project.filing_number_mismatch"


async def test_public_campaign_needs_a_valid_fundraising_qualification(client, foundation):
    org = foundation["org"]
    await Qualification.filter(organization=org).update(valid_until=datetime(2021, 1, 1).date())
    body = _body(filing_number=f"{org.credit_code}A1")
    response = await client.post(
        f"/api/v1/orgs/{org.credit_code}/projects", json=body, headers=foundation["staff"]
    )
    assert response.status_code == 422 and error_code(response) == "project.no_fundraising_qualification"
    directed = _body(kind="directed")
    response = await client.post(
        f"/api/v1/orgs/{org.credit_code}/projects", json=directed, headers=foundation["staff"]
    )
    assert response.status_code == 201


async def test_member_cannot_create_a_project(client, foundation):
    headers = await login(client, "passer-by")
    response = await client.post(
        f"/api/v1/orgs/{foundation['org'].credit_code}/projects", json=_body(), headers=headers
    )
    assert response.status_code == 403


async def test_unknown_plan_fields_are_refused(client, foundation):
    body = _body(kind="directed", plan={**PLAN, "secret": 1})
    response = await client.post(
        f"/api/v1/orgs/{foundation['org'].credit_code}/projects", json=body, headers=foundation["staff"]
    )
    assert response.status_code == 422


async def test_status_moves_forward_only(client, campaign):
    url = f"/api/v1/projects/{campaign['id']}/status"
    back = await client.post(url, json={"status": "draft", "reason": "退回"}, headers=campaign["staff"])
    assert back.status_code == 409 and error_code(back) == "project.bad_status_change"


async def test_project_view_is_fresh_after_each_kind_of_write(client, campaign):
    """Read (cached), write through each path that changes the view, read again."""
    pid, staff = campaign["id"], campaign["staff"]
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["raised_fen"] == 0
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["raised_fen"] == 10_000
    spent = await client.post(f"/api/v1/projects/{pid}/expenditures", json=expenditure(), headers=staff)
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["spent_fen"] == 3_000
    await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": spent.json()["id"], "explanation": "退款"},
        headers=staff,
    )
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["spent_fen"] == 0
    await client.post(f"/api/v1/projects/{pid}/updates", json={"text": "第一批图书已送达"}, headers=staff)
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["progress"][0]["text"] == "第一批图书已送达"
    await client.post(
        f"/api/v1/projects/{pid}/status", json={"status": "executing", "reason": "募捐结束"}, headers=staff
    )
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["status"] == "executing"


async def test_profile_lists_projects_with_fresh_totals(client, campaign):
    """The profile's project list is its own cached piece: read, donate, read."""
    code, pid = campaign["org"].credit_code, campaign["id"]
    before = (await client.get(f"/api/v1/orgs/{code}")).json()
    assert [(p["id"], p["raised_fen"]) for p in before["projects"]] == [(pid, 0)]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=campaign["staff"])
    after = (await client.get(f"/api/v1/orgs/{code}")).json()
    assert after["projects"][0]["raised_fen"] == 10_000 and after["projects"][0]["page_url"] == f"/p/{pid}"
    assert after["name"] == before["name"]  # the rest of the profile is untouched


async def test_project_list_filters_by_organization_and_status(client, campaign):
    code = campaign["org"].credit_code
    listed = (await client.get("/api/v1/projects", params={"org": code})).json()
    assert [p["id"] for p in listed["items"]] == [campaign["id"]]
    assert (await client.get("/api/v1/projects", params={"org": code, "status": "closed"})).json()[
        "items"
    ] == []
    assert (await client.get("/api/v1/projects", params={"status": "nonsense"})).status_code == 422


async def test_risky_progress_text_is_refused(client, campaign):
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/updates", json={"text": "赌博"}, headers=campaign["staff"]
    )
    assert response.status_code == 422 and error_code(response) == "content.risky"


async def test_progress_for_review_is_held_until_an_admin_publishes_it(client, campaign):
    from backend.accounts import service as accounts_service
    from tests.conftest import TEST_APPID

    pid = campaign["id"]
    held = await client.post(
        f"/api/v1/projects/{pid}/updates", json={"text": "review-test-word 进展"}, headers=campaign["staff"]
    )
    assert held.status_code == 201 and held.json()["status"] == "held"
    assert (await client.get(f"/api/v1/projects/{pid}")).json()["progress"] == []
    url = f"/api/v1/admin/progress-updates/{held.json()['id']}/decision"
    assert (
        await client.post(url, json={"approve": True, "reason": "人工审核通过"}, headers=campaign["staff"])
    ).status_code == 403
    admin_user = await accounts_service.get_or_create_user_by_ref(ref="dev-platform-admin", appid=TEST_APPID)
    await accounts_service.grant_admin(user=admin_user, actor=None, reason="test")
    admin = await login(client, "platform-admin")
    assert (
        await client.post(url, json={"approve": True, "reason": "人工审核通过"}, headers=admin)
    ).status_code == 200
    assert len((await client.get(f"/api/v1/projects/{pid}")).json()["progress"]) == 1
    again = await client.post(url, json={"approve": False, "reason": "再次处理"}, headers=admin)
    assert again.status_code == 409


# --- canonical bytes ------------------------------------------------------------------------------


async def test_canonical_bytes_are_stable_across_a_database_round_trip(client, campaign):
    created = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=donation(), headers=campaign["staff"]
    )
    entry = await LedgerEntry.get(id=created.json()["id"])
    first = canonical.canonical_bytes(entry)
    again = canonical.canonical_bytes(await LedgerEntry.get(id=entry.id))
    assert first == again
    fields = orjson.loads(first)
    assert list(fields) == sorted(fields)
    assert b" " not in first.replace("张**".encode(), b"")
    assert fields["received_at"] == "2026-03-05T02:30:00Z" and fields["donor"] == "张**"
    assert "张三丰" not in first.decode() and entry.receipt_code not in first.decode()
    assert fields["receipt_code_sha256"] == canonical.receipt_hash(entry.receipt_code)


def test_canonical_bytes_of_a_known_entry_never_change(db):
    """A golden value: if this changes, stored leaves no longer verify (a new format version is due)."""
    entry = LedgerEntry(
        id=7,
        project_id=3,
        organization_id=1,
        kind="donation",
        amount_fen=12345,
        received_at=datetime(2026, 3, 5, 2, 30, 0, 999, tzinfo=UTC),
        channel="wechat_pay",
        donor_display="masked",
        donor_public="张*",
        receipt_code="ABCDEFGHJKMNPQRS",
        recorded_at=datetime(2026, 3, 5, 2, 31, 0, tzinfo=UTC),
    )
    assert (
        canonical.canonical_bytes(entry)
        == (
            '{"amount_fen":12345,"channel":"wechat_pay","donor":"张*","donor_display":"masked","id":7,'
            '"project_id":3,'
            f'"receipt_code_sha256":"{canonical.receipt_hash("ABCDEFGHJKMNPQRS")}",'
            '"received_at":"2026-03-05T02:30:00Z","recorded_at":"2026-03-05T02:31:00Z","type":"donation","v":1}'
        ).encode()
    )


# --- the H5 pages ---------------------------------------------------------------------------------


async def test_project_page_is_served_as_html_with_the_pages_policy(client, campaign):
    await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=donation(), headers=campaign["staff"]
    )
    response = await client.get(f"/p/{campaign['id']}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "山区图书角" in response.text and "100.00元" in response.text and "张**" in response.text
    assert "张三丰" not in response.text


async def test_project_page_is_fresh_after_a_donation_and_a_progress_update(client, campaign):
    """The page is cached under the view's generation: read, write, read."""
    pid, staff = campaign["id"], campaign["staff"]
    assert "暂无收支记录" in (await client.get(f"/p/{pid}")).text
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    page = (await client.get(f"/p/{pid}")).text
    assert "100.00元" in page and "暂无收支记录" not in page
    await client.post(f"/api/v1/projects/{pid}/updates", json={"text": "图书已到校"}, headers=staff)
    assert "图书已到校" in (await client.get(f"/p/{pid}")).text


async def test_unknown_project_page_is_a_404_page(client, db):
    response = await client.get("/p/987654")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_verification_page_lists_the_projects_only_for_genuine_codes():
    from miniprogram_api.h5 import render_verification_page
    from tests.h5.conftest import make_view

    projects = [{"title": "山区图书角", "page_url": "/p/3", "raised_fen": 10_000, "spent_fen": 2_500}]
    page = render_verification_page(make_view("good_standing"), projects=projects)
    assert 'href="/p/3"' in page and "100.00元" in page and "25.00元" in page
    forged = render_verification_page(make_view("not_genuine"), projects=projects)
    assert "山区图书角" not in forged


@pytest.mark.parametrize("suffix", ["", "\n<b>", " A 1", "A-1", "Ａ1"])
async def test_a_filing_number_is_the_credit_code_and_the_filings_letters_and_digits(
    client, foundation, suffix
):
    # The bare credit code, a line break or markup after it were accepted and published as the 备案编号.
    org = foundation["org"]
    body = _body(filing_number=f"{org.credit_code}{suffix}")
    response = await client.post(
        f"/api/v1/orgs/{org.credit_code}/projects", json=body, headers=foundation["staff"]
    )
    assert response.status_code == 422, response.text
    assert error_code(response) == "project.filing_number_invalid"


async def test_a_filing_number_is_kept_upper_case_and_used_once(client, foundation):
    org = foundation["org"]
    url = f"/api/v1/orgs/{org.credit_code}/projects"
    first = await client.post(
        url, json=_body(filing_number=f" {org.credit_code.lower()}a2026 "), headers=foundation["staff"]
    )
    assert first.status_code == 201, first.text
    assert first.json()["filing_number"] == f"{org.credit_code}A2026"
    again = await client.post(
        url, json=_body(filing_number=f"{org.credit_code}A2026"), headers=foundation["staff"]
    )
    assert again.status_code == 409, again.text
    assert error_code(again) == "project.filing_number_taken"
    assert again.json()["error"]["details"] == {"project_id": first.json()["id"]}
