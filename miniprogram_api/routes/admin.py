"""Platform administration: granting roles."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from backend.accounts import service as accounts_service
from backend.accounts.permissions import require_platform_admin
from backend.accounts.schemas import MeRead, RoleGrantCreate

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
