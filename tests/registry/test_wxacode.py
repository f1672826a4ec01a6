"""The mini-program code image: made by WeChat once per code version, shared by every process, limited."""

from __future__ import annotations

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.registry import profiles, reference
from backend.registry.models import Authority
from backend.wechat.emulator import WeChatEmulator
from tests.conftest import error_code, login
from tests.registry.fixtures_import import make_code

REASON = {"reason": "二维码遗失，重新签发"}
WXA = "/wxa/getwxacodeunlimit"


@pytest.fixture
async def org(client: httpx.AsyncClient, cache, emulator: WeChatEmulator) -> dict[str, object]:
    await reference.load_authorities()
    officer = await login(client, "wxa-officer")
    user = await User.get(id=(await client.get("/api/v1/me", headers=officer)).json()["id"])
    await accounts_service.grant_officer(
        user=user, authority=await Authority.get(region_code="440305"), actor=None
    )
    code = make_code(region="440305", serial=6001)
    created = await client.post(
        "/api/v1/orgs",
        json={
            "credit_code": code,
            "name": "南山区小程序码协会",
            "kind": "association",
            "authority_region_code": "440305",
            **REASON,
        },
        headers=officer,
    )
    assert created.status_code == 201, created.text
    return {"code": code, "officer": officer}


def _made(emulator: WeChatEmulator) -> int:
    """How many calls asked WeChat for an image (one image may take two: a token refreshed on the way)."""
    return len(emulator.calls(WXA))


async def test_the_image_is_made_once_per_version_and_kept_for_every_process(client, org, emulator):
    code = org["code"]
    first = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert first.status_code == 200 and first.content.startswith(b"\x89PNG")
    made = _made(emulator)
    # Another process: none of this one's copies, the same shared cache.
    profiles._local.clear()
    again = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert again.content == first.content
    assert _made(emulator) == made


async def test_a_reissue_makes_the_new_version_and_a_revocation_stops_the_image(client, org, emulator):
    code, officer = org["code"], org["officer"]
    assert (await client.get(f"/api/v1/orgs/{code}/wxacode.png")).status_code == 200
    made = _made(emulator)
    assert (await client.get(f"/api/v1/orgs/{code}/wxacode.png")).status_code == 200
    assert _made(emulator) == made
    reissued = await client.post(f"/api/v1/orgs/{code}/qrcode/reissue", json=REASON, headers=officer)
    assert reissued.status_code == 200
    assert (await client.get(f"/api/v1/orgs/{code}/wxacode.png")).status_code == 200
    assert _made(emulator) > made
    made = _made(emulator)
    await client.post(f"/api/v1/orgs/{code}/qrcode/revoke", json=REASON, headers=officer)
    revoked = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert revoked.status_code == 409 and error_code(revoked) == "qr.revoked"
    assert _made(emulator) == made


async def test_beyond_the_limit_a_client_hears_429_with_the_seconds_left(client, org, app, emulator):
    code = org["code"]
    limit = app.ctx.container.settings.wxacode_rate_limit_per_minute
    assert (await client.get(f"/api/v1/orgs/{code}/wxacode.png")).status_code == 200
    made = _made(emulator)
    for _ in range(limit - 1):
        assert (await client.get(f"/api/v1/orgs/{code}/wxacode.png")).status_code == 200
    refused = await client.get(f"/api/v1/orgs/{code}/wxacode.png")
    assert refused.status_code == 429 and error_code(refused) == "wxacode.rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _made(emulator) == made
