"""One error shape for every 4xx and 5xx: ``{"error": {"code", "message", "details"}}``.

A dependency that is away (the database, Redis: ``backend/outages.py``) answers 503
``service.unavailable`` with Retry-After and one log line per cause; anything else unexpected is a
500 with its traceback in the log, and never its text in the answer.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sanic import Request, Sanic
from sanic import exceptions as sanic_exc
from sanic.response import HTTPResponse, json
from sanic_routing.exceptions import NoMethod
from sanic_routing.exceptions import NotFound as RouteNotFound
from tortoise.exceptions import ValidationError as OrmValidationError

from backend import errors, outages

from .openapi import validation_details

log = logging.getLogger("gongxin.errors")
outage_log = outages.OutageLog(logging.getLogger("gongxin.outages"))

# Sanic's own exceptions (routing, body size, parsing, timeouts) mapped into the domain tree.
_SANIC_TO_DOMAIN: list[tuple[type[Exception], type[errors.DomainError]]] = [
    (sanic_exc.MethodNotAllowed, errors.MethodNotAllowed),
    (sanic_exc.PayloadTooLarge, errors.PayloadTooLarge),
    (sanic_exc.BadRequest, errors.BadRequest),
    (sanic_exc.Unauthorized, errors.Unauthorized),
    (sanic_exc.Forbidden, errors.Forbidden),
    (sanic_exc.RequestTimeout, errors.RequestTimeout),
]
# What Sanic says when a request's head is over REQUEST_MAX_HEADER_SIZE (http1.py raises it as a 413).
_HEADER_TOO_LARGE = "Request header exceeds the size limit"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def to_domain_error(exc: Exception) -> errors.DomainError:
    """Translate any exception into the public error tree, hiding internals."""
    if isinstance(exc, errors.DomainError):
        return exc
    if isinstance(exc, ValidationError):
        return errors.Unprocessable(details=validation_details(exc))
    if isinstance(exc, OrmValidationError):
        # A value the database column cannot hold (too long...) that a schema did not stop first.
        return errors.Unprocessable("字段取值超出允许范围 / A value is out of range", code="validation.value")
    if isinstance(exc, sanic_exc.RequestCancelled):
        # The client went away mid-request: nobody reads this answer, and it is no server error.
        return errors.BadRequest("客户端已断开 / The client went away", code="request.cancelled")
    if isinstance(exc, sanic_exc.NotFound):
        return errors.NotFound("接口不存在 / No such endpoint", code="route.not_found")
    if isinstance(exc, sanic_exc.PayloadTooLarge) and str(exc) == _HEADER_TOO_LARGE:
        return errors.HeaderTooLarge()
    if isinstance(exc, sanic_exc.ServiceUnavailable):
        # Sanic's RESPONSE_TIMEOUT: the handler waited too long on something.
        return errors.ServiceUnavailable(retry_after=outages.RETRY_AFTER_SECONDS)
    for sanic_type, domain_type in _SANIC_TO_DOMAIN:
        if isinstance(exc, sanic_type):
            return domain_type()
    if isinstance(exc, sanic_exc.SanicException) and 400 <= exc.status_code < 500:
        err = errors.DomainError(str(exc) or None, code=f"http.{exc.status_code}")
        err.status = exc.status_code  # an instance override: this one error keeps Sanic's status
        return err
    if outages.dependency_down(exc) is not None:
        return errors.ServiceUnavailable(retry_after=outages.RETRY_AFTER_SECONDS)
    return errors.DomainError()


def allowed_methods(request: Request, exc: Exception) -> list[str]:
    """The methods the requested path answers, for a 405's Allow header.

    Sanic's router names them for some paths only (not for a path with parameters), so they are
    asked of the router, one method at a time, when it did not.
    """
    named = getattr(exc, "allowed_methods", None)
    if named:
        return [method for method in _METHODS if method in named]
    router, host = request.app.router, request.headers.getone("host", None)
    allowed = []
    for method in _METHODS:
        try:
            router.get(request.path, method, host)
        except (sanic_exc.MethodNotAllowed, sanic_exc.NotFound, NoMethod, RouteNotFound):
            continue
        allowed.append(method)
    return allowed


def _log(request: Request, exc: Exception, err: errors.DomainError) -> None:
    where = f"{request.method} {request.path}"
    if isinstance(exc, errors.DomainError):
        # A 503 the code raised itself (WeChat away, not ready): also one line per cause, not per request.
        outage_log.note_cause(f"{err.code}: {err.message}", context=where)
        return
    dependency = outages.dependency_down(exc)
    if dependency is not None:
        outage_log.note(dependency, exc, context=where)
    elif err.status >= 500:
        log.exception("unhandled error on %s", where, exc_info=exc)


async def handle_error(request: Request, exc: Exception) -> HTTPResponse:
    """The one error handler of the app."""
    err = to_domain_error(exc)
    if err.status >= 500:
        _log(request, exc, err)
    headers = {}
    if err.status == 405:
        headers["Allow"] = ", ".join(allowed_methods(request, exc))
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return json(err.to_dict(), status=err.status, headers=headers, ensure_ascii=False)


def register(app: Sanic) -> None:
    app.error_handler.add(Exception, handle_error)
