"""The /p/ disclosure page: content in Python, then in headless chromium with a screenshot kept."""

from __future__ import annotations

from typing import Any

from PIL import Image

from miniprogram_api.h5.project import render_project_page
from tests.h5.browser import dump_dom, screenshot
from tests.h5.test_render import (
    HOSTILE,
    _external_references,
    _probe,
    _text_of,
    _with_probe,
    contrast,
)


def make_project_view(**changes: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": 12,
        "credit_code": "53440300MJL000007H",
        "organization": {"credit_code": "53440300MJL000007H", "name": "深圳市青少年发展基金会"},
        "title": "山区学校图书角",
        "kind": "public_campaign",
        "kind_label": "公开募捐",
        "filing_number": "53440300MJL000007HA2026001",
        "plan": {
            "purpose": "为粤北山区小学建设图书角",
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "region": "广东省",
            "beneficiaries": "粤北山区小学学生约1200人",
            "use_of_funds": "购书、书架与运输",
            "costs": "募捐成本不超过5%",
            "leftover_funds": "转入同类项目",
        },
        "target_fen": 50_000_000,
        "status": "fundraising",
        "status_label": "募捐中",
        "raised_fen": 12_345_678,
        "spent_fen": 4_000_000,
        "balance_fen": 8_345_678,
        "donor_count": 321,
        "entry_count": 330,
        "by_category": [
            {"category": "goods", "label": "物资采购", "spent_fen": 3_000_000},
            {"category": "management", "label": "管理费用", "spent_fen": 1_000_000},
        ],
        "by_month": [
            {"month": "2026-01", "raised_fen": 2_000_000, "spent_fen": 0},
            {"month": "2026-02", "raised_fen": 5_000_000, "spent_fen": 1_000_000},
            {"month": "2026-03", "raised_fen": 5_345_678, "spent_fen": 3_000_000},
        ],
        "progress": [
            {"id": 1, "text": "第一批图书已送达连南县三所小学", "published_at": "2026-03-20T02:00:00Z"}
        ],
    }
    view.update(changes)
    return view


ENTRIES = [
    {"id": 3, "kind": "correction", "amount_fen": 500, "reverses": 2, "explanation": "重复录入，予以冲销"},
    {
        "id": 2,
        "kind": "donation",
        "amount_fen": 500,
        "received_at": "2026-03-05T02:30:00Z",
        "channel": "wechat_pay",
        "donor": "匿名",
        "reversed_by": 3,
    },
    {
        "id": 1,
        "kind": "expenditure",
        "amount_fen": 3_000_000,
        "category": "goods",
        "category_label": "物资采购",
        "payee": "某图书公司",
        "paid_on": "2026-03-10",
        "purpose": "采购图书",
        "advance": False,
    },
]


def test_page_shows_totals_chart_and_ledger():
    page = render_project_page(make_project_view(), ENTRIES, base_url="https://gongxin.example.cn")
    text = " ".join(_text_of(page).split())
    assert "123,456.78元" in text and "40,000.00元" in text and "83,456.78元" in text
    assert page.count("<svg") >= 2 and "<script" not in page
    assert "已被第 3 号更正冲销" in text and "冲销第 2 号记录" in text
    assert "53440300MJL000007HA2026001" in text


def test_hostile_text_is_escaped():
    page = render_project_page(
        make_project_view(title=HOSTILE, by_category=[{"category": "x", "label": HOSTILE, "spent_fen": 1}]),
        [],
        base_url="",
    )
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_chromium_renders_the_project_page(chromium, artifacts, tmp_path):
    page = render_project_page(make_project_view(), ENTRIES, base_url="https://gongxin.example.cn")
    path = tmp_path / "project.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(path)
    assert '<html lang="zh-CN">' in dom and "<script" not in dom
    assert _external_references(dom) == []
    probe_path = tmp_path / "project-probe.html"
    probe_path.write_text(
        _with_probe(
            page.replace(
                '<section class="card" aria-label="项目概况">',
                '<section class="verdict card" aria-label="项目概况">',
                1,
            )
        ),
        encoding="utf-8",
    )
    probe = _probe(dump_dom(probe_path))
    assert probe["body"] >= 16
    for t in probe["texts"]:
        assert t["size"] >= 16, t
        assert contrast(t["color"], t["bg"]) >= 4.5, t
    assert probe["scrollWidth"] <= probe["width"], "the page scrolls sideways on a phone"
    shot = artifacts / "h5-project.png"
    screenshot(path, shot)
    assert Image.open(shot).size == (390, 844)
    screenshot(path, artifacts / "h5-project-full.png", height=2600)
