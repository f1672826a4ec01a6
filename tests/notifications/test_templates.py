"""Every event kind has a template; values fit WeChat's field types and limits."""

from __future__ import annotations

import pytest

from backend.events import kinds
from backend.subscriptions.catalog import all_kinds, template_ids
from notifications import fields
from notifications.fields import RenderError
from notifications.templates import TEMPLATES, render

# One payload per kind, exactly as backend/events/kinds.py describes it.
POSTING = {
    "posting_id": 12,
    "posting_title": "周末社区环境志愿服务：清理河道垃圾并宣传垃圾分类知识",
    "organization": "深圳市南山区青年志愿者协会",
    "starts_at": "2026-12-05T01:00:00+00:00",
    "place": "南山区大沙河生态长廊北入口",
    "signup_id": 345,
    "status": "confirmed",
}
PAYLOADS = {
    kinds.CHECKIN_RECORDED: {
        "activity_id": 1,
        "title": "主题党日",
        "status": "present",
        "checked_in_at": "2026-12-02T06:30:00Z",
    },
    kinds.ACTIVITY_REMINDER_DUE: {
        "activity_id": 1,
        "due_at": "2026-12-02T05:30:00+00:00",
        "title": "主题党日",
        "starts_at": "2026-12-02T06:30:00+00:00",
        "place": "会议室",
    },
    kinds.SIGNUP_CONFIRMED: POSTING,
    kinds.SIGNUP_WAITLISTED: {**POSTING, "status": "waitlisted", "waitlist_position": 3},
    kinds.SIGNUP_PROMOTED: {**POSTING, "status": "confirmed"},
    kinds.SIGNUP_PENDING: {**POSTING, "status": "pending"},
    kinds.SIGNUP_APPROVED: {**POSTING, "status": "confirmed"},
    kinds.SIGNUP_REJECTED: {**POSTING, "status": "rejected", "reason": "名额已满，欢迎下次报名"},
    kinds.SIGNUP_CANCELLED: {**POSTING, "status": "cancelled"},
    kinds.POSTING_CANCELLED: {**POSTING, "reason": "台风预警，活动取消"},
    kinds.POSTING_REMINDER_DUE: {**POSTING, "due_at": "2026-12-04T01:00:00+00:00"},
    kinds.DONATION_RECORDED: {
        "project_id": 5,
        "project_title": "山区儿童营养午餐",
        "amount_fen": 123456,
        "receipt_code": "GX-2026-000123",
        "received_at": "2026-12-02T06:30:00+00:00",
    },
    kinds.PROJECT_PROGRESS: {
        "project_id": 5,
        "project_title": "山区儿童营养午餐",
        "summary": "第三批午餐已送达两所学校",
        "published_at": "2026-12-02T06:30:00+00:00",
    },
    kinds.DISCLOSURE_OVERDUE: {
        "credit_code": "51440300MJL0000103",
        "organization": "深圳市慈善基金会",
        "item": "2025年度工作报告",
        "due_on": "2026-05-31",
    },
}


def test_every_kind_has_a_template_and_a_payload_here():
    assert set(TEMPLATES) == set(all_kinds()) == set(PAYLOADS)


def test_every_kind_has_a_template_id_outside_production(settings):
    assert set(template_ids(settings)) == set(all_kinds())


def test_production_sends_only_the_kinds_configured():
    from backend.config import AppEnv, Settings

    prod = Settings.model_construct(app_env=AppEnv.PRODUCTION, notify_templates={"checkin.recorded": "abc"})
    assert template_ids(prod) == {"checkin.recorded": "abc"}


@pytest.mark.parametrize("kind", all_kinds())
def test_each_kind_renders_within_the_limits(kind):
    data, page = render(kind, PAYLOADS[kind])
    assert page.startswith("pages/") and "{" not in page
    for key, value in data.items():
        text = value["value"]
        kind_of_field = fields.field_type(key)
        limit = {"thing": 20, "phrase": 5, "name": 20, "character_string": 32, "number": 32}.get(
            kind_of_field
        )
        assert text, key
        if limit:
            assert len(text) <= limit, (key, text)
        if kind_of_field == "phrase":
            assert all("\u4e00" <= c <= "\u9fff" for c in text), text


def test_signup_messages_say_what_happened():
    data, page = render(kinds.SIGNUP_WAITLISTED, PAYLOADS[kinds.SIGNUP_WAITLISTED])
    assert data["thing1"] == {"value": "周末社区环境志愿服务：清理河道垃圾并宣…"}
    assert data["phrase4"] == {"value": "候补中"}
    assert data["thing5"] == {"value": "候补第3位，有空位时自动递补"}
    assert data["time3"] == {"value": "2026年12月5日 09:00"}
    assert page == "pages/posting/detail?id=12"


def test_a_donation_shows_yuan_and_its_receipt():
    data, page = render(kinds.DONATION_RECORDED, PAYLOADS[kinds.DONATION_RECORDED])
    assert data["amount2"] == {"value": "1234.56元"}
    assert data["character_string3"] == {"value": "GX-2026-000123"}
    assert page == "pages/donation/receipt?code=GX-2026-000123"


def test_a_payload_missing_a_field_cannot_be_rendered():
    with pytest.raises(RenderError, match="title"):
        render(kinds.CHECKIN_RECORDED, {"activity_id": 1, "checked_in_at": "2026-12-02T06:30:00Z"})


def test_thing_is_cut_to_20_characters_with_an_ellipsis():
    text = "一二三四五六七八九十一二三四五六七八九十一"
    assert fields.thing(text) == "一二三四五六七八九十一二三四五六七八九…"
    assert len(fields.thing(text)) == 20
    assert (
        fields.thing("一二三四五六七八九十一二三四五六七八九十") == "一二三四五六七八九十一二三四五六七八九十"
    )
    assert fields.thing("  多个\n空白\t  ") == "多个 空白"
    assert fields.thing("") == "-"


def test_cuts_never_split_a_character():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of three people
    text = "党" * 18 + family + "尾巴"
    cut = fields.thing(text)
    assert cut == "党" * 18 + family + "…"
    accented = "e\u0301" * 25  # é as e + a combining accent
    assert fields.thing(accented) == "e\u0301" * 19 + "…"


def test_phrase_keeps_five_chinese_characters():
    assert fields.phrase("报名成功啦好的") == "报名成功啦"
    assert fields.phrase("OK 已签到!") == "已签到"
    with pytest.raises(RenderError):
        fields.phrase("late")


def test_name_is_ten_chinese_or_twenty_letters():
    assert fields.name("欧阳娜娜娜娜娜娜娜娜娜") == "欧阳娜娜娜娜娜娜娜娜"
    assert fields.name("Alexander Hamilton Jr. III") == "Alexander Hamilton J"


def test_numbers_amounts_and_codes_are_refused_rather_than_shortened():
    assert fields.number(42) == "42"
    assert fields.number("3.5") == "3.5"
    with pytest.raises(RenderError):
        fields.number("1" * 33)
    assert fields.amount(5) == "0.05元"
    with pytest.raises(RenderError):
        fields.amount(10**13)
    with pytest.raises(RenderError):
        fields.amount(1.5)
    with pytest.raises(RenderError):
        fields.character_string("A" * 33)
    with pytest.raises(RenderError):
        fields.character_string("中文")


def test_times_are_shown_in_beijing_time():
    assert fields.time("2026-12-31T16:05:00+00:00") == "2027年1月1日 00:05"
    assert fields.date_("2026-05-31") == "2026年5月31日"
    assert fields.date_("2026-12-31T16:05:00+00:00") == "2027年1月1日"
    with pytest.raises(RenderError):
        fields.time("2026-12-31T16:05:00")  # no offset: ambiguous
