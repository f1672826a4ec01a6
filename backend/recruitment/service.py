"""Postings, sign-ups, staff decisions and membership: the rules and the transactions.

Every function checks who may do it first (the organization's staff, a platform admin, the member
themselves), then applies the rules in one transaction with the audit entry (staff and admin
writes) and the outbox event of every state change. Seat and waitlist changes go through
``seats.py`` under the posting's lock; new sign-ups through ``signups.py`` (batched).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from .. import ratelimit
from ..accounts.models import StaffRole, User
from ..accounts.permissions import NotOrganizationStaff, require_platform_admin
from ..audit import service as audit_service
from ..cache import Cache
from ..content_security import TextChecker, Verdict
from ..content_security import check as check_content
from ..crypto import PersonalDataCipher
from ..errors import Conflict, NotFound, TooManyRequests
from ..events import kinds
from ..events.models import OutboxEvent
from ..registry import service as registry_service
from ..registry.models import Organization
from ..registry.regions import parse_region, subtree_filter
from . import answers as answers_rules
from . import images, reminders, seats, signups
from .models import (
    ACTIVE_SIGNUP,
    PUBLIC_STATUSES,
    Member,
    MemberStatus,
    Posting,
    PostingStatus,
    Signup,
    SignupStatus,
)
from .schemas import PostingCreate, PostingQuery

PAGE_SIZE = 20
PostingNotFound = signups.PostingNotFound


class BadPostingStatus(Conflict):
    code = "posting.bad_status"
    message = "该招募当前状态不能执行此操作 / The posting cannot do this in its current status"


class SignupNotFound(NotFound):
    code = "signup.not_found"
    message = "未找到报名记录 / No such sign-up"


class SignupDecided(Conflict):
    code = "signup.already_decided"
    message = "该报名已处理 / This sign-up has already been decided"


class NotAMember(NotFound):
    code = "member.not_found"
    message = "您不是该组织的会员 / You are not a member of this organization"


class SignupRateLimited(TooManyRequests):
    code = "signup.rate_limited"
    message = "报名操作过于频繁，请稍后再试 / Too many sign-ups; try again later"


class PostingRateLimited(TooManyRequests):
    code = "posting.rate_limited"
    message = "发布过于频繁，请稍后再试 / Too many postings; try again later"


# --- who may do what ----------------------------------------------------------------------------------


async def require_any_staff(user: User) -> None:
    """Allow the staff of any organization (the role, before a body is read); services check which."""
    if not await StaffRole.filter(user_id=user.id).exists():
        raise NotOrganizationStaff()


async def require_staff_or_admin(user: User) -> None:
    """Allow organization staff and platform admins (posting decisions, cancellation)."""
    if not user.is_platform_admin:
        await require_any_staff(user)


async def is_staff_of(user: User, organization_id: int) -> bool:
    return await StaffRole.filter(user_id=user.id, organization_id=organization_id).exists()


async def _require_staff_of(user: User, organization_id: int) -> None:
    if not await is_staff_of(user, organization_id):
        raise NotOrganizationStaff()


async def get_posting(posting_id: int) -> Posting:
    posting = await Posting.get_or_none(id=posting_id).select_related("organization")
    if posting is None:
        raise PostingNotFound(details={"posting_id": posting_id})
    await images.attach([posting])
    return posting


# --- postings -------------------------------------------------------------------------------------------


async def create_posting(
    *, actor: User, code: str, data: PostingCreate, cache: Cache, limit_per_hour: int
) -> Posting:
    """A new posting of the organization, as a draft (its staff)."""
    organization = await registry_service.get_organization(code=code)
    await _require_staff_of(actor, organization.id)
    await ratelimit.enforce(
        cache=cache,
        key=f"posting:{actor.id}",
        limit=limit_per_hour,
        window_seconds=3600,
        error=PostingRateLimited,
    )
    async with in_transaction():
        posting = await Posting.create(
            organization=organization,
            kind=data.kind,
            title=data.title.strip(),
            body=data.body,
            images=list(data.images),
            starts_at=data.starts_at.astimezone(UTC),
            ends_at=data.ends_at.astimezone(UTC),
            place=data.place,
            latitude=data.latitude,
            longitude=data.longitude,
            capacity=data.capacity,
            signup_deadline=data.signup_deadline.astimezone(UTC),
            admission=data.admission,
            questions=[q.model_dump(mode="json", exclude_none=True) for q in data.questions],
            status=PostingStatus.DRAFT,
            created_by_id=actor.id,
        )
        await audit_service.record(
            actor=actor,
            action="posting.create",
            target=posting,
            before=None,
            after={"title": posting.title, "kind": posting.kind, "capacity": posting.capacity},
            reason="创建招募",
        )
    posting.organization = organization
    return posting


async def _move(
    posting: Posting, *, to: PostingStatus, allowed: tuple[PostingStatus, ...], **values: Any
) -> None:
    """Change the status only from an allowed one (conditional: two at once cannot both)."""
    if posting.status not in allowed or not await Posting.filter(id=posting.id, status__in=allowed).update(
        status=to, updated_at=datetime.now(UTC), **values
    ):
        raise BadPostingStatus(details={"status": posting.status, "to": to})


async def publish(
    *,
    actor: User,
    posting_id: int,
    wechat: TextChecker,
    reminder_before: timedelta = reminders.DEFAULT_BEFORE,
) -> Posting:
    """Publish a draft once WeChat's check passes its text; held for an admin on ``review`` (its staff)."""
    posting = await get_posting(posting_id)
    await _require_staff_of(actor, posting.organization_id)
    if posting.status != PostingStatus.DRAFT:
        raise BadPostingStatus(details={"status": posting.status, "to": PostingStatus.OPEN})
    verdict = await check_content(wechat=wechat, openid=actor.openid, texts=[posting.title, posting.body])
    to = PostingStatus.OPEN if verdict == Verdict.PASS else PostingStatus.IN_REVIEW
    # Each image goes to WeChat's asynchronous check; it is shown once its verdict passes (images.py).
    trace_ids = await images.submit(wechat=wechat, openid=actor.openid, posting=posting)
    async with in_transaction():
        await images.record_submitted(posting, trace_ids)
        values: dict[str, Any] = {"published_at": datetime.now(UTC)} if to == PostingStatus.OPEN else {}
        await _move(posting, to=to, allowed=(PostingStatus.DRAFT,), **values)
        if to == PostingStatus.OPEN:
            await reminders.schedule(posting, posting.organization.name, before=reminder_before)
        await audit_service.record(
            actor=actor,
            action="posting.publish",
            target=posting,
            before={"status": posting.status},
            after={"status": to, "content_check": verdict},
            reason="发布招募",
        )
    return await get_posting(posting_id)


async def decide_posting(
    *,
    actor: User,
    posting_id: int,
    approve: bool,
    reason: str,
    reminder_before: timedelta = reminders.DEFAULT_BEFORE,
) -> Posting:
    """A platform admin opens or rejects a posting held for review."""
    require_platform_admin(actor)
    posting = await get_posting(posting_id)
    to = PostingStatus.OPEN if approve else PostingStatus.REJECTED
    async with in_transaction():
        values: dict[str, Any] = {"published_at": datetime.now(UTC)} if approve else {"status_reason": reason}
        await _move(posting, to=to, allowed=(PostingStatus.IN_REVIEW,), **values)
        if approve:
            await reminders.schedule(posting, posting.organization.name, before=reminder_before)
        await audit_service.record(
            actor=actor,
            action="posting.review_decision",
            target=posting,
            before={"status": posting.status},
            after={"status": to},
            reason=reason,
        )
    return await get_posting(posting_id)


async def close(*, actor: User, posting_id: int, reason: str) -> Posting:
    """Stop taking sign-ups (its staff); who signed up keeps their place."""
    posting = await get_posting(posting_id)
    await _require_staff_of(actor, posting.organization_id)
    async with in_transaction() as connection:
        await seats.lock(connection, [posting.id])
        await _move(posting, to=PostingStatus.CLOSED, allowed=(PostingStatus.OPEN,), status_reason=reason)
        await audit_service.record(
            actor=actor,
            action="posting.close",
            target=posting,
            before={"status": posting.status},
            after={"status": PostingStatus.CLOSED},
            reason=reason,
        )
    return await get_posting(posting_id)


async def cancel_posting(*, actor: User, posting_id: int, reason: str) -> Posting:
    """Cancel the posting (its staff); everyone with an active sign-up is told, in the same transaction."""
    posting = await get_posting(posting_id)
    await _require_staff_of(actor, posting.organization_id)
    allowed = (PostingStatus.DRAFT, PostingStatus.IN_REVIEW, PostingStatus.OPEN, PostingStatus.CLOSED)
    async with in_transaction() as connection:
        await seats.lock(connection, [posting.id])
        await _move(posting, to=PostingStatus.CANCELLED, allowed=allowed, status_reason=reason)
        users = await Signup.filter(posting_id=posting.id, status__in=ACTIVE_SIGNUP).values_list(
            "user_id", flat=True
        )
        recipients = sorted({int(u) for u in users})  # type: ignore[call-overload]
        await OutboxEvent.create(
            kind=kinds.POSTING_CANCELLED,
            payload={
                **seats.payload(posting, posting.organization.name, signup_id=0, status="cancelled"),
                "reason": reason,
            },
            recipients=recipients,
            idempotency_key=f"{kinds.POSTING_CANCELLED}:{posting.id}",
        )
        await audit_service.record(
            actor=actor,
            action="posting.cancel",
            target=posting,
            before={"status": posting.status},
            after={"status": PostingStatus.CANCELLED, "told": len(recipients)},
            reason=reason,
        )
    return await get_posting(posting_id)


def posting_read(posting: Posting) -> dict[str, Any]:
    """A posting as anyone may see it, with seats left and the waitlist's length."""
    org = posting.organization
    return {
        "id": posting.id,
        "organization": {"credit_code": org.credit_code, "name": org.name},
        "kind": posting.kind,
        "title": posting.title,
        "body": posting.body,
        # Only the images WeChat passed (a draft: as given, its staff alone see it); images.py.
        "images": getattr(posting, "visible_images", posting.images if posting.status == "draft" else []),
        "images_withheld": getattr(posting, "images_withheld", 0),
        "starts_at": posting.starts_at,
        "ends_at": posting.ends_at,
        "place": posting.place,
        "latitude": posting.latitude,
        "longitude": posting.longitude,
        "capacity": posting.capacity,
        "signup_deadline": posting.signup_deadline,
        "admission": posting.admission,
        "questions": posting.questions,
        "status": posting.status,
        "status_reason": posting.status_reason,
        "seats_left": None
        if posting.capacity is None
        else max(0, posting.capacity - posting.confirmed_count),
        "waitlist_length": posting.waitlist_count,
        "published_at": posting.published_at,
    }


async def get_public(*, posting_id: int, viewer: User | None) -> Posting:
    """A posting the public may see (open, closed, cancelled); drafts and held ones only to its staff."""
    posting = await get_posting(posting_id)
    if posting.status not in PUBLIC_STATUSES and not (
        viewer is not None and await is_staff_of(viewer, posting.organization_id)
    ):
        raise PostingNotFound(details={"posting_id": posting_id})
    return posting


async def list_public(*, query: PostingQuery) -> dict[str, Any]:
    """Public postings, newest first, a page at a time."""
    rows = Posting.filter(status__in=[query.status] if query.status else list(PUBLIC_STATUSES))
    if query.kind:
        rows = rows.filter(kind=query.kind)
    if query.org:
        rows = rows.filter(organization__credit_code=query.org.strip().upper())
    if query.region:
        region = parse_region(query.region)
        rows = rows.filter(subtree_filter([region], "organization__region_code"))
    if query.cursor:
        rows = rows.filter(id__lt=query.cursor)
    page = await rows.select_related("organization").order_by("-id").limit(PAGE_SIZE + 1)
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    await images.attach(page)
    return {"items": [posting_read(p) for p in page], "next_cursor": page[-1].id if more else None}


# --- sign-ups ------------------------------------------------------------------------------------------


async def sign_up(
    *,
    posting_id: int,
    member: User,
    answers: dict[str, Any],
    cipher: PersonalDataCipher,
    cache: Cache,
    limit_per_minute: int,
    now: datetime | None = None,
) -> tuple[signups.SignupResult, bool]:
    """Sign up: confirmed, waitlisted or pending; the active sign-up again for a repeat (created False)."""
    await ratelimit.enforce(
        cache=cache,
        key=f"signup:{member.id}",
        limit=limit_per_minute,
        window_seconds=60,
        error=SignupRateLimited,
    )
    return await signups.submit(
        posting_id=posting_id, user_id=member.id, answers=answers, cipher=cipher, now=now
    )


async def cancel_signup(*, posting_id: int, member: User) -> signups.SignupResult:
    """Cancel one's own active sign-up; a freed seat goes to the waitlist's first, in the same transaction."""
    async with in_transaction() as connection:
        locked = await seats.lock(connection, [posting_id])
        posting = locked.get(posting_id)
        if posting is None:
            raise PostingNotFound(details={"posting_id": posting_id})
        signup = (
            await Signup.filter(posting_id=posting_id, active_user_id=member.id).using_db(connection).first()
        )
        if signup is None:
            raise SignupNotFound()
        was, position = SignupStatus(signup.status), signup.waitlist_position
        now = datetime.now(UTC)
        await (
            Signup.filter(id=signup.id)
            .using_db(connection)
            .update(
                status=SignupStatus.CANCELLED, active_user_id=None, waitlist_position=None, updated_at=now
            )
        )
        if was == SignupStatus.CONFIRMED:
            posting.confirmed_count -= 1
        elif was == SignupStatus.WAITLISTED and position is not None:
            posting.waitlist_count -= 1
            await seats.move_up(connection, posting.id, behind=position, by=1)
        name = (await seats.organization_names(connection, [posting]))[posting.organization_id]
        events = [seats.event(kinds.SIGNUP_CANCELLED, posting, name, signup.id, member.id)]
        if posting.status in (PostingStatus.OPEN, PostingStatus.CLOSED):
            for promoted in await seats.fill_freed_seats(connection, posting):
                events.append(
                    seats.event(kinds.SIGNUP_PROMOTED, posting, name, promoted.signup_id, promoted.user_id)
                )
                await seats.make_member(
                    connection,
                    posting,
                    user_id=promoted.user_id,
                    signup_id=promoted.signup_id,
                    today=_today(),
                )
        await seats.save_events(connection, events)
        await seats.save_counts(connection, posting)
    return signups.SignupResult(signup.id, posting_id, SignupStatus.CANCELLED, None)


def _today() -> Any:
    return registry_service.today()


async def decide(*, actor: User, signup_id: int, approve: bool, reason: str) -> signups.SignupResult:
    """Approve (a seat, or the waitlist's end when full) or reject a pending sign-up (its staff, audited)."""
    found = await Signup.get_or_none(id=signup_id).values("posting_id", "posting__organization_id")
    if not found:
        raise SignupNotFound()
    await _require_staff_of(actor, int(found["posting__organization_id"]))
    async with in_transaction() as connection:
        posting = (await seats.lock(connection, [int(found["posting_id"])]))[int(found["posting_id"])]
        signup = await Signup.filter(id=signup_id).using_db(connection).get()
        if signup.status != SignupStatus.PENDING:
            raise SignupDecided(details={"status": signup.status})
        name = (await seats.organization_names(connection, [posting]))[posting.organization_id]
        values: dict[str, Any] = {
            "decision_reason": reason,
            "decided_by_id": actor.id,
            "updated_at": datetime.now(UTC),
        }
        if not approve:
            status, position = SignupStatus.REJECTED, None
            values.update(status=status, active_user_id=None)
            event = seats.event(
                kinds.SIGNUP_REJECTED, posting, name, signup.id, signup.user_id, reason=reason or None
            )
        elif seats.has_seat(posting):
            status, position = SignupStatus.CONFIRMED, None
            posting.confirmed_count += 1
            values.update(status=status)
            event = seats.event(kinds.SIGNUP_APPROVED, posting, name, signup.id, signup.user_id)
            await seats.make_member(
                connection, posting, user_id=signup.user_id, signup_id=signup.id, today=_today()
            )
        else:
            posting.waitlist_count += 1
            status, position = SignupStatus.WAITLISTED, posting.waitlist_count
            values.update(status=status, waitlist_position=position)
            event = seats.event(
                kinds.SIGNUP_WAITLISTED, posting, name, signup.id, signup.user_id, waitlist_position=position
            )
        await Signup.filter(id=signup.id).using_db(connection).update(**values)
        await seats.save_events(connection, [event])
        await seats.save_counts(connection, posting)
        await audit_service.record(
            actor=actor,
            action="signup.decision",
            target=signup,
            before={"status": SignupStatus.PENDING},
            after={"status": status, "waitlist_position": position},
            reason=reason,
        )
    return signups.SignupResult(signup.id, posting.id, status, position)


async def my_signups(*, member: User) -> list[dict[str, Any]]:
    """The member's own sign-ups, newest first."""
    rows = await Signup.filter(user_id=member.id).select_related("posting").order_by("-id").limit(200)
    return [
        {
            "id": s.id,
            "posting_id": s.posting_id,
            "status": s.status,
            "waitlist_position": s.waitlist_position,
            "posting_title": s.posting.title,
            "posting_status": s.posting.status,
            # Phone numbers masked: in full only for the organization's staff (the roster).
            "answers": answers_rules.shown(s.posting.questions, s.answers, cipher=None),
            "starts_at": s.posting.starts_at,
            "created_at": s.created_at,
        }
        for s in rows
    ]


async def roster(*, actor: User, posting_id: int, cipher: PersonalDataCipher) -> dict[str, Any]:
    """Everyone signed up, with their answers in full (the organization's staff only)."""
    posting = await get_posting(posting_id)
    await _require_staff_of(actor, posting.organization_id)
    rows = await Signup.filter(posting_id=posting.id).select_related("user").order_by("id")
    order = {SignupStatus.CONFIRMED: 0, SignupStatus.PENDING: 1, SignupStatus.WAITLISTED: 2}
    rows.sort(key=lambda s: (order.get(SignupStatus(s.status), 3), s.waitlist_position or 0, s.id))
    return {
        "posting_id": posting.id,
        "title": posting.title,
        "questions": posting.questions,
        "capacity": posting.capacity,
        "confirmed": posting.confirmed_count,
        "waitlisted": posting.waitlist_count,
        "items": [
            {
                "id": s.id,
                "user_id": s.user_id,
                "nickname": s.user.nickname,
                "status": s.status,
                "waitlist_position": s.waitlist_position,
                "answers": answers_rules.shown(posting.questions, s.answers, cipher=cipher),
                "created_at": s.created_at,
            }
            for s in rows
        ],
    }


# --- members -------------------------------------------------------------------------------------------


async def members(*, actor: User, code: str) -> dict[str, Any]:
    """The organization's members, by member number (its staff)."""
    organization = await registry_service.get_organization(code=code)
    await _require_staff_of(actor, organization.id)
    rows = await Member.filter(organization_id=organization.id).select_related("user").order_by("member_no")
    return {"items": [_member(organization, m, m.user.nickname) for m in rows]}


def _member(organization: Organization, m: Member, nickname: str) -> dict[str, Any]:
    return {
        "organization": {"credit_code": organization.credit_code, "name": organization.name},
        "user_id": m.user_id,
        "nickname": nickname,
        "member_no": m.member_no,
        "joined_on": m.joined_on.isoformat(),
        "status": m.status,
        "left_on": m.left_on.isoformat() if m.left_on else None,
    }


async def leave(*, member: User, code: str) -> dict[str, Any]:
    """Leave the organization: the membership ends today; the number stays theirs in the records."""
    organization = await registry_service.get_organization(code=code)
    async with in_transaction():
        row = await Member.get_or_none(organization_id=organization.id, user_id=member.id)
        if row is None or row.status != MemberStatus.ACTIVE:
            raise NotAMember()
        today = _today()
        await Member.filter(id=row.id, status=MemberStatus.ACTIVE).update(
            status=MemberStatus.LEFT, left_on=today, updated_at=datetime.now(UTC)
        )
        await audit_service.record(
            actor=member,
            action="member.leave",
            target=row,
            before={"status": MemberStatus.ACTIVE},
            after={"status": MemberStatus.LEFT},
            reason="会员退出",
        )
        row.status, row.left_on = MemberStatus.LEFT, today
    return _member(organization, row, member.nickname)
