"""OpenAPI helpers: pydantic schemas as shared components, and a JSON-body decorator.

sanic-ext documents pydantic models inline and leaves their ``$defs`` dangling; registering each
model (and its nested models) as a component keeps the published spec valid and readable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import OperationStore, SpecificationBuilder

from backend.errors import BadRequest, Unprocessable

from .schemas import ErrorBody

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """Register a model as a component schema and return a $ref to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    spec = SpecificationBuilder()
    for name, sub in schema.pop("$defs", {}).items():
        spec.add_component("schemas", name, sub)
    spec.add_component("schemas", model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": schema_ref(model)}}


_ERROR_DESCRIPTIONS = {
    400: "Malformed request (for example invalid JSON)",
    401: "Missing, expired, forged or revoked token",
    403: "The user's role or jurisdiction does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "The request breaks a schema or a rule",
    429: "Too many requests",
    503: "A dependency is unavailable; retry later",
}


def responds(status: int, model: type[BaseModel] | None, description: str = "OK", *errors: int) -> Callable:
    """Document a success response and the error statuses a route can return."""

    def decorate(handler: Handler) -> Handler:
        for code in errors:
            handler = openapi.response(code, json_content(ErrorBody), _ERROR_DESCRIPTIONS[code])(handler)
        content = json_content(model) if model is not None else None
        return openapi.response(status, content, description)(handler)

    return decorate


def parse_body(request: Request, model: type[M]) -> M:
    """Parse the request's JSON body into ``model``: 400 if it is not JSON, 422 if it breaks the schema.

    Pydantic reads the bytes itself (one pass in Rust, instead of ``json.loads`` and then a walk over
    the Python objects): every JSON route pays for this.
    """
    raw = request.body
    if not raw or raw.strip() in (b"", b"null"):
        raise BadRequest("缺少 JSON 请求体 / A JSON body is required", code="request.body_missing")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors(include_url=False)):
            raise BadRequest(
                "请求体不是有效的 JSON / The body is not valid JSON", code="request.malformed_json"
            ) from exc
        raise Unprocessable(details=validation_details(exc)) from exc


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without echoing the client's input back."""
    return [
        {"loc": list(err["loc"]), "type": err["type"], "msg": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def carry_docs(wrapped: Handler, wrapper: Handler) -> Handler:
    """Move the OpenAPI operation documented on ``wrapped`` to its ``wrapper``.

    sanic-ext keys operations by function object, so a decorator that returns a new function would
    otherwise lose every ``openapi.*`` annotation applied below it.
    """
    store = OperationStore()
    if wrapped in store:
        store[wrapper] = store.pop(wrapped)
    return wrapper


def json_body(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """Parse and validate the JSON body into ``model``; the handler receives it as ``body``."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            return await handler(request, *args, body=parse_body(request, model), **kwargs)

        # Documented directly on the operation: ``openapi.body`` would wrap the handler once more,
        # a layer every request pays for without using it.
        documented = carry_docs(handler, wrapper)
        OperationStore()[documented].body(json_content(model), required=True)
        return documented

    return decorate
