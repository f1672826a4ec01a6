"""Every route that takes a region code reads it with one parser: six ASCII digits, else 422."""

from __future__ import annotations

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.registry.models import Organization
from backend.registry.regions import InvalidRegionCode
from tests.conftest import error_code, login
from tests.factories import make_authority, make_org

LONGER_FORMS = ["44030000", "4403000000"]
OFFICER_ROUTES = ["/api/v1/stats/regions/{}", "/api/v1/compliance/regions/{}?period=2026-11"]


async def _user_of(client: httpx.AsyncClient, headers: dict[str, str]) -> User:
    return await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])


@pytest.fixture
async def city(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """A city officer of 440300, a platform admin and a plain member; organizations in two cities."""
    shenzhen = await make_authority("440300", name="深圳市民政局")
    guangzhou = await make_authority("440100", name="广州市民政局")
    await make_authority("440000", name="广东省民政厅", level="province")
    await make_org(shenzhen, name="深圳市甲协会")
    await make_org(guangzhou, name="广州市乙协会")
    officer = await login(client, "city-officer")
    await accounts_service.grant_officer(user=await _user_of(client, officer), authority=shenzhen, actor=None)
    admin = await login(client, "region-admin")
    await accounts_service.grant_admin(user=await _user_of(client, admin), actor=None)
    return {"officer": officer, "admin": admin, "member": await login(client, "region-member")}


@pytest.mark.parametrize("route", OFFICER_ROUTES)
async def test_a_city_officer_refused_on_the_province_is_refused_on_its_longer_forms(client, city, route):
    assert (await client.get(route.format("440300"), headers=city["officer"])).status_code == 200
    assert (await client.get(route.format("440000"), headers=city["officer"])).status_code == 403
    for longer in LONGER_FORMS:
        response = await client.get(route.format(longer), headers=city["officer"])
        assert response.status_code == 422, response.text
        assert error_code(response) == "region.invalid"


@pytest.mark.parametrize("route", OFFICER_ROUTES)
async def test_a_member_is_refused_before_the_region_is_read(client, city, route):
    for region in ("440300", *LONGER_FORMS, "abc"):
        response = await client.get(route.format(region), headers=city["member"])
        assert response.status_code == 403, response.text


@pytest.mark.parametrize("route", OFFICER_ROUTES)
async def test_a_platform_admin_reads_any_region_with_the_same_parser(client, city, route):
    for region in ("440300", "440000", "440100"):
        response = await client.get(route.format(region), headers=city["admin"])
        assert response.status_code == 200, response.text
    for malformed in (*LONGER_FORMS, "abc"):
        response = await client.get(route.format(malformed), headers=city["admin"])
        assert response.status_code == 422, response.text
        assert error_code(response) == "region.invalid"


async def test_a_platform_admin_reads_the_statistics_of_the_region_asked(client, city):
    province = (await client.get("/api/v1/stats/regions/440000", headers=city["admin"])).json()
    assert province["region"]["region_code"] == "440000" and province["region"]["total"] == 2
    other_city = (await client.get("/api/v1/stats/regions/440100", headers=city["admin"])).json()
    assert other_city["region"]["region_code"] == "440100" and other_city["region"]["total"] == 1


async def test_statistics_of_the_city_count_only_the_city(client, city):
    body = (await client.get("/api/v1/stats/regions/440300", headers=city["officer"])).json()
    assert body["region"]["region_code"] == "440300" and body["region"]["total"] == 1
    assert await Organization.all().count() == 2


@pytest.mark.parametrize("region", [*LONGER_FORMS, "４４０３００", "4403"])
async def test_search_refuses_a_region_that_is_not_six_digits(client, city, region):
    response = await client.get("/api/v1/orgs", params={"region": region})
    assert response.status_code == 422 and error_code(response) == "region.invalid"


async def test_authority_creation_and_officer_grants_refuse_longer_codes(client, city):
    created = await client.post(
        "/api/v1/admin/authorities",
        json={"region_code": "44030500", "name": "深圳市南山区民政局"},
        headers=city["admin"],
    )
    assert created.status_code == 422 and error_code(created) == "region.invalid"
    member = await _user_of(client, city["member"])
    granted = await client.post(
        "/api/v1/admin/roles",
        json={"kind": "officer", "user_id": member.id, "authority_region_code": "44030000"},
        headers=city["admin"],
    )
    assert granted.status_code == 422 and error_code(granted) == "region.invalid"
    # The console's `grant officer --authority` goes through the same lookup.
    with pytest.raises(InvalidRegionCode):
        await accounts_service.get_authority(region_code="4403000000")
