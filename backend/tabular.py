"""Tables as CSV or XLSX downloads (rosters, attendance, filings), safe to open in a spreadsheet.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, WPS
and LibreOffice as a formula ("CSV injection": ``=HYPERLINK(...)`` in a member's nickname becomes a
live link in an officer's spreadsheet). Such text cells are written with a leading apostrophe,
which spreadsheets show as plain text (OWASP's advice). Numbers stay numbers.

CSV is UTF-8 with a BOM, so that Excel on a Chinese Windows reads it as UTF-8 rather than GBK.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """The cell as a spreadsheet should store it: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file (UTF-8 with BOM) of the header and rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralize(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralize(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1") -> bytes:
    """An XLSX workbook with one sheet of the header and rows."""
    from openpyxl import Workbook  # imported here: only downloads need it

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append([neutralize(h) for h in header])
    for row in rows:
        sheet.append([neutralize(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
