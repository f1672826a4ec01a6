"""Role checks shared by every domain. Jurisdiction is the authority's region subtree."""

from __future__ import annotations

from ..errors import Forbidden
from ..registry.models import Organization
from ..registry.regions import parse_region, region_within
from .models import OfficerRole, StaffRole, User


class NotPlatformAdmin(Forbidden):
    code = "auth.admin_required"
    message = "仅平台管理员可执行此操作 / Only a platform admin may do this"


class OutsideJurisdiction(Forbidden):
    code = "auth.outside_jurisdiction"
    message = "不在您所属登记管理机关的管辖范围内 / Outside your authority's jurisdiction"


class NotOrganizationStaff(Forbidden):
    code = "auth.staff_required"
    message = "仅该组织的管理人员可执行此操作 / Only this organization's staff may do this"


class NotAnOfficer(Forbidden):
    code = "auth.officer_required"
    message = "仅登记管理机关工作人员可执行此操作 / Only registry officers may do this"


def require_platform_admin(user: User) -> None:
    if not user.is_platform_admin:
        raise NotPlatformAdmin()


async def officer_region_codes(user: User) -> list[str]:
    """The region codes of the authorities the user works for."""
    return list(
        await OfficerRole.filter(user=user).values_list("authority__region_code", flat=True)  # type: ignore[arg-type]
    )


async def require_any_officer(user: User) -> None:
    """Allow a platform admin or an officer of any authority: the role, checked before a request's body
    is read; the service checks the jurisdiction."""
    if not user.is_platform_admin and not await OfficerRole.filter(user=user).exists():
        raise NotAnOfficer()


async def require_any_staff(user: User) -> None:
    """Allow the staff (owner or admin) of any organization: the role, checked before a request's body
    is read; the service checks the organization."""
    if not await StaffRole.filter(user=user).exists():
        raise NotOrganizationStaff()


async def require_any_staff_or_officer(user: User) -> None:
    """Allow the staff of any organization, an officer of any authority or a platform admin: the role,
    checked before a request's query is read; the service checks the organization or jurisdiction."""
    if user.is_platform_admin or await StaffRole.filter(user=user).exists():
        return
    if not await OfficerRole.filter(user=user).exists():
        raise NotOrganizationStaff()


async def require_officer_for_region(user: User, region_code: str) -> str:
    """Allow an officer whose authority's region contains ``region_code`` (or a platform admin).

    Returns the parsed code, which the caller's query must use: the check and the query then read
    the same region. A user who is no officer at all is refused (403) before the code is read; an
    officer gets 422 ``region.invalid`` for a malformed one.
    """
    if user.is_platform_admin:
        return parse_region(region_code)
    own = await officer_region_codes(user)
    if not own:
        raise OutsideJurisdiction()
    region = parse_region(region_code)
    if not any(region_within(region, code) for code in own):
        raise OutsideJurisdiction()
    return region


async def require_staff(user: User, organization: Organization) -> StaffRole:
    """Allow the organization's owner or admins."""
    role = await StaffRole.get_or_none(user=user, organization=organization)
    if role is None:
        raise NotOrganizationStaff()
    return role
