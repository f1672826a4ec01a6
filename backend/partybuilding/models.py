"""Party branches, their members, activities, check-ins, leave and make-up requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Membership(StrEnum):
    FULL = "full"  # 正式党员
    PROBATIONARY = "probationary"  # 预备党员
    ACTIVIST = "activist"  # 入党积极分子


class BranchRole(StrEnum):
    SECRETARY = "secretary"  # 支部书记
    COMMITTEE = "committee"  # 支部委员
    MEMBER = "member"


class ActivityKind(StrEnum):
    GENERAL_MEETING = "general_meeting"  # 支部党员大会
    COMMITTEE_MEETING = "committee_meeting"  # 支部委员会
    GROUP_MEETING = "group_meeting"  # 党小组会
    PARTY_LECTURE = "party_lecture"  # 党课
    THEME_DAY = "theme_day"  # 主题党日
    OTHER = "other"


class Expected(StrEnum):
    BRANCH = "branch"  # the branch members
    GROUP = "group"  # one party group of the branch
    OPEN = "open"  # any logged-in member


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    LATE = "late"
    MADE_UP = "made_up"  # 补签, approved by the organizer


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Branch(Model):
    """A party branch (党支部) set up in an organization."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="branches", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "party_branches"
        unique_together = (("organization", "name"),)


class BranchMember(Model):
    """A member of a branch, with their membership and role, and optionally a party group."""

    id = fields.BigIntField(primary_key=True)
    branch: fields.ForeignKeyRelation[Branch] = fields.ForeignKeyField(
        "models.Branch", related_name="members", on_delete=fields.CASCADE
    )
    branch_id: int
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="branch_memberships", on_delete=fields.CASCADE
    )
    user_id: int
    membership = fields.CharEnumField(Membership, max_length=16)
    role = fields.CharEnumField(BranchRole, max_length=16, default=BranchRole.MEMBER)
    group_name = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "party_branch_members"
        unique_together = (("branch", "user"),)


class Activity(Model):
    """A meeting or activity where members check in by scanning a rotating code."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="activities", on_delete=fields.CASCADE
    )
    organization_id: int
    branch: fields.ForeignKeyNullableRelation[Branch] = fields.ForeignKeyField(
        "models.Branch", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    branch_id: int | None
    kind = fields.CharEnumField(ActivityKind, max_length=32)
    title = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    starts_at: datetime = fields.DatetimeField()
    ends_at: datetime = fields.DatetimeField()
    place = fields.CharField(max_length=200)
    latitude = fields.FloatField()
    longitude = fields.FloatField()
    radius_m = fields.IntField()
    checkin_opens_at: datetime = fields.DatetimeField()
    checkin_closes_at: datetime = fields.DatetimeField()
    late_after: datetime = fields.DatetimeField()
    expected = fields.CharEnumField(Expected, max_length=16)
    expected_group = fields.CharField(max_length=64, null=True)
    # The key of the rotating check-in code: random per activity, never leaves the server.
    code_secret = fields.CharField(max_length=64)
    code_interval_s = fields.IntField(default=15)
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    # Incremented by every change to an activity. The check-in path keeps activities in a per-process
    # cache and writes a check-in only while the row is still at the revision it checked against
    # (backend/partybuilding/checkins.py), so a change reaches every process with its next scan.
    revision = fields.IntField(default=1, db_default=1)
    # Set when the activity is the check-in of a volunteer posting (backend/recruitment/checkin.py):
    # then only volunteers with a confirmed sign-up to that posting may check in, and a radius of 0
    # means the posting gave no coordinates (no geofence).
    posting_id = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "party_activities"
        indexes = (("organization_id", "starts_at"),)


class Checkin(Model):
    """The attendance of one member at one activity: unique, however many scans."""

    id = fields.BigIntField(primary_key=True)
    activity: fields.ForeignKeyRelation[Activity] = fields.ForeignKeyField(
        "models.Activity", related_name="checkins", on_delete=fields.CASCADE
    )
    activity_id: int
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="checkins", on_delete=fields.CASCADE
    )
    user_id: int
    status = fields.CharEnumField(AttendanceStatus, max_length=16)
    checked_in_at = fields.DatetimeField()
    distance_m = fields.FloatField(null=True)
    accuracy_m = fields.FloatField(null=True)

    class Meta:
        table = "party_checkins"
        unique_together = (("activity", "user"),)


class AttendanceRequest(Model):
    """A leave request (before) or a make-up check-in request (补签, after), decided by the organizer."""

    id = fields.BigIntField(primary_key=True)
    activity: fields.ForeignKeyRelation[Activity] = fields.ForeignKeyField(
        "models.Activity", related_name="requests", on_delete=fields.CASCADE
    )
    activity_id: int
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="attendance_requests", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharField(max_length=16)  # "leave" or "makeup"
    reason = fields.TextField()
    status = fields.CharEnumField(RequestStatus, max_length=16, default=RequestStatus.PENDING)
    decided_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "party_attendance_requests"
        unique_together = (("activity", "user", "kind"),)
