"""Recording audit entries inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from tortoise.models import Model

from .models import AuditEntry


async def record(
    *, actor: Model | None, action: str, target: Model, before: Any, after: Any, reason: str = ""
) -> AuditEntry:
    """Append one audit entry; call it inside the transaction of the change it describes."""
    return await AuditEntry.create(
        actor_id=actor.pk if actor is not None else None,
        action=action,
        target_type=type(target).__name__,
        target_id=str(target.pk),
        before=before,
        after=after,
        reason=reason,
    )


async def get_all(*, target: Model) -> list[AuditEntry]:
    """The audit history of one record, oldest first."""
    return await AuditEntry.filter(target_type=type(target).__name__, target_id=str(target.pk)).order_by("id")
