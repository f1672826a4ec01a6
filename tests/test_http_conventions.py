"""Every error has one shape and the right status; no client input produces a 500."""

from __future__ import annotations

import re

import pytest
import redis.asyncio as aioredis

from backend.cache import Cache
from tests.conftest import error_code, login


async def test_malformed_json_is_400(client):
    response = await client.post(
        "/api/v1/auth/login", content=b'{"code": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_code(response) == "request.malformed_json"


async def test_missing_body_is_400(client):
    response = await client.post("/api/v1/auth/login")
    assert response.status_code == 400
    assert error_code(response) == "request.body_missing"


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 42}, [], "dev-alice", {"code": "x" * 500}])
async def test_schema_violation_is_422_with_the_failing_field(client, body):
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert isinstance(response.json()["error"]["details"], list)


async def test_unknown_route_is_404(client):
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert error_code(response) == "route.not_found"


async def test_wrong_method_is_405_with_allow_header(client):
    response = await client.delete("/api/v1/auth/login")
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert "POST" in response.headers.get("allow", "")


async def test_body_over_the_limit_is_413(client):
    big = b'{"code": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await client.post(
        "/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


async def test_missing_token_is_401(client):
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert error_code(response) == "auth.token_missing"


async def test_wrong_scheme_is_401(client):
    response = await client.get("/api/v1/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401


async def test_non_admin_granting_a_role_is_403(client):
    headers = await login(client, "mallory")
    response = await client.post("/api/v1/admin/roles", json={"kind": "admin", "user_id": 1}, headers=headers)
    assert response.status_code == 403
    assert error_code(response) == "auth.admin_required"


async def test_every_response_carries_a_request_id(client):
    ok = await client.get("/healthz")
    missing = await client.get("/nope")
    assert len(ok.headers["x-request-id"]) == 32
    assert len(missing.headers["x-request-id"]) == 32
    assert ok.headers["x-request-id"] != missing.headers["x-request-id"]


async def test_a_well_formed_incoming_request_id_is_kept(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "lb-1234567890abcdef"})
    assert response.headers["x-request-id"] == "lb-1234567890abcdef"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert hostile.headers["x-request-id"] != "bad id\nwith newline"


async def test_healthz_and_readyz_answer(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_is_503_when_the_cache_is_unreachable(client, app):
    # A Redis client pointed at a port where nothing listens, swapped in for this test only
    # (a second app in one process would reset sanic-ext's shared OpenAPI builder).
    dead = Cache(aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix="dead:")
    container = app.ctx.container
    healthy, container.cache = container.cache, dead
    try:
        response = await client.get("/readyz")
        alive = await client.get("/healthz")
    finally:
        container.cache = healthy
    assert alive.status_code == 200
    assert response.status_code == 503
    assert error_code(response) == "service.not_ready"
    assert response.json()["error"]["details"] == {"failing": ["cache"]}


async def test_openapi_lists_every_api_route_with_schemas(client, app):
    spec = (await client.get("/docs/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for route in app.router.routes:
        path = re.sub(r"<(\w+)(:[^>]+)?>", r"{\1}", "/" + route.path.rstrip("/"))
        if not path.startswith("/api/v1"):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in the OpenAPI document"
    assert "ErrorBody" in spec["components"]["schemas"]
    login_op = spec["paths"]["/api/v1/auth/login"]["post"]
    assert login_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginRequest"
    }
    assert login_op["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


async def test_docs_ui_is_served(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "html" in response.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs/%C3%86%C2%8F~%2B%C2%AB%C3%96%27O",
        "/api/v1/orgs/%C2%A4%C2%9D%C2%A98S/qrcode",
        "/api/v1/orgs/" + "A" * 300 + "/qrcode.png",
        "/api/v1/orgs/%0A%F4%85%87%92/wxacode.png",
    ],
)
async def test_garbage_organization_codes_are_404_not_500(client, path):
    # Found by schemathesis: values longer than the column made the ORM raise.
    response = await client.get(path)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/activities/99999999999999999999999", "/api/v1/activities/9223372036854775808/attendance"],
)
async def test_ids_beyond_64_bits_are_404_not_500(client, path):
    response = await client.get(path, headers=await login(client, "curious"))
    assert response.status_code == 404, response.text


def test_log_lines_outside_a_request_carry_no_request_id():
    from miniprogram_api.observability import current_request_id

    assert current_request_id() == "-"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs?q=%E5%8D%97%00%E5%B1%B1",
        "/api/v1/receipts/ABCD%00EFGH",
        "/api/v1/orgs/%00",
        "/api/v1/verify?url=http%3A%2F%2Ftestserver%2Fo%2Fa%00b",
        "/api/v1/verify?url=http%3A%2F%2Ftestserver%2Fv%2Fvp1.a%00b",
    ],
)
async def test_a_nul_in_a_query_or_a_path_is_not_a_500(client, path):
    # PostgreSQL keeps no U+0000 in text: a value that reaches a query with one fails there.
    response = await client.get(path)
    assert response.status_code < 500, response.text
