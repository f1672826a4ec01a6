"""Public reads: a project with its totals, its ledger page by page, receipts, an organization's projects.

Two cached pieces, shared by every process through Redis, each under a generation counter (the
registry's profile protocol, backend/registry/profiles.py):

* ``charity:pv:<project id>``: the project's public view (totals, categories, months, progress);
* ``charity:ol:<credit code>``: the organization's list of projects with their totals, which the
  organization's profile and H5 page show. It is its own piece, so a donation bumps two small
  counters instead of the whole profile's generation.

A cached value is ``b"<gen>|<json>"``; a reader MGETs counter and value and uses the value only when
the generations match. Every write bumps the counters after its transaction commits
(``invalidate``). Each process also keeps what it read for half a second (``LocalCopies``): a hot
project page costs no round trip, a change shows everywhere within the second, and the process that
made the change drops its own copy at once.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson

from ..cache import Cache
from ..errors import NotFound
from ..registry import profiles
from ..registry.models import Organization
from ..registry.profiles import LocalCopies
from ..translog import service as translog_service
from . import totals
from .canonical import rfc3339
from .models import (
    CategoryTotal,
    EntryKind,
    LedgerEntry,
    ProgressUpdate,
    Project,
    ProjectKind,
    ProjectStatus,
    UpdateStatus,
)
from .schemas import CATEGORIES

VIEW_TTL_SECONDS = 3600
PAGE_SIZE = 50
PROGRESS_SHOWN = 10
KIND_LABELS = {
    ProjectKind.PUBLIC_CAMPAIGN: "公开募捐",
    ProjectKind.DIRECTED: "定向募捐",
    ProjectKind.NON_PUBLIC: "非公开募捐",
}
STATUS_LABELS = {
    ProjectStatus.DRAFT: "草稿",
    ProjectStatus.FUNDRAISING: "募捐中",
    ProjectStatus.EXECUTING: "执行中",
    ProjectStatus.CLOSED: "已结束",
}
# (project view, newest entries) -> the page's HTML: the H5 layer's, handed in (no HTML here).
PageRenderer = Callable[[dict[str, Any], list[dict[str, Any]]], str]
PUBLIC_STATUSES = [ProjectStatus.FUNDRAISING, ProjectStatus.EXECUTING, ProjectStatus.CLOSED]

_projects: LocalCopies[int, bytes] = LocalCopies()
_org_lists: LocalCopies[str, bytes] = LocalCopies()
_pages: LocalCopies[int, bytes] = LocalCopies()
# Organization id -> credit code: a code never changes for an organization, so this cannot go stale.
_codes: dict[int, str] = {}


class ProjectNotPublic(NotFound):
    code = "project.not_found"
    message = "未找到该募捐项目 / No such fundraising project"


class ReceiptNotFound(NotFound):
    code = "receipt.not_found"
    message = "未找到该捐赠凭证 / No donation with this receipt code"


def normalize_receipt_code(text: str) -> str:
    """What a donor types (lower case, dashes, spaces) as the stored code."""
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


def page_path(project_id: int) -> str:
    return f"/p/{project_id}"


async def credit_code_of(organization_id: int) -> str:
    """The credit code of an organization id (remembered: it never changes)."""
    code = _codes.get(organization_id)
    if code is None:
        code = str(await Organization.get(id=organization_id).values_list("credit_code", flat=True))
        if len(_codes) > 100_000:
            _codes.clear()
        _codes[organization_id] = code
    return code


def forget_local() -> None:
    """Drop this process's copies (tests, after truncating tables)."""
    _projects.clear()
    _org_lists.clear()
    _pages.clear()
    _codes.clear()


# --- serializing ----------------------------------------------------------------------------------


# What a public entry shows: read as plain rows for pages of the ledger (a Tortoise model per row cost
# a 50-entry page 6 ms of CPU; rows as namespaces about a tenth of that).
PUBLIC_FIELDS = (
    "id",
    "project_id",
    "kind",
    "amount_fen",
    "recorded_at",
    "received_at",
    "channel",
    "donor_public",
    "donor_display",
    "category",
    "payee",
    "paid_on",
    "purpose",
    "receipt_sha256",
    "receipt_url",
    "advance",
    "explanation",
    "reverses_id",
)


def entry_read(entry: LedgerEntry | SimpleNamespace, *, reversed_by: int | None = None) -> dict[str, Any]:
    """An entry (a model, or a row of ``PUBLIC_FIELDS``) as the public sees it (``EntryRead``)."""
    data: dict[str, Any] = {
        "id": entry.id,
        "project_id": entry.project_id,
        "kind": str(entry.kind),
        "amount_fen": entry.amount_fen,
        "recorded_at": rfc3339(entry.recorded_at),
        "reversed_by": reversed_by,
    }
    if entry.kind == EntryKind.DONATION:
        data.update(
            received_at=rfc3339(entry.received_at),
            channel=entry.channel,
            donor=entry.donor_public,
            donor_display=str(entry.donor_display),
        )
    elif entry.kind == EntryKind.EXPENDITURE:
        data.update(
            category=entry.category,
            category_label=CATEGORIES.get(entry.category or "", entry.category),
            payee=entry.payee,
            paid_on=entry.paid_on.isoformat() if entry.paid_on else None,
            purpose=entry.purpose,
            receipt_sha256=entry.receipt_sha256,
            receipt_url=entry.receipt_url,
            advance=entry.advance,
            explanation=entry.explanation,
        )
    else:
        data.update(reverses=entry.reverses_id, explanation=entry.explanation)
    return data


def _summary(project: Project, kept: totals.Totals) -> dict[str, Any]:
    return {
        "id": project.id,
        "title": project.title,
        "kind": str(project.kind),
        "status": str(project.status),
        "target_fen": project.target_fen,
        "raised_fen": kept.raised_fen,
        "spent_fen": kept.spent_fen,
        "balance_fen": kept.balance_fen,
        "page_url": page_path(project.id),
    }


async def _summaries(projects: list[Project]) -> list[dict[str, Any]]:
    kept = await totals.of_projects([p.id for p in projects])
    return [_summary(p, kept.get(p.id, totals.Totals())) for p in projects]


async def build_project_view(project: Project) -> dict[str, Any]:
    """The public view of a project from its kept totals (``ProjectRead``); never sums the ledger."""
    organization = await Organization.get(id=project.organization_id)
    categories = await CategoryTotal.filter(project_id=project.id).order_by("category")
    kept = await totals.of_project(project.id)
    updates = (
        await ProgressUpdate.filter(project_id=project.id, status=UpdateStatus.PUBLISHED)
        .order_by("-published_at", "-id")
        .limit(PROGRESS_SHOWN)
    )
    return {
        "id": project.id,
        "credit_code": organization.credit_code,
        "organization": {"credit_code": organization.credit_code, "name": organization.name},
        "title": project.title,
        "kind": str(project.kind),
        "kind_label": KIND_LABELS[project.kind],
        "filing_number": project.filing_number,
        "plan": project.plan,
        "target_fen": project.target_fen,
        "status": str(project.status),
        "status_label": STATUS_LABELS[project.status],
        "started_on": project.started_on.isoformat() if project.started_on else None,
        "closed_on": project.closed_on.isoformat() if project.closed_on else None,
        "raised_fen": kept.raised_fen,
        "spent_fen": kept.spent_fen,
        "balance_fen": kept.balance_fen,
        # Every gift counts once: anonymous donors cannot be told apart, so gifts are what is counted.
        "donor_count": kept.donation_count,
        "entry_count": kept.entry_count,
        "by_category": [
            {
                "category": c.category,
                "label": CATEGORIES.get(c.category, c.category),
                "spent_fen": c.spent_fen,
            }
            for c in categories
            if c.spent_fen
        ],
        "by_month": await totals.by_month(project.id),
        "progress": [
            {"id": u.id, "text": u.text, "image_urls": u.image_urls, "published_at": rfc3339(u.published_at)}
            for u in updates
        ],
    }


# --- the cached pieces ----------------------------------------------------------------------------


async def _cached(cache: Cache, gen_key: str, view_key: str, build: Any) -> bytes | None:
    values = await cache.read(cache.key(gen_key), cache.key(view_key))
    if values is None:  # Redis is away: the database answers, a bounded number at a time
        async with cache.fallback():
            return await build()
    gen_raw, cached = values
    gen = gen_raw or b"0"
    if cached is not None:
        built_at, _, payload = cached.partition(b"|")
        if built_at == gen:
            return bytes(payload)
    body = await build()
    if body is None:
        return None
    key, value = cache.key(view_key), gen + b"|" + body
    await cache.quietly(lambda: cache.client.set(key, value, ex=VIEW_TTL_SECONDS), context="charity store")
    return body


async def _build_project_bytes(project_id: int) -> bytes | None:
    project = await Project.get_or_none(id=project_id)
    if project is None or project.status == ProjectStatus.DRAFT:
        return None
    return orjson.dumps(await build_project_view(project))


async def get_project_bytes(*, cache: Cache, project_id: int) -> bytes:
    """The public view of a project as JSON bytes; drafts are not public (404)."""
    body = await _projects.get_or_load(
        project_id,
        lambda: _cached(
            cache,
            f"charity:pgen:{project_id}",
            f"charity:pv:{project_id}",
            lambda: _build_project_bytes(project_id),
        ),
    )
    if body is None:
        raise ProjectNotPublic(details={"project_id": project_id})
    return body


async def _build_page(project_id: int, render: PageRenderer) -> bytes | None:
    view = await _build_project_bytes(project_id)
    if view is None:
        return None
    entries = await list_entries(project_id=project_id, cursor=None)
    return render(orjson.loads(view), entries["items"]).encode()


async def get_project_page(*, cache: Cache, project_id: int, render: PageRenderer) -> bytes:
    """The project's H5 page, which ``render`` makes of its view and newest entries; cached like the view.

    Under the view's own generation counter: whatever changes the view changes the page.
    """
    body = await _pages.get_or_load(
        project_id,
        lambda: _cached(
            cache,
            f"charity:pgen:{project_id}",
            f"charity:ph:{project_id}",
            lambda: _build_page(project_id, render),
        ),
    )
    if body is None:
        raise ProjectNotPublic(details={"project_id": project_id})
    return body


async def _build_org_list(credit_code: str) -> bytes:
    projects = (
        await Project.filter(organization__credit_code=credit_code, status__in=PUBLIC_STATUSES)
        .order_by("-id")
        .limit(100)
    )
    return orjson.dumps(await _summaries(projects))


async def get_org_projects_bytes(*, cache: Cache, credit_code: str) -> bytes:
    """The organization's public projects with their totals, as a JSON array."""
    body = await _org_lists.get_or_load(
        credit_code,
        lambda: _cached(
            cache,
            f"charity:olgen:{credit_code}",
            f"charity:ol:{credit_code}",
            lambda: _build_org_list(credit_code),
        ),
    )
    return body or b"[]"


async def get_org_projects(*, cache: Cache, credit_code: str) -> list[dict[str, Any]]:
    """The organization's public projects with their totals, as data (the H5 profile page)."""
    return orjson.loads(await get_org_projects_bytes(cache=cache, credit_code=credit_code))


async def get_profile_bytes(*, cache: Cache, credit_code: str, today: Any) -> bytes:
    """The registry's public profile with the organization's projects spliced in (``projects``).

    Two cached pieces joined, not one: a donation changes the project list and leaves the profile's
    cache (and its generation protocol, backend/registry/profiles.py) alone.
    """
    profile = await profiles.get_profile_bytes(cache=cache, credit_code=credit_code, today=today)
    projects = await get_org_projects_bytes(cache=cache, credit_code=credit_code.strip().upper())
    # The profile is a JSON object written by orjson: its last byte is its closing brace.
    return profile[:-1] + b',"projects":' + projects + b"}"


async def projects_for_verification(*, cache: Cache, view: dict[str, Any]) -> list[dict[str, Any]]:
    """The projects the H5 verification page lists: none for a code that is not genuine."""
    organization = view.get("organization")
    if view.get("verdict") == "not_genuine" or not isinstance(organization, dict):
        return []
    return await get_org_projects(cache=cache, credit_code=str(organization.get("credit_code")))


async def invalidate_project(*, cache: Cache, project_id: int) -> None:
    """After a commit that changed a project's view only (progress updates)."""
    _projects.pop(project_id)
    _pages.pop(project_id)
    key = cache.key(f"charity:pgen:{project_id}")
    await cache.quietly(lambda: cache.client.incr(key), context="charity invalidation")


async def invalidate(*, cache: Cache, project_id: int, credit_code: str) -> None:
    """After a commit that changed a project's totals or status: its view and its organization's list."""
    _projects.pop(project_id)
    _pages.pop(project_id)
    _org_lists.pop(credit_code)

    async def bump() -> None:
        pipe = cache.client.pipeline(transaction=False)
        pipe.incr(cache.key(f"charity:pgen:{project_id}"))
        pipe.incr(cache.key(f"charity:olgen:{credit_code}"))
        await pipe.execute()

    await cache.quietly(bump, context="charity invalidation")


# --- uncached reads -------------------------------------------------------------------------------


async def _reversals(entry_ids: list[int]) -> dict[int, int]:
    if not entry_ids:
        return {}
    rows = await LedgerEntry.filter(reverses_id__in=entry_ids).values_list("reverses_id", "id")
    return {int(original): int(correction) for original, correction in rows}


async def _public_project(project_id: int) -> Project:
    project = await Project.get_or_none(id=project_id)
    if project is None or project.status == ProjectStatus.DRAFT:
        raise ProjectNotPublic(details={"project_id": project_id})
    return project


async def list_entries(*, project_id: int, cursor: int | None) -> dict[str, Any]:
    """One page of a project's ledger, newest first (``EntryPage``)."""
    project = await _public_project(project_id)
    query = LedgerEntry.filter(project_id=project.id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(PAGE_SIZE + 1).values(*PUBLIC_FIELDS)
    entries = [SimpleNamespace(**row) for row in rows]
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    reversals = await _reversals([e.id for e in entries])
    return {
        "items": [entry_read(e, reversed_by=reversals.get(e.id)) for e in entries],
        "next_cursor": entries[-1].id if more else None,
    }


async def get_entry(*, project_id: int, entry_id: int) -> dict[str, Any]:
    """One entry of a public project (``EntryRead``)."""
    await _public_project(project_id)
    entry = await LedgerEntry.get_or_none(id=entry_id, project_id=project_id)
    if entry is None:
        raise NotFound("未找到该账目 / No such ledger entry", code="ledger.entry_not_found")
    reversals = await _reversals([entry.id])
    return entry_read(entry, reversed_by=reversals.get(entry.id))


async def list_projects(
    *, org: str | None, status: ProjectStatus | None, cursor: int | None
) -> dict[str, Any]:
    """Public projects, newest first, optionally of one organization and in one status (``ProjectPage``)."""
    if status == ProjectStatus.DRAFT:
        return {"items": [], "next_cursor": None}
    query = Project.filter(status__in=[status] if status else PUBLIC_STATUSES)
    if org:
        query = query.filter(organization__credit_code=org.strip().upper())
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    projects = await query.order_by("-id").limit(PAGE_SIZE + 1)
    more = len(projects) > PAGE_SIZE
    projects = projects[:PAGE_SIZE]
    return {"items": await _summaries(projects), "next_cursor": projects[-1].id if more else None}


async def get_receipt(*, code: str) -> dict[str, Any]:
    """A donor's own donation by its receipt code, with its project (``ReceiptRead``)."""
    normalized = normalize_receipt_code(code)
    entry = await LedgerEntry.get_or_none(receipt_code=normalized) if len(normalized) == 16 else None
    if entry is None:
        raise ReceiptNotFound()
    project = await Project.get(id=entry.project_id)
    reversals = await _reversals([entry.id])
    return {
        "receipt_code": normalized,
        "entry": entry_read(entry, reversed_by=reversals.get(entry.id)),
        "project": _summary(project, await totals.of_project(project.id)),
        "reversed": entry.id in reversals,
        # Its leaf in the organization's transparency log, proven against the latest checkpoint.
        **await translog_service.receipt_proof(organization_id=entry.organization_id, entry_id=entry.id),
    }
