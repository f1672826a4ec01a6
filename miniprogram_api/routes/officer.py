"""Officer routes: changing organizations and their records within a jurisdiction, imports, statistics."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from backend.accounts.permissions import require_any_officer, require_platform_admin
from backend.registry import qrtoken, stats, uploads
from backend.registry import service as registry_service
from backend.registry.models import CreditProposal, ProposalStatus
from backend.registry.schemas import (
    AnnualReportSet,
    AuditTrail,
    AuthorityCreate,
    AuthorityCreated,
    GradeCreate,
    ImportReport,
    LicenceCreate,
    ListingCreate,
    ListingRemoval,
    OrgCreate,
    OrgCreated,
    OrgUpdate,
    PenaltyCreate,
    ProposalDecision,
    ProposalList,
    ProposalRead,
    QrCodeRead,
    QrReissue,
    QualificationCreate,
    RegionStatistics,
    SigningKeyRead,
    StatusChange,
    WriteResult,
)

from ..auth import login_required, requires
from ..headers import no_store
from ..openapi import REGION_CODE, json_body, parse_query, query_params, responds
from ..uploads import uploaded_file

bp = Blueprint("officer", url_prefix="/")
# What an officer's write may be refused with, beyond what every route with a body may answer.
WRITE_ERRORS = (403, 409)


class ProposalQuery(BaseModel):
    status: ProposalStatus = Field(default=ProposalStatus.PENDING, description="Which proposals")


class ImportQuery(BaseModel):
    apply: bool = Field(default=False, description="false: a dry run with the row-by-row report")
    filename: str = Field(
        default="import.csv", min_length=1, max_length=255, description="Its extension tells CSV from XLSX"
    )


def _ok(record: Any = None, **extra: Any) -> HTTPResponse:
    body: dict[str, Any] = {"ok": True, **extra}
    if record is not None and hasattr(record, "id"):
        body["id"] = record.id
    return json(body, ensure_ascii=False)


def _ctx(request: Request) -> tuple[Any, Any]:
    return request.ctx.user, request.app.ctx.container.cache


@bp.post("/orgs")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(OrgCreate)
@responds(201, OrgCreated, "Registered", 404, *WRITE_ERRORS)
async def create_org(request: Request, body: OrgCreate) -> HTTPResponse:
    """Register an organization (officers, within their jurisdiction)."""
    user, cache = _ctx(request)
    organization = await registry_service.create_organization(
        actor=user, data=body, cipher=request.app.ctx.container.cipher, cache=cache
    )
    return json({"credit_code": organization.credit_code, "id": organization.id}, status=201)


@bp.patch("/orgs/<code:str>")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(OrgUpdate)
@responds(200, WriteResult, "Updated", *WRITE_ERRORS)
async def update_org(request: Request, code: str, body: OrgUpdate) -> HTTPResponse:
    """Change fields of the public record."""
    user, cache = _ctx(request)
    await registry_service.update_organization(actor=user, code=code, data=body, cache=cache)
    return _ok()


@bp.post("/orgs/<code:str>/status")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(StatusChange)
@responds(200, WriteResult, "Status changed", *WRITE_ERRORS)
async def change_status(request: Request, code: str, body: StatusChange) -> HTTPResponse:
    """Deregister, revoke or restore an organization."""
    user, cache = _ctx(request)
    await registry_service.change_status(actor=user, code=code, data=body, cache=cache)
    return _ok()


@bp.post("/orgs/<code:str>/licences")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(LicenceCreate)
@responds(200, WriteResult, "Recorded", *WRITE_ERRORS)
async def add_licence(request: Request, code: str, body: LicenceCreate) -> HTTPResponse:
    """Record an administrative licence."""
    user, cache = _ctx(request)
    return _ok(await registry_service.add_licence(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/penalties")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(PenaltyCreate)
@responds(200, WriteResult, "Recorded", *WRITE_ERRORS)
async def add_penalty(request: Request, code: str, body: PenaltyCreate) -> HTTPResponse:
    """Record an administrative penalty."""
    user, cache = _ctx(request)
    return _ok(await registry_service.add_penalty(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/annual-reports")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(AnnualReportSet)
@responds(200, WriteResult, "Recorded", *WRITE_ERRORS)
async def set_annual_report(request: Request, code: str, body: AnnualReportSet) -> HTTPResponse:
    """Record the annual report result of a year."""
    user, cache = _ctx(request)
    return _ok(await registry_service.set_annual_report(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/grades")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(GradeCreate)
@responds(200, WriteResult, "Recorded", *WRITE_ERRORS)
async def add_grade(request: Request, code: str, body: GradeCreate) -> HTTPResponse:
    """Record an evaluation grade."""
    user, cache = _ctx(request)
    return _ok(await registry_service.add_grade(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/qualifications")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(QualificationCreate)
@responds(200, WriteResult, "Recorded", *WRITE_ERRORS)
async def add_qualification(request: Request, code: str, body: QualificationCreate) -> HTTPResponse:
    """Record charity recognition or a public-fundraising qualification."""
    user, cache = _ctx(request)
    return _ok(await registry_service.add_qualification(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/listings")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(ListingCreate)
@responds(200, WriteResult, "Listed", *WRITE_ERRORS)
async def add_listing(request: Request, code: str, body: ListingCreate) -> HTTPResponse:
    """Put an organization on a credit list."""
    user, cache = _ctx(request)
    return _ok(await registry_service.add_listing(actor=user, code=code, data=body, cache=cache))


@bp.post("/orgs/<code:str>/listings/<listing_id:int>/removal")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(ListingRemoval)
@responds(200, WriteResult, "Removed; the listing stays in the public history", *WRITE_ERRORS)
async def remove_listing(request: Request, code: str, listing_id: int, body: ListingRemoval) -> HTTPResponse:
    """Take an organization off a credit list."""
    user, cache = _ctx(request)
    return _ok(
        await registry_service.remove_listing(
            actor=user, code=code, listing_id=listing_id, data=body, cache=cache
        )
    )


@bp.post("/orgs/<code:str>/qrcode/reissue")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(QrReissue)
@responds(200, QrCodeRead, "A new version; every earlier one stops verifying", *WRITE_ERRORS)
async def reissue_qrcode(request: Request, code: str, body: QrReissue) -> HTTPResponse:
    """Reissue the organization's QR code, revoking the previous version."""
    user, cache = _ctx(request)
    container = request.app.ctx.container
    organization, version = await registry_service.reissue_qr(
        actor=user, code=code, reason=body.reason, cipher=container.cipher, cache=cache
    )
    url = qrtoken.build_url(container.settings.public_base_url, version.token)
    return json(
        {
            "credit_code": organization.credit_code,
            "version": version.version,
            "kid": version.kid,
            "issued_at": version.issued_at.isoformat(),
            "url": url,
        }
    )


@bp.post("/orgs/<code:str>/qrcode/revoke")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(QrReissue)
@responds(200, WriteResult, "Revoked; the code no longer verifies", *WRITE_ERRORS)
async def revoke_qrcode(request: Request, code: str, body: QrReissue) -> HTTPResponse:
    """Revoke the organization's current QR code without issuing another."""
    user, cache = _ctx(request)
    revoked = await registry_service.revoke_qr(actor=user, code=code, reason=body.reason, cache=cache)
    return _ok(revoked=revoked)


@bp.get("/orgs/<code:str>/audit")
@openapi.tag("officer")
@no_store
@login_required
@responds(200, AuditTrail, "Who changed what, when and why", 403)
async def get_audit(request: Request, code: str) -> HTTPResponse:
    """The audit trail of an organization."""
    entries = await registry_service.get_audit(actor=request.ctx.user, code=code)
    return json({"items": entries}, ensure_ascii=False)


def _proposal(p: CreditProposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "credit_code": p.organization.credit_code,
        "organization": p.organization.name,
        "list": p.list,
        "action": p.action,
        "rule": p.rule_code,
        "reason": p.reason,
        "status": p.status,
        "created_at": p.created_at.isoformat(),
    }


@bp.get("/credit/proposals")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@query_params(ProposalQuery)
@responds(200, ProposalList, "Proposals in the jurisdiction (pending by default)", 403)
async def list_proposals(request: Request) -> HTTPResponse:
    """Credit-list proposals within the officer's jurisdiction."""
    query = parse_query(request, ProposalQuery)
    proposals = await registry_service.get_proposals(actor=request.ctx.user, status=query.status)
    return json({"items": [_proposal(p) for p in proposals]}, ensure_ascii=False)


@bp.post("/credit/proposals/<proposal_id:int>/decision")
@openapi.tag("officer")
@login_required
@requires(require_any_officer)
@json_body(ProposalDecision)
@responds(200, ProposalRead, "Decided", *WRITE_ERRORS)
async def decide_proposal(request: Request, proposal_id: int, body: ProposalDecision) -> HTTPResponse:
    """Confirm or reject a credit-list proposal."""
    user, cache = _ctx(request)
    decided = await registry_service.decide_proposal(
        actor=user, proposal_id=proposal_id, confirm=body.confirm, reason=body.reason, cache=cache
    )
    await decided.fetch_related("organization")
    return json(_proposal(decided), ensure_ascii=False)


@bp.post("/orgs/import", ctx_upload=True)
@openapi.tag("officer")
@openapi.body({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, required=True)
@login_required
@requires(require_any_officer)
@query_params(ImportQuery)
@responds(200, ImportReport, "The row-by-row report; applied only if every row is valid", 400, 403, 413)
async def import_orgs(request: Request) -> HTTPResponse:
    """Import organizations from a CSV or XLSX export (the raw file as the body, or multipart 'file')."""
    query = parse_query(request, ImportQuery)
    data, filename = uploaded_file(request, query.filename)
    report = await uploads.import_upload(
        actor=request.ctx.user,
        data=data,
        filename=filename or "import.csv",
        apply=query.apply,
        cipher=request.app.ctx.container.cipher,
        cache=request.app.ctx.container.cache,
    )
    return json(report, ensure_ascii=False)


@bp.get("/stats/regions/<region_code:str>")
@openapi.tag("officer")
@openapi.parameter("region_code", REGION_CODE, "path", required=True, description="Six digits")
@login_required
@responds(200, RegionStatistics, "Counts for the region and each child region", 403, 422)
async def get_region_stats(request: Request, region_code: str) -> HTTPResponse:
    """Statistics of a region subtree, rolled up from county to national."""
    return json(
        await stats.region_statistics(actor=request.ctx.user, region_code=region_code), ensure_ascii=False
    )


@bp.post("/admin/authorities")
@openapi.tag("admin")
@login_required
@requires(require_platform_admin)
@json_body(AuthorityCreate)
@responds(201, AuthorityCreated, "Created", 403, 409)
async def create_authority(request: Request, body: AuthorityCreate) -> HTTPResponse:
    """Create a registration authority (platform admins)."""
    authority = await registry_service.create_authority(actor=request.ctx.user, data=body)
    return json(
        {"id": authority.id, "region_code": authority.region_code, "level": authority.level}, status=201
    )


@bp.post("/admin/signing-keys/rotate")
@openapi.tag("admin")
@login_required
@responds(200, SigningKeyRead, "A new signing key; old codes keep verifying", 403)
async def rotate_key(request: Request) -> HTTPResponse:
    """Rotate the QR signing key (platform admins)."""
    key = await registry_service.rotate_signing_key(
        actor=request.ctx.user, cipher=request.app.ctx.container.cipher
    )
    await request.app.ctx.container.keyring.reload()
    return json({"kid": key.kid, "public_key": key.public_key_b64()})
