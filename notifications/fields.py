"""WeChat subscribe-message field types and their limits, and rendering values into them.

A template's keys are named after their type (``thing1``, ``time2``, ``phrase3`` ...) and WeChat
refuses a message whose value breaks its type's rule (47003). The rules, from WeChat's
subscribe-message documentation:

=================  =======================================================  ==================
type               allows                                                   here
=================  =======================================================  ==================
thing              20 characters: Chinese, letters, digits, symbols          cut with "…"
phrase             5 Chinese characters only                                 non-Chinese dropped, cut
name               10 Chinese characters, or 20 letters / symbols            cut
number             32 digits, a decimal point allowed                        refused beyond
amount             a currency symbol, 10 digits, decimals, optional "元"     refused beyond
date               年月日 (with a 24-hour time)                             Asia/Shanghai
time               24-hour time (with 年月日)                               Asia/Shanghai
character_string   32 digits, letters or symbols                             refused beyond
letter             32 letters                                                refused beyond
=================  =======================================================  ==================

Text is cut on character boundaries, never inside a character: Python counts code points, and a
cut never separates a base character from the combining marks, variation selectors or
zero-width joiners that belong to it. Values that cannot be shortened without becoming wrong (a
receipt code, an amount) raise ``RenderError``: the message fails for good, with that reason.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
ELLIPSIS = "…"
PLACEHOLDER = "-"  # WeChat refuses an empty value
_WHITESPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_CHARACTER_STRING = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII: digits, letters, symbols
_LETTERS = re.compile(r"^[A-Za-z]+$")
_JOINERS = {"\u200d", "\u200c"}  # zero-width joiner / non-joiner


class RenderError(ValueError):
    """A value cannot be put into its field without being wrong."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


def _attaches(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (combining mark, selector, joiner)."""
    if char in _JOINERS or "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef":
        return True
    return unicodedata.category(char) in ("Mn", "Me", "Mc") or "\U0001f3fb" <= char <= "\U0001f3ff"


def clusters(text: str) -> list[str]:
    """``text`` split into user-perceived characters (a base with what attaches to it)."""
    out: list[str] = []
    joined = False
    for char in text:
        if out and (_attaches(char) or joined):
            out[-1] += char
        else:
            out.append(char)
        joined = char == "\u200d"
    return out


def clean(value: Any) -> str:
    """One line of text: whitespace runs become one space, control characters go."""
    text = "" if value is None else str(value)
    text = "".join(c for c in text if unicodedata.category(c) != "Cc" or c in "\t\n\r ")
    return _WHITESPACE.sub(" ", text).strip()


def truncate(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """At most ``limit`` characters, cut on a character boundary, ending with ``ellipsis`` when cut."""
    parts = clusters(text)
    if len(parts) <= limit:
        return text
    keep = max(0, limit - len(ellipsis))
    return "".join(parts[:keep]).rstrip() + ellipsis


def thing(value: Any) -> str:
    """20 characters of anything, cut with an ellipsis."""
    return truncate(clean(value), 20) or PLACEHOLDER


def phrase(value: Any) -> str:
    """5 Chinese characters: anything else dropped (WeChat allows nothing else), then cut."""
    han = "".join(_HAN.findall(clean(value)))
    if not han:
        raise RenderError("phrase", "no Chinese characters")
    return han[:5]


def name(value: Any) -> str:
    """10 Chinese characters, or 20 letters and symbols."""
    text = clean(value)
    if not text:
        return PLACEHOLDER
    if _HAN.search(text):
        return "".join(_HAN.findall(text))[:10]
    return truncate(text, 20, ellipsis="")


def number(value: Any) -> str:
    """Up to 32 digits, a decimal point allowed."""
    text = clean(value)
    if not _NUMBER.match(text) or len(text.replace("-", "").replace(".", "")) > 32:
        raise RenderError("number", "not a number of at most 32 digits")
    return text


def amount(fen: Any) -> str:
    """Integer fen as yuan: ``1234`` -> ``12.34元`` (at most 10 digits before the point)."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise RenderError("amount", "not a non-negative integer number of fen")
    yuan, cents = divmod(fen, 100)
    if len(str(yuan)) > 10:
        raise RenderError("amount", "more than 10 digits")
    return f"{yuan}.{cents:02d}元"


def _moment(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise RenderError("time", "a time without its offset")
    return when.astimezone(SHANGHAI)


def time(value: Any) -> str:
    """A moment as Beijing time with its date: ``2026年12月3日 15:01``."""
    try:
        when = _moment(value)
    except ValueError as exc:
        raise RenderError("time", "not an ISO 8601 time") from exc
    return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"


def date_(value: Any) -> str:
    """A date (``2026-05-31``) or a moment (its Beijing date) as ``2026年5月31日``."""
    try:
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        elif isinstance(value, str) and len(value) == 10:
            day = date.fromisoformat(value)
        else:
            day = _moment(value).date()
    except ValueError as exc:
        raise RenderError("date", "not an ISO 8601 date") from exc
    return f"{day.year}年{day.month}月{day.day}日"


def character_string(value: Any) -> str:
    """Up to 32 digits, letters and symbols (a code must not be shortened: refused beyond)."""
    text = clean(value)
    if not _CHARACTER_STRING.match(text) or len(text) > 32:
        raise RenderError("character_string", "not 1-32 digits, letters or symbols")
    return text


def letter(value: Any) -> str:
    """Up to 32 letters."""
    text = clean(value)
    if not _LETTERS.match(text) or len(text) > 32:
        raise RenderError("letter", "not 1-32 letters")
    return text


RENDERERS = {
    "thing": thing,
    "phrase": phrase,
    "name": name,
    "number": number,
    "amount": amount,
    "time": time,
    "date": date_,
    "character_string": character_string,
    "letter": letter,
}


def field_type(key: str) -> str:
    """The type a template key names: ``thing1`` -> ``thing``, ``amount2`` -> ``amount``."""
    kind = key.rstrip("0123456789")
    if kind not in RENDERERS:
        raise ValueError(f"unknown subscribe-message field type in {key!r}")
    return kind
