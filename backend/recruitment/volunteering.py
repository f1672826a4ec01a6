"""Volunteer service records (志愿服务记录): the hours each volunteer served, recorded by the organization.

The Volunteer Service Regulations (2017) oblige an organization that recruits volunteers to record
each one's service truthfully: what, when, where, how long. After a ``volunteer`` posting has begun,
its staff record hours per participant on a sheet prefilled with everyone holding a confirmed seat
(and the posting's length as the suggested hours); only those participants can be recorded, and
every write is audited with its before and after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..errors import Unprocessable
from ..partybuilding.models import Activity, Checkin
from . import proofs, service
from .models import Posting, PostingKind, ServiceRecord, Signup, SignupStatus
from .schemas import ServiceEntry


class NotVolunteer(Unprocessable):
    code = "service.not_volunteer"
    # Also what opening a check-in answers (backend/recruitment/checkin.py): say both.
    message = "仅志愿服务活动可签到和记录服务时长 / Only volunteer postings have a check-in and service hours"


class TooEarly(Unprocessable):
    code = "service.too_early"
    message = "活动开始后才能记录服务时长 / Hours can be recorded once the activity has begun"


class NotParticipants(Unprocessable):
    code = "service.not_participants"
    message = "只能为已确认报名的志愿者记录时长 / Only volunteers with a confirmed sign-up can be recorded"


def hours_of(minutes: int) -> float:
    return round(minutes / 60, 2)


async def _volunteer_posting(actor: User, posting_id: int) -> Posting:
    posting = await service.get_posting(posting_id)
    if not await service.is_staff_of(actor, posting.organization_id):
        raise service.NotOrganizationStaff()
    if posting.kind != PostingKind.VOLUNTEER:
        raise NotVolunteer()
    return posting


async def sheet(*, actor: User, posting_id: int) -> dict[str, Any]:
    """The recording sheet: every confirmed participant, prefilled, with what is recorded (its staff)."""
    posting = await _volunteer_posting(actor, posting_id)
    confirmed = set(
        await Signup.filter(posting_id=posting.id, status=SignupStatus.CONFIRMED).values_list(
            "user_id", flat=True
        )
    )
    records = {r.user_id: r for r in await ServiceRecord.filter(posting_id=posting.id)}
    people = sorted(confirmed | set(records))
    names = dict(await User.filter(id__in=people).values_list("id", "nickname")) if people else {}
    suggested = hours_of(int((posting.ends_at - posting.starts_at).total_seconds() // 60))
    # The check-in held for the posting (checkin.py), if any: who came prefills the sheet.
    found = await Activity.filter(posting_id=posting.id).first().values_list("id", flat=True)
    activity_id = None if found is None else int(found)  # type: ignore[call-overload]
    came: dict[Any, datetime] = (
        dict(await Checkin.filter(activity_id=activity_id).values_list("user_id", "checked_in_at"))
        if activity_id is not None
        else {}
    )
    return {
        "posting_id": posting.id,
        "title": posting.title,
        "suggested_hours": suggested,
        "checkin_activity_id": activity_id,
        "rows": [
            {
                "user_id": uid,
                "nickname": names.get(uid, ""),
                "signed_up": uid in confirmed,
                "hours": hours_of(records[uid].minutes) if uid in records else None,
                "note": records[uid].note if uid in records else "",
                "checked_in": None if activity_id is None else uid in came,
                "checked_in_at": came.get(uid),
                "prefill_hours": suggested
                if uid in confirmed and (activity_id is None or uid in came)
                else 0.0,
            }
            for uid in people
        ],
    }


async def record(
    *, actor: User, posting_id: int, entries: list[ServiceEntry], now: datetime | None = None
) -> dict[str, Any]:
    """Record (or correct) hours of confirmed participants once the posting has begun (its staff, audited)."""
    posting = await _volunteer_posting(actor, posting_id)
    if (now or datetime.now(UTC)) < posting.starts_at:
        raise TooEarly(details={"starts_at": posting.starts_at.isoformat()})
    wanted = {e.user_id for e in entries}
    confirmed = set(
        await Signup.filter(
            posting_id=posting.id, status=SignupStatus.CONFIRMED, user_id__in=list(wanted)
        ).values_list("user_id", flat=True)
    )
    if wanted - confirmed:
        raise NotParticipants(details={"user_ids": sorted(wanted - confirmed)})
    async with in_transaction():
        for entry in entries:
            minutes = round(entry.hours * 60)
            existing = await ServiceRecord.get_or_none(posting_id=posting.id, user_id=entry.user_id)
            before = (
                None if existing is None else {"hours": hours_of(existing.minutes), "note": existing.note}
            )
            row, _ = await ServiceRecord.update_or_create(
                posting_id=posting.id,
                user_id=entry.user_id,
                defaults={
                    "organization_id": posting.organization_id,
                    "minutes": minutes,
                    "note": entry.note,
                    "recorded_by_id": actor.id,
                },
            )
            await audit_service.record(
                actor=actor,
                action="service.record",
                target=row,
                before=before,
                after={"user_id": entry.user_id, "hours": hours_of(minutes), "note": entry.note},
                reason="记录志愿服务时长",
            )
            if existing is not None:  # a correction: proofs covering the old hours no longer hold
                await proofs.revoke_covering(
                    actor=actor, record=row, before_minutes=existing.minutes, reason="服务时长已更正"
                )
    return await sheet(actor=actor, posting_id=posting_id)


async def my_hours(*, member: User) -> dict[str, Any]:
    """The volunteer's own records, newest first, and their total."""
    rows = (
        await ServiceRecord.filter(user_id=member.id)
        .select_related("posting__organization")
        .order_by("-id")
        .limit(500)
    )
    items = [
        {
            "posting_id": r.posting_id,
            "title": r.posting.title,
            "organization": {
                "credit_code": r.posting.organization.credit_code,
                "name": r.posting.organization.name,
            },
            "place": r.posting.place,
            "starts_at": r.posting.starts_at,
            "ends_at": r.posting.ends_at,
            "hours": hours_of(r.minutes),
            "note": r.note,
        }
        for r in rows
    ]
    return {"total_hours": hours_of(sum(r.minutes for r in rows)), "items": items}
