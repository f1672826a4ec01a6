"""Who is calling: bearer tokens in, ``request.ctx.user`` out."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import OperationStore

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.errors import Unauthorized

from .openapi import add_error, carry_docs

Handler = Callable[..., Awaitable[Any]]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_user(request: Request) -> User:
    """The authenticated user of this request, or 401."""
    user = getattr(request.ctx, "user", None)
    if user is not None:
        return user
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "请先登录 / Log in first (Authorization: Bearer <token>)", code="auth.token_missing"
        )
    container = request.app.ctx.container
    user, session_id = await accounts_service.authenticate(
        token=token, secret=container.settings.secret_key.get_secret_value(), cache=container.cache
    )
    request.ctx.user = user
    request.ctx.session_id = session_id
    return user


def login_required(handler: Handler) -> Handler:
    """Require a valid bearer token; the handler finds the user on ``request.ctx.user``."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        await current_user(request)
        return await handler(request, *args, **kwargs)

    return openapi.secured("bearer")(carry_docs(handler, wrapper))


RoleCheck = Callable[[User], Awaitable[None] | None]


def requires(check: RoleCheck) -> Callable[[Handler], Handler]:
    """Check the caller's role before the request's body or query is read: 403 comes before 400 or 422.

    ``check`` is a domain permission (``require_any_officer``, ``require_platform_admin`` ...) that
    raises Forbidden. It is the coarse half (is this caller an officer at all?); the service still
    checks the jurisdiction or the organization. Placed between ``login_required`` and ``json_body``.
    """

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            outcome = check(request.ctx.user)
            if inspect.isawaitable(outcome):
                await outcome
            return await handler(request, *args, **kwargs)

        documented = carry_docs(handler, wrapper)
        add_error(OperationStore()[documented], 403)
        return documented

    return decorate
