"""The H5 pages (profile, project) show the current checkpoint's size and root, and how to verify."""

from __future__ import annotations

from backend.registry import qr
from backend.translog.models import Tree
from tests.translog.conftest import checkpoint_now, donation


async def _root_hex(org_id: int) -> str:
    return bytes((await Tree.get(organization_id=org_id)).root).hex()


async def test_the_project_page_shows_the_current_checkpoint_read_write_read(client, campaign, settings):
    staff, pid, org = campaign["staff"], campaign["id"], campaign["org"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation("P1"), headers=staff)
    await checkpoint_now(settings)
    page = (await client.get(f"/p/{pid}")).text
    assert "防篡改公示日志" in page and "共 2 条" in page and await _root_hex(org.id) in page
    assert f"gongxin-verify log {org.credit_code} --server {settings.public_base_url}" in page
    # A new entry changes the cached page's generation; the new checkpoint shows once it is signed.
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation("P2"), headers=staff)
    await checkpoint_now(settings)
    page = (await client.get(f"/p/{pid}")).text
    assert "共 3 条" in page and await _root_hex(org.id) in page
    # A checkpoint signed with no change to the project (another of the organization's records) shows too.
    from tortoise.transactions import in_transaction

    from backend.translog import log

    async with in_transaction():
        await log.append(org.id, b'{"v":1,"type":"t"}')
    await checkpoint_now(settings)
    page = (await client.get(f"/p/{pid}")).text
    assert "共 4 条" in page and await _root_hex(org.id) in page
    assert "<!--translog" not in page


async def test_the_profile_page_shows_the_checkpoint_and_a_forged_code_shows_none(client, campaign, settings):
    org = campaign["org"]
    await checkpoint_now(settings)
    version = await qr.current_code(organization=org)
    page = (await client.get(f"/o/{version.token}")).text
    assert "防篡改公示日志" in page and "共 1 条" in page and await _root_hex(org.id) in page
    forged = version.token[:-3] + ("AAA" if not version.token.endswith("AAA") else "BBB")
    assert "防篡改公示日志" not in (await client.get(f"/o/{forged}")).text
