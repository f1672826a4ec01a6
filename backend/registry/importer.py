"""Parse organization lists exported by government offices (CSV or XLSX) into checked rows.

No database here: the result is a ``ParsedImport`` holding the rows that passed every check and one
``RowError`` per problem, so that the caller can show the officer all problems at once and decide
(applying is all-or-nothing, elsewhere). Only a file that cannot be read at all, or that lacks the
credit-code or name column, raises.

What real exports look like, and what is accepted:

* CSV in UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), or GB18030/GBK;
  comma-, tab- or semicolon-separated (sniffed from the header line).
* XLSX (first sheet); cells may hold numbers, dates and cached formula results.
* Chinese or English headers, in any order, with spaces, full-width characters, a leading ``*``
  (templates mark required columns so) or a unit in brackets (``注册资金（万元）``).
* A title line above the header ("XX市社会组织名录") is skipped: the header is the first of the first
  few rows that names a known column.

Row numbers are the file's own (the header is row 1 when nothing is above it), as Excel shows them.

Limits (``ImportLimits``; an upload through the API has ``UPLOAD_LIMITS``, the console none): at
most 50,000 data rows, and an XLSX whose parts would decompress to more than 100 MiB is refused
before anything is decompressed (a zip bomb: Python's zipfile never inflates a member past the size
its directory declares, so the declared sizes bound the work). Either is 413 with its own code.

A code whose check character fails is a row error unless the caller passes
``allow_bad_check_digit=True`` (an officer's explicit decision, with a reason the caller records); such
rows then come back with ``check_digit_ok=False``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backend.errors import PayloadTooLarge
from backend.registry import credit_code as cc
from backend.registry.models import OrgKind, OrgStatus

# Reading files, cells and money is shared with the donation import (backend/spreadsheet.py); the
# names stay importable from here, as callers and tests know them.
from backend.spreadsheet import INVISIBLE as _INVISIBLE  # noqa: F401
from backend.spreadsheet import MONEY_UNITS as _MONEY_UNITS
from backend.spreadsheet import OLE_MAGIC as _OLE_MAGIC
from backend.spreadsheet import ZIP_MAGIC as _ZIP_MAGIC
from backend.spreadsheet import (
    ImportEncoding,  # noqa: F401
    ImportFileError,
    ImportFormat,
    ImportTooLarge,  # noqa: F401
    MoneyError,
    legacy_xls_error,
    parse_money_fen,
    require_xlsx_within,
    sniff_delimiter,
    xlsx_rows,
)
from backend.spreadsheet import decode as _decode
from backend.spreadsheet import key as _key
from backend.spreadsheet import non_blank as _non_blank
from backend.spreadsheet import text as _text
from backend.spreadsheet import unexcel as _unexcel

# --------------------------------------------------------------------------------------------------
# Errors that reject the whole file


class ImportMissingColumns(ImportFileError):
    code = "import.missing_columns"
    message = "导入文件缺少必需的列 / The import file lacks required columns"


class ImportTooManyRows(PayloadTooLarge):
    code = "import.too_many_rows"
    message = "导入文件行数过多，请拆分为多个文件后上传 / Too many rows; split the file"


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """How much one import may hold; None: no limit."""

    max_rows: int | None = 50_000
    max_xlsx_uncompressed_bytes: int | None = 100 * 1024 * 1024


UPLOAD_LIMITS = ImportLimits()
NO_LIMITS = ImportLimits(max_rows=None, max_xlsx_uncompressed_bytes=None)


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row; ``field`` is the canonical field name, or None for the whole row."""

    row_number: int
    field: str | None
    code: str
    message: str
    details: Any = None


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One organization as read from the file, every field checked."""

    row_number: int
    credit_code: str
    kind: OrgKind
    name: str
    authority_text: str | None
    region_code: str
    registered_on: date | None
    legal_representative: str | None
    address: str | None
    business_scope: str | None
    supervising_unit: str | None
    registered_capital_fen: int | None
    status: OrgStatus
    check_digit_ok: bool


@dataclass(slots=True)
class ParsedImport:
    """The outcome of parsing one file: good rows, row errors and what was made of the layout."""

    rows: list[ImportRow]
    errors: list[RowError]
    ignored_columns: list[str]
    encoding: str
    delimiter: str | None
    header_row: int = 1
    # canonical field -> the header as written in the file
    columns: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Header mapping

REQUIRED_FIELDS = ("credit_code", "name")

_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "credit_code": (
        "统一社会信用代码",
        "信用代码",
        "社会信用代码",
        "credit_code",
        "uscc",
        "unified social credit code",
        "social credit code",
    ),
    "name": ("社会组织名称", "名称", "组织名称", "单位名称", "机构名称", "name", "organization name"),
    "kind": ("社会组织类型", "类型", "组织类型", "登记类型", "社会组织类别", "类别", "kind", "type"),
    "authority": ("登记管理机关", "登记机关", "registration authority", "authority"),
    "registered_on": (
        "成立登记日期",
        "成立日期",
        "登记日期",
        "registration date",
        "registered_on",
        "registered on",
    ),
    "legal_representative": ("法定代表人", "法人代表", "法定代表人姓名", "legal representative"),
    "address": ("住所", "地址", "注册地址", "address"),
    "business_scope": ("业务范围", "business scope"),
    "supervising_unit": ("业务主管单位", "supervising unit"),
    "registered_capital": (
        "注册资金",
        "注册资本",
        "开办资金",
        "原始基金",
        "registered capital",
        "registered_capital_fen",
    ),
    "status": ("状态", "登记状态", "status"),
}

_KIND_VALUES: dict[str, OrgKind] = {}
for _kind, _words in {
    OrgKind.ASSOCIATION: ("社会团体", "社团", "association", "1"),
    OrgKind.SOCIAL_SERVICE: (
        "民办非企业单位",
        "民办非企业",
        "民非",
        "社会服务机构",
        "民办非企业单位（社会服务机构）",
        "社会服务机构（民办非企业单位）",
        "social_service",
        "social service",
        "social service agency",
        "2",
    ),
    OrgKind.FOUNDATION: ("基金会", "公募基金会", "非公募基金会", "foundation", "3"),
    OrgKind.OTHER: ("其他", "other", "9"),
}.items():
    for _word in _words:
        _KIND_VALUES[_word] = _kind

_STATUS_VALUES: dict[str, OrgStatus] = {}
for _status, _words in {
    OrgStatus.ACTIVE: ("正常", "存续", "已登记", "active", "normal"),
    OrgStatus.DEREGISTERED: ("注销", "已注销", "注销登记", "deregistered"),
    OrgStatus.REVOKED: ("撤销", "撤销登记", "已撤销", "被撤销", "revoked"),
}.items():
    for _word in _words:
        _STATUS_VALUES[_word] = _status

_TRAILING_BRACKET = re.compile(r"\(([^()]*)\)$")


_FIELD_BY_KEY: dict[str, str] = {_key(a): f for f, aliases in _HEADER_ALIASES.items() for a in aliases}
_KIND_BY_KEY: dict[str, OrgKind] = {_key(w): k for w, k in _KIND_VALUES.items()}
_STATUS_BY_KEY: dict[str, OrgStatus] = {_key(w): s for w, s in _STATUS_VALUES.items()}


def _match_header(header: str) -> tuple[str | None, Decimal | None]:
    """The canonical field a header names, and the unit a bracket in it states for money (万元 -> 10000)."""
    key = _key(header)
    if key in _FIELD_BY_KEY:
        return _FIELD_BY_KEY[key], None
    # "注册资金（万元）", "成立日期(yyyy-mm-dd)": NFKC made the brackets ASCII; match without them.
    bracket = _TRAILING_BRACKET.search(key)
    if bracket is None:
        return None, None
    name = _FIELD_BY_KEY.get(key[: bracket.start()])
    if name is None:
        return None, None
    if name != "registered_capital":
        return name, None
    unit = _MONEY_UNITS.get(bracket.group(1).removesuffix("人民币").removeprefix("人民币"))
    # An unknown unit ("万美元") must not be read as yuan: leave the column out, listed as ignored.
    return (name, unit) if unit is not None else (None, None)


@dataclass(slots=True)
class _Layout:
    """Which column holds which field."""

    header_row: int
    index: dict[str, int]
    headers: dict[str, str]
    ignored: list[str]
    found: list[str]
    capital_unit: Decimal | None


def _layout(header_row: int, cells: Sequence[Any]) -> _Layout:
    """Map a header row to fields; the first column naming a field wins, later ones are ignored."""
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    found: list[str] = []
    capital_unit: Decimal | None = None
    for i, cell in enumerate(cells):
        header = _text(cell)
        if header is None:
            continue
        found.append(header)
        name, unit = _match_header(header)
        if name is None or name in index:
            ignored.append(header)
            continue
        index[name] = i
        headers[name] = header
        if name == "registered_capital":
            capital_unit = unit
    return _Layout(header_row, index, headers, ignored, found, capital_unit)


def _find_layout(rows: Iterator[tuple[int, Sequence[Any]]], lookahead: int = 10) -> _Layout:
    """The header is the first of the first non-empty rows that names a required column."""
    first: _Layout | None = None
    for seen, (number, cells) in enumerate(rows):
        layout = _layout(number, cells)
        if first is None:
            first = layout
        if any(f in layout.index for f in REQUIRED_FIELDS):
            first = layout
            break
        if seen + 1 >= lookahead:
            break
    if first is None:
        raise ImportMissingColumns(
            "导入文件为空，缺少表头 / The file is empty",
            details={"missing": list(REQUIRED_FIELDS), "found": []},
        )
    missing = [f for f in REQUIRED_FIELDS if f not in first.index]
    if missing:
        labels = "、".join(_HEADER_ALIASES[f][0] for f in missing)
        raise ImportMissingColumns(
            f"导入文件缺少必需的列：{labels}（第 {first.header_row} 行为表头） / missing columns: "
            f"{', '.join(missing)}",
            details={
                "missing": missing,
                "found": first.found,
                "header_row": first.header_row,
            },
        )
    return first


# --------------------------------------------------------------------------------------------------
# Cell values


class _FieldError(Exception):
    """A bad value in one cell."""

    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


_DATE_PATTERNS = (
    # 2019-05-01, 2019/5/1, 2019.5.1, 2019年5月1日, optionally followed by a time (database exports).
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
# Excel's 1900 date system: serial 1 is 1900-01-01, with the fictitious 1900-02-29 (hence 1899-12-30).
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()


def _parse_date(value: Any) -> date | None:
    """A registration date from text, a date/datetime cell, or a number from an XLSX cell."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
        if number == value and 19000101 <= number <= 29991231:
            return _parse_date(str(number))
        # A date cell that lost its date format shows as the serial number; 1927..2173 are plausible.
        if 10000 <= value < 100000:
            return date.fromordinal(_EXCEL_EPOCH + int(value))
        raise _FieldError("import.date", f"无法识别的日期“{value}” / unrecognised date {value!r}")
    text = _text(value)
    if text is None:
        return None
    text = _unexcel(unicodedata.normalize("NFKC", text)).strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                break
    raise _FieldError(
        "import.date",
        f"无法识别的日期“{text}”，请使用 2019-05-01 这样的格式 / unrecognised date {text!r}; use 2019-05-01",
        {"value": text},
    )


def _parse_capital(value: Any, header_unit: Decimal | None) -> int | None:
    """Registered capital in integer fen; exact decimal arithmetic, never float, never rounded."""
    try:
        return parse_money_fen(value, header_unit)
    except MoneyError as e:
        raise _FieldError("import.capital", e.message, {"value": str(e.value)}) from e


def _parse_kind(value: Any) -> OrgKind | None:
    """An organization kind from its Chinese or English name; None when blank."""
    text = _text(value)
    if text is None:
        return None
    kind = _KIND_BY_KEY.get(_key(text))
    if kind is None:
        raise _FieldError(
            "import.kind",
            f"无法识别的社会组织类型“{text}”（应为社会团体、民办非企业单位、基金会） / unknown kind {text!r}",
            {"value": text},
        )
    return kind


def _parse_status(value: Any) -> OrgStatus:
    """A registration status; blank means active."""
    text = _text(value)
    if text is None:
        return OrgStatus.ACTIVE
    status = _STATUS_BY_KEY.get(_key(text))
    if status is None:
        raise _FieldError(
            "import.status",
            f"无法识别的登记状态“{text}”（应为正常、注销、撤销登记） / unknown status {text!r}",
            {"value": text},
        )
    return status


# The organizations table holds names of up to 200 characters; say so here rather than fail on write.
NAME_MAX_LENGTH = 200


# --------------------------------------------------------------------------------------------------
# Rows -> result


def _build(
    rows: Iterator[tuple[int, Sequence[Any]]],
    *,
    encoding: str,
    delimiter: str | None,
    allow_bad_check_digit: bool,
    max_rows: int | None,
) -> ParsedImport:
    """Check every row after the header; collect good rows and all row errors."""
    layout = _find_layout(rows)
    index = layout.index
    result = ParsedImport(
        rows=[],
        errors=[],
        ignored_columns=layout.ignored,
        encoding=encoding,
        delimiter=delimiter,
        header_row=layout.header_row,
        columns=layout.headers,
    )
    first_row_of: dict[str, int] = {}
    # Each row is cut to the mapped columns and padded with blanks; absent fields read the blank at
    # ``width``, so lookups need no bounds checks.
    width = max(index.values()) + 1
    column = {name: index.get(name, width) for name in _HEADER_ALIASES}

    for seen, (number, row_cells) in enumerate(rows, start=1):
        if max_rows is not None and seen > max_rows:
            raise ImportTooManyRows(details={"max_rows": max_rows})
        cells = list(row_cells[:width])
        cells.extend([None] * (width + 1 - len(cells)))
        errors: list[RowError] = []
        kind: OrgKind | None = None
        try:
            kind = _parse_kind(cells[column["kind"]])
        except _FieldError as e:
            errors.append(RowError(number, "kind", e.code, e.message, e.details))

        code: cc.ValidatedCode | None = None
        raw_code = _text(cells[column["credit_code"]])
        try:
            code = cc.validate(
                _unexcel(raw_code) if raw_code else "",
                expected_kind=kind,
                allow_bad_check_digit=allow_bad_check_digit,
            )
        except cc.CreditCodeError as e:
            errors.append(RowError(number, "credit_code", e.code, e.message, e.details))
        if code is not None:
            first = first_row_of.setdefault(code.code, number)
            if first != number:
                errors.append(
                    RowError(
                        number,
                        "credit_code",
                        "import.duplicate_in_file",
                        f"统一社会信用代码 {code.code} 与第 {first} 行重复，以第 {first} 行为准 / "
                        f"duplicate of row {first}",
                        {"credit_code": code.code, "first_row": first},
                    )
                )

        name = _text(cells[column["name"]])
        if name is None:
            errors.append(
                RowError(
                    number,
                    "name",
                    "import.name_missing",
                    "请填写社会组织名称 / The organization name is missing",
                )
            )
        elif len(name) > NAME_MAX_LENGTH:
            errors.append(
                RowError(
                    number,
                    "name",
                    "import.name_too_long",
                    f"社会组织名称过长（{len(name)} 字，最多 {NAME_MAX_LENGTH} 字） / name too long",
                    {"length": len(name), "max": NAME_MAX_LENGTH},
                )
            )

        registered_on: date | None = None
        capital: int | None = None
        status = OrgStatus.ACTIVE
        try:
            registered_on = _parse_date(cells[column["registered_on"]])
        except _FieldError as e:
            errors.append(RowError(number, "registered_on", e.code, e.message, e.details))
        try:
            capital = _parse_capital(cells[column["registered_capital"]], layout.capital_unit)
        except _FieldError as e:
            errors.append(RowError(number, "registered_capital_fen", e.code, e.message, e.details))
        try:
            status = _parse_status(cells[column["status"]])
        except _FieldError as e:
            errors.append(RowError(number, "status", e.code, e.message, e.details))

        if errors or code is None or name is None:
            result.errors.extend(errors)
            continue
        result.rows.append(
            ImportRow(
                row_number=number,
                credit_code=code.code,
                kind=code.kind,
                name=name,
                authority_text=_text(cells[column["authority"]]),
                region_code=code.region_code,
                registered_on=registered_on,
                legal_representative=_text(cells[column["legal_representative"]]),
                address=_text(cells[column["address"]]),
                business_scope=_text(cells[column["business_scope"]]),
                supervising_unit=_text(cells[column["supervising_unit"]]),
                registered_capital_fen=capital,
                status=status,
                check_digit_ok=code.check_digit_ok,
            )
        )
    return result


# --------------------------------------------------------------------------------------------------
# File formats


def _parse_text(data: bytes, allow_bad_check_digit: bool, limits: ImportLimits) -> ParsedImport:
    """A delimited text file."""
    text, encoding = _decode(data)
    delimiter = sniff_delimiter(text, lambda cell: _match_header(cell)[0] is not None)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _build(
            _non_blank(reader),
            encoding=encoding,
            delimiter=delimiter,
            allow_bad_check_digit=allow_bad_check_digit,
            max_rows=limits.max_rows,
        )
    except csv.Error as e:
        raise ImportFormat(f"CSV 文件格式错误：{e} / malformed CSV: {e}", details={"reason": str(e)}) from e


def _parse_xlsx(data: bytes, allow_bad_check_digit: bool, limits: ImportLimits) -> ParsedImport:
    """The first sheet of an XLSX workbook."""
    require_xlsx_within(data, limits.max_xlsx_uncompressed_bytes)
    with xlsx_rows(data) as rows:
        return _build(
            _non_blank(rows),
            encoding="xlsx",
            delimiter=None,
            allow_bad_check_digit=allow_bad_check_digit,
            max_rows=limits.max_rows,
        )


def parse_bytes(
    data: bytes,
    *,
    filename: str,
    allow_bad_check_digit: bool = False,
    limits: ImportLimits = UPLOAD_LIMITS,
) -> ParsedImport:
    """Parse an uploaded export; ``allow_bad_check_digit`` lets failing check characters through, flagged."""
    lower = filename.lower()
    if data.startswith(_ZIP_MAGIC) or lower.endswith(".xlsx"):
        return _parse_xlsx(data, allow_bad_check_digit, limits)
    if data.startswith(_OLE_MAGIC) or lower.endswith(".xls"):
        raise legacy_xls_error(filename)
    return _parse_text(data, allow_bad_check_digit, limits)


def parse_file(path: str | Path, *, allow_bad_check_digit: bool = False) -> ParsedImport:
    """Parse an export on disk (the console's: the operator's own file, so without limits)."""
    path = Path(path)
    return parse_bytes(
        path.read_bytes(), filename=path.name, allow_bad_check_digit=allow_bad_check_digit, limits=NO_LIMITS
    )
