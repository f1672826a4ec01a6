"""How a request is read: its body's limit before a byte of it is read, and a deadline for all of it.

Sanic reads a body into memory before it runs a handler, up to REQUEST_MAX_SIZE: the largest any
route takes (an organization import), so any route read up to 20 MiB before refusing it (ten such
bodies to the login took a worker from 113 to 445 MB). ``GongxinRequest`` holds each route to its
own limit: the JSON limit, or the upload limit on routes marked ``ctx_upload=True``. A declared
Content-Length over it is refused (413) before the body is read; a chunked body is cut off as it
passes the limit; what was already sent is drained without being kept.

Sanic times a request out only when no byte arrives for REQUEST_TIMEOUT: its clock restarts on
every byte, so a client sending one byte every few seconds held its connection for ever.
``DeadlineHttpProtocol`` also gives the whole of a request (head and body, from its first byte) a
deadline, REQUEST_READ_TIMEOUT, and answers 408 and closes the connection past it. Sanic checks
its timers every REQUEST_TIMEOUT / 2, so REQUEST_TIMEOUT is set to the same value.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from sanic import Request
from sanic.exceptions import RequestTimeout
from sanic.http import Stage
from sanic.server.protocols.http_protocol import HttpProtocol

from backend.errors import PayloadTooLarge


def body_limit(request: Request) -> int:
    """The most bytes of body the request's route accepts."""
    limits = request.app.ctx.body_limits
    route = request.route
    return limits.upload if route is not None and getattr(route.ctx, "upload", False) else limits.json


class BodyLimits:
    """The body limits of one app: JSON routes, and routes that take files."""

    def __init__(self, *, json: int, upload: int) -> None:
        self.json, self.upload = json, upload


class GongxinRequest(Request):
    """Sanic's request, refusing an over-limit body before reading it."""

    __slots__ = ()

    async def receive_body(self) -> None:
        """Read the body, unless its route's limit refuses it first (413)."""
        limit = body_limit(self)
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(details={"limit_bytes": limit})
        stream: Any = self.stream
        if getattr(stream, "request_max_size", 0) > limit:
            # Sanic's HTTP/1.1 reader stops a chunked body as soon as it passes this.
            stream.request_max_size = limit
        await super().receive_body()
        if len(self.body) > limit:  # under ASGI the body may arrive whole, without a length
            raise PayloadTooLarge(details={"limit_bytes": limit})


class DeadlineHttpProtocol(HttpProtocol):
    """Sanic's HTTP/1.1 protocol with a deadline for reading a whole request."""

    __slots__ = ("_read_started", "read_timeout")

    def _setup(self) -> None:
        super()._setup()
        self.read_timeout: float = self.app.config.REQUEST_READ_TIMEOUT
        self._read_started = 0.0
        # Sanic sets it when the connection's task first runs, which may be after the first bytes.
        self._http = None

    def _reading(self) -> bool:
        """Whether a request's head or body is still arriving (or a refused body being drained)."""
        http = self._http
        # ``request_body`` is unset until the connection's first request begins.
        return http is not None and (http.stage is Stage.REQUEST or bool(getattr(http, "request_body", None)))

    def data_received(self, data: bytes) -> None:
        if not self._reading():
            self._read_started = monotonic()  # the first bytes of a request
        super().data_received(data)

    def check_timeouts(self) -> None:
        if self._task and self._reading() and monotonic() - self._read_started > self.read_timeout:
            self._http.exception = RequestTimeout("Request Timeout")
            self._task.cancel()
            return
        super().check_timeouts()
