"""The bookkeeping of message delivery: every state change of a ``Delivery``, each in one transaction.

The notifications worker (``notifications/``) renders and sends; everything it decides is written
here, so the API reads the same records the worker writes. A delivery moves::

    pending --claim--> sending --finish--> sent | failed | skipped | dead
       ^                  |                  (retry: back to pending, later)
       +------------------+
    sending, past the send lease (its worker died mid-send) --recover--> dead (delivery.interrupted)
    dead --replay (an admin)--> pending

At most once per (event, recipient): the pair is unique, and only the worker whose conditional
UPDATE moved a row from ``pending`` to ``sending`` (with its own ``claim_token``) sends it. Nothing
sends a row found in ``sending``: after a crash nobody knows whether WeChat got it, so it waits for
an admin in the dead letters instead of being sent a second time.

Consents: one is spent when a delivery is first claimed (a conditional ``remaining > 0`` UPDATE,
never below zero however many workers run) and given back when the message finally does not go
out, except after 43101, when WeChat says the user has none left and the count is set to zero.
A count too high corrects itself that way (the next send gets 43101); one too low would not,
which is why an unknown outcome (interrupted, dead after timeouts) gives the consent back.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise import get_connection
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from .. import db
from ..accounts.models import User
from ..events.models import OutboxEvent, OutboxStatus
from .catalog import all_kinds
from .models import Delivery, DeliveryStatus, SubscriptionConsent, SubscriptionPreference

log = logging.getLogger("gongxin.notifications")

REMINDER_SUFFIX = ".reminder_due"
_DELIVERIES = Delivery._meta.db_table
_CONSENTS = SubscriptionConsent._meta.db_table


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that writes, holding SQLite's write lock from its first statement.

    SQLite starts a plain BEGIN as a reader; a transaction that reads and then writes, while
    another process (a second worker, the server) committed in between, fails at once with
    "database is locked" instead of waiting out the busy timeout. A write that changes nothing
    takes the lock first, so concurrent writers queue instead. PostgreSQL needs nothing of the sort.
    """
    async with in_transaction() as connection:
        if db.dialect() == "sqlite":
            await connection.execute_query(f"UPDATE {Delivery._meta.db_table} SET id = id WHERE 0")  # noqa: S608
        yield


# --- outcomes the worker reports -------------------------------------------------------------------
@dataclass(frozen=True)
class Sent:
    msgid: str


@dataclass(frozen=True)
class Retry:
    """A transient failure: tried again at ``at``."""

    reason: str
    error: str
    at: datetime


@dataclass(frozen=True)
class Failed:
    """A permanent failure. ``consent``: "refund" (WeChat kept it), "zero" (43101: it has none)."""

    reason: str
    error: str
    consent: str = "refund"


@dataclass(frozen=True)
class Skipped:
    """Not sent on purpose after the claim (e.g. a reminder whose activity has begun)."""

    reason: str


@dataclass(frozen=True)
class Dead:
    """Transient failures up to the limit: an admin sees it and may replay it."""

    reason: str
    error: str


Outcome = Sent | Retry | Failed | Skipped | Dead


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker may now send, with what rendering and sending need."""

    id: int
    claim_token: str
    event_id: int
    user_id: int
    openid: str
    kind: str
    template_id: str
    payload: dict[str, Any]
    attempts: int  # including this one


@dataclass
class ClaimResult:
    to_send: list[Claimed] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> how many


# --- the relay's side: outbox events into deliveries, deliveries onto the queue ----------------------
def _due_at(kind: str, payload: dict[str, Any] | None) -> datetime | None:
    if not kind.endswith(REMINDER_SUFFIX):
        return None
    raw = (payload or {}).get("due_at")
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


async def expand_due_events(*, now: datetime, templates: dict[str, str], limit: int = 500) -> int:
    """Turn outbox events that are due into one pending delivery per recipient; how many events."""
    known = set(all_kinds())
    async with write_transaction():
        # SKIP LOCKED (PostgreSQL): two relays take different events; the unique (event, user) and
        # the conditional status change would make a doubled expansion harmless anyway.
        # Plain values, not ORM objects: building those was half the relay's CPU.
        events = (
            await OutboxEvent.filter(status=OutboxStatus.PENDING, available_at__lte=now)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True)
            .values_list("id", "kind", "recipients")
        )
        if not events:
            return 0
        reminders = [event_id for event_id, kind, _ in events if kind.endswith(REMINDER_SUFFIX)]
        due_at = {
            event_id: _due_at(kind, payload)
            for event_id, kind, payload in (
                await OutboxEvent.filter(id__in=reminders).values_list("id", "kind", "payload")
                if reminders
                else []
            )
        }
        recipients = {int(uid) for _, _, uids in events for uid in (uids or [])}
        existing = (
            set(await User.filter(id__in=recipients).values_list("id", flat=True)) if recipients else set()
        )
        rows: list[tuple[Any, ...]] = []
        expanded: list[int] = []
        for event_id, kind, uids in events:
            due = due_at.get(event_id)
            if due is not None and due > now:  # a reminder recorded without its available_at
                await OutboxEvent.filter(id=event_id).update(available_at=due)
                continue
            if kind not in known:
                await OutboxEvent.filter(id=event_id, status=OutboxStatus.PENDING).update(
                    status=OutboxStatus.FAILED, last_error=f"no message template for kind {kind}"
                )
                continue
            template_id = templates.get(kind, "")
            missing = []
            for uid in dict.fromkeys(int(u) for u in uids or []):
                if uid not in existing:
                    missing.append(uid)
                    continue
                if template_id:
                    rows.append((event_id, uid, kind, template_id, DeliveryStatus.PENDING.value, None, None))
                else:
                    rows.append(
                        (
                            event_id,
                            uid,
                            kind,
                            "",
                            DeliveryStatus.SKIPPED.value,
                            "template.not_configured",
                            now,
                        )
                    )
            if missing:
                log.warning("outbox event %s: recipients %s no longer exist", event_id, missing)
            expanded.append(event_id)
        await _insert_deliveries(rows, now)
        if expanded:
            await OutboxEvent.filter(id__in=expanded, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
            )
    return len(events)


_INSERT_COLUMNS = (
    "event_id, user_id, kind, template_id, status, reason, finished_at, next_attempt_at, created_at, "
    "attempts, retries, dead_letters, consent_spent"
)


async def _insert_deliveries(rows: Sequence[tuple[Any, ...]], now: datetime) -> None:
    """Insert (event, user, kind, template, status, reason, finished_at) rows; existing pairs stay."""
    at = _db_value("created_at", now)
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)"] * len(batch))
        params: list[Any] = []
        for event_id, user_id, kind, template_id, status, reason, finished in batch:
            finished_at = _db_value("finished_at", finished) if finished else None
            params += [event_id, user_id, kind, template_id, status, reason, finished_at, at, at, False]
        await get_connection("default").execute_query(
            _sql(
                f"INSERT INTO {_DELIVERIES} ({_INSERT_COLUMNS}) VALUES {values} "  # noqa: S608
                "ON CONFLICT (event_id, user_id) DO NOTHING"
            ),
            params,
        )


async def hand_out(*, now: datetime, lease: float, limit: int) -> list[int]:
    """Deliveries due now and not on the queue: marked as queued for ``lease`` seconds, oldest first."""
    async with write_transaction():
        ids = list(
            await Delivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(queued_until=None)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        if len(ids) < limit:
            ids += list(
                await Delivery.filter(
                    status=DeliveryStatus.PENDING, next_attempt_at__lte=now, queued_until__lt=now
                )
                .order_by("id")
                .limit(limit - len(ids))
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
        if ids:
            await Delivery.filter(id__in=ids).update(queued_until=now + timedelta(seconds=lease))
    return [int(i) for i in ids]  # type: ignore[call-overload]


async def release(ids: Sequence[int]) -> None:
    """Take deliveries off the queue again (handing them to the queue failed)."""
    if ids:
        await Delivery.filter(id__in=list(ids), status=DeliveryStatus.PENDING).update(queued_until=None)


# --- the worker's side -----------------------------------------------------------------------------
async def claim(*, ids: Iterable[int], now: datetime) -> ClaimResult:
    """Take pending deliveries for sending, spending one consent each; the rest are skipped with why."""
    ids = list(ids)
    result = ClaimResult()
    if not ids:
        return result
    token = secrets.token_hex(16)
    async with write_transaction():
        rows = await _take(ids, token, now)
        if not rows:
            return result
        payloads = dict(
            await OutboxEvent.filter(id__in={r.event_id for r in rows}).values_list("id", "payload")
        )
        openids = dict(await User.filter(id__in={r.user_id for r in rows}).values_list("id", "openid"))
        disabled = set(
            await SubscriptionPreference.filter(
                user_id__in={r.user_id for r in rows}, enabled=False
            ).values_list("user_id", "event")
        )
        skipped: dict[str, list[int]] = {}
        sending: list[int] = []
        wanting = [r for r in rows if (r.user_id, r.kind) not in disabled and not r.consent_spent]
        granted = await _spend_consents([(r.user_id, r.template_id) for r in wanting])
        for row in rows:
            reason = None
            if (row.user_id, row.kind) in disabled:
                reason = "consent.disabled"
            elif not row.consent_spent:
                key = (row.user_id, row.template_id)
                if granted.get(key, 0) > 0:
                    granted[key] -= 1
                else:
                    reason = "consent.none"
            if reason is not None:
                skipped.setdefault(reason, []).append(row.id)
                continue
            sending.append(row.id)
            result.to_send.append(
                Claimed(
                    id=row.id,
                    claim_token=token,
                    event_id=row.event_id,
                    user_id=row.user_id,
                    openid=openids.get(row.user_id, ""),
                    kind=row.kind,
                    template_id=row.template_id,
                    payload=dict(payloads[row.event_id] or {}),
                    attempts=row.attempts + 1,
                )
            )
        if sending:
            await Delivery.filter(id__in=sending).update(consent_spent=True, attempts=F("attempts") + 1)
        for reason, skipped_ids in skipped.items():
            # A delivery retried with its consent already spent and now turned off gets it back.
            await _refund(await Delivery.filter(id__in=skipped_ids, consent_spent=True))
            await Delivery.filter(id__in=skipped_ids).update(
                status=DeliveryStatus.SKIPPED, reason=reason, finished_at=now, claim_token=None
            )
            result.skipped[reason] = len(skipped_ids)
    return result


@dataclass(frozen=True)
class _Taken:
    id: int
    event_id: int
    user_id: int
    kind: str
    template_id: str
    consent_spent: bool
    attempts: int


async def _take(ids: Sequence[int], token: str, now: datetime) -> list[_Taken]:
    """Move the pending, due deliveries among ``ids`` to ``sending`` under ``token``; what they are.

    One statement, its rows read back by RETURNING as plain values: building ORM objects for them
    was a fifth of the worker's event-loop time (bench/README.md, "notify").
    """
    at = _db_value("claimed_at", now)
    marks = ", ".join(["?"] * len(ids))
    rows = await get_connection("default").execute_query_dict(
        _sql(
            f"UPDATE {_DELIVERIES} SET status = ?, claim_token = ?, claimed_at = ?, "  # noqa: S608
            f"queued_until = NULL WHERE id IN ({marks}) AND status = ? AND next_attempt_at <= ? "
            "RETURNING id, event_id, user_id, kind, template_id, consent_spent, attempts"
        ),
        [DeliveryStatus.SENDING.value, token, at, *ids, DeliveryStatus.PENDING.value, at],
    )
    taken = [
        _Taken(
            id=int(r["id"]),
            event_id=int(r["event_id"]),
            user_id=int(r["user_id"]),
            kind=str(r["kind"]),
            template_id=str(r["template_id"]),
            consent_spent=bool(r["consent_spent"]),
            attempts=int(r["attempts"]),
        )
        for r in rows
    ]
    return sorted(taken, key=lambda t: t.id)


def _db_value(field: str, value: Any) -> Any:
    """``value`` as the ORM writes it into that column of the deliveries (UTC text on SQLite)."""
    return Delivery._meta.fields_map[field].to_db_value(value, Delivery)


def _sql(text: str) -> str:
    """``?`` placeholders as the database wants them (``$1, $2 ...`` on PostgreSQL)."""
    if db.dialect() != "postgres":
        return text
    numbers = iter(range(1, text.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", text)


async def _spend_consents(wanted: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Take one consent per (user, template) asked, where one is left; how many each got.

    One statement per round, each round taking at most one consent per distinct pair (a pair asked
    twice in one chunk goes into a second round): ``remaining > 0`` is checked against the row as
    it is when the UPDATE locks it, so concurrent workers never take it below zero.
    """
    rounds: list[list[tuple[int, str]]] = []
    for pair in wanted:
        for taken in rounds:
            if pair not in taken:
                taken.append(pair)
                break
        else:
            rounds.append([pair])
    granted: dict[tuple[int, str], int] = {}
    connection = get_connection("default")
    for pairs in rounds:
        values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS VARCHAR(128)))"] * len(pairs))
        rows = await connection.execute_query_dict(
            _sql(
                f"UPDATE {_CONSENTS} SET remaining = remaining - 1 "  # noqa: S608 - only our table names
                f"WHERE (user_id, template_id) IN (VALUES {values}) AND remaining > 0 "
                "RETURNING user_id, template_id"
            ),
            [v for pair in pairs for v in pair],
        )
        for row in rows:
            key = (int(row["user_id"]), str(row["template_id"]))
            granted[key] = granted.get(key, 0) + 1
    return granted


async def _record_sent(sent: Sequence[tuple[Claimed, Sent]], now: datetime) -> None:
    """Mark sent deliveries in one statement, each with its msgid, where the claim is still theirs."""
    values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS VARCHAR(32)), CAST(? AS VARCHAR(32)))"] * len(sent))
    params: list[Any] = [DeliveryStatus.SENT.value, _db_value("finished_at", now)]
    for claimed, outcome in sent:
        params += [claimed.id, claimed.claim_token, outcome.msgid]
    await get_connection("default").execute_query(
        _sql(
            f"UPDATE {_DELIVERIES} SET status = ?, finished_at = ?, msgid = v.column3, "  # noqa: S608
            "reason = NULL, last_error = NULL, claim_token = NULL "
            f"FROM (VALUES {values}) AS v "
            f"WHERE {_DELIVERIES}.id = v.column1 AND {_DELIVERIES}.claim_token = v.column2"
        ),
        params,
    )


async def _refund(rows: Iterable[Delivery]) -> None:
    for row in rows:
        await SubscriptionConsent.filter(user_id=row.user_id, template_id=row.template_id).update(
            remaining=F("remaining") + 1
        )
    await Delivery.filter(id__in=[r.id for r in rows]).update(consent_spent=False)


async def finish(*, outcomes: Sequence[tuple[Claimed, Outcome]], now: datetime) -> None:
    """Record what became of claimed deliveries, in one transaction.

    Matched on the claim token, not on ``sending``: if the send outlived the send lease and the row
    was dead-lettered as interrupted meanwhile, the worker that knows the answer still records it.
    """
    if not outcomes:
        return
    async with write_transaction():
        sent = [(c, o) for c, o in outcomes if isinstance(o, Sent)]
        if sent:
            await _record_sent(sent, now)
        for claimed, outcome in outcomes:
            if isinstance(outcome, Sent):
                continue
            mine = Delivery.filter(id=claimed.id, claim_token=claimed.claim_token)
            row = await mine.first()
            if row is None:  # replayed by an admin meanwhile: the new claim decides
                continue
            if isinstance(outcome, Retry):
                await mine.update(
                    status=DeliveryStatus.PENDING,
                    reason=outcome.reason,
                    last_error=outcome.error,
                    next_attempt_at=outcome.at,
                    retries=F("retries") + 1,
                    claim_token=None,
                )
                continue
            if isinstance(outcome, Failed) and outcome.consent == "zero":
                await SubscriptionConsent.filter(user_id=row.user_id, template_id=row.template_id).update(
                    remaining=0
                )
                await mine.update(consent_spent=False)
            elif row.consent_spent:
                await _refund([row])
            if isinstance(outcome, Skipped):
                await mine.update(
                    status=DeliveryStatus.SKIPPED, reason=outcome.reason, finished_at=now, claim_token=None
                )
            elif isinstance(outcome, Failed):
                await mine.update(
                    status=DeliveryStatus.FAILED,
                    reason=outcome.reason,
                    last_error=outcome.error,
                    finished_at=now,
                    claim_token=None,
                )
            else:
                await mine.update(
                    status=DeliveryStatus.DEAD,
                    reason=outcome.reason,
                    last_error=outcome.error,
                    finished_at=now,
                    dead_letters=F("dead_letters") + 1,
                    claim_token=None,
                )


async def recover_interrupted(*, now: datetime, lease: float) -> int:
    """Dead-letter deliveries left in ``sending`` past the send lease (their worker died mid-send)."""
    cutoff = now - timedelta(seconds=lease)
    async with write_transaction():
        rows = await Delivery.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff).select_for_update(
            skip_locked=True
        )
        if not rows:
            return 0
        await _refund([r for r in rows if r.consent_spent])
        await Delivery.filter(id__in=[r.id for r in rows], status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.DEAD,
            reason="delivery.interrupted",
            last_error="the worker stopped while sending; WeChat may or may not have delivered it",
            finished_at=now,
            dead_letters=F("dead_letters") + 1,
        )
    log.warning("%d deliveries interrupted mid-send moved to the dead letters", len(rows))
    return len(rows)
