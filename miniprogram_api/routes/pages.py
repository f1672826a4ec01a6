"""Pages outside the API: the H5 verification page at the QR URL, the published keys, the API docs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import swagger_ui_bundle
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, html, json, raw
from sanic_ext import openapi

from backend.charity import views as charity_views
from backend.errors import NotFound
from backend.recruitment import proofs
from backend.registry import qr, qrtoken
from backend.registry.schemas import PublishedKeys
from backend.translog import keys as log_keys
from backend.translog import service as log_service

from ..h5.render import CSP, render_log_section, render_verification_page
from ..openapi import responds

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
    organization = view.get("organization")
    log_section = None
    if view.get("verdict") != "not_genuine" and isinstance(organization, dict):
        code = str(organization.get("credit_code"))
        log_section = render_log_section(
            await log_service.current_by_code(code=code),
            credit_code=code,
            base_url=container.settings.public_base_url,
        )
    page = render_verification_page(view, projects=projects, log_section=log_section)
    return html(page, headers=PAGE_HEADERS)


@bp.get("/.well-known/gongxin-keys.json")
@openapi.tag("pages")
@responds(200, PublishedKeys, "Ed25519 public keys")
async def get_published_keys(request: Request) -> HTTPResponse:
    """The public keys that verify QR codes, volunteer proofs and checkpoints offline (retired ones too)."""
    document = {
        **await qr.published_keys(),
        **proofs.published_format(),
        "log_keys": await log_keys.published(),
    }
    return json(document, headers={"Cache-Control": "public, max-age=300"})


# /docs: Swagger UI from the swagger-ui-bundle package, served from here. No third-party CDN (mainland
# users may not reach one), no inline script (the page's CSP allows only this server's files).
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_UI_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DOCS_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>公信 Gongxin API</title>
  <link rel="stylesheet" href="/docs/swagger-ui/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/swagger-ui/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"""
DOCS_INITIALIZER = b"""window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
};
"""


async def docs(request: Request) -> HTTPResponse:
    """The browsable API documentation (routed in app.py, under the name sanic-ext gives its UI)."""
    return html(DOCS_PAGE, headers=DOCS_HEADERS)


@bp.get("/docs/swagger-initializer.js")
async def docs_initializer(request: Request) -> HTTPResponse:
    """What starts Swagger UI on the docs page (a file, since the page allows no inline script)."""
    return raw(
        DOCS_INITIALIZER, content_type="text/javascript", headers={"Cache-Control": "public, max-age=300"}
    )


@bp.get("/docs/swagger-ui/<name:str>")
async def docs_asset(request: Request, name: str) -> HTTPResponse:
    """One of Swagger UI's own files."""
    content_type = SWAGGER_UI_FILES.get(name)
    if content_type is None:
        raise NotFound("接口不存在 / No such endpoint", code="route.not_found")
    return await file(
        SWAGGER_UI / name, mime_type=content_type, headers={"Cache-Control": "public, max-age=86400"}
    )
