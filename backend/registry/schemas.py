"""Request and response schemas of the registry."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..charity.schemas import ProjectSummary
from ..recruitment.proofschemas import VolunteerProofPublic
from ..spreadsheet import MAX_FEN
from .models import (
    AnnualResult,
    CreditList,
    CreditState,
    LicenceKind,
    OrgKind,
    OrgStatus,
    PenaltyKind,
    QualificationKind,
)
from .regions import RegionCode

Reason = Field(min_length=2, max_length=1000, description="Why: recorded in the audit trail")


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_code: str = Field(min_length=1, max_length=64, description="Normalized before validation")
    name: str = Field(min_length=2, max_length=200)
    kind: OrgKind
    authority_region_code: RegionCode
    legal_representative: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=300)
    business_scope: str | None = Field(default=None, max_length=5000)
    supervising_unit: str | None = Field(default=None, max_length=200)
    registered_on: date | None = None
    registered_capital_fen: int | None = Field(
        default=None, ge=0, le=MAX_FEN, description="Integer fen (1 yuan = 100 fen)"
    )
    allow_bad_check_digit: bool = Field(
        default=False, description="Register an early-pilot code that fails the check"
    )
    check_digit_reason: str | None = Field(default=None, max_length=1000)
    reason: str = Reason

    @model_validator(mode="after")
    def _exception_needs_reason(self) -> OrgCreate:
        if self.allow_bad_check_digit and not (self.check_digit_reason or "").strip():
            raise ValueError("allow_bad_check_digit requires check_digit_reason")
        return self


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=2, max_length=200)
    legal_representative: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=300)
    business_scope: str | None = Field(default=None, max_length=5000)
    supervising_unit: str | None = Field(default=None, max_length=200)
    registered_on: date | None = None
    registered_capital_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)
    reason: str = Reason


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrgStatus
    reason: str = Reason


class LicenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: LicenceKind
    decision_number: str = Field(min_length=1, max_length=100)
    decided_on: date
    content: str = Field(default="", max_length=5000)
    reason: str = Reason


class PenaltyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PenaltyKind
    decision_number: str = Field(min_length=1, max_length=100)
    decided_on: date
    amount_fen: int | None = Field(
        default=None, ge=0, le=MAX_FEN, description="Fines and confiscations, integer fen"
    )
    penalty_reason: str = Field(default="", max_length=5000, description="The facts of the decision")
    reason: str = Reason


class AnnualReportSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    result: AnnualResult
    filed_on: date | None = None
    reason: str = Reason


class GradeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: int = Field(ge=1, le=5)
    valid_from: date
    valid_until: date
    reason: str = Reason


class QualificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: QualificationKind
    granted_on: date
    valid_until: date | None = None
    reason: str = Reason


class ListingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    list: CreditList
    listing_reason: str = Field(min_length=2, max_length=1000, description="Shown to the public")
    decision_number: str | None = Field(default=None, max_length=100)
    listed_on: date | None = None
    reason: str = Reason


class ListingRemoval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    removed_on: date | None = None
    reason: str = Reason


class ProposalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: bool
    reason: str = Reason


class QrReissue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Reason


class AuthorityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: RegionCode
    name: str = Field(min_length=2, max_length=128)


class OrgSummary(BaseModel):
    credit_code: str
    name: str
    kind: OrgKind
    status: OrgStatus
    credit_state: CreditState
    region_code: str
    authority: str


class OrgPage(BaseModel):
    items: list[OrgSummary]
    total: int = Field(description="Exact when total_exact, else an estimate (at least the rows seen)")
    total_exact: bool
    page: int
    page_size: int


class OrgSearch(BaseModel):
    q: str | None = Field(
        default=None,
        max_length=100,
        description="A name fragment (names starting with it first) or a credit-code prefix",
    )
    kind: OrgKind | None = None
    region: RegionCode | None = Field(default=None, description="A region subtree")
    status: OrgStatus | None = None
    credit_state: CreditState | None = None
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=20, ge=1, le=100)


# What the profile's records look like (documentation of profiles.build_view, which writes them).
class AuthorityRef(BaseModel):
    name: str
    region_code: str


class ListingRead(BaseModel):
    list: CreditList
    list_label: str
    reason: str
    listed_on: date
    removed_on: date | None
    removal_reason: str | None
    decision_number: str | None


class CreditRead(BaseModel):
    state: CreditState
    state_label: str
    listings: list[ListingRead] = Field(description="Current and past listings, newest first")


class AnnualReportRead(BaseModel):
    year: int
    result: AnnualResult
    result_label: str


class EvaluationRead(BaseModel):
    grade: int = Field(ge=1, le=5)
    label: str = Field(description="1A-5A")
    valid_from: date
    valid_until: date
    expired: bool


class CharityRecognition(BaseModel):
    recognized: bool
    recognized_on: date | None


class FundraisingQualification(BaseModel):
    qualified: bool
    granted_on: date | None
    valid_until: date | None
    expired: bool


class LicenceRead(BaseModel):
    kind: LicenceKind
    kind_label: str
    decision_number: str
    decided_on: date


class PenaltyRead(BaseModel):
    kind: PenaltyKind
    kind_label: str
    decision_number: str
    decided_on: date
    amount_fen: int | None
    reason: str


class Profile(BaseModel):
    """The public profile (see the H5 page for how it reads)."""

    credit_code: str
    name: str
    kind: OrgKind
    kind_label: str
    status: OrgStatus
    status_label: str
    legal_representative: str | None
    address: str | None
    business_scope: str | None
    supervising_unit: str | None
    registered_on: date | None
    authority: AuthorityRef
    registered_capital_fen: int | None
    check_digit_exception: bool
    check_digit_exception_reason: str | None
    credit: CreditRead
    annual_reports: list[AnnualReportRead]
    evaluation: EvaluationRead | None
    charity: CharityRecognition
    public_fundraising: FundraisingQualification
    licences: list[LicenceRead]
    penalties: list[PenaltyRead]
    projects: list[ProjectSummary] = Field(
        default_factory=list, description="Its public fundraising projects with their totals"
    )


class VerifyReason(BaseModel):
    code: str
    message: str


class VerifyResult(BaseModel):
    verdict: Literal["good_standing", "warnings", "not_in_good_standing", "genuine", "not_genuine"] = Field(
        description="An organization's code: its standing; a volunteer service proof: genuine or not_genuine"
    )
    reasons: list[VerifyReason]
    checked_at: str
    organization: Profile | None
    proof: VolunteerProofPublic | None = Field(
        default=None, description="A volunteer service proof's public content (only when genuine)"
    )


class QrCodeRead(BaseModel):
    credit_code: str
    version: int
    kid: str
    issued_at: str
    url: str


class ImportRowErrorRead(BaseModel):
    row: int
    field: str | None
    code: str
    message: str


class ImportReport(BaseModel):
    applied: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowErrorRead] = Field(description="The first 200 row errors")
    errors_omitted: int = Field(description="Row errors beyond those listed")
    ignored_columns: list[str]
    encoding: str


class RegionCounts(BaseModel):
    region_code: str
    name: str | None
    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_credit_state: dict[str, int]


class RegionStatistics(BaseModel):
    region: RegionCounts
    children: list[RegionCounts]


# --- what the officer routes answer ---------------------------------------------------------------


class OrgCreated(BaseModel):
    credit_code: str
    id: int


class WriteResult(BaseModel):
    """A recorded change: ``id`` of the record it created, ``revoked`` for a QR revocation."""

    ok: bool
    id: int | None = None
    revoked: bool | None = None


class AuditEntryRead(BaseModel):
    id: int
    actor_id: int | None = Field(description="None: a console command or the system")
    action: str
    before: Any
    after: Any
    reason: str
    at: str = Field(description="ISO 8601, UTC")


class AuditTrail(BaseModel):
    items: list[AuditEntryRead]


class ProposalRead(BaseModel):
    id: int
    credit_code: str
    organization: str
    list: str
    action: str
    rule: str
    reason: str
    status: str
    created_at: str


class ProposalList(BaseModel):
    items: list[ProposalRead]


class AuthorityCreated(BaseModel):
    id: int
    region_code: str
    level: str


class SigningKeyRead(BaseModel):
    kid: str
    public_key: str = Field(description="Ed25519, base64")


class PublishedKeyRead(BaseModel):
    kid: str
    alg: str
    public_key: str
    status: Literal["active", "retired"]
    created_at: str
    retired_at: str | None


class PublishedLogKey(BaseModel):
    """A key that signs (or, retired, signed) transparency-log checkpoints."""

    vkey: str = Field(description="The note verifier key: <name>+<hex key id>+<base64(0x01 || key)>")
    key_id: str
    status: Literal["active", "retired"]
    created_at: str
    retired_at: str | None


class PublishedKeys(BaseModel):
    """/.well-known/gongxin-keys.json: what verifies a QR code offline, and every checkpoint key."""

    issuer: str
    token_format: str
    signed_message: str
    url_path: str
    proof_token_format: str = Field(
        description="A volunteer service proof's token (signed with the same keys)"
    )
    proof_signed_message: str
    proof_url_path: str
    proof_content: str = Field(description="How the proof content is encoded before its SHA-256 is taken")
    keys: list[PublishedKeyRead]
    log_keys: list[PublishedLogKey]
