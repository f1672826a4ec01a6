"""The edges of answer checking (backend/recruitment/answers.py), pure: limits taken exactly, every
bad answer named even when several are bad, what is stored and shown.

tests/recruitment/test_questions.py has each problem once; this file holds the boundaries, for the
mutation run's ``signups`` group (tests/MUTATION.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.recruitment import answers
from backend.recruitment.schemas import MAX_TEXT_ANSWER
from tests.factories import factory_cipher

CIPHER = factory_cipher()


def problems(questions: list[dict[str, Any]], given: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(answers.AnswersInvalid) as refused:
        answers.check(questions, given, cipher=CIPHER)
    assert refused.value.code == "signup.answers_invalid"
    return list(refused.value.details)


def q(id: str, kind: str, **more: Any) -> dict[str, Any]:
    return {"id": id, "kind": kind, "label": id, "required": False, **more}


def test_a_text_may_be_as_long_as_its_limit_and_not_a_character_more():
    limited = [q("name", "text", max_length=5)]
    assert answers.check(limited, {"name": "欧阳娜娜娜"}, cipher=CIPHER) == {"name": "欧阳娜娜娜"}
    assert problems(limited, {"name": "欧阳娜娜娜娜"}) == [{"question_id": "name", "problem": "too_long"}]
    free = [q("note", "text")]  # no limit of its own: the schema's
    assert answers.check(free, {"note": "字" * MAX_TEXT_ANSWER}, cipher=CIPHER) == {
        "note": "字" * MAX_TEXT_ANSWER
    }
    assert problems(free, {"note": "字" * (MAX_TEXT_ANSWER + 1)}) == [
        {"question_id": "note", "problem": "too_long"}
    ]
    zero = [q("note", "text", max_length=0)]  # 0 is no limit of its own either
    assert answers.check(zero, {"note": "字" * 10}, cipher=CIPHER) == {"note": "字" * 10}


def test_a_number_may_equal_its_bounds_and_a_zero_bound_counts():
    age = [q("age", "number", min=16, max=70)]
    for value in (16, 70, 16.0, 69.5):
        assert answers.check(age, {"age": value}, cipher=CIPHER) == {"age": value}
    assert problems(age, {"age": 15.99}) == [{"question_id": "age", "problem": "below_min"}]
    assert problems(age, {"age": 70.01}) == [{"question_id": "age", "problem": "above_max"}]
    zero = [q("n", "number", min=0, max=0)]
    assert answers.check(zero, {"n": 0}, cipher=CIPHER) == {"n": 0}
    assert problems(zero, {"n": -1}) == [{"question_id": "n", "problem": "below_min"}]
    assert problems(zero, {"n": 1}) == [{"question_id": "n", "problem": "above_max"}]
    unbounded = [q("n", "number")]
    assert answers.check(unbounded, {"n": -(10**9)}, cipher=CIPHER) == {"n": -(10**9)}
    for bad in (float("nan"), float("inf"), float("-inf"), False, [1], "1"):
        assert problems(unbounded, {"n": bad}) == [{"question_id": "n", "problem": "not_a_number"}]


def test_choices_must_be_options_given_once_as_text():
    size = [q("size", "single_choice", options=["S", "M"])]
    assert answers.check(size, {"size": "S"}, cipher=CIPHER) == {"size": "S"}
    assert problems(size, {"size": 1}) == [{"question_id": "size", "problem": "not_an_option"}]
    days = [q("days", "multiple_choice", options=["六", "日"])]
    assert answers.check(days, {"days": ["日"]}, cipher=CIPHER) == {"days": ["日"]}
    assert problems(days, {"days": ["六", 1]}) == [
        {"question_id": "days", "problem": "not_a_list_of_options"}
    ]
    assert problems(days, {"days": ("六",)}) == [{"question_id": "days", "problem": "not_a_list_of_options"}]
    assert problems(days, {"days": ["日", "一", "日"]}) == [
        {"question_id": "days", "problem": "repeated_option"}
    ]


def test_a_date_is_a_real_calendar_day_written_yyyy_mm_dd():
    day = [q("d", "date")]
    assert answers.check(day, {"d": "2024-02-29"}, cipher=CIPHER) == {"d": "2024-02-29"}
    for bad in ("2023-02-29", "2024-2-29", "20240229", "2024-02-29T00:00", 20240229):
        assert problems(day, {"d": bad}) == [{"question_id": "d", "problem": "not_a_date"}]


def test_every_bad_answer_is_named_not_only_the_first():
    questions = [
        q("a", "number", required=True),
        q("b", "text", max_length=1),
        q("c", "single_choice", options=["x"]),
        q("d", "phone", required=True),
        q("e", "text", required=True),
    ]
    given = {"a": "x", "b": "长文", "c": "y", "d": "123", "zz" * 40: 1}
    assert problems(questions, given) == [
        {"question_id": "zz" * 32, "problem": "unknown_question"},  # cut to 64 characters
        {"question_id": "a", "problem": "not_a_number"},
        {"question_id": "b", "problem": "too_long"},
        {"question_id": "c", "problem": "not_an_option"},
        {"question_id": "d", "problem": "not_a_mobile_number"},
        {"question_id": "e", "problem": "required"},
    ]


def test_empty_answers_count_as_none_given():
    questions = [q("t", "text", required=True), q("m", "multiple_choice", options=["x"], required=True)]
    for empty in (None, "", []):
        assert problems(questions, {"t": empty, "m": empty}) == [
            {"question_id": "t", "problem": "required"},
            {"question_id": "m", "problem": "required"},
        ]
    optional = [q("t", "text"), q("m", "multiple_choice", options=["x"])]
    assert answers.check(optional, {"t": "", "m": []}, cipher=CIPHER) == {}
    assert answers.check(optional, {"t": " ", "m": ["x"]}, cipher=CIPHER) == {"t": " ", "m": ["x"]}
    assert answers.check(optional, {"m": None}, cipher=CIPHER) == {}


def test_a_kind_without_rules_keeps_its_answer():
    assert answers.check([q("f", "file")], {"f": {"url": "x"}}, cipher=CIPHER) == {"f": {"url": "x"}}


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("86 138 0013 8000", "13800138000"),
        ("19912345678", "19912345678"),
        ("12800138000", None),  # 12x is no mobile prefix
        ("1380013800", None),
        ("138001380001", None),
        ("+8513800138000", None),
        ("138_0013_8000", None),
        ("", None),
    ],
)
def test_a_mobile_number_is_eleven_digits_with_a_mobile_prefix(written, digits):
    assert answers.normalize_phone(written) == digits


def test_a_phone_is_stored_encrypted_and_shown_in_full_only_with_the_cipher():
    questions = [q("phone", "phone"), q("name", "text")]
    stored = answers.check(questions, {"phone": "+86 139-0013-9000", "name": "李四"}, cipher=CIPHER)
    assert stored["name"] == "李四" and stored["phone"]["masked"] == "139****9000"
    assert CIPHER.decrypt(stored["phone"]["encrypted"]) == "13900139000"
    assert answers.shown(questions, stored, cipher=CIPHER) == {"phone": "13900139000", "name": "李四"}
    assert answers.shown(questions, stored, cipher=None) == {"phone": "139****9000", "name": "李四"}
    # A phone kept as text (before encryption), and a dict answer of another kind: shown as kept.
    legacy = {"phone": "139****9000", "f": {"encrypted": "x", "masked": "y"}}
    assert answers.shown([*questions, q("f", "file")], legacy, cipher=CIPHER) == legacy
    assert answers.shown(questions, {}, cipher=None) == {}
