"""The H5 disclosure page of a fundraising project (``/p/<id>``), and its server-drawn SVG charts.

Same rules as the verification page (render.py): static HTML, no JavaScript, no external resource,
the one stylesheet pinned by the CSP hash, autoescaping on, Chinese, every colour from ``COLORS``.
The charts are inline SVG drawn here from the kept totals (income and spending per month, spending
by category), coloured with presentation attributes (a ``style`` attribute would be refused by the
CSP), each with a text table beside it so that a screen reader, or a browser without SVG, reads the
same figures.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from .render import COLORS, _date, _env, _yuan

# Bars: dark enough to stand out against the card at 3:1 (WCAG's non-text contrast).
INCOME_COLOR = "#0c6630"
SPENDING_COLOR = "#0b57b0"
CHART_FONT_PX = 16
STATUS_TONES = {"fundraising": "ok", "executing": "ok", "closed": "muted"}
PLAN_FIELDS = (
    ("purpose", "募捐目的"),
    ("region", "募捐地域"),
    ("beneficiaries", "受益人"),
    ("use_of_funds", "款物用途"),
    ("costs", "募捐成本"),
    ("leftover_funds", "剩余财产处理"),
)


def _money(fen: Any) -> str:
    return _yuan(fen) if isinstance(fen, int) and not isinstance(fen, bool) else "—"


def _signed(fen: int) -> str:
    return ("-" + _yuan(-fen)) if fen < 0 else _yuan(fen)


def _short(fen: int) -> str:
    """An axis label: 1.2万 / 350."""
    yuan = fen / 100
    return f"{yuan / 10000:.1f}万" if yuan >= 10000 else f"{yuan:.0f}"


def month_chart(months: list[dict[str, Any]]) -> Markup:
    """Income and spending per month as grouped bars (the last 12 months that have any)."""
    months = months[-12:]
    if not months:
        return Markup("")
    width, height, left, bottom, top = 340, 220, 56, 40, 28
    plot_h = height - bottom - top
    peak = max(max(m["raised_fen"], m["spent_fen"]) for m in months) or 1
    slot = (width - left - 8) / len(months)
    bar = max(3.0, min(14.0, slot / 2 - 2))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="各月收入与支出" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" '
        f'stroke="{COLORS["muted"]}"/>',
        f'<text x="{left - 6}" y="{top + 5}" text-anchor="end" font-size="{CHART_FONT_PX}" '
        f'fill="{COLORS["muted"]}">{escape(_short(peak))}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="{CHART_FONT_PX}" '
        f'fill="{COLORS["muted"]}">0</text>',
    ]
    for i, month in enumerate(months):
        x = left + i * slot + slot / 2
        for offset, value, color in (
            (-bar - 1, month["raised_fen"], INCOME_COLOR),
            (1, month["spent_fen"], SPENDING_COLOR),
        ):
            h = max(0.0, plot_h * max(value, 0) / peak)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"/>'
            )
        # Label every month when they fit, else every other one.
        if len(months) <= 6 or i % 2 == 0:
            label = str(month["month"])[5:].lstrip("0") + "月"
            parts.append(
                f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-size="{CHART_FONT_PX}" '
                f'fill="{COLORS["text"]}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text part escaped above; numbers formatted here)


def category_chart(categories: list[dict[str, Any]]) -> Markup:
    """Spending by category as horizontal bars, largest first."""
    rows = sorted((c for c in categories if c.get("spent_fen", 0) > 0), key=lambda c: -c["spent_fen"])
    if not rows:
        return Markup("")
    width, row_h, label_w = 340, 34, 110
    height = row_h * len(rows) + 6
    peak = rows[0]["spent_fen"]
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="按类别的支出" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, row in enumerate(rows):
        y = i * row_h + 4
        w = max(2.0, (width - label_w - 8) * row["spent_fen"] / peak)
        parts.append(
            f'<text x="0" y="{y + 20}" font-size="{CHART_FONT_PX}" fill="{COLORS["text"]}">'
            f"{escape(str(row.get('label') or row.get('category')))}</text>"
            f'<rect x="{label_w}" y="{y + 6}" width="{w:.1f}" height="18" fill="{SPENDING_COLOR}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (labels escaped above)


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    kind = entry.get("kind")
    if kind == "donation":
        title = f"捐赠 · {entry.get('donor') or '匿名'}"
        meta = f"{_date(entry.get('received_at'))} · {entry.get('channel') or ''}"
        sign = "+"
    elif kind == "expenditure":
        title = f"支出 · {entry.get('category_label') or entry.get('category')} · {entry.get('payee') or ''}"
        meta = f"{_date(entry.get('paid_on'))} · {entry.get('purpose') or ''}"
        if entry.get("advance"):
            meta += f" · 垫付：{entry.get('explanation') or ''}"
        sign = "-"
    else:
        title = f"更正 · 冲销第 {entry.get('reverses')} 号记录"
        meta = str(entry.get("explanation") or "")
        sign = ""
    return {
        "id": entry.get("id"),
        "title": title,
        "meta": meta,
        "amount": f"{sign}{_money(entry.get('amount_fen'))}",
        "reversed_by": entry.get("reversed_by"),
        "kind": kind,
    }


def render_project_page(view: dict[str, Any], entries: list[dict[str, Any]], *, base_url: str) -> str:
    """The disclosure page for the project API's JSON body and the newest page of its ledger."""
    plan: dict[str, Any] = view["plan"] if isinstance(view.get("plan"), dict) else {}
    target = view.get("target_fen") or 0
    raised = view.get("raised_fen") or 0
    progress_pct = min(100, round(100 * raised / target)) if target else 0
    return _env.get_template("project.html").render(
        project={
            "id": view.get("id"),
            "title": view.get("title"),
            "organization": (view.get("organization") or {}).get("name"),
            "credit_code": view.get("credit_code"),
            "kind_label": view.get("kind_label"),
            "status_label": view.get("status_label"),
            "status_tone": STATUS_TONES.get(str(view.get("status")), "muted"),
            "filing_number": view.get("filing_number"),
            "period": f"{_date(plan.get('period_start'))} 至 {_date(plan.get('period_end'))}",
            "plan": [(label, plan.get(key) or "—") for key, label in PLAN_FIELDS],
            "target": _money(target),
            "raised": _money(raised),
            "spent": _money(view.get("spent_fen")),
            "balance": _signed(int(view.get("balance_fen") or 0)),
            "progress_pct": progress_pct,
            "donor_count": view.get("donor_count", 0),
            "entry_count": view.get("entry_count", 0),
        },
        months=[
            {"month": m["month"], "raised": _money(m["raised_fen"]), "spent": _money(m["spent_fen"])}
            for m in view.get("by_month") or []
        ],
        categories=[
            {"label": c["label"], "spent": _money(c["spent_fen"])} for c in view.get("by_category") or []
        ],
        month_chart=month_chart(view.get("by_month") or []),
        category_chart=category_chart(view.get("by_category") or []),
        income_color=INCOME_COLOR,
        spending_color=SPENDING_COLOR,
        entries=[_entry(e) for e in entries],
        progress=[
            {"text": u.get("text"), "date": _date(u.get("published_at"))} for u in view.get("progress") or []
        ],
        api_entries=f"/api/v1/projects/{view.get('id')}/entries",
        base_url=base_url,
    )
