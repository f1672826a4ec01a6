"""GB/T 2260 region arithmetic.

Jurisdiction works on the codes themselves, not only on a table: real credit codes carry abolished
regions, the national code ``100000`` and municipal districts with no xx0100 parent in the lists.
Province ``XX0000`` contains every ``XX....``; city ``XXXX00`` contains every ``XXXX..``; a county
contains only itself; ``100000`` (national) contains everything.
"""

from __future__ import annotations

NATIONAL = "100000"


def region_level(code: str) -> str:
    """national, province, city or county."""
    if code == NATIONAL:
        return "national"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def region_within(code: str, ancestor: str) -> bool:
    """True when ``code`` lies in ``ancestor``'s subtree (a region is within itself)."""
    level = region_level(ancestor)
    if level == "national":
        return True
    if level == "province":
        return code[:2] == ancestor[:2]
    if level == "city":
        return code[:4] == ancestor[:4]
    return code == ancestor


def parent_region(code: str) -> str | None:
    """The next region up by code arithmetic: county -> city -> province -> national."""
    level = region_level(code)
    if level == "national":
        return None
    if level == "province":
        return NATIONAL
    if level == "city":
        return code[:2] + "0000"
    return code[:4] + "00"
