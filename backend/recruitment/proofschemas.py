"""Request and response schemas of volunteer service proofs (志愿服务记录证明)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VolunteerProofCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="A credit code: prove only this organization's records; null or absent: all of them",
    )


class ProofOrganization(BaseModel):
    credit_code: str
    name: str


class ProofRecord(BaseModel):
    credit_code: str
    organization: str
    title: str = Field(description="The volunteer posting's title")
    date: str = Field(description="The day it began, Beijing time (YYYY-MM-DD)")
    minutes: int = Field(description="Service recorded, in minutes")


class ProofContent(BaseModel):
    """Exactly what the token's digest covers (canonical JSON: keys sorted, no spaces, UTF-8)."""

    type: Literal["gongxin.volunteer_service_proof"]
    version: int
    volunteer: str = Field(description="The volunteer's name as the public sees it (张*)")
    organization: ProofOrganization | None = Field(
        description="The scope asked for; null: every organization"
    )
    records: list[ProofRecord]
    total_minutes: int


class VolunteerProofPublic(BaseModel):
    id: int
    token: str
    url: str = Field(description="What the proof's QR code encodes: its H5 page, verified at /api/v1/verify")
    issued_at: str
    kid: str
    digest: str = Field(description="SHA-256 of the canonical content, base64url, as signed in the token")
    content: ProofContent
    total_hours: float


class VolunteerProofRead(VolunteerProofPublic):
    status: Literal["valid", "revoked"]
    revoked_at: str | None
    revoke_reason: str


class VolunteerProofList(BaseModel):
    items: list[VolunteerProofRead]
