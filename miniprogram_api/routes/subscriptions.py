"""Subscribe-message consents of the signed-in member, and the notification admin's views."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from backend.accounts.permissions import require_platform_admin
from backend.subscriptions import service as subscriptions_service
from backend.subscriptions.schemas import (
    DeadLetterList,
    DeadLetterQuery,
    NotificationStats,
    ReplayRequest,
    ReplayResult,
    SubscriptionAnswers,
    SubscriptionList,
    SubscriptionRead,
    SubscriptionUpdate,
)

from ..auth import login_required, requires
from ..headers import no_store
from ..openapi import json_body, parse_query, query_params, responds

bp = Blueprint("subscriptions", url_prefix="/")


def _json(
    model: SubscriptionList | SubscriptionRead | DeadLetterList | ReplayResult | NotificationStats,
) -> HTTPResponse:
    return json(model.model_dump(mode="json"), ensure_ascii=False)


@bp.get("/me/subscriptions")
@openapi.tag("notifications")
@no_store
@login_required
@responds(200, SubscriptionList, "Every template with the consents left and whether it is on")
async def get_subscriptions(request: Request) -> HTTPResponse:
    """The subscribe-message templates, each with the member's remaining consents and switch."""
    return _json(
        await subscriptions_service.get_subscriptions(
            user=request.ctx.user, settings=request.app.ctx.container.settings
        )
    )


@bp.post("/me/subscriptions")
@openapi.tag("notifications")
@no_store
@login_required
@json_body(SubscriptionAnswers)
@responds(200, SubscriptionList, "The templates after counting the answers")
async def report_subscriptions(request: Request, body: SubscriptionAnswers) -> HTTPResponse:
    """Report what wx.requestSubscribeMessage answered: one more consent per accepted template."""
    return _json(
        await subscriptions_service.record_answers(
            user=request.ctx.user, answers=body, settings=request.app.ctx.container.settings
        )
    )


@bp.put("/me/subscriptions/<event:str>")
@openapi.tag("notifications")
@openapi.parameter("event", str, location="path", description="The event kind, e.g. checkin.recorded")
@no_store
@login_required
@json_body(SubscriptionUpdate)
@responds(200, SubscriptionRead, "The kind of message, on or off")
async def update_subscription(request: Request, event: str, body: SubscriptionUpdate) -> HTTPResponse:
    """Turn one kind of message on or off for the signed-in member."""
    return _json(
        await subscriptions_service.set_enabled(
            user=request.ctx.user,
            event=event,
            enabled=body.enabled,
            settings=request.app.ctx.container.settings,
        )
    )


@bp.get("/admin/notifications/dead")
@openapi.tag("admin")
@no_store
@login_required
@requires(require_platform_admin)
@query_params(DeadLetterQuery)
@responds(200, DeadLetterList, "Messages given up on, newest first")
async def list_dead_notifications(request: Request) -> HTTPResponse:
    """The dead letters: messages given up on after transient failures or an interrupted send."""
    query = parse_query(request, DeadLetterQuery)
    return _json(await subscriptions_service.list_dead_letters(actor=request.ctx.user, query=query))


@bp.post("/admin/notifications/dead/replay")
@openapi.tag("admin")
@login_required
@requires(require_platform_admin)
@json_body(ReplayRequest)
@responds(200, ReplayResult, "The dead letters put back in the queue")
async def replay_dead_notifications(request: Request, body: ReplayRequest) -> HTTPResponse:
    """Send dead letters again (the ids given, or all); audited."""
    return _json(await subscriptions_service.replay_dead_letters(actor=request.ctx.user, request=body))


@bp.get("/admin/notifications/stats")
@openapi.tag("admin")
@login_required
@requires(require_platform_admin)
@responds(200, NotificationStats, "Per template: sent, skipped, failed, retried, dead-lettered")
async def get_notification_stats(request: Request) -> HTTPResponse:
    """Message counts per template, from the delivery records (the same as /metrics)."""
    return _json(await subscriptions_service.get_stats(actor=request.ctx.user))
