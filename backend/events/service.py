"""Recording domain events in the transactional outbox.

A service calls ``record`` inside the same database transaction as the change that caused the
event: if the change rolls back, so does the event; if it commits, the event is there for the
notifications worker to deliver. The idempotency key makes a repeated record a no-op, so a retried
request or a second scan never produces a second message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import OutboxEvent, OutboxStatus


async def record(
    *, kind: str, payload: dict[str, Any], recipients: list[int], idempotency_key: str
) -> OutboxEvent:
    """Store an event once per idempotency key, in the caller's transaction."""
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL a failed insert
    # would abort the caller's whole transaction.
    event = OutboxEvent(kind=kind, payload=payload, recipients=recipients, idempotency_key=idempotency_key)
    due_at = _due_at(kind, payload)
    if due_at is not None:
        event.available_at = due_at  # a reminder is not delivered before it is due (kinds.py)
    await OutboxEvent.bulk_create([event], ignore_conflicts=True)
    return await OutboxEvent.get(idempotency_key=idempotency_key)


def _due_at(kind: str, payload: dict[str, Any]) -> datetime | None:
    if not kind.endswith(".reminder_due") or not payload.get("due_at"):
        return None
    due = payload["due_at"]
    return due if isinstance(due, datetime) else datetime.fromisoformat(str(due))


async def get_pending(*, limit: int = 100) -> list[OutboxEvent]:
    """Events still waiting for delivery, oldest first."""
    return await OutboxEvent.filter(status=OutboxStatus.PENDING).order_by("id").limit(limit)
