"""The H5 verification page: content rules in Python, then the real thing in headless chromium."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from miniprogram_api.h5 import render_error_page, render_verification_page
from miniprogram_api.h5.render import BASE_FONT_SIZE_PX, COLORS, CSP, VERDICTS, format_capital
from tests.h5.browser import dump_dom, screenshot
from tests.h5.conftest import CREDIT_CODE, ORG_NAME, make_view

ALL_VERDICTS = list(VERDICTS)
HOSTILE = "<script>alert(1)</script>"


# --- colour arithmetic (WCAG 2.x) ---------------------------------------------------------------


def _channels(color: str) -> tuple[float, ...]:
    if color.startswith("#"):
        return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(float(v) for v in re.findall(r"[\d.]+", color)[:3])


def _luminance(color: str) -> float:
    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


# --- static checks on the HTML ------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _external_references(page: str) -> list[str]:
    found = re.findall(
        r"""(?:src|href|srcset|action|data|poster)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]*)""", page, re.I
    )
    found += re.findall(r"url\(|@import", page, re.I)
    return found


def _text_of(page: str) -> str:
    return "".join(_parse(page).text)


@pytest.mark.parametrize("verdict", ALL_VERDICTS)
def test_banner_shows_symbol_words_and_summary(verdict):
    page = render_verification_page(make_view(verdict))
    text = _text_of(page)
    assert VERDICTS[verdict].banner in " ".join(text.split())
    assert VERDICTS[verdict].summary in text
    assert f'class="verdict verdict--{verdict}"' in page


@pytest.mark.parametrize("verdict", ["good_standing", "warnings", "not_in_good_standing"])
def test_genuine_verdicts_show_the_public_record(verdict):
    text = _text_of(render_verification_page(make_view(verdict)))
    for expected in (
        ORG_NAME,
        CREDIT_CODE,
        "社会团体",
        "张三",
        "深圳市民政局",
        "2019年5月1日",
        "深圳市南山区科学技术协会",
    ):
        assert expected in text
    assert "300万元（3,000,000.00元）" in text
    assert "核验时间：2026年11月29日 09:30（北京时间）" in text
    assert "/.well-known/gongxin-keys.json" in text


def test_reasons_are_listed_in_the_banner():
    text = _text_of(render_verification_page(make_view("warnings")))
    assert "列入活动异常名录：未按时提交年度报告" in text
    assert "公开募捐资格已于2026年3月1日过期" in text


def test_not_genuine_never_shows_the_organization():
    view = make_view("not_genuine")
    assert view["organization"]["name"] == ORG_NAME  # the view carries it; the page must not
    page = render_verification_page(view)
    for secret in (ORG_NAME, CREDIT_CODE, "张三", "深圳市民政局", "4A", "300万元", "公开募捐资格"):
        assert secret not in page
    assert "二维码签名无效，可能被伪造或篡改" in page


@pytest.mark.parametrize("verdict", [None, "", "GOOD_STANDING", "verified", ["good_standing"]])
def test_unknown_verdict_is_shown_as_not_genuine(verdict):
    view = make_view("good_standing")
    view["verdict"] = verdict
    page = render_verification_page(view)
    assert VERDICTS["not_genuine"].title in page
    assert ORG_NAME not in page


def test_revoked_organization_shows_penalties_and_current_serious_listing():
    text = _text_of(render_verification_page(make_view("not_in_good_standing")))
    assert "撤销登记" in text
    assert "严重违法失信名单：被撤销登记" in text
    assert "罚款：50,000.00元" in text
    assert "深民罚〔2026〕038号" in text
    assert "不具有公开募捐资格" in text


def test_removed_listings_stay_public_as_history():
    text = _text_of(render_verification_page(make_view("good_standing")))
    assert "历史记录（已移出）" in text
    assert "未按时提交2021年度工作报告" in text
    assert "2022年9月15日 移出" in text
    assert "当前列入" not in text


def test_annual_reports_newest_first():
    text = _text_of(render_verification_page(make_view("good_standing")))
    assert text.index("2024年度") < text.index("2023年度") < text.index("2022年度")


def test_expired_fundraising_qualification_is_flagged():
    text = _text_of(render_verification_page(make_view("warnings")))
    assert "公开募捐资格已过期" in text


def test_check_digit_exception_is_explained():
    note = "该代码为早期试点代码，校验位不符，经登记管理机关确认"
    assert note not in render_verification_page(make_view("good_standing"))
    assert note in render_verification_page(make_view("good_standing", check_digit_exception=True))


@pytest.mark.parametrize(
    ("checked_at", "shown"),
    [
        ("2026-11-29T09:30:00+08:00", "2026年11月29日 09:30"),
        ("2026-11-29T01:30:59Z", "2026年11月29日 09:30"),
        ("2026-11-28T16:05:00+00:00", "2026年11月29日 00:05"),
        ("2026-05-01T00:00:00", "2026年5月1日 08:00"),
    ],
)
def test_checked_at_is_shown_in_beijing_time(checked_at, shown):
    view = make_view("good_standing")
    view["checked_at"] = checked_at
    assert f"核验时间：{shown}（北京时间）" in render_verification_page(view)


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (300_000_000, "300万元（3,000,000.00元）"),
        (1_000_000, "1万元（10,000.00元）"),
        (123_456_789, "1,234,567.89元"),
        (10**20, "100,000,000,000,000万元（1,000,000,000,000,000,000.00元）"),
        (5, "0.05元"),
        (0, "0.00元"),
        (None, "—"),
        (-100, "—"),
        (3000000.0, "—"),
        (True, "—"),
        ("300000000", "—"),
    ],
)
def test_capital_uses_integer_fen(fen, shown):
    assert format_capital(fen) == shown


def test_foundation_shows_original_fund():
    assert "原始基金" in render_verification_page(make_view("good_standing", kind="foundation"))


def test_sparse_view_renders_without_errors():
    view = {"verdict": "good_standing", "reasons": [], "checked_at": None, "organization": {"name": "某协会"}}
    text = _text_of(render_verification_page(view))
    assert "某协会" in text and "暂无年度报告记录" in text and "核验时间：—" in text


def test_hostile_text_is_escaped_everywhere():
    view = make_view(
        "warnings",
        name=HOSTILE,
        address='"><img src=x onerror=alert(2)>',
        business_scope="</style><script>alert(3)</script>",
        legal_representative="{{ 7*7 }}",
    )
    view["reasons"].append({"code": "x", "message": "<iframe src=//evil.example>"})
    page = render_verification_page(view)
    tags = _parse(page).tags
    assert not [t for t, _ in tags if t in ("script", "img", "iframe")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in _text_of(page)  # shown literally, not evaluated
    assert HOSTILE in _text_of(page)  # the reader still sees exactly what was entered


@pytest.mark.parametrize("verdict", ALL_VERDICTS)
def test_page_is_self_contained_and_script_free(verdict):
    page = render_verification_page(make_view(verdict))
    assert page.startswith('<!doctype html>\n<html lang="zh-CN">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not [
        t for t, _ in _parse(page).tags if t in ("script", "link", "img", "iframe", "object", "embed")
    ]
    assert not re.search(r"\son\w+\s*=", page)
    assert _external_references(page) == []


def test_inline_style_is_pinned_by_the_csp_hash():
    page = render_verification_page(make_view("good_standing"))
    style = re.search(r"<style>(.*?)</style>", page, re.S)[1]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CSP
    assert "default-src 'none'" in CSP and "script-src" not in CSP


def test_palette_meets_wcag_aa():
    for key, verdict in VERDICTS.items():
        assert contrast(verdict.foreground, verdict.background) >= 4.5, key
    for fg in ("text", "muted", "link", "bad_text", "warn_text", "ok_text"):
        for bg in ("card_bg", "page_bg"):
            assert contrast(COLORS[fg], COLORS[bg]) >= 4.5, (fg, bg)
    assert contrast(COLORS["text"], COLORS["note_bg"]) >= 4.5


def test_base_font_size_is_at_least_16px():
    assert BASE_FONT_SIZE_PX >= 16
    page = render_verification_page(make_view("good_standing"))
    assert f"--base-font-size:{BASE_FONT_SIZE_PX}px" in page
    assert re.search(r"body\s*\{[^}]*font-size:\s*var\(--base-font-size\)", page)


def test_error_page_escapes_the_message():
    page = render_error_page(404, HOSTILE)
    assert page.startswith('<!doctype html>\n<html lang="zh-CN">')
    assert "未找到" in page and "404" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_error_page_for_an_unlisted_status():
    assert "出错了" in render_error_page(418, "茶壶")


# --- in the browser -----------------------------------------------------------------------------

# Added only to a copy of the page under test: it reads every computed style chromium resolved and writes
# them into the DOM for --dump-dom, so font sizes and contrast are checked as rendered, not as intended.
PROBE = """(() => {
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor, v = rgba(c);
      if (v.length < 4 || v[3] > 0) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const texts = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own.length) continue;
    const cs = getComputedStyle(el);
    texts.push({tag: el.tagName, cls: String(el.className), text: own[0].textContent.trim().slice(0, 30),
                color: cs.color, bg: background(el), size: parseFloat(cs.fontSize)});
  }
  const banner = getComputedStyle(document.querySelector(".verdict"));
  const root = document.documentElement;
  const out = {body: parseFloat(getComputedStyle(document.body).fontSize), texts,
               banner: {color: banner.color, bg: banner.backgroundColor},
               width: root.clientWidth, scrollWidth: root.scrollWidth};
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();"""


def _with_probe(page: str) -> str:
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    # Keep the page's CSP (so a wrong style hash would show up as unstyled text) and allow only the probe.
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    policy = html.unescape(meta[1]).replace(
        "default-src 'none';", f"default-src 'none'; script-src 'sha256-{digest}';"
    )
    page = page.replace(meta[1], html.escape(policy), 1)
    return page.replace("</body>", f"<script>{PROBE}</script>\n</body>", 1)


def _probe(dom: str) -> dict:
    return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)[1]))


@pytest.fixture
def write_page(tmp_path: Path):
    def write(name: str, page: str) -> Path:
        path = tmp_path / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        return path

    return write


@pytest.mark.parametrize("verdict", ALL_VERDICTS)
def test_chromium_renders_the_verdict(chromium, artifacts, write_page, verdict):
    page = render_verification_page(make_view(verdict))
    path = write_page(verdict, page)

    dom = dump_dom(path)
    assert '<html lang="zh-CN">' in dom
    assert "<script" not in dom
    assert _external_references(dom) == []
    text = " ".join(_text_of(dom).split())
    assert VERDICTS[verdict].banner in text
    if verdict == "not_genuine":
        assert ORG_NAME not in dom and CREDIT_CODE not in dom
    else:
        assert ORG_NAME in text and CREDIT_CODE in text

    probe = _probe(dump_dom(write_page(f"{verdict}-probe", _with_probe(page))))
    assert probe["body"] >= 16
    assert probe["banner"]["bg"] == "rgb({}, {}, {})".format(*_channels(VERDICTS[verdict].background))
    assert contrast(probe["banner"]["color"], probe["banner"]["bg"]) >= 4.5
    for t in probe["texts"]:
        assert t["size"] >= 16, t
        assert contrast(t["color"], t["bg"]) >= 4.5, t
    assert probe["scrollWidth"] <= probe["width"], "the page scrolls sideways on a phone"

    shot = artifacts / f"h5-{verdict}.png"
    screenshot(path, shot)
    assert Image.open(shot).size == (390, 844)
    # The whole page too, for people reviewing the artifacts.
    screenshot(path, artifacts / f"h5-{verdict}-full.png", height=2600)


def test_chromium_shows_hostile_name_as_text(chromium, write_page):
    page = render_verification_page(make_view("good_standing", name=HOSTILE))
    dom = dump_dom(write_page("hostile", page))
    assert "<script" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_chromium_renders_the_error_page(chromium, artifacts, write_page):
    path = write_page("error", render_error_page(404, "未找到该二维码对应的组织"))
    dom = dump_dom(path)
    assert "未找到该二维码对应的组织" in dom and '<html lang="zh-CN">' in dom
    screenshot(path, artifacts / "h5-error-404.png")


def test_expired_evaluation_grade_is_flagged():
    view = make_view("good_standing", evaluation={"grade": 3, "label": "3A", "valid_until": "2025-12-31"})
    text = _text_of(render_verification_page(view))
    assert "3A" in text and "有效期至 2025年12月31日 （已过期）" in " ".join(text.split())
