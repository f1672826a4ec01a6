"""The H5 page a citizen sees after scanning an organization's QR code with any phone camera.

The page is static HTML: no JavaScript, no external resource (it must render on a bad connection and
offline from cache), CSS inlined and pinned by a Content-Security-Policy hash, Jinja2 autoescaping on
(organization names and officer-entered text are untrusted). The view dict is exactly the verify API's
JSON body; this module turns it into display values (Beijing time, Chinese dates, money from integer
fen) so the templates only lay them out. A ``not_genuine`` verdict drops the organization entirely:
a forged code must never look like a valid one.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

__all__ = [
    "BASE_FONT_SIZE_PX",
    "COLORS",
    "KEYS_PATH",
    "VERDICTS",
    "Verdict",
    "format_capital",
    "render_error_page",
    "render_log_section",
    "render_verification_page",
]

TEMPLATES = Path(__file__).parent / "templates"
KEYS_PATH = "/.well-known/gongxin-keys.json"
# China has kept UTC+8 without daylight saving since 1991: a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
BASE_FONT_SIZE_PX = 17


@dataclass(frozen=True)
class Verdict:
    """How one verdict looks: a symbol and words, so colour is never the only signal."""

    symbol: str
    title: str
    summary: str
    background: str
    foreground: str

    @property
    def banner(self) -> str:
        return f"{self.symbol} {self.title}"


# Every colour of the page lives here; page.css reads them as custom properties, and the tests compute
# their WCAG contrast from these values. All text/background pairs are at least 4.5:1 (AA).
COLORS = {
    "page_bg": "#f2f3f5",
    "card_bg": "#ffffff",
    "text": "#1b1d21",
    "muted": "#4d5360",  # secondary text, on card_bg and page_bg
    "rule": "#dfe2e7",  # borders only, never text
    "link": "#0b57b0",
    "bad_text": "#a3211a",  # status words like 撤销登记, on card_bg
    "warn_text": "#7a4a00",  # 已过期 and the like, on card_bg
    "ok_text": "#0c6630",
    "note_bg": "#fff4d6",  # the check-digit note box; its text is "text"
}

VERDICTS: dict[str, Verdict] = {
    "good_standing": Verdict(
        symbol="✔",
        title="真实有效 · 信用良好",
        summary="此二维码由本平台签发。该组织登记状态正常，未列入活动异常名录或严重违法失信名单。",
        background="#0c6630",
        foreground="#ffffff",
    ),
    "warnings": Verdict(
        symbol="⚠",
        title="真实有效 · 请注意",
        summary="此二维码由本平台签发，该组织依法登记，但存在以下需要注意的情况：",
        background="#f6c343",
        foreground="#1f1400",
    ),
    "not_in_good_standing": Verdict(
        symbol="✖",
        title="真实 · 信用状况异常",
        summary="此二维码由本平台签发，但该组织目前信用状况异常。请谨慎参加其活动，谨慎向其捐款。",
        background="#b3261e",
        foreground="#ffffff",
    ),
    "not_genuine": Verdict(
        symbol="✖",
        title="非本平台签发的有效二维码",
        summary="此二维码可能是伪造、被篡改的，或已因重新签发而作废。请勿据此捐款、转账或提供个人信息。",
        background="#2a0606",
        foreground="#ffffff",
    ),
}
# Anything unexpected is shown as the most cautious verdict rather than as something reassuring.
FALLBACK_VERDICT = "not_genuine"

CREDIT_STATES = {
    "normal": ("未列入活动异常名录或严重违法失信名单", "ok"),
    "abnormal": ("列入活动异常名录", "warn"),
    "serious": ("列入严重违法失信名单", "bad"),
}
STATUS_TONES = {"active": "ok", "deregistered": "bad", "revoked": "bad"}
REPORT_TONES = {"qualified": "ok", "basically_qualified": "warn", "unqualified": "bad"}
ERROR_TITLES = {
    400: "请求有误",
    404: "未找到",
    410: "二维码已作废",
    422: "无法识别",
    429: "访问过于频繁",
    500: "服务器内部错误",
    503: "服务暂时不可用",
}


def _css() -> str:
    variables = "".join(f"--{name.replace('_', '-')}:{value};" for name, value in COLORS.items())
    for key, verdict in VERDICTS.items():
        variables += f"--{key.replace('_', '-')}-bg:{verdict.background};"
        variables += f"--{key.replace('_', '-')}-fg:{verdict.foreground};"
    variables += f"--base-font-size:{BASE_FONT_SIZE_PX}px;"
    return ":root{" + variables + "}\n" + (TEMPLATES / "page.css").read_text(encoding="utf-8")


CSS = _css()
# The CSP allows exactly this stylesheet and nothing else: no script, image, font or connection at all,
# so even an escaping bug could not run code or phone home. The route should send the same policy as a
# header, plus frame-ancestors 'none', which browsers ignore in a <meta>.
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Markup: CSS is our own static file plus colour constants, never user input.
_env.globals.update(css=Markup(CSS), csp=CSP, keys_path=KEYS_PATH)  # noqa: S704


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _date(value: Any) -> str:
    """``2019-05-01`` as ``2019年5月1日``; anything unparsable shown as given."""
    parsed = _parse_date(value)
    if parsed is None:
        return _text(value)
    return f"{parsed.year}年{parsed.month}月{parsed.day}日"


def _beijing(value: Any) -> datetime | None:
    """An ISO timestamp in Beijing time; naive means UTC; None when unparsable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING)


def _beijing_time(value: Any) -> str:
    """An ISO timestamp as ``2026年11月29日 09:30`` in Beijing time."""
    local = _beijing(value)
    if local is None:
        return _text(value)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _amount(fen: Any) -> int | None:
    # bool is an int subclass; a float would already have lost fen, so neither is shown as money.
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        return None
    return fen


def _yuan(fen: int) -> str:
    yuan, cents = divmod(fen, 100)
    return f"{yuan:,}.{cents:02d}元"


def format_capital(fen: Any) -> str:
    """Integer fen as ``300万元（3,000,000.00元）``, or just yuan when not a whole number of 万元."""
    amount = _amount(fen)
    if amount is None:
        return "—"
    wan, rest = divmod(amount, 1_000_000)  # 1 万元 = 10,000 yuan = 1,000,000 fen
    if rest == 0 and wan > 0:
        return f"{wan:,}万元（{_yuan(amount)}）"
    return _yuan(amount)


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _expired(valid_until: Any, today: date | None) -> bool:
    until = _parse_date(valid_until)
    return until is not None and today is not None and until < today


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": _text(item.get("list_label") or item.get("list")),
        "serious": item.get("list") == "serious_violation",
        "reason": _text(item.get("reason")),
        "listed_on": _date(item.get("listed_on")),
        "removed_on": _date(item.get("removed_on")) if item.get("removed_on") else None,
        "decision_number": _text(item.get("decision_number")),
    }


def _organization(org: dict[str, Any], today: date | None) -> dict[str, Any]:
    authority = _dict(org.get("authority"))
    credit = _dict(org.get("credit"))
    listings = sorted(
        _list(credit.get("listings")), key=lambda i: str(i.get("listed_on") or ""), reverse=True
    )
    state_label, state_tone = CREDIT_STATES.get(str(credit.get("state")), ("—", "muted"))
    evaluation = org.get("evaluation") if isinstance(org.get("evaluation"), dict) else None
    charity = _dict(org.get("charity"))
    fundraising = _dict(org.get("public_fundraising"))
    fundraising_expired = bool(fundraising.get("expired")) or _expired(fundraising.get("valid_until"), today)
    reports = sorted(_list(org.get("annual_reports")), key=lambda r: str(r.get("year")), reverse=True)
    return {
        "name": _text(org.get("name")),
        "credit_code": _text(org.get("credit_code")),
        "check_digit_exception": org.get("check_digit_exception") is True,
        "kind_label": _text(org.get("kind_label") or org.get("kind")),
        "status_label": _text(org.get("status_label") or org.get("status")),
        "status_tone": STATUS_TONES.get(str(org.get("status")), "muted"),
        "record": [
            ("法定代表人", _text(org.get("legal_representative"))),
            ("登记管理机关", _text(authority.get("name"))),
            ("成立登记日期", _date(org.get("registered_on"))),
            (
                "注册资金" if org.get("kind") != "foundation" else "原始基金",
                format_capital(org.get("registered_capital_fen")),
            ),
            ("业务主管单位", _text(org.get("supervising_unit"))),
            ("住所", _text(org.get("address"))),
        ],
        "business_scope": _text(org.get("business_scope")),
        "credit_state": state_label,
        "credit_tone": state_tone,
        "current_listings": [_listing(i) for i in listings if not i.get("removed_on")],
        "past_listings": [_listing(i) for i in listings if i.get("removed_on")],
        "annual_reports": [
            {
                "year": _text(r.get("year")),
                "result": _text(r.get("result_label") or r.get("result")),
                "tone": REPORT_TONES.get(str(r.get("result")), "muted"),
            }
            for r in reports
        ],
        "evaluation": None
        if evaluation is None
        else {
            "label": _text(evaluation.get("label")),
            "valid_until": _date(evaluation.get("valid_until")),
            "expired": _expired(evaluation.get("valid_until"), today),
        },
        "charity": {
            "recognized": charity.get("recognized") is True,
            "recognized_on": _date(charity.get("recognized_on")) if charity.get("recognized_on") else None,
        },
        "fundraising": {
            "qualified": fundraising.get("qualified") is True,
            "expired": fundraising_expired,
            "granted_on": _date(fundraising.get("granted_on")) if fundraising.get("granted_on") else None,
            "valid_until": _date(fundraising.get("valid_until")) if fundraising.get("valid_until") else None,
        },
        "licences": [
            {
                "kind": _text(x.get("kind_label")),
                "number": _text(x.get("decision_number")),
                "date": _date(x.get("decided_on")),
            }
            for x in _list(org.get("licences"))
        ],
        "penalties": [
            {
                "kind": _text(x.get("kind_label")),
                "number": _text(x.get("decision_number")),
                "date": _date(x.get("decided_on")),
                "amount": _yuan(a) if (a := _amount(x.get("amount_fen"))) is not None else None,
            }
            for x in _list(org.get("penalties"))
        ],
    }


def _projects(projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "title": _text(p.get("title")),
            "url": _text(p.get("page_url")),
            "raised": _yuan(a) if (a := _amount(p.get("raised_fen"))) is not None else "—",
            "spent": _yuan(a) if (a := _amount(p.get("spent_fen"))) is not None else "—",
        }
        for p in projects
    ]


def render_verification_page(
    view: dict[str, Any],
    *,
    projects: list[dict[str, Any]] | None = None,
    log_section: Markup | None = None,
) -> str:
    """The verification page for the verify API's JSON body (and the organization's projects)."""
    key = view.get("verdict")
    if not isinstance(key, str) or key not in VERDICTS:
        key = FALLBACK_VERDICT
    verdict = VERDICTS[key]
    org = view.get("organization")
    # A forged code gets no organization details at all, whatever the view carries.
    checked = _beijing(view.get("checked_at"))
    organization = (
        _organization(org, checked.date() if checked else None)
        if key != "not_genuine" and isinstance(org, dict)
        else None
    )
    reasons = [_text(r.get("message") or r.get("code")) for r in _list(view.get("reasons"))]
    return _env.get_template("verification.html").render(
        verdict_key=key,
        verdict=verdict,
        reasons=reasons,
        organization=organization,
        projects=_projects(projects or []) if organization else [],
        log_section=log_section if organization else None,
        checked_at=_beijing_time(view.get("checked_at")),
    )


def render_log_section(log: dict[str, Any], *, credit_code: str, base_url: str) -> Markup:
    """The transparency log's card: the current checkpoint's size and root, and how to verify."""
    html = _env.get_template("log.html").render(log=log, credit_code=credit_code, base_url=base_url)
    return Markup(html)  # noqa: S704 - rendered by the autoescaping environment


def render_error_page(status: int, message: str) -> str:
    """A plain page for 404 and other errors, in the same style."""
    return _env.get_template("error.html").render(
        status=status, title=ERROR_TITLES.get(status, "出错了"), message=message
    )
