"""The one canonical byte form of each public ledger entry and project record change.

These bytes are what the transparency log (issue #16) will hash as a leaf, and what a citizen's
verifier re-reads, so they must never change for a stored entry. The rules (README, "The ledger's
canonical bytes"):

* JSON, UTF-8 (not ASCII-escaped), keys sorted, no insignificant whitespace (``orjson`` with
  ``OPT_SORT_KEYS``; its output is deterministic for the types used here);
* money as integers in fen; ids as integers; booleans as JSON booleans; absent values as ``null``;
* instants as RFC 3339 UTC with a ``Z`` and whole seconds (``2026-11-29T01:30:00Z``), dates as
  ``YYYY-MM-DD``;
* a format version ``"v": 1``; a new field or form means a new version, never a silent change;
* only what is published: the donor as published (``张*``, ``匿名`` or the full name the donor agreed
  to show), never the stored name; the receipt code only as its SHA-256, so a donor can match their
  receipt to its leaf while nobody else learns the code; no payment serial number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from .models import EntryKind, LedgerEntry, ProgressUpdate, Project

FORMAT_VERSION = 1


def rfc3339(moment: datetime | None) -> str | None:
    """An aware instant as ``2026-11-29T01:30:00Z`` (UTC, whole seconds)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("canonical times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def receipt_hash(code: str) -> str:
    """SHA-256 (hex) of a receipt code: published in place of the code itself."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _encode(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


@dataclass(slots=True)
class ImportedDonation:
    """A donation written by an import as a plain row: what the canonical form reads, no ORM object."""

    id: int
    project_id: int
    amount_fen: int
    received_at: datetime
    channel: str
    donor_public: str
    donor_display: str
    receipt_code: str
    recorded_at: datetime
    kind: str = EntryKind.DONATION.value
    category: None = None
    payee: None = None
    paid_on: None = None
    purpose: None = None
    receipt_sha256: None = None
    receipt_url: None = None
    advance: bool = False
    explanation: None = None
    reverses_id: None = None


Entry = LedgerEntry | ImportedDonation


def entry_fields(entry: Entry) -> dict[str, Any]:
    """The public fields of an entry, as they go into its canonical bytes."""
    fields: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "type": str(entry.kind),
        "id": entry.id,
        "project_id": entry.project_id,
        "amount_fen": entry.amount_fen,
        "recorded_at": rfc3339(entry.recorded_at),
    }
    if entry.kind == EntryKind.DONATION:
        fields.update(
            received_at=rfc3339(entry.received_at),
            channel=entry.channel,
            donor=entry.donor_public,
            donor_display=str(entry.donor_display),
            receipt_code_sha256=receipt_hash(entry.receipt_code) if entry.receipt_code else None,
        )
    elif entry.kind == EntryKind.EXPENDITURE:
        fields.update(
            category=entry.category,
            payee=entry.payee,
            paid_on=_day(entry.paid_on),
            purpose=entry.purpose,
            receipt_sha256=entry.receipt_sha256,
            receipt_url=entry.receipt_url,
            advance=entry.advance,
            explanation=entry.explanation,
        )
    else:
        fields.update(reverses=entry.reverses_id, explanation=entry.explanation)
    return fields


def canonical_bytes(entry: Entry) -> bytes:
    """The entry's canonical bytes: the future transparency-log leaf."""
    return _encode(entry_fields(entry))


def project_record_bytes(project: Project, *, change: str, at: datetime) -> bytes:
    """The canonical bytes of a change to a project's public record (``created``, ``status``)."""
    return _encode(
        {
            "v": FORMAT_VERSION,
            "type": f"project.{change}",
            "project_id": project.id,
            "title": project.title,
            "kind": str(project.kind),
            "filing_number": project.filing_number,
            "target_fen": project.target_fen,
            "status": str(project.status),
            "plan": project.plan,
            "at": rfc3339(at),
        }
    )


def progress_bytes(update: ProgressUpdate) -> bytes:
    """The canonical bytes of a published progress update."""
    return _encode(
        {
            "v": FORMAT_VERSION,
            "type": "project.progress",
            "id": update.id,
            "project_id": update.project_id,
            "text": update.text,
            "image_urls": update.image_urls,
            "published_at": rfc3339(update.published_at),
        }
    )
