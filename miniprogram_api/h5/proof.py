"""The H5 page of a volunteer service proof (``/v/<token>``): the live verdict, the proof, its QR code.

Same rules as the verification page (render.py): static HTML, no JavaScript, no external resource, the
one stylesheet pinned by the CSP hash, autoescaping on, Chinese. The QR code is a PNG inlined as a
``data:`` URI (the only image source the CSP allows). A ``not_genuine`` verdict shows nothing of the
proof and no QR code: a forged, altered or revoked proof must never look like a valid one.
"""

from __future__ import annotations

import base64
from typing import Any

from backend.registry import qrimage

from .render import VERDICTS, Verdict, _beijing_time, _date, _dict, _env, _list, _text

QR_PX = 240
PROOF_VERDICTS = {
    "genuine": Verdict(
        symbol="✔",
        title="真实有效 · 志愿服务记录证明",
        summary="此证明由本平台依据组织记录的志愿服务时长签发，内容未被篡改，目前有效。",
        background=VERDICTS["good_standing"].background,
        foreground=VERDICTS["good_standing"].foreground,
    ),
    "not_genuine": Verdict(
        symbol="✖",
        title="非本平台签发的有效证明",
        summary="此证明可能是伪造、被篡改的，或因服务时长更正已作废。请向志愿者索取新的证明。",
        background=VERDICTS["not_genuine"].background,
        foreground=VERDICTS["not_genuine"].foreground,
    ),
}
# The stylesheet is pinned by hash: reuse its verdict classes rather than add new ones.
CSS_CLASS = {"genuine": "good_standing", "not_genuine": "not_genuine"}


def _hours(minutes: Any) -> str:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        return "—"
    return f"{minutes / 60:g} 小时"


def qr_data_uri(url: str) -> str:
    """The proof's QR code as a PNG data: URI."""
    png = qrimage.render_png(url, size=QR_PX)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_proof_page(view: dict[str, Any]) -> str:
    """The page for the verify API's JSON body of a proof URL."""
    key = view.get("verdict") if view.get("verdict") in PROOF_VERDICTS else "not_genuine"
    proof = _dict(view.get("proof")) if key == "genuine" else {}
    content = _dict(proof.get("content"))
    scope = content.get("organization")
    shown = None
    if proof:
        shown = {
            "volunteer": _text(content.get("volunteer")),
            "scope": _text(_dict(scope).get("name")) if scope else "全部组织",
            "records": [
                {
                    "title": _text(r.get("title")),
                    "organization": _text(r.get("organization")),
                    "date": _date(r.get("date")),
                    "hours": _hours(r.get("minutes")),
                }
                for r in _list(content.get("records"))
            ],
            "total": _hours(content.get("total_minutes")),
            "issued_at": _beijing_time(proof.get("issued_at")),
            "number": _text(proof.get("id")),
            "digest": _text(proof.get("digest")),
            "qr": qr_data_uri(str(proof.get("url"))),
            "url": _text(proof.get("url")),
        }
    return _env.get_template("proof.html").render(
        verdict=PROOF_VERDICTS[str(key)],
        css_key=CSS_CLASS[str(key)],
        reasons=[_text(r.get("message") or r.get("code")) for r in _list(view.get("reasons"))],
        proof=shown,
        checked_at=_beijing_time(view.get("checked_at")),
    )
