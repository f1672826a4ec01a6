"""The domain's error tree.

Every error a client can see is a ``DomainError`` subclass carrying a stable machine-readable
``code``, a message for people (Chinese first, English after a slash) and the HTTP ``status`` as a
class attribute, so that one handler in the HTTP layer maps the whole tree::

    DomainError (500 internal)
    ├── BadRequest (400)             malformed input the schema layer could not catch
    ├── Unauthorized (401)           no, expired, forged or revoked credentials
    ├── Forbidden (403)              authenticated, but the role or jurisdiction does not allow it
    ├── NotFound (404)
    ├── MethodNotAllowed (405)       the path exists, the method does not (Allow says which do)
    ├── RequestTimeout (408)         the request did not arrive within its deadline
    ├── Conflict (409)               the write clashes with the current state
    ├── PayloadTooLarge (413)
    ├── Unprocessable (422)          well-formed but breaks a rule
    ├── TooManyRequests (429)
    ├── HeaderTooLarge (431)
    └── ServiceUnavailable (503)     a dependency (WeChat, database, Redis) is failing; retry later

The domain never imports the web framework: these are plain exceptions.
"""

from __future__ import annotations

import math
from typing import Any


class DomainError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    code: str = "internal"
    message: str = "服务器内部错误 / Internal server error"
    # Seconds after which a retry may succeed: the HTTP layer sends it as Retry-After (429, 503).
    retry_after: int | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        self.message = message or type(self).message
        self.details = details
        if code is not None:
            self.code = code
        if retry_after is not None:
            # Whole seconds, rounded up, at least 1: "Retry-After: 0" would invite a retry storm.
            self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The public error body."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(DomainError):
    status = 400
    code = "bad_request"
    message = "请求格式错误 / Malformed request"


class Unauthorized(DomainError):
    status = 401
    code = "auth.unauthorized"
    message = "请先登录 / Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "auth.forbidden"
    message = "无权执行此操作 / You are not allowed to do this"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "未找到 / Not found"


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"
    message = "不支持该请求方法 / Method not allowed"


class RequestTimeout(DomainError):
    status = 408
    code = "request.timeout"
    message = "请求未在规定时间内发送完毕 / The request did not arrive in time"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "与当前状态冲突 / Conflicts with the current state"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    message = "请求体过大 / Request body too large"


class Unprocessable(DomainError):
    status = 422
    code = "validation_error"
    message = "请求内容不符合要求 / The request does not meet the requirements"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"
    message = "请求过于频繁，请稍后再试 / Too many requests, try again later"


class HeaderTooLarge(DomainError):
    status = 431
    code = "request.header_too_large"
    message = "请求头过大 / Request header fields too large"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service.unavailable"
    message = "服务暂时不可用，请稍后再试 / Service temporarily unavailable"
