"""Recording the ledger over HTTP: donations, expenditures, corrections, masking, permissions, 405s."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.charity.models import LedgerEntry
from backend.events.models import OutboxEvent
from tests.charity.conftest import donation, expenditure
from tests.conftest import error_code, login


async def _project(client: httpx.AsyncClient, project_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/projects/{project_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_donation_answers_201_with_entry_and_receipt_code(client, campaign):
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=donation(), headers=campaign["staff"]
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] > 0 and len(body["receipt_code"]) == 16
    assert body["amount_fen"] == 10_000 and body["donor"] == "张**"
    assert (await _project(client, campaign["id"]))["raised_fen"] == 10_000


async def test_same_channel_and_reference_again_answers_200_with_the_same_entry(client, campaign):
    url = f"/api/v1/projects/{campaign['id']}/donations"
    first = await client.post(url, json=donation(), headers=campaign["staff"])
    again = await client.post(url, json=donation(), headers=campaign["staff"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["receipt_code"] == first.json()["receipt_code"]
    project = await _project(client, campaign["id"])
    assert project["raised_fen"] == 10_000 and project["donor_count"] == 1
    assert await OutboxEvent.filter(kind="donation.recorded").count() == 1


async def test_same_reference_with_another_amount_is_a_conflict(client, campaign):
    url = f"/api/v1/projects/{campaign['id']}/donations"
    await client.post(url, json=donation(), headers=campaign["staff"])
    response = await client.post(url, json=donation(amount_fen=1), headers=campaign["staff"])
    assert response.status_code == 409 and error_code(response) == "ledger.reference_conflict"


async def test_concurrent_identical_donations_record_one_entry(client, campaign):
    url = f"/api/v1/projects/{campaign['id']}/donations"
    responses = await asyncio.gather(
        *(client.post(url, json=donation("RACE"), headers=campaign["staff"]) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert {r.json()["id"] for r in responses} == {responses[0].json()["id"]}
    assert (await _project(client, campaign["id"]))["raised_fen"] == 10_000


@pytest.mark.parametrize(
    ("display", "name", "shown"),
    [
        ("masked", "张三丰", "张**"),
        ("masked", "李四", "李*"),
        ("anonymous", "王五", "匿名"),
        ("anonymous", None, "匿名"),
        ("full", "赵六", "赵六"),
    ],
)
async def test_donor_is_published_as_chosen(client, campaign, display, name, shown):
    body = donation(f"D-{display}-{name}", donor_display=display, donor_name=name)
    created = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=body, headers=campaign["staff"]
    )
    assert created.status_code == 201, created.text
    entries = (await client.get(f"/api/v1/projects/{campaign['id']}/entries")).json()["items"]
    assert entries[0]["donor"] == shown
    receipt = (await client.get(f"/api/v1/receipts/{created.json()['receipt_code']}")).json()
    assert receipt["entry"]["donor"] == shown
    stored = await LedgerEntry.get(id=created.json()["id"])
    if name:
        assert stored.donor_name_encrypted and name not in stored.donor_name_encrypted


async def test_masked_donation_needs_a_name(client, campaign):
    body = donation(donor_name=None)
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=body, headers=campaign["staff"]
    )
    assert response.status_code == 422


async def test_expenditure_within_the_balance_updates_totals_by_category(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    response = await client.post(f"/api/v1/projects/{pid}/expenditures", json=expenditure(), headers=staff)
    assert response.status_code == 201, response.text
    project = await _project(client, pid)
    assert (project["raised_fen"], project["spent_fen"], project["balance_fen"]) == (10_000, 3_000, 7_000)
    assert project["by_category"] == [{"category": "goods", "label": "物资采购", "spent_fen": 3_000}]
    assert {m["month"]: (m["raised_fen"], m["spent_fen"]) for m in project["by_month"]} == {
        "2026-03": (10_000, 0),
        "2026-04": (0, 3_000),
    }


async def test_expenditure_beyond_the_balance_is_refused(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    response = await client.post(
        f"/api/v1/projects/{pid}/expenditures", json=expenditure(amount_fen=10_001), headers=staff
    )
    assert response.status_code == 422 and error_code(response) == "ledger.insufficient_balance"
    assert (await _project(client, pid))["spent_fen"] == 0
    assert await LedgerEntry.filter(kind="expenditure").count() == 0


async def test_an_explained_advance_may_exceed_the_balance(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    body = expenditure(amount_fen=50_000, advance=True, explanation="图书涨价，机构先行垫付")
    response = await client.post(f"/api/v1/projects/{pid}/expenditures", json=body, headers=staff)
    assert response.status_code == 201, response.text
    assert (await _project(client, pid))["balance_fen"] == -50_000


async def test_an_expenditure_paid_after_today_is_refused(client, campaign):
    # Accepted before (an advance of 2099): it showed in the month chart and a future year's filing.
    pid, staff = campaign["id"], campaign["staff"]
    tomorrow = (datetime.now(UTC) + timedelta(hours=8, days=1)).date().isoformat()
    body = expenditure(paid_on=tomorrow, advance=True, explanation="先行垫付")
    response = await client.post(f"/api/v1/projects/{pid}/expenditures", json=body, headers=staff)
    assert response.status_code == 422, response.text
    assert error_code(response) == "ledger.paid_in_future"
    assert await LedgerEntry.filter(kind="expenditure").count() == 0
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    body = expenditure(paid_on=today, advance=True, explanation="先行垫付")
    assert (
        await client.post(f"/api/v1/projects/{pid}/expenditures", json=body, headers=staff)
    ).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount_fen", True), ("amount_fen", "100"), ("amount_fen", 1e3), ("received_at", 1_700_000_000)],
)
async def test_a_donation_of_the_wrong_json_type_is_refused_not_converted(client, campaign, field, value):
    # Lax parsing recorded ``true`` as a donation of one fen and a number as a Unix time.
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations",
        json=donation(**{field: value}),
        headers=campaign["staff"],
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == [field]
    assert await LedgerEntry.all().count() == 0


async def test_a_correction_naming_its_entry_with_true_is_refused(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    response = await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": True, "explanation": "重复登记"},
        headers=staff,
    )
    assert response.status_code == 422, response.text
    assert (await _project(client, pid))["raised_fen"] == 10_000


async def test_an_advance_without_explanation_is_refused(client, campaign):
    body = expenditure(advance=True)
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/expenditures", json=body, headers=campaign["staff"]
    )
    assert response.status_code == 422


async def test_concurrent_expenditures_never_spend_beyond_the_balance(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(amount_fen=10_000), headers=staff)
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/projects/{pid}/expenditures", json=expenditure(amount_fen=3_000), headers=staff
            )
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 422, 422, 422]
    assert (await _project(client, pid))["spent_fen"] == 9_000


async def test_correction_reverses_an_entry_and_totals_count_both_as_nothing(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    kept = await client.post(f"/api/v1/projects/{pid}/donations", json=donation("KEEP"), headers=staff)
    wrong = await client.post(
        f"/api/v1/projects/{pid}/donations", json=donation("WRONG", amount_fen=777), headers=staff
    )
    response = await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": wrong.json()["id"], "explanation": "重复录入"},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    assert response.json()["reverses"] == wrong.json()["id"]
    project = await _project(client, pid)
    assert (project["raised_fen"], project["donor_count"], project["entry_count"]) == (10_000, 1, 3)
    items = (await client.get(f"/api/v1/projects/{pid}/entries")).json()["items"]
    assert [i["id"] for i in items] == [response.json()["id"], wrong.json()["id"], kept.json()["id"]]
    assert items[1]["reversed_by"] == response.json()["id"]
    assert {m["month"]: m["raised_fen"] for m in project["by_month"]} == {"2026-03": 10_000}


async def test_an_entry_is_reversed_at_most_once(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    wrong = await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    body = {"reverses": wrong.json()["id"], "explanation": "录入错误"}
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/projects/{pid}/corrections", json=body, headers=staff) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert (await _project(client, pid))["raised_fen"] == 0


async def test_a_correction_cannot_be_reversed(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    wrong = await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    fix = await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": wrong.json()["id"], "explanation": "错录"},
        headers=staff,
    )
    response = await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": fix.json()["id"], "explanation": "撤回更正"},
        headers=staff,
    )
    assert response.status_code == 422 and error_code(response) == "ledger.correction_not_reversible"


async def test_reversing_an_expenditure_gives_the_money_back(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(), headers=staff)
    spent = await client.post(f"/api/v1/projects/{pid}/expenditures", json=expenditure(), headers=staff)
    await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": spent.json()["id"], "explanation": "退货"},
        headers=staff,
    )
    project = await _project(client, pid)
    assert (project["spent_fen"], project["balance_fen"], project["by_category"]) == (0, 10_000, [])


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
async def test_entries_cannot_be_changed_or_deleted(client, campaign, method):
    created = await client.post(
        f"/api/v1/projects/{campaign['id']}/donations", json=donation(), headers=campaign["staff"]
    )
    url = f"/api/v1/projects/{campaign['id']}/entries/{created.json()['id']}"
    kwargs: dict[str, Any] = {"json": {"amount_fen": 1}} if method != "delete" else {}
    response = await getattr(client, method)(url, headers=campaign["staff"], **kwargs)
    assert response.status_code == 405
    assert (await client.get(url)).json()["amount_fen"] == 10_000


async def test_staff_of_another_organization_cannot_record(client, campaign):
    from backend.accounts import service as accounts_service
    from backend.accounts.models import StaffRoleKind
    from tests.charity.conftest import user_of
    from tests.factories import make_org

    other = await make_org(campaign["authority"])
    headers = await login(client, "other-staff")
    await accounts_service.grant_staff(
        user=await user_of(client, headers), organization=other, role=StaffRoleKind.OWNER, actor=None
    )
    for path, body in (
        ("donations", donation()),
        ("expenditures", expenditure()),
        ("corrections", {"reverses": 1, "explanation": "试试"}),
    ):
        response = await client.post(f"/api/v1/projects/{campaign['id']}/{path}", json=body, headers=headers)
        assert response.status_code == 403 and error_code(response) == "auth.staff_required"


async def test_anonymous_callers_cannot_record(client, campaign):
    response = await client.post(f"/api/v1/projects/{campaign['id']}/donations", json=donation())
    assert response.status_code == 401


async def test_a_member_gets_403_before_any_business_rule(client, campaign):
    headers = await login(client, "just-a-member")
    body = expenditure(amount_fen=99_999_999)  # beyond the balance: still 403, not 422
    response = await client.post(
        f"/api/v1/projects/{campaign['id']}/expenditures", json=body, headers=headers
    )
    assert response.status_code == 403


async def test_draft_project_takes_no_donation_and_is_not_public(client, foundation):
    from tests.charity.conftest import PLAN

    org, staff = foundation["org"], foundation["staff"]
    body = {"title": "草稿项目", "kind": "directed", "plan": PLAN, "target_fen": 100}
    draft = (await client.post(f"/api/v1/orgs/{org.credit_code}/projects", json=body, headers=staff)).json()
    response = await client.post(f"/api/v1/projects/{draft['id']}/donations", json=donation(), headers=staff)
    assert response.status_code == 422 and error_code(response) == "ledger.project_not_open"
    assert (await client.get(f"/api/v1/projects/{draft['id']}")).status_code == 404


async def test_unknown_receipt_code_is_404(client, campaign):
    response = await client.get("/api/v1/receipts/0000000000000000")
    assert response.status_code == 404 and error_code(response) == "receipt.not_found"


async def test_receipt_code_is_found_however_it_is_typed(client, campaign):
    created = (
        await client.post(
            f"/api/v1/projects/{campaign['id']}/donations", json=donation(), headers=campaign["staff"]
        )
    ).json()
    code = created["receipt_code"]
    typed = f"{code[:4].lower()}-{code[4:8]}-{code[8:]}"
    receipt = (await client.get(f"/api/v1/receipts/{typed}")).json()
    assert receipt["entry"]["id"] == created["id"] and receipt["project"]["id"] == campaign["id"]
    assert receipt["reversed"] is False
