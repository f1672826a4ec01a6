"""Statistics for officers: counts by kind, status and credit state, rolled up the region tree."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tortoise.functions import Count

from ..accounts.models import User
from ..accounts.permissions import require_officer_for_region
from .models import Organization
from .reference import region_names_of
from .regions import NATIONAL, region_level, subtree_filter


def child_of(region_code: str, ancestor: str) -> str | None:
    """The child of ``ancestor`` under which ``region_code`` rolls up (None for the ancestor itself)."""
    if region_code == ancestor:
        return None
    level = region_level(ancestor)
    if level == "national":
        return region_code[:2] + "0000" if region_code != NATIONAL else None
    if level == "province":
        return region_code[:4] + "00" if region_code[:4] + "00" != ancestor else region_code
    return region_code


def _counts(name: str | None, code: str, counters: dict[str, Counter[str]]) -> dict[str, Any]:
    return {
        "region_code": code,
        "name": name,
        "total": sum(counters["kind"].values()),
        "by_kind": dict(counters["kind"]),
        "by_status": dict(counters["status"]),
        "by_credit_state": dict(counters["credit_state"]),
    }


async def region_statistics(*, actor: User, region_code: str) -> dict[str, Any]:
    """Counts for a region subtree, broken down by child region (county, city, province, national)."""
    region = await require_officer_for_region(actor, region_code)
    rows = (
        await Organization.filter(subtree_filter([region], "region_code"))
        .annotate(n=Count("id"))
        .group_by("region_code", "kind", "status", "credit_state")
        .values("region_code", "kind", "status", "credit_state", "n")
    )
    total: dict[str, Counter[str]] = defaultdict(Counter)
    children: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for row in rows:
        child = child_of(row["region_code"], region)
        for dimension in ("kind", "status", "credit_state"):
            total[dimension][row[dimension]] += row["n"]
            if child is not None:
                children[child][dimension][row[dimension]] += row["n"]
    names = await region_names_of({region, *children})
    return {
        "region": _counts(names.get(region, "全国" if region == NATIONAL else None), region, total),
        "children": [_counts(names.get(code), code, children[code]) for code in sorted(children)],
    }
