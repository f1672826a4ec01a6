"""A foundation with public-fundraising qualification, its staff, and a campaign open for donations."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind, User
from backend.charity import views
from backend.registry.models import OrgKind, Qualification, QualificationKind
from tests.conftest import login
from tests.factories import credit_code, make_authority, make_org

PLAN = {
    "purpose": "为山区学校购置图书",
    "period_start": "2026-01-01",
    "period_end": "2026-12-31",
    "region": "广东省",
    "beneficiaries": "粤北山区小学学生",
    "use_of_funds": "购书与运输",
    "costs": "募捐成本不超过募得款物的5%",
    "leftover_funds": "转入同类项目",
}


def donation(ref: str = "WX-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_fen": 10_000,
        "received_at": "2026-03-05T10:30:00+08:00",
        "channel": "wechat_pay",
        "external_ref": ref,
        "donor_name": "张三丰",
        "donor_display": "masked",
    }
    body.update(overrides)
    return body


def expenditure(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_fen": 3_000,
        "category": "goods",
        "payee": "广州某某图书有限公司",
        "paid_on": "2026-04-01",
        "purpose": "采购图书200册",
        "receipt_sha256": "a" * 64,
        "receipt_url": "https://files.example.cn/r/1.pdf",
    }
    body.update(overrides)
    return body


async def user_of(client: httpx.AsyncClient, headers: dict[str, str]) -> User:
    return await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])


@pytest.fixture(autouse=True)
def _forget_local_copies(request: pytest.FixtureRequest) -> None:
    # Tables are truncated between tests and ids restart: this process's half-second copies must go too.
    views.forget_local()


@pytest.fixture
async def foundation(client: httpx.AsyncClient) -> dict[str, Any]:
    authority = await make_authority("440300", name="深圳市民政局")
    org = await make_org(authority, kind=OrgKind.FOUNDATION, credit_code=credit_code("3"))
    await Qualification.create(
        organization=org, kind=QualificationKind.PUBLIC_FUNDRAISING, granted_on=date(2020, 1, 1)
    )
    staff = await login(client, "fund-staff")
    await accounts_service.grant_staff(
        user=await user_of(client, staff), organization=org, role=StaffRoleKind.OWNER, actor=None
    )
    return {"org": org, "authority": authority, "staff": staff}


@pytest.fixture
async def campaign(client: httpx.AsyncClient, foundation: dict[str, Any]) -> dict[str, Any]:
    """A public campaign moved to fundraising."""
    org, staff = foundation["org"], foundation["staff"]
    body = {
        "title": "山区图书角",
        "kind": "public_campaign",
        "filing_number": f"{org.credit_code}A001",
        "plan": PLAN,
        "target_fen": 1_000_000,
    }
    response = await client.post(f"/api/v1/orgs/{org.credit_code}/projects", json=body, headers=staff)
    assert response.status_code == 201, response.text
    project = response.json()
    response = await client.post(
        f"/api/v1/projects/{project['id']}/status",
        json={"status": "fundraising", "reason": "备案完成"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    return {**foundation, "project": project, "id": project["id"]}
