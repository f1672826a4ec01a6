"""What the log's routes take and answer (the OpenAPI document is derived from these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_INDEX = 2**62  # far beyond any log, within a 64-bit column


class CheckpointQuery(BaseModel):
    size: int | None = Field(default=None, ge=1, le=MAX_INDEX, description="The tree size it was signed at")


class EntriesQuery(BaseModel):
    start: int = Field(default=0, ge=0, le=MAX_INDEX, description="The first index")
    end: int | None = Field(
        default=None, ge=0, le=MAX_INDEX, description="One past the last index; at most 1,000 a page"
    )


class LeavesQuery(BaseModel):
    start: int = Field(default=0, ge=0, le=MAX_INDEX, description="The first index")
    end: int | None = Field(
        default=None, ge=0, le=MAX_INDEX, description="One past the last index; at most 16,384 a page"
    )


class InclusionQuery(BaseModel):
    index: int = Field(ge=0, le=MAX_INDEX, description="The leaf's index")
    size: int = Field(ge=1, le=MAX_INDEX, description="The tree size of a signed checkpoint")


class ConsistencyQuery(BaseModel):
    first: int = Field(ge=1, le=MAX_INDEX, description="The smaller tree size")
    second: int = Field(ge=1, le=MAX_INDEX, description="The larger tree size, of a signed checkpoint")


class ProofRead(BaseModel):
    hashes: list[str] = Field(description="Base64 SHA-256 hashes, in RFC 6962 order")


class LogEntryRead(BaseModel):
    """A leaf: its index, the exact bytes hashed (base64), and those bytes' JSON fields beside them."""

    model_config = ConfigDict(extra="allow")
    index: int
    leaf: str
    v: int
    type: str


class EntriesRead(BaseModel):
    entries: list[LogEntryRead]
