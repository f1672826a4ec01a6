"""Importing a payment platform's donation export into one project: a dry run, or all rows at once.

The file is read with the organization import's rules (backend/spreadsheet.py: UTF-8 with or without
BOM, GB18030, XLSX, Chinese headers, exact yuan -> fen). Parsing 100,000 rows takes seconds of CPU,
so it runs in a worker thread (``asyncio.to_thread``), never on the event loop.

Idempotent by (channel, external reference), like a single donation: a row whose reference is
already recorded with the same amount in the same project is ``unchanged``; with anything else it
is a row error. Applying writes every new row or none, in one transaction, with the totals, one
outbox event per donation and one audit entry for the import.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import re
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from tortoise.transactions import in_transaction

from .. import spreadsheet
from ..accounts.models import User
from ..audit import service as audit_service
from ..cache import Cache
from ..crypto import PersonalDataCipher
from ..errors import Unprocessable
from ..events import kinds
from ..registry.importer import ImportTooManyRows
from . import bulk, canonical, ledger, totals, views
from .models import DonorDisplay, EntryKind, LedgerEntry, Project
from .projects import get_or_raise, require_staff_of

BATCH = 2000
# What one file may hold, as for the organization import (backend/registry/importer.py): rows, what an
# XLSX may inflate to (checked from its directory before anything is inflated), and the row errors a
# report lists (the rest are counted: a file where every row is wrong must not come back as tens of
# megabytes of JSON).
MAX_ROWS = 100_000
MAX_XLSX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ERRORS_LISTED = 200
BEIJING = timezone(timedelta(hours=8))
REQUIRED = ("received_at", "amount", "external_ref")
_HEADERS: dict[str, tuple[str, ...]] = {
    "received_at": ("捐赠时间", "支付时间", "交易时间", "到账时间", "捐款时间", "received_at", "time"),
    "amount": ("捐赠金额", "金额", "捐款金额", "支付金额", "amount", "amount_yuan"),
    "donor_name": ("捐赠人", "捐赠者", "捐款人", "姓名", "捐赠人姓名", "donor", "donor_name"),
    "external_ref": ("支付流水号", "流水号", "交易单号", "订单号", "商户订单号", "external_ref", "serial"),
    "donor_display": ("展示方式", "公示方式", "是否匿名", "donor_display", "display"),
}
_FIELD_BY_KEY = {spreadsheet.key(alias): name for name, aliases in _HEADERS.items() for alias in aliases}
_DISPLAY_BY_KEY = {
    spreadsheet.key(word): display
    for display, words in {
        DonorDisplay.ANONYMOUS: ("匿名", "是", "anonymous", "yes", "y", "1"),
        DonorDisplay.MASKED: ("隐去姓名", "部分隐藏", "masked", "否", "no", "n", "0"),
        DonorDisplay.FULL: ("实名", "公开姓名", "full"),
    }.items()
    for word in words
}
_TRAILING_BRACKET = re.compile(r"\(([^()]*)\)$")
_MOMENT = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
# Crockford's base32 alphabet for receipt codes (see ledger.RECEIPT_ALPHABET), from RFC 4648's.
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ledger.RECEIPT_ALPHABET.encode())


class MissingColumns(Unprocessable):
    code = "import.missing_columns"
    message = "导入文件缺少必需的列：捐赠时间、捐赠金额、支付流水号 / Missing columns"


@dataclass(frozen=True, slots=True)
class DonationRow:
    row_number: int
    received_at: datetime
    amount_fen: int
    donor_name: str | None
    display: DonorDisplay
    external_ref: str


@dataclass
class ParsedDonations:
    rows: list[DonationRow]
    errors: list[dict[str, Any]]
    ignored_columns: list[str]
    encoding: str


@dataclass
class ImportResult:
    applied: bool
    rows: int
    created: int = 0
    unchanged: int = 0
    conflicts: int = 0
    amount_fen: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""

    def report(self) -> dict[str, Any]:
        """The ``ImportReport``: the first ``MAX_ERRORS_LISTED`` row errors, and how many more there are."""
        return {
            "applied": self.applied,
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "amount_fen": self.amount_fen,
            "errors": self.errors[:MAX_ERRORS_LISTED],
            "errors_omitted": max(0, len(self.errors) - MAX_ERRORS_LISTED),
            "ignored_columns": self.ignored_columns,
            "encoding": self.encoding,
        }


# --- parsing (pure, runs in a thread) -----------------------------------------------------------------


def _match(header: str) -> tuple[str | None, str | None]:
    """The field a header names, and the unit its bracket states (``捐赠金额（元）``)."""
    k = spreadsheet.key(header)
    if k in _FIELD_BY_KEY:
        return _FIELD_BY_KEY[k], None
    bracket = _TRAILING_BRACKET.search(k)
    if bracket is None:
        return None, None
    return _FIELD_BY_KEY.get(k[: bracket.start()]), bracket.group(1)


def _moment(value: Any) -> datetime:
    """A donation time: an aware instant; without an offset it is Beijing time, as platforms write it."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=BEIJING)).astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=BEIJING).astimezone(UTC)
    text = spreadsheet.text(value)
    unreadable = ValueError(f"无法识别的捐赠时间“{text or ''}”，请使用 2026-11-29 10:30:00 这样的格式")
    match = _MOMENT.fullmatch(spreadsheet.unexcel(unicodedata.normalize("NFKC", text or "")).strip())
    if match is None:
        raise unreadable
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        zone: timezone = BEIJING
        if offset == "Z":
            zone = UTC
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as e:
        # 2026-02-30, 25:00, +25:00, year 0: the shape matched, the moment does not exist. Python's
        # own words ("day is out of range for month") are not for the people reading the report.
        raise ValueError(
            f"捐赠时间“{text}”不是有效的日期时间（日期、时刻或时区超出范围），请核对 / "
            f"{text!r} is not a valid date and time"
        ) from e


def _rows(
    cells_iter: Iterator[tuple[int, Sequence[Any]]], encoding: str, max_rows: int | None
) -> ParsedDonations:
    header: tuple[int, Sequence[Any]] | None = None
    index: dict[str, int] = {}
    unit: str | None = None
    ignored: list[str] = []
    for _ in range(10):
        header = next(cells_iter, None)
        if header is None:
            break
        index, ignored = {}, []
        for i, cell in enumerate(header[1]):
            title = spreadsheet.text(cell)
            if title is None:
                continue
            name, bracket = _match(title)
            if name is None or name in index or (bracket and name != "amount"):
                ignored.append(title)
                continue
            index[name] = i
            if name == "amount":
                unit = bracket
        if "amount" in index or "external_ref" in index:
            break
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        raise MissingColumns(details={"missing": missing})
    units = spreadsheet.MONEY_UNITS.get(unit or "")
    if units is None:
        raise MissingColumns(
            f"无法识别金额列的单位“{unit}”，请使用元 / unknown unit of the amount column",
            details={"unit": unit},
        )
    width = max(index.values()) + 1
    column = {name: index.get(name, width) for name in _HEADERS}
    result = ParsedDonations(rows=[], errors=[], ignored_columns=ignored, encoding=encoding)
    first_row: dict[str, int] = {}
    for seen, (number, row_cells) in enumerate(cells_iter, start=1):
        if max_rows is not None and seen > max_rows:
            raise ImportTooManyRows(details={"max_rows": max_rows})
        cells = list(row_cells[:width])
        cells.extend([None] * (width + 1 - len(cells)))
        row, problems = _row(number, cells, column, units, first_row)
        if row is None:
            result.errors.extend(problems)
        else:
            result.rows.append(row)
    return result


def _row(
    number: int, cells: list[Any], column: dict[str, int], units: Any, first_row: dict[str, int]
) -> tuple[DonationRow | None, list[dict[str, Any]]]:
    """One row checked: the donation, or every problem in it."""
    problems: list[dict[str, Any]] = []

    def problem(field_name: str, code: str, message: str) -> None:
        problems.append({"row": number, "field": field_name, "code": code, "message": message})

    received_at: datetime | None = None
    try:
        received_at = _moment(cells[column["received_at"]])
    except ValueError as e:
        problem("received_at", "import.date", str(e))
    amount: int | None = None
    try:
        amount = spreadsheet.parse_money_fen(cells[column["amount"]], units)
        if amount is None or amount <= 0:
            problem("amount", "import.amount", "捐赠金额须大于零 / the amount must be above zero")
    except spreadsheet.MoneyError as e:
        problem("amount", "import.amount", e.message)
    ref_text = spreadsheet.text(cells[column["external_ref"]])
    ref = spreadsheet.unexcel(ref_text) if ref_text else None
    if not ref or len(ref) > 128:
        problem(
            "external_ref", "import.external_ref", "请填写支付流水号（最多128字符） / the serial is missing"
        )
    elif (first := first_row.setdefault(ref, number)) != number:
        problem(
            "external_ref",
            "import.duplicate_in_file",
            f"支付流水号与第 {first} 行重复 / duplicate of row {first}",
        )
    name = spreadsheet.text(cells[column["donor_name"]])
    if name is not None and len(name) > 64:
        problem("donor_name", "import.donor_name", "捐赠人姓名过长（最多64字） / name too long")
    display_text = spreadsheet.text(cells[column["donor_display"]])
    display = DonorDisplay.MASKED
    if display_text is not None:
        chosen = _DISPLAY_BY_KEY.get(spreadsheet.key(display_text))
        if chosen is None:
            problem("donor_display", "import.donor_display", f"无法识别的展示方式“{display_text}”")
        else:
            display = chosen
    if not name:
        display = DonorDisplay.ANONYMOUS  # nobody to name: shown as 匿名 whatever the column says
    if problems or received_at is None or amount is None or not ref:
        return None, problems
    return DonationRow(number, received_at, amount, name, display, ref), []


def parse_bytes(
    data: bytes,
    *,
    filename: str,
    max_rows: int | None = MAX_ROWS,
    max_xlsx_uncompressed_bytes: int | None = MAX_XLSX_UNCOMPRESSED_BYTES,
) -> ParsedDonations:
    """Parse a platform's export (CSV or XLSX) into checked rows and row errors, within the limits (413)."""
    lower = filename.lower()
    if data.startswith(spreadsheet.ZIP_MAGIC) or lower.endswith(".xlsx"):
        spreadsheet.require_xlsx_within(data, max_xlsx_uncompressed_bytes)
        with spreadsheet.xlsx_rows(data) as rows:
            return _rows(spreadsheet.non_blank(rows), "xlsx", max_rows)
    if data.startswith(spreadsheet.OLE_MAGIC) or lower.endswith(".xls"):
        raise spreadsheet.legacy_xls_error(filename)
    text, encoding = spreadsheet.decode(data)
    delimiter = spreadsheet.sniff_delimiter(text, lambda cell: _match(cell)[0] is not None)
    try:
        return _rows(
            spreadsheet.non_blank(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)),
            encoding,
            max_rows,
        )
    except csv.Error as e:
        raise spreadsheet.ImportFormat(
            f"CSV 文件格式错误：{e} / malformed CSV", details={"reason": str(e)}
        ) from e


# --- applying -------------------------------------------------------------------------------------


def _receipt_codes(count: int) -> list[str]:
    # 10 random bytes are 16 base32 characters: the same 80 bits as ledger.new_receipt_code, faster.
    return [base64.b32encode(secrets.token_bytes(10)).translate(_TO_CROCKFORD).decode() for _ in range(count)]


async def _existing(channel: str, refs: list[str]) -> dict[str, tuple[int, int]]:
    """external ref -> (project id, amount) of what this channel already recorded."""
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(refs), BATCH):
        rows = await LedgerEntry.filter(
            channel=channel, external_ref__in=refs[start : start + BATCH]
        ).values_list("external_ref", "project_id", "amount_fen")
        for ref, project_id, amount in rows:
            found[str(ref)] = (int(project_id), int(amount))
    return found


async def import_donations(
    *,
    actor: User,
    project_id: int,
    channel: str,
    data: bytes,
    filename: str,
    apply: bool,
    cipher: PersonalDataCipher,
    cache: Cache,
) -> ImportResult:
    """Check a platform export row by row; with ``apply`` and no error, record every new donation."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    ledger.check_open(project, EntryKind.DONATION)
    parsed = await asyncio.to_thread(parse_bytes, data, filename=filename)
    result = ImportResult(
        applied=False,
        rows=len(parsed.rows) + len({e["row"] for e in parsed.errors}),
        errors=list(parsed.errors),
        ignored_columns=parsed.ignored_columns,
        encoding=parsed.encoding,
    )
    existing = await _existing(channel, [row.external_ref for row in parsed.rows])
    new: list[DonationRow] = []
    latest = datetime.now(UTC) + ledger.FUTURE_TOLERANCE
    for row in parsed.rows:
        known = existing.get(row.external_ref)
        if row.received_at > latest:
            result.errors.append(
                {
                    "row": row.row_number,
                    "field": "received_at",
                    "code": ledger.ReceivedInFuture.code,
                    "message": ledger.ReceivedInFuture.message,
                }
            )
        elif known is None:
            new.append(row)
        elif known == (project.id, row.amount_fen):
            result.unchanged += 1
        else:
            result.conflicts += 1
            result.errors.append(
                {
                    "row": row.row_number,
                    "field": "external_ref",
                    "code": ledger.ReferenceConflict.code,
                    "message": ledger.ReferenceConflict.message,
                }
            )
    result.errors.sort(key=lambda e: e["row"])
    result.created = len(new)
    result.amount_fen = sum(row.amount_fen for row in new)
    if not apply or result.errors or not new:
        result.applied = apply and not result.errors
        return result
    await _apply(project=project, channel=channel, rows=new, actor=actor, cipher=cipher)
    result.applied = True
    await views.invalidate(
        cache=cache, project_id=project.id, credit_code=await views.credit_code_of(project.organization_id)
    )
    return result


async def _apply(
    *, project: Project, channel: str, rows: list[DonationRow], actor: User, cipher: PersonalDataCipher
) -> None:
    """Write the new donations, their totals, events and the import's audit entry: all or nothing."""
    now = datetime.now(UTC)

    def build() -> list[dict[str, Any]]:
        # The CPU-heavy part (encrypting names, receipt codes) in a worker thread too.
        codes = _receipt_codes(len(rows))
        return [
            {
                "project_id": project.id,
                "organization_id": project.organization_id,
                "kind": EntryKind.DONATION.value,
                "amount_fen": row.amount_fen,
                "received_at": row.received_at,
                "channel": channel,
                "external_ref": row.external_ref,
                "donor_display": row.display.value,
                "donor_public": ledger.published_donor(row.donor_name, row.display),
                "donor_name_encrypted": cipher.encrypt(row.donor_name) if row.donor_name else None,
                "receipt_code": code,
                "advance": False,
                "recorded_by_id": actor.id,
                "recorded_at": now,
            }
            for row, code in zip(rows, codes, strict=True)
        ]

    values = await asyncio.to_thread(build)
    months: dict[str, int] = defaultdict(int)
    for row in rows:
        months[totals.month_of(row.received_at)] += row.amount_fen
    total = sum(row.amount_fen for row in rows)
    async with in_transaction():
        ids = await bulk.insert_donations(values, project_id=project.id, channel=channel)
        entries = sorted(
            (
                canonical.ImportedDonation(
                    id=ids[v["external_ref"]],
                    project_id=project.id,
                    amount_fen=v["amount_fen"],
                    received_at=v["received_at"],
                    channel=channel,
                    donor_public=v["donor_public"],
                    donor_display=v["donor_display"],
                    receipt_code=v["receipt_code"],
                    recorded_at=now,
                )
                for v in values
            ),
            key=lambda entry: entry.id,
        )
        await bulk.insert_events(
            [
                {
                    "kind": kinds.DONATION_RECORDED,
                    "payload": ledger.donation_payload(entry, project),
                    "recipients": [],
                    "idempotency_key": f"donation.recorded:{entry.id}",
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                }
                for entry in entries
            ]
        )
        await audit_service.record(
            actor=actor,
            action="ledger.donation_import",
            target=project,
            before=None,
            after={"channel": channel, "donations": len(rows), "amount_fen": total},
            reason="批量导入捐赠记录",
        )
        await totals.count_donations(project.id, count=len(rows), months=months)
        await ledger.on_entries_appended(project.organization_id, entries)
