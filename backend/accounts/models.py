"""Users, their login sessions and their roles."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from ..registry.models import Authority, Organization


class User(Model):
    """A WeChat user of the mini-program, identified by their openid under our appid."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True)
    nickname = fields.CharField(max_length=64, default="")
    # The phone number is personal data: kept encrypted (Fernet), shown masked, and looked up
    # by a keyed hash so that no plaintext is ever stored.
    phone_encrypted: str | None = fields.TextField(null=True)
    phone_masked: str | None = fields.CharField(max_length=32, null=True)  # type: ignore[assignment]
    phone_hash: str | None = fields.CharField(max_length=64, null=True, db_index=True)  # type: ignore[assignment]
    is_platform_admin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"


class AuthSession(Model):
    """One issued bearer token: its id is the ``sid`` claim, and revoking sets ``revoked_at``."""

    id = fields.CharField(max_length=32, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_sessions"


class StaffRoleKind(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"


class StaffRole(Model):
    """A user who runs one organization from the mini-program."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="staff_roles", on_delete=fields.CASCADE
    )
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="staff_roles", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(StaffRoleKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_roles"
        unique_together = (("user", "organization"),)


class OfficerRole(Model):
    """A user who works for one registration authority, with its region subtree as jurisdiction."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="officer_roles", on_delete=fields.CASCADE
    )
    authority: fields.ForeignKeyRelation[Authority] = fields.ForeignKeyField(
        "models.Authority", related_name="officer_roles", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "officer_roles"
        unique_together = (("user", "authority"),)
