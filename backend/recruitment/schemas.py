"""Request and response schemas of recruitment and sign-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ..registry.credit_code import CREDIT_CODE_PATTERN
from .models import Admission, PostingKind, PostingStatus, SignupStatus

QUESTION_ID = r"^[A-Za-z0-9_-]{1,32}$"
MAX_QUESTIONS = 30
MAX_TEXT_ANSWER = 2000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Question(Strict):
    id: str = Field(pattern=QUESTION_ID, description="Unique within the posting; the answers' key")
    label: str = Field(min_length=1, max_length=100)
    required: bool = False


class TextQuestion(_Question):
    kind: Literal["text"]
    max_length: int = Field(default=200, ge=1, le=MAX_TEXT_ANSWER)


class ChoiceQuestion(_Question):
    kind: Literal["single_choice", "multiple_choice"]
    options: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _distinct_options(self) -> ChoiceQuestion:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must be distinct")
        return self


class NumberQuestion(_Question):
    kind: Literal["number"]
    # Finite only: the JSON parser takes NaN and Infinity, which would be stored as a bound that no
    # answer is ever compared against (and shown as null).
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _range_in_order(self) -> NumberQuestion:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max is below min")
        return self


class DateQuestion(_Question):
    kind: Literal["date"]


class PhoneQuestion(_Question):
    kind: Literal["phone"]


Question = Annotated[
    TextQuestion | ChoiceQuestion | NumberQuestion | DateQuestion | PhoneQuestion, Field(discriminator="kind")
]


class PostingCreate(Strict):
    kind: PostingKind
    title: str = Field(min_length=2, max_length=100)
    body: str = Field(min_length=1, max_length=5000)
    images: list[Annotated[str, Field(pattern=r"^https://", max_length=500)]] = Field(
        default_factory=list, max_length=9, description="https URLs"
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str = Field(min_length=1, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=1, le=1_000_000, description="null: no limit")
    signup_deadline: AwareDatetime
    admission: Admission = Admission.FIRST_COME
    questions: list[Question] = Field(default_factory=list, max_length=MAX_QUESTIONS)

    @model_validator(mode="after")
    def _consistent(self) -> PostingCreate:
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        if self.signup_deadline > self.ends_at:
            raise ValueError("signup_deadline is after ends_at")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be distinct")
        return self


class Reason(Strict):
    reason: str = Field(min_length=2, max_length=500, description="Why; shown to everyone signed up")


class PostingDecision(Strict):
    approve: bool
    reason: str = Field(min_length=2, max_length=500)


class ImageDecision(Strict):
    approve: bool = Field(description="true: show the image; false: keep it withheld for good")
    reason: str = Field(min_length=2, max_length=500)


class ImageCheckRead(BaseModel):
    id: int
    posting_id: int | None
    url: str
    position: int = Field(description="The image's place among the posting's images")
    suggest: str | None = Field(description="WeChat's verdict: pass, review, risky; null until it arrives")
    label: int | None
    checked_at: datetime | None
    decision: str | None = Field(description="approved or rejected by a platform admin; null before")
    decision_reason: str
    decided_at: datetime | None


class ImageCheckPage(BaseModel):
    items: list[ImageCheckRead]


class SignupCreate(Strict):
    answers: dict[str, Any] = Field(default_factory=dict, description="Answer by question id")


class SignupDecision(Strict):
    decision: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=500)


class PostingQuery(Strict):
    region: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="A region and what lies below"
    )
    org: str | None = Field(
        default=None, pattern=CREDIT_CODE_PATTERN, description="Credit code (18 letters and digits)"
    )
    kind: PostingKind | None = None
    status: Literal["open", "closed", "cancelled"] | None = None
    cursor: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="next_cursor of the previous page"
    )


class ExportQuery(Strict):
    format: Literal["json", "csv", "xlsx"] = Field(default="json", description="json, or a file to download")


# --- answers ---------------------------------------------------------------------------------------


class OrganizationRef(BaseModel):
    credit_code: str
    name: str


class PostingRead(BaseModel):
    id: int
    organization: OrganizationRef
    kind: PostingKind
    title: str
    body: str
    images: list[str] = Field(description="The images WeChat's media check passed (a draft: all)")
    images_withheld: int = Field(
        default=0, description="Images not shown: their check is pending, or it did not pass"
    )
    starts_at: datetime
    ends_at: datetime
    place: str
    latitude: float | None
    longitude: float | None
    capacity: int | None
    signup_deadline: datetime
    admission: Admission
    questions: list[dict[str, Any]]
    status: PostingStatus
    status_reason: str
    seats_left: int | None = Field(description="null: no limit")
    waitlist_length: int
    published_at: datetime | None


class PostingPage(BaseModel):
    items: list[PostingRead]
    next_cursor: int | None


class SignupRead(BaseModel):
    id: int
    posting_id: int
    status: SignupStatus
    waitlist_position: int | None


class MySignup(SignupRead):
    answers: dict[str, Any] = Field(description="The member's answers; phone numbers masked")
    posting_title: str
    posting_status: PostingStatus
    starts_at: datetime
    created_at: datetime


class MySignups(BaseModel):
    items: list[MySignup]


class RosterRow(BaseModel):
    id: int
    user_id: int
    nickname: str
    status: SignupStatus
    waitlist_position: int | None
    answers: dict[str, Any] = Field(description="Phone answers in full: the roster is for the staff only")
    created_at: datetime


class Roster(BaseModel):
    posting_id: int
    capacity: int | None
    confirmed: int
    waitlisted: int
    items: list[RosterRow]


class MemberRead(BaseModel):
    organization: OrganizationRef
    user_id: int
    nickname: str
    member_no: int
    joined_on: str
    status: str
    left_on: str | None


class MemberList(BaseModel):
    items: list[MemberRead]


# --- volunteer service records -------------------------------------------------------------------------


class ServiceEntry(Strict):
    user_id: int = Field(ge=1, le=2**63 - 1)
    # At least one quarter: multiple_of tolerates a float's rounding, so 1e-10 passed it and gt=0, and
    # was stored as 0 minutes.
    hours: float = Field(ge=0.25, le=24, multiple_of=0.25, description="Hours served, in quarters of an hour")
    note: str = Field(default="", max_length=200)


class ServiceRecordsSet(Strict):
    records: list[ServiceEntry] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_record_per_volunteer(self) -> ServiceRecordsSet:
        # Two rows for one volunteer would leave the later silently winning (and audited twice).
        ids = [r.user_id for r in self.records]
        if len(set(ids)) != len(ids):
            raise ValueError("each user_id may appear once")
        return self


class ServiceSheetRow(BaseModel):
    user_id: int
    nickname: str
    signed_up: bool = Field(description="A confirmed sign-up to the posting")
    hours: float | None = Field(description="Recorded hours; null: not recorded yet")
    note: str
    checked_in: bool | None = Field(
        default=None, description="Checked in by scanning the code; null: the posting held no check-in"
    )
    checked_in_at: datetime | None = None
    prefill_hours: float = Field(
        default=0, description="The hours to prefill: the posting's length, 0 for who did not check in"
    )


class ServiceSheet(BaseModel):
    posting_id: int
    title: str
    suggested_hours: float = Field(description="The posting's length, to prefill each volunteer's hours")
    checkin_activity_id: int | None = Field(
        default=None, description="The check-in held for the posting (POST .../checkin), if any"
    )
    rows: list[ServiceSheetRow]


class PostingCheckinOpen(Strict):
    radius_m: int = Field(
        default=200, ge=10, le=5000, description="Geofence around the posting's coordinates (if it has any)"
    )
    opens_minutes_before: int = Field(default=30, ge=0, le=24 * 60)
    late_after_minutes: int = Field(default=10, ge=0, le=24 * 60, description="After the start")
    code_interval_s: int | None = Field(default=None, ge=5, le=300)


class PostingCheckinRead(BaseModel):
    posting_id: int
    activity_id: int = Field(description="The party-building check-in activity the codes belong to")
    opens_at: datetime
    closes_at: datetime
    late_after: datetime
    geofence: bool = Field(description="False when the posting has no coordinates")
    radius_m: int
    code_interval_s: int
    code_path: str = Field(description="Where the organizer's phone gets the rotating code")
    checkin_path: str = Field(description="Where a volunteer sends the scanned code")


class VolunteerRecord(BaseModel):
    posting_id: int
    title: str
    organization: OrganizationRef
    place: str
    starts_at: datetime
    ends_at: datetime
    hours: float
    note: str


class VolunteerHours(BaseModel):
    total_hours: float
    items: list[VolunteerRecord]
