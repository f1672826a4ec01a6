"""The /v/ volunteer service proof page: content in Python, then in headless chromium (screenshot kept)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from typing import Any

import pytest
from PIL import Image

from miniprogram_api.h5.proof import PROOF_VERDICTS, render_proof_page
from tests.h5.browser import dump_dom, screenshot
from tests.h5.test_render import HOSTILE, _external_references, _probe, _text_of, _with_probe, contrast

URL = (
    "https://gongxin.example.cn/v/vp12.tp8pis.k20261129plgw.47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU."
    "94bwWrlPHBS_FAT4bFQZW52cuyscg13n4ELBLpbPmrk8aJ2vDJckTVg5NbfWmHbLghayuux2NZS940s2F5XbDA"
)


def make_proof_view(verdict: str = "genuine", **content_changes: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "type": "gongxin.volunteer_service_proof",
        "version": 1,
        "volunteer": "张**",
        "organization": None,
        "records": [
            {
                "credit_code": "51440300MJL0000103",
                "organization": "深圳市南山区青少年科技教育协会",
                "title": "社区图书整理",
                "date": "2026-11-28",
                "minutes": 150,
            },
            {
                "credit_code": "51440300MJL0000103",
                "organization": "深圳市南山区青少年科技教育协会",
                "title": "科普讲座引导员",
                "date": "2026-11-29",
                "minutes": 105,
            },
        ],
        "total_minutes": 255,
    }
    content.update(content_changes)
    return {
        "verdict": verdict,
        "reasons": [] if verdict == "genuine" else [{"code": "proof.revoked", "message": "该证明已作废"}],
        "checked_at": "2026-12-02T10:00:00+08:00",
        "organization": None,
        "proof": None
        if verdict != "genuine"
        else {
            "id": 12,
            "token": URL.rsplit("/", 1)[1],
            "url": URL,
            "issued_at": "2026-12-01T02:00:00+00:00",
            "kid": "k20261129plgw",
            "digest": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
            "content": content,
            "total_hours": 4.25,
        },
    }


def _qr_of(page: str) -> Image.Image:
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert data is not None
    return Image.open(io.BytesIO(base64.b64decode(data[1])))


def test_page_shows_the_proof_records_total_and_a_qr_code_of_its_url():
    page = render_proof_page(make_proof_view())
    text = " ".join(_text_of(page).split())
    assert PROOF_VERDICTS["genuine"].title in text and "张**" in text
    assert "社区图书整理 · 2.5 小时" in text and "科普讲座引导员 · 1.75 小时" in text
    assert "累计时长4.25 小时" in text and "2026年11月28日" in text and "<script" not in page
    zxingcpp = pytest.importorskip("zxingcpp", reason="QR decoding needs `pip install zxing-cpp`")
    assert [r.text for r in zxingcpp.read_barcodes(_qr_of(page).convert("L"))] == [URL]


def test_not_genuine_shows_nothing_of_the_proof():
    view = make_proof_view("not_genuine")
    view["proof"] = make_proof_view()["proof"]  # even if a view carried it
    page = render_proof_page(view)
    assert "张**" not in page and "社区图书整理" not in page and "data:image/png" not in page
    assert PROOF_VERDICTS["not_genuine"].title in page and "该证明已作废" in page


def test_hostile_text_is_escaped():
    page = render_proof_page(make_proof_view(volunteer=HOSTILE))
    assert "<script>" not in page and "&lt;script&gt;" in page


IMAGE_PROBE = """(() => {
  const img = document.querySelector("img");
  const pre = document.createElement("pre");
  pre.id = "image";
  pre.textContent = JSON.stringify({complete: img.complete, natural: img.naturalWidth, shown: img.width});
  document.body.appendChild(pre);
})();"""


def _with_image_probe(page: str) -> str:
    digest = base64.b64encode(hashlib.sha256(IMAGE_PROBE.encode()).digest()).decode()
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert meta is not None
    policy = html.unescape(meta[1]).replace(
        "default-src 'none';", f"default-src 'none'; script-src 'sha256-{digest}';"
    )
    page = page.replace(meta[1], html.escape(policy), 1)
    return page.replace("</body>", f"<script>{IMAGE_PROBE}</script>\n</body>", 1)


def test_chromium_renders_the_proof_page_and_its_qr_code(chromium, artifacts, tmp_path):
    page = render_proof_page(make_proof_view())
    path = tmp_path / "proof.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(path)
    assert '<html lang="zh-CN">' in dom and "<script" not in dom
    assert _external_references(dom) == []
    assert "社区图书整理" in dom and "张**" in dom

    probe_path = tmp_path / "proof-probe.html"
    probe_path.write_text(_with_probe(page), encoding="utf-8")
    probe = _probe(dump_dom(probe_path))
    assert probe["body"] >= 16
    for t in probe["texts"]:
        assert t["size"] >= 16, t
        assert contrast(t["color"], t["bg"]) >= 4.5, t
    assert probe["scrollWidth"] <= probe["width"], "the page scrolls sideways on a phone"

    # The QR code loads under the page's own CSP (img-src data:) at its full size.
    image_path = tmp_path / "proof-image.html"
    image_path.write_text(_with_image_probe(page), encoding="utf-8")
    found = re.search(r'<pre id="image">(.*?)</pre>', dump_dom(image_path), re.S)
    assert found is not None
    assert json.loads(html.unescape(found[1])) == {"complete": True, "natural": 240, "shown": 240}

    shot = artifacts / "h5-proof.png"
    screenshot(path, shot, height=2000)
    assert Image.open(shot).size == (390, 2000)
