"""Reminders before a posting starts (``posting.reminder_due``), on the path activity reminders take.

The event is recorded in the transaction that opens the posting (publish, or an admin's approval
after review), with ``due_at`` = start - ``POSTING_REMINDER_MINUTES``: the outbox keeps it unseen
until then (``available_at``), and the notifications relay expands it once, whatever the number of
workers (``backend/subscriptions/deliveries.expand_due_events``: ``SKIP LOCKED`` and a conditional
status change; the idempotency key makes a second publish record nothing).

Who is reminded is decided when it falls due, not when it was recorded: the event's recipients are
empty and ``recipients`` below names the confirmed sign-ups of that moment, and nobody when the
posting has been cancelled meanwhile. A sign-up cancelled after that moment may still get the
reminder: the window is one relay tick (about a second) plus the queue's wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..events import kinds
from ..events import service as events_service
from .models import Posting, PostingStatus, Signup, SignupStatus
from .seats import payload as signup_payload

DEFAULT_BEFORE = timedelta(hours=1)  # the default of POSTING_REMINDER_MINUTES
# Postings whose reminder still goes out when it falls due.
REMINDED = (PostingStatus.OPEN, PostingStatus.CLOSED)


async def schedule(posting: Posting, organization: str, *, before: timedelta) -> None:
    """Record the posting's reminder, due ``before`` its start (in the caller's transaction)."""
    due_at: datetime = posting.starts_at - before
    await events_service.record(
        kind=kinds.POSTING_REMINDER_DUE,
        payload=signup_payload(
            posting, organization, signup_id=0, status="reminder", due_at=due_at.isoformat()
        ),
        recipients=[],  # decided when due: recipients()
        idempotency_key=f"{kinds.POSTING_REMINDER_DUE}:{posting.id}",
    )


async def recipients(payload: dict[str, Any]) -> list[int]:
    """Who a due posting reminder goes to: its confirmed sign-ups now; nobody once it is cancelled."""
    posting_id = payload.get("posting_id")
    status = await Posting.filter(id=posting_id).first().values_list("status", flat=True)
    if status not in REMINDED:
        return []
    users = await Signup.filter(posting_id=posting_id, status=SignupStatus.CONFIRMED).values_list(
        "user_id", flat=True
    )
    return sorted({int(u) for u in users})  # type: ignore[call-overload]
