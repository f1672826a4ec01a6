"""The Order 81 disclosure calendar: what an organization must publish, by when, and what it did.

Items are worked out from the records, never stored as a schedule (so a change of rule or record
changes the calendar at once); each has a stable key that a disclosure names to fulfil it:

* ``annual_report:<year>``: the annual work report for ``year``, due 31 May of the next year, for
  every year after the organization's first project (or charity recognition);
* ``major_change:licence:<id>``: a change registration or charter approval in the public record,
  due within 30 days of its decision;
* ``leftover_funds:<project>``: what happened to a closed project's money, due 3 months after it closed;
* ``progress:<project>:<n>``: a running public campaign's n-th quarterly progress, due 3·n months after
  it started fundraising; fulfilled by the first progress update published after the previous due
  date (a late one still fulfils it, marked late).

Each item is ``done``, ``due`` (not yet past its date) or ``overdue``. The figures live in
``DisclosureRules`` (configuration, not code). The daily ``scan`` records each newly overdue item
once (``OverdueItem``) with a ``disclosure.overdue`` event to the staff, and runs the registry's credit
rules, which propose the abnormal list to the officers while an item stays overdue (and removal once
it is resolved).
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from ..accounts.models import StaffRole, User
from ..accounts.permissions import NotOrganizationStaff, require_officer_for_region
from ..audit import service as audit_service
from ..errors import Conflict, Unprocessable
from ..events import kinds
from ..events import service as events_service
from ..registry import credit
from ..registry import service as registry_service
from ..registry.models import Licence, LicenceKind, Organization, Qualification, QualificationKind
from .models import (
    Disclosure,
    DisclosureKind,
    OverdueItem,
    ProgressUpdate,
    Project,
    ProjectKind,
    ProjectStatus,
    UpdateStatus,
)
from .schemas import DisclosureCreate


@dataclass(frozen=True)
class DisclosureRules:
    """Order 81's deadlines (check against the regulation's text before changing)."""

    annual_report_month: int = 5
    annual_report_day: int = 31
    major_change_days: int = 30
    leftover_months: int = 3
    progress_months: int = 3
    years_shown: int = 5


RULES = DisclosureRules()


@dataclass
class Item:
    key: str
    kind: DisclosureKind
    label: str
    due_on: date
    done_on: date | None = None
    project_id: int | None = None

    def status(self, today: date) -> str:
        if self.done_on is not None:
            return "done"
        return "overdue" if today > self.due_on else "due"

    def read(self, today: date) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": str(self.kind),
            "label": self.label,
            "due_on": self.due_on.isoformat(),
            "status": self.status(today),
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "late": self.done_on is not None and self.done_on > self.due_on,
            "project_id": self.project_id,
        }


class UnknownItem(Unprocessable):
    code = "disclosure.unknown_item"
    message = "该事项不在本组织的信息公开日历中 / No such item in the organization's disclosure calendar"


class ItemDone(Conflict):
    code = "disclosure.item_done"
    message = "该事项已公开 / This item has already been disclosed"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


async def items(organization: Organization, *, today: date, rules: DisclosureRules = RULES) -> list[Item]:
    """Every calendar item of the organization, soonest due first."""
    projects = await Project.filter(organization_id=organization.id).exclude(status=ProjectStatus.DRAFT)
    charity = (
        await Qualification.filter(
            organization=organization, kind=QualificationKind.CHARITY, revoked_on__isnull=True
        )
        .order_by("granted_on")
        .first()
    )
    if not projects and charity is None:
        return []
    done = {
        d.item_key: d.published_at.date()
        for d in await Disclosure.filter(organization_id=organization.id).only("item_key", "published_at")
    }
    result: list[Item] = []

    starts = [p.created_at.date() for p in projects] + ([charity.granted_on] if charity else [])
    first_year = max(min(starts).year, today.year - rules.years_shown)
    for year in range(first_year, today.year):
        key = f"annual_report:{year}"
        due = date(year + 1, rules.annual_report_month, rules.annual_report_day)
        result.append(Item(key, DisclosureKind.ANNUAL_REPORT, f"{year}年度工作报告", due, done.get(key)))

    changes = await Licence.filter(
        organization=organization,
        kind__in=[LicenceKind.CHANGE, LicenceKind.CHARTER_APPROVAL],
        # Changes from the year before the obligations began: a change just before the first project counts.
        decided_on__gte=date(first_year - 1, 1, 1),
    )
    for licence in changes:
        key = f"major_change:licence:{licence.id}"
        result.append(
            Item(
                key,
                DisclosureKind.MAJOR_CHANGE,
                f"重大事项变更（{licence.decision_number}）",
                licence.decided_on + timedelta(days=rules.major_change_days),
                done.get(key),
            )
        )

    for project in projects:
        if project.status == ProjectStatus.CLOSED and project.closed_on is not None:
            key = f"leftover_funds:{project.id}"
            result.append(
                Item(
                    key,
                    DisclosureKind.LEFTOVER_FUNDS,
                    f"“{project.title}”剩余财产处理情况",
                    add_months(project.closed_on, rules.leftover_months),
                    done.get(key),
                    project.id,
                )
            )
        if project.kind == ProjectKind.PUBLIC_CAMPAIGN and project.started_on is not None:
            result.extend(await _progress_items(project, today=today, rules=rules))
    result.sort(key=lambda item: (item.due_on, item.key))
    return result


async def _progress_items(project: Project, *, today: date, rules: DisclosureRules) -> list[Item]:
    """A campaign's quarterly progress items: those due while it ran, and the next one if it runs."""
    started = project.started_on
    assert started is not None
    moments: list[datetime] = await ProgressUpdate.filter(  # type: ignore[assignment]
        project_id=project.id, status=UpdateStatus.PUBLISHED, published_at__isnull=False
    ).values_list("published_at", flat=True)
    published = sorted(moment.date() for moment in moments)
    result: list[Item] = []
    n, window_opens = 1, started
    while True:
        due = add_months(started, rules.progress_months * n)
        if project.closed_on is not None and due > project.closed_on:
            break
        # The first update on or after the window opened fulfils the item, late if after its due date.
        done_on = next((day for day in published if day >= window_opens), None)
        label = f"“{project.title}”第{n}次募捐进展"
        result.append(
            Item(f"progress:{project.id}:{n}", DisclosureKind.PROGRESS, label, due, done_on, project.id)
        )
        if project.closed_on is None and due > today:
            break
        n, window_opens = n + 1, due + timedelta(days=1)
    return result


async def _require_reader(actor: User, organization: Organization) -> None:
    """The organization's staff, or officers whose jurisdiction holds it."""
    if not await StaffRole.filter(user_id=actor.id, organization_id=organization.id).exists():
        await require_officer_for_region(actor, organization.region_code)


async def get_calendar(*, actor: User, code: str) -> dict[str, Any]:
    """The organization's disclosure calendar (``CalendarRead``): staff and officers of its jurisdiction."""
    organization = await registry_service.get_organization(code=code)
    await _require_reader(actor, organization)
    today = registry_service.today()
    return {
        "credit_code": organization.credit_code,
        "today": today.isoformat(),
        "items": [item.read(today) for item in await items(organization, today=today)],
    }


async def publish(*, actor: User, code: str, data: DisclosureCreate) -> Disclosure:
    """Publish the disclosure that fulfils one calendar item (staff); resolves it if it was overdue."""
    organization = await registry_service.get_organization(code=code)
    if not await StaffRole.filter(user_id=actor.id, organization_id=organization.id).exists():
        raise NotOrganizationStaff()
    today = registry_service.today()
    item = next((i for i in await items(organization, today=today) if i.key == data.item), None)
    if item is None or item.kind == DisclosureKind.PROGRESS:
        # Progress is disclosed by a progress update, which also reaches the donors.
        raise UnknownItem(details={"item": data.item})
    if item.done_on is not None:
        raise ItemDone(details={"item": data.item})
    async with in_transaction():
        disclosure = await Disclosure.create(
            organization=organization,
            item_key=item.key,
            kind=item.kind,
            title=data.title,
            content=data.content,
            url=data.url,
            author_id=actor.id,
        )
        await OverdueItem.filter(
            organization_id=organization.id, item_key=item.key, resolved_on__isnull=True
        ).update(resolved_on=today)
        await audit_service.record(
            actor=actor,
            action="disclosure.publish",
            target=organization,
            before=None,
            after={"item": item.key, "disclosure_id": disclosure.id},
            reason=data.title,
        )
    return disclosure


async def scan(*, today: date) -> int:
    """The daily run: record newly overdue items (event + credit rules), resolve fulfilled ones."""
    overdue_total = 0
    org_ids = set(await Project.all().distinct().values_list("organization_id", flat=True))
    org_ids |= set(
        await Qualification.filter(kind=QualificationKind.CHARITY, revoked_on__isnull=True).values_list(
            "organization_id", flat=True
        )
    )
    for organization in await Organization.filter(id__in=list(org_ids)):
        overdue_total += await scan_organization(organization, today=today)
    return overdue_total


async def scan_organization(organization: Organization, *, today: date) -> int:
    """One organization's part of the daily run; the number of items overdue now."""
    calendar_items = await items(organization, today=today)
    overdue = [i for i in calendar_items if i.status(today) == "overdue"]
    staff_ids: list[int] = await StaffRole.filter(organization=organization).values_list(  # type: ignore[assignment]
        "user_id", flat=True
    )
    staff = [int(u) for u in staff_ids]
    known = set(await OverdueItem.filter(organization_id=organization.id).values_list("item_key", flat=True))
    async with in_transaction():
        for item in overdue:
            if item.key in known:
                continue
            await OverdueItem.bulk_create(
                [
                    OverdueItem(
                        organization_id=organization.id,
                        item_key=item.key,
                        kind=item.kind,
                        label=item.label,
                        due_on=item.due_on,
                    )
                ],
                ignore_conflicts=True,
            )
            await events_service.record(
                kind=kinds.DISCLOSURE_OVERDUE,
                payload={
                    "credit_code": organization.credit_code,
                    "organization": organization.name,
                    "item": item.label,
                    "due_on": item.due_on.isoformat(),
                },
                recipients=staff,
                idempotency_key=f"disclosure.overdue:{organization.credit_code}:{item.key}",
            )
        done = [i.key for i in calendar_items if i.done_on is not None]
        if done:
            await OverdueItem.filter(
                organization_id=organization.id, item_key__in=done, resolved_on__isnull=True
            ).update(resolved_on=today)
    await credit.evaluate(organization=organization, today=today)
    return len(overdue)
