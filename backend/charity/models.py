"""Fundraising projects, their append-only ledger and the totals kept beside it.

A ledger entry is never updated or deleted: a mistake is undone by a correction, a new entry that
reverses exactly one earlier entry (``reverses`` is one-to-one, so an entry is reversed at most once).
The totals (``ProjectTally``, ``CategoryTotal``, ``MonthTotal``) are kept in the same transaction as
the entry that changes them (backend/charity/totals.py), so a page never sums the ledger and an
expenditure beyond the balance is refused even when two arrive at once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from ..registry.models import Organization


class ProjectKind(StrEnum):
    PUBLIC_CAMPAIGN = "public_campaign"  # 公开募捐
    DIRECTED = "directed"  # 定向募捐
    NON_PUBLIC = "non_public"


class ProjectStatus(StrEnum):
    DRAFT = "draft"
    FUNDRAISING = "fundraising"
    EXECUTING = "executing"
    CLOSED = "closed"


class EntryKind(StrEnum):
    DONATION = "donation"
    EXPENDITURE = "expenditure"
    CORRECTION = "correction"


class DonorDisplay(StrEnum):
    MASKED = "masked"  # 张*
    ANONYMOUS = "anonymous"  # 匿名
    FULL = "full"  # the donor agreed to be named


class UpdateStatus(StrEnum):
    PUBLISHED = "published"
    HELD = "held"  # WeChat's check said "review": waits for a platform admin
    REJECTED = "rejected"


class DisclosureKind(StrEnum):
    ANNUAL_REPORT = "annual_report"
    MAJOR_CHANGE = "major_change"
    LEFTOVER_FUNDS = "leftover_funds"
    PROGRESS = "progress"


class Project(Model):
    """One fundraising project (募捐项目) of an organization, with its totals kept current."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="fundraising_projects", on_delete=fields.RESTRICT
    )
    organization_id: int
    title = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ProjectKind, max_length=16)
    filing_number = fields.CharField(max_length=64, null=True)
    # purpose, period_start, period_end, region, beneficiaries, use_of_funds, costs, leftover_funds
    plan: dict[str, Any] = fields.JSONField(default=dict)
    target_fen = fields.BigIntField()
    status = fields.CharEnumField(ProjectStatus, max_length=16, default=ProjectStatus.DRAFT)
    started_on: date | None = fields.DateField(null=True)  # first day of fundraising
    closed_on: date | None = fields.DateField(null=True)
    created_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charity_projects"
        indexes = (("organization_id", "status"),)


class ProjectTally(Model):
    """One slot of the kept totals of a project (totals.py): the slots add up to its totals."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="tallies", on_delete=fields.CASCADE
    )
    project_id: int
    slot = fields.SmallIntField()
    raised_fen = fields.BigIntField(default=0)
    spent_fen = fields.BigIntField(default=0)  # slot 0 only
    donation_count = fields.IntField(default=0)
    entry_count = fields.IntField(default=0)

    class Meta:
        table = "charity_project_tallies"
        unique_together = (("project", "slot"),)


class CategoryTotal(Model):
    """Spending of one project in one category (支出明细 by category, as disclosed)."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="category_totals", on_delete=fields.CASCADE
    )
    project_id: int
    category = fields.CharField(max_length=32)
    spent_fen = fields.BigIntField(default=0)

    class Meta:
        table = "charity_category_totals"
        unique_together = (("project", "category"),)


class MonthTotal(Model):
    """Income and spending of one project in one month (Beijing time), for the chart."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="month_totals", on_delete=fields.CASCADE
    )
    project_id: int
    month = fields.CharField(max_length=7)  # "2026-11"
    slot = fields.SmallIntField()  # as ProjectTally: donations to one project do not queue
    raised_fen = fields.BigIntField(default=0)
    spent_fen = fields.BigIntField(default=0)

    class Meta:
        table = "charity_month_totals"
        unique_together = (("project", "month", "slot"),)


class LedgerEntry(Model):
    """A donation, an expenditure or a correction: written once, never changed."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="entries", on_delete=fields.RESTRICT
    )
    project_id: int
    organization_id = fields.BigIntField(db_index=True)
    kind = fields.CharEnumField(EntryKind, max_length=16)
    amount_fen = fields.BigIntField()
    # donation
    received_at: datetime | None = fields.DatetimeField(null=True)
    channel = fields.CharField(max_length=32, null=True)
    external_ref = fields.CharField(max_length=128, null=True)
    donor_display = fields.CharEnumField(DonorDisplay, max_length=16, null=True)
    donor_public = fields.CharField(max_length=64, null=True)  # exactly what is published
    donor_name_encrypted = fields.TextField(null=True)  # PersonalDataCipher; never published
    receipt_code = fields.CharField(max_length=20, null=True, unique=True)
    # expenditure
    category = fields.CharField(max_length=32, null=True)
    payee = fields.CharField(max_length=200, null=True)
    paid_on: date | None = fields.DateField(null=True)
    purpose = fields.TextField(null=True)
    receipt_sha256 = fields.CharField(max_length=64, null=True)
    receipt_url = fields.CharField(max_length=500, null=True)
    advance = fields.BooleanField(default=False)
    # an advance's or a correction's public explanation
    explanation = fields.TextField(null=True)
    # correction: one-to-one, so the database itself refuses a second reversal of an entry
    reverses: fields.OneToOneNullableRelation[LedgerEntry] = fields.OneToOneField(
        "models.LedgerEntry", related_name="reversal", null=True, on_delete=fields.RESTRICT
    )
    reverses_id: int | None
    recorded_by_id = fields.BigIntField(null=True)
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charity_ledger_entries"
        # A payment platform's serial number names one payment: the same one again is the same entry.
        unique_together = (("channel", "external_ref"),)
        indexes = (("project_id", "id"),)


class ProgressUpdate(Model):
    """A progress report of a project (text and images), public once the WeChat check passes."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="updates", on_delete=fields.CASCADE
    )
    project_id: int
    text = fields.TextField()
    image_urls: list[str] = fields.JSONField(default=list)
    status = fields.CharEnumField(UpdateStatus, max_length=16)
    author_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    published_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "charity_progress_updates"
        indexes = (("project_id", "status"),)


class Disclosure(Model):
    """A disclosure that fulfils one item of the Order 81 calendar (annual report, change, leftovers)."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="charity_disclosures", on_delete=fields.RESTRICT
    )
    organization_id: int
    item_key = fields.CharField(max_length=96)
    kind = fields.CharEnumField(DisclosureKind, max_length=16)
    title = fields.CharField(max_length=200)
    content = fields.TextField()
    url = fields.CharField(max_length=500, null=True)
    author_id = fields.BigIntField(null=True)
    published_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charity_disclosures"
        unique_together = (("organization", "item_key"),)


class OverdueItem(Model):
    """A calendar item found overdue by the daily scan: feeds the credit rules until resolved."""

    id = fields.BigIntField(primary_key=True)
    # The registry's credit rules read these through this reverse relation, without importing charity.
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="overdue_disclosures", on_delete=fields.CASCADE
    )
    organization_id: int
    item_key = fields.CharField(max_length=96)
    kind = fields.CharEnumField(DisclosureKind, max_length=16)
    label = fields.CharField(max_length=200)
    due_on: date = fields.DateField()
    detected_at = fields.DatetimeField(auto_now_add=True)
    resolved_on: date | None = fields.DateField(null=True)

    class Meta:
        table = "charity_overdue_items"
        unique_together = (("organization", "item_key"),)
