"""Each question type, its good answers and its bad ones; a bad sign-up names every bad answer."""

from __future__ import annotations

import json

import pytest

from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.recruitment import answers
from tests.conftest import error_code, login
from tests.recruitment.conftest import open_posting, posting_body

CIPHER = PersonalDataCipher(Settings().fernet_key)
QUESTIONS = [
    {"id": "name", "kind": "text", "label": "姓名", "required": True, "max_length": 5},
    {"id": "size", "kind": "single_choice", "label": "T恤尺码", "required": True, "options": ["S", "M", "L"]},
    {
        "id": "days",
        "kind": "multiple_choice",
        "label": "可参加日期",
        "required": False,
        "options": ["六", "日"],
    },
    {"id": "age", "kind": "number", "label": "年龄", "required": True, "min": 16, "max": 70},
    {"id": "birthday", "kind": "date", "label": "出生日期", "required": False},
    {"id": "phone", "kind": "phone", "label": "手机号", "required": True},
]
GOOD = {
    "name": "张三",
    "size": "M",
    "days": ["六", "日"],
    "age": 30,
    "birthday": "1996-02-29",
    "phone": "138 0013 8000",
}


def _problems(given: dict) -> dict[str, str]:
    with pytest.raises(answers.AnswersInvalid) as refused:
        answers.check(QUESTIONS, given, cipher=CIPHER)
    return {p["question_id"]: p["problem"] for p in refused.value.details}


def test_good_answers_are_kept_with_the_phone_encrypted_and_masked():
    stored = answers.check(QUESTIONS, GOOD, cipher=CIPHER)
    assert stored["name"] == "张三" and stored["days"] == ["六", "日"] and stored["age"] == 30
    assert "13800138000" not in str(stored)
    assert stored["phone"]["masked"] == "138****8000"
    assert answers.shown(QUESTIONS, stored, cipher=CIPHER)["phone"] == "13800138000"
    assert answers.shown(QUESTIONS, stored, cipher=None)["phone"] == "138****8000"


@pytest.mark.parametrize(
    ("question", "value", "problem"),
    [
        ("name", 12, "not_text"),
        ("name", "张三李四王五", "too_long"),
        ("size", "XL", "not_an_option"),
        ("size", ["M"], "not_an_option"),
        ("days", "六", "not_a_list_of_options"),
        ("days", ["六", "六"], "repeated_option"),
        ("days", ["一"], "not_an_option"),
        ("age", "30", "not_a_number"),
        ("age", True, "not_a_number"),
        ("age", 15, "below_min"),
        ("age", 71, "above_max"),
        ("birthday", "1996-02-30", "not_a_date"),
        ("birthday", "02/03/1996", "not_a_date"),
        ("birthday", 19960203, "not_a_date"),
        ("phone", "12345678901", "not_a_mobile_number"),
        ("phone", "1380013800", "not_a_mobile_number"),
        ("phone", 13800138000, "not_a_mobile_number"),
    ],
)
def test_each_bad_answer_is_named_with_its_problem(question, value, problem):
    assert _problems({**GOOD, question: value}) == {question: problem}


def test_missing_required_answers_and_unknown_questions_are_all_named_at_once():
    given = {"days": [], "extra": "x", "birthday": ""}
    assert _problems(given) == {
        "extra": "unknown_question",
        "name": "required",
        "size": "required",
        "age": "required",
        "phone": "required",
    }


def test_optional_questions_may_be_left_out():
    stored = answers.check(QUESTIONS, {k: GOOD[k] for k in ("name", "size", "age", "phone")}, cipher=CIPHER)
    assert set(stored) == {"name", "size", "age", "phone"}


@pytest.mark.parametrize("phone", ["+86 138-0013-8000", "8613800138000", "13800138000"])
def test_a_mobile_number_may_be_written_with_spaces_dashes_or_the_country_code(phone):
    assert answers.normalize_phone(phone) == "13800138000"


async def test_a_signup_with_bad_answers_is_422_naming_each_and_nothing_is_written(client, org):
    from backend.recruitment.models import Posting, Signup

    posting = await open_posting(client, org, questions=QUESTIONS)
    member = await login(client, "careless")
    response = await client.post(
        f"/api/v1/postings/{posting['id']}/signups",
        json={"answers": {**GOOD, "age": 12, "size": "XXL"}},
        headers=member,
    )
    assert (response.status_code, error_code(response)) == (422, "signup.answers_invalid")
    assert {(p["question_id"], p["problem"]) for p in response.json()["error"]["details"]} == {
        ("age", "below_min"),
        ("size", "not_an_option"),
    }
    assert await Signup.filter(posting_id=posting["id"]).count() == 0
    assert (await Posting.get(id=posting["id"])).confirmed_count == 0
    good = await client.post(
        f"/api/v1/postings/{posting['id']}/signups", json={"answers": GOOD}, headers=member
    )
    assert good.status_code == 201
    mine = (await client.get("/api/v1/me/signups", headers=member)).json()["items"][0]
    assert mine["answers"]["phone"] == "138****8000"  # masked to everyone but the organization's staff


@pytest.mark.parametrize(
    "questions",
    [
        [{"id": "a", "kind": "text", "label": "A"}, {"id": "a", "kind": "date", "label": "B"}],
        [{"id": "c", "kind": "single_choice", "label": "C", "options": []}],
        [{"id": "c", "kind": "multiple_choice", "label": "C", "options": ["x", "x"]}],
        [{"id": "n", "kind": "number", "label": "N", "min": 5, "max": 1}],
        [{"id": "t", "kind": "text", "label": "T", "max_length": 0}],
        [{"id": "q", "kind": "essay", "label": "Q"}],
        [{"id": "bad id!", "kind": "text", "label": "Q"}],
    ],
)
async def test_a_posting_with_malformed_questions_is_refused(client, org, questions):
    response = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(questions=questions), headers=org["staff"]
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("bound", ["NaN", "Infinity", "-Infinity"])
async def test_a_number_questions_bounds_must_be_finite(client, org, bound):
    # The JSON parser takes NaN and Infinity: a NaN minimum was stored, shown as null and never checked.
    body = posting_body(questions=[{"id": "n", "kind": "number", "label": "N", "min": 0, "max": 10}])
    text = json.dumps(body).replace('"min": 0', f'"min": {bound}')
    response = await client.post(
        f"/api/v1/orgs/{org['code']}/postings",
        content=text.encode(),
        headers={**org["staff"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"][:2] == ["questions", 0]


async def test_a_nul_character_in_a_posting_or_an_answer_is_422_on_every_database(client, org):
    # PostgreSQL keeps no U+0000 in text or jsonb: the write failed there with a 500 (SQLite kept it).
    body = posting_body(body="周末读书\u0000会", questions=[{"id": "t", "kind": "text", "label": "T"}])
    refused = await client.post(f"/api/v1/orgs/{org['code']}/postings", json=body, headers=org["staff"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["loc"] == ["body"]
    posting = await open_posting(client, org, questions=[{"id": "t", "kind": "text", "label": "T"}])
    member = await login(client, "nul-member")
    answer = await client.post(
        f"/api/v1/postings/{posting['id']}/signups", json={"answers": {"t": "a\u0000b"}}, headers=member
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["loc"] == ["answers", "t"]
    # The six characters \u0000 written out (an escaped backslash) are ordinary text.
    fine = await client.post(
        f"/api/v1/postings/{posting['id']}/signups", json={"answers": {"t": "\\u0000"}}, headers=member
    )
    assert fine.status_code == 201, fine.text
