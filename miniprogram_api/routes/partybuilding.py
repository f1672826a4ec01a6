"""Party building: branches, activities, rotating check-in codes, check-ins, attendance, compliance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, raw
from sanic_ext import openapi

from backend import tabular
from backend.partybuilding import compliance
from backend.partybuilding import service as party_service
from backend.partybuilding.checkins import NewCheckin
from backend.partybuilding.models import Activity, Checkin
from backend.partybuilding.schemas import (
    ActivityCreate,
    ActivityRead,
    AttendanceReport,
    AttendanceRequestCreate,
    AttendanceRequestRead,
    BranchComplianceReport,
    BranchCreate,
    BranchMemberRead,
    BranchMemberSet,
    BranchRead,
    CheckinCodeRead,
    CheckinCreate,
    CheckinRead,
    MyCheckins,
    PartyMembersRead,
    PartyMembersReport,
    RegionComplianceReport,
    RequestDecision,
)
from backend.registry import qrimage

from ..auth import login_required, requires
from ..headers import no_store
from ..openapi import REGION_CODE, json_body, parse_query, query_params, responds
from ..responses import json_bytes

bp = Blueprint("partybuilding", url_prefix="/")
# What a write may be refused with, beyond what every route with a body may answer.
WRITES = (403, 409)


class CodeFormat(BaseModel):
    format: Literal["json", "png", "svg"] = Field(default="json", description="json, or the code as an image")


class ExportFormat(BaseModel):
    format: Literal["json", "csv", "xlsx"] = Field(default="json", description="json, or a file to download")


class PeriodQuery(BaseModel):
    # The same periods as compliance.parse_period reads (which checks them, after the permission).
    period: str = Field(
        pattern=r"^(20[0-9]{2}|2100)(-Q[1-4]|-(0?[1-9]|1[0-2]))?$",
        description="A year (2026), a quarter (2026-Q3) or a month (2026-11), in Beijing time",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _requirements(request: Request) -> dict[str, str]:
    return request.app.ctx.container.settings.partybuilding_requirements or compliance.DEFAULT_REQUIREMENTS


def _activity(a: Activity) -> dict[str, Any]:
    return {
        "id": a.id,
        "organization": {"credit_code": a.organization.credit_code, "name": a.organization.name},
        "branch_id": a.branch_id,
        "kind": a.kind,
        "title": a.title,
        "description": a.description,
        "starts_at": a.starts_at.isoformat(),
        "ends_at": a.ends_at.isoformat(),
        "place": {"name": a.place, "latitude": a.latitude, "longitude": a.longitude, "radius_m": a.radius_m},
        "checkin": {
            "opens_at": a.checkin_opens_at.isoformat(),
            "closes_at": a.checkin_closes_at.isoformat(),
            "late_after": a.late_after.isoformat(),
            "code_interval_s": a.code_interval_s,
        },
        "expected": a.expected,
        "expected_group": a.expected_group,
    }


def _checkin(c: Checkin | NewCheckin) -> dict[str, Any]:
    """A check-in as ``CheckinRead`` describes it, as plain data (the check-in burst's answer)."""
    return {
        "activity_id": c.activity_id,
        "user_id": c.user_id,
        "status": c.status.value,
        "checked_in_at": c.checked_in_at,
        "distance_m": c.distance_m,
    }


@bp.post("/orgs/<code:str>/branches")
@openapi.tag("party building")
@login_required
@requires(party_service.require_any_organizer)
@json_body(BranchCreate)
@responds(201, BranchRead, "The branch", *WRITES)
async def create_branch(request: Request, code: str, body: BranchCreate) -> HTTPResponse:
    """Set up a party branch (the organization's staff)."""
    branch = await party_service.create_branch(
        actor=request.ctx.user, code=code, data=body, cache=request.app.ctx.container.cache
    )
    return json({"id": branch.id, "name": branch.name}, status=201, ensure_ascii=False)


@bp.put("/branches/<branch_id:int>/members")
@openapi.tag("party building")
@login_required
@requires(party_service.require_any_organizer)
@json_body(BranchMemberSet)
@responds(200, BranchMemberRead, "The membership", *WRITES)
async def set_member(request: Request, branch_id: int, body: BranchMemberSet) -> HTTPResponse:
    """Add a branch member or change their membership, role or group (staff or the secretary)."""
    member = await party_service.set_member(actor=request.ctx.user, branch_id=branch_id, data=body)
    return json(
        {
            "branch_id": member.branch_id,
            "user_id": member.user_id,
            "membership": member.membership,
            "role": member.role,
            "group_name": member.group_name,
        }
    )


@bp.put("/orgs/<code:str>/party-members")
@openapi.tag("party building")
@login_required
@requires(party_service.require_any_organizer)
@json_body(PartyMembersReport)
@responds(200, PartyMembersRead, "Recorded", *WRITES)
async def report_party_members(request: Request, code: str, body: PartyMembersReport) -> HTTPResponse:
    """Report the organization's number of party members (staff); three or more need a branch."""
    org = await party_service.report_party_members(
        actor=request.ctx.user, code=code, count=body.count, cache=request.app.ctx.container.cache
    )
    return json({"credit_code": org.credit_code, "party_members_reported": org.party_members_reported})


@bp.post("/orgs/<code:str>/activities")
@openapi.tag("party building")
@login_required
@requires(party_service.require_any_organizer)
@json_body(ActivityCreate)
@responds(201, ActivityRead, "Published", *WRITES)
async def create_activity(request: Request, code: str, body: ActivityCreate) -> HTTPResponse:
    """Publish an activity (staff or branch secretary); its text passes WeChat's content check first."""
    container = request.app.ctx.container
    activity = await party_service.create_activity(
        actor=request.ctx.user,
        code=code,
        data=body,
        wechat=container.wechat,
        default_interval_s=container.settings.checkin_code_interval_s,
        reminder_before=timedelta(minutes=container.settings.activity_reminder_minutes),
    )
    activity = await party_service.get_activity(activity_id=activity.id)
    return json(_activity(activity), status=201, ensure_ascii=False)


@bp.get("/activities/<activity_id:int>")
@openapi.tag("party building")
@responds(200, ActivityRead, "The activity: organization, time, place and radius")
async def get_activity(request: Request, activity_id: int) -> HTTPResponse:
    """An activity as members see it before checking in."""
    return json(_activity(await party_service.get_activity(activity_id=activity_id)), ensure_ascii=False)


@bp.get("/activities/<activity_id:int>/checkin-code")
@openapi.tag("party building")
@login_required
@query_params(CodeFormat)
@openapi.response(200, {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "format=png")
@openapi.response(200, {"image/svg+xml": {"schema": {"type": "string"}}}, "format=svg")
@responds(200, CheckinCodeRead, "The current rotating code and when it expires", 403)
async def get_checkin_code(request: Request, activity_id: int) -> HTTPResponse:
    """The rotating code for the organizer's phone to show (organizer only)."""
    current = await party_service.checkin_code(actor=request.ctx.user, activity_id=activity_id, now=_now())
    headers = {"Cache-Control": "no-store", "X-Code-Expires-At": current.expires_at.isoformat()}
    fmt = parse_query(request, CodeFormat).format
    if fmt == "png":
        return raw(qrimage.render_png(current.code, size=512), content_type="image/png", headers=headers)
    if fmt == "svg":
        return raw(qrimage.render_svg(current.code, size=512), content_type="image/svg+xml", headers=headers)
    body = CheckinCodeRead(code=current.code, expires_at=current.expires_at, interval_s=current.interval_s)
    return json(body.model_dump(mode="json"), headers=headers)


@bp.post("/activities/<activity_id:int>/checkins")
@openapi.tag("party building")
@login_required
@json_body(CheckinCreate)
@responds(200, CheckinRead, "Already checked in: the earlier record")
@responds(201, CheckinRead, "Recorded now", 409)
async def check_in(request: Request, activity_id: int, body: CheckinCreate) -> HTTPResponse:
    """Record the signed-in member's attendance at an activity."""
    checkin, created = await party_service.check_in(
        activity_id=activity_id, member=request.ctx.user, body=body, now=_now()
    )
    return json_bytes(_checkin(checkin), status=201 if created else 200)


async def _request(
    request: Request, activity_id: int, kind: str, body: AttendanceRequestCreate
) -> HTTPResponse:
    made = await party_service.request_attendance(
        kind=kind, activity_id=activity_id, member=request.ctx.user, reason=body.reason, now=_now()
    )
    return json({"id": made.id, "kind": made.kind, "status": made.status}, status=201)


@bp.post("/activities/<activity_id:int>/leave-requests")
@openapi.tag("party building")
@login_required
@json_body(AttendanceRequestCreate)
@responds(201, AttendanceRequestRead, "Requested", *WRITES)
async def request_leave(request: Request, activity_id: int, body: AttendanceRequestCreate) -> HTTPResponse:
    """Ask for leave before the activity starts."""
    return await _request(request, activity_id, "leave", body)


@bp.post("/activities/<activity_id:int>/makeup-requests")
@openapi.tag("party building")
@login_required
@json_body(AttendanceRequestCreate)
@responds(201, AttendanceRequestRead, "Requested", *WRITES)
async def request_makeup(request: Request, activity_id: int, body: AttendanceRequestCreate) -> HTTPResponse:
    """Ask for a make-up check-in (补签) after missing it."""
    return await _request(request, activity_id, "makeup", body)


@bp.post("/attendance-requests/<request_id:int>/decision")
@openapi.tag("party building")
@login_required
@requires(party_service.require_any_organizer)
@json_body(RequestDecision)
@responds(200, AttendanceRequestRead, "Decided", *WRITES)
async def decide_request(request: Request, request_id: int, body: RequestDecision) -> HTTPResponse:
    """Approve or reject a leave or make-up request (the organizer)."""
    decided = await party_service.decide_request(
        actor=request.ctx.user, request_id=request_id, approve=body.approve, reason=body.reason, now=_now()
    )
    return json({"id": decided.id, "kind": decided.kind, "status": decided.status})


@bp.get("/activities/<activity_id:int>/attendance")
@openapi.tag("party building")
@no_store
@login_required
@query_params(ExportFormat)
@openapi.response(200, {tabular.CSV_CONTENT_TYPE: {"schema": {"type": "string"}}}, "format=csv")
@openapi.response(
    200, {tabular.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}, "format=xlsx"
)
@responds(200, AttendanceReport, "Present, late, on leave, made up or absent, with the rate", 403)
async def get_attendance(request: Request, activity_id: int) -> HTTPResponse:
    """The attendance of an activity (staff, branch secretary, officers of the jurisdiction)."""
    report = await party_service.attendance(actor=request.ctx.user, activity_id=activity_id)
    fmt = parse_query(request, ExportFormat).format
    header = ["user_id", "nickname", "status", "checked_in_at"]
    disposition = {"Content-Disposition": f'attachment; filename="attendance-{activity_id}.{fmt}"'}
    if fmt in ("csv", "xlsx"):
        rows = [[r[k] for k in header] for r in report["rows"]]
        if fmt == "csv":
            return raw(
                tabular.to_csv(header, rows), content_type=tabular.CSV_CONTENT_TYPE, headers=disposition
            )
        return raw(
            tabular.to_xlsx(header, rows, title="attendance"),
            content_type=tabular.XLSX_CONTENT_TYPE,
            headers=disposition,
        )
    return json(report, ensure_ascii=False)


@bp.get("/me/checkins")
@openapi.tag("party building")
@no_store
@login_required
@responds(200, MyCheckins, "The member's own attendance history")
async def list_my_checkins(request: Request) -> HTTPResponse:
    """The signed-in member's check-ins."""
    return json({"items": await party_service.my_checkins(member=request.ctx.user)}, ensure_ascii=False)


@bp.get("/branches/<branch_id:int>/compliance")
@openapi.tag("party building")
@login_required
@query_params(PeriodQuery)
@responds(200, BranchComplianceReport, "Held versus required meetings and their attendance", 403)
async def get_branch_compliance(request: Request, branch_id: int) -> HTTPResponse:
    """三会一课 compliance of one branch in a period."""
    report = await compliance.get_branch_report(
        actor=request.ctx.user,
        branch_id=branch_id,
        period_text=request.args.get("period", ""),
        requirements=_requirements(request),
    )
    return json(report, ensure_ascii=False)


@bp.get("/compliance/regions/<region_code:str>")
@openapi.tag("party building")
@openapi.parameter("region_code", REGION_CODE, "path", required=True, description="Six digits")
@login_required
@query_params(PeriodQuery)
@responds(200, RegionComplianceReport, "Branches that fell short, organizations that need a branch", 403)
async def get_region_compliance(request: Request, region_code: str) -> HTTPResponse:
    """三会一课 compliance over the organizations of a region (officers)."""
    report = await compliance.region_report(
        actor=request.ctx.user,
        region_code=region_code,
        period_text=request.args.get("period", ""),
        requirements=_requirements(request),
    )
    return json(report, ensure_ascii=False)
