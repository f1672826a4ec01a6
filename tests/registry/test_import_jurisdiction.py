"""An import changes only organizations of the importer's jurisdiction, before and after the change.

An officer's import is the same write as a PATCH, row by row: an organization registered outside the
officer's jurisdiction cannot be updated through it (whatever authority the row names), one inside
cannot be moved out of it, and each change is audited with the values before and after.
"""

from __future__ import annotations

import httpx

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.registry import importer, imports, reference
from backend.registry.models import Authority, Organization, OrgStatus
from tests.conftest import error_code, login
from tests.factories import factory_cipher, make_org, make_user
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row

NANSHAN = "深圳市南山区民政局"


async def _apply(data: bytes, *, cache, actor, apply: bool):
    parsed = importer.parse_bytes(data, filename="export.csv")
    return await imports.apply_import(
        parsed=parsed, actor=actor, apply=apply, cipher=factory_cipher(), cache=cache
    )


async def _nanshan_officer() -> User:
    officer = await make_user()
    await accounts_service.grant_officer(
        user=officer, authority=await Authority.get(region_code="440305"), actor=None
    )
    return officer


async def _futian_org() -> Organization:
    """An organization of 福田区 (440304), a neighbour of 南山区 (440305)."""
    return await make_org(await Authority.get(region_code="440304"), name="福田区原有协会")


def _hijack(org: Organization) -> bytes:
    """A row that renames, revokes and moves ``org`` to the officer's own authority."""
    return csv_bytes(
        [CN_HEADER, row(code=org.credit_code, name="被改名的协会", authority=NANSHAN, status="撤销登记")]
    )


async def test_an_officer_dry_run_refuses_a_row_naming_an_organization_of_another_jurisdiction(db, cache):
    await reference.load_authorities()
    org, officer = await _futian_org(), await _nanshan_officer()
    result = await _apply(_hijack(org), cache=cache, actor=officer, apply=False)
    assert [(e.row_number, e.field, e.code) for e in result.errors] == [
        (2, "credit_code", "import.outside_jurisdiction")
    ]
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)


async def test_an_officer_apply_leaves_an_organization_of_another_jurisdiction_unchanged(db, cache):
    await reference.load_authorities()
    org, officer = await _futian_org(), await _nanshan_officer()
    result = await _apply(_hijack(org), cache=cache, actor=officer, apply=True)
    assert not result.applied
    assert [e.code for e in result.errors] == ["import.outside_jurisdiction"]
    after = await Organization.get(id=org.id).select_related("authority")
    assert (after.name, after.status, after.authority.region_code) == (
        "福田区原有协会",
        OrgStatus.ACTIVE,
        "440304",
    )
    assert not await AuditEntry.filter(action="organization.import_update").exists()


async def test_an_officer_import_cannot_move_an_own_organization_out_of_the_jurisdiction(db, cache):
    await reference.load_authorities()
    officer = await _nanshan_officer()
    own = await make_org(await Authority.get(region_code="440305"), name="南山区自有协会")
    data = csv_bytes([CN_HEADER, row(code=own.credit_code, name="南山区自有协会", authority="广东省民政厅")])
    result = await _apply(data, cache=cache, actor=officer, apply=True)
    assert not result.applied
    assert [(e.field, e.code) for e in result.errors] == [("authority", "import.outside_jurisdiction")]
    assert (await Organization.get(id=own.id)).region_code == "440305"


async def test_an_import_update_is_audited_with_the_values_before_and_after(db, cache):
    await reference.load_authorities()
    officer = await _nanshan_officer()
    own = await make_org(await Authority.get(region_code="440305"), name="南山区旧名协会")
    data = csv_bytes([CN_HEADER, row(code=own.credit_code, name="南山区新名协会", authority=NANSHAN)])
    result = await _apply(data, cache=cache, actor=officer, apply=True)
    assert result.applied and result.updated == 1, result.report()
    entry = await AuditEntry.get(action="organization.import_update", target_id=str(own.id))
    assert entry.actor_id == officer.id  # type: ignore[attr-defined]
    assert entry.before["name"] == "南山区旧名协会" and entry.after["name"] == "南山区新名协会"
    assert entry.before["credit_code"] == entry.after["credit_code"] == own.credit_code
    assert entry.before["region_code"] == entry.after["region_code"] == "440305"
    assert entry.after["status"] == "active"


async def test_an_import_creation_is_audited_with_the_whole_record(db, cache):
    await reference.load_authorities()
    officer = await _nanshan_officer()
    fresh = row(code=make_code(region="440305", serial=4242), name="南山区新登记协会", authority=NANSHAN)
    result = await _apply(csv_bytes([CN_HEADER, fresh]), cache=cache, actor=officer, apply=True)
    assert result.applied and result.created == 1, result.report()
    org = await Organization.get(name="南山区新登记协会")
    entry = await AuditEntry.get(action="organization.import_create", target_id=str(org.id))
    assert entry.before is None
    assert entry.after["credit_code"] == org.credit_code and entry.after["region_code"] == "440305"


async def test_the_console_import_may_update_any_organization_and_is_audited_without_an_actor(db, cache):
    # The console's operator runs the deployment (and its database): the whole country is theirs.
    await reference.load_authorities()
    org = await _futian_org()
    result = await _apply(_hijack(org), cache=cache, actor=None, apply=True)
    assert result.applied and result.updated == 1
    entry = await AuditEntry.get(action="organization.import_update", target_id=str(org.id))
    assert entry.actor_id is None  # type: ignore[attr-defined]
    assert (entry.before["name"], entry.before["region_code"]) == ("福田区原有协会", "440304")
    assert (entry.after["name"], entry.after["region_code"]) == ("被改名的协会", "440305")


async def _api_officer(client: httpx.AsyncClient) -> dict[str, str]:
    headers = await login(client, "nanshan-importer")
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_officer(
        user=user, authority=await Authority.get(region_code="440305"), actor=None
    )
    return headers


async def test_through_the_api_an_officer_can_neither_patch_nor_import_over_another_jurisdiction(client, db):
    await reference.load_authorities()
    org = await _futian_org()
    headers = await _api_officer(client)
    patch = await client.patch(
        f"/api/v1/orgs/{org.credit_code}",
        json={"name": "被改名的协会", "reason": "试图改名"},
        headers=headers,
    )
    assert patch.status_code == 403 and error_code(patch) == "auth.outside_jurisdiction"
    for apply in ("false", "true"):
        response = await client.post(
            f"/api/v1/orgs/import?apply={apply}", content=_hijack(org), headers=headers
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["applied"] is False and report["updated"] == 0
        assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "import.outside_jurisdiction")]
    profile = (await client.get(f"/api/v1/orgs/{org.credit_code}")).json()
    assert (profile["name"], profile["status"], profile["authority"]["region_code"]) == (
        "福田区原有协会",
        "active",
        "440304",
    )
