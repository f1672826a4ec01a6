"""Every input of the verification verdict, flipped one at a time through the officer API.

The verdict (backend/registry/qr.py ``standing``) reads the organization's status, its current
credit listings, its latest annual report, its public-fundraising qualification and a pilot code's
check-digit exception (DOMAIN.md, "Verifiable QR codes"): each has a test here that changes it and
sees the verdict and its reason change, and change back where the input can be undone.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.registry import qr
from tests.registry.test_registry_api import REASON, code_for, register, scan_url, setup, verdict  # noqa: F401

GOOD = ("good_standing", [])


async def _org(client, setup, **extra) -> tuple[str, str]:  # noqa: F811
    response = await register(client, setup["nanshan"], **extra)
    assert response.status_code == 201, response.text
    code = response.json()["credit_code"]
    url = await scan_url(client, code)
    return code, url


async def _verdict(client, url: str) -> tuple[str, list[str]]:
    answer = await verdict(client, url)
    return answer["verdict"], [r["code"] for r in answer["reasons"]]


async def _post(client, setup, code: str, path: str, body: dict[str, Any]) -> Any:  # noqa: F811
    response = await client.post(
        f"/api/v1/orgs/{code}{path}", json={**body, **REASON}, headers=setup["nanshan"]
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.mark.parametrize(
    ("status", "reason"), [("deregistered", "org.deregistered"), ("revoked", "org.revoked")]
)
async def test_a_deregistered_or_revoked_organization_is_not_in_good_standing(client, setup, status, reason):  # noqa: F811
    code, url = await _org(client, setup)
    assert await _verdict(client, url) == GOOD
    await _post(client, setup, code, "/status", {"status": status})
    assert await _verdict(client, url) == ("not_in_good_standing", [reason])


@pytest.mark.parametrize(
    ("credit_list", "expected"),
    [
        ("serious_violation", ("not_in_good_standing", ["credit.serious_violation_list"])),
        ("abnormal", ("warnings", ["credit.abnormal_list"])),
    ],
)
async def test_each_credit_list_sets_its_verdict_until_removed(client, setup, credit_list, expected):  # noqa: F811
    code, url = await _org(client, setup)
    listing = await _post(
        client, setup, code, "/listings", {"list": credit_list, "listing_reason": "依法列入"}
    )
    assert await _verdict(client, url) == expected
    await _post(client, setup, code, f"/listings/{listing['id']}/removal", {})
    assert await _verdict(client, url) == GOOD


async def test_the_serious_list_outweighs_a_warning_and_keeps_it(client, setup):  # noqa: F811
    code, url = await _org(client, setup)
    await _post(client, setup, code, "/listings", {"list": "abnormal", "listing_reason": "住所无法联系"})
    await _post(client, setup, code, "/listings", {"list": "serious_violation", "listing_reason": "严重违法"})
    assert await _verdict(client, url) == (
        "not_in_good_standing",
        ["credit.serious_violation_list", "credit.abnormal_list"],
    )


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("unqualified", ("warnings", ["annual_report.not_passed"])),
        ("not_filed", ("warnings", ["annual_report.not_passed"])),
        ("qualified", GOOD),
        ("basically_qualified", GOOD),
    ],
)
async def test_a_failed_or_missing_annual_report_is_a_warning(client, setup, result, expected):  # noqa: F811
    code, url = await _org(client, setup)
    await _post(client, setup, code, "/annual-reports", {"year": 2025, "result": result})
    assert await _verdict(client, url) == expected


async def test_only_the_latest_year_s_annual_report_counts(client, setup):  # noqa: F811
    recovered, recovered_url = await _org(client, setup)
    await _post(client, setup, recovered, "/annual-reports", {"year": 2023, "result": "unqualified"})
    await _post(client, setup, recovered, "/annual-reports", {"year": 2024, "result": "qualified"})
    assert await _verdict(client, recovered_url) == GOOD
    # Entered in the other order: the later year still decides.
    lapsed, lapsed_url = await _org(client, setup, code=code_for(serial="MA0000031"))
    await _post(client, setup, lapsed, "/annual-reports", {"year": 2024, "result": "not_filed"})
    await _post(client, setup, lapsed, "/annual-reports", {"year": 2023, "result": "qualified"})
    assert await _verdict(client, lapsed_url) == ("warnings", ["annual_report.not_passed"])


@pytest.mark.parametrize(
    ("valid_until", "expected"),
    [
        ("2022-12-31", ("warnings", ["qualification.public_fundraising_expired"])),
        ("2099-12-31", GOOD),
        (None, GOOD),
    ],
)
async def test_an_expired_public_fundraising_qualification_is_a_warning(client, setup, valid_until, expected):  # noqa: F811
    code, url = await _org(client, setup, kind="foundation")
    body = {"kind": "public_fundraising", "granted_on": "2020-01-01"}
    if valid_until:
        body["valid_until"] = valid_until
    await _post(client, setup, code, "/qualifications", body)
    assert await _verdict(client, url) == expected


def test_each_input_alone_gives_its_verdict_and_the_worst_wins():
    """``standing`` itself, input by input (no database): the table the API tests above walk."""
    from datetime import date

    today = date(2026, 12, 2)
    clean = {
        "status": "active",
        "current_listings": [],
        "latest_annual_result": "qualified",
        "fundraising_valid_until": None,
        "check_digit_exception": False,
    }

    def codes(**change: Any) -> tuple[str, list[str]]:
        verdict_, reasons = qr.standing({**clean, **change}, today=today)
        return verdict_, [r.code for r in reasons]

    assert codes() == GOOD
    assert codes(status="revoked") == ("not_in_good_standing", ["org.revoked"])
    assert codes(status="deregistered") == ("not_in_good_standing", ["org.deregistered"])
    serious = [{"list": "serious_violation", "reason": "x"}]
    assert codes(current_listings=serious) == ("not_in_good_standing", ["credit.serious_violation_list"])
    assert codes(current_listings=[{"list": "abnormal", "reason": "x"}]) == (
        "warnings",
        ["credit.abnormal_list"],
    )
    assert codes(latest_annual_result="unqualified") == ("warnings", ["annual_report.not_passed"])
    assert codes(latest_annual_result="not_filed") == ("warnings", ["annual_report.not_passed"])
    assert codes(latest_annual_result=None) == GOOD  # a new organization has filed none yet
    assert codes(fundraising_valid_until="2026-12-01") == (
        "warnings",
        ["qualification.public_fundraising_expired"],
    )
    assert codes(fundraising_valid_until="2026-12-02") == GOOD  # valid through its last day
    assert codes(check_digit_exception=True) == ("warnings", ["credit_code.pilot_exception"])
    assert codes(status="revoked", latest_annual_result="unqualified") == (
        "not_in_good_standing",
        ["org.revoked", "annual_report.not_passed"],
    )
