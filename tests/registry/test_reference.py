"""The regions and authorities Gongxin ships, and how an import's 登记管理机关 text finds its authority."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from backend.registry import importer, imports, reference
from backend.registry.authorities import AuthorityResolver
from backend.registry.models import Authority, Organization
from tests.factories import factory_cipher
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row

MCA_2024 = Path(__file__).resolve().parents[3] / "shared" / "data" / "gb2260_mca_2024.csv"
MAINLAND_EXCLUDED = ("71", "81", "82")


@pytest.fixture(scope="module")
def mca_2024() -> dict[str, str]:
    """The Ministry's 2024 list (code -> name); the test skips where ../shared/data is absent."""
    if not MCA_2024.exists():
        pytest.skip(f"{MCA_2024} is not here")
    with MCA_2024.open(encoding="utf-8") as handle:
        return {r["code"]: r["name"] for r in csv.DictReader(handle)}


def test_the_shipped_regions_are_the_ministrys_2024_list(mca_2024):
    shipped = dict(reference.region_names())
    assert shipped.pop("100000") == "全国"
    for grouping in reference.MUNICIPAL_GROUPINGS:
        shipped.pop(grouping)
    assert shipped == mca_2024


def test_every_mainland_region_of_2024_has_its_authority(mca_2024):
    shipped = {code for code, _, _ in reference.authority_rows()}
    mainland = {code for code in mca_2024 if not code.startswith(MAINLAND_EXCLUDED)}
    assert shipped == mainland | {"100000"}
    assert len(shipped) > 3_000


def test_authority_names_are_unique_and_as_certificates_give_them():
    names = {code: name for code, name, _ in reference.authority_rows()}
    assert len(set(names.values())) == len(names)
    assert {code: names[code] for code in ("100000", "440000", "110000", "350500", "350783")} == {
        "100000": "中华人民共和国民政部",
        "440000": "广东省民政厅",
        "110000": "北京市民政局",
        "350500": "泉州市民政局",
        "350783": "建瓯市民政局",
    }
    assert names["440305"] == "深圳市南山区民政局"
    assert names["110105"] == "北京市朝阳区民政局"
    assert names["440606"] == "佛山市顺德区民政和人力资源社会保障局"
    assert "540422" not in names and names["540481"] == "米林市民政局"


@pytest.fixture(scope="module")
def resolver() -> AuthorityResolver:
    return AuthorityResolver(
        Authority(region_code=code, name=name, level=level)
        for code, name, level in reference.authority_rows()
    )


@pytest.mark.parametrize(
    ("text", "code_region", "expected"),
    [
        ("泉州市民政局", "350500", "350500"),
        ("福建省泉州市民政局", "350500", "350500"),
        ("建瓯市民政局", "350783", "350783"),
        ("佛山市顺德区民政和人力资源社会保障局", "440606", "440606"),
        ("上海市社会团体管理局", "310000", "310000"),
        ("民政部", "100000", "100000"),
        ("广东省民政局", "440000", "440000"),  # a 厅 written as 局
        ("广东省民政厅", "440300", "440000"),  # the name wins over the code's region
        ("南山区民政局", "440305", "440305"),
        ("深圳市 南山区民政局", "440305", "440305"),
        ("鼓楼区民政局", "350102", "350102"),  # four cities have a 鼓楼区: the code's region settles it
        ("440305", "440300", "440305"),
        ("", "350500", "350500"),
        ("暂无", "350783", "350783"),
        (None, "540422", "540481"),  # an abolished region part: its successor
        ("某某新区社会事务局", "350500", "350500"),  # an unknown name: the code's region
    ],
)
def test_an_authority_is_found_by_name_alias_code_or_the_codes_region(resolver, text, code_region, expected):
    found = resolver.resolve(text, code_region)
    assert found is not None and found.region_code == expected


@pytest.mark.parametrize(
    ("text", "code_region"), [("鼓楼区民政局", "440300"), ("990100", "440300"), ("", "990100")]
)
def test_an_ambiguous_or_unknown_authority_is_none(resolver, text, code_region):
    assert resolver.resolve(text, code_region) is None


async def test_a_national_sample_with_city_and_county_authorities_imports(db, cache):
    await reference.load_authorities()
    rows = [
        row(
            make_code("foundation", region="350500", serial=1),
            kind="基金会",
            name="泉州市慈善总会基金会",
            authority="泉州市民政局",
        ),
        row(
            make_code("foundation", region="350783", serial=2),
            kind="基金会",
            name="建瓯市教育基金会",
            authority="建瓯市民政局",
        ),
        row(
            make_code("foundation", region="440606", serial=3),
            kind="基金会",
            name="佛山市顺德区慈善基金会",
            authority="佛山市顺德区民政和人力资源社会保障局",
        ),
        row(
            make_code("foundation", region="310000", serial=4),
            kind="基金会",
            name="上海某公益基金会",
            authority="上海市社会团体管理局",
        ),
        row(
            make_code("foundation", region="350500", serial=5),
            kind="基金会",
            name="泉州市助学基金会",
            authority="暂无",
        ),
    ]
    parsed = importer.parse_bytes(csv_bytes([CN_HEADER, *rows]), filename="sample.csv")
    result = await imports.apply_import(
        parsed=parsed, actor=None, apply=True, cipher=factory_cipher(), cache=cache
    )
    assert result.applied and not result.errors, result.report()
    regions = await Organization.all().order_by("name").values_list("name", "authority__region_code")
    assert dict(regions) == {
        "上海某公益基金会": "310000",
        "佛山市顺德区慈善基金会": "440606",
        "建瓯市教育基金会": "350783",
        "泉州市助学基金会": "350500",
        "泉州市慈善总会基金会": "350500",
    }
