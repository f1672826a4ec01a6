"""Issued volunteer service proofs (志愿服务记录证明), kept so that a correction can revoke them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model


class VolunteerProof(Model):
    """A signed proof of the service records of one volunteer, as issued to them, until revoked."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="volunteer_proofs", on_delete=fields.CASCADE
    )
    user_id: int
    # The scope asked for: one organization, or null for all of the volunteer's records.
    organization_id = fields.BigIntField(null=True)
    content: dict[str, Any] = fields.JSONField()
    digest = fields.CharField(max_length=43)
    record_ids: list[int] = fields.JSONField(default=list)
    kid = fields.CharField(max_length=16)
    token = fields.CharField(max_length=255)
    issued_at = fields.DatetimeField()
    revoked_at: datetime | None = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "recruitment_volunteer_proofs"
        indexes = (("user_id", "id"),)
