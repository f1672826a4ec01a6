"""Regions, registration authorities, organizations and their public record.

Records that make up an organization's history (licences, penalties, annual reports, grades,
qualifications, credit listings) are rows of their own: they are corrected by new rows or by a
removal date, never deleted, so that the public history stays complete.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

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


class CreditState(StrEnum):
    """Denormalized from the current listings, for search and statistics."""

    NORMAL = "normal"
    ABNORMAL = "abnormal"  # on the abnormal-activity list (活动异常名录)
    SERIOUS = "serious"  # on the serious-violation list (严重违法失信名单)


class CreditList(StrEnum):
    ABNORMAL = "abnormal"
    SERIOUS_VIOLATION = "serious_violation"


class LicenceKind(StrEnum):
    ESTABLISHMENT = "establishment"  # 成立登记
    CHANGE = "change"  # 变更登记
    DEREGISTRATION = "deregistration"  # 注销登记
    CHARTER_APPROVAL = "charter_approval"  # 章程核准


class PenaltyKind(StrEnum):
    WARNING = "warning"  # 警告
    FAILED_INSPECTION = "failed_inspection"  # 不予通过年度检查
    FINE = "fine"  # 罚款
    CONFISCATION = "confiscation"  # 没收违法所得 / 非法财产
    SUSPENSION = "suspension"  # 限期停止活动
    REVOCATION = "revocation"  # 撤销登记


class AnnualResult(StrEnum):
    QUALIFIED = "qualified"  # 合格
    BASICALLY_QUALIFIED = "basically_qualified"  # 基本合格
    UNQUALIFIED = "unqualified"  # 不合格
    NOT_FILED = "not_filed"  # 未按时提交年度报告


class QualificationKind(StrEnum):
    CHARITY = "charity"  # 慈善组织认定
    PUBLIC_FUNDRAISING = "public_fundraising"  # 公开募捐资格


class ProposalStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class ProposalAction(StrEnum):
    LIST = "list"
    REMOVE = "remove"


class Region(Model):
    """A GB/T 2260 administrative division, as reference data."""

    code = fields.CharField(max_length=6, primary_key=True)
    name = fields.CharField(max_length=64)
    level = fields.CharField(max_length=16)
    parent_code = fields.CharField(max_length=6, null=True, db_index=True)

    class Meta:
        table = "regions"


class Authority(Model):
    """A civil-affairs registration authority (登记管理机关) for one GB/T 2260 region."""

    id = fields.BigIntField(primary_key=True)
    region_code = fields.CharField(max_length=6, unique=True)
    name = fields.CharField(max_length=128, db_index=True)
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
    authority_id: int
    # The authority region, copied here so jurisdiction and statistics are prefix queries.
    region_code = fields.CharField(max_length=6, db_index=True)
    legal_representative = fields.CharField(max_length=64, null=True)
    address = fields.CharField(max_length=300, null=True)
    business_scope = fields.TextField(null=True)
    supervising_unit = fields.CharField(max_length=200, null=True)
    registered_on: date | None = fields.DateField(null=True)
    registered_capital_fen = fields.BigIntField(null=True)
    credit_state = fields.CharEnumField(CreditState, max_length=16, default=CreditState.NORMAL, db_index=True)
    # Codes from an early pilot that fail the check character, registered by an officer on purpose.
    check_digit_exception = fields.BooleanField(default=False)
    check_digit_exception_reason = fields.TextField(null=True)
    # Party members the organization reports (full and probationary), branch or not: an organization
    # with three or more and no branch must set one up.
    party_members_reported = fields.IntField(default=0)
    # Bumped on every change of the public record: part of the cache key of its profile.
    record_version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "organizations"
        indexes = (("region_code", "kind", "status"),)


class Licence(Model):
    """An administrative licence: establishment, change or deregistration, charter approval."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="licences", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(LicenceKind, max_length=32)
    decision_number = fields.CharField(max_length=100)
    decided_on = fields.DateField()
    content = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "licences"


class Penalty(Model):
    """An administrative penalty with its decision number and date."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="penalties", on_delete=fields.CASCADE
    )
    organization_id: int
    kind = fields.CharEnumField(PenaltyKind, max_length=32)
    decision_number = fields.CharField(max_length=100)
    decided_on = fields.DateField()
    amount_fen = fields.BigIntField(null=True)
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "penalties"


class AnnualReport(Model):
    """The annual report (inspection) result of one year."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="annual_reports", on_delete=fields.CASCADE
    )
    organization_id: int
    year = fields.IntField()
    result = fields.CharEnumField(AnnualResult, max_length=32)
    filed_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "annual_reports"
        unique_together = (("organization", "year"),)


class EvaluationGrade(Model):
    """An evaluation grade (评估等级, 1A to 5A) and its validity."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="grades", on_delete=fields.CASCADE
    )
    grade = fields.SmallIntField()
    valid_from = fields.DateField()
    valid_until = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "evaluation_grades"


class Qualification(Model):
    """Charity recognition or public-fundraising qualification, with its validity."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="qualifications", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(QualificationKind, max_length=32)
    granted_on = fields.DateField()
    valid_until = fields.DateField(null=True)
    revoked_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qualifications"


class CreditListing(Model):
    """A period on a credit list. Removal sets removed_on, and the row stays public as history."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="listings", on_delete=fields.CASCADE
    )
    organization_id: int
    list = fields.CharEnumField(CreditList, max_length=32)
    rule_code = fields.CharField(max_length=64, null=True)
    reason = fields.TextField()
    decision_number = fields.CharField(max_length=100, null=True)
    listed_on = fields.DateField()
    removed_on = fields.DateField(null=True)
    removal_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_listings"
        indexes = (("organization_id", "list", "removed_on"),)


class CreditProposal(Model):
    """A listing or removal proposed by a credit rule, waiting for an officer to confirm or reject."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="credit_proposals", on_delete=fields.CASCADE
    )
    organization_id: int
    list = fields.CharEnumField(CreditList, max_length=32)
    action = fields.CharEnumField(ProposalAction, max_length=16)
    rule_code = fields.CharField(max_length=64)
    reason = fields.TextField()
    status = fields.CharEnumField(ProposalStatus, max_length=16, default=ProposalStatus.PENDING)
    # "<org>:<list>:<action>:<rule>" while pending, so a rule firing twice proposes once.
    pending_key = fields.CharField(max_length=200, null=True, unique=True)
    decided_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_proposals"


class QrCodeVersion(Model):
    """One issued version of the QR code of an organization. Reissuing revokes the previous one."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="qr_versions", on_delete=fields.CASCADE
    )
    organization_id: int
    version = fields.IntField()
    kid = fields.CharField(max_length=16)
    issued_at = fields.DatetimeField()
    token = fields.CharField(max_length=200)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.TextField(null=True)

    class Meta:
        table = "qr_code_versions"
        unique_together = (("organization", "version"),)


class SigningKeyRecord(Model):
    """An Ed25519 key that signs QR tokens. Retired keys still verify the codes they signed."""

    kid = fields.CharField(max_length=16, primary_key=True)
    public_key = fields.CharField(max_length=64)
    # The private half, encrypted with DATA_ENCRYPTION_KEY; null once destroyed.
    private_key_encrypted = fields.TextField(null=True)
    active = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "signing_keys"


class OrganizationSearchName(Model):
    """The name of an organization as the search index holds it (normalized), to diff a rename against.

    No foreign key: the seed and imports write these in bulk, and a search joins organizations anyway.
    """

    organization_id = fields.BigIntField(primary_key=True, generated=False)
    name_key = fields.TextField()

    class Meta:
        table = "org_search_names"


class OrganizationNameGram(Model):
    """One posting of the name search index: a character bigram and an organization, as one integer.

    The layout is in backend/registry/search_index.py. The btree of the primary key is the index.
    """

    key = fields.BigIntField(primary_key=True, generated=False)

    class Meta:
        table = "org_name_grams"
