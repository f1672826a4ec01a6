"""Request and response schemas of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..registry.credit_code import CREDIT_CODE_PATTERN
from ..registry.regions import RegionCode
from .models import StaffRoleKind, User

if TYPE_CHECKING:
    from .service import Roles


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=128, description="The code from wx.login()")


class TokenRead(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_at: datetime


class PhoneBindRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=128, description="The code from getPhoneNumber")


class StaffRoleRead(BaseModel):
    credit_code: str
    organization: str
    role: StaffRoleKind


class OfficerRoleRead(BaseModel):
    region_code: str
    authority: str
    level: str


class RolesRead(BaseModel):
    member: bool = True
    platform_admin: bool
    staff: list[StaffRoleRead]
    officer: list[OfficerRoleRead]


class MeRead(BaseModel):
    id: int
    nickname: str
    phone: str | None = Field(description="Masked, e.g. 138****5678")
    created_at: datetime
    roles: RolesRead

    @classmethod
    def of(cls, user: User, roles: Roles) -> MeRead:
        return cls(
            id=user.id,
            nickname=user.nickname,
            phone=user.phone_masked,
            created_at=user.created_at,
            roles=RolesRead(
                platform_admin=roles.platform_admin,
                staff=[StaffRoleRead.model_validate(r) for r in roles.staff],
                officer=[OfficerRoleRead.model_validate(r) for r in roles.officer],
            ),
        )


class RoleGrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["admin", "officer", "staff"]
    user_id: int = Field(ge=1, le=2**63 - 1)
    authority_region_code: RegionCode | None = None
    credit_code: str | None = Field(default=None, pattern=CREDIT_CODE_PATTERN)
    staff_role: StaffRoleKind = StaffRoleKind.ADMIN
    reason: str = Field(default="", max_length=500)


class RoleRevocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["admin", "officer", "staff"]
    user_id: int = Field(ge=1, le=2**63 - 1)
    authority_region_code: RegionCode | None = Field(default=None, description="officer: the authority")
    credit_code: str | None = Field(
        default=None, pattern=CREDIT_CODE_PATTERN, description="staff: the organization"
    )
    reason: str = Field(default="", max_length=500)


class SessionRevocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class SessionsRevokedRead(BaseModel):
    user_id: int
    revoked: int = Field(description="Sessions that were active and no longer work")
