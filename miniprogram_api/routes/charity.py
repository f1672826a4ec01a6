"""Donation disclosure: fundraising projects, the ledger, receipts, the calendar, filings, the /p/ page."""

from __future__ import annotations

import re
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, raw
from sanic_ext import openapi

from backend.accounts.permissions import (
    require_any_staff,
    require_any_staff_or_officer,
    require_platform_admin,
)
from backend.charity import calendar, donation_import, filing, ledger, projects, views
from backend.charity.models import ProgressUpdate, Project
from backend.charity.schemas import (
    CalendarRead,
    CorrectionCreate,
    CursorQuery,
    DisclosureCreate,
    DisclosureRead,
    DonationCreate,
    DonationRecorded,
    EntryPage,
    EntryRead,
    ExpenditureCreate,
    ExportQuery,
    ImportQuery,
    ImportReport,
    ProgressCreate,
    ProgressDecision,
    ProgressRead,
    ProjectCreate,
    ProjectPage,
    ProjectQuery,
    ProjectRead,
    ProjectStatusChange,
    ProjectWritten,
    ReceiptRead,
)
from backend.errors import BadRequest, NotFound
from backend.translog import service as log_service

from ..auth import login_required, requires
from ..h5.project import render_project_page
from ..h5.render import render_error_page, render_log_section
from ..headers import no_store
from ..openapi import json_body, json_content, parse_query, query_params, refuses, responds
from ..responses import json_bytes
from ..schemas import ErrorBody
from ..uploads import uploaded_file
from .pages import PAGE_HEADERS

bp = Blueprint("charity", url_prefix="/")
pages_bp = Blueprint("charity_pages")
JSON = "application/json"
WRITES = (400, 401, 403, 404, 409, 413, 422)


def _cache(request: Request) -> Any:
    return request.app.ctx.container.cache


def _project(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title,
        "kind": p.kind,
        "status": p.status,
        "filing_number": p.filing_number,
        "target_fen": p.target_fen,
        "page_url": views.page_path(p.id),
    }


def _update(u: ProgressUpdate) -> dict[str, Any]:
    return {"id": u.id, "project_id": u.project_id, "status": u.status, "published_at": u.published_at}


# --- projects -------------------------------------------------------------------------------------


@bp.post("/orgs/<code:str>/projects")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(ProjectCreate)
@responds(201, ProjectWritten, "The project, as a draft", *WRITES)
async def create_project(request: Request, code: str, body: ProjectCreate) -> HTTPResponse:
    """Create a fundraising project of the organization (its staff)."""
    project = await projects.create(actor=request.ctx.user, code=code, data=body, cache=_cache(request))
    return json_bytes(_project(project), status=201)


@bp.get("/projects")
@openapi.tag("charity")
@query_params(ProjectQuery)
@responds(200, ProjectPage, "Public projects, newest first")
async def list_projects(request: Request) -> HTTPResponse:
    """Public fundraising projects with their totals."""
    query = parse_query(request, ProjectQuery)
    return json_bytes(await views.list_projects(org=query.org, status=query.status, cursor=query.cursor))


@bp.get("/projects/<project_id:int>")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@responds(200, ProjectRead, "The project, its plan and its totals", 404)
async def get_project(request: Request, project_id: int) -> HTTPResponse:
    """A fundraising project with its kept totals."""
    return raw(await views.get_project_bytes(cache=_cache(request), project_id=project_id), content_type=JSON)


@bp.post("/projects/<project_id:int>/status")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(ProjectStatusChange)
@responds(200, ProjectWritten, "The project", *WRITES)
async def change_project_status(request: Request, project_id: int, body: ProjectStatusChange) -> HTTPResponse:
    """Move a project on: fundraising, executing, closed (its staff)."""
    project = await projects.change_status(
        actor=request.ctx.user, project_id=project_id, data=body, cache=_cache(request)
    )
    return json_bytes(_project(project))


@bp.post("/projects/<project_id:int>/updates")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(ProgressCreate)
@responds(201, ProgressRead, "Published, or held for review", *WRITES, 503)
async def create_progress_update(request: Request, project_id: int, body: ProgressCreate) -> HTTPResponse:
    """Post a progress update (its staff); WeChat's content check first."""
    update = await projects.add_progress(
        actor=request.ctx.user,
        project_id=project_id,
        data=body,
        wechat=request.app.ctx.container.wechat,
        cache=_cache(request),
    )
    return json_bytes(_update(update), status=201)


@bp.post("/admin/progress-updates/<update_id:int>/decision")
@openapi.parameter("update_id", int, "path", required=True, description="The progress update's id")
@openapi.tag("charity")
@login_required
@requires(require_platform_admin)
@json_body(ProgressDecision)
@responds(200, ProgressRead, "Published or rejected", *WRITES)
async def decide_progress_update(request: Request, update_id: int, body: ProgressDecision) -> HTTPResponse:
    """Publish or reject a progress update held for review (platform admins)."""
    update = await projects.decide_progress(
        actor=request.ctx.user,
        update_id=update_id,
        approve=body.approve,
        reason=body.reason,
        cache=_cache(request),
    )
    return json_bytes(_update(update))


# --- the ledger -----------------------------------------------------------------------------------


@bp.post("/projects/<project_id:int>/donations")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@no_store
@login_required
@requires(require_any_staff)
@json_body(DonationCreate)
@responds(
    201, DonationRecorded, "Recorded (200: the same channel and reference was recorded before)", *WRITES
)
async def create_donation(request: Request, project_id: int, body: DonationCreate) -> HTTPResponse:
    """Record a donation (its staff); idempotent by channel and external reference."""
    container = request.app.ctx.container
    recorded = await ledger.record_donation(
        actor=request.ctx.user,
        project_id=project_id,
        data=body,
        cipher=container.cipher,
        cache=container.cache,
    )
    body_out = {**views.entry_read(recorded.entry), "receipt_code": recorded.entry.receipt_code}
    return json_bytes(body_out, status=201 if recorded.created else 200)


@bp.post("/projects/<project_id:int>/donations/import", ctx_upload=True)
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@openapi.body({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, required=True)
@login_required
@requires(require_any_staff)
@query_params(ImportQuery)
@responds(200, ImportReport, "The row-by-row report; applied only if every row is valid", *WRITES)
async def import_donations(request: Request, project_id: int) -> HTTPResponse:
    """Import a payment platform's donation export (the raw file, or multipart 'file')."""
    query = parse_query(request, ImportQuery)
    data, filename = uploaded_file(request, query.filename)
    if not data:
        raise BadRequest("请上传 CSV 或 XLSX 文件 / Upload a CSV or XLSX file", code="import.empty")
    container = request.app.ctx.container
    result = await donation_import.import_donations(
        actor=request.ctx.user,
        project_id=project_id,
        channel=query.channel,
        data=data,
        filename=filename or "import.csv",
        apply=query.apply,
        cipher=container.cipher,
        cache=container.cache,
    )
    return json_bytes(result.report())


@bp.post("/projects/<project_id:int>/expenditures")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(ExpenditureCreate)
@responds(201, EntryRead, "Recorded", *WRITES)
async def create_expenditure(request: Request, project_id: int, body: ExpenditureCreate) -> HTTPResponse:
    """Record an expenditure (its staff); beyond the balance only as an explained advance."""
    entry = await ledger.record_expenditure(
        actor=request.ctx.user, project_id=project_id, data=body, cache=_cache(request)
    )
    return json_bytes(views.entry_read(entry), status=201)


@bp.post("/projects/<project_id:int>/corrections")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(CorrectionCreate)
@responds(201, EntryRead, "Recorded; the reversed entry stays in the ledger", *WRITES)
async def create_correction(request: Request, project_id: int, body: CorrectionCreate) -> HTTPResponse:
    """Reverse one earlier entry with a public explanation (its staff)."""
    entry = await ledger.record_correction(
        actor=request.ctx.user, project_id=project_id, data=body, cache=_cache(request)
    )
    return json_bytes(views.entry_read(entry), status=201)


@bp.get("/projects/<project_id:int>/entries")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@query_params(CursorQuery)
@responds(200, EntryPage, "The ledger, newest first; donors as they chose to be shown", 404)
async def list_entries(request: Request, project_id: int) -> HTTPResponse:
    """A project's ledger, page by page."""
    query = parse_query(request, CursorQuery)
    return json_bytes(await views.list_entries(project_id=project_id, cursor=query.cursor))


@bp.get("/projects/<project_id:int>/entries/<entry_id:int>")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.parameter("entry_id", int, "path", required=True, description="The entry's id")
@openapi.tag("charity")
@responds(200, EntryRead, "One entry (entries are never changed: PUT, PATCH and DELETE answer 405)", 404)
async def get_entry(request: Request, project_id: int, entry_id: int) -> HTTPResponse:
    """One ledger entry."""
    return json_bytes(await views.get_entry(project_id=project_id, entry_id=entry_id))


@bp.get("/receipts/<code:str>")
@openapi.tag("charity")
@no_store
@responds(200, ReceiptRead, "The donation and its project", 404)
async def get_receipt(request: Request, code: str) -> HTTPResponse:
    """A donor's own donation, by the receipt code they were given."""
    return json_bytes(await views.get_receipt(code=code))


# --- the calendar and filings ----------------------------------------------------------------------


@bp.get("/orgs/<code:str>/disclosure-calendar")
@openapi.tag("charity")
@login_required
@requires(require_any_staff_or_officer)
@responds(200, CalendarRead, "Each Order 81 item: due, done or overdue", 422)
async def get_disclosure_calendar(request: Request, code: str) -> HTTPResponse:
    """The organization's Order 81 disclosure calendar (its staff, officers of its jurisdiction)."""
    return json_bytes(await calendar.get_calendar(actor=request.ctx.user, code=code))


@bp.post("/orgs/<code:str>/disclosures")
@openapi.tag("charity")
@login_required
@requires(require_any_staff)
@json_body(DisclosureCreate)
@responds(201, DisclosureRead, "Published; the calendar item is done", *WRITES)
async def create_disclosure(request: Request, code: str, body: DisclosureCreate) -> HTTPResponse:
    """Publish the disclosure that fulfils a calendar item (its staff)."""
    disclosure = await calendar.publish(actor=request.ctx.user, code=code, data=body)
    return json_bytes(
        {"id": disclosure.id, "item": disclosure.item_key, "published_at": disclosure.published_at},
        status=201,
    )


def _download(body: bytes, content_type: str, filename: str) -> HTTPResponse:
    return raw(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


FILE_RESPONSE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
    "text/csv": {"schema": {"type": "string"}},
}


@bp.get("/projects/<project_id:int>/filing")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("charity")
@login_required
@requires(require_any_staff_or_officer)
@query_params(ExportQuery)
@openapi.response(200, FILE_RESPONSE, "The filing in the charity platform's layout")
@refuses(401, 403, 404, 422)
async def get_project_filing(request: Request, project_id: int) -> HTTPResponse:
    """A project's filing export (staff, officers of its jurisdiction)."""
    query = parse_query(request, ExportQuery)
    return _download(
        *await filing.project_filing(actor=request.ctx.user, project_id=project_id, fmt=query.format)
    )


@bp.get("/orgs/<code:str>/filing/<year:int>")
@openapi.parameter("year", int, "path", required=True, description="The calendar year")
@openapi.tag("charity")
@login_required
@requires(require_any_staff_or_officer)
@query_params(ExportQuery)
@openapi.response(200, FILE_RESPONSE, "The year's projects in the charity platform's layout")
@refuses(401, 403, 404, 422)
async def get_organization_filing(request: Request, code: str, year: int) -> HTTPResponse:
    """An organization-year's filing export (staff, officers of its jurisdiction)."""
    query = parse_query(request, ExportQuery)
    return _download(
        *await filing.organization_filing(actor=request.ctx.user, code=code, year=year, fmt=query.format)
    )


# --- the H5 page ----------------------------------------------------------------------------------


@pages_bp.get("/p/<project_id:int>")
@openapi.parameter("project_id", int, "path", required=True, description="The project's id")
@openapi.tag("pages")
@openapi.response(200, {"text/html": {"schema": {"type": "string"}}}, "The project's disclosure page")
@openapi.response(
    404,
    {**json_content(ErrorBody), "text/html": {"schema": {"type": "string"}}},
    "No such public project: a page (the error body when the path is not a project id)",
)
async def project_page(request: Request, project_id: int) -> HTTPResponse:
    """The public disclosure page of a project: totals, chart, ledger, progress."""
    base_url = request.app.ctx.container.settings.public_base_url
    try:
        page = await views.get_project_page(
            cache=_cache(request),
            project_id=project_id,
            render=lambda view, entries: render_project_page(view, entries, base_url=base_url),
        )
    except NotFound as exc:
        # A person opened this link: answer with a page, not the API's JSON.
        return html(render_error_page(404, exc.message), status=404, headers=PAGE_HEADERS)
    return html(await _with_log_section(page, base_url=base_url), headers=PAGE_HEADERS)


LOG_MARK = re.compile(rb"<!--translog:([0-9A-Z]{18})-->")


async def _with_log_section(page: bytes, *, base_url: str) -> bytes:
    """The cached page with the log's current checkpoint put in (it changes within a second of an entry)."""
    found = LOG_MARK.search(page)
    if found is None:
        return page
    code = found.group(1).decode()
    section = render_log_section(
        await log_service.current_by_code(code=code), credit_code=code, base_url=base_url
    )
    return page[: found.start()] + str(section).encode() + page[found.end() :]
