from __future__ import annotations

import pytest

from backend.registry.regions import parent_region, region_level, region_within


@pytest.mark.parametrize(
    ("code", "ancestor", "inside"),
    [
        ("440305", "440300", True),
        ("440305", "440000", True),
        ("440305", "100000", True),
        ("440305", "440305", True),
        ("440306", "440305", False),
        ("440105", "440300", False),
        ("450305", "440000", False),
        ("110101", "110000", True),  # a Beijing district: no 110100 entry is needed
        ("440300", "440305", False),
    ],
)
def test_jurisdiction_is_the_region_subtree(code, ancestor, inside):
    assert region_within(code, ancestor) is inside


def test_levels_and_parents_roll_up_to_national():
    assert [region_level(c) for c in ("100000", "440000", "440300", "440305")] == [
        "national",
        "province",
        "city",
        "county",
    ]
    chain, code = [], "440305"
    while code:
        chain.append(code)
        code = parent_region(code)
    assert chain == ["440305", "440300", "440000", "100000"]
