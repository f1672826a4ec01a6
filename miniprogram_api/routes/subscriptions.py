"""Subscribe-message consents of the signed-in member, and the notification admin's views."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

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

from ..auth import login_required
from ..openapi import json_body, responds
from .registry import parse_query

bp = Blueprint("subscriptions", url_prefix="/")


def _json(
    model: SubscriptionList | SubscriptionRead | DeadLetterList | ReplayResult | NotificationStats,
) -> HTTPResponse:
    return json(model.model_dump(mode="json"), ensure_ascii=False)


@bp.get("/me/subscriptions")
@openapi.tag("notifications")
@login_required
@responds(200, SubscriptionList, "Every template with the consents left and whether it is on", 401)
async def get_subscriptions(request: Request) -> HTTPResponse:
    """The subscribe-message templates, each with the member's remaining consents and switch."""
    return _json(
        await subscriptions_service.get_subscriptions(
            user=request.ctx.user, settings=request.app.ctx.container.settings
        )
    )


@bp.post("/me/subscriptions")
@openapi.tag("notifications")
@login_required
@json_body(SubscriptionAnswers)
@responds(200, SubscriptionList, "The templates after counting the answers", 400, 401, 413, 422)
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
@login_required
@json_body(SubscriptionUpdate)
@responds(200, SubscriptionRead, "The kind of message, on or off", 400, 401, 404, 413, 422)
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
@openapi.parameter("limit", int, description="1-500 (default 50)")
@openapi.parameter("before_id", int, description="The next_before_id of the previous page")
@login_required
@responds(200, DeadLetterList, "Messages given up on, newest first", 401, 403, 422)
async def list_dead_notifications(request: Request) -> HTTPResponse:
    """The dead letters: messages given up on after transient failures or an interrupted send."""
    query = parse_query(request, DeadLetterQuery)
    assert isinstance(query, DeadLetterQuery)
    return _json(await subscriptions_service.list_dead_letters(actor=request.ctx.user, query=query))


@bp.post("/admin/notifications/dead/replay")
@openapi.tag("admin")
@login_required
@json_body(ReplayRequest)
@responds(200, ReplayResult, "The dead letters put back in the queue", 400, 401, 403, 413, 422)
async def replay_dead_notifications(request: Request, body: ReplayRequest) -> HTTPResponse:
    """Send dead letters again (the ids given, or all); audited."""
    return _json(await subscriptions_service.replay_dead_letters(actor=request.ctx.user, request=body))


@bp.get("/admin/notifications/stats")
@openapi.tag("admin")
@login_required
@responds(200, NotificationStats, "Per template: sent, skipped, failed, retried, dead-lettered", 401, 403)
async def get_notification_stats(request: Request) -> HTTPResponse:
    """Message counts per template, from the delivery records (the same as /metrics)."""
    return _json(await subscriptions_service.get_stats(actor=request.ctx.user))
