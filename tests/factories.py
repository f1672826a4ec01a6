"""Test factories: plain async functions with overridable defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from stdnum.cn import uscc

from backend.accounts.models import User
from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.partybuilding.models import Activity
from backend.registry import qr, search_index
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


def factory_cipher() -> PersonalDataCipher:
    """The cipher of the test app's settings (the default data key), which decrypts the signing key."""
    return PersonalDataCipher(Settings(app_env="test").fernet_key)


async def make_org(
    authority: Authority | None = None, *, qr_code: bool = True, **overrides: Any
) -> Organization:
    """An organization as registering one makes it: indexed for search, with version 1 of its QR code
    (``qr_code=False``: one made before codes came with registration)."""
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
    if qr_code:
        key = await qr.active_signing_key(cipher=factory_cipher())
        await qr.first_versions([(organization.id, organization.credit_code)], key=key)[0].save()
    return organization


async def make_open_activity(
    organization: Organization | None = None, *, title: str = "测试活动", **overrides: Any
) -> Activity:
    """An open activity (anyone may check in) that began now and lasts an hour, its check-in open since
    an hour ago, at 市民中心 (22.5431, 114.0579) with a 200 m fence and 60-second codes."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "organization": organization or await make_org(await make_authority("440300")),
        "kind": "theme_day",
        "title": title,
        "starts_at": now,
        "ends_at": now + timedelta(hours=1),
        "place": "市民中心",
        "latitude": 22.5431,
        "longitude": 114.0579,
        "radius_m": 200,
        "checkin_opens_at": now - timedelta(hours=1),
        "checkin_closes_at": now + timedelta(hours=1),
        "late_after": now + timedelta(hours=1),
        "expected": "open",
        "code_secret": f"code-secret-{next(_seq):08d}-" + "x" * 24,
        "code_interval_s": 60,
    }
    fields.update(overrides)
    return await Activity.create(**fields)
