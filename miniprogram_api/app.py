"""The Sanic application factory; ``gongxin serve`` runs it."""

from __future__ import annotations

from sanic import Blueprint, Sanic
from sanic_ext import Extend
from sanic_ext.extensions.http.extension import HTTPExtension
from sanic_ext.extensions.openapi.extension import OpenAPIExtension

from backend import bootstrap
from backend.cache import Cache
from backend.config import Settings, load_settings

from . import errors, headers, metrics, observability, openapi
from .routes import (
    accounts,
    admin,
    charity,
    health,
    officer,
    pages,
    partybuilding,
    proofs,
    recruitment,
    registry,
    subscriptions,
    translog,
    wechat,
)
from .routes import metrics as metrics_routes
from .transport import BodyLimits, GongxinRequest

API_PREFIX = "/api/v1"

DESCRIPTION = """
公信 Gongxin: verifiable profiles of social organizations, party-building check-ins, sign-ups,
donation disclosure and notifications, for a WeChat mini-program.

Every error has the shape `{"error": {"code", "message", "details"}}` (schema `ErrorBody`).
Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/login`.
"""


def _id_in_range(value: str) -> int:
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"{value[:40]} is beyond 64 bits")
    return number


def create_app(
    settings: Settings | None = None, *, name: str = "gongxin", cache: Cache | None = None
) -> Sanic:
    """Build the app. ``cache`` lets tests share one in-process cache with the code under test."""
    settings = settings or load_settings()
    headers.install()
    app = Sanic(
        name,
        log_config=observability.logging_config(fmt=settings.log_format, level=settings.log_level),
        env_prefix="GONGXIN_SANIC_",
        request_class=GongxinRequest,
    )
    # Each route's body limit, checked before its body is read (miniprogram_api/transport.py).
    app.ctx.body_limits = BodyLimits(json=settings.max_json_body_bytes, upload=settings.max_upload_bytes)
    app.config.update(
        # The largest body any route accepts (imports): the server's own ceiling, for every route.
        REQUEST_MAX_SIZE=max(settings.max_json_body_bytes, settings.max_upload_bytes),
        # A request's head and body must arrive within this (DeadlineHttpProtocol); Sanic's own
        # timer (no byte for this long) is set alike, and checks both every half of it.
        REQUEST_READ_TIMEOUT=settings.request_read_timeout_seconds,
        REQUEST_TIMEOUT=settings.request_read_timeout_seconds,
        FALLBACK_ERROR_FORMAT="json",
        PROXIES_COUNT=settings.proxies_count,
        OAS_URL_PREFIX="/docs",
        # sanic-ext's UIs load Swagger UI and ReDoc from a third-party CDN (and its OAuth2 redirect
        # page fetches one at request time), which mainland users may not reach: /docs serves its
        # own copy instead (routes/pages.py). sanic-ext still builds /docs/openapi.json.
        OAS_UI_SWAGGER=False,
        OAS_UI_REDOC=False,
        OAS_UI_DEFAULT=None,
        OAS_AUTODOC=False,
        CORS=False,
        ACCESS_LOG=settings.access_log if settings.access_log is not None else not settings.is_production,
        KEEP_ALIVE_TIMEOUT=75,
    )
    # The extensions Gongxin uses (the OpenAPI document, automatic HEAD and OPTIONS), not the whole
    # default set: its dependency injection, unused here, runs a signal on every request.
    Extend(app, extensions=[OpenAPIExtension, HTTPExtension], built_in_extensions=False)
    app.ext.openapi.describe("Gongxin API", version="1", description=DESCRIPTION)
    app.ext.openapi.add_security_scheme("bearer", "http", bearer_format="JWT")

    errors.register(app)
    openapi.register(app)

    observability.register(app)
    metrics.register(app)

    # Ids are 64-bit in the database: a larger number in a path names nothing (and would make the
    # driver raise), so the router itself refuses it with a plain 404. In the router rather than a
    # middleware: every request would run the middleware, only routes with an id run this.
    app.router.register_pattern("int", _id_in_range, r"^-?\d+$")

    app.blueprint(health.bp)
    app.blueprint(pages.bp)
    app.blueprint(metrics_routes.bp)
    app.blueprint(charity.pages_bp)
    app.blueprint(proofs.pages_bp)
    # The docs page is this app's own (routes/pages.py), named as sanic-ext names the index of the UI
    # it would otherwise serve from a CDN: its start-up banner links to that name.
    app.add_route(pages.docs, "/docs", name="openapi.index", methods=["GET"])
    app.blueprint(
        Blueprint.group(
            accounts.bp,
            admin.bp,
            registry.bp,
            officer.bp,
            partybuilding.bp,
            subscriptions.bp,
            charity.bp,
            recruitment.bp,
            proofs.bp,
            translog.bp,
            wechat.bp,
            url_prefix=API_PREFIX,
        )
    )

    @app.before_server_start
    async def open_resources(app: Sanic) -> None:
        app.ctx.container = await bootstrap.start(settings, cache=cache)

    @app.after_server_stop
    async def close_resources(app: Sanic) -> None:
        await bootstrap.stop(app.ctx.container, close_cache=cache is None)

    return app
