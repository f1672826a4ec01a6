"""Schemas shared by every route: the error body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. auth.token_expired")
    message: str = Field(description="For people: Chinese, then English")
    details: Any = Field(default=None, description="Structured details, e.g. the fields that failed")


class ErrorBody(BaseModel):
    """The one shape of every 4xx and 5xx response."""

    error: ErrorDetail
