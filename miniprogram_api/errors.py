"""One error shape for every 4xx and 5xx: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sanic import Request, Sanic
from sanic import exceptions as sanic_exc
from sanic.response import HTTPResponse, json
from tortoise.exceptions import ValidationError as OrmValidationError

from backend import errors

from .openapi import validation_details

log = logging.getLogger("gongxin.errors")

# Sanic's own exceptions (routing, body size, parsing) mapped into the domain tree.
_SANIC_TO_DOMAIN: list[tuple[type[Exception], type[errors.DomainError]]] = [
    (sanic_exc.NotFound, errors.NotFound),
    (sanic_exc.MethodNotAllowed, errors.MethodNotAllowed),
    (sanic_exc.PayloadTooLarge, errors.PayloadTooLarge),
    (sanic_exc.BadRequest, errors.BadRequest),
    (sanic_exc.Unauthorized, errors.Unauthorized),
    (sanic_exc.Forbidden, errors.Forbidden),
    (sanic_exc.RequestTimeout, errors.DomainError),
    (sanic_exc.ServiceUnavailable, errors.ServiceUnavailable),
]


def to_domain_error(exc: Exception) -> errors.DomainError:
    """Translate any exception into the public error tree, hiding internals."""
    if isinstance(exc, errors.DomainError):
        return exc
    if isinstance(exc, ValidationError):
        return errors.Unprocessable(details=validation_details(exc))
    if isinstance(exc, OrmValidationError):
        # A value the database column cannot hold (too long...) that a schema did not stop first.
        return errors.Unprocessable("字段取值超出允许范围 / A value is out of range", code="validation.value")
    for sanic_type, domain_type in _SANIC_TO_DOMAIN:
        if isinstance(exc, sanic_type):
            if domain_type is errors.NotFound:
                return errors.NotFound("接口不存在 / No such endpoint", code="route.not_found")
            if domain_type is errors.DomainError:
                break
            return domain_type()
    if isinstance(exc, sanic_exc.SanicException) and 400 <= exc.status_code < 500:
        err = errors.DomainError(str(exc) or None, code=f"http.{exc.status_code}")
        err.status = exc.status_code  # an instance override: this one error keeps Sanic's status
        return err
    return errors.DomainError()


async def handle_error(request: Request, exc: Exception) -> HTTPResponse:
    """The one error handler of the app."""
    err = to_domain_error(exc)
    if err.status >= 500 and not isinstance(exc, errors.DomainError):
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    elif err.status >= 500:
        log.warning("%s on %s %s: %s", err.code, request.method, request.path, err.message)
    headers = {}
    allowed = getattr(exc, "allowed_methods", None) if isinstance(exc, sanic_exc.MethodNotAllowed) else None
    if allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return json(err.to_dict(), status=err.status, headers=headers, ensure_ascii=False)


def register(app: Sanic) -> None:
    app.error_handler.add(Exception, handle_error)
