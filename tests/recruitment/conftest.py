"""An organization with its staff, and helpers to post, publish and sign up through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind, User
from tests.conftest import login
from tests.factories import make_authority, make_org


async def user_of(client: httpx.AsyncClient, headers: dict[str, str]) -> User:
    return await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])


def posting_body(**overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    body: dict[str, Any] = {
        "kind": "activity",
        "title": "社区读书会",
        "body": "周末一起读书，欢迎报名。",
        "images": ["https://files.example.cn/poster.jpg"],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "place": "深圳市南山区图书馆",
        "latitude": 22.53,
        "longitude": 113.93,
        "capacity": 3,
        "signup_deadline": (start - timedelta(days=1)).isoformat(),
        "admission": "first_come",
        "questions": [],
    }
    body.update(overrides)
    return body


@pytest.fixture
async def org(client: httpx.AsyncClient) -> dict[str, Any]:
    authority = await make_authority("440305", name="深圳市南山区民政局", level="county")
    organization = await make_org(authority)
    staff = await login(client, "recruit-staff")
    await accounts_service.grant_staff(
        user=await user_of(client, staff), organization=organization, role=StaffRoleKind.OWNER, actor=None
    )
    return {"org": organization, "code": organization.credit_code, "staff": staff}


async def open_posting(client: httpx.AsyncClient, org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A posting created and published by the organization's staff (it passes WeChat's check)."""
    created = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(**overrides), headers=org["staff"]
    )
    assert created.status_code == 201, created.text
    published = await client.post(f"/api/v1/postings/{created.json()['id']}/publish", headers=org["staff"])
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "open"
    return published.json()


async def members(client: httpx.AsyncClient, n: int, prefix: str = "m") -> list[dict[str, str]]:
    return [await login(client, f"{prefix}{i}") for i in range(n)]
