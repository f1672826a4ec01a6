"""Platform administration: granting and revoking roles, revoking a user's sessions."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from backend.accounts import service as accounts_service
from backend.accounts.permissions import require_platform_admin
from backend.accounts.schemas import (
    MeRead,
    RoleGrantCreate,
    RoleRevocationCreate,
    SessionRevocationCreate,
    SessionsRevokedRead,
)

from ..auth import login_required, requires
from ..headers import no_store
from ..openapi import json_body, responds

bp = Blueprint("admin", url_prefix="/admin")


@bp.post("/roles")
@openapi.tag("admin")
@no_store
@login_required
@requires(require_platform_admin)
@json_body(RoleGrantCreate)
@responds(200, MeRead, "The user with the new role", 403, 404)
async def grant_role(request: Request, body: RoleGrantCreate) -> HTTPResponse:
    """Grant a user the platform-admin, officer or staff role (platform admins only)."""
    user = await accounts_service.grant_role(
        actor=request.ctx.user, grant=body, cache=request.app.ctx.container.cache
    )
    roles = await accounts_service.get_roles(user=user)
    return json(MeRead.of(user, roles).model_dump(mode="json"), ensure_ascii=False)


@bp.post("/roles/revocations")
@openapi.tag("admin")
@no_store
@login_required
@requires(require_platform_admin)
@json_body(RoleRevocationCreate)
@responds(200, MeRead, "The user without the role (unchanged if they did not hold it)", 403, 404, 422)
async def revoke_role(request: Request, body: RoleRevocationCreate) -> HTTPResponse:
    """Take a platform-admin, officer or staff role away (platform admins only); holds on the next request."""
    user = await accounts_service.revoke_role(
        actor=request.ctx.user, revocation=body, cache=request.app.ctx.container.cache
    )
    roles = await accounts_service.get_roles(user=user)
    return json(MeRead.of(user, roles).model_dump(mode="json"), ensure_ascii=False)


@bp.post("/users/<user_id:int>/sessions/revocations")
@openapi.tag("admin")
@no_store
@login_required
@requires(require_platform_admin)
@json_body(SessionRevocationCreate)
@responds(200, SessionsRevokedRead, "Every token of the user stops working", 403, 404)
async def revoke_sessions(request: Request, user_id: int, body: SessionRevocationCreate) -> HTTPResponse:
    """Revoke every session of a user (platform admins only); each token is refused on its next request."""
    container = request.app.ctx.container
    user = await accounts_service.get_user(user_id=user_id)
    count = await accounts_service.revoke_all_sessions(
        user=user, cache=container.cache, actor=request.ctx.user, reason=body.reason
    )
    return json(SessionsRevokedRead(user_id=user.id, revoked=count).model_dump(mode="json"))
