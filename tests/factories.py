"""Test factories: plain async functions with overridable defaults."""

from __future__ import annotations

import itertools
from typing import Any

from stdnum.cn import uscc

from backend.accounts.models import User
from backend.registry import search_index
from backend.registry.models import Authority, AuthorityLevel, Organization, OrgKind

_seq = itertools.count(1)


async def make_user(**overrides: Any) -> User:
    fields: dict[str, Any] = {"openid": f"o-test-{next(_seq):08d}"}
    fields.update(overrides)
    return await User.create(**fields)


async def make_authority(region_code: str = "440300", **overrides: Any) -> Authority:
    """The authority of a region: the one ``reference.load_authorities()`` made, or a new one."""
    existing = await Authority.get_or_none(region_code=region_code)
    if existing is not None:
        return existing
    fields: dict[str, Any] = {
        "region_code": region_code,
        "name": f"{region_code}民政局",
        "level": AuthorityLevel.CITY,
    }
    fields.update(overrides)
    return await Authority.create(**fields)


def credit_code(kind_digit: str = "1", region: str = "440300") -> str:
    """A valid unified social credit code of a civil-affairs organization."""
    base = f"5{kind_digit}{region}MJ{next(_seq):07d}"
    return base + uscc.calc_check_digit(base)


async def make_org(authority: Authority | None = None, **overrides: Any) -> Organization:
    authority = authority or await make_authority()
    fields: dict[str, Any] = {
        "credit_code": credit_code(region=authority.region_code),
        "name": f"测试社会组织{next(_seq)}",
        "kind": OrgKind.ASSOCIATION,
        "authority": authority,
        "region_code": authority.region_code,
    }
    fields.update(overrides)
    organization = await Organization.create(**fields)
    await search_index.sync(organization_ids=[organization.id])  # as registering one does
    return organization
