"""Answers to a posting's questions: checked against each question, phone numbers kept encrypted.

Every bad answer is named (``signup.answers_invalid``, ``details``: one entry per question with its
problem), so the mini-program can mark each field at once rather than one per attempt.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from ..crypto import PersonalDataCipher, mask_phone
from ..errors import Unprocessable
from .schemas import MAX_TEXT_ANSWER

# A mainland mobile number: 11 digits beginning with 1 and 3-9, with an optional +86 in front.
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})$")
_SEPARATORS = re.compile(r"[\s-]")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class AnswersInvalid(Unprocessable):
    code = "signup.answers_invalid"
    message = "报名信息填写有误，请检查标出的问题 / Some answers are missing or invalid"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _problem(question: dict[str, Any], value: Any) -> str | None:
    """What is wrong with one present answer, or None."""
    kind = question["kind"]
    if kind == "text":
        if not isinstance(value, str):
            return "not_text"
        if len(value) > int(question.get("max_length") or MAX_TEXT_ANSWER):
            return "too_long"
    elif kind == "single_choice":
        if not isinstance(value, str) or value not in question["options"]:
            return "not_an_option"
    elif kind == "multiple_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "not_a_list_of_options"
        if len(set(value)) != len(value):
            return "repeated_option"
        if any(v not in question["options"] for v in value):
            return "not_an_option"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "not_a_number"
        if question.get("min") is not None and value < question["min"]:
            return "below_min"
        if question.get("max") is not None and value > question["max"]:
            return "above_max"
    elif kind == "date":
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            return "not_a_date"
        try:
            date.fromisoformat(value)
        except ValueError:
            return "not_a_date"
    elif kind == "phone" and (not isinstance(value, str) or normalize_phone(value) is None):
        return "not_a_mobile_number"
    return None


def normalize_phone(text: str) -> str | None:
    """The 11 digits of a mainland mobile number written with spaces, dashes or +86; else None."""
    match = _MOBILE.match(_SEPARATORS.sub("", text))
    return match.group(1) if match else None


def check(
    questions: list[dict[str, Any]], answers: dict[str, Any], *, cipher: PersonalDataCipher
) -> dict[str, Any]:
    """The answers as stored (phone numbers encrypted); AnswersInvalid naming every bad one."""
    problems: list[dict[str, str]] = []
    known = {q["id"] for q in questions}
    for key in answers:
        if key not in known:
            problems.append({"question_id": str(key)[:64], "problem": "unknown_question"})
    stored: dict[str, Any] = {}
    for question in questions:
        value = answers.get(question["id"])
        if _empty(value):
            if question.get("required"):
                problems.append({"question_id": question["id"], "problem": "required"})
            continue
        problem = _problem(question, value)
        if problem is not None:
            problems.append({"question_id": question["id"], "problem": problem})
            continue
        if question["kind"] == "phone":
            phone = normalize_phone(str(value))
            assert phone is not None
            stored[question["id"]] = {"encrypted": cipher.encrypt(phone), "masked": mask_phone(phone)}
        else:
            stored[question["id"]] = value
    if problems:
        raise AnswersInvalid(details=problems)
    return stored


def shown(
    questions: list[dict[str, Any]], stored: dict[str, Any], *, cipher: PersonalDataCipher | None
) -> dict[str, Any]:
    """Answers for display: phone numbers in full with a cipher (the organization's staff), else masked."""
    phones = {q["id"] for q in questions if q["kind"] == "phone"}
    out: dict[str, Any] = {}
    for key, value in stored.items():
        if key in phones and isinstance(value, dict):
            out[key] = cipher.decrypt(value["encrypted"]) if cipher is not None else value["masked"]
        else:
            out[key] = value
    return out
