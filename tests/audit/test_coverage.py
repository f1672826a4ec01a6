"""Every officer, staff and admin write is audited: one table, every write route.

For each write route of the API, the call is made by the role it belongs to and must leave an audit
entry, written in the same request, with that caller as the actor, the state before (for a change
of something that existed), the state after, and the reason the caller gave. A write route missing
from the table fails ``test_the_table_covers_every_write_route``: a new route has to say how it is
audited, or why it is a member's own write that is not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind, User
from backend.audit.models import AuditEntry
from backend.charity import views
from backend.charity.models import Project
from backend.events.models import OutboxEvent
from backend.partybuilding.models import Branch, BranchMember
from backend.recruitment.models import ImageCheck, Posting
from backend.registry import reference
from backend.registry.models import Organization
from backend.subscriptions.models import Delivery, DeliveryStatus
from tests.charity.conftest import PLAN, campaign, donation, expenditure, foundation  # noqa: F401  (fixtures)
from tests.conftest import login
from tests.recruitment.conftest import posting_body
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row
from tests.registry.test_registry_api import code_for, officer, platform_admin, register

WHY = "依据档案 / on the record"

# A member's own writes: answered for themselves, never on anyone else's behalf (the check-in leaves
# its outbox event, tests/events/test_atomicity.py).
MEMBER_OWN = {
    ("POST", "api/v1/auth/login"),
    ("POST", "api/v1/auth/logout"),
    ("POST", "api/v1/me/phone"),
    ("DELETE", "api/v1/me/phone"),
    ("POST", "api/v1/me/subscriptions"),
    ("PUT", "api/v1/me/subscriptions/<event:str>"),
    ("POST", "api/v1/activities/<activity_id:int>/checkins"),
    # recruitment: one's own sign-up, its cancellation and leaving an organization
    ("POST", "api/v1/postings/<posting_id:int>/signups"),
    ("DELETE", "api/v1/postings/<posting_id:int>/signups/me"),
    ("DELETE", "api/v1/orgs/<code:str>/members/me"),
    # a volunteer asking for a proof of their own service records (a correction by staff that revokes
    # one is audited with the correction: tests/recruitment/test_proofs.py)
    ("POST", "api/v1/me/volunteer-proofs"),
    # WeChat's message push (its signature checked): a media check's verdict, no user behind it
    ("POST", "api/v1/wechat/push"),
}


@dataclass
class World:
    client: httpx.AsyncClient
    heads: dict[str, dict[str, str]]
    ids: dict[str, int]
    code: str  # an organization of 440305, registered by the officer
    fund: dict[str, Any]  # the charity campaign fixture

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await getattr(self.client, method)("/api/v1" + path, headers=self.heads[who], **kwargs)


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # as the router names it
    action: str
    who: str
    call: Callable[[World], Awaitable[httpx.Response]]
    before: bool = True  # a change of something that existed: the entry says what it was
    reason: str | None = WHY  # what the caller gave, or None when the route takes no reason


async def _listing(w: World) -> httpx.Response:
    body = {"list": "abnormal", "listing_reason": "住所无法联系", "reason": WHY}
    return await w.call("officer", "post", f"/orgs/{w.code}/listings", json=body)


async def _proposal(w: World) -> int:
    penalty = {"kind": "warning", "decision_number": "深南民罚〔2026〕9号", "decided_on": "2026-11-01"}
    await w.call("officer", "post", f"/orgs/{w.code}/penalties", json={**penalty, "reason": WHY})
    return (await w.call("officer", "get", "/credit/proposals")).json()["items"][0]["id"]


async def _activity(w: World) -> int:
    return (await _publish(w)).json()["id"]


async def _publish(w: World) -> httpx.Response:
    now = datetime.now(UTC)
    body = {
        "kind": "theme_day",
        "title": "主题党日",
        "branch_id": w.ids["branch"],
        "starts_at": (now + timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(hours=3)).isoformat(),
        "place": "市民中心",
        "latitude": 22.5431,
        "longitude": 114.0579,
        "expected": "branch",
    }
    return await w.call("staff", "post", f"/orgs/{w.code}/activities", json=body)


async def _leave(w: World) -> int:
    activity_id = await _activity(w)
    made = await w.call("member", "post", f"/activities/{activity_id}/leave-requests", json={"reason": WHY})
    return made.json()["id"]


async def _review_update(w: World) -> int:
    body = {"text": "项目进展 review-test-word"}
    return (await w.call("fund", "post", f"/projects/{w.fund['id']}/updates", json=body)).json()["id"]


async def _dead_letter(w: World) -> int:
    event = await OutboxEvent.create(
        kind="checkin.recorded", payload={}, recipients=[], idempotency_key="dead"
    )
    dead = await Delivery.create(
        event=event,
        user_id=w.ids["member"],
        kind="checkin.recorded",
        status=DeliveryStatus.DEAD,
        next_attempt_at=datetime.now(UTC),
    )
    return dead.id


def _import_csv(name: str) -> bytes:
    return csv_bytes([CN_HEADER, row(code=IMPORTED, name=name, authority="深圳市南山区民政局")])


IMPORTED = make_code(region="440305")

CASES = [
    Case(
        "POST",
        "api/v1/postings/<posting_id:int>/checkin",
        "posting.checkin_open",
        "staff",
        lambda w: _then(
            _posting(w, kind="volunteer"),
            lambda i: w.call("staff", "post", f"/postings/{i}/checkin", json={}),
        ),
        before=False,
        reason=None,
    ),
    Case(
        "PUT",
        "api/v1/postings/<posting_id:int>/service-records",
        "service.record",
        "staff",
        lambda w: _then(
            _served(w),
            lambda i: w.call(
                "staff",
                "put",
                f"/postings/{i}/service-records",
                json={"records": [{"user_id": w.ids["member"], "hours": 2}]},
            ),
        ),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/postings",
        "posting.create",
        "staff",
        lambda w: w.call("staff", "post", f"/orgs/{w.code}/postings", json=posting_body()),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/postings/<posting_id:int>/publish",
        "posting.publish",
        "staff",
        lambda w: _then(
            _posting(w, publish=False), lambda i: w.call("staff", "post", f"/postings/{i}/publish")
        ),
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/postings/<posting_id:int>/close",
        "posting.close",
        "staff",
        lambda w: _then(
            _posting(w), lambda i: w.call("staff", "post", f"/postings/{i}/close", json={"reason": WHY})
        ),
    ),
    Case(
        "POST",
        "api/v1/postings/<posting_id:int>/cancel",
        "posting.cancel",
        "staff",
        lambda w: _then(
            _posting(w), lambda i: w.call("staff", "post", f"/postings/{i}/cancel", json={"reason": WHY})
        ),
    ),
    Case(
        "POST",
        "api/v1/admin/postings/<posting_id:int>/decision",
        "posting.review_decision",
        "admin",
        lambda w: _then(
            _posting(w, publish=False, title="review-test-word 活动"),
            lambda i: _then(
                w.call("staff", "post", f"/postings/{i}/publish"),
                lambda _: w.call(
                    "admin", "post", f"/admin/postings/{i}/decision", json={"approve": True, "reason": WHY}
                ),
            ),
        ),
    ),
    Case(
        "POST",
        "api/v1/admin/image-checks/<check_id:int>/decision",
        "posting.image_decision",
        "admin",
        lambda w: _then(
            _image_held_for_review(w),
            lambda i: w.call(
                "admin", "post", f"/admin/image-checks/{i}/decision", json={"approve": True, "reason": WHY}
            ),
        ),
    ),
    Case(
        "POST",
        "api/v1/signups/<signup_id:int>/decision",
        "signup.decision",
        "staff",
        lambda w: _then(
            _pending_signup(w),
            lambda i: w.call(
                "staff", "post", f"/signups/{i}/decision", json={"decision": "approve", "reason": WHY}
            ),
        ),
    ),
    # --- registry: officers ------------------------------------------------------------------------
    Case(
        "POST",
        "api/v1/orgs",
        "organization.create",
        "officer",
        lambda w: register(w.client, w.heads["officer"], code=code_for(serial="MA0000077"), reason=WHY),
        before=False,
    ),
    Case(
        "PATCH",
        "api/v1/orgs/<code:str>",
        "organization.update",
        "officer",
        lambda w: w.call("officer", "patch", f"/orgs/{w.code}", json={"address": "新址", "reason": WHY}),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/status",
        "organization.status",
        "officer",
        lambda w: w.call(
            "officer", "post", f"/orgs/{w.code}/status", json={"status": "deregistered", "reason": WHY}
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/licences",
        "licence.create",
        "officer",
        lambda w: w.call(
            "officer",
            "post",
            f"/orgs/{w.code}/licences",
            json={"kind": "change", "decision_number": "L1", "decided_on": "2025-01-01", "reason": WHY},
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/penalties",
        "penalty.create",
        "officer",
        lambda w: w.call(
            "officer",
            "post",
            f"/orgs/{w.code}/penalties",
            json={"kind": "warning", "decision_number": "P1", "decided_on": "2025-01-01", "reason": WHY},
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/annual-reports",
        "annual_report.set",
        "officer",
        lambda w: w.call(
            "officer",
            "post",
            f"/orgs/{w.code}/annual-reports",
            json={"year": 2024, "result": "qualified", "reason": WHY},
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/grades",
        "grade.create",
        "officer",
        lambda w: w.call(
            "officer",
            "post",
            f"/orgs/{w.code}/grades",
            json={"grade": 4, "valid_from": "2024-01-01", "valid_until": "2028-12-31", "reason": WHY},
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/qualifications",
        "qualification.create",
        "officer",
        lambda w: w.call(
            "officer",
            "post",
            f"/orgs/{w.code}/qualifications",
            json={"kind": "charity", "granted_on": "2024-01-01", "reason": WHY},
        ),
    ),
    Case("POST", "api/v1/orgs/<code:str>/listings", "credit.list", "officer", _listing),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/listings/<listing_id:int>/removal",
        "credit.remove",
        "officer",
        lambda w: _then(
            _listing(w),
            lambda r: w.call(
                "officer", "post", f"/orgs/{w.code}/listings/{r.json()['id']}/removal", json={"reason": WHY}
            ),
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/qrcode/reissue",
        "qr.reissue",
        "officer",
        lambda w: w.call("officer", "post", f"/orgs/{w.code}/qrcode/reissue", json={"reason": WHY}),
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/qrcode/revoke",
        "qr.revoke",
        "officer",
        lambda w: w.call("officer", "post", f"/orgs/{w.code}/qrcode/revoke", json={"reason": WHY}),
    ),
    Case(
        "POST",
        "api/v1/credit/proposals/<proposal_id:int>/decision",
        "credit.proposal_rejected",
        "officer",
        lambda w: _then(
            _proposal(w),
            lambda i: w.call(
                "officer", "post", f"/credit/proposals/{i}/decision", json={"confirm": False, "reason": WHY}
            ),
        ),
    ),
    Case(
        "POST",
        "api/v1/orgs/import",
        "organization.import_create",
        "officer",
        lambda w: w.call("officer", "post", "/orgs/import?apply=true", content=_import_csv("南山区导入协会")),
        before=False,
        reason=None,
    ),
    # --- admins -------------------------------------------------------------------------------------
    Case(
        "POST",
        "api/v1/admin/authorities",
        "authority.create",
        "admin",
        lambda w: w.call(
            "admin", "post", "/admin/authorities", json={"region_code": "659099", "name": "测试新设民政局"}
        ),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/admin/signing-keys/rotate",
        "signing_key.rotate",
        "admin",
        lambda w: w.call("admin", "post", "/admin/signing-keys/rotate"),
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/admin/roles",
        "grant.staff",
        "admin",
        lambda w: w.call(
            "admin",
            "post",
            "/admin/roles",
            json={"kind": "staff", "user_id": w.ids["member"], "credit_code": w.code, "reason": WHY},
        ),
        before=False,
    ),
    Case(
        "POST",
        "api/v1/admin/roles/revocations",
        "revoke.staff",
        "admin",
        lambda w: w.call(
            "admin",
            "post",
            "/admin/roles/revocations",
            json={"kind": "staff", "user_id": w.ids["staff"], "credit_code": w.code, "reason": WHY},
        ),
    ),
    Case(
        "POST",
        "api/v1/admin/users/<user_id:int>/sessions/revocations",
        "sessions.revoke_all",
        "admin",
        lambda w: w.call(
            "admin", "post", f"/admin/users/{w.ids['member']}/sessions/revocations", json={"reason": WHY}
        ),
    ),
    Case(
        "POST",
        "api/v1/admin/notifications/dead/replay",
        "notification.replay",
        "admin",
        lambda w: _then(
            _dead_letter(w),
            lambda i: w.call(
                "admin", "post", "/admin/notifications/dead/replay", json={"ids": [i], "reason": WHY}
            ),
        ),
    ),
    Case(
        "POST",
        "api/v1/admin/progress-updates/<update_id:int>/decision",
        "project.progress_decision",
        "admin",
        lambda w: _then(
            _review_update(w),
            lambda i: w.call(
                "admin",
                "post",
                f"/admin/progress-updates/{i}/decision",
                json={"approve": True, "reason": WHY},
            ),
        ),
    ),
    # --- party building: staff, secretaries, members' requests ----------------------------------------
    Case(
        "POST",
        "api/v1/orgs/<code:str>/branches",
        "branch.create",
        "staff",
        lambda w: w.call("staff", "post", f"/orgs/{w.code}/branches", json={"name": "第二党支部"}),
        before=False,
        reason=None,
    ),
    Case(
        "PUT",
        "api/v1/branches/<branch_id:int>/members",
        "branch.member_set",
        "staff",
        lambda w: w.call(
            "staff",
            "put",
            f"/branches/{w.ids['branch']}/members",
            json={"user_id": w.ids["member"], "membership": "probationary"},
        ),
        reason=None,
    ),
    Case(
        "PUT",
        "api/v1/orgs/<code:str>/party-members",
        "party_members.report",
        "staff",
        lambda w: w.call("staff", "put", f"/orgs/{w.code}/party-members", json={"count": 5}),
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/activities",
        "activity.create",
        "staff",
        _publish,
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/activities/<activity_id:int>/leave-requests",
        "attendance.leave_request",
        "member",
        lambda w: _then(
            _activity(w),
            lambda i: w.call("member", "post", f"/activities/{i}/leave-requests", json={"reason": WHY}),
        ),
        before=False,
    ),
    Case(
        "POST",
        "api/v1/activities/<activity_id:int>/makeup-requests",
        "attendance.makeup_request",
        "member",
        lambda w: _then(
            _open_activity(w),
            lambda i: w.call("member", "post", f"/activities/{i}/makeup-requests", json={"reason": WHY}),
        ),
        before=False,
    ),
    Case(
        "POST",
        "api/v1/attendance-requests/<request_id:int>/decision",
        "attendance.leave_decision",
        "staff",
        lambda w: _then(
            _leave(w),
            lambda i: w.call(
                "staff", "post", f"/attendance-requests/{i}/decision", json={"approve": True, "reason": WHY}
            ),
        ),
    ),
    # --- charity: the foundation's staff ---------------------------------------------------------------
    Case(
        "POST",
        "api/v1/orgs/<code:str>/projects",
        "project.create",
        "fund",
        lambda w: w.call(
            "fund",
            "post",
            f"/orgs/{w.fund['org'].credit_code}/projects",
            json={"title": "另一个项目", "kind": "non_public", "plan": PLAN, "target_fen": 100_000},
        ),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/status",
        "project.status",
        "fund",
        lambda w: w.call(
            "fund", "post", f"/projects/{w.fund['id']}/status", json={"status": "executing", "reason": WHY}
        ),
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/updates",
        "project.progress",
        "fund",
        lambda w: w.call("fund", "post", f"/projects/{w.fund['id']}/updates", json={"text": "已购图书200册"}),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/donations",
        "ledger.donation",
        "fund",
        lambda w: w.call("fund", "post", f"/projects/{w.fund['id']}/donations", json=donation("AUDIT-1")),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/donations/import",
        "ledger.donation_import",
        "fund",
        lambda w: w.call(
            "fund",
            "post",
            f"/projects/{w.fund['id']}/donations/import?channel=bank&apply=true",
            content="金额,捐赠时间,流水号,捐赠人\n100.00,2026-03-05 10:00,B-1,张三\n".encode(),
        ),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/expenditures",
        "ledger.expenditure",
        "fund",
        lambda w: _then(
            w.call("fund", "post", f"/projects/{w.fund['id']}/donations", json=donation("AUDIT-2")),
            lambda _: w.call("fund", "post", f"/projects/{w.fund['id']}/expenditures", json=expenditure()),
        ),
        before=False,
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/projects/<project_id:int>/corrections",
        "ledger.correction",
        "fund",
        lambda w: _then(
            w.call("fund", "post", f"/projects/{w.fund['id']}/donations", json=donation("AUDIT-3")),
            lambda r: w.call(
                "fund",
                "post",
                f"/projects/{w.fund['id']}/corrections",
                json={"reverses": r.json()["id"], "explanation": WHY},
            ),
        ),
        reason=None,
    ),
    Case(
        "POST",
        "api/v1/orgs/<code:str>/disclosures",
        "disclosure.publish",
        "fund",
        lambda w: _then(
            _annual_report_item(w),
            lambda item: w.call(
                "fund",
                "post",
                f"/orgs/{w.fund['org'].credit_code}/disclosures",
                json={"item": item, "title": "年度工作报告", "content": "全文"},
            ),
        ),
        before=False,
        reason=None,
    ),
]


async def _posting(w: World, publish: bool = True, **overrides: Any) -> int:
    """A posting of the world's organization by its staff, published unless ``publish`` is False."""
    made = await w.call("staff", "post", f"/orgs/{w.code}/postings", json=posting_body(**overrides))
    assert made.status_code == 201, made.text
    posting_id = int(made.json()["id"])
    if publish:
        published = await w.call("staff", "post", f"/postings/{posting_id}/publish")
        assert published.status_code == 200, published.text
    return posting_id


async def _image_held_for_review(w: World) -> int:
    """An image of a published posting that WeChat's media check held for review (its push recorded)."""
    posting_id = await _posting(w)
    check = await ImageCheck.create(
        trace_id=f"trace-{posting_id}",
        posting_id=posting_id,
        url="https://files.example.cn/a.jpg",
        suggest="review",
    )
    return int(check.id)


async def _pending_signup(w: World) -> int:
    posting_id = await _posting(w, admission="approval")
    signed = await w.call("member", "post", f"/postings/{posting_id}/signups", json={"answers": {}})
    assert signed.status_code == 201 and signed.json()["status"] == "pending", signed.text
    return int(signed.json()["id"])


async def _served(w: World) -> int:
    """A volunteer posting the member confirmed for, moved into the past (hours come after it began)."""
    posting_id = await _posting(w, kind="volunteer")
    signed = await w.call("member", "post", f"/postings/{posting_id}/signups", json={"answers": {}})
    assert signed.status_code == 201, signed.text
    now = datetime.now(UTC)
    await Posting.filter(id=posting_id).update(
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        signup_deadline=now - timedelta(hours=4),
    )
    return posting_id


async def _then(first: Awaitable[Any], then: Callable[[Any], Awaitable[httpx.Response]]) -> httpx.Response:
    return await then(await first)


async def _annual_report_item(w: World) -> str:
    await Project.filter(id=w.fund["id"]).update(created_at=date(2024, 2, 1))  # an annual report due
    calendar = await w.call("fund", "get", f"/orgs/{w.fund['org'].credit_code}/disclosure-calendar")
    return next(i["key"] for i in calendar.json()["items"] if i["key"].startswith("annual_report:"))


async def _open_activity(w: World) -> int:
    """An activity whose check-in opened an hour ago (a make-up is for a check-in missed)."""
    now = datetime.now(UTC)
    body = {
        "kind": "theme_day",
        "title": "已开始的主题党日",
        "branch_id": w.ids["branch"],
        "starts_at": (now - timedelta(minutes=30)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "place": "市民中心",
        "latitude": 22.5431,
        "longitude": 114.0579,
        "expected": "branch",
    }
    response = await w.call("staff", "post", f"/orgs/{w.code}/activities", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
async def world(client: httpx.AsyncClient, cache, campaign) -> World:  # noqa: F811
    views.forget_local()
    await reference.load_authorities()
    heads = {
        "officer": await officer(client, "audit-officer", "440305"),
        "admin": await platform_admin(client, "audit-admin", cache),
        "staff": await login(client, "audit-staff"),
        "member": await login(client, "audit-member"),
        "fund": campaign["staff"],
    }
    ids = {name: (await client.get("/api/v1/me", headers=h)).json()["id"] for name, h in heads.items()}
    registered = await register(client, heads["officer"])
    assert registered.status_code == 201, registered.text
    code = registered.json()["credit_code"]
    org = await Organization.get(credit_code=code)
    await accounts_service.grant_staff(
        user=await User.get(id=ids["staff"]), organization=org, role=StaffRoleKind.OWNER, actor=None
    )
    branch = await Branch.create(organization=org, name="第一党支部")
    await BranchMember.create(branch=branch, user_id=ids["member"], membership="full")
    ids["branch"] = branch.id
    return World(client=client, heads=heads, ids=ids, code=code, fund=campaign)


def test_the_table_covers_every_write_route(app):
    writes = {
        (method, route.path)
        for route in app.router.routes
        for method in route.methods
        if method in ("POST", "PUT", "PATCH", "DELETE")
    }
    covered = {(case.method, case.route) for case in CASES}
    assert covered <= writes, covered - writes  # the table names real routes
    assert writes - MEMBER_OWN == covered, sorted(writes - MEMBER_OWN - covered)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
async def test_every_write_is_audited_with_actor_before_after_and_reason(world, case):
    last = await AuditEntry.all().order_by("-id").first()
    since = last.id if last else 0
    response = await case.call(world)
    assert response.status_code in (200, 201), response.text
    entries = await AuditEntry.filter(id__gt=since, action=case.action).order_by("id")
    assert entries, f"no {case.action} entry"
    entry = entries[-1]
    assert entry.actor_id == world.ids[case.who], (entry.actor_id, case.who)
    assert entry.after not in (None, {}, []), entry.after
    if case.before:
        assert entry.before not in (None, {}, []), entry.before
    if case.reason is not None:
        assert entry.reason == case.reason, entry.reason
    assert entry.target_type and entry.target_id


async def test_an_import_that_changes_a_row_says_what_it_was(world):
    first = await world.call(
        "officer", "post", "/orgs/import?apply=true", content=_import_csv("南山区旧名协会")
    )
    assert first.json()["created"] == 1, first.text
    again = await world.call(
        "officer", "post", "/orgs/import?apply=true", content=_import_csv("南山区新名协会")
    )
    assert again.json()["updated"] == 1, again.text
    entry = await AuditEntry.filter(action="organization.import_update").get()
    assert entry.actor_id == world.ids["officer"]
    assert entry.before["name"] == "南山区旧名协会" and entry.after["name"] == "南山区新名协会"


async def _count(action: str, since: int) -> int:
    return await AuditEntry.filter(id__gt=since, action=action).count()


async def test_a_listing_change_is_audited_once_by_either_path(world):
    """A direct listing, its removal and a confirmed proposal each write exactly one entry."""
    last = await AuditEntry.all().order_by("-id").first()
    since = last.id if last else 0
    listed = await _listing(world)
    assert listed.status_code == 200, listed.text
    assert await _count("credit.list", since) == 1
    removed = await world.call(
        "officer", "post", f"/orgs/{world.code}/listings/{listed.json()['id']}/removal", json={"reason": WHY}
    )
    assert removed.status_code == 200, removed.text
    assert await _count("credit.remove", since) == 1

    proposal = await _proposal(world)
    since = (await AuditEntry.all().order_by("-id").first()).id
    decided = await world.call(
        "officer", "post", f"/credit/proposals/{proposal}/decision", json={"confirm": True, "reason": WHY}
    )
    assert decided.status_code == 200, decided.text
    entries = await AuditEntry.filter(id__gt=since).exclude(action="credit.proposal_rejected")
    listing_entries = [e for e in entries if e.action in ("credit.list", "credit.remove")]
    assert len(listing_entries) == 1, [(e.action, e.after) for e in entries]
    assert listing_entries[0].actor_id == world.ids["officer"]
    assert listing_entries[0].after
