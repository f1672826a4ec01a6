"""The contract a generated client relies on: the OpenAPI document and the conventions every route keeps.

Each test walks every route the app has (routes added later join by themselves), so a route that
breaks a convention fails here with its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.conftest import error_code, login
from tests.factories import make_authority, make_org

METHODS = ("get", "post", "put", "patch", "delete")
# Routes with a JSON body that any signed-in member (or anyone) may call: a malformed body is theirs to
# hear about (400/422). Every other route with a body needs a role, and answers a member 403 first.
MEMBER_BODY_ROUTES = {
    "login",
    "bindPhone",
    "checkIn",
    "requestLeave",
    "requestMakeup",
    # the member's own subscribe-message consents and switches
    "reportSubscriptions",
    "updateSubscription",
    # the member's own sign-up
    "signUp",
    # a volunteer's proof of their own service records
    "requestVolunteerProof",
}


@pytest.fixture
async def spec(client) -> dict[str, Any]:
    return (await client.get("/docs/openapi.json")).json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _concrete(path: str, spec_op: dict[str, Any]) -> str:
    """The path with each parameter filled in with a value of its type."""
    for param in spec_op.get("parameters", []):
        if param["in"] == "path":
            value = "1" if param["schema"].get("type") == "integer" else "X"
            path = path.replace("{" + param["name"] + "}", value)
    return path


async def test_operation_ids_are_the_handlers_names_in_camel_case_and_unique(spec, app):
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids)), sorted(ids)
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", i) for i in ids), ids
    check_in = spec["paths"]["/api/v1/activities/{activity_id}/checkins"]["post"]
    assert check_in["operationId"] == "checkIn"
    assert spec["paths"]["/api/v1/orgs/{code}"]["get"]["operationId"] == "getProfile"


def test_two_handlers_of_one_name_stop_the_start():
    from sanic import Sanic
    from sanic.response import empty

    from miniprogram_api.openapi import document_routes

    app = Sanic("operation_id_clash")

    async def get_thing(request):
        return empty()

    app.add_route(get_thing, "/a", name="first.get_thing")
    app.add_route(get_thing, "/b", name="second.get_thing")
    app.router.finalize()
    with pytest.raises(RuntimeError, match="getThing"):
        document_routes(app)


async def test_every_path_parameter_is_an_integer_or_a_string_never_an_object(spec):
    params = [
        (path, p) for path, _, op in _operations(spec) for p in op.get("parameters", []) if p["in"] == "path"
    ]
    assert params
    for path, param in params:
        assert param["required"] is True
        assert param["schema"]["type"] in ("integer", "string"), (path, param)
    activity = spec["paths"]["/api/v1/activities/{activity_id}"]["get"]["parameters"][0]
    assert activity["schema"] == {"type": "integer", "format": "int64"}


async def test_every_operation_documents_its_success_body_and_the_errors_any_route_can_answer(spec):
    for path, method, op in _operations(spec):
        responses = op["responses"]
        where = f"{method.upper()} {path}"
        success = [code for code in responses if code.startswith("2")]
        assert success, where
        for code in success:
            content = responses[code].get("content")
            assert code == "204" or content, f"{where} {code} has no documented body"
            assert "*/*" not in (content or {}), where
        if path != "/healthz":
            assert "503" in responses, where
        if "{" in path:
            assert "404" in responses, where
        if op.get("security"):
            assert "401" in responses, where
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(responses), where
        for code, response in responses.items():
            if code >= "400":
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }, (where, code)


async def test_exclusive_bounds_are_written_as_openapi_3_0_flags(spec):
    def walk(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            yield from (node[key] for key in ("exclusiveMinimum", "exclusiveMaximum") if key in node)
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    flags = list(walk(spec))
    assert flags and all(flag is True for flag in flags), flags
    target = spec["components"]["schemas"]["ProjectCreate"]["properties"]["target_fen"]
    assert (target["minimum"], target["exclusiveMinimum"]) == (0, True)


async def test_query_constraints_the_server_enforces_are_in_the_document(spec, client):
    params = {p["name"]: p for p in spec["paths"]["/api/v1/orgs"]["get"]["parameters"]}
    assert params["page"]["schema"]["minimum"] == 1 and params["page_size"]["schema"]["minimum"] == 1
    size = spec["paths"]["/api/v1/orgs/{code}/qrcode.png"]["get"]["parameters"]
    size = next(p for p in size if p["name"] == "size")["schema"]
    assert (size["minimum"], size["maximum"]) == (128, 2048)
    url = next(p for p in spec["paths"]["/api/v1/verify"]["get"]["parameters"] if p["name"] == "url")
    assert url["required"] is True and url["schema"]["minLength"] == 1
    assert (await client.get("/api/v1/orgs", params={"page": 0})).status_code == 422
    assert (await client.get("/api/v1/verify", params={"url": ""})).status_code == 422


def _integers_without_a_ceiling(
    spec: dict[str, Any], node: Any, where: str, seen: frozenset[str]
) -> Iterator[str]:
    """The integer properties under ``node`` (refs followed) that the schema lets grow past 64 bits."""
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from _integers_without_a_ceiling(
                spec, spec["components"]["schemas"][name], where, seen | {name}
            )
        return
    if node.get("type") == "integer":
        ceiling = node.get("maximum", 2**63) - (1 if node.get("exclusiveMaximum") is True else 0)
        if ceiling > 2**63 - 1:
            yield where
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            yield from _integers_without_a_ceiling(spec, option, where, seen)
    for name, prop in node.get("properties", {}).items():
        yield from _integers_without_a_ceiling(spec, prop, f"{where}.{name}", seen)
    if "items" in node:
        yield from _integers_without_a_ceiling(spec, node["items"], f"{where}[]", seen)


async def test_every_integer_a_client_sends_is_bounded_to_what_the_database_holds(spec):
    # Found by trying the API by hand: a user_id, branch_id, penalty or capital of 2**63 and more passed
    # the schema and failed in the database with a 500 (SQLite's OverflowError, PostgreSQL's out of range).
    unbounded = []
    for path, method, op in _operations(spec):
        for content in op.get("requestBody", {}).get("content", {}).values():
            unbounded += _integers_without_a_ceiling(
                spec, content["schema"], f"{method} {path} body", frozenset()
            )
        for param in op.get("parameters", []):
            if param["in"] == "query":
                where = f"{method} {path} ?{param['name']}"
                unbounded += _integers_without_a_ceiling(spec, param["schema"], where, frozenset())
    assert unbounded == [], unbounded


async def test_request_bodies_refuse_unknown_properties_in_the_document_and_on_the_wire(spec, client):
    for path, method, op in _operations(spec):
        if "requestBody" not in op or "application/json" not in op["requestBody"]["content"]:
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert spec["components"]["schemas"][ref].get("additionalProperties") is False, (method, path)
    response = await client.post("/api/v1/auth/login", json={"code": "dev-alice", "remember_me": True})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["type"] == "extra_forbidden"


async def test_a_member_hears_403_before_anything_about_a_malformed_body_on_every_role_route(spec, client):
    member = await login(client, "plain-member")
    checked = []
    for path, method, op in _operations(spec):
        if "requestBody" not in op or op["operationId"] in MEMBER_BODY_ROUTES:
            continue
        content_type = next(iter(op["requestBody"]["content"]))
        body = b'{"unexpected": true' if content_type == "application/json" else b""
        response = await client.request(
            method, _concrete(path, op), content=body, headers={**member, "Content-Type": content_type}
        )
        assert response.status_code == 403, (method, path, response.text)
        checked.append(op["operationId"])
    assert {"createOrg", "grantRole", "createActivity", "decideProposal", "importOrgs"} <= set(checked)
    assert {"createPosting", "closePosting", "cancelPosting", "decidePosting", "decideSignup"} <= set(checked)
    proposals = await client.get("/api/v1/credit/proposals", params={"status": "bogus"}, headers=member)
    assert proposals.status_code == 403
    assert error_code(proposals) == "auth.officer_required"


def _breaking(schema: dict[str, Any]) -> str:
    """A query value the parameter's schema refuses."""
    if schema.get("type") in ("integer", "boolean") or "$ref" in schema or "enum" in schema:
        return "not-a-value"
    if "maxLength" in schema:
        return "x" * (schema["maxLength"] + 1)
    assert "pattern" in schema, schema
    return "!"


async def test_a_member_hears_403_before_anything_about_a_malformed_query_on_every_role_route(spec, client):
    """As with bodies: a query that breaks the schema is the business of someone allowed to ask."""
    member = await login(client, "plain-member")
    checked = []
    for path, method, op in _operations(spec):
        query = {p["name"]: _breaking(p["schema"]) for p in op.get("parameters", []) if p["in"] == "query"}
        if not op.get("security") or not query:
            continue
        response = await client.request(method, _concrete(path, op), params=query, headers=member)
        checked.append((op["operationId"], response.status_code))
    # 404: the route looks its object up before asking whose it is (no such activity or branch here).
    assert all(status in (403, 404) for _, status in checked), checked
    coarse = {"listDeadNotifications", "getProjectFiling", "getOrganizationFiling", "importDonations"}
    assert {(name, 403) for name in coarse} <= set(checked), checked


async def test_an_organizer_of_another_organization_hears_403_before_the_bodys_branch_is_looked_up(client):
    from backend.accounts import service as accounts_service
    from backend.accounts.models import StaffRoleKind, User

    authority = await make_authority("440300", name="深圳市民政局")
    theirs, other = await make_org(authority), await make_org(authority)
    staff = await login(client, "other-organizer")
    me = (await client.get("/api/v1/me", headers=staff)).json()
    await accounts_service.grant_staff(
        user=await User.get(id=me["id"]), organization=other, role=StaffRoleKind.OWNER, actor=None
    )
    response = await client.post(
        f"/api/v1/orgs/{theirs.credit_code}/activities",
        json={
            "kind": "theme_day",
            "title": "主题党日",
            "branch_id": 999,
            "starts_at": "2030-01-01T10:00:00+08:00",
            "ends_at": "2030-01-01T12:00:00+08:00",
            "place": "深圳市民中心",
            "latitude": 22.5,
            "longitude": 114.0,
        },
        headers=staff,
    )
    assert response.status_code == 403, response.text


async def test_every_route_answers_a_method_it_lacks_with_405_and_allow(spec, client):
    for path, ops in spec["paths"].items():
        documented = {m.upper() for m in ops}
        missing = next(m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in documented)
        some_op = next(iter(ops.values()))
        response = await client.request(missing, _concrete(path, some_op))
        assert response.status_code == 405, (missing, path, response.text)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert documented <= allowed <= documented | {"HEAD", "OPTIONS"}, (path, allowed)
        assert error_code(response) == "method_not_allowed"


async def test_personal_data_is_never_stored_by_a_cache(client):
    login_response = await client.post("/api/v1/auth/login", json={"code": "dev-private"})
    headers = {"Authorization": f"Bearer {login_response.json()['token']}"}
    answers = [
        login_response,
        await client.get("/api/v1/me", headers=headers),
        await client.get("/api/v1/me/checkins", headers=headers),
        await client.get("/api/v1/me/signups", headers=headers),
        await client.delete("/api/v1/me/phone", headers=headers),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store", response.request.url
    public = await client.get("/healthz")
    assert "cache-control" not in public.headers


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


async def test_the_docs_page_loads_only_its_own_files(client):
    page = await client.get("/docs")
    assert page.status_code == 200 and "html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    parser = _Assets()
    parser.feed(page.text)
    assert len(parser.urls) >= 4
    for url in parser.urls:
        assert url.startswith("/docs/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
    initializer = (await client.get("/docs/swagger-initializer.js")).text
    assert '"/docs/openapi.json"' in initializer and "http" not in initializer
    assert (await client.get("/docs/swagger-ui/index.html")).status_code == 404


async def test_an_officer_outside_the_jurisdiction_hears_403_before_the_business_rules(client):
    from tests.registry.test_registry_api import code_for, officer, register

    await make_authority("440305", name="深圳市南山区民政局", level="county")
    await make_authority("440106", name="广州市天河区民政局", level="county")
    nanshan = await officer(client, "rules-nanshan", "440305")
    tianhe = await officer(client, "rules-tianhe", "440106")
    code = (await register(client, nanshan)).json()["credit_code"]
    backwards = {
        "grade": 4,
        "valid_from": "2028-01-01",
        "valid_until": "2024-12-31",
        "reason": "依据评估结果",
    }
    grade = await client.post(f"/api/v1/orgs/{code}/grades", json=backwards, headers=tianhe)
    assert (grade.status_code, error_code(grade)) == (403, "auth.outside_jurisdiction")
    # A credit code with a wrong check character, in a region the officer does not cover.
    good = code_for("440305", "1", "MA0000002")
    bad_code = good[:-1] + ("1" if good.endswith("0") else "0")
    created = await register(client, tianhe, region="440305", code=bad_code)
    assert (created.status_code, error_code(created)) == (403, "auth.outside_jurisdiction")
    # The officer of the jurisdiction hears about the rule itself.
    own = await client.post(f"/api/v1/orgs/{code}/grades", json=backwards, headers=nanshan)
    assert (own.status_code, error_code(own)) == (422, "validation.date_range")
