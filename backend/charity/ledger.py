"""Recording the ledger: donations, expenditures and corrections, append-only, totals kept.

Every append is one transaction holding the entry, the conditional UPDATE of the project's totals,
the upserts of its month (and category) totals, the outbox event, the audit entry and the
transparency log's append (``on_entry_appended``, last). Concurrency, across processes, on both
databases:

* a donation is unique by (channel, external reference): of two requests with the same reference,
  the database lets one insert and the other reads that entry back (200, not a second gift);
* an expenditure adds to ``spent_fen`` only ``WHERE raised_fen - spent_fen >= amount`` (unless it is
  an advance): PostgreSQL re-checks that condition on the row it locked, SQLite runs one writer at a
  time, so two expenditures can never together spend beyond the balance;
* a correction is one-to-one with the entry it reverses: a second reversal fails on the unique key.

A correction may take the balance below zero (a donation recorded by mistake after money was spent):
refusing it would keep a known error in the public ledger, which is worse.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..cache import Cache
from ..crypto import PersonalDataCipher, mask_name
from ..errors import Conflict, NotFound, Unprocessable
from ..events import kinds
from ..events import service as events_service
from ..translog import log as translog
from . import canonical, totals, views
from .models import DonorDisplay, EntryKind, LedgerEntry, Project, ProjectStatus
from .projects import get_or_raise, require_staff_of
from .schemas import CorrectionCreate, DonationCreate, ExpenditureCreate

ANONYMOUS = "匿名"
# Crockford's base32 without I, L, O, U: nothing to misread on a paper receipt. 16 characters, 80 bits.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 16
# A platform's clock may run a little ahead of ours.
FUTURE_TOLERANCE = timedelta(minutes=5)


class EntryNotFound(NotFound):
    code = "ledger.entry_not_found"
    message = "未找到该账目 / No such ledger entry"


class ProjectNotOpen(Unprocessable):
    code = "ledger.project_not_open"
    message = "项目尚未开始募捐或已结束，不能记录该账目 / The project does not take this entry now"


class InsufficientBalance(Unprocessable):
    code = "ledger.insufficient_balance"
    message = (
        "支出超过项目余额；如系垫付，请标记为垫付并说明 / The expenditure exceeds the balance; "
        "mark it as an advance with an explanation"
    )


class ReferenceConflict(Conflict):
    code = "ledger.reference_conflict"
    message = "该支付流水号已记录为另一笔捐赠 / This channel and reference already record another donation"


class AlreadyReversed(Conflict):
    code = "ledger.already_reversed"
    message = "该账目已被更正过 / This entry has already been reversed"


class CorrectionNotReversible(Unprocessable):
    code = "ledger.correction_not_reversible"
    message = (
        "更正记录不能再被更正；请重新记录正确的账目 / A correction cannot be reversed; record the right entry"
    )


class ReceivedInFuture(Unprocessable):
    code = "ledger.received_in_future"
    message = "捐赠时间不能晚于当前时间 / The donation cannot be received in the future"


class PaidInFuture(Unprocessable):
    code = "ledger.paid_in_future"
    message = "支出日期不能晚于今天 / The expenditure cannot be paid after today"


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def published_donor(name: str | None, display: DonorDisplay) -> str:
    """The donor as the public sees them: 张*, 匿名, or the full name the donor agreed to show."""
    name = (name or "").strip()
    if display == DonorDisplay.ANONYMOUS or not name:
        return ANONYMOUS
    if display == DonorDisplay.FULL:
        return name
    return mask_name(name)


# --- totals (backend/charity/totals.py) --------------------------------------------------------------


async def _count_donation(entry: LedgerEntry, sign: int) -> None:
    """Add (sign 1) or take back (sign -1) a donation in the kept totals."""
    assert entry.received_at is not None
    await totals.count_donation(
        entry.project_id, amount=entry.amount_fen, received_at=entry.received_at, sign=sign
    )


async def _count_expenditure(entry: LedgerEntry, sign: int) -> bool:
    """Add or take back an expenditure; False when adding it would spend beyond the balance."""
    assert entry.paid_on is not None and entry.category is not None
    return await totals.count_expenditure(
        entry.project_id,
        amount=entry.amount_fen,
        category=entry.category,
        paid_on=entry.paid_on,
        check_balance=sign > 0 and not entry.advance,
        sign=sign,
    )


async def on_entry_appended(entry: LedgerEntry) -> None:
    """Append the entry's canonical bytes to its organization's transparency log (backend/translog).

    Called inside the entry's transaction, last before the commit (after the totals: the log's
    sequence row is the most contended row, so it is locked last and held shortest), so the log and
    the ledger commit or roll back together.
    """
    await translog.append(entry.organization_id, canonical.canonical_bytes(entry), entry_id=entry.id)


async def on_entries_appended(organization_id: int, entries: list[canonical.ImportedDonation]) -> None:
    """``on_entry_appended`` for an import's entries, in this order, in one statement."""
    await translog.append_many(
        organization_id, [canonical.canonical_bytes(e) for e in entries], entry_ids=[e.id for e in entries]
    )


# --- recording ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    entry: LedgerEntry
    created: bool


def _same_donation(existing: LedgerEntry, project: Project, data: DonationCreate) -> LedgerEntry:
    if existing.project_id != project.id or existing.amount_fen != data.amount_fen:
        raise ReferenceConflict(details={"entry_id": existing.id, "project_id": existing.project_id})
    return existing


def check_open(project: Project, kind: EntryKind) -> None:
    open_for = {
        EntryKind.DONATION: {ProjectStatus.FUNDRAISING, ProjectStatus.EXECUTING},
        EntryKind.EXPENDITURE: {ProjectStatus.FUNDRAISING, ProjectStatus.EXECUTING, ProjectStatus.CLOSED},
        EntryKind.CORRECTION: {ProjectStatus.FUNDRAISING, ProjectStatus.EXECUTING, ProjectStatus.CLOSED},
    }
    if project.status not in open_for[kind]:
        raise ProjectNotOpen(details={"status": project.status})


def donation_entry(
    *, project: Project, data: DonationCreate, actor_id: int | None, cipher: PersonalDataCipher
) -> LedgerEntry:
    """An unsaved donation entry (also used by the import)."""
    name = (data.donor_name or "").strip() or None
    return LedgerEntry(
        project_id=project.id,
        organization_id=project.organization_id,
        kind=EntryKind.DONATION,
        amount_fen=data.amount_fen,
        # Whole seconds: the canonical form has no fractions, so neither does what is stored.
        received_at=data.received_at.astimezone(UTC).replace(microsecond=0),
        channel=data.channel,
        external_ref=data.external_ref,
        donor_display=data.donor_display,
        donor_public=published_donor(name, data.donor_display),
        donor_name_encrypted=cipher.encrypt(name) if name else None,
        receipt_code=new_receipt_code(),
        recorded_by_id=actor_id,
    )


def donation_payload(entry: canonical.Entry, project: Project) -> dict[str, Any]:
    """The ``donation.recorded`` payload (backend/events/kinds.py)."""
    return {
        "project_id": project.id,
        "project_title": project.title,
        "amount_fen": entry.amount_fen,
        "receipt_code": entry.receipt_code,
        "received_at": canonical.rfc3339(entry.received_at),
    }


async def donation_recorded(entry: LedgerEntry, project: Project) -> None:
    """The outbox event of a new donation (in its transaction)."""
    await events_service.record(
        kind=kinds.DONATION_RECORDED,
        payload=donation_payload(entry, project),
        recipients=[],  # the donor is not (yet) known as a user of the mini-program
        idempotency_key=f"donation.recorded:{entry.id}",
    )


async def record_donation(
    *, actor: User, project_id: int, data: DonationCreate, cipher: PersonalDataCipher, cache: Cache
) -> Recorded:
    """Record one donation; the same (channel, external reference) again returns the first entry."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    check_open(project, EntryKind.DONATION)
    if data.received_at > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ReceivedInFuture()
    # No read first: a new donation (the usual case) goes straight to the insert, and the unique
    # (channel, external reference) turns a repeat into the IntegrityError handled below.
    entry = donation_entry(project=project, data=data, actor_id=actor.id, cipher=cipher)
    try:
        async with in_transaction():
            await entry.save()
            await audit_service.record(
                actor=actor,
                action="ledger.donation",
                target=project,
                before=None,
                after={"entry_id": entry.id, "amount_fen": entry.amount_fen, "channel": entry.channel},
            )
            await donation_recorded(entry, project)
            # Last: the totals' rows and the log's sequence stay locked until the commit.
            await _count_donation(entry, 1)
            await on_entry_appended(entry)
    except IntegrityError:
        # Recorded before, or by a concurrent request that won: its entry is this donation.
        existing = await LedgerEntry.get_or_none(channel=data.channel, external_ref=data.external_ref)
        if existing is None:
            raise
        return Recorded(_same_donation(existing, project, data), created=False)
    await views.invalidate(
        cache=cache, project_id=project.id, credit_code=await views.credit_code_of(project.organization_id)
    )
    return Recorded(entry, created=True)


async def record_expenditure(
    *, actor: User, project_id: int, data: ExpenditureCreate, cache: Cache
) -> LedgerEntry:
    """Record one expenditure; beyond the balance only as an explained advance."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    check_open(project, EntryKind.EXPENDITURE)
    # What was paid, with its receipt: a date after today (in China, UTC+8) is a typing error, and
    # would show in the month chart and the filing of a year to come.
    if data.paid_on > (datetime.now(UTC) + timedelta(hours=8)).date():
        raise PaidInFuture(details={"paid_on": data.paid_on.isoformat()})
    entry = LedgerEntry(
        project_id=project.id,
        organization_id=project.organization_id,
        kind=EntryKind.EXPENDITURE,
        amount_fen=data.amount_fen,
        category=data.category,
        payee=data.payee.strip(),
        paid_on=data.paid_on,
        purpose=data.purpose.strip(),
        receipt_sha256=data.receipt_sha256,
        receipt_url=data.receipt_url,
        advance=data.advance,
        explanation=(data.explanation or "").strip() or None,
        recorded_by_id=actor.id,
    )
    async with in_transaction():
        await entry.save()
        await audit_service.record(
            actor=actor,
            action="ledger.expenditure",
            target=project,
            before=None,
            after={"entry_id": entry.id, "amount_fen": entry.amount_fen, "advance": entry.advance},
        )
        if not await _count_expenditure(entry, 1):
            # Raising rolls the entry and its audit entry back with the transaction.
            balance = (await totals.of_project(project.id)).balance_fen
            raise InsufficientBalance(details={"balance_fen": balance})
        await on_entry_appended(entry)
    await views.invalidate(
        cache=cache, project_id=project.id, credit_code=await views.credit_code_of(project.organization_id)
    )
    return entry


async def record_correction(
    *, actor: User, project_id: int, data: CorrectionCreate, cache: Cache
) -> LedgerEntry:
    """Reverse one earlier entry with a public explanation; both stay in the ledger."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    check_open(project, EntryKind.CORRECTION)
    original = await LedgerEntry.get_or_none(id=data.reverses, project_id=project.id)
    if original is None:
        raise EntryNotFound(details={"entry_id": data.reverses})
    if original.kind == EntryKind.CORRECTION:
        raise CorrectionNotReversible()
    if await LedgerEntry.filter(reverses_id=original.id).exists():
        raise AlreadyReversed(details={"entry_id": original.id})
    entry = LedgerEntry(
        project_id=project.id,
        organization_id=project.organization_id,
        kind=EntryKind.CORRECTION,
        amount_fen=original.amount_fen,
        reverses_id=original.id,
        explanation=data.explanation.strip(),
        recorded_by_id=actor.id,
    )
    try:
        async with in_transaction():
            await entry.save()
            await audit_service.record(
                actor=actor,
                action="ledger.correction",
                target=project,
                before={"entry_id": original.id, "amount_fen": original.amount_fen},
                after={"entry_id": entry.id, "reverses": original.id},
                reason=entry.explanation or "",
            )
            if original.kind == EntryKind.DONATION:
                await _count_donation(original, -1)
            else:
                await _count_expenditure(original, -1)
            await on_entry_appended(entry)
    except IntegrityError as exc:
        # The one-to-one key: a concurrent correction of the same entry won.
        raise AlreadyReversed(details={"entry_id": original.id}) from exc
    await views.invalidate(
        cache=cache, project_id=project.id, credit_code=await views.credit_code_of(project.organization_id)
    )
    return entry
