"""Synthetic but realistic social organizations for the registry benchmarks (no database here).

Both the 100,000-organization seed of the search/verify scenarios (bench/seed.py) and the CSV of the
``import-10k`` timing come from ``organizations()``: deterministic (a seeded ``random.Random``), valid
unified social credit codes (``5`` + kind + region + a 9-character serial + the GB 32100 check
character from ``stdnum.cn.uscc``), and varied Chinese names made of a place, sometimes a street, a
theme (志愿者, 养老服务, 书画, 慈善, 青年, 体育 ...), sometimes a qualifier, and a suffix that fits the
kind (协会, 服务中心, 基金会 ...), so that a substring such as 志愿 hits a realistic few per cent.

Serials start with a prefix of their own (``MJB`` for the seed, ``MJC`` for the import file), so they
never collide with the demo data's ``MJL`` codes.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from stdnum.cn import uscc

KIND_DIGIT = {"association": "1", "social_service": "2", "foundation": "3"}
KIND_LABEL = {"association": "社会团体", "social_service": "民办非企业单位", "foundation": "基金会"}
KIND_WEIGHTS = {"association": 45, "social_service": 45, "foundation": 10}


@dataclass(frozen=True)
class Place:
    """Where organizations are registered: the code's region part, and the authority that registers them."""

    region: str  # positions 3-8 of the credit code
    authority_region: str  # the authority's region code (authorities.region_code)
    authority_name: str  # as it appears in the 登记管理机关 column
    prefix: str  # how names start (深圳市南山区...)
    streets: tuple[str, ...]
    weight: int


# Authorities: 440000 and the other provinces exist after `gongxin migrate`; 440300 and 440305 after
# `gongxin demo-data`. 440106 (天河区) has no authority of its own: the province registers there.
PLACES: tuple[Place, ...] = (
    Place(
        "440300",
        "440300",
        "深圳市民政局",
        "深圳市",
        ("福田", "罗湖", "宝安", "龙岗", "龙华", "坪山", "光明", "盐田", "华强北", "梅林", "布吉", "观澜"),
        26,
    ),
    Place(
        "440305",
        "440305",
        "深圳市南山区民政局",
        "深圳市南山区",
        ("蛇口", "粤海", "西丽", "桃源", "沙河", "招商", "南头", "南山", "前海", "科技园"),
        10,
    ),
    Place(
        "440106",
        "440000",
        "广东省民政厅",
        "广州市天河区",
        ("石牌", "五山", "员村", "车陂", "棠下", "天园", "猎德", "冼村", "林和", "沙河"),
        10,
    ),
    Place(
        "440000",
        "440000",
        "广东省民政厅",
        "广东省",
        ("岭南", "珠江", "粤港澳", "南粤", "潮汕", "客家", "粤西", "粤北"),
        10,
    ),
    Place(
        "110000",
        "110000",
        "北京市民政局",
        "北京市",
        ("朝阳", "海淀", "东城", "西城", "丰台", "通州", "中关村", "望京"),
        12,
    ),
    Place(
        "310000",
        "310000",
        "上海市民政局",
        "上海市",
        ("浦东", "徐汇", "静安", "黄浦", "长宁", "闵行", "陆家嘴", "张江"),
        12,
    ),
    Place(
        "330000",
        "330000",
        "浙江省民政厅",
        "浙江省",
        ("杭州", "宁波", "温州", "绍兴", "嘉兴", "湖州", "金华", "台州"),
        8,
    ),
    Place(
        "510000",
        "510000",
        "四川省民政厅",
        "四川省",
        ("成都", "绵阳", "德阳", "宜宾", "南充", "乐山", "泸州", "天府"),
        6,
    ),
    Place(
        "420000",
        "420000",
        "湖北省民政厅",
        "湖北省",
        ("武汉", "宜昌", "襄阳", "荆州", "黄石", "十堰", "孝感", "江汉"),
        6,
    ),
)

# Themes: 3 of the ~70 contain 志愿 (about 4 % of names), 2 contain 养老.
THEMES = (
    "志愿者", "青年志愿者", "志愿服务", "养老服务", "居家养老", "书画", "书法", "美术", "慈善", "青年",
    "体育", "篮球", "足球", "羽毛球", "乒乓球", "围棋", "象棋", "摄影", "社会工作", "心理健康",
    "环境保护", "助残", "残疾人康复", "老年人", "妇女儿童", "家庭教育", "科技", "文化", "旅游", "餐饮",
    "物业管理", "律师", "注册会计师", "电子商务", "互联网", "软件", "人工智能", "医疗器械", "中医药",
    "护理", "康复医学", "职业教育", "职业培训", "阅读推广", "音乐", "舞蹈", "戏曲", "武术", "龙舟",
    "登山", "户外运动", "跑步", "游泳", "茶文化", "海洋", "园林绿化", "花卉", "动物保护", "应急救援",
    "禁毒", "社区发展", "乡村振兴", "非物质文化遗产保护", "收藏", "集邮", "垂钓", "棋牌", "健身气功",
    "民宿", "物流", "建筑装饰",
)  # fmt: skip
QUALIFIERS = ("", "", "", "", "爱好者", "发展", "研究", "联合", "行业", "促进", "交流", "公益")
SUFFIXES = {
    "association": ("协会", "协会", "促进会", "联合会", "研究会", "学会", "商会", "联谊会"),
    "social_service": ("服务中心", "社会工作服务中心", "发展中心", "研究院", "培训中心", "俱乐部", "服务社"),
    "foundation": ("基金会", "慈善基金会", "公益基金会", "教育基金会"),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志新文斌宁海燕晨雪琳晓东"
ROADS = ("深南大道", "滨海大道", "人民路", "解放路", "中山路", "建设路", "学府路", "科技路", "文化路")
SUPERVISORS = ("", "", "", "民政局", "教育局", "体育局", "文化广电旅游局", "科技局", "卫生健康委员会")


@dataclass(frozen=True)
class OrgRow:
    credit_code: str
    name: str
    kind: str  # association | social_service | foundation
    place: Place
    registered_on: date
    legal_representative: str
    address: str
    business_scope: str
    supervising_unit: str | None
    capital_wan: int  # 万元


def credit_code(kind: str, region: str, serial: str) -> str:
    """A valid code: 5 + kind digit + region + 9-character serial + check character."""
    body = f"5{KIND_DIGIT[kind]}{region}{serial}"
    if len(body) != 17:
        raise ValueError(f"not 17 characters: {body!r}")
    return body + uscc.calc_check_digit(body)


def serial(prefix: str, number: int) -> str:
    """A 9-character organization code: the prefix, then the number in decimal digits."""
    width = 9 - len(prefix)
    if number >= 10**width:
        raise ValueError(f"{number} does not fit {width} digits after {prefix!r}")
    return f"{prefix}{number:0{width}d}"


def organizations(count: int, *, serial_prefix: str, seed: int = 20240601) -> Iterator[OrgRow]:
    """``count`` organizations with distinct codes and (almost always) distinct names."""
    rng = random.Random(seed)
    places = list(PLACES)
    place_cum = list(itertools.accumulate(p.weight for p in places))
    kinds = list(KIND_WEIGHTS)
    kind_cum = list(itertools.accumulate(KIND_WEIGHTS.values()))
    seen: set[str] = set()
    start = date(1995, 1, 1).toordinal()
    span = date(2024, 12, 31).toordinal() - start
    for number in range(count):
        place = rng.choices(places, cum_weights=place_cum)[0]
        kind = rng.choices(kinds, cum_weights=kind_cum)[0]
        theme = rng.choice(THEMES)
        name = ""
        for _ in range(8):
            street = rng.choice(place.streets) if rng.random() < 0.7 else ""
            name = f"{place.prefix}{street}{theme}{rng.choice(QUALIFIERS)}{rng.choice(SUFFIXES[kind])}"
            if name not in seen:
                break
        seen.add(name)
        supervisor = rng.choice(SUPERVISORS)
        yield OrgRow(
            credit_code=credit_code(kind, place.region, serial(serial_prefix, number)),
            name=name,
            kind=kind,
            place=place,
            registered_on=date.fromordinal(start + rng.randrange(span)),
            legal_representative=rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
            address=f"{place.prefix}{rng.choice(place.streets)}{rng.choice(ROADS)}{rng.randrange(1, 3000)}号",
            business_scope=f"{theme}领域的交流、培训、咨询服务，开展公益活动",
            supervising_unit=(place.prefix + supervisor) if supervisor else None,
            capital_wan=rng.choice((3, 5, 10, 20, 30, 50, 100, 200, 800)),
        )


CSV_HEADERS = (
    "统一社会信用代码",
    "社会组织名称",
    "社会组织类型",
    "登记管理机关",
    "成立登记日期",
    "法定代表人",
    "住所",
    "业务范围",
    "业务主管单位",
    "注册资金",
    "状态",
)


def write_csv(path: Path, rows: Iterator[OrgRow]) -> int:
    """An export as a registry office would send it: UTF-8 with BOM, Chinese headers; returns the rows."""
    written = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADERS)
        for row in rows:
            writer.writerow(
                (
                    row.credit_code,
                    row.name,
                    KIND_LABEL[row.kind],
                    row.place.authority_name,
                    row.registered_on.isoformat(),
                    row.legal_representative,
                    row.address,
                    row.business_scope,
                    row.supervising_unit or "",
                    f"{row.capital_wan}万元",
                    "正常",
                )
            )
            written += 1
    return written
