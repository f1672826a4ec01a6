"""Login, the signed-in user, and phone binding."""

from __future__ import annotations

from datetime import timedelta

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json, raw
from sanic_ext import openapi

from backend import ratelimit
from backend.accounts import service as accounts_service
from backend.accounts.schemas import LoginRequest, MeRead, PhoneBindRequest, TokenRead
from backend.errors import TooManyRequests

from ..auth import login_required
from ..headers import no_store
from ..openapi import json_body, responds

bp = Blueprint("accounts", url_prefix="/")


class LoginRateLimited(TooManyRequests):
    code = "auth.login_rate_limited"
    message = "登录尝试过于频繁，请一分钟后再试 / Too many login attempts; try again in a minute"


@bp.post("/auth/login")
@openapi.tag("auth")
@no_store
@json_body(LoginRequest)
@responds(200, TokenRead, "Logged in", 401, 403, 429)
async def login(request: Request, body: LoginRequest) -> HTTPResponse:
    """Exchange a wx.login code for a bearer token."""
    container = request.app.ctx.container
    await ratelimit.enforce(
        cache=container.cache,
        key=f"login:{request.remote_addr or request.ip}",
        limit=container.settings.login_rate_limit_per_minute,
        window_seconds=60,
        error=LoginRateLimited,
    )
    result = await accounts_service.login(
        code=body.code,
        wechat=container.wechat,
        secret=container.settings.secret_key.get_secret_value(),
        ttl=timedelta(seconds=container.settings.token_ttl_seconds),
        cache=container.cache,
    )
    return json(TokenRead(token=result.token, expires_at=result.expires_at).model_dump(mode="json"))


@bp.post("/auth/logout")
@openapi.tag("auth")
@login_required
@responds(204, None, "The token no longer works")
async def logout(request: Request) -> HTTPResponse:
    """Revoke the token used for this request."""
    await accounts_service.revoke_session(
        session_id=request.ctx.session_id, user_id=request.ctx.user.id, cache=request.app.ctx.container.cache
    )
    return empty()


@bp.get("/me")
@openapi.tag("auth")
@no_store
@login_required
@responds(200, MeRead, "The signed-in user and their roles")
async def get_me(request: Request) -> HTTPResponse:
    """The signed-in user and their roles."""
    body = await accounts_service.get_me(user=request.ctx.user, cache=request.app.ctx.container.cache)
    return raw(body, content_type="application/json")


@bp.post("/me/phone")
@openapi.tag("auth")
@no_store
@login_required
@json_body(PhoneBindRequest)
@responds(200, MeRead, "Phone bound; shown masked")
async def bind_phone(request: Request, body: PhoneBindRequest) -> HTTPResponse:
    """Bind the phone number behind a getPhoneNumber code (stored encrypted)."""
    container = request.app.ctx.container
    user = await accounts_service.bind_phone(
        user=request.ctx.user,
        code=body.code,
        wechat=container.wechat,
        cipher=container.cipher,
        cache=container.cache,
    )
    roles = await accounts_service.get_roles(user=user)
    return json(MeRead.of(user, roles).model_dump(mode="json"), ensure_ascii=False)


@bp.delete("/me/phone")
@openapi.tag("auth")
@no_store
@login_required
@responds(200, MeRead, "Phone number deleted")
async def unbind_phone(request: Request) -> HTTPResponse:
    """Delete the stored phone number."""
    user = await accounts_service.unbind_phone(user=request.ctx.user, cache=request.app.ctx.container.cache)
    roles = await accounts_service.get_roles(user=user)
    return json(MeRead.of(user, roles).model_dump(mode="json"), ensure_ascii=False)
