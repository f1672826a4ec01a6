"""Unified social credit codes: normalization, the layout and every rejection with its details."""

from __future__ import annotations

import pytest
from stdnum.cn import uscc

from backend.errors import Unprocessable
from backend.registry import credit_code as cc
from backend.registry.models import OrgKind
from tests.registry.fixtures_import import bad_check, make_code


@pytest.mark.parametrize(
    ("kind", "char"),
    [
        (OrgKind.ASSOCIATION, "1"),
        (OrgKind.SOCIAL_SERVICE, "2"),
        (OrgKind.FOUNDATION, "3"),
        (OrgKind.OTHER, "9"),
    ],
)
def test_valid_code_of_each_kind_is_split_into_its_parts(kind: OrgKind, char: str) -> None:
    code = make_code(kind.value, region="440305", serial=1234)
    assert code[1] == char
    result = cc.validate(code)
    assert result == cc.ValidatedCode(
        code=code,
        department="5",
        kind=kind,
        region_code="440305",
        organization_code="500001234",
        check_digit_ok=True,
    )
    assert cc.validate(code, expected_kind=kind).kind is kind


def test_validated_code_is_frozen() -> None:
    result = cc.validate(make_code())
    with pytest.raises(AttributeError):
        result.code = "x"  # type: ignore[misc]


def test_alphabet_is_the_standards_31_characters() -> None:
    assert cc.ALPHABET == "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert not set("IOSVZ") & set(cc.ALPHABET)


def test_full_width_input_is_accepted() -> None:
    code = make_code("foundation")
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    assert cc.normalize(full_width) == code
    assert cc.validate(full_width).code == code


@pytest.mark.parametrize(
    "dirt",
    [
        " ",
        "\u00a0",  # no-break space from web pages
        "\u3000",  # ideographic space
        "\u200b",  # zero-width space
        "\u200c",
        "\u200d",
        "\ufeff",  # BOM / zero-width no-break space
        "\u00ad",  # soft hyphen from PDFs
        "\t",
        "\n",
        "\r\n",
        "-",
        "\u2014",  # em dash
        "\uff0d",  # full-width hyphen-minus
    ],
)
def test_whitespace_invisibles_and_dashes_anywhere_are_removed(dirt: str) -> None:
    code = make_code("social_service")
    pasted = dirt + code[:8] + dirt + code[8:13] + dirt + code[13:] + dirt
    assert cc.validate(pasted).code == code


def test_lower_case_is_upper_cased() -> None:
    base = "5111000050000000A"
    code = base + uscc.calc_check_digit(base)
    assert cc.validate(code.lower()).code == code


def test_letters_in_the_organization_code_are_fine() -> None:
    base = "53100000MJ0000012"  # national authority, letters in positions 9-17
    code = base + uscc.calc_check_digit(base)
    assert cc.validate(code).organization_code == "MJ0000012"


@pytest.mark.parametrize("region", ["100000", "110100", "440304", "999999"])
def test_region_is_not_checked_against_any_table(region: str) -> None:
    # 100000 is the national authority; 110100 (北京市市辖区) was abolished; 999999 never existed.
    assert cc.validate(make_code(region=region)).region_code == region


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\n\t", "- -"])
def test_empty(raw: str) -> None:
    with pytest.raises(cc.CreditCodeEmpty) as info:
        cc.validate(raw)
    assert info.value.code == "credit_code.empty"
    assert info.value.status == 422
    assert isinstance(info.value, Unprocessable)


@pytest.mark.parametrize("length", [1, 17, 19, 36])
def test_length(length: int) -> None:
    raw = (make_code() * 2)[:length]
    with pytest.raises(cc.CreditCodeLength) as info:
        cc.validate(raw)
    assert info.value.code == "credit_code.length"
    assert info.value.details == {"length": length, "expected": 18}
    assert f"实为 {length} 位" in info.value.message


@pytest.mark.parametrize(
    ("position", "character"),
    [(11, "O"), (18, "I"), (9, "S"), (12, "V"), (17, "Z"), (10, "#"), (2, "O"), (1, "Ä")],
)
def test_character_outside_the_alphabet(position: int, character: str) -> None:
    code = make_code()
    raw = code[: position - 1] + character + code[position:]
    with pytest.raises(cc.CreditCodeCharacter) as info:
        cc.validate(raw)
    assert info.value.code == "credit_code.character"
    assert info.value.details["position"] == position
    assert info.value.details["character"] == character
    assert f"第 {position} 位" in info.value.message


def test_lookalike_letters_get_a_hint() -> None:
    code = make_code()
    with pytest.raises(cc.CreditCodeCharacter) as info:
        cc.validate(code[:10] + "O" + code[11:])
    assert info.value.details == {"position": 11, "character": "O", "did_you_mean": "0"}
    assert "是否应为“0”" in info.value.message


@pytest.mark.parametrize("position", [3, 5, 8])
def test_region_part_must_be_digits(position: int) -> None:
    code = make_code()
    raw = code[: position - 1] + "A" + code[position:]
    with pytest.raises(cc.CreditCodeCharacter) as info:
        cc.validate(raw)
    assert info.value.details == {"position": position, "character": "A"}
    assert "应为数字" in info.value.message


@pytest.mark.parametrize("department", ["9", "1", "Y", "N"])
def test_department_other_than_civil_affairs_is_rejected(department: str) -> None:
    base = f"{department}1110000500000001"
    code = base + uscc.calc_check_digit(base)
    with pytest.raises(cc.CreditCodeDepartment) as info:
        cc.validate(code)
    assert info.value.code == "credit_code.department"
    assert info.value.details == {"position": 1, "expected": "5", "got": department}
    assert "不是民政部门" in info.value.message


def test_real_enterprise_code_is_not_a_social_organization() -> None:
    with pytest.raises(cc.CreditCodeDepartment):
        cc.validate("91110000600037341L")  # stdnum's example, a company registered by SAMR


@pytest.mark.parametrize("char", ["4", "5", "A", "0"])
def test_kind_character_must_be_1_2_3_or_9(char: str) -> None:
    base = f"5{char}110000500000001"
    code = base + uscc.calc_check_digit(base)
    with pytest.raises(cc.CreditCodeKind) as info:
        cc.validate(code)
    assert info.value.code == "credit_code.kind"
    assert info.value.details == {"position": 2, "got": char, "allowed": ["1", "2", "3", "9"]}


def test_kind_mismatch_names_both_kinds_in_chinese() -> None:
    code = make_code("association")
    with pytest.raises(cc.CreditCodeKindMismatch) as info:
        cc.validate(code, expected_kind=OrgKind.FOUNDATION)
    error = info.value
    assert error.code == "credit_code.kind_mismatch"
    assert error.details["expected"] == "foundation"
    assert error.details["got"] == "association"
    assert "社会团体" in error.message and "基金会" in error.message


def test_kind_mismatch_for_social_service_uses_the_full_label() -> None:
    with pytest.raises(cc.CreditCodeKindMismatch) as info:
        cc.validate(make_code("foundation"), expected_kind=OrgKind.SOCIAL_SERVICE)
    assert "民办非企业单位（社会服务机构）" in info.value.message


def test_bad_check_digit_is_rejected_with_the_expected_character() -> None:
    good = make_code("social_service", serial=77)
    bad = bad_check(good)
    with pytest.raises(cc.CreditCodeCheckDigit) as info:
        cc.validate(bad)
    assert info.value.code == "credit_code.check_digit"
    assert info.value.details == {"position": 18, "expected": good[-1], "got": bad[-1]}
    assert f"应为“{good[-1]}”" in info.value.message


def test_bad_check_digit_is_accepted_with_the_flag() -> None:
    bad = bad_check(make_code("foundation"))
    result = cc.validate(bad, allow_bad_check_digit=True)
    assert result.code == bad
    assert result.check_digit_ok is False
    assert result.kind is OrgKind.FOUNDATION


def test_the_flag_does_not_excuse_other_faults() -> None:
    bad = bad_check(make_code("association"))
    with pytest.raises(cc.CreditCodeKindMismatch):
        cc.validate(bad, expected_kind=OrgKind.FOUNDATION, allow_bad_check_digit=True)
    with pytest.raises(cc.CreditCodeLength):
        cc.validate(bad[:17], allow_bad_check_digit=True)


def test_error_codes_are_stable() -> None:
    assert {e.code for e in cc.CreditCodeError.__subclasses__()} == {
        "credit_code.empty",
        "credit_code.length",
        "credit_code.character",
        "credit_code.department",
        "credit_code.kind",
        "credit_code.kind_mismatch",
        "credit_code.check_digit",
    }


def test_kind_labels() -> None:
    assert [cc.kind_label(k) for k in OrgKind] == [
        "社会团体",
        "民办非企业单位（社会服务机构）",
        "基金会",
        "其他",
    ]
