"""Request ids on every response and log line; JSON logs in production; one line per outage."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import ServerError
from sanic.response import HTTPResponse

from backend.outages import dependency_down, describe

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's (load balancer's) id only if it is short and plain, so logs stay clean.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _RequestIds:
    """32 hex digits: a random prefix drawn once per process, then a counter.

    Unique across processes and machines like a uuid4, without asking the kernel for 16 random
    bytes on every request (uuid4 was 3 % of a check-in's CPU). Ids need not be unpredictable.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked worker draws its own prefix

    def reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class OutageLines(logging.Filter):
    """A record whose exception says a dependency is away becomes one line; its repeats are dropped.

    asyncpg's pool logs a traceback each time it fails to reconnect, and asyncio one for each task
    that failed unobserved: during an outage that is pages of the same traceback. Kept: the first
    record of each (logger, cause), then one per ``interval`` seconds, without the traceback.
    """

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self._interval = interval
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        dependency = dependency_down(exc) if exc is not None else None
        if exc is None or dependency is None:
            return True
        cause = f"{dependency} unavailable: {describe(exc)}"
        key, now = (record.name, cause), time.monotonic()
        if now - self._last.get(key, float("-inf")) < self._interval:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        record.msg, record.args = f"{record.getMessage()} ({cause})", None
        record.exc_info, record.exc_text = None, None
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
        "filters": ["request_id", "outages"],
        "stream": "ext://sys.stderr",
    }
    loggers = {
        name: {"level": level, "handlers": ["default"], "propagate": False}
        for name in ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "gongxin")
    }
    # Libraries that log on their own during an outage: their warnings through the same handler.
    for name in ("asyncpg", "asyncio", "tortoise"):
        loggers[name] = {"level": "WARNING", "handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}, "outages": {"()": OutageLines}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": loggers,
    }


def request_id_of(request: Request) -> str:
    """The request's id: the caller's (load balancer's) if acceptable, else one made on first use.

    Made when first needed (a log line, the response header) rather than by a signal on every
    request: a lifecycle signal cost a check-in burst 7 % of the server's CPU.
    """
    request_id: str | None = getattr(request.ctx, "request_id", None)
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else _request_ids.next()
        request.ctx.request_id = request_id
    return request_id


def current_request_id() -> str:
    """The id of the request this code serves (Sanic tracks it per task), or "-" outside one."""
    try:
        request = Request.get_current()
    except ServerError:
        return "-"
    return request_id_of(request)


async def add_request_id_header(request: Request, response: HTTPResponse) -> None:
    response.headers[REQUEST_ID_HEADER] = request_id_of(request)


def register(app: Sanic) -> None:
    # Response middleware runs for every answer, a 404 or 405 included; log lines written before it
    # (an error being handled) take the same id through current_request_id.
    app.register_middleware(add_request_id_header, "response")  # type: ignore[arg-type]
