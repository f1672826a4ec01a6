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
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F

from ..accounts.models import User
from ..events import kinds as event_kinds
from ..events.models import OutboxEvent, OutboxStatus
from ..recruitment import reminders as posting_reminders
from . import statements
from .catalog import all_kinds
from .models import Delivery, DeliveryStatus, SubscriptionConsent, SubscriptionPreference

log = logging.getLogger("gongxin.notifications")

REMINDER_SUFFIX = ".reminder_due"


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


# Kinds whose recipients are decided when the event falls due, not when it is recorded: the
# confirmed sign-ups of a posting change until it starts (backend/recruitment/reminders.py).
LATE_RECIPIENTS: dict[str, Callable[[dict[str, Any]], Awaitable[list[int]]]] = {
    event_kinds.POSTING_REMINDER_DUE: posting_reminders.recipients,
}


async def _late_recipients(
    events: list[tuple[Any, ...]], payloads: dict[int, tuple[str, Any]], now: datetime
) -> list[tuple[Any, ...]]:
    """The events with the recipients of LATE_RECIPIENTS kinds filled in (and kept on the event)."""
    resolved = []
    for event_id, kind, uids in events:
        due = _due_at(kind, payloads.get(event_id, (kind, None))[1])
        if kind in LATE_RECIPIENTS and not (due is not None and due > now):
            uids = await LATE_RECIPIENTS[kind](payloads[event_id][1] or {})
            await OutboxEvent.filter(id=event_id).update(recipients=uids)
        resolved.append((event_id, kind, uids))
    return resolved


async def expand_due_events(*, now: datetime, templates: dict[str, str], limit: int = 500) -> int:
    """Turn outbox events that are due into one pending delivery per recipient; how many events."""
    known = set(all_kinds())
    async with statements.write_transaction():
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
        payloads = {
            event_id: (kind, payload)
            for event_id, kind, payload in (
                await OutboxEvent.filter(id__in=reminders).values_list("id", "kind", "payload")
                if reminders
                else []
            )
        }
        due_at = {event_id: _due_at(kind, payload) for event_id, (kind, payload) in payloads.items()}
        events = await _late_recipients(events, payloads, now)
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
        await statements.insert_deliveries(rows, now)
        if expanded:
            await OutboxEvent.filter(id__in=expanded, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
            )
    return len(events)


async def hand_out(*, now: datetime, lease: float, limit: int) -> list[int]:
    """Deliveries due now and not on the queue: marked as queued for ``lease`` seconds, oldest first."""
    async with statements.write_transaction():
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
    async with statements.write_transaction():
        rows = await statements.take(ids, token, now)
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
        granted = await statements.spend_consents([(r.user_id, r.template_id) for r in wanting])
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
    async with statements.write_transaction():
        sent = [(c, o) for c, o in outcomes if isinstance(o, Sent)]
        if sent:
            await statements.record_sent([(c.id, c.claim_token, o.msgid) for c, o in sent], now)
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
    async with statements.write_transaction():
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
