"""Unified social credit codes (统一社会信用代码, GB 32100-2015) of social organizations.

An 18-character code, for example ``51110000500000000X`` (illustrative)::

    position  1     registration department (登记管理部门): "5" = civil affairs (民政)
    position  2     kind of entity; for civil affairs "1" 社会团体, "2" 民办非企业单位（社会服务机构）,
                    "3" 基金会, "9" 其他
    positions 3-8   GB/T 2260 region code of the registering authority (digits only)
    positions 9-17  organization code (组织机构代码, GB 11714)
    position  18    check character, mod 31 over positions 1-17

The alphabet is 0-9 and A-Z without I, O, S, V, Z (they look like 1, 0, 5, U, 2). The check
arithmetic and the alphabet come from ``stdnum.cn.uscc``; this module adds what the registry needs on
top: normalization of pasted text, an error per rule with the position at fault, and the civil-affairs
rules on positions 1 and 2.

The region part is deliberately not looked up in any table: real codes carry abolished regions and the
national code ``100000``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from stdnum.cn import uscc

from backend.errors import Unprocessable
from backend.registry.models import OrgKind

# stdnum keeps the alphabet under a private name; using it keeps one source of truth for the
# characters the check arithmetic accepts (a test pins it to the standard's 31 characters).
ALPHABET: str = uscc._alphabet
LENGTH = 18
CIVIL_AFFAIRS = "5"

KIND_BY_CHAR: dict[str, OrgKind] = {
    "1": OrgKind.ASSOCIATION,
    "2": OrgKind.SOCIAL_SERVICE,
    "3": OrgKind.FOUNDATION,
    "9": OrgKind.OTHER,
}
CHAR_BY_KIND: dict[OrgKind, str] = {kind: char for char, kind in KIND_BY_CHAR.items()}

_KIND_LABELS: dict[OrgKind, str] = {
    OrgKind.ASSOCIATION: "社会团体",
    OrgKind.SOCIAL_SERVICE: "民办非企业单位（社会服务机构）",
    OrgKind.FOUNDATION: "基金会",
    OrgKind.OTHER: "其他",
}

# Only the departments an officer is likely to meet, to say whose code was pasted by mistake.
_DEPARTMENT_LABELS: dict[str, str] = {
    "1": "机构编制部门",
    "3": "司法行政部门",
    "5": "民政部门",
    "9": "市场监管部门",
    "Y": "其他部门",
}

# Letters the standard leaves out, and what the person most likely meant.
_LOOKALIKES: dict[str, str] = {"I": "1", "O": "0", "S": "5", "V": "U", "Z": "2"}

# Dashes and hyphens are removed: people format codes as "51110000-500000000X" and no dash is ever
# part of a code, so removing them only undoes formatting (stdnum's compact() drops "-" too). Other
# punctuation is kept so that it is reported rather than silently swallowed.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_FAST_PATH = re.compile(r"[0-9A-Za-z]{18}")
# One regex match for the usual good code; the per-position loop runs only to name the fault.
_WELL_FORMED = re.compile(f"[{ALPHABET}]{{2}}[0-9]{{6}}[{ALPHABET}]{{10}}")


def kind_label(kind: OrgKind) -> str:
    """The Chinese name of an organization kind."""
    return _KIND_LABELS[kind]


class CreditCodeError(Unprocessable):
    """Base of every credit-code rejection."""

    code = "credit_code.invalid"
    message = "统一社会信用代码无效 / Invalid unified social credit code"


class CreditCodeEmpty(CreditCodeError):
    code = "credit_code.empty"
    message = "请填写统一社会信用代码 / The unified social credit code is missing"


class CreditCodeLength(CreditCodeError):
    code = "credit_code.length"
    message = "统一社会信用代码应为 18 位 / The code must have 18 characters"


class CreditCodeCharacter(CreditCodeError):
    code = "credit_code.character"
    message = "统一社会信用代码含有无效字符 / The code contains an invalid character"


class CreditCodeDepartment(CreditCodeError):
    code = "credit_code.department"
    message = "不是民政部门登记的社会组织代码 / Not a code issued by civil affairs"


class CreditCodeKind(CreditCodeError):
    code = "credit_code.kind"
    message = "统一社会信用代码第 2 位（机构类别）无效 / Invalid kind character"


class CreditCodeKindMismatch(CreditCodeError):
    code = "credit_code.kind_mismatch"
    message = "统一社会信用代码与组织类型不符 / The code does not match the organization kind"


class CreditCodeCheckDigit(CreditCodeError):
    code = "credit_code.check_digit"
    message = "统一社会信用代码校验码错误 / Wrong check character"


@dataclass(frozen=True, slots=True)
class ValidatedCode:
    """A normalized credit code of a civil-affairs social organization, split into its parts."""

    code: str
    department: str
    kind: OrgKind
    region_code: str
    organization_code: str
    check_digit_ok: bool


def normalize(raw: str) -> str:
    """Canonical form of pasted text: NFKC, no whitespace, invisible characters or dashes, upper case."""
    # Fast path for the common case (10,000-row imports): plain ASCII letters and digits.
    if _FAST_PATH.fullmatch(raw):
        return raw.upper()
    # NFKC turns full-width letters, digits and the ideographic space into ASCII ones.
    text = unicodedata.normalize("NFKC", raw)
    kept = [
        ch
        for ch in text
        if not ch.isspace() and ch not in _DASHES and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
    ]
    return "".join(kept).upper()


def _character_error(position: int, character: str, *, digit_required: bool) -> CreditCodeCharacter:
    """The error for one bad character, with a hint for look-alike letters."""
    details: dict[str, object] = {"position": position, "character": character}
    if digit_required:
        zh = f"统一社会信用代码第 {position} 位应为数字（第 3-8 位是行政区划代码），实为“{character}”"
        en = f"position {position} must be a digit (positions 3-8 are the region code), got {character!r}"
    else:
        zh = (
            f"统一社会信用代码第 {position} 位“{character}”不是有效字符"
            "（只能是数字和除 I、O、S、V、Z 外的大写字母）"
        )
        en = f"position {position}: {character!r} is not allowed (digits and A-Z without I, O, S, V, Z)"
    hint = _LOOKALIKES.get(character)
    if hint is not None:
        details["did_you_mean"] = hint
        zh += f"，是否应为“{hint}”？"
        en += f"; did you mean {hint!r}?"
    return CreditCodeCharacter(f"{zh} / {en}", details=details)


def validate(
    raw: str, *, expected_kind: OrgKind | None = None, allow_bad_check_digit: bool = False
) -> ValidatedCode:
    """Normalize and check a civil-affairs credit code; raise a ``CreditCodeError`` naming the fault."""
    code = normalize(raw)
    if not code:
        raise CreditCodeEmpty()
    if len(code) != LENGTH:
        raise CreditCodeLength(
            f"统一社会信用代码应为 18 位，实为 {len(code)} 位 / The code must have 18 characters, "
            f"got {len(code)}",
            details={"length": len(code), "expected": LENGTH},
        )
    if not _WELL_FORMED.fullmatch(code):
        for index, ch in enumerate(code):
            position = index + 1
            if 3 <= position <= 8:
                if not ("0" <= ch <= "9"):
                    raise _character_error(position, ch, digit_required=True)
            elif ch not in ALPHABET:
                raise _character_error(position, ch, digit_required=False)

    department = code[0]
    if department != CIVIL_AFFAIRS:
        label = _DEPARTMENT_LABELS.get(department, "其他部门")
        raise CreditCodeDepartment(
            f"统一社会信用代码第 1 位为“{department}”（{label}登记），不是民政部门（5）登记的社会组织 / "
            f"position 1 is {department!r}: not registered by civil affairs ('5')",
            details={"position": 1, "expected": CIVIL_AFFAIRS, "got": department},
        )

    kind = KIND_BY_CHAR.get(code[1])
    if kind is None:
        raise CreditCodeKind(
            f"统一社会信用代码第 2 位“{code[1]}”不是社会组织类别（1 社会团体、2 民办非企业单位、3 基金会、"
            f"9 其他） / position 2 is {code[1]!r}; expected 1, 2, 3 or 9",
            details={"position": 2, "got": code[1], "allowed": sorted(KIND_BY_CHAR)},
        )
    if expected_kind is not None and kind != expected_kind:
        raise CreditCodeKindMismatch(
            f"统一社会信用代码第 2 位为“{code[1]}”（{kind_label(kind)}），"
            f"与所填类型“{kind_label(expected_kind)}”不符 / "
            f"the code is for {kind.value}, not {expected_kind.value}",
            details={
                "position": 2,
                "expected": expected_kind.value,
                "got": kind.value,
                "expected_character": CHAR_BY_KIND[expected_kind],
                "got_character": code[1],
            },
        )

    # Length and characters were checked above with precise messages, so only the check character
    # is left of what uscc.validate() does; calling calc_check_digit() directly halves the cost.
    expected = uscc.calc_check_digit(code[:17])
    check_digit_ok = code[17] == expected
    if not check_digit_ok and not allow_bad_check_digit:
        raise CreditCodeCheckDigit(
            f"统一社会信用代码校验码错误：第 18 位应为“{expected}”，实为“{code[17]}”，请核对代码是否抄错 / "
            f"wrong check character: expected {expected!r}, got {code[17]!r}",
            details={"position": 18, "expected": expected, "got": code[17]},
        )

    return ValidatedCode(
        code=code,
        department=department,
        kind=kind,
        region_code=code[2:8],
        organization_code=code[8:17],
        check_digit_ok=check_digit_ok,
    )


_SHAPE = re.compile(r"^[0-9A-Z]{18}$")
# A credit code as a request may name it (any case: services upper-case it). Only ASCII letters and
# digits: upper-casing other text can change its length (ß -> SS) past the column's 18.
CREDIT_CODE_PATTERN = r"^[0-9A-Za-z]{18}$"


def looks_like_code(normalized: str) -> bool:
    """Eighteen characters of the right kind: worth looking up (lookups of anything else find nothing)."""
    return bool(_SHAPE.match(normalized))
