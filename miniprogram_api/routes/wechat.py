"""WeChat's message push: the URL verification and the events (media check verdicts)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, text
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import OperationStore

from backend.errors import BadRequest
from backend.recruitment import images
from backend.wechat import push

from ..openapi import add_error, parse_query, query_params

bp = Blueprint("wechat", url_prefix="/")
TAG = "wechat"
TEXT = {"text/plain": {"schema": {"type": "string"}}}
log = logging.getLogger("gongxin.wechat")


def responds_errors(*codes: int) -> Any:
    """Document the refusals of a route whose success is plain text (wechat.bad_signature: 403)."""

    def decorate(handler: Any) -> Any:
        operation = OperationStore()[handler]
        for code in codes:
            add_error(operation, code)
        return handler

    return decorate


class PushQuery(BaseModel):
    signature: str = Field(max_length=64)
    timestamp: str = Field(max_length=16)
    nonce: str = Field(max_length=64)


class VerifyQuery(PushQuery):
    echostr: str = Field(max_length=200)


class BadPush(BadRequest):
    code = "wechat.bad_push"
    message = "推送内容无效 / The push body is not valid JSON"


def _verified(request: Request, model: type[PushQuery]) -> PushQuery:
    query = parse_query(request, model)
    settings = request.app.ctx.container.settings
    push.verify(
        token=settings.wechat_push_token.get_secret_value(),
        signature=query.signature,
        timestamp=query.timestamp,
        nonce=query.nonce,
        now=time.time(),
    )
    return query


@bp.get("/wechat/push")
@openapi.tag(TAG)
@query_params(VerifyQuery)
@openapi.response(200, TEXT, "echostr, when the signature is WeChat's")
@responds_errors(403, 422)
async def verify_push_url(request: Request) -> HTTPResponse:
    """WeChat's check of the message-push URL: echo ``echostr`` back when the signature holds."""
    query = _verified(request, VerifyQuery)
    assert isinstance(query, VerifyQuery)
    return text(query.echostr)


@bp.post("/wechat/push")
@openapi.tag(TAG)
@query_params(PushQuery)
@openapi.response(200, TEXT, "success")
@responds_errors(400, 403, 422)
async def receive_push(request: Request) -> HTTPResponse:
    """A push event from WeChat (signature checked): a media check's verdict on a posting's image."""
    _verified(request, PushQuery)
    try:
        event = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise BadPush() from None
    if not isinstance(event, dict):
        raise BadPush()
    appid = request.app.ctx.container.settings.wechat_appid
    if event.get("Event") == "wxa_media_check" and event.get("appid", appid) == appid:
        result: dict[str, Any] = event["result"] if isinstance(event.get("result"), dict) else {}
        trace_id, suggest = event.get("trace_id"), result.get("suggest")
        if isinstance(trace_id, str) and trace_id and isinstance(suggest, str) and len(trace_id) <= 64:
            label = result.get("label")
            await images.record_verdict(
                trace_id=trace_id,
                suggest=suggest,
                label=label if isinstance(label, int) else None,
                now=datetime.now(UTC),
            )
        else:
            log.warning("wxa_media_check push without trace_id or verdict: %s", event)
    # WeChat retries a push until it hears "success" (or an empty answer) within 5 seconds.
    return text("success")
