"""A project's public view and page show its organization's name: a rename shows there at once."""

from __future__ import annotations

from typing import Any

import httpx

from backend.accounts import service as accounts_service
from backend.registry import reference
from backend.registry.models import Authority
from tests.charity.conftest import user_of
from tests.conftest import login
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, row


async def _officer(client: httpx.AsyncClient) -> dict[str, str]:
    headers = await login(client, "rename-officer")
    await accounts_service.grant_officer(
        user=await user_of(client, headers), authority=await Authority.get(region_code="440300"), actor=None
    )
    return headers


async def _names(client: httpx.AsyncClient, project_id: int) -> tuple[str, str]:
    view = (await client.get(f"/api/v1/projects/{project_id}")).json()
    page = (await client.get(f"/p/{project_id}")).text
    return view["organization"]["name"], page


async def test_a_patch_rename_shows_in_the_project_view_and_page(client, campaign: dict[str, Any]):
    org, pid = campaign["org"], campaign["id"]
    name, page = await _names(client, pid)
    assert name == org.name and org.name in page
    officer = await _officer(client)
    renamed = await client.patch(
        f"/api/v1/orgs/{org.credit_code}",
        json={"name": "深圳市更名后的基金会", "reason": "名称变更登记"},
        headers=officer,
    )
    assert renamed.status_code == 200, renamed.text
    name, page = await _names(client, pid)
    assert name == "深圳市更名后的基金会" and "深圳市更名后的基金会" in page


async def test_an_import_rename_shows_in_the_project_view(client, campaign: dict[str, Any]):
    await reference.load_authorities()
    org, pid = campaign["org"], campaign["id"]
    assert (await _names(client, pid))[0] == org.name
    officer = await _officer(client)
    data = csv_bytes(
        [
            CN_HEADER,
            row(code=org.credit_code, name="深圳市导入更名基金会", kind="基金会", authority="深圳市民政局"),
        ]
    )
    applied = await client.post("/api/v1/orgs/import?apply=true", content=data, headers=officer)
    assert applied.status_code == 200 and applied.json()["applied"], applied.text
    assert (await _names(client, pid))[0] == "深圳市导入更名基金会"
