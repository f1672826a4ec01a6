"""Taking roles and sessions away: the admin routes, audited, holding on the very next request.

Sessions are cached (backend/accounts/session_cache.py); each test reads through the cache first
(login puts the session there), changes, and reads again.
"""

from __future__ import annotations

from datetime import timedelta

from backend.accounts import service as accounts_service
from backend.accounts import tokens
from backend.accounts.models import OfficerRole, StaffRole, User
from backend.audit.models import AuditEntry
from tests.conftest import error_code, login
from tests.factories import make_authority, make_org


async def _user(client, headers) -> User:
    return await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])


async def _admin(client) -> dict[str, str]:
    headers = await login(client, "root")
    # No cache given, as a test fixture or the console does: the change still reaches the cache.
    await accounts_service.grant_admin(user=await _user(client, headers), actor=None)
    return headers


async def test_a_granted_admin_is_admin_on_the_next_request_though_the_cache_was_not_told(client):
    headers = await login(client, "root")
    assert (await client.get("/api/v1/me", headers=headers)).json()["roles"]["platform_admin"] is False
    await accounts_service.grant_admin(user=await _user(client, headers), actor=None)
    assert (await client.get("/api/v1/me", headers=headers)).json()["roles"]["platform_admin"] is True


async def test_revoking_admin_holds_on_the_next_request_and_is_audited(client):
    admin = await _admin(client)
    other = await login(client, "second-admin")
    other_user = await _user(client, other)
    await accounts_service.grant_admin(user=other_user, actor=None)
    assert (await client.get("/api/v1/admin/notifications/stats", headers=other)).status_code == 200

    revoked = await client.post(
        "/api/v1/admin/roles/revocations",
        json={"kind": "admin", "user_id": other_user.id, "reason": "离职"},
        headers=admin,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["roles"]["platform_admin"] is False
    for _ in range(3):
        denied = await client.get("/api/v1/admin/notifications/stats", headers=other)
        assert denied.status_code == 403 and error_code(denied) == "auth.admin_required"
    entry = await AuditEntry.filter(action="revoke.admin").get()
    assert (entry.before, entry.after, entry.reason) == (
        {"is_platform_admin": True},
        {"is_platform_admin": False},
        "离职",
    )
    assert entry.target_id == str(other_user.id)


async def test_revoking_an_officer_and_a_staff_role_holds_on_the_next_request(client):
    admin = await _admin(client)
    authority = await make_authority("440300")
    org = await make_org(authority)
    officer_headers = await login(client, "officer")
    officer = await _user(client, officer_headers)
    await accounts_service.grant_officer(user=officer, authority=authority, actor=None)
    await accounts_service.grant_staff(user=officer, organization=org, role="owner", actor=None)
    stats = "/api/v1/stats/regions/440300"
    assert (await client.get(stats, headers=officer_headers)).status_code == 200

    officer_gone = await client.post(
        "/api/v1/admin/roles/revocations",
        json={"kind": "officer", "user_id": officer.id, "authority_region_code": "440300"},
        headers=admin,
    )
    staff_gone = await client.post(
        "/api/v1/admin/roles/revocations",
        json={"kind": "staff", "user_id": officer.id, "credit_code": org.credit_code},
        headers=admin,
    )
    assert officer_gone.status_code == staff_gone.status_code == 200
    assert staff_gone.json()["roles"] == {"member": True, "platform_admin": False, "staff": [], "officer": []}
    assert (await client.get(stats, headers=officer_headers)).status_code == 403
    assert not await OfficerRole.filter(user=officer).exists()
    assert not await StaffRole.filter(user=officer).exists()
    entries = {e.action: e for e in await AuditEntry.filter(action__startswith="revoke.")}
    assert entries["revoke.officer"].before == {"authority": "440300", "officer": True}
    assert entries["revoke.officer"].after == {"authority": "440300", "officer": False}
    assert entries["revoke.staff"].before == {"organization": org.credit_code, "role": "owner"}
    assert entries["revoke.staff"].after == {"organization": org.credit_code, "role": None}
    # Again: nothing to take away, nothing changes, no second audit entry.
    again = await client.post(
        "/api/v1/admin/roles/revocations",
        json={"kind": "officer", "user_id": officer.id, "authority_region_code": "440300"},
        headers=admin,
    )
    assert again.status_code == 200
    assert await AuditEntry.filter(action="revoke.officer").count() == 1


async def test_revoking_every_session_of_a_user_refuses_each_token_on_its_next_request(client):
    admin = await _admin(client)
    phone, laptop = await login(client, "lost-phone"), await login(client, "lost-phone")
    user = await _user(client, phone)
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 200
    revoked = await client.post(
        f"/api/v1/admin/users/{user.id}/sessions/revocations", json={"reason": "手机丢失"}, headers=admin
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"user_id": user.id, "revoked": 2}
    for headers in (phone, laptop, phone):
        refused = await client.get("/api/v1/me", headers=headers)
        assert refused.status_code == 401 and error_code(refused) == "auth.session_revoked"
    entry = await AuditEntry.filter(action="sessions.revoke_all").get()
    assert (entry.before, entry.after) == ({"active_sessions": 2}, {"active_sessions": 0})
    assert (await client.get("/api/v1/me", headers=await login(client, "lost-phone"))).status_code == 200


async def test_members_cannot_revoke_and_unknown_users_are_404(client):
    admin = await _admin(client)
    member = await login(client, "member")
    me = await _user(client, member)
    for path, body in (
        ("/api/v1/admin/roles/revocations", {"kind": "admin", "user_id": me.id}),
        (f"/api/v1/admin/users/{me.id}/sessions/revocations", {}),
    ):
        assert (await client.post(path, json=body, headers=member)).status_code == 403
        malformed = {**member, "Content-Type": "application/json"}
        assert (await client.post(path, content=b'{"kind": ', headers=malformed)).status_code == 403
    unknown = await client.post("/api/v1/admin/users/999999/sessions/revocations", json={}, headers=admin)
    assert unknown.status_code == 404 and error_code(unknown) == "user.not_found"
    no_target = await client.post(
        "/api/v1/admin/roles/revocations", json={"kind": "officer", "user_id": me.id}, headers=admin
    )
    assert no_target.status_code == 422 and error_code(no_target) == "role.target_missing"


async def test_a_cached_session_is_refused_to_a_token_naming_another_user(client, settings):
    headers = await login(client, "subject")
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # cached now
    claims = tokens.decode(secret=settings.secret_key.get_secret_value(), token=headers["Authorization"][7:])
    other = await User.create(openid="someone-else")
    forged = tokens.issue(
        secret=settings.secret_key.get_secret_value(),
        user_id=other.id,
        session_id=claims.session_id,
        ttl=timedelta(hours=1),
    )
    refused = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401 and error_code(refused) == "auth.token_invalid"
