"""Imports: dry run with a row report, all-or-nothing apply, idempotent re-import, authority resolution."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.audit.models import AuditEntry
from backend.registry import importer, imports, reference
from backend.registry.models import Authority, Organization
from tests.factories import factory_cipher, make_authority, make_user
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row

DEMO = Path(__file__).resolve().parents[2] / "backend" / "demo_data" / "organizations.csv"


async def _apply(data: bytes, *, cache, apply=True, actor=None, filename="export.csv"):
    parsed = importer.parse_bytes(data, filename=filename)
    return await imports.apply_import(
        parsed=parsed, actor=actor, apply=apply, cipher=factory_cipher(), cache=cache
    )


async def test_demo_export_imports_and_a_second_import_changes_nothing(db, cache):
    await reference.load_authorities()
    await make_authority("440300", name="深圳市民政局")
    await make_authority("440305", name="深圳市南山区民政局", level="county")
    first = await _apply(DEMO.read_bytes(), cache=cache)
    assert first.applied and not first.errors, first.report()
    assert first.created == 12
    second = await _apply(DEMO.read_bytes(), cache=cache)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 12)
    assert await Organization.all().count() == 12
    # A row without its authority resolves from the code's region part.
    nameless = await Organization.get(name="深圳市南山区星光残障人士服务中心").select_related("authority")
    assert nameless.authority.region_code == "440305"


async def test_dry_run_writes_nothing(db, cache):
    await reference.load_authorities()
    await make_authority("440300", name="深圳市民政局")
    await make_authority("440305", name="深圳市南山区民政局", level="county")
    result = await _apply(DEMO.read_bytes(), cache=cache, apply=False)
    # Every row would apply: only the dry run keeps them out.
    assert not result.errors, result.report()
    assert result.created == 12 and not result.applied
    assert await Organization.all().count() == 0
    assert await AuditEntry.all().count() == 0
    applied = await _apply(DEMO.read_bytes(), cache=cache, apply=True)
    assert applied.applied and await Organization.all().count() == 12


async def test_one_bad_row_means_nothing_is_applied(db, cache):
    await reference.load_authorities()
    good = row(code=make_code(region="440000"), name="广东省好协会", authority="广东省民政厅")
    unknown_authority = row(code=make_code(region="990100"), name="查无此机关协会", authority="火星民政局")
    result = await _apply(csv_bytes([CN_HEADER, good, unknown_authority]), cache=cache)
    assert not result.applied
    assert [(e.row_number, e.code) for e in result.errors] == [(3, "import.authority_unknown")]
    assert await Organization.all().count() == 0


async def test_changed_row_updates_the_record(db, cache):
    await reference.load_authorities()
    code = make_code(region="440000")
    await _apply(
        csv_bytes([CN_HEADER, row(code=code, name="旧名称协会", authority="广东省民政厅")]), cache=cache
    )
    result = await _apply(
        csv_bytes([CN_HEADER, row(code=code, name="新名称协会", authority="广东省民政厅")]), cache=cache
    )
    assert (result.created, result.updated) == (0, 1)
    assert (await Organization.get(credit_code=code)).name == "新名称协会"


async def test_officer_import_is_limited_to_the_jurisdiction(db, cache):
    await reference.load_authorities()
    county = await make_authority("440305", name="深圳市南山区民政局", level="county")
    officer = await make_user()
    from backend.accounts import service as accounts_service

    await accounts_service.grant_officer(user=officer, authority=county, actor=None)
    inside = row(code=make_code(region="440305"), name="南山区协会", authority="深圳市南山区民政局")
    outside = row(code=make_code(region="440000"), name="省级协会", authority="广东省民政厅")
    result = await _apply(csv_bytes([CN_HEADER, inside, outside]), cache=cache, actor=officer)
    assert [e.code for e in result.errors] == ["import.outside_jurisdiction"]
    assert not result.applied


async def test_import_api_reports_rows_and_applies(client, cache):
    await reference.load_authorities()
    from tests.conftest import login

    headers = await login(client, "importer")
    from backend.accounts import service as accounts_service
    from backend.accounts.models import User

    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_officer(
        user=user, authority=await Authority.get(region_code="440000"), actor=None
    )
    data = csv_bytes(
        [CN_HEADER, row(code=make_code(region="440000"), name="广东省测试协会", authority="广东省民政厅")]
    )
    dry = await client.post("/api/v1/orgs/import", content=data, headers=headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False and dry.json()["created"] == 1
    applied = await client.post(
        "/api/v1/orgs/import?apply=true", files={"file": ("x.csv", data)}, headers=headers
    )
    assert applied.json()["applied"] is True
    assert await Organization.filter(name="广东省测试协会").count() == 1
    missing = await client.post("/api/v1/orgs/import", content="名称\n甲\n".encode(), headers=headers)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "import.missing_columns"


def test_cli_dry_run_prints_a_row_report_and_apply_writes(tmp_path: Path):
    from tests.migrated import migrated_sqlite

    db = migrated_sqlite(tmp_path / "cli.sqlite3")
    env = {**os.environ, "DATABASE_URL": f"sqlite://{db}"}
    env.pop("REDIS_URL", None)
    run = [sys.executable, "-m", "backend.cli"]
    rows = [
        CN_HEADER,
        row(code=make_code(region="440000"), name="广东省甲协会", authority="广东省民政厅"),
        row(code="51440000ABC", name="坏代码协会", authority="广东省民政厅"),
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    dry = subprocess.run(
        [*run, "import-orgs", str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert dry.returncode == 1
    assert "row 3: credit_code.length" in dry.stdout
    assert "dry run" in dry.stdout
    path.write_bytes(csv_bytes(rows[:2]))
    applied = subprocess.run(
        [*run, "import-orgs", str(path), "--apply"], env=env, capture_output=True, text=True, timeout=120
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 to create" in applied.stdout and "applied" in applied.stdout


async def test_an_import_over_its_own_limit_is_413(client, settings):
    from tests.conftest import error_code, login

    headers = await login(client, "importer")
    response = await client.post(
        "/api/v1/orgs/import", content=b"x" * (settings.max_upload_bytes + 1), headers=headers
    )
    assert response.status_code == 413, response.text
    assert error_code(response) == "payload_too_large"
    assert response.json()["error"]["details"] == {"limit_bytes": settings.max_upload_bytes}
