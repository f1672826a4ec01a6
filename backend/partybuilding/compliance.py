"""三会一课 compliance: which required meetings a branch held in a period, and their attendance.

Required frequencies are configuration (``PARTYBUILDING_REQUIREMENTS``); the defaults follow the
Regulations on Party Branch Work (2018) as DOMAIN.md gives them (check): a branch general meeting
each quarter, a branch committee meeting, a party group meeting and a theme day each month, and a
party lecture each quarter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..accounts.models import User
from ..accounts.permissions import require_officer_for_region
from ..errors import Unprocessable
from ..registry.models import Organization
from ..registry.regions import subtree_filter
from .models import Activity, ActivityKind, Branch, BranchMember, Membership
from .service import attendance_of, get_branch, require_roster_access

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_REQUIREMENTS: dict[str, str] = {
    ActivityKind.GENERAL_MEETING: "quarter",
    ActivityKind.COMMITTEE_MEETING: "month",
    ActivityKind.GROUP_MEETING: "month",
    ActivityKind.PARTY_LECTURE: "quarter",
    ActivityKind.THEME_DAY: "month",
}
_MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


class BadPeriod(Unprocessable):
    code = "compliance.bad_period"
    message = "统计期间格式应为 2026、2026-Q3 或 2026-11 / The period must look like 2026, 2026-Q3 or 2026-11"


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime
    months: int


def parse_period(text: str) -> Period:
    """A year (2026), a quarter (2026-Q3) or a month (2026-11), in Beijing time."""
    if m := re.fullmatch(r"(\d{4})", text):
        year, first, months = int(m[1]), 1, 12
    elif m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        year, first, months = int(m[1]), 3 * (int(m[2]) - 1) + 1, 3
    elif m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, first, months = int(m[1]), int(m[2]), 1
        if not 1 <= first <= 12:
            raise BadPeriod()
    else:
        raise BadPeriod()
    if not 2000 <= year <= 2100:
        raise BadPeriod()
    end_month = first + months
    start = datetime(year, first, 1, tzinfo=SHANGHAI)
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=SHANGHAI)
    return Period(text, start, end, months)


def required_counts(period: Period, requirements: dict[str, str]) -> dict[str, int]:
    """How many of each meeting the period needs: one per month or quarter it spans."""
    return {kind: max(period.months // _MONTHS_PER[freq], 1) for kind, freq in requirements.items()}


async def branch_report(*, branch: Branch, period: Period, requirements: dict[str, str]) -> dict[str, Any]:
    """Held versus required per kind of meeting, and each meeting's attendance."""
    activities = await Activity.filter(
        branch=branch, starts_at__gte=period.start.astimezone(UTC), starts_at__lt=period.end.astimezone(UTC)
    ).order_by("starts_at")
    required = required_counts(period, requirements)
    held: dict[str, int] = {}
    meetings = []
    for activity in activities:
        held[activity.kind] = held.get(activity.kind, 0) + 1
        summary = await attendance_of(activity)
        meetings.append(
            {
                "activity_id": activity.id,
                "kind": activity.kind,
                "title": activity.title,
                "starts_at": activity.starts_at.isoformat(),
                "attendance_rate": summary["attendance_rate"],
                "counts": summary["counts"],
            }
        )
    kinds = {
        kind: {"required": need, "held": held.get(kind, 0), "met": held.get(kind, 0) >= need}
        for kind, need in required.items()
    }
    return {
        "branch_id": branch.id,
        "branch": branch.name,
        "period": period.label,
        "compliant": all(k["met"] for k in kinds.values()),
        "requirements": kinds,
        "meetings": meetings,
    }


async def get_branch_report(
    *, actor: User, branch_id: int, period_text: str, requirements: dict[str, str]
) -> dict[str, Any]:
    """The compliance report of one branch (staff, its secretary, officers of the jurisdiction)."""
    branch = await get_branch(branch_id=branch_id)
    await require_roster_access(actor, organization=branch.organization, branch_id=branch.id)
    return await branch_report(branch=branch, period=parse_period(period_text), requirements=requirements)


async def region_report(
    *, actor: User, region_code: str, period_text: str, requirements: dict[str, str]
) -> dict[str, Any]:
    """For an officer: the branches of a region that fell short, and organizations that need a branch."""
    region = await require_officer_for_region(actor, region_code)
    period = parse_period(period_text)
    required = required_counts(period, requirements)
    # A fixed number of queries whatever the size of the region: branches, the meetings they held
    # in the period, party members, and organizations that report members but have no branch.
    in_region = subtree_filter([region], "organization__region_code")
    branches = await Branch.filter(in_region).select_related("organization").order_by("id")
    held: dict[int, dict[str, int]] = {}
    meetings = await Activity.filter(
        subtree_filter([region], "branch__organization__region_code"),
        starts_at__gte=period.start.astimezone(UTC),
        starts_at__lt=period.end.astimezone(UTC),
    ).values_list("branch_id", "kind")
    for branch_id, kind in meetings:
        counts = held.setdefault(branch_id, {})
        counts[kind] = counts.get(kind, 0) + 1
    short, compliant = [], 0
    for branch in branches:
        counts = held.get(branch.id, {})
        missing = {
            kind: {"required": need, "held": counts.get(kind, 0), "met": False}
            for kind, need in required.items()
            if counts.get(kind, 0) < need
        }
        if not missing:
            compliant += 1
            continue
        short.append(
            {
                "credit_code": branch.organization.credit_code,
                "organization": branch.organization.name,
                "branch_id": branch.id,
                "branch": branch.name,
                "missing": missing,
            }
        )
    members = await BranchMember.filter(
        subtree_filter([region], "branch__organization__region_code"),
        membership__in=[Membership.FULL, Membership.PROBATIONARY],
    ).count()
    with_branch = {b.organization_id for b in branches}
    reporting = await Organization.filter(
        subtree_filter([region], "region_code"), party_members_reported__gte=3
    ).values("id", "credit_code", "name", "party_members_reported")
    flagged = [
        {
            "credit_code": o["credit_code"],
            "organization": o["name"],
            "party_members": o["party_members_reported"],
        }
        for o in reporting
        if o["id"] not in with_branch
    ]
    return {
        "region_code": region,
        "period": period.label,
        "branches": len(branches),
        "compliant_branches": compliant,
        "party_members_in_branches": members,
        "short": short,
        "organizations_without_branch": flagged,
    }


def today_period(now: date) -> str:
    return f"{now.year}-{now.month:02d}"
