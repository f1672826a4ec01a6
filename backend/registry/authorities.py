"""Which registration authority a row of an import names.

Exports from real registries write the 登记管理机关 column in many ways: 泉州市民政局, 福建省泉州市民政局,
南山区民政局 or 深圳市南山区民政局, a province's 厅 written as 局, a bureau whose name is not "X民政局" at
all (佛山市顺德区民政和人力资源社会保障局), the region code itself, or nothing ("", 暂无). The resolver
reads, in order:

1. blank or a placeholder: the authority of the credit code's region part (positions 3-8), which
   is the region of the authority that issued the code (an abolished region: its successor);
2. six digits: the authority of that region code;
3. a name: an authority's own name, an alias below, or "<region>民政局 / 民政厅" where <region> is
   the region's name with or without its city and province in front. A short name that fits
   several regions (鼓楼区民政局: four cities have a 鼓楼区) is settled by the credit code's region:
   the candidate whose subtree holds it;
4. a name it cannot place: the authority of the credit code's region, as in (1).

None when nothing fits; the import reports the row.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

from .models import Authority
from .reference import MUNICIPAL_GROUPINGS, REGION_SUCCESSORS, region_names
from .regions import NATIONAL, is_region_code, region_level, region_within

# Registration authorities whose name is not "<region>民政局/民政厅", and other names in real exports.
ALIASES: dict[str, str] = {
    "中华人民共和国民政部": NATIONAL,
    "民政部": NATIONAL,
    "国家民政部": NATIONAL,
    "民政部社会组织管理局": NATIONAL,  # the Ministry's bureau that registers national organizations
    "上海市社会团体管理局": "310000",  # Shanghai's registration authority for city-level organizations
    "北京市社会团体管理办公室": "110000",  # Beijing's, before it became part of 北京市民政局
    "佛山市顺德区民政和人力资源社会保障局": "440606",  # Shunde merged civil affairs and human resources
}
# What exports write when the authority is unknown.
PLACEHOLDERS = {"", "暂无", "无", "未知", "不详", "-", "--", "—", "/", "n/a", "na", "null", "none"}
_SUFFIXES = ("民政局", "民政厅")
_SPACE = re.compile(r"\s+")


def _key(text: str) -> str:
    """Comparison key: NFKC (full-width forms), no whitespace, case folded (n/a, NULL)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _region_spellings(code: str, names: dict[str, str]) -> set[str]:
    """A region's name alone and with its city and province in front (南山区, 深圳市南山区 ...)."""
    name = names.get(code)
    if name is None or code == NATIONAL:
        return set()
    level = region_level(code)
    province = names.get(code[:2] + "0000") if level != "province" else None
    city_code = code[:4] + "00"
    city = names.get(city_code) if level == "county" and city_code not in MUNICIPAL_GROUPINGS else None
    spellings = {name}
    for prefix in (province, city, (province or "") + (city or "") if province and city else None):
        if prefix:
            spellings.add(prefix + name)
    return spellings


class AuthorityResolver:
    """Resolves 登记管理机关 texts against the authorities that exist (build one per import)."""

    def __init__(self, authorities: Iterable[Authority]) -> None:
        names = region_names()
        self.by_region: dict[str, Authority] = {a.region_code: a for a in authorities}
        self.by_key: dict[str, set[str]] = defaultdict(set)
        for code, authority in self.by_region.items():
            self.by_key[_key(authority.name)].add(code)
            for spelling in _region_spellings(code, names):
                for suffix in _SUFFIXES:
                    self.by_key[_key(spelling + suffix)].add(code)
        for alias, code in ALIASES.items():
            if code in self.by_region:
                self.by_key[_key(alias)].add(code)

    @classmethod
    async def load(cls) -> AuthorityResolver:
        """A resolver over every authority in the database."""
        return cls(await Authority.all())

    def by_code_region(self, region_code: str) -> Authority | None:
        """The authority of a credit code's region part (an abolished region: its successor's)."""
        return self.by_region.get(REGION_SUCCESSORS.get(region_code, region_code))

    def resolve(self, text: str | None, code_region: str) -> Authority | None:
        """The authority ``text`` names, for an organization whose credit code carries ``code_region``."""
        key = _key(text or "")
        if key in PLACEHOLDERS:
            return self.by_code_region(code_region)
        if is_region_code(key):
            return self.by_region.get(key)
        candidates = self.by_key.get(key, set())
        if len(candidates) == 1:
            return self.by_region[next(iter(candidates))]
        if candidates:
            holding = [c for c in candidates if region_within(code_region, c)]
            return self.by_region[holding[0]] if len(holding) == 1 else None
        return self.by_code_region(code_region)
