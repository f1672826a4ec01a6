"""The check-in of a volunteer posting: the party-building rotating-code check-in, reused.

Opening it gives the posting one party-building ``Activity`` linked by ``Activity.posting_id``;
everything else is the party-building machinery unchanged: the organizer's phone shows the rotating
code (``GET /api/v1/activities/{id}/checkin-code``), volunteers scan it
(``POST /api/v1/activities/{id}/checkins``), and ``backend/partybuilding/checkins.py`` writes each
check-in exactly once with its ``checkin.recorded`` event in the same statement. For a linked
activity that statement admits only a volunteer holding a confirmed seat on the posting (checked in
the same SQL as the write, so a cancellation cannot slip in between), and the geofence is the
posting's coordinates, or none when it has none (radius 0). Who checked in prefills the hours sheet
(``volunteering.sheet``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..partybuilding.models import Activity, ActivityKind, Expected
from . import seats, service
from .models import PostingStatus
from .schemas import PostingCheckinOpen
from .volunteering import _volunteer_posting

OPENABLE = (PostingStatus.OPEN, PostingStatus.CLOSED)


async def open_checkin(
    *, actor: User, posting_id: int, data: PostingCheckinOpen, default_interval_s: int
) -> tuple[Activity, bool]:
    """The posting's check-in, opened now or earlier (its staff, audited); whether it was opened now."""
    posting = await _volunteer_posting(actor, posting_id)
    if posting.status not in OPENABLE:
        raise service.BadPostingStatus(details={"status": posting.status, "to": "checkin"})
    geofenced = posting.latitude is not None and posting.longitude is not None
    async with in_transaction() as connection:
        # Under the posting's lock: two staff opening it at once make one activity.
        await seats.lock(connection, [posting.id])
        existing = await Activity.get_or_none(posting_id=posting.id)
        if existing is not None:
            return existing, False
        activity = await Activity.create(
            organization_id=posting.organization_id,
            branch=None,
            kind=ActivityKind.OTHER,
            title=posting.title,
            description="志愿服务签到",
            starts_at=posting.starts_at,
            ends_at=posting.ends_at,
            place=posting.place,
            # Without coordinates there is no geofence: radius 0 says so (the columns are NOT NULL).
            latitude=posting.latitude if geofenced else 0.0,
            longitude=posting.longitude if geofenced else 0.0,
            radius_m=data.radius_m if geofenced else 0,
            checkin_opens_at=posting.starts_at - timedelta(minutes=data.opens_minutes_before),
            checkin_closes_at=posting.ends_at,
            late_after=posting.starts_at + timedelta(minutes=data.late_after_minutes),
            expected=Expected.OPEN,
            code_secret=secrets.token_urlsafe(32),
            code_interval_s=data.code_interval_s or default_interval_s,
            created_by_id=actor.id,
            posting_id=posting.id,
        )
        await audit_service.record(
            actor=actor,
            action="posting.checkin_open",
            target=posting,
            before=None,
            after={"activity_id": activity.id, "geofence": geofenced, "radius_m": activity.radius_m},
            reason="开启志愿服务签到",
        )
    return activity, True


def checkin_read(activity: Activity) -> dict[str, Any]:
    return {
        "posting_id": activity.posting_id,
        "activity_id": activity.id,
        "opens_at": activity.checkin_opens_at,
        "closes_at": activity.checkin_closes_at,
        "late_after": activity.late_after,
        "geofence": activity.radius_m > 0,
        "radius_m": activity.radius_m,
        "code_interval_s": activity.code_interval_s,
        "code_path": f"/api/v1/activities/{activity.id}/checkin-code",
        "checkin_path": f"/api/v1/activities/{activity.id}/checkins",
    }
