"""Request and response schemas of donation disclosure."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ..registry.credit_code import CREDIT_CODE_PATTERN
from ..spreadsheet import MAX_FEN
from .models import DonorDisplay, ProjectKind, ProjectStatus

# Expenditure categories, with the labels the disclosure page and the filing export show.
CATEGORIES: dict[str, str] = {
    "direct_aid": "直接资助",
    "goods": "物资采购",
    "services": "服务采购",
    "operations": "项目执行费用",
    "management": "管理费用",
    "fundraising_cost": "募捐成本",
    "other": "其他",
}
Reason = Field(min_length=2, max_length=1000, description="Why: recorded in the audit trail")
Channel = Field(pattern=r"^[a-z][a-z0-9_.-]{0,31}$", description="Payment channel, e.g. wechat_pay, bank")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectPlan(Strict):
    purpose: str = Field(min_length=1, max_length=2000)
    period_start: date
    period_end: date
    region: str = Field(min_length=1, max_length=200)
    beneficiaries: str = Field(min_length=1, max_length=1000)
    use_of_funds: str = Field(min_length=1, max_length=2000)
    costs: str = Field(min_length=1, max_length=2000, description="Costs and how they are paid")
    leftover_funds: str = Field(min_length=1, max_length=2000, description="How leftover funds are handled")

    @model_validator(mode="after")
    def _period_in_order(self) -> ProjectPlan:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class ProjectCreate(Strict):
    title: str = Field(min_length=2, max_length=200)
    kind: ProjectKind
    filing_number: str | None = Field(
        default=None, max_length=64, description="备案编号; required for a public campaign"
    )
    plan: ProjectPlan
    target_fen: int = Field(gt=0, le=MAX_FEN)


class ProjectStatusChange(Strict):
    status: ProjectStatus
    reason: str = Reason


class ProgressCreate(Strict):
    text: str = Field(min_length=1, max_length=5000)
    image_urls: list[str] = Field(default_factory=list, max_length=9)

    @model_validator(mode="after")
    def _https_images(self) -> ProgressCreate:
        for url in self.image_urls:
            if not url.startswith("https://") or len(url) > 500:
                raise ValueError("image_urls must be https URLs of at most 500 characters")
        return self


class ProgressDecision(Strict):
    approve: bool
    reason: str = Reason


class DonationCreate(Strict):
    amount_fen: int = Field(gt=0, le=MAX_FEN)
    received_at: AwareDatetime
    channel: str = Channel
    external_ref: str = Field(min_length=1, max_length=128, description="The platform's serial number")
    donor_name: str | None = Field(default=None, max_length=64)
    donor_display: DonorDisplay = DonorDisplay.MASKED

    @model_validator(mode="after")
    def _named_unless_anonymous(self) -> DonationCreate:
        if self.donor_display != DonorDisplay.ANONYMOUS and not (self.donor_name or "").strip():
            raise ValueError("donor_name is required unless donor_display is anonymous")
        return self


class ExpenditureCreate(Strict):
    amount_fen: int = Field(gt=0, le=MAX_FEN)
    category: str = Field(description="One of: " + ", ".join(CATEGORIES))
    payee: str = Field(min_length=1, max_length=200)
    paid_on: date
    purpose: str = Field(min_length=1, max_length=2000)
    receipt_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the receipt document")
    receipt_url: str = Field(pattern=r"^https://", max_length=500)
    advance: bool = Field(default=False, description="Paid in advance of donations, beyond the balance")
    explanation: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _known_category_and_explained_advance(self) -> ExpenditureCreate:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        if self.advance and not (self.explanation or "").strip():
            raise ValueError("an advance needs an explanation")
        return self


class CorrectionCreate(Strict):
    reverses: int = Field(ge=1, lt=2**63, description="The id of the entry this one reverses")
    explanation: str = Field(min_length=2, max_length=2000, description="Published with the correction")

    @model_validator(mode="after")
    def _explained(self) -> CorrectionCreate:
        # Stored stripped and published: blanks around a word do not make an explanation.
        if len(self.explanation.strip()) < 2:
            raise ValueError("a correction needs an explanation of at least 2 characters")
        return self


class DisclosureCreate(Strict):
    item: str = Field(min_length=3, max_length=96, description="The calendar item's key")
    title: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=1, max_length=20000)
    url: str | None = Field(default=None, pattern=r"^https://", max_length=500)


class ProjectQuery(Strict):
    org: str | None = Field(
        default=None, pattern=CREDIT_CODE_PATTERN, description="Credit code (18 letters and digits)"
    )
    status: ProjectStatus | None = None
    cursor: int | None = Field(default=None, ge=1, lt=2**63)


class CursorQuery(Strict):
    cursor: int | None = Field(default=None, ge=1, lt=2**63)


class ImportQuery(Strict):
    channel: str = Channel
    apply: bool = False
    filename: str = Field(default="import.csv", max_length=200)


class ExportQuery(Strict):
    format: Literal["xlsx", "csv"] = Field(default="xlsx", description="xlsx or csv")


# --- responses (documentation of what the routes write) ----------------------------------------


class EntryRead(BaseModel):
    id: int
    project_id: int
    kind: str
    amount_fen: int
    recorded_at: str
    received_at: str | None = None
    channel: str | None = None
    donor: str | None = None
    donor_display: str | None = None
    category: str | None = None
    category_label: str | None = None
    payee: str | None = None
    paid_on: str | None = None
    purpose: str | None = None
    receipt_sha256: str | None = None
    receipt_url: str | None = None
    advance: bool | None = None
    explanation: str | None = None
    reverses: int | None = None
    reversed_by: int | None = None


class DonationRecorded(EntryRead):
    receipt_code: str


class EntryPage(BaseModel):
    items: list[EntryRead]
    next_cursor: int | None


class ProjectSummary(BaseModel):
    id: int
    title: str
    kind: ProjectKind
    status: ProjectStatus
    target_fen: int
    raised_fen: int
    spent_fen: int
    balance_fen: int
    page_url: str


class ProjectWritten(BaseModel):
    """What a project write answers (the public view is GET /projects/{id})."""

    id: int
    title: str
    kind: ProjectKind
    status: ProjectStatus
    filing_number: str | None
    target_fen: int
    page_url: str


class ProgressRead(BaseModel):
    id: int
    project_id: int
    status: str  # published, held (for review), rejected
    published_at: str | None


class DisclosureRead(BaseModel):
    id: int
    item: str
    published_at: str


class CategorySpending(BaseModel):
    category: str
    label: str
    spent_fen: int


class MonthTotals(BaseModel):
    month: str = Field(description="YYYY-MM")
    raised_fen: int
    spent_fen: int


class ProgressPublished(BaseModel):
    id: int
    text: str
    image_urls: list[str]
    published_at: str


class ProjectRead(BaseModel):
    id: int
    credit_code: str
    organization: dict[str, str]
    title: str
    kind: ProjectKind
    kind_label: str
    filing_number: str | None
    plan: ProjectPlan
    target_fen: int
    status: ProjectStatus
    status_label: str
    started_on: str | None
    closed_on: str | None
    raised_fen: int
    spent_fen: int
    balance_fen: int
    donor_count: int
    entry_count: int
    by_category: list[CategorySpending]
    by_month: list[MonthTotals]
    progress: list[ProgressPublished]


class ProjectPage(BaseModel):
    items: list[ProjectSummary]
    next_cursor: int | None


class ReceiptRead(BaseModel):
    receipt_code: str
    entry: EntryRead
    project: ProjectSummary
    reversed: bool
    log_index: int | None = Field(description="The donation's index in the organization's transparency log")
    leaf: str | None = Field(description="Base64 of the exact bytes the log hashed for it")
    inclusion_proof: list[str] | None = Field(
        description="Base64 hashes proving the leaf is in the checkpoint (null for under a second)"
    )
    checkpoint: str | None = Field(description="The signed checkpoint (C2SP note) it is proven against")


class CalendarItem(BaseModel):
    key: str
    kind: str
    label: str
    due_on: str
    status: str  # due, done, overdue
    done_on: str | None
    late: bool
    project_id: int | None


class CalendarRead(BaseModel):
    credit_code: str
    today: str
    items: list[CalendarItem]


class ImportReport(BaseModel):
    applied: bool
    rows: int
    created: int
    unchanged: int
    conflicts: int
    amount_fen: int
    errors: list[dict[str, Any]] = Field(description="The first 200 row errors")
    errors_omitted: int = Field(description="Row errors beyond those listed")
    ignored_columns: list[str]
    encoding: str
