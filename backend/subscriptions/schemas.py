"""Request and response shapes of the subscription and notification routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A subscribe-message template id as WeChat issues them (43 characters of letters, digits, - and _).
TemplateId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class SubscriptionAnswers(BaseModel):
    """What ``wx.requestSubscribeMessage`` answered: the template ids the user accepted and rejected."""

    model_config = ConfigDict(extra="forbid")

    accepted: list[TemplateId] = Field(default_factory=list, max_length=20)
    rejected: list[TemplateId] = Field(default_factory=list, max_length=20)


class SubscriptionUpdate(BaseModel):
    """Turn one kind of message on or off."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


class SubscriptionRead(BaseModel):
    template_id: str
    event: str = Field(description="The outbox event kind, e.g. checkin.recorded")
    remaining: int = Field(description="One-time consents left: messages the backend may still send")
    enabled: bool


class SubscriptionList(BaseModel):
    items: list[SubscriptionRead]


class DeadLetterQuery(BaseModel):
    """Paging of the dead letters, newest first."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500, description="How many, at most")
    before_id: int | None = Field(
        default=None, ge=1, lt=2**63, description="The next_before_id of the previous page"
    )


class DeadLetterRead(BaseModel):
    id: int
    event_id: int
    event: str
    template_id: str
    user_id: int
    attempts: int
    reason: str | None
    last_error: str | None
    created_at: datetime
    dead_at: datetime | None


class DeadLetterList(BaseModel):
    items: list[DeadLetterRead]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null at the end")


class ReplayRequest(BaseModel):
    """Dead letters to send again: the ids given, or every one when ``ids`` is null."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        default=None, min_length=1, max_length=1000
    )
    reason: str = Field(min_length=1, max_length=500)


class ReplayResult(BaseModel):
    replayed: int = Field(description="Dead letters put back in the queue")
    not_dead: list[int] = Field(description="Ids given that are not (or no longer) dead letters")


class TemplateCounts(BaseModel):
    template_id: str
    event: str
    sent: int
    skipped: int
    failed: int
    retried: int = Field(description="Attempts scheduled again after a transient failure")
    dead_lettered: int = Field(description="Times a message went to the dead letters")
    dead: int = Field(description="Dead letters now, waiting for an admin")
    pending: int = Field(description="Waiting for their (next) attempt or being sent now")


class NotificationStats(BaseModel):
    templates: list[TemplateCounts]
