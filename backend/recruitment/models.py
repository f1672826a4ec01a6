"""Postings (membership drives, activities, volunteer activities), sign-ups, and organization members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class PostingKind(StrEnum):
    MEMBERSHIP = "membership"  # 会员招募
    ACTIVITY = "activity"  # 活动报名
    VOLUNTEER = "volunteer"  # 志愿服务活动


class Admission(StrEnum):
    FIRST_COME = "first_come"
    APPROVAL = "approval"


class PostingStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"  # WeChat's check said "review": held until a platform admin decides
    OPEN = "open"
    CLOSED = "closed"  # sign-ups stopped by its staff
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # a platform admin refused the text held for review


PUBLIC_STATUSES = (PostingStatus.OPEN, PostingStatus.CLOSED, PostingStatus.CANCELLED)


class SignupStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    PENDING = "pending"  # waiting for the staff's approval
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # by the member


ACTIVE_SIGNUP = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.PENDING)


class MemberStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class Posting(Model):
    """One posting: text, time, place, questions and capacity fixed at creation, status and counters kept.

    The status and the two counters change only while the row is locked (``seats.py``).
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="postings", on_delete=fields.RESTRICT
    )
    organization_id: int
    kind = fields.CharEnumField(PostingKind, max_length=16)
    title = fields.CharField(max_length=100)
    body = fields.TextField()
    images: list[str] = fields.JSONField(default=list)
    starts_at: datetime = fields.DatetimeField()
    ends_at: datetime = fields.DatetimeField()
    place = fields.CharField(max_length=200)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    capacity = fields.IntField(null=True)  # None: no limit
    signup_deadline: datetime = fields.DatetimeField()
    admission = fields.CharEnumField(Admission, max_length=16)
    questions: list[dict[str, Any]] = fields.JSONField(default=list)
    status = fields.CharEnumField(PostingStatus, max_length=16, default=PostingStatus.DRAFT)
    status_reason = fields.TextField(default="")
    # Seats taken (confirmed sign-ups) and the waitlist's length: kept in the same transaction as
    # every sign-up change, under the row's lock, so the checks read them instead of counting.
    confirmed_count = fields.IntField(default=0)
    waitlist_count = fields.IntField(default=0)
    created_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    published_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "recruitment_postings"
        indexes = (("status", "id"), ("organization_id", "id"))


class Signup(Model):
    """One sign-up of one person to one posting, with its status and waitlist position.

    ``active_user_id`` is the id of the user while the sign-up is active (confirmed, waitlisted, pending)
    and NULL afterwards. The unique (posting, active_user_id) allows one active sign-up per person and
    any number of past ones, on PostgreSQL and SQLite alike (NULLs never collide).
    """

    id = fields.BigIntField(primary_key=True)
    posting: fields.ForeignKeyRelation[Posting] = fields.ForeignKeyField(
        "models.Posting", related_name="signups", on_delete=fields.CASCADE
    )
    posting_id: int
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="signups", on_delete=fields.CASCADE
    )
    user_id: int
    active_user_id = fields.BigIntField(null=True)
    status = fields.CharEnumField(SignupStatus, max_length=16)
    # 1..n among the posting's waitlisted sign-ups, first come first; None unless waitlisted.
    waitlist_position = fields.IntField(null=True)
    # Answers by question id; a phone answer is stored encrypted ({"encrypted": ..., "masked": ...}).
    answers: dict[str, Any] = fields.JSONField(default=dict)
    decision_reason = fields.TextField(default="")
    decided_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "recruitment_signups"
        unique_together = (("posting", "active_user_id"),)
        indexes = (("posting_id", "status", "waitlist_position"), ("user_id", "id"))


class Member(Model):
    """A member of an organization (会员), made by an approved sign-up to a membership posting."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="members", on_delete=fields.RESTRICT
    )
    organization_id: int
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    member_no = fields.IntField()  # 1, 2, 3 ... per organization, never reused
    joined_on = fields.DateField()
    status = fields.CharEnumField(MemberStatus, max_length=16, default=MemberStatus.ACTIVE)
    left_on = fields.DateField(null=True)
    signup_id = fields.BigIntField(null=True)  # the sign-up that made them a member
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "recruitment_members"
        unique_together = (("organization", "user"), ("organization", "member_no"))


class MemberCounter(Model):
    """The last member number an organization gave: one conditional upsert hands out the next."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField(unique=True)
    last_no = fields.IntField(default=0)

    class Meta:
        table = "recruitment_member_counters"


class ServiceRecord(Model):
    """Hours one volunteer served at one volunteer posting (志愿服务记录), as recorded by its organization."""

    id = fields.BigIntField(primary_key=True)
    posting: fields.ForeignKeyRelation[Posting] = fields.ForeignKeyField(
        "models.Posting", related_name="service_records", on_delete=fields.RESTRICT
    )
    posting_id: int
    organization_id = fields.BigIntField(db_index=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="service_records", on_delete=fields.CASCADE
    )
    user_id: int
    minutes = fields.IntField()
    note = fields.CharField(max_length=200, default="")
    recorded_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "recruitment_service_records"
        unique_together = (("posting", "user"),)
        indexes = (("user_id", "id"),)


class ImageCheck(Model):
    """The WeChat media check of one image of a posting, by its trace_id, and the verdict pushed back.

    The verdict may arrive before the publishing transaction that records the submission commits,
    so either side inserts the row by trace_id and fills in its own columns.
    """

    id = fields.BigIntField(primary_key=True)
    trace_id = fields.CharField(max_length=64, unique=True)
    posting_id = fields.BigIntField(null=True, db_index=True)
    url = fields.CharField(max_length=1000, default="")
    position = fields.IntField(default=0)
    suggest = fields.CharField(max_length=16, null=True)  # pass, review, risky; null until pushed
    label = fields.IntField(null=True)
    checked_at = fields.DatetimeField(null=True)
    # A platform admin's decision on an image WeChat held for review (approved, rejected); null before.
    decision = fields.CharField(max_length=16, null=True)
    decided_by_id = fields.BigIntField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "recruitment_image_checks"
