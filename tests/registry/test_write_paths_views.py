"""Every write path of the registry shows in every view it affects, read before and after the write.

The views: the public profile and the verification answer (cached per organization under its
generation, plus half a second per process), search pages (cached under the search generation) and
statistics (read from the database). Each case reads all four, so that each is cached where it is
cached, writes through one path, and reads them again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.registry import reference
from backend.registry.models import Authority
from tests.conftest import login
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row

REGION = "440305"
NANSHAN = "深圳市南山区民政局"
REASON = {"reason": "依法登记管理"}


@dataclass
class World:
    client: httpx.AsyncClient
    officer: dict[str, str]
    code: str
    url: str  # what the organization's QR code encodes

    async def views(self, url: str | None = None) -> dict[str, Any]:
        client = self.client
        profile = await client.get(f"/api/v1/orgs/{self.code}")
        verdict = await client.get("/api/v1/verify", params={"url": url or self.url})
        search = await client.get("/api/v1/orgs", params={"region": REGION})
        stats = await client.get(f"/api/v1/stats/regions/{REGION}", headers=self.officer)
        assert profile.status_code == verdict.status_code == search.status_code == stats.status_code == 200
        items = {item["credit_code"]: item for item in search.json()["items"]}
        return {
            "profile": profile.json(),
            "verdict": verdict.json()["verdict"],
            "reasons": [r["code"] for r in verdict.json()["reasons"]],
            "search": items,
            "stats": stats.json()["region"],
        }

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(f"/api/v1/orgs/{self.code}{path}", json=body, headers=self.officer)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def import_rows(self, *rows: list[Any]) -> None:
        response = await self.client.post(
            "/api/v1/orgs/import?apply=true", content=csv_bytes([CN_HEADER, *rows]), headers=self.officer
        )
        assert response.status_code == 200 and response.json()["applied"], response.text


@pytest.fixture
async def world(client: httpx.AsyncClient, db: str) -> World:
    await reference.load_authorities()
    officer = await login(client, "views-officer")
    user = await User.get(id=(await client.get("/api/v1/me", headers=officer)).json()["id"])
    await accounts_service.grant_officer(
        user=user, authority=await Authority.get(region_code=REGION), actor=None
    )
    code = make_code(region=REGION, serial=5150)
    created = await client.post(
        "/api/v1/orgs",
        json={
            "credit_code": code,
            "name": "南山区视图测试协会",
            "kind": "association",
            "authority_region_code": REGION,
            **REASON,
        },
        headers=officer,
    )
    assert created.status_code == 201, created.text
    url = (await client.get(f"/api/v1/orgs/{code}/qrcode")).json()["url"]
    return World(client, officer, code, url)


Check = Callable[[dict[str, Any], dict[str, Any], World], None]
Write = Callable[[World], Awaitable[Any]]


async def _patch(w: World) -> None:
    response = await w.client.patch(
        f"/api/v1/orgs/{w.code}", json={"name": "南山区视图测试协会（更名）", **REASON}, headers=w.officer
    )
    assert response.status_code == 200, response.text


def _renamed(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert before["profile"]["name"] == "南山区视图测试协会"
    assert after["profile"]["name"] == "南山区视图测试协会（更名）"
    assert after["search"][w.code]["name"] == "南山区视图测试协会（更名）"
    assert after["verdict"] == "good_standing"


def _revoked(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert (before["profile"]["status"], before["verdict"]) == ("active", "good_standing")
    assert after["profile"]["status"] == "revoked"
    assert (after["verdict"], after["reasons"]) == ("not_in_good_standing", ["org.revoked"])
    assert after["search"][w.code]["status"] == "revoked"
    assert before["stats"]["by_status"] == {"active": 1}
    assert after["stats"]["by_status"] == {"revoked": 1}


def _abnormal(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert before["profile"]["credit"]["state"] == "normal"
    assert after["profile"]["credit"]["state"] == "abnormal"
    assert (after["verdict"], after["reasons"]) == ("warnings", ["credit.abnormal_list"])
    assert after["search"][w.code]["credit_state"] == "abnormal"
    assert after["stats"]["by_credit_state"] == {"abnormal": 1}


async def _list_abnormal(w: World) -> None:
    await w.post("/listings", {"list": "abnormal", "listing_reason": "未按时提交年度报告", **REASON})


async def _remove_listing(w: World) -> None:
    listing = await w.post(
        "/listings", {"list": "abnormal", "listing_reason": "未按时提交年度报告", **REASON}
    )
    assert (await w.views())["profile"]["credit"]["state"] == "abnormal"
    await w.post(f"/listings/{listing['id']}/removal", REASON)


def _listing_removed(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert after["profile"]["credit"]["state"] == "normal"
    assert [item["removed_on"] is not None for item in after["profile"]["credit"]["listings"]] == [True]
    assert after["verdict"] == "good_standing"
    assert after["search"][w.code]["credit_state"] == "normal"
    assert after["stats"]["by_credit_state"] == {"normal": 1}


async def _confirm_proposal(w: World) -> None:
    # A suspension of activities makes the rules propose the serious-violation list.
    await w.post(
        "/penalties",
        {
            "kind": "suspension",
            "decision_number": "深南民罚〔2026〕1号",
            "decided_on": "2026-11-01",
            **REASON,
        },
    )
    proposals = (await w.client.get("/api/v1/credit/proposals", headers=w.officer)).json()["items"]
    (proposal,) = [p for p in proposals if p["list"] == "serious_violation"]
    assert (await w.views())["profile"]["credit"]["state"] == "normal"
    decided = await w.client.post(
        f"/api/v1/credit/proposals/{proposal['id']}/decision",
        json={"confirm": True, **REASON},
        headers=w.officer,
    )
    assert decided.status_code == 200, decided.text


def _serious(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert after["profile"]["credit"]["state"] == "serious"
    assert after["verdict"] == "not_in_good_standing"
    assert "credit.serious_violation_list" in after["reasons"]
    assert after["search"][w.code]["credit_state"] == "serious"
    assert after["stats"]["by_credit_state"] == {"serious": 1}


def _record(path: str, body: dict[str, Any]) -> Write:
    async def write(w: World) -> None:
        await w.post(path, {**body, **REASON})

    return write


def _shows(key: str, expected: Callable[[Any], bool]) -> Check:
    def check(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
        assert not expected(before["profile"][key]), before["profile"][key]
        assert expected(after["profile"][key]), after["profile"][key]

    return check


def _annual_failed(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert before["profile"]["annual_reports"] == []
    assert [r["result"] for r in after["profile"]["annual_reports"]] == ["unqualified"]
    assert after["verdict"] == "warnings" and "annual_report.not_passed" in after["reasons"]


async def _import_update(w: World) -> None:
    await w.import_rows(
        row(code=w.code, name="南山区视图测试协会（导入更新）", authority=NANSHAN, status="撤销登记")
    )


def _import_updated(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert after["profile"]["name"] == "南山区视图测试协会（导入更新）"
    _revoked(before, after, w)


NEW_CODE = make_code(region=REGION, serial=5151)


async def _import_create(w: World) -> None:
    await w.import_rows(row(code=NEW_CODE, name="南山区视图测试新协会", authority=NANSHAN))


async def _register(w: World) -> None:
    response = await w.client.post(
        "/api/v1/orgs",
        json={
            "credit_code": NEW_CODE,
            "name": "南山区视图测试新协会",
            "kind": "association",
            "authority_region_code": REGION,
            **REASON,
        },
        headers=w.officer,
    )
    assert response.status_code == 201, response.text


def _one_more(before: dict[str, Any], after: dict[str, Any], w: World) -> None:
    assert NEW_CODE not in before["search"] and after["search"][NEW_CODE]["name"] == "南山区视图测试新协会"
    assert (before["stats"]["total"], after["stats"]["total"]) == (1, 2)


CASES: dict[str, tuple[Write, Check]] = {
    "patch": (_patch, _renamed),
    "status": (_record("/status", {"status": "revoked"}), _revoked),
    "penalty": (
        _record(
            "/penalties",
            {"kind": "warning", "decision_number": "深南民罚〔2026〕2号", "decided_on": "2026-10-01"},
        ),
        _shows("penalties", lambda items: [p["kind"] for p in items] == ["warning"]),
    ),
    "licence": (
        _record(
            "/licences",
            {"kind": "change", "decision_number": "深南民许〔2026〕3号", "decided_on": "2026-09-01"},
        ),
        _shows("licences", lambda items: [lic["kind"] for lic in items] == ["change"]),
    ),
    "annual_report": (_record("/annual-reports", {"year": 2025, "result": "unqualified"}), _annual_failed),
    "grade": (
        _record("/grades", {"grade": 4, "valid_from": "2025-01-01", "valid_until": "2029-12-31"}),
        _shows("evaluation", lambda grade: grade is not None and grade["grade"] == 4),
    ),
    "qualification": (
        _record("/qualifications", {"kind": "charity", "granted_on": "2025-03-01"}),
        _shows("charity", lambda charity: charity["recognized"]),
    ),
    "listing": (_list_abnormal, _abnormal),
    "listing_removal": (_remove_listing, _listing_removed),
    "proposal_decision": (_confirm_proposal, _serious),
    "import_update": (_import_update, _import_updated),
    "import_create": (_import_create, _one_more),
    "registration": (_register, _one_more),
}


@pytest.mark.parametrize("path", list(CASES))
async def test_a_write_shows_in_every_view_it_affects(world: World, path: str) -> None:
    write, check = CASES[path]
    before = await world.views()
    await write(world)
    after = await world.views()
    check(before, after, world)


async def test_a_reissued_code_replaces_the_old_one_in_the_verdict(world: World) -> None:
    assert (await world.views())["verdict"] == "good_standing"
    new_url = (await world.post("/qrcode/reissue", REASON))["url"]
    old = await world.views()
    assert (old["verdict"], old["reasons"]) == ("not_genuine", ["qr.revoked"])
    assert (await world.views(new_url))["verdict"] == "good_standing"


async def test_a_revoked_code_stops_verifying_at_once(world: World) -> None:
    assert (await world.views())["verdict"] == "good_standing"
    await world.post("/qrcode/revoke", REASON)
    after = await world.views()
    assert (after["verdict"], after["reasons"]) == ("not_genuine", ["qr.revoked"])
