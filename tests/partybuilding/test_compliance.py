"""三会一课 arithmetic: periods, required counts, held meetings, the region report, the no-branch flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts import service as accounts_service
from backend.partybuilding import compliance
from backend.partybuilding.models import Activity, ActivityKind, Branch, BranchMember, Checkin
from backend.registry import credit
from backend.registry.models import CreditProposal
from tests.factories import make_authority, make_org, make_user

REQ = compliance.DEFAULT_REQUIREMENTS


@pytest.mark.parametrize(
    ("text", "months", "start", "end"),
    [
        ("2026-11", 1, "2026-11-01", "2026-12-01"),
        ("2026-12", 1, "2026-12-01", "2027-01-01"),
        ("2026-Q3", 3, "2026-07-01", "2026-10-01"),
        ("2026-Q4", 3, "2026-10-01", "2027-01-01"),
        ("2026", 12, "2026-01-01", "2027-01-01"),
    ],
)
def test_periods_are_beijing_months_quarters_and_years(text, months, start, end):
    period = compliance.parse_period(text)
    assert period.months == months
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == (start, end)
    assert period.start.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-Q5", "26-11", "abc", "1999"])
def test_bad_periods_are_refused(text):
    with pytest.raises(compliance.BadPeriod):
        compliance.parse_period(text)


def test_required_counts_scale_with_the_period():
    assert compliance.required_counts(compliance.parse_period("2026-11"), REQ) == {
        "general_meeting": 1,
        "committee_meeting": 1,
        "group_meeting": 1,
        "party_lecture": 1,
        "theme_day": 1,
    }
    assert compliance.required_counts(compliance.parse_period("2026-Q3"), REQ) == {
        "general_meeting": 1,
        "committee_meeting": 3,
        "group_meeting": 3,
        "party_lecture": 1,
        "theme_day": 3,
    }
    assert compliance.required_counts(compliance.parse_period("2026"), REQ) == {
        "general_meeting": 4,
        "committee_meeting": 12,
        "group_meeting": 12,
        "party_lecture": 4,
        "theme_day": 12,
    }


async def _meeting(branch: Branch, kind: str, at: datetime) -> Activity:
    return await Activity.create(
        organization_id=branch.organization_id,
        branch=branch,
        kind=kind,
        title=kind,
        starts_at=at,
        ends_at=at + timedelta(hours=1),
        place="会议室",
        latitude=22.5,
        longitude=114.0,
        radius_m=100,
        checkin_opens_at=at - timedelta(minutes=30),
        checkin_closes_at=at + timedelta(hours=1),
        late_after=at + timedelta(minutes=10),
        expected="branch",
        code_secret="s" * 43,
    )


async def test_a_month_with_every_meeting_is_compliant_and_carries_attendance(db):
    org = await make_org(await make_authority("440300"))
    branch = await Branch.create(organization=org, name="党支部")
    members = [await make_user() for _ in range(4)]
    for user in members:
        await BranchMember.create(branch=branch, user=user, membership="full")
    nov = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    meetings = {kind: await _meeting(branch, kind, nov) for kind in REQ}
    for user in members[:3]:
        await Checkin.create(
            activity=meetings["general_meeting"], user=user, status="present", checked_in_at=nov
        )
    # A meeting on the last evening of October in Beijing is an October meeting.
    await _meeting(branch, ActivityKind.THEME_DAY, datetime(2026, 10, 31, 15, 59, tzinfo=UTC))

    report = await compliance.branch_report(
        branch=branch, period=compliance.parse_period("2026-11"), requirements=REQ
    )
    assert report["compliant"] is True
    assert report["requirements"]["theme_day"] == {"required": 1, "held": 1, "met": True}
    general = next(m for m in report["meetings"] if m["kind"] == "general_meeting")
    assert general["attendance_rate"] == 0.75

    quarter = await compliance.branch_report(
        branch=branch, period=compliance.parse_period("2026-Q4"), requirements=REQ
    )
    assert quarter["compliant"] is False
    assert quarter["requirements"]["committee_meeting"] == {"required": 3, "held": 1, "met": False}
    assert quarter["requirements"]["theme_day"] == {"required": 3, "held": 2, "met": False}


async def test_region_report_lists_short_branches_and_organizations_without_one(db):
    authority = await make_authority("440300")
    officer = await make_user()
    await accounts_service.grant_officer(user=officer, authority=authority, actor=None)
    compliant_org = await make_org(authority)
    short_org = await make_org(authority)
    no_branch = await make_org(authority, party_members_reported=5)
    await make_org(authority, party_members_reported=2)  # fewer than three: no branch needed
    good = await Branch.create(organization=compliant_org, name="甲支部")
    await Branch.create(organization=short_org, name="乙支部")
    for kind in REQ:
        await _meeting(good, kind, datetime(2026, 11, 5, 2, 0, tzinfo=UTC))

    report = await compliance.region_report(
        actor=officer, region_code="440300", period_text="2026-11", requirements=REQ
    )
    assert report["branches"] == 2 and report["compliant_branches"] == 1
    assert [s["credit_code"] for s in report["short"]] == [short_org.credit_code]
    assert set(report["short"][0]["missing"]) == set(REQ)
    assert [o["credit_code"] for o in report["organizations_without_branch"]] == [no_branch.credit_code]

    outsider = await make_user()
    await accounts_service.grant_officer(user=outsider, authority=await make_authority("440100"), actor=None)
    with pytest.raises(Exception) as excinfo:
        await compliance.region_report(
            actor=outsider, region_code="440300", period_text="2026-11", requirements=REQ
        )
    assert getattr(excinfo.value, "status", None) == 403


async def test_three_party_members_without_a_branch_propose_the_abnormal_list(db):
    org = await make_org(await make_authority("440300"), party_members_reported=3)
    proposals = await credit.evaluate(organization=org, today=datetime(2026, 11, 29).date())
    assert [p.rule_code for p in proposals] == ["abnormal.no_party_organization"]
    await Branch.create(organization=org, name="新建支部")
    await CreditProposal.all().delete()
    assert await credit.evaluate(organization=org, today=datetime(2026, 11, 29).date()) == []
