"""Request and response schemas of party building."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .models import ActivityKind, BranchRole, Expected, Membership


class BranchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=100)


class BranchMemberSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=1, le=2**63 - 1)
    membership: Membership
    role: BranchRole = BranchRole.MEMBER
    group_name: str | None = Field(default=None, max_length=64)


class PartyMembersReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(
        ge=0, le=100_000, description="Full and probationary party members in the organization"
    )


class ActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind
    title: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=2500)
    branch_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str = Field(min_length=2, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_m: int = Field(default=200, ge=10, le=5000)
    checkin_opens_minutes_before: int = Field(default=30, ge=0, le=24 * 60)
    checkin_closes_at: AwareDatetime | None = Field(
        default=None, description="Default: the end of the activity"
    )
    late_after_minutes: int = Field(default=10, ge=0, le=24 * 60, description="After the start")
    expected: Expected = Expected.BRANCH
    expected_group: str | None = Field(default=None, max_length=64)
    code_interval_s: int | None = Field(default=None, ge=5, le=300)

    @model_validator(mode="after")
    def _consistent(self) -> ActivityCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.checkin_closes_at is not None and self.checkin_closes_at <= self.starts_at:
            raise ValueError("checkin_closes_at must be after starts_at")
        if self.expected in (Expected.BRANCH, Expected.GROUP) and self.branch_id is None:
            raise ValueError("a branch or group activity needs branch_id")
        if self.expected == Expected.GROUP and not self.expected_group:
            raise ValueError("a group activity needs expected_group")
        return self


class CheckinCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200, description="The code read from the organizer's phone")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float = Field(default=0, ge=0, le=100_000, description="Metres, as the phone reports it")


class CheckinRead(BaseModel):
    activity_id: int
    user_id: int
    status: str
    checked_in_at: datetime
    distance_m: float | None


class AttendanceRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=1000)


class RequestDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str = Field(min_length=2, max_length=1000)


class CheckinCodeRead(BaseModel):
    code: str
    expires_at: datetime
    interval_s: int


# --- what the party-building routes answer ---------------------------------------------------------


class BranchRead(BaseModel):
    id: int
    name: str


class BranchMemberRead(BaseModel):
    branch_id: int
    user_id: int
    membership: Membership
    role: BranchRole
    group_name: str | None


class PartyMembersRead(BaseModel):
    credit_code: str
    party_members_reported: int


class OrganizationRef(BaseModel):
    credit_code: str
    name: str


class PlaceRead(BaseModel):
    name: str
    latitude: float
    longitude: float
    radius_m: int


class CheckinWindowRead(BaseModel):
    opens_at: datetime
    closes_at: datetime
    late_after: datetime
    code_interval_s: int


class ActivityRead(BaseModel):
    id: int
    organization: OrganizationRef
    branch_id: int | None
    kind: ActivityKind
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place: PlaceRead
    checkin: CheckinWindowRead
    expected: Expected
    expected_group: str | None


class AttendanceRequestRead(BaseModel):
    id: int
    kind: str
    status: str


class AttendanceCounts(BaseModel):
    present: int
    late: int
    made_up: int
    on_leave: int
    absent: int


class AttendanceRow(BaseModel):
    user_id: int
    nickname: str
    status: str
    checked_in_at: datetime | None


class AttendanceReport(BaseModel):
    activity_id: int
    title: str
    kind: ActivityKind
    starts_at: datetime
    expected: int | None = Field(description="None for an activity open to every member")
    counts: AttendanceCounts
    attendance_rate: float | None
    rows: list[AttendanceRow]


class MyCheckinRead(BaseModel):
    activity_id: int
    title: str
    kind: ActivityKind
    status: str
    checked_in_at: datetime


class MyCheckins(BaseModel):
    items: list[MyCheckinRead]


class RequirementRead(BaseModel):
    required: int
    held: int
    met: bool


class MeetingRead(BaseModel):
    activity_id: int
    kind: ActivityKind
    title: str
    starts_at: datetime
    attendance_rate: float | None
    counts: AttendanceCounts


class BranchComplianceReport(BaseModel):
    branch_id: int
    branch: str
    period: str
    compliant: bool
    requirements: dict[str, RequirementRead]
    meetings: list[MeetingRead]


class BranchShortfall(BaseModel):
    credit_code: str
    organization: str
    branch_id: int
    branch: str
    missing: dict[str, RequirementRead]


class OrganizationWithoutBranch(BaseModel):
    credit_code: str
    organization: str
    party_members: int


class RegionComplianceReport(BaseModel):
    region_code: str
    period: str
    branches: int
    compliant_branches: int
    party_members_in_branches: int
    short: list[BranchShortfall]
    organizations_without_branch: list[OrganizationWithoutBranch]
