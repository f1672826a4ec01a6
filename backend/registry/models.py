"""Registration authorities and the organizations they register.

The foundation keeps only what roles need to point at; the registry capability adds the public
record (licences, penalties, credit listings, annual reports).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AuthorityLevel(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class OrgKind(StrEnum):
    ASSOCIATION = "association"  # 社会团体, credit code position 2 = "1"
    SOCIAL_SERVICE = "social_service"  # 民办非企业单位 / 社会服务机构, "2"
    FOUNDATION = "foundation"  # 基金会, "3"
    OTHER = "other"  # "9"


class OrgStatus(StrEnum):
    ACTIVE = "active"  # 正常
    DEREGISTERED = "deregistered"  # 注销
    REVOKED = "revoked"  # 撤销登记


class Authority(Model):
    """A civil-affairs registration authority (登记管理机关) for one GB/T 2260 region."""

    id = fields.BigIntField(primary_key=True)
    region_code = fields.CharField(max_length=6, unique=True)
    name = fields.CharField(max_length=128)
    level = fields.CharEnumField(AuthorityLevel, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "authorities"


class Organization(Model):
    """A social organization, identified by its unified social credit code."""

    id = fields.BigIntField(primary_key=True)
    credit_code = fields.CharField(max_length=18, unique=True)
    name = fields.CharField(max_length=200, db_index=True)
    kind = fields.CharEnumField(OrgKind, max_length=16)
    status = fields.CharEnumField(OrgStatus, max_length=16, default=OrgStatus.ACTIVE)
    authority: fields.ForeignKeyRelation[Authority] = fields.ForeignKeyField(
        "models.Authority", related_name="organizations", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "organizations"
