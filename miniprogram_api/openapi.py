"""The OpenAPI document: what each route declares, and what ``document_routes`` derives for all of them.

The TypeScript SDK is generated from this document, so it has to say what the server does. A route
declares what only it knows: its JSON body (``json_body``), its query (``query_params``), its success
response and the refusals particular to it (``responds``: 403, 409, 429 ...). When the document is
built (``document_routes``, before sanic-ext builds it), every operation gets, from the router and
from what it declared:

- its operation id: the handler's name in camelCase (``check_in`` -> ``checkIn``); two handlers of
  one name fail the start, since a generated client could not tell them apart;
- each path parameter with its real type, from the router's pattern (sanic-ext would document the
  ``int`` pattern registered in app.py as an object);
- the errors any such route can answer: 404 with a path parameter, 401 when it needs a token, 400,
  413 and 422 with a body, 422 with a query, and 503 (a dependency away) on every route.

Pydantic models become shared components: sanic-ext would inline them and leave their ``$defs``
dangling.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sanic import Request, Sanic
from sanic_ext.extensions.openapi.builders import OperationBuilder, OperationStore, SpecificationBuilder
from sanic_ext.extensions.openapi.definitions import Response
from sanic_ext.extensions.openapi.types import Schema

from backend.errors import BadRequest, Unprocessable

from .schemas import ErrorBody

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its bounds as OpenAPI 3.0 writes them (see ``_openapi30``)."""
    return cast(
        dict[str, Any], _openapi30(model.model_json_schema(ref_template="#/components/schemas/{model}"))
    )


def _openapi30(node: Any) -> Any:
    """Pydantic writes JSON Schema 2020-12, where ``gt``/``lt`` become ``exclusiveMinimum: 0``; the
    document is OpenAPI 3.0, whose ``exclusiveMinimum`` is a flag on ``minimum`` (validators of the
    document, schemathesis among them, refuse the number)."""
    if isinstance(node, list):
        return [_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi30(value) for key, value in node.items()}
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound], out[exclusive] = value, True
    return out


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """Register a model as a component schema and return a $ref to it."""
    schema = model_schema(model)
    spec = SpecificationBuilder()
    for name, sub in schema.pop("$defs", {}).items():
        spec.add_component("schemas", name, sub)
    spec.add_component("schemas", model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": schema_ref(model)}}


ERROR_DESCRIPTIONS = {
    400: "Malformed request (for example invalid JSON)",
    401: "Missing, expired, forged or revoked token",
    403: "The user's role or jurisdiction does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "The request breaks a schema or a rule",
    429: "Too many requests (Retry-After: seconds)",
    503: "A dependency (database, cache, WeChat) is unavailable; retry after Retry-After seconds",
}


def add_error(operation: OperationBuilder, code: int) -> None:
    """Document that the operation may answer ``code`` with the error body (once)."""
    if code not in operation.responses:
        operation.response(code, json_content(ErrorBody), ERROR_DESCRIPTIONS[code])


def responds(status: int, model: type[BaseModel] | None, description: str = "OK", *errors: int) -> Callable:
    """Document a success response (``model`` None: no body) and the refusals particular to a route."""

    def decorate(handler: Handler) -> Handler:
        operation = OperationStore()[handler]
        for code in errors:
            add_error(operation, code)
        if model is None:
            # No body: sanic-ext would document one of type */*.
            cast(dict[Any, Response], operation.responses)[status] = Response(description=description)
        else:
            operation.response(status, json_content(model), description)
        return handler

    return decorate


def refuses(*errors: int) -> Callable[[Handler], Handler]:
    """Document the refusals particular to a route whose success is not JSON (an image, a page)."""

    def decorate(handler: Handler) -> Handler:
        operation = OperationStore()[handler]
        for code in errors:
            add_error(operation, code)
        return handler

    return decorate


def parse_body(request: Request, model: type[M]) -> M:
    """Parse the request's JSON body into ``model``: 400 if it is not JSON, 422 if it breaks the schema.

    Pydantic reads the bytes itself (one pass in Rust, instead of ``json.loads`` and then a walk over
    the Python objects): every JSON route pays for this. The body's size was checked before it was
    read (``miniprogram_api/transport.py``).
    """
    raw = request.body
    if not raw or raw.strip() in (b"", b"null"):
        raise BadRequest("缺少 JSON 请求体 / A JSON body is required", code="request.body_missing")
    try:
        # Strict: JSON already has the types the document names. Lax parsing turned ``true`` into 1
        # (a donation of one fen, a correction of entry 1, an hour of service), ``"100"`` into 100 and
        # a number into a date; strict JSON still reads dates, times and enums from their strings.
        parsed = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors(include_url=False)):
            raise BadRequest(
                "请求体不是有效的 JSON / The body is not valid JSON", code="request.malformed_json"
            ) from exc
        raise Unprocessable(details=validation_details(exc)) from exc
    # JSON can carry U+0000 only escaped; PostgreSQL keeps it in neither text nor jsonb (the write
    # failed with a 500 there). The byte search costs nothing on the bodies that have none.
    if b"u0000" in raw:
        # The standard parser, as pydantic's, takes NaN and Infinity; the body was parsed once already.
        where = _nul_location(json.loads(raw))
        if where is not None:
            raise Unprocessable(
                details=[{"loc": where, "type": "string_nul_character", "msg": "Text may not contain U+0000"}]
            )
    return parsed


def _nul_location(value: Any, loc: tuple[Any, ...] = ()) -> list[Any] | None:
    """Where in a parsed JSON document a string (a value or a key) holds U+0000, or None."""
    if isinstance(value, str):
        return list(loc) if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [*loc, key.replace("\x00", "")]
            found = _nul_location(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_location(item, (*loc, i))
            if found is not None:
                return found
    return None


def parse_query(request: Request, model: type[M]) -> M:
    """Query parameters into a schema (documented with ``query_params``): 422 with the failing fields.

    A blank value (``region=``) is a value, checked like any other: Sanic's ``request.args`` drops
    it, which made an empty region search everything while the document said six digits.
    """
    args = request.get_args(keep_blank_values=True)
    # %00 decodes to U+0000, which PostgreSQL refuses in any text it is compared with (a 500 there).
    for key, values in args.items():
        if any("\x00" in value for value in values):
            raise Unprocessable(
                details=[{"loc": [key], "type": "string_nul_character", "msg": "Text may not contain U+0000"}]
            )
    try:
        return model.model_validate({key: args.get(key) for key in args})
    except ValidationError as exc:
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
    """Parse and validate the JSON body into ``model``; the handler receives it as ``body``.

    The model must refuse unknown properties (``model_config = ConfigDict(extra="forbid")``): a
    misspelt optional field would otherwise be dropped without a word.
    """
    if model.model_config.get("extra") != "forbid":
        raise TypeError(f"{model.__name__} must refuse unknown properties: ConfigDict(extra='forbid')")

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


def query_params(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """Document ``model``'s fields as the route's query parameters, constraints included.

    Only documents: the handler calls ``parse_query(request, model)`` where it wants the query read,
    after the permission check when the route has one.
    """
    schema = model_schema(model)
    for name, sub in schema.pop("$defs", {}).items():
        SpecificationBuilder().add_component("schemas", name, sub)
    required = set(schema.get("required", ()))

    def decorate(handler: Handler) -> Handler:
        operation = OperationStore()[handler]
        for name, field in schema["properties"].items():
            field = _without_null(field)
            description = field.pop("description", None)
            field.pop("title", None)
            operation.parameter(
                name, RawSchema(**field), "query", required=name in required, description=description
            )
        return handler

    return decorate


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """``X | None = None`` as X: a query parameter is absent rather than null."""
    options = field.get("anyOf")
    if options and any(option.get("type") == "null" for option in options):
        rest = [option for option in options if option.get("type") != "null"]
        field = {k: v for k, v in field.items() if k != "anyOf"}
        if field.get("default", 0) is None:
            del field["default"]
        field.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    return dict(field)


# The schema of a path parameter, by the router pattern that matches it (sanic-routing's labels).
PATH_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "format": "int64"},
    "str": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    "strorempty": {"type": "string", "pattern": "^[^/]*$"},
    "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
    "alpha": {"type": "string", "pattern": "^[A-Za-z]+$"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "ymd": {"type": "string", "format": "date"},
}


class RawSchema(Schema):
    """A JSON schema as pydantic wrote it: sanic-ext's ``Schema`` would drop a ``$ref``."""

    def guard(self, fields: dict[str, Any]) -> dict[str, Any]:
        return fields


# A GB/T 2260 region code, as the services parse it (422 for anything else).
REGION_CODE = RawSchema(type="string", pattern="^[0-9]{6}$")


def operation_id(handler_name: str) -> str:
    """``check_in`` -> ``checkIn``: the operation id a generated client calls."""
    first, *rest = handler_name.strip("_").split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def document_routes(app: Sanic) -> None:
    """Complete every route's operation from the router (a before_server_start listener, see above)."""
    taken: dict[str, str] = {}
    for route in app.router.routes:
        # Static files, the docs pages, and the HEAD and OPTIONS routes sanic-ext adds: not in the document.
        undocumented = route.methods <= {"HEAD", "OPTIONS"} or route.path.startswith("docs")
        if undocumented or getattr(route.extra, "static", False):
            continue
        operation = OperationStore()[route.handler]
        name = route.name.rsplit(".", 1)[-1]
        op_id = operation_id(name)
        if taken.setdefault(op_id, route.name) != route.name:
            raise RuntimeError(
                f"two routes would have the operation id {op_id!r}: {taken[op_id]} and {route.name}; "
                "rename one handler (operation ids are derived from handler names)"
            )
        operation.name(op_id)
        for param in route.params.values():
            _document_path_parameter(operation, param.name, param.label, param.cast)
        _document_common_errors(operation, has_path_params=bool(route.params), path=route.path)


def _document_path_parameter(operation: OperationBuilder, name: str, label: str, cast: Any) -> None:
    if any(p.fields["name"] == name and p.fields.get("in") == "path" for p in operation.parameters):
        return
    schema = PATH_PARAMETER_SCHEMAS.get(label)
    if schema is None:
        schema = {"type": "integer"} if cast is int else {"type": "string", "minLength": 1}
    operation.parameter(name, RawSchema(**schema), "path", required=True)


def _document_common_errors(operation: OperationBuilder, *, has_path_params: bool, path: str) -> None:
    codes = []
    if has_path_params:
        codes.append(404)
    if operation.security:
        codes.append(401)
    if getattr(operation, "requestBody", None) is not None:
        codes += [400, 413, 422]
    if any(p.fields.get("in") == "query" for p in operation.parameters):
        codes.append(422)
    if path != "healthz":
        codes.append(503)
    for code in codes:
        add_error(operation, code)


def register(app: Sanic) -> None:
    # Before sanic-ext's own listener builds the document (it runs at priority -1000).
    app.before_server_start(document_routes, priority=0)
