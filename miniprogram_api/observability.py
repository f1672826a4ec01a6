"""Request ids on every response and log line; JSON logs in production."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# Accept a caller's (load balancer's) id only if it is short and plain, so logs stay clean.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    # Sanic's access logger puts the request line and status in extras, not in the message.
    return {
        key: getattr(record, key) for key in ("request", "status", "byte", "host") if hasattr(record, key)
    }


class TextFormatter(logging.Formatter):
    """Human-readable lines, with the access log's request and status spelled out."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        access = _access_fields(record)
        if access and not record.getMessage():
            line += f"{access.get('request', '')} {access.get('status', '')} {access.get('byte', '')}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(_access_fields(record))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """A dictConfig for Sanic's loggers and ours, text or JSON, with the request id on each line."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"()": TextFormatter, "fmt": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    loggers = {
        name: {"level": level, "handlers": ["default"], "propagate": False}
        for name in ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "gongxin")
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": loggers,
    }


async def assign_request_id(request: Request) -> None:
    """Take the caller's request id if acceptable, else make one."""
    if getattr(request.ctx, "request_id", None):
        return
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
    request.ctx.request_id = request_id
    request_id_var.set(request_id)


async def add_request_id_header(request: Request, response: HTTPResponse) -> None:
    if not getattr(request.ctx, "request_id", None):
        await assign_request_id(request)
    request_id = request.ctx.request_id
    response.headers[REQUEST_ID_HEADER] = request_id


def register(app: Sanic) -> None:
    # The lifecycle signal fires before routing, so even a 404 or 405 carries the id in its logs.
    app.signal("http.lifecycle.request")(assign_request_id)
    app.register_middleware(add_request_id_header, "response")  # type: ignore[arg-type]
