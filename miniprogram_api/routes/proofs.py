"""Volunteer service proofs (志愿服务记录证明): the volunteer asks for one; anyone verifies its H5 page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, raw
from sanic_ext import openapi

from backend.recruitment import proofs, prooftoken
from backend.recruitment.proofschemas import VolunteerProofCreate, VolunteerProofList, VolunteerProofRead
from backend.registry import qrimage

from ..auth import login_required
from ..h5.proof import render_proof_page
from ..headers import no_store
from ..openapi import json_body, parse_query, query_params, refuses, responds
from ..responses import json_bytes
from .pages import PAGE_HEADERS
from .registry import ImageQuery

bp = Blueprint("proofs", url_prefix="/")
pages_bp = Blueprint("proof_pages")
TAG = "recruitment"


def _base_url(request: Request) -> str:
    return str(request.app.ctx.container.settings.public_base_url)


def _read(request: Request, proof: Any) -> dict[str, Any]:
    return proofs.owner_view(proof, public_base_url=_base_url(request))


@bp.post("/me/volunteer-proofs")
@openapi.tag(TAG)
@no_store
@login_required
@json_body(VolunteerProofCreate)
@responds(200, VolunteerProofRead, "The same records' proof, already issued")
@responds(201, VolunteerProofRead, "Issued: a new signed proof", 404, 409, 422)
async def request_volunteer_proof(request: Request, body: VolunteerProofCreate) -> HTTPResponse:
    """A signed proof of one's own volunteer service records (free; one organization's or all)."""
    proof, created = await proofs.issue(
        member=request.ctx.user, credit_code=body.organization, cipher=request.app.ctx.container.cipher
    )
    return json_bytes(_read(request, proof), status=201 if created else 200)


@bp.get("/me/volunteer-proofs")
@openapi.tag(TAG)
@no_store
@login_required
@responds(200, VolunteerProofList, "One's own proofs, newest first, each valid or revoked")
async def list_my_volunteer_proofs(request: Request) -> HTTPResponse:
    """The signed-in volunteer's proofs."""
    return json_bytes({"items": [_read(request, p) for p in await proofs.mine(member=request.ctx.user)]})


@bp.get("/me/volunteer-proofs/<proof_id:int>/qrcode.png")
@openapi.tag(TAG)
@no_store
@login_required
@query_params(ImageQuery)
@openapi.response(200, {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "PNG image")
@refuses(404)
async def get_volunteer_proof_qrcode_png(request: Request, proof_id: int) -> HTTPResponse:
    """One's own proof's QR code as PNG (it encodes the proof's H5 page, verified at /api/v1/verify)."""
    # Whose proof it is comes before what the query asks (someone else's proof: 404 whatever the size).
    proof = await proofs.get_mine(member=request.ctx.user, proof_id=proof_id)
    size = parse_query(request, ImageQuery).size
    url = prooftoken.build_url(_base_url(request), proof.token)
    return raw(
        qrimage.render_png(url, size=size), content_type="image/png", headers={"Cache-Control": "no-store"}
    )


@pages_bp.get("/v/<token:str>")
@openapi.tag("pages")
@openapi.response(200, {"text/html": {"schema": {"type": "string"}}}, "The proof's page, in Chinese")
async def volunteer_proof_page(request: Request, token: str) -> HTTPResponse:
    """The page a proof's QR code opens: the live verdict, the proof's public content and its QR code."""
    container = request.app.ctx.container
    view = await proofs.verify(
        url=prooftoken.build_url(container.settings.public_base_url, token),
        public_base_url=container.settings.public_base_url,
        keyring=container.keyring,
        now=datetime.now(UTC),
    )
    return html(render_proof_page(view), headers=PAGE_HEADERS)
