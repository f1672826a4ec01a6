"""The transactional outbox: domain events stored with the change that caused them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanently: recorded and dropped (e.g. the user refused the template)


class OutboxEvent(Model):
    """One domain event waiting for (or done with) delivery by the notifications worker."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    payload: dict[str, Any] = fields.JSONField(default=dict)
    # User ids the event concerns; the notifications capability turns them into messages.
    recipients: list[int] = fields.JSONField(default=list)
    # Unique: recording the same event twice (a retried request, a second scan) is a no-op.
    idempotency_key = fields.CharField(max_length=200, unique=True)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    available_at = fields.DatetimeField(auto_now_add=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "outbox_events"
        indexes = (("status", "available_at"),)
