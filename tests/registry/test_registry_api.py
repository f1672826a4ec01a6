"""Officer writes within a jurisdiction, public profiles, verification verdicts, search and statistics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from stdnum.cn import uscc

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.registry import reference
from backend.registry.models import Organization
from tests.conftest import error_code, login
from tests.factories import make_authority

REASON = {"reason": "依据登记档案录入"}


def code_for(region: str = "440305", kind: str = "1", serial: str = "MA0000001") -> str:
    base = f"5{kind}{region}{serial}"
    return base + uscc.calc_check_digit(base)


async def officer(client: httpx.AsyncClient, name: str, region: str) -> dict[str, str]:
    """Log in as ``name`` and make them an officer of the authority of ``region``."""
    from backend.accounts import service as accounts_service
    from backend.registry.models import Authority

    headers = await login(client, name)
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    authority = await Authority.get(region_code=region)
    await accounts_service.grant_officer(user=user, authority=authority, actor=None)
    return headers


@pytest.fixture
async def setup(client: httpx.AsyncClient) -> dict[str, Any]:
    await reference.load_authorities()
    await make_authority("440300", name="深圳市民政局")
    await make_authority("440305", name="深圳市南山区民政局", level="county")
    await make_authority("440106", name="广州市天河区民政局", level="county")
    nanshan = await officer(client, "nanshan", "440305")
    shenzhen = await officer(client, "shenzhen", "440300")
    tianhe = await officer(client, "tianhe", "440106")
    return {"nanshan": nanshan, "shenzhen": shenzhen, "tianhe": tianhe}


async def platform_admin(client: httpx.AsyncClient, name: str, cache) -> dict[str, str]:
    from backend.accounts import service as accounts_service

    headers = await login(client, name)
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_admin(user=user, actor=None, cache=cache)
    return headers


async def register(
    client, headers, *, region="440305", kind="association", code=None, **extra
) -> httpx.Response:
    body = {
        "credit_code": code
        or code_for(region, {"association": "1", "social_service": "2", "foundation": "3"}[kind]),
        "name": "深圳市南山区测试志愿者协会",
        "kind": kind,
        "authority_region_code": region,
        "legal_representative": "张三",
        "registered_capital_fen": 300_000_000,
        **REASON,
        **extra,
    }
    return await client.post("/api/v1/orgs", json=body, headers=headers)


async def scan_url(client, code: str) -> str:
    return (await client.get(f"/api/v1/orgs/{code}/qrcode")).json()["url"]


async def verdict(client, url: str) -> dict[str, Any]:
    response = await client.get("/api/v1/verify", params={"url": url})
    assert response.status_code == 200, response.text
    return response.json()


async def test_officer_registers_within_jurisdiction_and_profile_is_public(client, setup):
    response = await register(client, setup["nanshan"], code=" 51 4403 05MA0000001" + code_for()[-1].lower())
    assert response.status_code == 201, response.text
    code = response.json()["credit_code"]
    profile = (await client.get(f"/api/v1/orgs/{code}")).json()
    assert profile["name"] == "深圳市南山区测试志愿者协会"
    assert profile["authority"] == {"name": "深圳市南山区民政局", "region_code": "440305"}
    assert profile["registered_capital_fen"] == 300_000_000
    assert profile["credit"]["state"] == "normal"
    entry = await AuditEntry.get(action="organization.create")
    assert entry.reason == REASON["reason"] and entry.after["credit_code"] == code


async def test_city_officer_covers_the_county_below(client, setup):
    assert (await register(client, setup["shenzhen"])).status_code == 201


async def test_officer_outside_jurisdiction_is_403(client, setup):
    response = await register(client, setup["tianhe"])
    assert response.status_code == 403
    assert error_code(response) == "auth.outside_jurisdiction"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "", {"address": "别处", **REASON}),
        ("post", "/status", {"status": "revoked", **REASON}),
        (
            "post",
            "/licences",
            {"kind": "change", "decision_number": "X1", "decided_on": "2025-01-01", **REASON},
        ),
        (
            "post",
            "/penalties",
            {"kind": "warning", "decision_number": "X2", "decided_on": "2025-01-01", **REASON},
        ),
        ("post", "/annual-reports", {"year": 2024, "result": "qualified", **REASON}),
        ("post", "/grades", {"grade": 4, "valid_from": "2024-01-01", "valid_until": "2028-12-31", **REASON}),
        ("post", "/qualifications", {"kind": "charity", "granted_on": "2024-01-01", **REASON}),
        ("post", "/listings", {"list": "abnormal", "listing_reason": "地址无法联系", **REASON}),
        ("post", "/listings/1/removal", REASON),
        ("post", "/qrcode/reissue", REASON),
        ("post", "/qrcode/revoke", REASON),
        ("get", "/audit", None),
    ],
)
async def test_every_write_route_is_403_outside_jurisdiction(client, setup, method, path, body):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    kwargs = {"headers": setup["tianhe"]} | ({"json": body} if body is not None else {})
    response = await getattr(client, method)(f"/api/v1/orgs/{code}{path}", **kwargs)
    assert response.status_code == 403, response.text
    anonymous = await getattr(client, method)(
        f"/api/v1/orgs/{code}{path}", **({"json": body} if body else {})
    )
    assert anonymous.status_code == 401


async def test_plain_member_cannot_register_or_import(client, setup):
    member = await login(client, "member")
    assert (await register(client, member)).status_code == 403
    imported = await client.post("/api/v1/orgs/import", content=b"x", headers=member)
    assert imported.status_code == 403


@pytest.mark.parametrize(
    ("credit_code", "kind", "expected"),
    [
        ("51440305MA000000", "association", "credit_code.length"),
        ("51440305MA00000O1X", "association", "credit_code.character"),
        (code_for(kind="3"), "association", "credit_code.kind_mismatch"),
        (code_for()[:-1] + ("0" if code_for()[-1] != "0" else "1"), "association", "credit_code.check_digit"),
    ],
)
async def test_bad_credit_codes_are_422_with_what_is_wrong(client, setup, credit_code, kind, expected):
    response = await register(client, setup["nanshan"], code=credit_code, kind=kind)
    assert response.status_code == 422
    assert error_code(response) == expected
    assert response.json()["error"]["message"]


async def test_pilot_code_failing_the_check_needs_flag_and_reason_and_shows(client, setup):
    bad = code_for()[:-1] + ("0" if code_for()[-1] != "0" else "1")
    no_reason = await register(client, setup["nanshan"], code=bad, allow_bad_check_digit=True)
    assert no_reason.status_code == 422
    ok = await register(
        client,
        setup["nanshan"],
        code=bad,
        allow_bad_check_digit=True,
        check_digit_reason="1998年试点赋码，经核实",
    )
    assert ok.status_code == 201, ok.text
    url = await scan_url(client, bad)
    result = await verdict(client, url)
    assert result["verdict"] == "warnings", result
    assert [r["code"] for r in result["reasons"]] == ["credit_code.pilot_exception"]
    assert result["organization"]["check_digit_exception"] is True


async def test_duplicate_registration_is_409(client, setup):
    await register(client, setup["nanshan"])
    again = await register(client, setup["nanshan"])
    assert again.status_code == 409
    assert error_code(again) == "organization.exists"


async def test_fresh_code_verifies_good_standing(client, setup):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    result = await verdict(client, await scan_url(client, code))
    assert result["verdict"] == "good_standing"
    assert result["reasons"] == []
    assert result["organization"]["credit_code"] == code
    assert result["checked_at"].endswith("+08:00")


async def test_forged_altered_foreign_and_garbage_urls_are_not_genuine(client, setup, settings):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    url = await scan_url(client, code)
    token = url.rsplit("/", 1)[1]
    parts = token.split(".")
    other = code_for(serial="MA0000002")
    cases = {
        "altered version": url.replace(f"/{parts[0]}.{parts[1]}.", f"/{parts[0]}.{int(parts[1]) + 1}."),
        "swapped organization": url.replace(parts[0], other),
        "forged signature": url[:-5] + ("AAAAA" if not url.endswith("AAAAA") else "BBBBB"),
        "foreign host": url.replace(settings.public_base_url, "https://gongxin.example.cn.evil.com"),
        "garbage": "不是网址",
        "not ours at all": "https://example.com/",
    }
    for name, scanned in cases.items():
        result = await verdict(client, scanned)
        assert result["verdict"] == "not_genuine", name
        assert result["organization"] is None, name
        assert result["reasons"], name


async def test_reissue_revokes_the_previous_code_at_once(client, setup):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    old = await scan_url(client, code)
    assert (await verdict(client, old))["verdict"] == "good_standing"
    reissued = await client.post(f"/api/v1/orgs/{code}/qrcode/reissue", json=REASON, headers=setup["nanshan"])
    assert reissued.status_code == 200
    new = reissued.json()["url"]
    assert new != old
    stale = await verdict(client, old)
    assert stale["verdict"] == "not_genuine"
    assert stale["reasons"][0]["code"] == "qr.revoked"
    assert (await verdict(client, new))["verdict"] == "good_standing"


async def test_revoked_code_is_not_genuine_and_images_say_409(client, setup):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    url = await scan_url(client, code)
    await client.post(f"/api/v1/orgs/{code}/qrcode/revoke", json=REASON, headers=setup["nanshan"])
    assert (await verdict(client, url))["verdict"] == "not_genuine"
    assert (await client.get(f"/api/v1/orgs/{code}/qrcode.png")).status_code == 409


async def test_listings_and_status_change_the_verdict_immediately(client, setup):
    headers = setup["nanshan"]
    code = (await register(client, headers)).json()["credit_code"]
    url = await scan_url(client, code)
    assert (await verdict(client, url))["verdict"] == "good_standing"

    listed = await client.post(
        f"/api/v1/orgs/{code}/listings",
        json={"list": "abnormal", "listing_reason": "通过登记的住所无法联系", **REASON},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    warned = await verdict(client, url)
    assert warned["verdict"] == "warnings"
    assert warned["reasons"][0]["code"] == "credit.abnormal_list"

    await client.post(
        f"/api/v1/orgs/{code}/listings/{listed.json()['id']}/removal", json=REASON, headers=headers
    )
    assert (await verdict(client, url))["verdict"] == "good_standing"
    history = (await client.get(f"/api/v1/orgs/{code}")).json()["credit"]["listings"]
    assert len(history) == 1 and history[0]["removed_on"] is not None

    await client.post(f"/api/v1/orgs/{code}/status", json={"status": "revoked", **REASON}, headers=headers)
    revoked = await verdict(client, url)
    assert revoked["verdict"] == "not_in_good_standing"
    assert "org.revoked" in [r["code"] for r in revoked["reasons"]]


async def test_a_warning_penalty_proposes_a_listing_that_an_officer_confirms(client, setup):
    headers = setup["nanshan"]
    code = (await register(client, headers)).json()["credit_code"]
    penalty = {
        "kind": "warning",
        "decision_number": "深南民罚〔2026〕1号",
        "decided_on": "2026-11-01",
        **REASON,
    }
    assert (
        await client.post(f"/api/v1/orgs/{code}/penalties", json=penalty, headers=headers)
    ).status_code == 200
    proposals = (await client.get("/api/v1/credit/proposals", headers=headers)).json()["items"]
    assert [(p["rule"], p["list"], p["action"]) for p in proposals] == [
        ("abnormal.warning_penalty", "abnormal", "list")
    ]
    # Not listed until an officer confirms; officers elsewhere do not even see it.
    assert (await client.get(f"/api/v1/orgs/{code}")).json()["credit"]["state"] == "normal"
    assert (await client.get("/api/v1/credit/proposals", headers=setup["tianhe"])).json()["items"] == []
    outsider = await client.post(
        f"/api/v1/credit/proposals/{proposals[0]['id']}/decision",
        json={"confirm": True, **REASON},
        headers=setup["tianhe"],
    )
    assert outsider.status_code == 403
    decided = await client.post(
        f"/api/v1/credit/proposals/{proposals[0]['id']}/decision",
        json={"confirm": True, **REASON},
        headers=headers,
    )
    assert decided.status_code == 200 and decided.json()["status"] == "confirmed"
    again = await client.post(
        f"/api/v1/credit/proposals/{proposals[0]['id']}/decision",
        json={"confirm": False, **REASON},
        headers=headers,
    )
    assert again.status_code == 409
    profile = (await client.get(f"/api/v1/orgs/{code}")).json()
    assert profile["credit"]["state"] == "abnormal"
    assert profile["penalties"][0]["decision_number"] == "深南民罚〔2026〕1号"


async def test_large_fine_proposes_the_serious_violation_list(client, setup):
    headers = setup["nanshan"]
    code = (await register(client, headers)).json()["credit_code"]
    fine = {
        "kind": "fine",
        "decision_number": "F1",
        "decided_on": "2026-10-01",
        "amount_fen": 5_000_000,
        **REASON,
    }
    await client.post(f"/api/v1/orgs/{code}/penalties", json=fine, headers=headers)
    rules = [
        p["rule"] for p in (await client.get("/api/v1/credit/proposals", headers=headers)).json()["items"]
    ]
    assert "serious.large_fine" in rules
    small = code_for(serial="MA0000009")
    await register(client, headers, code=small)
    await client.post(
        f"/api/v1/orgs/{small}/penalties",
        json={**fine, "decision_number": "F2", "amount_fen": 4_999_999},
        headers=headers,
    )
    items = (await client.get("/api/v1/credit/proposals", headers=headers)).json()["items"]
    assert [p["rule"] for p in items if p["credit_code"] == small] == []


async def test_expired_fundraising_qualification_is_a_warning(client, setup):
    headers = setup["nanshan"]
    code = (await register(client, headers, kind="foundation")).json()["credit_code"]
    qualification = {
        "kind": "public_fundraising",
        "granted_on": "2020-01-01",
        "valid_until": "2022-12-31",
        **REASON,
    }
    await client.post(f"/api/v1/orgs/{code}/qualifications", json=qualification, headers=headers)
    result = await verdict(client, await scan_url(client, code))
    assert result["verdict"] == "warnings"
    assert result["organization"]["public_fundraising"]["expired"] is True


async def test_every_officer_write_is_audited_with_before_after_and_reason(client, setup):
    headers = setup["nanshan"]
    code = (await register(client, headers)).json()["credit_code"]
    await client.patch(
        f"/api/v1/orgs/{code}",
        json={"address": "深圳市南山区新地址1号", "reason": "住所变更"},
        headers=headers,
    )
    trail = (await client.get(f"/api/v1/orgs/{code}/audit", headers=headers)).json()["items"]
    update = next(e for e in trail if e["action"] == "organization.update")
    assert update["before"]["address"] is None
    assert update["after"]["address"] == "深圳市南山区新地址1号"
    assert update["reason"] == "住所变更"
    assert update["actor_id"] is not None


async def test_search_by_name_kind_region_status_and_credit_state(client, setup):
    headers = setup["nanshan"]
    for serial, name, kind in [
        ("MA0000011", "南山区阳光志愿者协会", "association"),
        ("MA0000012", "南山区阳光养老服务中心", "social_service"),
        ("MA0000013", "深圳市爱心基金会", "foundation"),
    ]:
        digit = {"association": "1", "social_service": "2", "foundation": "3"}[kind]
        assert (
            await register(client, headers, code=code_for(kind=digit, serial=serial), name=name, kind=kind)
        ).status_code == 201
    await register(
        client,
        setup["tianhe"],
        region="440106",
        code=code_for("440106", serial="MA0000014"),
        name="天河区阳光协会",
    )

    async def names(**params) -> list[str]:
        response = await client.get("/api/v1/orgs", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names(q="阳光") == ["南山区阳光养老服务中心", "南山区阳光志愿者协会", "天河区阳光协会"]
    assert await names(q="南山区") == ["南山区阳光养老服务中心", "南山区阳光志愿者协会"]
    assert await names(q="阳光", region="440300") == ["南山区阳光养老服务中心", "南山区阳光志愿者协会"]
    assert await names(q="阳光", region="440000") == [
        "南山区阳光养老服务中心",
        "南山区阳光志愿者协会",
        "天河区阳光协会",
    ]
    assert await names(kind="foundation") == ["深圳市爱心基金会"]
    assert await names(credit_state="abnormal") == []
    page = (await client.get("/api/v1/orgs", params={"page_size": 2, "page": 2})).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    assert (await client.get("/api/v1/orgs", params={"page_size": 1000})).status_code == 422
    assert (await client.get("/api/v1/orgs", params={"kind": "bank"})).status_code == 422


async def test_statistics_roll_up_the_region_tree(client, setup, cache):
    headers = setup["nanshan"]
    await register(client, headers, code=code_for(serial="MA0000021"))
    await register(client, headers, code=code_for(kind="2", serial="MA0000022"), kind="social_service")
    await register(client, setup["tianhe"], region="440106", code=code_for("440106", serial="MA0000023"))
    await register(client, setup["shenzhen"], region="440300", code=code_for("440300", serial="MA0000024"))

    city = (await client.get("/api/v1/stats/regions/440300", headers=setup["shenzhen"])).json()
    assert city["region"]["total"] == 3
    children = {c["region_code"]: c["total"] for c in city["children"]}
    assert children == {"440305": 2}
    assert city["region"]["by_kind"] == {"association": 2, "social_service": 1}

    admin_headers = await platform_admin(client, "root-admin", cache)
    national = (await client.get("/api/v1/stats/regions/100000", headers=admin_headers)).json()
    assert national["region"]["total"] == 4
    assert {c["region_code"]: c["total"] for c in national["children"]} == {"440000": 4}
    province = (await client.get("/api/v1/stats/regions/440000", headers=admin_headers)).json()
    assert {c["region_code"]: c["total"] for c in province["children"]} == {"440100": 1, "440300": 3}
    assert province["region"]["name"] == "广东省"
    assert (await client.get("/api/v1/stats/regions/440300", headers=setup["nanshan"])).status_code == 403
    assert (await client.get("/api/v1/stats/regions/440000", headers=setup["shenzhen"])).status_code == 403


async def test_unknown_organization_is_404(client, setup):
    response = await client.get(f"/api/v1/orgs/{code_for(serial='MA0000099')}")
    assert response.status_code == 404
    assert error_code(response) == "organization.not_found"


async def test_key_rotation_keeps_old_codes_verifiable_and_publishes_both_keys(client, setup, cache):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    old_url = await scan_url(client, code)
    admin_headers = await platform_admin(client, "keyadmin", cache)
    rotated = await client.post("/api/v1/admin/signing-keys/rotate", headers=admin_headers)
    assert rotated.status_code == 200
    keys = (await client.get("/.well-known/gongxin-keys.json")).json()["keys"]
    assert [k["status"] for k in keys] == ["retired", "active"]
    assert (await verdict(client, old_url))["verdict"] == "good_standing"
    new_url = (
        await client.post(f"/api/v1/orgs/{code}/qrcode/reissue", json=REASON, headers=setup["nanshan"])
    ).json()["url"]
    assert rotated.json()["kid"] in new_url
    assert (await verdict(client, new_url))["verdict"] == "good_standing"
    assert (await verdict(client, old_url))["verdict"] == "not_genuine"


async def test_qr_png_decodes_to_a_url_that_opens_the_h5_page(client, setup, settings):
    zxingcpp = pytest.importorskip("zxingcpp")
    from io import BytesIO

    from PIL import Image

    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    png = await client.get(f"/api/v1/orgs/{code}/qrcode.png", params={"size": 400})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(BytesIO(png.content)))
    assert len(decoded) == 1
    url = decoded[0].text
    assert url.startswith(settings.public_base_url + "/o/")
    assert (await verdict(client, url))["verdict"] == "good_standing"
    page = await client.get(url.removeprefix(settings.public_base_url))
    assert page.status_code == 200
    assert "真实有效" in page.text and "深圳市南山区测试志愿者协会" in page.text
    assert "content-security-policy" in page.headers
    svg = await client.get(f"/api/v1/orgs/{code}/qrcode.svg", params={"size": 256})
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<")
    assert (await client.get(f"/api/v1/orgs/{code}/qrcode.png", params={"size": 5})).status_code == 422


async def test_h5_page_of_a_forged_code_says_not_genuine_without_details(client, setup):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    url = await scan_url(client, code)
    page = await client.get("/o/" + url.rsplit("/", 1)[1][:-4] + "AAAA")
    assert page.status_code == 200
    assert "非本平台签发" in page.text
    assert "深圳市南山区测试志愿者协会" not in page.text


async def test_change_by_one_process_shows_in_another_within_a_second(db, cache, settings, setup, client):
    """Another process shares only the database and Redis, and may hold its half-second local copy."""
    import asyncio
    from datetime import UTC, datetime

    import orjson

    from backend.registry import profiles, qr
    from backend.registry.qr import KeyRing

    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    url = await scan_url(client, code)
    other_keys = KeyRing()
    await other_keys.reload()

    async def other_process_verdict() -> str:
        body = await qr.verify(
            url=url,
            public_base_url=settings.public_base_url,
            cache=cache,
            keyring=other_keys,
            now=datetime.now(UTC),
        )
        return orjson.loads(body)["verdict"]

    assert await other_process_verdict() == "good_standing"
    stale = profiles._local.entries[code]
    await client.post(
        f"/api/v1/orgs/{code}/status", json={"status": "deregistered", **REASON}, headers=setup["nanshan"]
    )
    # The writing process dropped its own copy; the other one still has its copy for at most
    # LOCAL_TTL_SECONDS, then reads the new generation from Redis.
    profiles._local.entries[code] = stale
    await asyncio.sleep(profiles.LOCAL_TTL_SECONDS + 0.05)
    assert await other_process_verdict() == "not_in_good_standing"
    profiles._local.pop(code)
    assert await other_process_verdict() == "not_in_good_standing"
    assert (await Organization.get(credit_code=code)).record_version >= 2


async def test_mini_program_code_comes_from_wechat_getwxacodeunlimit(client, setup, emulator):
    code = (await register(client, setup["nanshan"])).json()["credit_code"]
    response = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\x89PNG")
    assert [c["path"] for c in emulator.calls("/wxa/getwxacodeunlimit")]
    # The next version's image is made by WeChat again: while WeChat is busy, 503.
    await client.post(f"/api/v1/orgs/{code}/qrcode/reissue", json=REASON, headers=setup["nanshan"])
    emulator.add_fault("/wxa/getwxacodeunlimit", count=5, errcode=-1)
    busy = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert busy.status_code == 503


async def test_amounts_and_ids_beyond_64_bits_are_422_not_500(client, setup, cache):
    # Found by trying the API by hand: each passed the schema and failed in the database with a 500.
    headers = setup["nanshan"]
    code = (await register(client, headers)).json()["credit_code"]
    capital = await client.patch(
        f"/api/v1/orgs/{code}", json={"registered_capital_fen": 2**63, **REASON}, headers=headers
    )
    assert capital.status_code == 422, capital.text
    penalty = {"kind": "fine", "decision_number": "深南民罚〔2026〕1号", "decided_on": "2026-11-01"}
    fined = await client.post(
        f"/api/v1/orgs/{code}/penalties", json={**penalty, "amount_fen": 10**20, **REASON}, headers=headers
    )
    assert fined.status_code == 422, fined.text
    admin = await platform_admin(client, "big-id-admin", cache)
    for route in ("/api/v1/admin/roles", "/api/v1/admin/roles/revocations"):
        grant = await client.post(
            route, json={"kind": "admin", "user_id": 2**64, "reason": "x"}, headers=admin
        )
        assert grant.status_code == 422, grant.text
    replay = await client.post(
        "/api/v1/admin/notifications/dead/replay", json={"ids": [2**63], "reason": "x"}, headers=admin
    )
    assert replay.status_code == 422, replay.text
