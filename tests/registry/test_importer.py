"""Parsing organization lists exported by government offices (CSV and XLSX)."""

from __future__ import annotations

import sys
import unicodedata
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from backend.registry import importer
from backend.registry.importer import ImportRow, parse_bytes, parse_file
from backend.registry.models import OrgKind, OrgStatus
from tests.registry.fixtures_import import (
    CN_HEADER,
    EN_HEADER,
    bad_check,
    csv_bytes,
    make_code,
    many_rows,
    row,
    write_csv,
    write_xlsx,
)

A = make_code("association", region="110101", serial=1)
S = make_code("social_service", region="440305", serial=2)
F = make_code("foundation", region="100000", serial=3)


def _only_row(parsed: importer.ParsedImport) -> ImportRow:
    assert parsed.errors == []
    assert len(parsed.rows) == 1
    return parsed.rows[0]


# --------------------------------------------------------------------------------------------------
# Encodings, delimiters, headers


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
)
def test_csv_encodings(tmp_path: Path, encoding: str, reported: str) -> None:
    path = write_csv(tmp_path, [CN_HEADER, row(A, name="北京市东城区书法协会")], encoding=encoding)
    parsed = parse_file(path)
    assert parsed.encoding == reported
    assert parsed.delimiter == ","
    got = _only_row(parsed)
    assert got == ImportRow(
        row_number=2,
        credit_code=A,
        kind=OrgKind.ASSOCIATION,
        name="北京市东城区书法协会",
        authority_text="北京市民政局",
        region_code="110101",
        registered_on=date(2019, 5, 1),
        legal_representative="张三",
        address="北京市东城区示例路1号",
        business_scope="学术交流",
        supervising_unit=None,
        registered_capital_fen=3_000_000,
        status=OrgStatus.ACTIVE,
        check_digit_ok=True,
    )
    assert parsed.ignored_columns == []
    assert parsed.header_row == 1


def test_utf16_excel_unicode_text_is_read(tmp_path: Path) -> None:
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    data = csv_bytes([CN_HEADER, row(A)], encoding="utf-16", delimiter="\t")
    parsed = parse_bytes(data, filename="名录.txt")
    assert parsed.encoding == "utf-16"
    assert parsed.delimiter == "\t"
    assert _only_row(parsed).credit_code == A


def test_undecodable_bytes_are_rejected() -> None:
    data = "统一社会信用代码,名称\n".encode() + b"\x80\xff\xfe\x81\x00\n"
    with pytest.raises(importer.ImportEncoding) as info:
        parse_bytes(data, filename="x.csv")
    assert info.value.code == "import.encoding"
    assert info.value.status == 422


def test_tab_separated(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [CN_HEADER, row(A, address="北京市, 东城区")], delimiter="\t", name="x.tsv")
    parsed = parse_file(path)
    assert parsed.delimiter == "\t"
    assert _only_row(parsed).address == "北京市, 东城区"


def test_semicolon_separated() -> None:
    parsed = parse_bytes(csv_bytes([CN_HEADER, row(A)], delimiter=";"), filename="x.csv")
    assert parsed.delimiter == ";"
    assert _only_row(parsed).credit_code == A


def test_english_headers_any_case_and_spacing(tmp_path: Path) -> None:
    header = [h.upper() if i % 2 else f"  {h.lower()} " for i, h in enumerate(EN_HEADER)]
    header[0] = "credit_code"
    rows = [header, row(F, kind="foundation", status="active", capital="10.5")]
    got = _only_row(parse_file(write_csv(tmp_path, rows)))
    assert got.kind is OrgKind.FOUNDATION
    assert got.registered_capital_fen == 1050
    assert got.region_code == "100000"


def test_headers_with_full_width_characters_bom_and_marks() -> None:
    header = ["\ufeff＊统一社会信用代码", "社会组织　名称", "ＵＳＣＣ备注", "*类型"]
    data = csv_bytes([header, [A, "甲协会", "x", "社团"]])
    parsed = parse_bytes(data, filename="x.csv")
    assert _only_row(parsed).name == "甲协会"
    assert parsed.columns["credit_code"] == "\ufeff＊统一社会信用代码".strip("\ufeff")
    assert parsed.ignored_columns == ["ＵＳＣＣ备注"]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("信用代码", "credit_code"),
        ("社会信用代码", "credit_code"),
        ("USCC", "credit_code"),
        ("Unified Social Credit Code", "credit_code"),
        ("名称", "name"),
        ("组织名称", "name"),
        ("单位名称", "name"),
        ("登记机关", "authority"),
        ("成立日期", "registered_on"),
        ("登记日期", "registered_on"),
        ("registered_on", "registered_on"),
        ("法人代表", "legal_representative"),
        ("地址", "address"),
        ("注册地址", "address"),
        ("注册资本", "registered_capital"),
        ("开办资金", "registered_capital"),
        ("原始基金", "registered_capital"),
        ("状态", "status"),
        ("登记类型", "kind"),
        ("type", "kind"),
    ],
)
def test_header_aliases(header: str, field: str) -> None:
    assert importer._match_header(header)[0] == field


def test_unknown_columns_are_ignored_and_listed(tmp_path: Path) -> None:
    header = ["序号", *CN_HEADER, "备注", "联系电话"]
    data_row = ["1", *row(A), "无", "010-12345678"]
    parsed = parse_file(write_csv(tmp_path, [header, data_row]))
    assert parsed.ignored_columns == ["序号", "备注", "联系电话"]
    assert _only_row(parsed).credit_code == A


def test_a_second_column_for_the_same_field_is_ignored() -> None:
    data = csv_bytes([["统一社会信用代码", "名称", "社会组织名称"], [A, "甲协会", "乙协会"]])
    parsed = parse_bytes(data, filename="x.csv")
    assert _only_row(parsed).name == "甲协会"
    assert parsed.ignored_columns == ["社会组织名称"]


def test_title_lines_above_the_header_are_skipped() -> None:
    data = csv_bytes([["北京市社会组织名录（2024年）"], [], CN_HEADER, row(A)])
    parsed = parse_bytes(data, filename="x.csv")
    assert parsed.header_row == 3
    assert _only_row(parsed).row_number == 4


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["社会组织名称", "住所"], ["credit_code"]),
        (["统一社会信用代码", "住所"], ["name"]),
        (["序号", "备注"], ["credit_code", "name"]),
        (["序号", "住所", "备注"], ["credit_code", "name"]),
    ],
)
def test_missing_required_columns_reject_the_file(header: list[str], missing: list[str]) -> None:
    with pytest.raises(importer.ImportMissingColumns) as info:
        parse_bytes(csv_bytes([header, ["x", "y", "z"]]), filename="x.csv")
    error = info.value
    assert error.code == "import.missing_columns"
    assert error.status == 422
    assert error.details["missing"] == missing
    assert error.details["found"] == header


def test_empty_file_is_rejected() -> None:
    with pytest.raises(importer.ImportMissingColumns) as info:
        parse_bytes(b"", filename="x.csv")
    assert info.value.details["found"] == []


def test_legacy_xls_is_rejected_with_advice() -> None:
    with pytest.raises(importer.ImportFormat) as info:
        parse_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, filename="名录.xls")
    assert info.value.code == "import.format"
    assert ".xlsx" in info.value.message


def test_damaged_xlsx_is_rejected() -> None:
    with pytest.raises(importer.ImportFormat):
        parse_bytes(b"PK\x03\x04 not really a zip", filename="x.xlsx")


# --------------------------------------------------------------------------------------------------
# XLSX


def test_xlsx_with_date_cells_and_numeric_capital(tmp_path: Path) -> None:
    rows = [
        CN_HEADER,
        row(A, registered_on=datetime(2019, 5, 1), capital=30000),
        row(S, kind="民非", registered_on=date(2020, 1, 2), capital=12345.67),
        row(F, kind="", registered_on=20210303, capital=None, status="注销"),
    ]
    parsed = parse_file(write_xlsx(tmp_path, rows))
    assert parsed.errors == []
    assert parsed.encoding == "xlsx"
    assert parsed.delimiter is None
    got = {r.credit_code: r for r in parsed.rows}
    assert got[A].registered_on == date(2019, 5, 1)
    assert got[A].registered_capital_fen == 3_000_000
    assert got[S].registered_on == date(2020, 1, 2)
    assert got[S].registered_capital_fen == 1_234_567
    assert got[S].kind is OrgKind.SOCIAL_SERVICE
    assert got[F].registered_on == date(2021, 3, 3)
    assert got[F].registered_capital_fen is None
    assert got[F].kind is OrgKind.FOUNDATION
    assert got[F].status is OrgStatus.DEREGISTERED
    assert [r.row_number for r in parsed.rows] == [2, 3, 4]


def test_xlsx_detected_by_magic_whatever_the_name(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [CN_HEADER, row(A)])
    parsed = parse_bytes(path.read_bytes(), filename="upload.bin")
    assert _only_row(parsed).credit_code == A


def test_xlsx_date_serial_without_date_format(tmp_path: Path) -> None:
    parsed = parse_file(write_xlsx(tmp_path, [CN_HEADER, row(A, registered_on=43586)]))
    assert _only_row(parsed).registered_on == date(2019, 5, 1)


def test_xlsx_row_numbers_count_blank_rows(tmp_path: Path) -> None:
    rows = [["社会组织名录"], [], CN_HEADER, row(A), [None] * 11, row(S, kind="社会服务机构")]
    parsed = parse_file(write_xlsx(tmp_path, rows))
    assert parsed.header_row == 3
    assert [r.row_number for r in parsed.rows] == [4, 6]


# --------------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("10", 1000),
        ("10.5", 1050),
        ("0.01", 1),
        ("0", 0),
        ("3万元", 3_000_000),
        ("3.5万", 3_500_000),
        ("3万", 3_000_000),
        ("1,000,000元", 100_000_000),
        ("100万元人民币", 100_000_000),
        ("人民币100万元", 100_000_000),
        ("￥50000", 5_000_000),
        ("¥50,000.50", 5_000_050),
        ("２００万元", 200_000_000),
        ("１，０００元", 100_000),
        ("RMB 200", 20_000),
        ("0.12345万元", 123_450),
        ("1.5亿元", 15_000_000_000),
        ("123456789012.34", 12_345_678_901_234),
        ("", None),
        ("  ", None),
    ],
)
def test_capital_is_converted_to_exact_fen(text: str, fen: int | None) -> None:
    assert importer._parse_capital(text, None) == fen


@pytest.mark.parametrize("value", [10.1, 0.3, 12345.67, 1e6])
def test_capital_floats_from_xlsx_are_exact(value: float) -> None:
    assert importer._parse_capital(value, None) == int(Decimal(repr(value)) * 100)


@pytest.mark.parametrize(
    "text", ["abc", "10.555", "-5", "1,00", "10,5", "3万美元", "3 万 元 元", "1.2.3", "万元", "0.0000001万"]
)
def test_bad_capital_is_a_row_error(text: str) -> None:
    with pytest.raises(importer._FieldError) as info:
        importer._parse_capital(text, None)
    assert info.value.code == "import.capital"


def test_capital_unit_in_header() -> None:
    header = ["统一社会信用代码", "名称", "注册资金（万元）"]
    data = csv_bytes([header, [A, "甲", "3"], [S, "乙", "2.5万元"], [F, "丙", "30000元"]])
    parsed = parse_bytes(data, filename="x.csv")
    assert parsed.errors == []
    assert [r.registered_capital_fen for r in parsed.rows] == [3_000_000, 2_500_000, 3_000_000]


def test_capital_column_in_a_foreign_currency_is_not_read_as_yuan() -> None:
    data = csv_bytes([["统一社会信用代码", "名称", "注册资金(万美元)"], [A, "甲", "3"]])
    parsed = parse_bytes(data, filename="x.csv")
    assert parsed.ignored_columns == ["注册资金(万美元)"]
    assert _only_row(parsed).registered_capital_fen is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-05-01", date(2019, 5, 1)),
        ("2019/5/1", date(2019, 5, 1)),
        ("2019.05.01", date(2019, 5, 1)),
        ("2019年5月1日", date(2019, 5, 1)),
        ("20190501", date(2019, 5, 1)),
        ("2019-05-01 00:00:00", date(2019, 5, 1)),
        ("２０１９年５月１日", date(2019, 5, 1)),
        ("", None),
    ],
)
def test_dates(text: str, expected: date | None) -> None:
    assert importer._parse_date(text) == expected


@pytest.mark.parametrize("text", ["2019-02-30", "05/01/2019", "明年", "2019-5"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(importer._FieldError) as info:
        importer._parse_date(text)
    assert info.value.code == "import.date"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("正常", OrgStatus.ACTIVE),
        ("存续", OrgStatus.ACTIVE),
        ("Active", OrgStatus.ACTIVE),
        ("", OrgStatus.ACTIVE),
        ("注销", OrgStatus.DEREGISTERED),
        ("已注销", OrgStatus.DEREGISTERED),
        ("deregistered", OrgStatus.DEREGISTERED),
        ("撤销", OrgStatus.REVOKED),
        ("撤销登记", OrgStatus.REVOKED),
        ("已撤销", OrgStatus.REVOKED),
        ("REVOKED", OrgStatus.REVOKED),
    ],
)
def test_status_values(text: str, status: OrgStatus) -> None:
    parsed = parse_bytes(csv_bytes([CN_HEADER, row(A, status=text)]), filename="x.csv")
    assert _only_row(parsed).status is status


@pytest.mark.parametrize(
    ("text", "code", "kind"),
    [
        ("社会团体", A, OrgKind.ASSOCIATION),
        ("社团", A, OrgKind.ASSOCIATION),
        ("association", A, OrgKind.ASSOCIATION),
        ("民办非企业单位", S, OrgKind.SOCIAL_SERVICE),
        ("民非", S, OrgKind.SOCIAL_SERVICE),
        ("社会服务机构", S, OrgKind.SOCIAL_SERVICE),
        ("Social_Service", S, OrgKind.SOCIAL_SERVICE),
        ("基金会", F, OrgKind.FOUNDATION),
        ("foundation", F, OrgKind.FOUNDATION),
    ],
)
def test_kind_values(text: str, code: str, kind: OrgKind) -> None:
    parsed = parse_bytes(csv_bytes([CN_HEADER, row(code, kind=text)]), filename="x.csv")
    assert _only_row(parsed).kind is kind


def test_kind_derived_from_the_code_when_blank_or_absent() -> None:
    parsed = parse_bytes(csv_bytes([CN_HEADER, row(S, kind=""), row(F, kind=" ")]), filename="x.csv")
    assert [r.kind for r in parsed.rows] == [OrgKind.SOCIAL_SERVICE, OrgKind.FOUNDATION]
    no_kind_column = csv_bytes([["统一社会信用代码", "名称"], [A, "甲"], [F, "丙"]])
    parsed = parse_bytes(no_kind_column, filename="x.csv")
    assert [r.kind for r in parsed.rows] == [OrgKind.ASSOCIATION, OrgKind.FOUNDATION]


def test_text_fields_are_stripped_and_blank_is_none() -> None:
    data = csv_bytes(
        [CN_HEADER, row(A, name="  甲协会\u200b ", legal_representative=" ", supervising_unit=" 市科协 ")]
    )
    got = _only_row(parse_bytes(data, filename="x.csv"))
    assert got.name == "甲协会"
    assert got.legal_representative is None
    assert got.supervising_unit == "市科协"


def test_codes_in_cells_are_normalized() -> None:
    data = csv_bytes(
        [CN_HEADER, row(" " + A.lower() + "\u200b"), row(f'="{S}"', kind="民非"), row("'" + F, kind="基金会")]
    )
    parsed = parse_bytes(data, filename="x.csv")
    assert parsed.errors == []
    assert [r.credit_code for r in parsed.rows] == [A, S, F]


# --------------------------------------------------------------------------------------------------
# Row errors


def test_invalid_rows_are_reported_with_row_numbers_and_valid_rows_parse(tmp_path: Path) -> None:
    code4 = make_code(serial=4)
    rows = [
        CN_HEADER,
        row(A),  # 2 ok
        row(bad_check(S), kind="民非"),  # 3 check digit
        row(F, kind="社会团体"),  # 4 kind mismatch
        [],  # 5 blank line, skipped
        row(code4, name=" "),  # 6 name missing
        row(make_code(serial=5), capital="很多", registered_on="昨天", status="休眠"),  # 7 three errors
        row(""),  # 8 no code
        row(make_code(serial=6), kind="协会"),  # 9 unknown kind
        row(make_code(serial=7)),  # 10 ok
    ]
    parsed = parse_file(write_csv(tmp_path, rows))
    assert [r.row_number for r in parsed.rows] == [2, 10]
    assert [(e.row_number, e.field, e.code) for e in parsed.errors] == [
        (3, "credit_code", "credit_code.check_digit"),
        (4, "credit_code", "credit_code.kind_mismatch"),
        (6, "name", "import.name_missing"),
        (7, "registered_on", "import.date"),
        (7, "registered_capital_fen", "import.capital"),
        (7, "status", "import.status"),
        (8, "credit_code", "credit_code.empty"),
        (9, "kind", "import.kind"),
    ]
    by_row = {e.row_number: e for e in parsed.errors}
    assert "校验码" in by_row[3].message
    assert by_row[3].details["expected"] == S[-1]
    assert "基金会" in by_row[4].message and "社会团体" in by_row[4].message


def test_bad_check_digit_passes_flagged_when_allowed() -> None:
    bad = bad_check(S)
    data = csv_bytes([CN_HEADER, row(bad, kind="民非"), row(A)])
    parsed = parse_bytes(data, filename="x.csv", allow_bad_check_digit=True)
    assert parsed.errors == []
    assert [(r.credit_code, r.check_digit_ok) for r in parsed.rows] == [(bad, False), (A, True)]


def test_duplicate_in_file_first_wins() -> None:
    rows = [CN_HEADER, row(A, name="第一"), row(S, kind="民非"), row(A.lower(), name="第二")]
    parsed = parse_bytes(csv_bytes(rows), filename="x.csv")
    assert [(r.row_number, r.name) for r in parsed.rows] == [(2, "第一"), (3, "北京市示例协会")]
    [error] = parsed.errors
    assert (error.row_number, error.field, error.code) == (4, "credit_code", "import.duplicate_in_file")
    assert error.details == {"credit_code": A, "first_row": 2}
    assert "第 2 行" in error.message


def test_name_too_long() -> None:
    parsed = parse_bytes(csv_bytes([CN_HEADER, row(A, name="会" * 201)]), filename="x.csv")
    assert [e.code for e in parsed.errors] == ["import.name_too_long"]


def test_quoted_fields_with_newlines_keep_record_numbers() -> None:
    rows = [CN_HEADER, row(A, business_scope="第一行\n第二行"), row(make_code(serial=9), name="")]
    parsed = parse_bytes(csv_bytes(rows), filename="x.csv")
    assert _only_row_ok(parsed).business_scope == "第一行\n第二行"
    assert [e.row_number for e in parsed.errors] == [3]


def _only_row_ok(parsed: importer.ParsedImport) -> ImportRow:
    assert len(parsed.rows) == 1
    return parsed.rows[0]


def test_many_rows_parse(tmp_path: Path) -> None:
    rows = [CN_HEADER, *many_rows(2000)]
    parsed = parse_file(write_csv(tmp_path, rows, encoding="gb18030"))
    assert parsed.errors == []
    assert len(parsed.rows) == 2000
    assert {r.status for r in parsed.rows} == set(OrgStatus)
    assert {r.kind for r in parsed.rows} == {OrgKind.ASSOCIATION, OrgKind.SOCIAL_SERVICE, OrgKind.FOUNDATION}


def test_invisible_pattern_covers_every_format_character() -> None:
    format_chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert format_chars
    assert all(importer._INVISIBLE.fullmatch(ch) for ch in format_chars)


def test_damaged_sheet_xml_is_a_format_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [CN_HEADER, row(A)])
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    parts["xl/worksheets/sheet1.xml"] = b"<worksheet><sheetData><row r='1'><c"
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as dst:
        for name, content in parts.items():
            dst.writestr(name, content)
    with pytest.raises(importer.ImportFormat):
        parse_file(broken)
