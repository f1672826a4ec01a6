"""Each role gate of backend/accounts/permissions.py, called directly: who passes and who is refused.

The route tables (tests/partybuilding/test_authorization.py, tests/registry/test_region_codes_api.py,
the officer and charity API tests) show the gates at work behind HTTP; these tests pin each gate on
its own, fast enough for the mutation run's ``permissions`` group (tests/MUTATION.md), which found
the gates used by the officer, charity and recruitment routes reached by no test of the group.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts import permissions
from backend.accounts.models import OfficerRole, StaffRole, StaffRoleKind
from backend.registry.regions import InvalidRegionCode
from tests.factories import make_authority, make_org, make_user


@pytest.fixture
async def people(db) -> dict[str, Any]:
    shenzhen, guangzhou = await make_authority("440300"), await make_authority("440100")
    await make_authority("440000", level="province")
    ours, theirs = await make_org(shenzhen), await make_org(guangzhou)
    owner, staff_admin, officer, two_cities, admin, member = [await make_user() for _ in range(6)]
    await StaffRole.create(user=owner, organization=ours, role=StaffRoleKind.OWNER)
    await StaffRole.create(user=staff_admin, organization=ours, role=StaffRoleKind.ADMIN)
    await OfficerRole.create(user=officer, authority=shenzhen)
    await OfficerRole.create(user=two_cities, authority=shenzhen)
    await OfficerRole.create(user=two_cities, authority=guangzhou)
    admin.is_platform_admin = True
    await admin.save()
    return {
        "ours": ours,
        "theirs": theirs,
        "owner": owner,
        "staff_admin": staff_admin,
        "officer": officer,
        "two_cities": two_cities,
        "admin": admin,
        "member": member,
    }


async def test_only_a_platform_admin_passes_the_admin_gate(people):
    permissions.require_platform_admin(people["admin"])
    for who in ("owner", "officer", "two_cities", "member"):
        with pytest.raises(permissions.NotPlatformAdmin) as refused:
            permissions.require_platform_admin(people[who])
        assert refused.value.code == "auth.admin_required" and refused.value.status == 403


async def test_any_officer_or_a_platform_admin_passes_the_officer_gate(people):
    for who in ("officer", "two_cities", "admin"):
        await permissions.require_any_officer(people[who])
    for who in ("owner", "staff_admin", "member"):
        with pytest.raises(permissions.NotAnOfficer) as refused:
            await permissions.require_any_officer(people[who])
        assert refused.value.code == "auth.officer_required"


async def test_only_staff_pass_the_staff_gate(people):
    for who in ("owner", "staff_admin"):
        await permissions.require_any_staff(people[who])
    for who in ("officer", "admin", "member"):
        with pytest.raises(permissions.NotOrganizationStaff) as refused:
            await permissions.require_any_staff(people[who])
        assert refused.value.code == "auth.staff_required"


async def test_staff_officers_and_admins_pass_the_staff_or_officer_gate(people):
    for who in ("owner", "staff_admin", "officer", "two_cities", "admin"):
        await permissions.require_any_staff_or_officer(people[who])
    with pytest.raises(permissions.NotOrganizationStaff):
        await permissions.require_any_staff_or_officer(people["member"])


async def test_the_staff_of_an_organization_are_its_own_only(people):
    assert (await permissions.require_staff(people["owner"], people["ours"])).role == StaffRoleKind.OWNER
    assert (
        await permissions.require_staff(people["staff_admin"], people["ours"])
    ).role == StaffRoleKind.ADMIN
    for who, org in (("owner", "theirs"), ("officer", "ours"), ("admin", "ours"), ("member", "ours")):
        with pytest.raises(permissions.NotOrganizationStaff):
            await permissions.require_staff(people[who], people[org])


async def test_an_officer_reads_the_regions_of_each_of_its_authorities(people):
    assert await permissions.officer_region_codes(people["officer"]) == ["440300"]
    assert sorted(await permissions.officer_region_codes(people["two_cities"])) == ["440100", "440300"]
    assert await permissions.officer_region_codes(people["member"]) == []


async def test_the_region_gate_admits_the_jurisdiction_and_returns_the_parsed_code(people):
    check = permissions.require_officer_for_region
    assert await check(people["officer"], "440300") == "440300"
    assert await check(people["officer"], "440305") == "440305"  # a district of the city
    for outside in ("440000", "440100", "110000"):
        with pytest.raises(permissions.OutsideJurisdiction) as refused:
            await check(people["officer"], outside)
        assert refused.value.code == "auth.outside_jurisdiction"
    assert await check(people["two_cities"], "440100") == "440100"  # any of its authorities
    assert await check(people["two_cities"], "440305") == "440305"
    with pytest.raises(permissions.OutsideJurisdiction):
        await check(people["two_cities"], "440000")
    for malformed in ("44030000", "4403", "abc"):
        with pytest.raises(InvalidRegionCode):
            await check(people["officer"], malformed)


async def test_a_platform_admin_passes_the_region_gate_for_any_well_formed_code(people):
    for region in ("440000", "440300", "110000", "100000"):
        assert await permissions.require_officer_for_region(people["admin"], region) == region
    for malformed in ("44030000", "4403", "abc"):
        with pytest.raises(InvalidRegionCode):
            await permissions.require_officer_for_region(people["admin"], malformed)


async def test_who_is_no_officer_is_refused_before_the_code_is_read(people):
    for who in ("owner", "member"):
        for region in ("440300", "44030000", "abc"):
            with pytest.raises(permissions.OutsideJurisdiction):
                await permissions.require_officer_for_region(people[who], region)
