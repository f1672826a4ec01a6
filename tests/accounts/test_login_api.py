"""Login through the WeChat emulator, tokens, revocation, phone binding, roles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.accounts import service as accounts_service
from backend.accounts import tokens
from backend.accounts.models import User
from tests.conftest import error_code, login
from tests.factories import make_authority, make_org


async def test_dev_code_logs_in_the_same_user_every_time(client):
    first = await client.get("/api/v1/me", headers=await login(client, "alice"))
    second = await client.get("/api/v1/me", headers=await login(client, "alice"))
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["roles"] == {"member": True, "platform_admin": False, "staff": [], "officer": []}


async def test_reused_wx_login_code_is_refused_with_40029(client, emulator):
    code = emulator.issue_login_code("carol")["code"]
    first = await client.post("/api/v1/auth/login", json={"code": code})
    second = await client.post("/api/v1/auth/login", json={"code": code})
    assert first.status_code == 200
    assert second.status_code == 401
    assert error_code(second) == "wechat.invalid_code"


async def test_wechat_40029_from_the_emulator_is_401(client, emulator):
    emulator.add_fault("/sns/jscode2session", count=1, errcode=40029)
    response = await client.post("/api/v1/auth/login", json={"code": "dev-alice"})
    assert response.status_code == 401
    assert error_code(response) == "wechat.invalid_code"


async def test_wechat_rate_limit_45009_is_429(client, emulator):
    emulator.add_fault("/sns/jscode2session", count=1, errcode=45009)
    response = await client.post("/api/v1/auth/login", json={"code": "dev-alice"})
    assert response.status_code == 429
    assert error_code(response) == "wechat.rate_limited"


async def test_wechat_down_is_503_not_500(client, emulator):
    emulator.add_fault("/sns/jscode2session", count=5, http_status=502)
    response = await client.post("/api/v1/auth/login", json={"code": "dev-alice"})
    assert response.status_code == 503
    assert error_code(response).startswith("wechat.")


async def test_expired_token_is_401(client, settings):
    await client.post("/api/v1/auth/login", json={"code": "dev-alice"})
    user = await User.get(openid__isnull=False)
    expired = tokens.issue(
        secret=settings.secret_key.get_secret_value(),
        user_id=user.id,
        session_id="0" * 32,
        ttl=timedelta(hours=1),
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert error_code(response) == "auth.token_expired"


async def test_forged_token_is_401(client):
    headers = await login(client, "alice")
    claims_of_alice = headers["Authorization"].removeprefix("Bearer ")
    user = await User.get(openid__isnull=False)
    forged = tokens.issue(
        secret="not-our-secret-but-long-enough-to-sign",
        user_id=user.id,
        session_id="f" * 32,
        ttl=timedelta(hours=1),
    )
    for token in (forged, claims_of_alice[:-3] + "abc", "not-a-jwt"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert error_code(response) == "auth.token_invalid"


async def test_logout_revokes_the_token(client):
    headers = await login(client, "alice")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "auth.session_revoked"


async def test_phone_is_stored_encrypted_and_shown_masked(client, emulator):
    headers = await login(client, "alice")
    code = emulator.issue_phone_code("13812345678")
    response = await client.post("/api/v1/me/phone", json={"code": code}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "138****5678"
    user = await User.get(openid__isnull=False)
    assert user.phone_encrypted and "13812345678" not in user.phone_encrypted
    assert "13812345678" not in (user.phone_hash or "")
    reused = await client.post("/api/v1/me/phone", json={"code": code}, headers=headers)
    assert reused.status_code == 401
    deleted = await client.delete("/api/v1/me/phone", headers=headers)
    assert deleted.json()["phone"] is None
    assert (await User.get(id=user.id)).phone_encrypted is None


async def test_login_attempts_beyond_the_limit_are_429(client, settings):
    limit = settings.login_rate_limit_per_minute
    responses = [
        await client.post("/api/v1/auth/login", json={"code": "dev-alice"}) for _ in range(limit + 1)
    ]
    assert [r.status_code for r in responses[:limit]] == [200] * limit
    refused = responses[-1]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_parallel_first_logins_create_one_user(client):
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/login", json={"code": "dev-newcomer"}) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {200}
    assert await User.all().count() == 1


async def test_admin_grants_roles_and_me_shows_them(client, cache):
    admin_headers = await login(client, "root")
    root = await User.get(openid__isnull=False)
    # Through the service, as `gongxin grant admin` does: login put the session in the cache.
    await accounts_service.grant_admin(user=root, actor=None, cache=cache)
    alice_headers = await login(client, "alice")
    alice_id = (await client.get("/api/v1/me", headers=alice_headers)).json()["id"]
    authority = await make_authority("440300")
    org = await make_org(authority)

    officer = await client.post(
        "/api/v1/admin/roles",
        json={"kind": "officer", "user_id": alice_id, "authority_region_code": "440300"},
        headers=admin_headers,
    )
    staff = await client.post(
        "/api/v1/admin/roles",
        json={"kind": "staff", "user_id": alice_id, "credit_code": org.credit_code, "staff_role": "owner"},
        headers=admin_headers,
    )
    assert officer.status_code == staff.status_code == 200, (officer.text, staff.text)
    roles = (await client.get("/api/v1/me", headers=alice_headers)).json()["roles"]
    assert roles["officer"] == [{"region_code": "440300", "authority": authority.name, "level": "city"}]
    assert roles["staff"] == [{"credit_code": org.credit_code, "organization": org.name, "role": "owner"}]


async def test_granting_to_unknown_targets_is_404_or_422(client, cache):
    admin_headers = await login(client, "root")
    await accounts_service.grant_admin(user=await User.get(openid__isnull=False), actor=None, cache=cache)
    me = (await client.get("/api/v1/me", headers=admin_headers)).json()
    unknown_user = await client.post(
        "/api/v1/admin/roles", json={"kind": "admin", "user_id": 999999}, headers=admin_headers
    )
    unknown_authority = await client.post(
        "/api/v1/admin/roles",
        json={"kind": "officer", "user_id": me["id"], "authority_region_code": "990000"},
        headers=admin_headers,
    )
    no_target = await client.post(
        "/api/v1/admin/roles", json={"kind": "staff", "user_id": me["id"]}, headers=admin_headers
    )
    assert (unknown_user.status_code, error_code(unknown_user)) == (404, "user.not_found")
    assert (unknown_authority.status_code, error_code(unknown_authority)) == (404, "authority.not_found")
    assert (no_target.status_code, error_code(no_target)) == (422, "role.target_missing")


async def test_cached_sessions_see_revocation_and_role_changes_at_once(client, cache):

    headers = await login(client, "cached")
    first = (await client.get("/api/v1/me", headers=headers)).json()  # now cached
    assert first["roles"]["platform_admin"] is False
    await accounts_service.grant_admin(user=await User.get(id=first["id"]), actor=None, cache=cache)
    assert (await client.get("/api/v1/me", headers=headers)).json()["roles"]["platform_admin"] is True
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
