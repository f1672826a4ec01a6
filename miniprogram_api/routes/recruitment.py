"""Recruitment and sign-ups: postings, sign-ups and the waitlist, staff decisions, rosters, members."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi

from backend import tabular
from backend.accounts.permissions import require_platform_admin
from backend.errors import Unauthorized
from backend.recruitment import checkin, images, service, volunteering
from backend.recruitment.models import ImageCheck, Posting
from backend.recruitment.schemas import (
    ExportQuery,
    ImageCheckPage,
    ImageCheckRead,
    ImageDecision,
    MemberList,
    MemberRead,
    MySignups,
    PostingCheckinOpen,
    PostingCheckinRead,
    PostingCreate,
    PostingDecision,
    PostingPage,
    PostingQuery,
    PostingRead,
    Reason,
    Roster,
    ServiceRecordsSet,
    ServiceSheet,
    SignupCreate,
    SignupDecision,
    SignupRead,
    VolunteerHours,
)
from backend.recruitment.signups import SignupResult

from ..auth import bearer_token, current_user, login_required, requires
from ..headers import no_store
from ..openapi import json_body, parse_query, query_params, responds
from ..responses import json_bytes

bp = Blueprint("recruitment", url_prefix="/")
TAG = "recruitment"
WRITES = (403, 409)
CSV_RESPONSE = {tabular.CSV_CONTENT_TYPE: {"schema": {"type": "string"}}}
XLSX_RESPONSE = {tabular.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}


def _container(request: Request) -> Any:
    return request.app.ctx.container


def _signup(result: SignupResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "posting_id": result.posting_id,
        "status": result.status.value,
        "waitlist_position": result.waitlist_position,
    }


def _posting(posting: Posting, status: int = 200) -> HTTPResponse:
    return json_bytes(service.posting_read(posting), status=status)


def _download(header: list[str], rows: list[list[Any]], fmt: str, name: str) -> HTTPResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"', "Cache-Control": "no-store"}
    if fmt == "csv":
        return raw(tabular.to_csv(header, rows), content_type=tabular.CSV_CONTENT_TYPE, headers=headers)
    return raw(
        tabular.to_xlsx(header, rows, title=name), content_type=tabular.XLSX_CONTENT_TYPE, headers=headers
    )


# --- postings ---------------------------------------------------------------------------------------


@bp.post("/orgs/<code:str>/postings")
@openapi.tag(TAG)
@login_required
@requires(service.require_any_staff)
@json_body(PostingCreate)
@responds(201, PostingRead, "The posting, as a draft", *WRITES, 429)
async def create_posting(request: Request, code: str, body: PostingCreate) -> HTTPResponse:
    """Create a membership drive, activity or volunteer activity (the organization's staff)."""
    container = _container(request)
    posting = await service.create_posting(
        actor=request.ctx.user,
        code=code,
        data=body,
        cache=container.cache,
        limit_per_hour=container.settings.posting_rate_limit_per_hour,
    )
    return _posting(posting, status=201)


@bp.post("/postings/<posting_id:int>/publish")
@openapi.tag(TAG)
@login_required
@requires(service.require_any_staff)
@responds(200, PostingRead, "Open, or in_review until a platform admin decides", *WRITES, 422)
async def publish_posting(request: Request, posting_id: int) -> HTTPResponse:
    """Publish a draft after WeChat's content check (risky: 422 content.risky) (its staff)."""
    container = _container(request)
    posting = await service.publish(
        actor=request.ctx.user,
        posting_id=posting_id,
        wechat=container.wechat,
        reminder_before=timedelta(minutes=container.settings.posting_reminder_minutes),
    )
    return _posting(posting)


@bp.post("/postings/<posting_id:int>/close")
@openapi.tag(TAG)
@login_required
@requires(service.require_any_staff)
@json_body(Reason)
@responds(200, PostingRead, "Closed: no more sign-ups", *WRITES)
async def close_posting(request: Request, posting_id: int, body: Reason) -> HTTPResponse:
    """Stop taking sign-ups (its staff)."""
    return _posting(await service.close(actor=request.ctx.user, posting_id=posting_id, reason=body.reason))


@bp.post("/postings/<posting_id:int>/cancel")
@openapi.tag(TAG)
@login_required
@requires(service.require_any_staff)
@json_body(Reason)
@responds(200, PostingRead, "Cancelled; everyone signed up is told", *WRITES)
async def cancel_posting(request: Request, posting_id: int, body: Reason) -> HTTPResponse:
    """Cancel a posting with a reason (its staff)."""
    posting = await service.cancel_posting(actor=request.ctx.user, posting_id=posting_id, reason=body.reason)
    return _posting(posting)


@bp.post("/admin/postings/<posting_id:int>/decision")
@openapi.tag(TAG)
@login_required
@requires(require_platform_admin)
@json_body(PostingDecision)
@responds(200, PostingRead, "Opened or rejected", *WRITES)
async def decide_posting(request: Request, posting_id: int, body: PostingDecision) -> HTTPResponse:
    """Open or reject a posting held for review (platform admins)."""
    posting = await service.decide_posting(
        actor=request.ctx.user,
        posting_id=posting_id,
        approve=body.approve,
        reason=body.reason,
        reminder_before=timedelta(minutes=_container(request).settings.posting_reminder_minutes),
    )
    return _posting(posting)


def _image_check(check: ImageCheck) -> dict[str, Any]:
    return ImageCheckRead.model_validate(check, from_attributes=True).model_dump(mode="json")


@bp.get("/admin/image-checks")
@openapi.tag(TAG)
@login_required
@requires(require_platform_admin)
@responds(200, ImageCheckPage, "Posting images WeChat held for review, not decided yet, oldest first")
async def list_images_in_review(request: Request) -> HTTPResponse:
    """Posting images waiting for a platform admin's decision (platform admins)."""
    held = await images.held_for_review(actor=request.ctx.user)
    return json_bytes({"items": [_image_check(check) for check in held]})


@bp.post("/admin/image-checks/<check_id:int>/decision")
@openapi.tag(TAG)
@login_required
@requires(require_platform_admin)
@json_body(ImageDecision)
@responds(200, ImageCheckRead, "Shown (approved) or withheld for good (rejected)", *WRITES, 404, 422)
async def decide_image(request: Request, check_id: int, body: ImageDecision) -> HTTPResponse:
    """Show or keep withheld a posting image WeChat held for review (platform admins, audited)."""
    check = await images.decide(
        actor=request.ctx.user, check_id=check_id, approve=body.approve, reason=body.reason
    )
    return json_bytes(_image_check(check))


@bp.get("/postings")
@openapi.tag(TAG)
@query_params(PostingQuery)
@responds(200, PostingPage, "Public postings, newest first")
async def list_postings(request: Request) -> HTTPResponse:
    """Open, closed and cancelled postings, by region, organization, kind and status."""
    query = parse_query(request, PostingQuery)
    return json_bytes(await service.list_public(query=query))


@bp.get("/postings/<posting_id:int>")
@openapi.tag(TAG)
@responds(200, PostingRead, "The posting with seats_left and waitlist_length")
async def get_posting(request: Request, posting_id: int) -> HTTPResponse:
    """A posting as members see it before signing up (drafts: its staff only)."""
    viewer = None
    if bearer_token(request) is not None:
        try:
            viewer = await current_user(request)
        except Unauthorized:
            viewer = None
    return _posting(await service.get_public(posting_id=posting_id, viewer=viewer))


# --- sign-ups ---------------------------------------------------------------------------------------


@bp.post("/postings/<posting_id:int>/signups")
@openapi.tag(TAG)
@no_store
@login_required
@json_body(SignupCreate)
@responds(200, SignupRead, "Already signed up: that same sign-up")
@responds(201, SignupRead, "Confirmed, waitlisted (with its position) or pending approval", 429)
async def sign_up(request: Request, posting_id: int, body: SignupCreate) -> HTTPResponse:
    """Sign the member up; beyond capacity to the waitlist, first come first served."""
    container = _container(request)
    result, created = await service.sign_up(
        posting_id=posting_id,
        member=request.ctx.user,
        answers=body.answers,
        cipher=container.cipher,
        cache=container.cache,
        limit_per_minute=container.settings.signup_rate_limit_per_minute,
    )
    return json_bytes(_signup(result), status=201 if created else 200)


@bp.delete("/postings/<posting_id:int>/signups/me")
@openapi.tag(TAG)
@no_store
@login_required
@responds(200, SignupRead, "Cancelled; a freed seat went to the first of the waitlist")
async def cancel_my_signup(request: Request, posting_id: int) -> HTTPResponse:
    """Cancel the member's own active sign-up."""
    return json_bytes(_signup(await service.cancel_signup(posting_id=posting_id, member=request.ctx.user)))


@bp.get("/me/signups")
@openapi.tag(TAG)
@no_store
@login_required
@responds(200, MySignups, "The member's own sign-ups, newest first")
async def list_my_signups(request: Request) -> HTTPResponse:
    """The signed-in member's sign-ups."""
    return json_bytes({"items": await service.my_signups(member=request.ctx.user)})


@bp.get("/postings/<posting_id:int>/signups")
@openapi.tag(TAG)
@no_store
@login_required
@requires(service.require_any_staff)
@query_params(ExportQuery)
@openapi.response(200, CSV_RESPONSE, "format=csv")
@openapi.response(200, XLSX_RESPONSE, "format=xlsx")
@responds(200, Roster, "Everyone signed up, with their answers (phone numbers in full)", 403)
async def get_roster(request: Request, posting_id: int) -> HTTPResponse:
    """The sign-ups of a posting with their answers (its staff); CSV or XLSX too."""
    roster = await service.roster(
        actor=request.ctx.user, posting_id=posting_id, cipher=_container(request).cipher
    )
    fmt = parse_query(request, ExportQuery).format
    if fmt == "json":
        return json_bytes(
            {k: roster[k] for k in ("posting_id", "capacity", "confirmed", "waitlisted", "items")}
        )
    questions = roster["questions"]
    header = [
        "id",
        "user_id",
        "nickname",
        "status",
        "waitlist_position",
        "created_at",
        *(q["label"] for q in questions),
    ]
    rows = [
        [
            r["id"],
            r["user_id"],
            r["nickname"],
            r["status"],
            r["waitlist_position"],
            r["created_at"].isoformat(),
            *(_cell(r["answers"].get(q["id"])) for q in questions),
        ]
        for r in roster["items"]
    ]
    return _download(header, rows, fmt, f"signups-{posting_id}")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


@bp.post("/signups/<signup_id:int>/decision")
@openapi.tag(TAG)
@login_required
@requires(service.require_any_staff)
@json_body(SignupDecision)
@responds(200, SignupRead, "Approved (confirmed, or waitlisted when full) or rejected", *WRITES)
async def decide_signup(request: Request, signup_id: int, body: SignupDecision) -> HTTPResponse:
    """Approve or reject a pending sign-up (the organization's staff)."""
    result = await service.decide(
        actor=request.ctx.user, signup_id=signup_id, approve=body.decision == "approve", reason=body.reason
    )
    return json_bytes(_signup(result))


# --- members ----------------------------------------------------------------------------------------


@bp.get("/orgs/<code:str>/members")
@openapi.tag(TAG)
@no_store
@login_required
@requires(service.require_any_staff)
@query_params(ExportQuery)
@openapi.response(200, CSV_RESPONSE, "format=csv")
@openapi.response(200, XLSX_RESPONSE, "format=xlsx")
@responds(200, MemberList, "Members by member number", 403)
async def list_members(request: Request, code: str) -> HTTPResponse:
    """The organization's members (its staff); CSV or XLSX too."""
    found = await service.members(actor=request.ctx.user, code=code)
    fmt = parse_query(request, ExportQuery).format
    if fmt == "json":
        return json_bytes(found)
    header = ["member_no", "user_id", "nickname", "joined_on", "status", "left_on"]
    rows = [[m[k] for k in header] for m in found["items"]]
    return _download(header, rows, fmt, "members")


@bp.delete("/orgs/<code:str>/members/me")
@openapi.tag(TAG)
@no_store
@login_required
@responds(200, MemberRead, "Left: the membership ends today")
async def leave_organization(request: Request, code: str) -> HTTPResponse:
    """Leave an organization one is a member of."""
    return json_bytes(await service.leave(member=request.ctx.user, code=code))


# --- volunteer service records ----------------------------------------------------------------------


@bp.get("/postings/<posting_id:int>/service-records")
@openapi.tag(TAG)
@no_store
@login_required
@requires(service.require_any_staff)
@responds(200, ServiceSheet, "Every confirmed participant, prefilled, with what is recorded", 403, 422)
async def get_service_records(request: Request, posting_id: int) -> HTTPResponse:
    """The sheet to record a volunteer posting's hours on (its staff)."""
    return json_bytes(await volunteering.sheet(actor=request.ctx.user, posting_id=posting_id))


@bp.put("/postings/<posting_id:int>/service-records")
@openapi.tag(TAG)
@no_store
@login_required
@requires(service.require_any_staff)
@json_body(ServiceRecordsSet)
@responds(200, ServiceSheet, "Recorded; the sheet as it is now", *WRITES)
async def set_service_records(request: Request, posting_id: int, body: ServiceRecordsSet) -> HTTPResponse:
    """Record or correct volunteers' hours once the posting has begun (its staff)."""
    return json_bytes(
        await volunteering.record(actor=request.ctx.user, posting_id=posting_id, entries=body.records)
    )


@bp.post("/postings/<posting_id:int>/checkin")
@openapi.tag(TAG)
@no_store
@login_required
@requires(service.require_any_staff)
@json_body(PostingCheckinOpen)
@responds(200, PostingCheckinRead, "Opened earlier: that same check-in")
@responds(201, PostingCheckinRead, "Opened: show the rotating code, volunteers scan it", *WRITES, 422)
async def open_posting_checkin(request: Request, posting_id: int, body: PostingCheckinOpen) -> HTTPResponse:
    """Open the rotating-code check-in of a volunteer posting (its staff); who came prefills the hours."""
    activity, created = await checkin.open_checkin(
        actor=request.ctx.user,
        posting_id=posting_id,
        data=body,
        default_interval_s=_container(request).settings.checkin_code_interval_s,
    )
    return json_bytes(checkin.checkin_read(activity), status=201 if created else 200)


@bp.get("/me/volunteer-hours")
@openapi.tag(TAG)
@no_store
@login_required
@responds(200, VolunteerHours, "The volunteer's records and their total")
async def get_my_volunteer_hours(request: Request) -> HTTPResponse:
    """The signed-in volunteer's service records."""
    return json_bytes(await volunteering.my_hours(member=request.ctx.user))
