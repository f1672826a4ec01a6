"""Public registry routes: search, profiles, verification, QR images."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, raw
from sanic_ext import openapi

from backend import ratelimit
from backend.charity import views as charity_views
from backend.errors import TooManyRequests
from backend.recruitment import proofs
from backend.registry import qr, qrimage, qrtoken, wxacode
from backend.registry import service as registry_service
from backend.registry.models import Organization, QrCodeVersion
from backend.registry.schemas import OrgPage, OrgSearch, Profile, QrCodeRead, VerifyResult

from ..openapi import parse_query, query_params, refuses, responds

__all__ = ["parse_query"]  # where other route modules found it first

bp = Blueprint("registry", url_prefix="/")
JSON = "application/json"


class VerifyQuery(BaseModel):
    # A QR code's URL is about 170 characters; 512, percent-encoded, stays within the 8 KiB request head.
    url: str = Field(min_length=1, max_length=512, description="The URL read from the QR code")


class ImageQuery(BaseModel):
    size: int = Field(default=512, ge=128, le=2048, description="Pixels, quiet zone included")


@bp.get("/orgs")
@openapi.tag("registry")
@query_params(OrgSearch)
@responds(200, OrgPage, "One page of organizations")
async def search_orgs(request: Request) -> HTTPResponse:
    """Search organizations by name, kind, region subtree, status and credit state."""
    params = parse_query(request, OrgSearch)
    page = await registry_service.search(params=params, cache=request.app.ctx.container.cache)
    return raw(page, content_type=JSON)


@bp.get("/orgs/<code:str>")
@openapi.tag("registry")
@responds(200, Profile, "The public profile with every public record")
async def get_profile(request: Request, code: str) -> HTTPResponse:
    """The public profile of an organization, with its fundraising projects and their totals."""
    body = await charity_views.get_profile_bytes(
        cache=request.app.ctx.container.cache,
        credit_code=code.strip().upper(),
        today=registry_service.today(),
    )
    return raw(body, content_type=JSON)


@bp.get("/verify")
@openapi.tag("registry")
@query_params(VerifyQuery)
@responds(200, VerifyResult, "The verdict; a forged, altered or revoked code or proof is not_genuine")
async def verify(request: Request) -> HTTPResponse:
    """Verify a scanned QR code URL (an organization's or a volunteer service proof's) against its signature
    and the live record."""
    query = parse_query(request, VerifyQuery)
    container = request.app.ctx.container
    body = await proofs.verify_scanned(
        url=query.url,
        public_base_url=container.settings.public_base_url,
        cache=container.cache,
        keyring=container.keyring,
        now=datetime.now(UTC),
    )
    return raw(body, content_type=JSON)


async def _current_url(request: Request, code: str) -> tuple[str, QrCodeVersion, Organization]:
    container = request.app.ctx.container
    organization = await registry_service.get_organization(code=code)
    version = await qr.current_code(organization=organization)
    return qrtoken.build_url(container.settings.public_base_url, version.token), version, organization


@bp.get("/orgs/<code:str>/qrcode")
@openapi.tag("registry")
@responds(200, QrCodeRead, "The current QR code URL of the organization", 409)
async def get_qrcode(request: Request, code: str) -> HTTPResponse:
    """The URL the organization's QR code encodes, with its version."""
    url, version, organization = await _current_url(request, code)
    return json(
        {
            "credit_code": organization.credit_code,
            "version": version.version,
            "kid": version.kid,
            "issued_at": version.issued_at.isoformat(),
            "url": url,
        }
    )


@bp.get("/orgs/<code:str>/qrcode.png")
@openapi.tag("registry")
@query_params(ImageQuery)
@openapi.response(200, {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "PNG image")
@refuses(409)
async def get_qrcode_png(request: Request, code: str) -> HTTPResponse:
    """The organization's QR code as PNG."""
    size = parse_query(request, ImageQuery).size
    url, _, _ = await _current_url(request, code)
    return raw(
        qrimage.render_png(url, size=size), content_type="image/png", headers={"Cache-Control": "no-cache"}
    )


@bp.get("/orgs/<code:str>/qrcode.svg")
@openapi.tag("registry")
@query_params(ImageQuery)
@openapi.response(200, {"image/svg+xml": {"schema": {"type": "string"}}}, "SVG image")
@refuses(409)
async def get_qrcode_svg(request: Request, code: str) -> HTTPResponse:
    """The organization's QR code as SVG."""
    size = parse_query(request, ImageQuery).size
    url, _, _ = await _current_url(request, code)
    return raw(
        qrimage.render_svg(url, size=size),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-cache"},
    )


class WxaCodeRateLimited(TooManyRequests):
    code = "wxacode.rate_limited"
    message = "小程序码请求过于频繁，请稍后再试 / Too many mini-program code requests; try again later"


@bp.get("/orgs/<code:str>/wxacode.png")
@openapi.tag("registry")
@openapi.response(200, {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "Mini-program code")
@refuses(409, 429)
async def get_wxacode(request: Request, code: str) -> HTTPResponse:
    """The mini-program code (getwxacodeunlimit) that opens the organization's profile."""
    container = request.app.ctx.container
    await ratelimit.enforce(
        cache=container.cache,
        key=f"wxacode:{request.remote_addr or request.ip}",
        limit=container.settings.wxacode_rate_limit_per_minute,
        window_seconds=60,
        error=WxaCodeRateLimited,
    )
    png = await wxacode.get_png(
        code=code, wechat=container.wechat, cache=container.cache, today=registry_service.today()
    )
    return raw(png, content_type="image/png", headers={"Cache-Control": "no-cache"})
