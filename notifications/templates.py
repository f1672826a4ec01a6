"""The message of every outbox event kind: its template's fields, where each value comes from, its page.

Template ids are configuration (``backend/subscriptions/catalog.py``); the fields are here. When
choosing a template in the mini-program's admin console, pick one whose keywords match the keys
below (``thing1`` 活动名称, ``time2`` 签到时间 ...) or change the keys here to the chosen template's.
A payload carries everything its message shows (``backend/events/kinds.py``), so rendering reads
nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.events import kinds

from . import fields
from .fields import RenderError

Value = Callable[[dict[str, Any]], Any]


def key(name: str) -> Value:
    """The payload's value under ``name``; a missing one is a payload that breaks its contract."""

    def get(payload: dict[str, Any]) -> Any:
        if payload.get(name) is None:
            raise RenderError(name, "missing from the payload")
        return payload[name]

    return get


def const(value: str) -> Value:
    return lambda payload: value


def optional(name: str, default: str) -> Value:
    return lambda payload: payload.get(name) if payload.get(name) not in (None, "") else default


@dataclass(frozen=True)
class Template:
    """One kind's message: field key -> where its value comes from, and the page it opens."""

    kind: str
    title: str  # the template's title in WeChat's library, for whoever configures the ids
    fields: dict[str, Value]
    page: str  # a mini-program page, query filled from the payload with str.format

    def render(self, payload: dict[str, Any]) -> tuple[dict[str, dict[str, str]], str]:
        """The message's ``data`` and ``page``; RenderError when the payload cannot fill them."""
        data = {}
        for field_key, source in self.fields.items():
            render = fields.RENDERERS[fields.field_type(field_key)]
            try:
                data[field_key] = {"value": render(source(payload))}
            except RenderError as exc:
                raise RenderError(field_key, str(exc)) from None
        try:
            page = self.page.format(**payload)
        except (KeyError, IndexError) as exc:
            raise RenderError("page", f"{exc} missing from the payload") from None
        return data, page


def _waitlist_note(payload: dict[str, Any]) -> str:
    position = payload.get("waitlist_position")
    return f"候补第{position}位，有空位时自动递补" if position else "有空位时将按顺序自动递补"


def _signup(kind: str, status: str, note: Value) -> Template:
    return Template(
        kind=kind,
        title="报名结果通知",
        fields={
            "thing1": key("posting_title"),
            "thing2": key("organization"),
            "time3": key("starts_at"),
            "phrase4": const(status),
            "thing5": note,
        },
        page="pages/posting/detail?id={posting_id}",
    )


PARTY_STATUS = {"present": "已签到", "late": "迟到"}

TEMPLATES: dict[str, Template] = {
    t.kind: t
    for t in [
        Template(
            kind=kinds.CHECKIN_RECORDED,
            title="签到成功通知",
            fields={
                "thing1": key("title"),
                "time2": key("checked_in_at"),
                "phrase3": lambda p: PARTY_STATUS.get(str(p.get("status")), "已签到"),
            },
            page="pages/activity/detail?id={activity_id}",
        ),
        Template(
            kind=kinds.ACTIVITY_REMINDER_DUE,
            title="活动开始提醒",
            fields={"thing1": key("title"), "time2": key("starts_at"), "thing3": key("place")},
            page="pages/activity/detail?id={activity_id}",
        ),
        _signup(kinds.SIGNUP_CONFIRMED, "报名成功", const("请准时参加")),
        _signup(kinds.SIGNUP_WAITLISTED, "候补中", _waitlist_note),
        _signup(kinds.SIGNUP_PROMOTED, "已递补", const("您已从候补转为正式报名")),
        _signup(kinds.SIGNUP_PENDING, "待审核", const("主办方审核后将通知您")),
        _signup(kinds.SIGNUP_APPROVED, "审核通过", const("请准时参加")),
        _signup(kinds.SIGNUP_REJECTED, "未通过", optional("reason", "未通过主办方审核")),
        _signup(kinds.SIGNUP_CANCELLED, "已取消", const("您已取消报名")),
        Template(
            kind=kinds.POSTING_CANCELLED,
            title="活动取消通知",
            fields={
                "thing1": key("posting_title"),
                "thing2": key("organization"),
                "time3": key("starts_at"),
                "thing4": optional("reason", "主办方取消了活动"),
            },
            page="pages/posting/detail?id={posting_id}",
        ),
        Template(
            kind=kinds.POSTING_REMINDER_DUE,
            title="活动开始提醒",
            fields={"thing1": key("posting_title"), "time2": key("starts_at"), "thing3": key("place")},
            page="pages/posting/detail?id={posting_id}",
        ),
        Template(
            kind=kinds.DONATION_RECORDED,
            title="捐赠成功通知",
            fields={
                "thing1": key("project_title"),
                "amount2": key("amount_fen"),
                "character_string3": key("receipt_code"),
                "time4": key("received_at"),
            },
            page="pages/donation/receipt?code={receipt_code}",
        ),
        Template(
            kind=kinds.PROJECT_PROGRESS,
            title="项目进展通知",
            fields={"thing1": key("project_title"), "thing2": key("summary"), "date3": key("published_at")},
            page="pages/project/detail?id={project_id}",
        ),
        Template(
            kind=kinds.DISCLOSURE_OVERDUE,
            title="信息公开到期提醒",
            fields={"thing1": key("organization"), "thing2": key("item"), "date3": key("due_on")},
            page="pages/org/detail?code={credit_code}",
        ),
    ]
}


def render(kind: str, payload: dict[str, Any]) -> tuple[dict[str, dict[str, str]], str]:
    """The ``data`` and ``page`` of ``kind``'s message for ``payload``."""
    template = TEMPLATES.get(kind)
    if template is None:
        raise RenderError("template", f"no template for {kind}")
    return template.render(payload)


def too_late(kind: str, payload: dict[str, Any], now: datetime) -> bool:
    """A reminder of something that has already begun is no use to anyone."""
    if not kind.endswith(".reminder_due") or not payload.get("starts_at"):
        return False
    try:
        return datetime.fromisoformat(str(payload["starts_at"])) <= now
    except ValueError:
        return False
