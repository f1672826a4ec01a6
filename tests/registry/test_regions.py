from __future__ import annotations

import pytest

from backend.registry.regions import (
    InvalidRegionCode,
    parent_region,
    parse_region,
    region_level,
    region_within,
    subtree_filter,
)


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


@pytest.mark.parametrize("text", ["440300", "100000", "110101"])
def test_six_ascii_digits_parse_as_themselves(text):
    assert parse_region(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "44030000",
        "4403000000",
        "4403",
        "",
        " 440300",
        "440300 ",
        "４４０３００",
        "٤٤٠٣٠٠",
        "44O300",
        None,
        440300,
    ],
)
def test_anything_but_six_ascii_digits_is_refused(text):
    with pytest.raises(InvalidRegionCode) as caught:
        parse_region(text)
    assert caught.value.code == "region.invalid" and caught.value.status == 422


@pytest.mark.parametrize("longer", ["44030000", "4403000000"])
def test_the_tree_arithmetic_refuses_longer_codes_instead_of_widening(longer):
    with pytest.raises(InvalidRegionCode):
        region_within("440305", longer)
    with pytest.raises(InvalidRegionCode):
        region_within(longer, "440300")
    with pytest.raises(InvalidRegionCode):
        subtree_filter([longer], "region_code")
