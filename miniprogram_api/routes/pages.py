"""Pages outside the API: the H5 verification page at the QR URL, and the published keys."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, json
from sanic_ext import openapi

from backend.charity import views as charity_views
from backend.registry import qr, qrtoken

from ..h5.render import CSP, render_verification_page

bp = Blueprint("pages")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@bp.get("/o/<token:str>")
@openapi.tag("pages")
@openapi.response(200, {"text/html": {"schema": {"type": "string"}}}, "The verification page, in Chinese")
async def verification_page(request: Request, token: str) -> HTTPResponse:
    """The page a phone camera opens: the live verdict and the organization's public record."""
    container = request.app.ctx.container
    # The token is verified as ours whatever host name the request came through (proxies, WeChat).
    url = qrtoken.build_url(container.settings.public_base_url, token)
    body = await qr.verify(
        url=url,
        public_base_url=container.settings.public_base_url,
        cache=container.cache,
        keyring=container.keyring,
        now=datetime.now(UTC),
    )
    view = orjson.loads(body)
    projects = await charity_views.projects_for_verification(cache=container.cache, view=view)
    return html(render_verification_page(view, projects=projects), headers=PAGE_HEADERS)


@bp.get("/.well-known/gongxin-keys.json")
@openapi.tag("pages")
@openapi.response(200, {"application/json": {"schema": {"type": "object"}}}, "Ed25519 public keys")
async def published_keys(request: Request) -> HTTPResponse:
    """The public keys that verify QR codes offline, retired ones included."""
    return json(await qr.published_keys(), headers={"Cache-Control": "public, max-age=300"})
