"""Who may do what in party building: every staff, secretary and organizer route, every role.

The same table as the officer routes (tests/registry/test_registry_api.py): anonymous 401; a plain
member, another organization's staff and secretary, officers (of this jurisdiction for writes, of
another for reads) 403; and nothing changed by a refused write. The role check on the route
(``require_any_organizer``) lets any organization's staff through: what keeps another
organization's staff out is the service's own check, which is what these tests hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind, User
from backend.audit.models import AuditEntry
from backend.events.models import OutboxEvent
from backend.partybuilding.models import Activity, AttendanceRequest, Branch, BranchMember
from backend.registry.models import Authority, Organization
from tests.conftest import error_code, login
from tests.factories import make_authority, make_org

PLACE = {"latitude": 22.5431, "longitude": 114.0579}
PERIOD = "2026-11"


async def _uid(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=headers)).json()["id"]


def _activity_body(branch_id: int | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "kind": "theme_day",
        "title": "主题党日活动",
        "description": "学习交流",
        "branch_id": branch_id,
        "starts_at": (now + timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(hours=4)).isoformat(),
        "place": "深圳市民中心",
        **PLACE,
        "radius_m": 200,
        "expected": "branch",
    }


@pytest.fixture
async def party(client: httpx.AsyncClient) -> dict[str, Any]:
    """Organization A (440300) with a branch, its secretary, a member, an activity and a pending
    leave request; organization B in the same city with its own staff and secretary; officers."""
    await make_authority("440300", name="深圳市民政局")
    await make_authority("440106", name="广州市天河区民政局", level="county")
    org_a = await make_org(await Authority.get(region_code="440300"))
    org_b = await make_org(await Authority.get(region_code="440300"))
    heads = {
        name: await login(client, name)
        for name in (
            "staff_a",
            "secretary_a",
            "member_a",
            "staff_b",
            "secretary_b",
            "officer_here",
            "officer_elsewhere",
        )
    }
    users = {name: await User.get(id=await _uid(client, h)) for name, h in heads.items()}
    for org, name in ((org_a, "staff_a"), (org_b, "staff_b")):
        await accounts_service.grant_staff(
            user=users[name], organization=org, role=StaffRoleKind.OWNER, actor=None
        )
    await accounts_service.grant_officer(
        user=users["officer_here"], authority=await Authority.get(region_code="440300"), actor=None
    )
    await accounts_service.grant_officer(
        user=users["officer_elsewhere"], authority=await Authority.get(region_code="440106"), actor=None
    )
    branch_a = await Branch.create(organization=org_a, name="甲党支部")
    branch_b = await Branch.create(organization=org_b, name="乙党支部")
    await BranchMember.create(branch=branch_a, user=users["secretary_a"], membership="full", role="secretary")
    await BranchMember.create(branch=branch_a, user=users["member_a"], membership="full", role="member")
    await BranchMember.create(branch=branch_b, user=users["secretary_b"], membership="full", role="secretary")
    published = await client.post(
        f"/api/v1/orgs/{org_a.credit_code}/activities",
        json=_activity_body(branch_a.id),
        headers=heads["staff_a"],
    )
    assert published.status_code == 201, published.text
    activity_id = published.json()["id"]
    leave = await client.post(
        f"/api/v1/activities/{activity_id}/leave-requests", json={"reason": "出差"}, headers=heads["member_a"]
    )
    assert leave.status_code == 201, leave.text
    return {
        "org_a": org_a,
        "org_b": org_b,
        "branch_a": branch_a,
        "branch_b": branch_b,
        "activity_id": activity_id,
        "request_id": leave.json()["id"],
        "heads": heads,
        "users": users,
    }


async def _state() -> dict[str, Any]:
    """Everything a party-building write could change."""
    return {
        "branches": sorted(await Branch.all().values_list("id", "organization_id", "name")),
        "members": sorted(
            await BranchMember.all().values_list("branch_id", "user_id", "membership", "role", "group_name")
        ),
        "reported": sorted(await Organization.all().values_list("id", "party_members_reported")),
        "activities": await Activity.all().count(),
        "requests": sorted(await AttendanceRequest.all().values_list("id", "status", "decided_by_id")),
        "audit": await AuditEntry.all().count(),
        "events": await OutboxEvent.all().count(),
    }


# (name, method, path, body, roles refused, roles allowed) with placeholders filled from ``party``.
# Writes: only staff of A (and, where the route says so, A's secretary); every officer is refused.
WRITE_ROUTES = [
    (
        "create_branch",
        "post",
        "/orgs/{code_a}/branches",
        lambda p: {"name": "新设党支部"},
        ["member_a", "secretary_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        "staff_a",
    ),
    (
        "set_member",
        "put",
        "/branches/{branch_a}/members",
        lambda p: {"user_id": p["users"]["member_a"].id, "membership": "full", "role": "secretary"},
        ["member_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        "secretary_a",
    ),
    (
        "report_party_members",
        "put",
        "/orgs/{code_a}/party-members",
        lambda p: {"count": 7},
        ["member_a", "secretary_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        "staff_a",
    ),
    (
        "create_activity",
        "post",
        "/orgs/{code_a}/activities",
        lambda p: _activity_body(p["branch_a"].id),
        ["member_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        "secretary_a",
    ),
    (
        "decide_request",
        "post",
        "/attendance-requests/{request_id}/decision",
        lambda p: {"approve": True, "reason": "同意请假"},
        ["member_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        "secretary_a",
    ),
]

# Reads of personal data or organizer-only material: officers of the jurisdiction may read the
# attendance and compliance, never the rotating code.
READ_ROUTES = [
    (
        "checkin_code",
        "/activities/{activity_id}/checkin-code",
        ["member_a", "staff_b", "secretary_b", "officer_here", "officer_elsewhere"],
        ["staff_a", "secretary_a"],
    ),
    *[
        (
            f"attendance_{fmt}",
            f"/activities/{{activity_id}}/attendance?format={fmt}",
            ["member_a", "staff_b", "secretary_b", "officer_elsewhere"],
            ["staff_a", "secretary_a", "officer_here"],
        )
        for fmt in ("json", "csv", "xlsx")
    ],
    (
        "branch_compliance",
        f"/branches/{{branch_a}}/compliance?period={PERIOD}",
        ["member_a", "staff_b", "secretary_b", "officer_elsewhere"],
        ["staff_a", "secretary_a", "officer_here"],
    ),
    (
        "region_compliance",
        f"/compliance/regions/440300?period={PERIOD}",
        ["member_a", "staff_a", "secretary_a", "staff_b", "officer_elsewhere"],
        ["officer_here"],
    ),
]


def _path(template: str, party: dict[str, Any]) -> str:
    return "/api/v1" + template.format(
        code_a=party["org_a"].credit_code,
        branch_a=party["branch_a"].id,
        activity_id=party["activity_id"],
        request_id=party["request_id"],
    )


@pytest.mark.parametrize(
    ("name", "method", "template", "body", "refused", "allowed"),
    WRITE_ROUTES,
    ids=[r[0] for r in WRITE_ROUTES],
)
async def test_every_party_building_write_is_refused_to_everyone_but_its_organizer(
    client, party, name, method, template, body, refused, allowed
):
    path, payload = _path(template, party), body(party)
    before = await _state()
    anonymous = await getattr(client, method)(path, json=payload)
    assert anonymous.status_code == 401, (name, anonymous.text)
    for role in refused:
        response = await getattr(client, method)(path, json=payload, headers=party["heads"][role])
        assert response.status_code == 403, (name, role, response.status_code, response.text)
        assert error_code(response).startswith(("activity.", "auth.")), (name, role, response.text)
        assert await _state() == before, (name, role)
    # The table is not vacuous: the organizer it names does get through.
    done = await getattr(client, method)(path, json=payload, headers=party["heads"][allowed])
    assert done.status_code in (200, 201), (name, done.text)
    assert await _state() != before, name


@pytest.mark.parametrize(
    ("name", "template", "refused", "allowed"), READ_ROUTES, ids=[r[0] for r in READ_ROUTES]
)
async def test_every_organizer_read_is_refused_to_everyone_else(
    client, party, name, template, refused, allowed
):
    path = _path(template, party)
    assert (await client.get(path)).status_code == 401, name
    for role in refused:
        response = await client.get(path, headers=party["heads"][role])
        assert response.status_code == 403, (name, role, response.status_code, response.text)
    for role in allowed:
        response = await client.get(path, headers=party["heads"][role])
        assert response.status_code == 200, (name, role, response.text)


async def test_another_organizations_secretary_cannot_publish_here_with_their_own_branch(client, party):
    before = await _state()
    response = await client.post(
        f"/api/v1/orgs/{party['org_a'].credit_code}/activities",
        json=_activity_body(party["branch_b"].id),
        headers=party["heads"]["secretary_b"],
    )
    assert response.status_code in (403, 404), response.text
    assert await _state() == before


async def test_a_secretary_cannot_manage_another_branch_of_the_same_organization(client, party):
    other = await Branch.create(organization=party["org_a"], name="甲第二党支部")
    before = await _state()
    response = await client.put(
        f"/api/v1/branches/{other.id}/members",
        json={"user_id": party["users"]["secretary_a"].id, "membership": "full", "role": "secretary"},
        headers=party["heads"]["secretary_a"],
    )
    assert response.status_code == 403, response.text
    assert await _state() == before
