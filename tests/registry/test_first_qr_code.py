"""Version 1 of an organization's QR code comes with the organization; a public GET never writes.

The first code used to be issued by the first GET of ``/qrcode.png``, which left every profile view
cached before it saying "no current code": a genuine code then verified as revoked. Now registering
and importing issue it in their transaction, ``gongxin migrate`` issues it to organizations made
before, and reading a code (JSON, PNG, SVG, mini-program code) only reads.
"""

from __future__ import annotations

from typing import Any

import httpx

from backend.audit.models import AuditEntry
from backend.registry import importer, imports, qr, reference
from backend.registry.models import Authority, Organization, OrgStatus, QrCodeVersion
from tests.conftest import login
from tests.factories import make_org
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row


async def _officer(client: httpx.AsyncClient, region: str = "440305") -> dict[str, str]:
    from backend.accounts import service as accounts_service
    from backend.accounts.models import User

    headers = await login(client, f"qr-officer-{region}")
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_officer(
        user=user, authority=await Authority.get(region_code=region), actor=None
    )
    return headers


async def _verdict(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get("/api/v1/verify", params={"url": url})
    assert response.status_code == 200, response.text
    return response.json()


async def _read_then_scan(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    """What a citizen does: read the profile (it is cached), fetch the QR image, verify its URL."""
    assert (await client.get(f"/api/v1/orgs/{code}")).status_code == 200
    assert (await client.get(f"/api/v1/orgs/{code}/qrcode.png")).status_code == 200
    url = (await client.get(f"/api/v1/orgs/{code}/qrcode")).json()["url"]
    return await _verdict(client, url)


async def test_imported_organizations_verify_as_genuine_after_their_profile_was_read(client, db):
    await reference.load_authorities()
    headers = await _officer(client)
    codes = [make_code(region="440305", serial=700 + i) for i in range(5)]
    rows = [
        row(code=c, name=f"南山区扫码测试协会{i}", authority="深圳市南山区民政局")
        for i, c in enumerate(codes)
    ]
    applied = await client.post(
        "/api/v1/orgs/import?apply=true", content=csv_bytes([CN_HEADER, *rows]), headers=headers
    )
    assert applied.json()["applied"] is True, applied.text
    for code in codes:
        answer = await _read_then_scan(client, code)
        assert answer["verdict"] == "good_standing", (code, answer["reasons"])


async def test_a_registered_organization_verifies_as_genuine_after_its_profile_was_read(client, db):
    await reference.load_authorities()
    headers = await _officer(client)
    code = make_code(region="440305", serial=801)
    created = await client.post(
        "/api/v1/orgs",
        json={
            "credit_code": code,
            "name": "南山区登记扫码协会",
            "kind": "association",
            "authority_region_code": "440305",
            "reason": "成立登记",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert (await _read_then_scan(client, code))["verdict"] == "good_standing"
    entry = await AuditEntry.get(action="organization.create")
    assert entry.after["qr_version"] == 1


async def test_registering_and_importing_issue_version_1_in_their_transaction(db, cache, cipher):
    await reference.load_authorities()
    code = make_code(region="440305", serial=901)
    parsed = importer.parse_bytes(
        csv_bytes([CN_HEADER, row(code=code, name="南山区导入协会", authority="深圳市南山区民政局")]),
        filename="a.csv",
    )
    dry = await imports.apply_import(parsed=parsed, actor=None, apply=False, cipher=cipher, cache=cache)
    assert dry.created == 1 and not await QrCodeVersion.all().exists()
    await imports.apply_import(parsed=parsed, actor=None, apply=True, cipher=cipher, cache=cache)
    org = await Organization.get(credit_code=code)
    (version,) = await QrCodeVersion.filter(organization=org)
    assert (version.version, version.revoked_at) == (1, None)
    assert version.token.startswith(f"{code}.1.")


async def test_a_public_get_of_any_code_form_never_issues_one(client, db):
    # An organization without a code (revoked and made before codes came with registration).
    org = await make_org(qr_code=False, status=OrgStatus.REVOKED)
    audit_before = await AuditEntry.all().count()
    for path in ("qrcode", "qrcode.png", "qrcode.svg", "wxacode.png"):
        response = await client.get(f"/api/v1/orgs/{org.credit_code}/{path}")
        assert response.status_code == 409, (path, response.text)
        assert response.json()["error"]["code"] == "qr.revoked"
    assert not await QrCodeVersion.filter(organization=org).exists()
    assert await AuditEntry.all().count() == audit_before


async def test_migrate_issues_the_missing_first_codes_once_and_invalidates_their_views(
    client, db, cache, cipher
):
    legacy = await make_org(qr_code=False)
    current = await make_org()
    # The profile is read (and cached) while the organization has no code.
    assert (await client.get(f"/api/v1/orgs/{legacy.credit_code}")).status_code == 200
    assert await qr.issue_missing(cipher=cipher, cache=cache) == 1
    assert await qr.issue_missing(cipher=cipher, cache=cache) == 0
    assert await QrCodeVersion.filter(organization=current).count() == 1
    assert (await AuditEntry.get(action="qr.issue")).target_id == str(legacy.id)
    url = (await client.get(f"/api/v1/orgs/{legacy.credit_code}/qrcode")).json()["url"]
    assert (await _verdict(client, url))["verdict"] == "good_standing"
