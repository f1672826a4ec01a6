"""Consents, preferences and deliveries of WeChat subscribe messages."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from ..accounts.models import User
    from ..events.models import OutboxEvent


class SubscriptionConsent(Model):
    """How many one-time consents a user has left for one template (each allows one message)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="subscription_consents", on_delete=fields.CASCADE
    )
    user_id: int
    template_id = fields.CharField(max_length=128)
    # Only ever changed by conditional UPDATEs (``remaining > 0`` to spend): never below zero.
    remaining = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscription_consents"
        unique_together = (("user", "template_id"),)


class SubscriptionPreference(Model):
    """Whether a user receives one kind of message (no row: yes)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="subscription_preferences", on_delete=fields.CASCADE
    )
    user_id: int
    event = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscription_preferences"
        unique_together = (("user", "event"),)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker, which may be talking to WeChat right now
    SENT = "sent"
    SKIPPED = "skipped"  # not sent on purpose: no consent, turned off, no template, ...
    FAILED = "failed"  # WeChat refused it for good (43101, 40003, 47003, ...) or it cannot be rendered
    DEAD = "dead"  # transient failures until the limit, or interrupted mid-send: an admin decides


FINAL_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED, DeliveryStatus.DEAD)


class Delivery(Model):
    """One message for one (event, recipient), the pair being the idempotency key of the send."""

    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[OutboxEvent] = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="deliveries", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharField(max_length=64)
    template_id = fields.CharField(max_length=128, default="")
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    # A stable code saying why it was skipped, failed, retried or dead-lettered (e.g. consent.none).
    reason = fields.CharField(max_length=64, null=True)
    last_error = fields.TextField(null=True)
    attempts = fields.IntField(default=0)  # sends tried
    retries = fields.IntField(default=0)  # of those, scheduled again after a transient failure
    dead_letters = fields.IntField(default=0)  # times it went to the dead letters
    consent_spent = fields.BooleanField(default=False)
    claim_token = fields.CharField(max_length=32, null=True)
    claimed_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField()
    queued_until = fields.DatetimeField(null=True)  # handed to the queue; handed again after this
    msgid = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification_deliveries"
        unique_together = (("event", "user"),)
        indexes = (("status", "next_attempt_at"), ("template_id", "status"))
