"""The canonical bytes of public-record changes, the leaves beside the ledger's (README, "The leaves").

The same rules as the ledger's (``backend/charity/canonical.py``): JSON in UTF-8, keys sorted, no
whitespace, ``"v": 1``, instants as RFC 3339 UTC with ``Z`` and whole seconds, dates ``YYYY-MM-DD``,
money in fen, absent values ``null``. Each names the organization by its credit code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

from ..registry.models import CreditListing, Organization, Penalty
from . import log

FORMAT_VERSION = 1


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode(record_type: str, organization: Organization, at: datetime, /, **fields: Any) -> bytes:
    """``{"v": 1, "type": record_type, "credit_code", "at", ...fields}`` in the canonical form."""
    record = {
        "v": FORMAT_VERSION,
        "type": record_type,
        "credit_code": organization.credit_code,
        "at": _at(at),
    }
    return orjson.dumps({**record, **fields}, option=orjson.OPT_SORT_KEYS)


def status(organization: Organization, *, reason: str, at: datetime) -> bytes:
    return encode("org.status", organization, at, status=str(organization.status), reason=reason)


def penalty(organization: Organization, record: Penalty, *, at: datetime) -> bytes:
    return encode(
        "org.penalty",
        organization,
        at,
        penalty_id=record.id,
        kind=str(record.kind),
        decision_number=record.decision_number,
        decided_on=_day(record.decided_on),
        amount_fen=record.amount_fen,
        reason=record.reason,
    )


def listing(organization: Organization, record: CreditListing, *, at: datetime) -> bytes:
    """A listing (``org.credit_listed``) or, once removed, its removal (``org.credit_removed``)."""
    if record.removed_on is None:
        return encode(
            "org.credit_listed",
            organization,
            at,
            listing_id=record.id,
            list=str(record.list),
            reason=record.reason,
            decision_number=record.decision_number,
            listed_on=_day(record.listed_on),
        )
    return encode(
        "org.credit_removed",
        organization,
        at,
        listing_id=record.id,
        list=str(record.list),
        reason=record.removal_reason,
        removed_on=_day(record.removed_on),
    )


def qr_revoked(organization: Organization, *, versions: list[int], reason: str, at: datetime) -> bytes:
    return encode("org.qr_revoked", organization, at, versions=versions, reason=reason)


async def append(organization: Organization, data: bytes) -> None:
    """Append a record change to the organization's log: last in the change's transaction."""
    await log.append(organization.id, data)
