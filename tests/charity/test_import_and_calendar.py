"""The donation import (encodings, exact yuan, idempotency, all-or-nothing), the calendar, filings."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook, load_workbook

from backend.charity import calendar, donation_import
from backend.charity.models import LedgerEntry, OverdueItem, Project
from backend.events.models import OutboxEvent
from backend.registry.models import CreditProposal, Licence, LicenceKind
from tests.charity.conftest import donation, expenditure
from tests.conftest import error_code, login

CSV = (
    "捐赠时间,捐赠金额(元),捐赠人,支付流水号,展示方式\n"
    "2026-03-01 09:00:00,0.10,张三,P-1,\n"
    "2026/3/2 10:00,0.20,,P-2,\n"
    '2026-03-03 11:00,"1,234.56",李四,P-3,实名\n'
    "2026-03-04 12:00,１２.３０,王五,P-4,匿名\n"
)


def _url(campaign, **params):
    query = "&".join(f"{k}={v}" for k, v in {"channel": "tencent_gongyi", **params}.items())
    return f"/api/v1/projects/{campaign['id']}/donations/import?{query}"


@pytest.mark.parametrize(
    ("cell", "fen"),
    [
        ("0.1", 10),
        ("0.2", 20),
        ("0.30", 30),
        ("1,234.56", 123456),
        ("１２.３０", 1230),
        ("¥5元", 500),
        (0.1, 10),
    ],
)
def test_yuan_become_fen_exactly(cell, fen):
    from backend import spreadsheet

    assert spreadsheet.parse_money_fen(cell) == fen


def test_fractions_of_a_fen_are_a_row_error():
    parsed = donation_import.parse_bytes(
        "捐赠时间,捐赠金额,支付流水号\n2026-03-01,0.001,X\n".encode(), filename="a.csv"
    )
    assert parsed.rows == [] and parsed.errors[0]["code"] == "import.amount"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_is_read_in_each_encoding(encoding):
    parsed = donation_import.parse_bytes(CSV.encode(encoding), filename="export.csv")
    assert [r.amount_fen for r in parsed.rows] == [10, 20, 123456, 1230]
    assert [r.external_ref for r in parsed.rows] == ["P-1", "P-2", "P-3", "P-4"]
    assert [str(r.display) for r in parsed.rows] == ["masked", "anonymous", "full", "anonymous"]
    assert parsed.rows[0].received_at.isoformat() == "2026-03-01T01:00:00+00:00"  # Beijing time


def test_xlsx_is_read():
    book = Workbook()
    sheet = book.active
    sheet.append(["捐赠时间", "捐赠金额（元）", "捐赠人", "支付流水号"])
    sheet.append(["2026-03-01 09:00:00", 0.3, "赵六", "X-1"])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = donation_import.parse_bytes(buffer.getvalue(), filename="export.xlsx")
    assert [(r.amount_fen, r.external_ref) for r in parsed.rows] == [(30, "X-1")]


async def test_dry_run_reports_and_writes_nothing(client, campaign):
    response = await client.post(_url(campaign), content=CSV.encode("gb18030"), headers=campaign["staff"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["applied"], report["rows"], report["created"], report["amount_fen"]) == (
        False,
        4,
        4,
        124716,
    )
    assert await LedgerEntry.all().count() == 0


async def test_apply_records_all_rows_and_the_same_file_again_changes_nothing(client, campaign):
    first = await client.post(_url(campaign, apply="true"), content=CSV.encode(), headers=campaign["staff"])
    assert first.status_code == 200 and first.json()["applied"] is True, first.text
    project = (await client.get(f"/api/v1/projects/{campaign['id']}")).json()
    assert (project["raised_fen"], project["donor_count"]) == (124716, 4)
    newest = (await client.get(f"/api/v1/projects/{campaign['id']}/entries")).json()["items"][0]
    assert (newest["received_at"], newest["donor"], newest["amount_fen"]) == (
        "2026-03-04T04:00:00Z",
        "匿名",
        1230,
    )
    receipt = await client.get(f"/api/v1/receipts/{(await LedgerEntry.get(id=newest['id'])).receipt_code}")
    assert receipt.status_code == 200
    again = (
        await client.post(_url(campaign, apply="true"), content=CSV.encode(), headers=campaign["staff"])
    ).json()
    assert (again["created"], again["unchanged"]) == (0, 4)
    assert await LedgerEntry.all().count() == 4
    assert await OutboxEvent.filter(kind="donation.recorded").count() == 4
    assert (await client.get(f"/api/v1/projects/{campaign['id']}")).json()["raised_fen"] == 124716


async def test_one_bad_row_applies_nothing(client, campaign):
    bad = CSV + "2026-03-05,abc,孙七,P-5,\n"
    report = (
        await client.post(_url(campaign, apply="true"), content=bad.encode(), headers=campaign["staff"])
    ).json()
    assert report["applied"] is False and report["errors"][0]["row"] == 6
    assert await LedgerEntry.all().count() == 0


async def test_import_agrees_with_single_donations_on_the_reference(client, campaign):
    await client.post(
        f"/api/v1/projects/{campaign['id']}/donations",
        json=donation("P-1", channel="tencent_gongyi", amount_fen=10),
        headers=campaign["staff"],
    )
    report = (
        await client.post(_url(campaign, apply="true"), content=CSV.encode(), headers=campaign["staff"])
    ).json()
    assert (report["created"], report["unchanged"]) == (3, 1)


async def test_import_without_the_amount_column_is_refused(client, campaign):
    response = await client.post(
        _url(campaign), content="捐赠时间,支付流水号\n2026-01-01,A\n".encode(), headers=campaign["staff"]
    )
    assert response.status_code == 422 and error_code(response) == "import.missing_columns"


async def test_import_is_for_the_projects_staff(client, campaign):
    headers = await login(client, "stranger")
    response = await client.post(_url(campaign), content=CSV.encode(), headers=headers)
    assert response.status_code == 403


# --- the calendar -----------------------------------------------------------------------------------


async def _calendar(client, campaign, headers=None):
    response = await client.get(
        f"/api/v1/orgs/{campaign['org'].credit_code}/disclosure-calendar",
        headers=headers or campaign["staff"],
    )
    assert response.status_code == 200, response.text
    return {item["key"]: item for item in response.json()["items"]}


async def test_running_campaign_progress_is_due_then_overdue(client, campaign):
    started = date.today() - timedelta(days=100)
    await Project.filter(id=campaign["id"]).update(started_on=started)
    items = await _calendar(client, campaign)
    first, second = items[f"progress:{campaign['id']}:1"], items[f"progress:{campaign['id']}:2"]
    assert first["status"] == "overdue" and second["status"] == "due"
    await client.post(
        f"/api/v1/projects/{campaign['id']}/updates", json={"text": "已采购图书"}, headers=campaign["staff"]
    )
    items = await _calendar(client, campaign)
    assert items[f"progress:{campaign['id']}:1"]["status"] == "done"
    assert items[f"progress:{campaign['id']}:1"]["late"] is True


async def test_annual_report_and_leftover_items(client, campaign):
    await Project.filter(id=campaign["id"]).update(
        created_at=date(2024, 2, 1), status="closed", closed_on=date.today() - timedelta(days=200)
    )
    items = await _calendar(client, campaign)
    assert (
        items["annual_report:2024"]["due_on"] == "2025-05-31"
        and items["annual_report:2024"]["status"] == "overdue"
    )
    assert items[f"leftover_funds:{campaign['id']}"]["status"] == "overdue"
    response = await client.post(
        f"/api/v1/orgs/{campaign['org'].credit_code}/disclosures",
        json={"item": "annual_report:2024", "title": "2024年度工作报告", "content": "全文见链接"},
        headers=campaign["staff"],
    )
    assert response.status_code == 201, response.text
    assert (await _calendar(client, campaign))["annual_report:2024"]["status"] == "done"
    again = await client.post(
        f"/api/v1/orgs/{campaign['org'].credit_code}/disclosures",
        json={"item": "annual_report:2024", "title": "重复", "content": "x"},
        headers=campaign["staff"],
    )
    assert again.status_code == 409


async def test_major_change_is_due_within_30_days(client, campaign):
    decided = date.today() - timedelta(days=10)
    licence = await Licence.create(
        organization=campaign["org"],
        kind=LicenceKind.CHANGE,
        decision_number="深民变〔2026〕1号",
        decided_on=decided,
    )
    item = (await _calendar(client, campaign))[f"major_change:licence:{licence.id}"]
    assert item["status"] == "due" and item["due_on"] == (decided + timedelta(days=30)).isoformat()


async def test_calendar_is_for_staff_and_officers_of_the_jurisdiction(client, campaign):
    from backend.accounts import service as accounts_service
    from tests.charity.conftest import user_of
    from tests.factories import make_authority

    member = await login(client, "curious-member")
    url = f"/api/v1/orgs/{campaign['org'].credit_code}/disclosure-calendar"
    assert (await client.get(url, headers=member)).status_code == 403
    assert (await client.get(url)).status_code == 401
    officer = await login(client, "sz-officer")
    await accounts_service.grant_officer(
        user=await user_of(client, officer), authority=campaign["authority"], actor=None, reason="t"
    )
    assert (await client.get(url, headers=officer)).status_code == 200
    far = await login(client, "bj-officer")
    await accounts_service.grant_officer(
        user=await user_of(client, far), authority=await make_authority("110000"), actor=None, reason="t"
    )
    assert (await client.get(url, headers=far)).status_code == 403


async def test_overdue_scan_emits_one_event_and_proposes_the_abnormal_list(client, campaign):
    await Project.filter(id=campaign["id"]).update(started_on=date.today() - timedelta(days=100))
    today = date.today()
    assert await calendar.scan(today=today) >= 1
    assert await calendar.scan(today=today) >= 1  # a second run adds nothing
    assert await OutboxEvent.filter(kind="disclosure.overdue").count() == 1
    event = await OutboxEvent.get(kind="disclosure.overdue")
    assert event.payload["credit_code"] == campaign["org"].credit_code and event.recipients
    proposal = await CreditProposal.get(rule_code="abnormal.disclosure_overdue")
    assert "信息公开" in proposal.reason
    await client.post(
        f"/api/v1/projects/{campaign['id']}/updates", json={"text": "进展"}, headers=campaign["staff"]
    )
    await calendar.scan(today=today)
    assert await OverdueItem.filter(resolved_on__isnull=True).count() == 0


# --- filings ------------------------------------------------------------------------------------------


async def test_filing_export_has_exact_yuan_by_category(client, campaign):
    pid, staff = campaign["id"], campaign["staff"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation(amount_fen=30), headers=staff)
    await client.post(
        f"/api/v1/projects/{pid}/expenditures",
        json=expenditure(amount_fen=10, category="management"),
        headers=staff,
    )
    response = await client.get(f"/api/v1/projects/{pid}/filing", headers=staff)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    values = dict(zip(header, row, strict=True))
    assert values["备案编号"] == f"{campaign['org'].credit_code}A001"
    assert str(values["募得款物（元）"]) == "0.3" and str(values["管理费用（元）"]) == "0.1"
    csv_body = (await client.get(f"/api/v1/projects/{pid}/filing?format=csv", headers=staff)).content.decode(
        "utf-8-sig"
    )
    assert "0.30" in csv_body and "0.10" in csv_body
    year = await client.get(
        f"/api/v1/orgs/{campaign['org'].credit_code}/filing/2026?format=csv", headers=staff
    )
    assert year.status_code == 200 and "山区图书角" in year.content.decode("utf-8-sig")
    assert (
        await client.get(f"/api/v1/projects/{pid}/filing", headers=await login(client, "nobody"))
    ).status_code == 403


# --- hostile values in an export (found by trying the import as a foundation's staff would) ------------


@pytest.mark.parametrize("cell", ["99999999999999999999", "1e20", 1e20, "10000000000001"])
def test_an_amount_beyond_what_a_ledger_holds_is_a_row_error(cell):
    # Unbounded, 1e20 yuan went into the report as an integer beyond 64 bits: a 500 on the dry run.
    from backend import spreadsheet

    with pytest.raises(spreadsheet.MoneyError):
        spreadsheet.parse_money_fen(cell)
    assert spreadsheet.parse_money_fen("10000000000000") == spreadsheet.MAX_FEN


async def test_a_huge_amount_in_an_export_is_reported_not_a_500(client, campaign):
    body = "捐赠时间,捐赠金额（元）,支付流水号\n2026-03-01,99999999999999999999,H-1\n2026-03-01,1.00,H-2\n"
    response = await client.post(_url(campaign), content=body.encode("gb18030"), headers=campaign["staff"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "import.amount")]
    assert (report["created"], report["amount_fen"]) == (1, 100)


@pytest.mark.parametrize(
    "moment", ["2026-02-30 10:00", "2026-13-01", "2026-11-29 25:00", "0000-11-29", "2026-11-29T10:00+25:00"]
)
def test_an_impossible_donation_time_is_explained_in_chinese(moment):
    # These matched the pattern and then failed in datetime(): the report carried Python's English.
    parsed = donation_import.parse_bytes(
        f"捐赠时间,捐赠金额,支付流水号\n{moment},1,X\n".encode(), filename="a.csv"
    )
    assert parsed.rows == []
    [error] = parsed.errors
    assert error["code"] == "import.date"
    assert error["message"].startswith(f"捐赠时间“{moment}”不是有效的日期时间"), error["message"]


async def test_a_multipart_upload_without_a_file_part_is_refused(client, campaign):
    # The whole multipart body, boundaries and all, used to be read as the CSV.
    response = await client.post(
        _url(campaign, apply="true"),
        files={"upload": ("export.csv", CSV.encode())},
        headers=campaign["staff"],
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "import.file_missing"
    assert await LedgerEntry.all().count() == 0
    with_file = await client.post(
        _url(campaign), files={"file": ("export.csv", CSV.encode())}, headers=campaign["staff"]
    )
    assert with_file.status_code == 200 and with_file.json()["created"] == 4, with_file.text


@pytest.mark.parametrize("year", [0, -1, 10000, 99999])
async def test_a_filing_year_a_date_cannot_hold_is_422(client, campaign, year):
    response = await client.get(
        f"/api/v1/orgs/{campaign['org'].credit_code}/filing/{year}?format=csv", headers=campaign["staff"]
    )
    assert response.status_code == 422, response.text
    assert error_code(response) == "filing.year_out_of_range"
