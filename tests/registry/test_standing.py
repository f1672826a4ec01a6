"""The verdict of a genuine code (backend/registry/qr.py ``standing``) as a pure function: every input
flipped on its own, their combinations, and the reasons' order and text.

tests/registry/test_verdict_inputs.py flips the same inputs through the officer API; this file pins
the function itself, fast enough for the mutation run's ``verdicts`` group (tests/MUTATION.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from backend.registry import qr

TODAY = date(2026, 12, 2)


def meta(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"status": "active", "current_listings": []}
    base.update(changes)
    return base


def judged(**changes: Any) -> tuple[str, list[str]]:
    verdict, reasons = qr.standing(meta(**changes), today=TODAY)
    return verdict, [r.code for r in reasons]


SERIOUS = {"list": "serious_violation", "reason": "弄虚作假"}
ABNORMAL = {"list": "abnormal", "reason": "未按规定报送年度报告"}


def test_an_active_organization_with_nothing_against_it_is_in_good_standing():
    assert qr.standing(meta(), today=TODAY) == ("good_standing", [])
    assert judged(fundraising_valid_until=None, latest_annual_result="qualified") == ("good_standing", [])
    assert judged(latest_annual_result=None, check_digit_exception=False) == ("good_standing", [])


@pytest.mark.parametrize(
    ("status", "reason"), [("revoked", "org.revoked"), ("deregistered", "org.deregistered")]
)
def test_a_revoked_or_deregistered_organization_is_not_in_good_standing(status, reason):
    assert judged(status=status) == ("not_in_good_standing", [reason])


def test_the_serious_violation_list_is_bad_and_the_abnormal_list_a_warning():
    assert judged(current_listings=[SERIOUS]) == ("not_in_good_standing", ["credit.serious_violation_list"])
    assert judged(current_listings=[ABNORMAL]) == ("warnings", ["credit.abnormal_list"])
    assert judged(current_listings=[ABNORMAL, SERIOUS]) == (
        "not_in_good_standing",
        ["credit.serious_violation_list", "credit.abnormal_list"],
    )
    assert judged(current_listings=[ABNORMAL, ABNORMAL]) == ("warnings", ["credit.abnormal_list"] * 2)


def test_the_fundraising_qualification_expires_after_its_last_day():
    assert judged(fundraising_valid_until="2026-12-02") == ("good_standing", [])  # its last day
    assert judged(fundraising_valid_until="2027-01-01") == ("good_standing", [])
    assert judged(fundraising_valid_until="2026-12-01") == (
        "warnings",
        ["qualification.public_fundraising_expired"],
    )
    assert judged(fundraising_valid_until="") == ("good_standing", [])


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("unqualified", ("warnings", ["annual_report.not_passed"])),
        ("not_filed", ("warnings", ["annual_report.not_passed"])),
        ("qualified", ("good_standing", [])),
        ("basically_qualified", ("good_standing", [])),
        (None, ("good_standing", [])),
    ],
)
def test_the_latest_annual_report_failed_or_missing_is_a_warning(result, expected):
    assert judged(latest_annual_result=result) == expected


def test_a_pilot_code_with_a_check_digit_exception_is_a_warning():
    assert judged(check_digit_exception=True) == ("warnings", ["credit_code.pilot_exception"])


def test_bad_reasons_come_first_then_every_warning_in_order():
    assert judged(
        status="revoked",
        current_listings=[ABNORMAL, SERIOUS],
        fundraising_valid_until="2020-01-01",
        latest_annual_result="not_filed",
        check_digit_exception=True,
    ) == (
        "not_in_good_standing",
        [
            "org.revoked",
            "credit.serious_violation_list",
            "credit.abnormal_list",
            "qualification.public_fundraising_expired",
            "annual_report.not_passed",
            "credit_code.pilot_exception",
        ],
    )
    assert judged(
        fundraising_valid_until="2020-01-01", latest_annual_result="unqualified", check_digit_exception=True
    ) == (
        "warnings",
        [
            "qualification.public_fundraising_expired",
            "annual_report.not_passed",
            "credit_code.pilot_exception",
        ],
    )


def test_the_reasons_say_what_and_why_in_chinese():
    _, reasons = qr.standing(
        meta(
            status="deregistered",
            current_listings=[SERIOUS, ABNORMAL],
            fundraising_valid_until="2026-06-30",
            latest_annual_result="unqualified",
            check_digit_exception=True,
        ),
        today=TODAY,
    )
    assert [r.message for r in reasons] == [
        "该组织已注销",
        "列入严重违法失信名单：弄虚作假",
        "列入活动异常名录：未按规定报送年度报告",
        "公开募捐资格已于 2026-06-30 到期",
        "最近一次年度报告（年检）未通过或未按时提交",
        "该代码为早期试点代码，校验位不符，经登记管理机关确认登记",
    ]
    revoked = qr.standing(meta(status="revoked"), today=TODAY)[1]
    assert [r.message for r in revoked] == ["该组织已被撤销登记"]


@pytest.mark.parametrize(
    "code", ["qr.not_our_url", "qr.malformed", "qr.unknown_key", "qr.bad_signature", "qr.revoked"]
)
def test_a_code_that_is_not_genuine_says_why(code):
    verdict, reasons = qr._not_genuine(code)
    assert verdict == "not_genuine" and [r.code for r in reasons] == [code]
    assert reasons[0].message == qr._NOT_GENUINE_MESSAGES[code]
    assert qr._not_genuine("qr.other")[1][0].message == "二维码无效"
