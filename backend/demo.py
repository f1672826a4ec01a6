"""Demo data for `make run`: loaded idempotently, so a second run adds nothing."""

from __future__ import annotations

from .config import Settings
from .registry.models import Authority, AuthorityLevel, Organization, OrgKind, OrgStatus

DEMO_AUTHORITIES = [
    ("100000", "中华人民共和国民政部", AuthorityLevel.NATIONAL),
    ("440000", "广东省民政厅", AuthorityLevel.PROVINCE),
    ("440300", "深圳市民政局", AuthorityLevel.CITY),
    ("440305", "深圳市南山区民政局", AuthorityLevel.COUNTY),
]

DEMO_ORG_CODE = "51440300MJL0000103"
DEMO_ORGS = [
    # credit code (valid check character), name, kind, authority region
    (DEMO_ORG_CODE, "深圳市公信志愿服务协会", OrgKind.ASSOCIATION, "440300"),
]


async def load(settings: Settings) -> list[str]:
    """Create or refresh the demo records; return a summary for the console."""
    created = 0
    authorities: dict[str, Authority] = {}
    for region_code, name, level in DEMO_AUTHORITIES:
        authority, was_created = await Authority.update_or_create(
            region_code=region_code, defaults={"name": name, "level": level}
        )
        authorities[region_code] = authority
        created += was_created
    for credit_code, name, kind, region in DEMO_ORGS:
        _, was_created = await Organization.update_or_create(
            credit_code=credit_code,
            defaults={
                "name": name,
                "kind": kind,
                "status": OrgStatus.ACTIVE,
                "authority": authorities[region],
                "region_code": region,
            },
        )
        created += was_created
    total = len(DEMO_AUTHORITIES) + len(DEMO_ORGS)
    return [f"demo data: {created} created, {total - created} already present"]
