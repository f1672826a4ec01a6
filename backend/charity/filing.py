"""The filing export: a project's (or an organization-year's) disclosure in the charity platform's layout.

The columns follow the disclosure fields of the national charity information platform (慈善中国):
project, filing number, period, raised, spent by category, management costs, beneficiaries, leftover
funds. Money is written in yuan as exact decimals (``Decimal(fen) / 100``), never through float.
Cells go through backend/tabular.py, which neutralizes formula-like text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from .. import tabular
from ..accounts.models import StaffRole, User
from ..accounts.permissions import require_officer_for_region
from ..errors import Unprocessable
from ..registry import service as registry_service
from ..registry.models import Organization
from . import totals
from .models import EntryKind, LedgerEntry, MonthTotal, Project, ProjectStatus
from .projects import get_or_raise
from .schemas import CATEGORIES
from .views import KIND_LABELS


class YearOutOfRange(Unprocessable):
    code = "filing.year_out_of_range"
    message = "年份超出范围（1-9999） / The year must be between 1 and 9999"


SPENDING = [c for c in CATEGORIES if c != "management"]
HEADER = [
    "项目名称",
    "项目类型",
    "备案编号",
    "募捐期限起",
    "募捐期限止",
    "募捐地域",
    "募得款物（元）",
    "支出合计（元）",
    *[f"{CATEGORIES[c]}（元）" for c in SPENDING],
    "管理费用（元）",
    "受益人",
    "剩余财产处理",
]


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


async def _require_reader(actor: User, organization: Organization) -> None:
    """The organization's staff, or officers whose jurisdiction holds it."""
    if not await StaffRole.filter(user_id=actor.id, organization_id=organization.id).exists():
        await require_officer_for_region(actor, organization.region_code)


def _row(project: Project, raised: int, spent_by_category: dict[str, int]) -> list[Any]:
    plan = project.plan
    return [
        project.title,
        KIND_LABELS[project.kind],
        project.filing_number or "",
        plan.get("period_start", ""),
        plan.get("period_end", ""),
        plan.get("region", ""),
        _yuan(raised),
        _yuan(sum(spent_by_category.values())),
        *[_yuan(spent_by_category.get(c, 0)) for c in SPENDING],
        _yuan(spent_by_category.get("management", 0)),
        plan.get("beneficiaries", ""),
        plan.get("leftover_funds", ""),
    ]


async def _spent_by_category(project_ids: list[int], *, year: int | None) -> dict[int, dict[str, int]]:
    """Spending per project and category (in ``year`` if given), corrections taken back."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = LedgerEntry.filter(project_id__in=project_ids, kind=EntryKind.EXPENDITURE)
    if year is not None:
        query = query.filter(paid_on__gte=date(year, 1, 1), paid_on__lte=date(year, 12, 31))
    spent = await query.values_list("id", "project_id", "category", "amount_fen")
    reversed_ids = set(
        await LedgerEntry.filter(reverses_id__in=[row[0] for row in spent]).values_list(
            "reverses_id", flat=True
        )
    )
    for entry_id, project_id, category, amount in spent:
        if entry_id not in reversed_ids:
            result[int(project_id)][str(category)] += int(amount)
    return result


def _render(rows: list[list[Any]], *, fmt: str, title: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return tabular.to_csv(HEADER, rows), tabular.CSV_CONTENT_TYPE
    return tabular.to_xlsx(HEADER, rows, title=title), tabular.XLSX_CONTENT_TYPE


async def project_filing(*, actor: User, project_id: int, fmt: str) -> tuple[bytes, str, str]:
    """One project's filing (file bytes, content type, file name); staff and officers."""
    project = await get_or_raise(project_id)
    organization = await Organization.get(id=project.organization_id)
    await _require_reader(actor, organization)
    spent = (await _spent_by_category([project.id], year=None)).get(project.id, {})
    body, content_type = _render(
        [_row(project, (await totals.of_project(project.id)).raised_fen, spent)],
        fmt=fmt,
        title="募捐项目信息公开",
    )
    return body, content_type, f"project-{project.id}-filing.{fmt}"


async def organization_filing(*, actor: User, code: str, year: int, fmt: str) -> tuple[bytes, str, str]:
    """An organization's projects in one year (raised and spent within the year); staff and officers."""
    organization = await registry_service.get_organization(code=code)
    await _require_reader(actor, organization)
    # The router takes any integer; a year a date cannot hold would fail in the query below.
    if not date.min.year <= year <= date.max.year:
        raise YearOutOfRange(details={"year": year})
    projects = (
        await Project.filter(organization_id=organization.id)
        .exclude(status=ProjectStatus.DRAFT)
        .order_by("id")
    )
    ids = [p.id for p in projects]
    raised: dict[int, int] = defaultdict(int)
    for project_id, amount in await MonthTotal.filter(
        project_id__in=ids, month__startswith=f"{year}-"
    ).values_list("project_id", "raised_fen"):
        raised[int(project_id)] += int(amount)
    spent = await _spent_by_category(ids, year=year)
    rows = [
        _row(p, raised.get(p.id, 0), spent.get(p.id, {}))
        for p in projects
        if raised.get(p.id) or spent.get(p.id)
    ]
    body, content_type = _render(rows, fmt=fmt, title=f"{year}年度募捐信息公开")
    return body, content_type, f"{organization.credit_code}-{year}-filing.{fmt}"
