"""Reading uploaded exports (CSV or XLSX) the way government offices and payment platforms write them.

Shared by the organization import (backend/registry/importer.py) and the donation import
(backend/charity/donation_import.py); moved here from the organization import unchanged:

* ``decode``: UTF-8 with or without BOM, UTF-16 with BOM, or GB18030 (a superset of GBK/GB2312);
* ``sniff_delimiter``: comma, tab or semicolon, whichever finds a known header;
* ``key``: the comparison key of headers and enumerated values (NFKC, separators and invisible
  characters dropped, casefolded), so ``捐赠金额（元）`` and ``捐赠金额(元)`` match;
* ``text`` / ``unexcel`` / ``non_blank``: cells as clean text, rows numbered as the file numbers them;
* ``parse_money_fen``: money in integer fen by exact decimal arithmetic, never float, never rounded
  (thousands separators, full-width digits, ¥/元/万元 marks);
* ``xlsx_rows``: the first sheet of a workbook, every failure a 422 rather than a 500.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .errors import PayloadTooLarge, Unprocessable


class ImportFileError(Unprocessable):
    """Base of the errors that reject a whole import file."""

    code = "import.invalid"
    message = "导入文件无效 / The import file is invalid"


class ImportEncoding(ImportFileError):
    code = "import.encoding"
    message = "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV / Unrecognised text encoding"


class ImportFormat(ImportFileError):
    code = "import.format"
    message = "无法读取文件，请上传 CSV 或 XLSX 文件 / Unreadable file; upload CSV or XLSX"


class ImportTooLarge(PayloadTooLarge):
    code = "import.too_large"
    message = "XLSX 文件解压后过大，请拆分或另存为 CSV / The XLSX file is too large once decompressed"


# The format characters (Unicode category Cf: zero-width spaces and joiners, BOM, soft hyphen,
# bidi marks, tags), as a regex because a per-character category() call is the slowest part of a
# 10,000-row import. A test checks that it covers every Cf character this Python knows.
INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# Separators people put inside English headers ("Credit Code", "credit-code", "credit_code").
_KEY_DROP = re.compile(r"[\s_\-*·.:：]+")


@lru_cache(maxsize=4096)
def key(text: str) -> str:
    """Comparison key for headers and enumerated values: NFKC, no separators or invisibles, casefold."""
    # Cached: a kind or status column repeats a handful of values over thousands of rows.
    text = unicodedata.normalize("NFKC", text)
    text = INVISIBLE.sub("", text)
    return _KEY_DROP.sub("", text).casefold()


def text(value: Any) -> str | None:
    """A cell as stripped text without invisible characters; None when blank."""
    if value is None:
        return None
    if isinstance(value, str):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = str(int(value))
    else:
        result = str(value)
    if not result.isascii():
        # Zero-width characters and the BOM come along when text is pasted from web pages.
        result = INVISIBLE.sub("", result)
    result = result.strip()
    return result or None


def unexcel(value: str) -> str:
    """Undo the tricks that keep Excel from mangling long digit strings: ="..." and a leading '."""
    if value.startswith('="') and value.endswith('"'):
        return value[2:-1]
    return value.removeprefix("'")


def non_blank(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[int, Sequence[Any]]]:
    """Number rows from 1 as the file does, dropping those with no content."""
    for number, cells in enumerate(rows, start=1):
        if any(text(c) is not None for c in cells):
            yield number, cells


# --- money ----------------------------------------------------------------------------------------

MONEY_UNITS: dict[str, Decimal] = {
    "": Decimal(1),
    "元": Decimal(1),
    "万": Decimal(10_000),
    "万元": Decimal(10_000),
    "亿": Decimal(100_000_000),
    "亿元": Decimal(100_000_000),
}
_MONEY = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(万元|万|亿元|亿|元)?")
_CURRENCY_MARKS = re.compile(r"^(?:¥|RMB|CNY|人民币)|(?:人民币|RMB|CNY)$", re.IGNORECASE)
_FEN_PER_YUAN = Decimal(100)
# The largest amount anything takes (ten trillion yuan): far beyond any real amount, well inside the
# 64-bit integer columns that keep fen. Larger is a typing error, and the database cannot store it.
MAX_FEN = 10**15


class MoneyError(ValueError):
    """A cell that is not an exact, non-negative amount; ``message`` is for people."""

    def __init__(self, message: str, value: Any):
        super().__init__(message)
        self.message = message
        self.value = value


def parse_money_fen(value: Any, header_unit: Decimal | None = None) -> int | None:
    """An amount in integer fen; exact decimal arithmetic, never float, never rounded. None when blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MoneyError(f"无法识别的金额“{value}” / unrecognised amount", value)
    explicit_unit: Decimal | None = None
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest text that round-trips, so 10.5 stays 10.5 rather than 10.4999...
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    else:
        cell = text(value)
        if cell is None:
            return None
        # NFKC: full-width digits and comma, and "￥" -> "¥".
        cell = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
        # "¥100万元人民币": strip currency words at either end; repeat since both ends may carry one.
        previous = None
        while previous != cell:
            previous, cell = cell, _CURRENCY_MARKS.sub("", cell)
        match = _MONEY.fullmatch(cell)
        if match is None:
            raise MoneyError(
                f"无法识别的金额“{value}”，请填写如 10、10.5、3万元、1,000,000元 / "
                f"unrecognised amount {value!r}",
                value,
            )
        amount = Decimal(match[1].replace(",", "") + (match[2] or ""))
        if match[3]:
            explicit_unit = MONEY_UNITS[match[3]]
    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"金额不能为负数：“{value}” / negative amount {value!r}", value)
    # A unit written in the cell wins over the unit in the header ("3万元" in a 万元 column is 3万).
    unit = explicit_unit or header_unit or Decimal(1)
    fen = amount * unit * _FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise MoneyError(
            f"金额“{value}”精确到分以下，请核对 / amount {value!r} has fractions of a fen", value
        )
    if fen > MAX_FEN:
        raise MoneyError(f"金额“{value}”过大，请核对 / amount {value!r} is implausibly large", value)
    return int(fen)


# --- files ----------------------------------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc) files
_DELIMITERS = (",", "\t", ";")


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was in: BOM first, then strict UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        # GB18030 is a superset of GBK and GB2312. Strict UTF-8 goes first because Chinese GBK text
        # is almost never valid UTF-8, while UTF-8 text often decodes (wrongly) as GB18030.
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        try:
            decoded = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # NUL never occurs in a text export; it means UTF-16 without a BOM or a binary file.
        if "\x00" not in decoded:
            return decoded, encoding
    raise ImportEncoding()


def sniff_delimiter(content: str, is_header: Callable[[str], bool]) -> str:
    """The delimiter of the header: the candidate that finds a known column in the first lines."""
    lines = [line for line in content.splitlines()[:20] if line.strip()][:10]
    for line in lines:
        best, best_hits = None, 0
        for delimiter in _DELIMITERS:
            cells = next(csv.reader([line], delimiter=delimiter), [])
            hits = sum(1 for c in cells if is_header(c))
            if hits > best_hits:
                best, best_hits = delimiter, hits
        if best is not None:
            return best
    # No known header anywhere: take the most frequent candidate; the missing-columns error follows.
    first = lines[0] if lines else ""
    return max(_DELIMITERS, key=first.count)


def legacy_xls_error(filename: str) -> ImportFormat:
    return ImportFormat(
        "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传 / legacy .xls is not supported; "
        "save as .xlsx or CSV",
        details={"filename": filename},
    )


def require_xlsx_within(data: bytes, limit: int | None) -> None:
    """Refuse a workbook whose parts declare more than ``limit`` bytes, before inflating any (zip bombs).

    Python's zipfile never inflates a member past the size it declares, so the declared sizes bound
    what reading the workbook can cost.
    """
    if limit is None:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as e:
        raise ImportFormat(details={"reason": f"BadZipFile: {e}"}) from e
    if declared > limit:
        raise ImportTooLarge(details={"max_uncompressed_bytes": limit})


@contextmanager
def xlsx_rows(data: bytes) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The first sheet's rows (values only); a damaged workbook is ``ImportFormat``, even mid-sheet."""
    # Imported here so that CSV-only callers do not pay for openpyxl's import.
    from openpyxl import load_workbook

    try:
        # data_only: the value Excel last computed for a formula, not the formula text.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:
        # Whatever openpyxl trips over in an upload (bad zip, missing part, bad XML) is the file's
        # fault, so a 422 the user can act on rather than a 500.
        raise ImportFormat(details={"reason": f"{type(e).__name__}: {e}"}) from e
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None or not hasattr(sheet, "reset_dimensions"):
            raise ImportFormat(details={"reason": "the first sheet is not a worksheet"})
        # Some generators write a wrong <dimension> (often "A1"); read what is actually there.
        sheet.reset_dimensions()
        yield sheet.iter_rows(min_row=1, values_only=True)
    except (zipfile.BadZipFile, KeyError, SyntaxError) as e:
        # Sheet XML is read lazily, so a damaged sheet shows up only while iterating (XML parse
        # errors are SyntaxError subclasses in both ElementTree and lxml).
        raise ImportFormat(details={"reason": f"{type(e).__name__}: {e}"}) from e
    finally:
        workbook.close()
