"""Branches, activities and exactly-once check-ins.

A check-in is written once per (activity, member) whatever the number of scans or parallel
requests: refusals are decided in Python before anything is written, and the write is one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` that also records the ``checkin.recorded`` event
when, and only when, it wrote the row (checkins.py). A member already checked in gets the earlier
record.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ..accounts.models import StaffRole, User
from ..accounts.permissions import officer_region_codes
from ..audit import service as audit_service
from ..cache import Cache
from ..errors import Conflict, Forbidden, NotFound, Unprocessable
from ..events import service as events_service
from ..recruitment.models import Signup, SignupStatus
from ..registry import credit, profiles
from ..registry import service as registry_service
from ..registry.models import Organization
from ..registry.regions import region_within
from . import checkins, geofence, rotating_code
from .models import (
    Activity,
    AttendanceRequest,
    AttendanceStatus,
    Branch,
    BranchMember,
    BranchRole,
    Checkin,
    Expected,
    RequestStatus,
)
from .schemas import ActivityCreate, BranchCreate, BranchMemberSet, CheckinCreate

DEFAULT_CODE_INTERVAL_S = 15
REMINDER_BEFORE = timedelta(hours=1)  # the default of ACTIVITY_REMINDER_MINUTES


class ActivityNotFound(NotFound):
    code = "activity.not_found"
    message = "活动不存在 / No such activity"


class BranchNotFound(NotFound):
    code = "branch.not_found"
    message = "党支部不存在 / No such branch"


class NotOrganizer(Forbidden):
    code = "activity.organizer_required"
    message = "仅活动组织者（组织管理员或支部书记）可执行此操作 / Only the organizer may do this"


class RosterForbidden(Forbidden):
    code = "attendance.forbidden"
    message = "考勤名单属于个人信息，仅组织管理员、支部书记和辖区登记机关可查看 / Attendance is personal data"


class OutsideWindow(Unprocessable):
    code = "checkin.outside_window"
    message = "不在签到时间内 / Check-in is not open at this time"


class ActivityChanged(Conflict):
    code = "activity.changed"
    message = "活动信息刚刚更新，请重新扫码签到 / The activity was just changed: scan again"


class NotExpected(Unprocessable):
    code = "checkin.not_expected"
    message = "您不在本次活动的应到人员名单中 / You are not among the members expected at this activity"


class NotSignedUp(NotExpected):
    code = "checkin.not_signed_up"
    message = "只有已确认报名的志愿者可以签到 / Only volunteers with a confirmed sign-up can check in"


class ContentRejected(Unprocessable):
    code = "content.rejected"
    message = "内容未通过微信内容安全检测，请修改后再发布 / The text failed WeChat's content check; edit it"


class RequestExists(Conflict):
    code = "attendance.request_exists"
    message = "您已提交过该申请 / You have already made this request"


class RequestNotAllowed(Unprocessable):
    code = "attendance.request_not_allowed"
    message = "当前不能提交该申请 / This request cannot be made now"


class RequestNotFound(NotFound):
    code = "attendance.request_not_found"
    message = "申请不存在 / No such request"


class RequestDecided(Conflict):
    code = "attendance.request_decided"
    message = "该申请已处理 / This request has already been decided"


# --- who may do what ----------------------------------------------------------------------------


async def is_staff(user: User, organization_id: int) -> bool:
    return await StaffRole.filter(user=user, organization_id=organization_id).exists()


async def is_secretary(user: User, branch_id: int | None) -> bool:
    if branch_id is None:
        return False
    return await BranchMember.filter(user=user, branch_id=branch_id, role=BranchRole.SECRETARY).exists()


async def require_any_organizer(user: User) -> None:
    """Allow the staff of any organization or the secretary of any branch: the role, checked before a
    request's body is read; the service checks the organization or branch."""
    if not (
        await StaffRole.filter(user=user).exists()
        or await BranchMember.filter(user=user, role=BranchRole.SECRETARY).exists()
    ):
        raise NotOrganizer()


async def require_organizer(user: User, activity: Activity) -> None:
    """The organization's staff or the secretary of the activity's branch."""
    if not (await is_staff(user, activity.organization_id) or await is_secretary(user, activity.branch_id)):
        raise NotOrganizer()


async def require_roster_access(user: User, *, organization: Organization, branch_id: int | None) -> None:
    """Staff, the branch secretary, or an officer whose jurisdiction covers the organization."""
    if await is_staff(user, organization.id) or await is_secretary(user, branch_id) or user.is_platform_admin:
        return
    if any(region_within(organization.region_code, own) for own in await officer_region_codes(user)):
        return
    raise RosterForbidden()


# --- branches -----------------------------------------------------------------------------------


async def create_branch(*, actor: User, code: str, data: BranchCreate, cache: Cache) -> Branch:
    """Set up a branch in an organization (its staff)."""
    organization = await registry_service.get_organization(code=code)
    if not await is_staff(actor, organization.id):
        raise NotOrganizer()
    async with in_transaction():
        branch, _ = await Branch.get_or_create(organization=organization, name=data.name.strip())
        await audit_service.record(
            actor=actor,
            action="branch.create",
            target=branch,
            before=None,
            after={"name": branch.name},
            reason="",
        )
        await credit.evaluate(organization=organization, today=registry_service.today())
        await profiles.record_change(organization.credit_code)
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return branch


async def get_branch(*, branch_id: int) -> Branch:
    branch = await Branch.get_or_none(id=branch_id).select_related("organization")
    if branch is None:
        raise BranchNotFound()
    return branch


async def set_member(*, actor: User, branch_id: int, data: BranchMemberSet) -> BranchMember:
    """Add a member to a branch or change their membership, role or group (staff or secretary)."""
    branch = await get_branch(branch_id=branch_id)
    if not (await is_staff(actor, branch.organization_id) or await is_secretary(actor, branch.id)):
        raise NotOrganizer()
    if not await User.filter(id=data.user_id).exists():
        raise NotFound("用户不存在 / No such user", code="user.not_found")
    async with in_transaction():
        existing = await BranchMember.get_or_none(branch=branch, user_id=data.user_id)
        before = None if existing is None else {"membership": existing.membership, "role": existing.role}
        member, _ = await BranchMember.update_or_create(
            branch=branch,
            user_id=data.user_id,
            defaults={"membership": data.membership, "role": data.role, "group_name": data.group_name},
        )
        await audit_service.record(
            actor=actor,
            action="branch.member_set",
            target=branch,
            before=before,
            after={"user_id": data.user_id, "membership": data.membership, "role": data.role},
            reason="",
        )
    return member


async def report_party_members(*, actor: User, code: str, count: int, cache: Cache) -> Organization:
    """Record how many party members the organization has (its staff); feeds the credit rules."""
    organization = await registry_service.get_organization(code=code)
    if not await is_staff(actor, organization.id):
        raise NotOrganizer()
    async with in_transaction():
        before = organization.party_members_reported
        organization.party_members_reported = count
        await organization.save(update_fields=["party_members_reported", "updated_at"])
        await audit_service.record(
            actor=actor,
            action="party_members.report",
            target=organization,
            before={"count": before},
            after={"count": count},
            reason="",
        )
        await credit.evaluate(organization=organization, today=registry_service.today())
        await profiles.record_change(organization.credit_code)
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return organization


# --- activities ---------------------------------------------------------------------------------


async def create_activity(
    *,
    actor: User,
    code: str,
    data: ActivityCreate,
    wechat: Any,
    default_interval_s: int,
    reminder_before: timedelta = REMINDER_BEFORE,
) -> Activity:
    """Publish an activity once its text passes WeChat's content check (staff or branch secretary)."""
    organization = await registry_service.get_organization(code=code)
    # Permission before the body's branch is looked up: a caller who may not publish here learns
    # nothing about the organization's branches.
    if not (await is_staff(actor, organization.id) or await is_secretary(actor, data.branch_id)):
        raise NotOrganizer()
    branch = None
    if data.branch_id is not None:
        branch = await Branch.get_or_none(id=data.branch_id, organization=organization)
        if branch is None:
            raise BranchNotFound()
    check = await wechat.check_text(openid=actor.openid, content=f"{data.title}\n{data.description}", scene=2)
    if check.suggest != "pass":
        raise ContentRejected(details={"suggest": check.suggest, "label": check.label})
    starts_at = data.starts_at.astimezone(UTC)
    async with in_transaction():
        activity = await Activity.create(
            organization=organization,
            branch=branch,
            kind=data.kind,
            title=data.title.strip(),
            description=data.description,
            starts_at=starts_at,
            ends_at=data.ends_at.astimezone(UTC),
            place=data.place,
            latitude=data.latitude,
            longitude=data.longitude,
            radius_m=data.radius_m,
            checkin_opens_at=starts_at - timedelta(minutes=data.checkin_opens_minutes_before),
            checkin_closes_at=(data.checkin_closes_at or data.ends_at).astimezone(UTC),
            late_after=starts_at + timedelta(minutes=data.late_after_minutes),
            expected=data.expected,
            expected_group=data.expected_group,
            code_secret=secrets.token_urlsafe(32),
            code_interval_s=data.code_interval_s or default_interval_s,
            created_by=actor,
        )
        await audit_service.record(
            actor=actor,
            action="activity.create",
            target=activity,
            before=None,
            after={"title": activity.title, "kind": activity.kind, "starts_at": starts_at.isoformat()},
            reason="",
        )
        await events_service.record(
            kind="activity.reminder_due",
            payload={
                "activity_id": activity.id,
                "due_at": (starts_at - reminder_before).isoformat(),
                "title": activity.title,
                "starts_at": starts_at.isoformat(),
                "place": activity.place,
            },
            recipients=await expected_user_ids(activity),
            idempotency_key=f"activity:{activity.id}:reminder",
        )
    return activity


async def get_activity(*, activity_id: int) -> Activity:
    activity = await Activity.get_or_none(id=activity_id).select_related("organization")
    if activity is None:
        raise ActivityNotFound()
    return activity


def _expected_members(activity: Activity | checkins.ActivityRules) -> QuerySet[BranchMember] | None:
    """The branch members an activity expects; None when it is open to any logged-in member."""
    if activity.expected == Expected.OPEN:
        return None
    members = BranchMember.filter(branch_id=activity.branch_id)  # no branch: nobody
    if activity.expected == Expected.GROUP:
        members = members.filter(group_name=activity.expected_group)
    return members


async def expected_user_ids(activity: Activity) -> list[int]:
    """Who is expected: the branch, one of its groups, or nobody in particular (open: [])."""
    members = _expected_members(activity)
    if members is None or activity.branch_id is None:
        return []
    return [int(uid) for uid in await members.values_list("user_id", flat=True)]  # type: ignore[call-overload]


async def checkin_code(*, actor: User, activity_id: int, now: datetime) -> rotating_code.CurrentCode:
    """The code the organizer's phone shows now."""
    activity = await get_activity(activity_id=activity_id)
    await require_organizer(actor, activity)
    return rotating_code.current(
        secret=activity.code_secret, activity_id=activity.id, interval_s=activity.code_interval_s, now=now
    )


async def check_in(
    *, activity_id: int, member: User, body: CheckinCreate, now: datetime
) -> tuple[Checkin | checkins.NewCheckin, bool]:
    """Record a member's attendance once; a second scan returns the first record.

    The rules are checked in this order, the first failure refusing: the window, the code, whether
    the member is expected, the geofence. A member already checked in gets the earlier record
    instead of any refusal. The write itself is in ``checkins.insert``.
    """
    rules = await checkins.activity_rules.get(activity_id)
    for _attempt in range(3):
        if rules is None:
            raise ActivityNotFound()
        try:
            status, distance = _admit(rules, body, now)
        except Unprocessable as refusal:
            earlier = await Checkin.get_or_none(activity_id=activity_id, user_id=member.id)
            if earlier is not None:
                return earlier, False
            if isinstance(refusal, geofence.OutsideGeofence) and not await _is_expected(rules, member.id):
                raise _not_expected(rules) from refusal
            raise
        new = checkins.NewCheckin(
            activity_id=rules.id,
            user_id=member.id,
            status=status,
            checked_in_at=now,
            distance_m=None if distance is None else round(distance, 1),
            accuracy_m=body.accuracy,
        )
        new_id = await checkins.insert(rules, new, _checkin_event(rules, new))
        if new_id is not None:
            return new.saved_as(new_id), True
        # Nothing written: already checked in, not expected, or the activity changed meanwhile.
        earlier = await Checkin.get_or_none(activity_id=activity_id, user_id=member.id)
        if earlier is not None:
            return earlier, False
        fresh = await checkins.activity_rules.read(activity_id)
        if fresh is not None and fresh.revision == rules.revision:
            raise _not_expected(rules)
        rules = fresh
    raise ActivityChanged()


def _not_expected(rules: checkins.ActivityRules) -> NotExpected:
    return NotExpected() if rules.posting_id is None else NotSignedUp()


def _admit(
    rules: checkins.ActivityRules, body: CheckinCreate, now: datetime
) -> tuple[AttendanceStatus, float | None]:
    """The window, the code and the geofence, checked without I/O: the status and the distance.

    A volunteer posting's check-in without coordinates (radius 0) has no geofence: distance None.
    """
    if not (rules.checkin_opens_at <= now <= rules.checkin_closes_at):
        raise OutsideWindow(
            details={
                "opens_at": rules.checkin_opens_at.isoformat(),
                "closes_at": rules.checkin_closes_at.isoformat(),
            }
        )
    rotating_code.verify(
        body.code, secret=rules.code_secret, activity_id=rules.id, interval_s=rules.code_interval_s, now=now
    )
    distance = None
    if rules.posting_id is None or rules.radius_m > 0:
        distance = geofence.require_inside(
            center=(rules.latitude, rules.longitude),
            radius_m=rules.radius_m,
            position=(body.latitude, body.longitude),
            accuracy_m=body.accuracy,
        )
    return (AttendanceStatus.LATE if now > rules.late_after else AttendanceStatus.PRESENT), distance


async def _is_expected(rules: checkins.ActivityRules, user_id: int) -> bool:
    """Whether the member is among those expected (only asked on the way to a refusal)."""
    if rules.posting_id is not None:
        return await Signup.filter(
            posting_id=rules.posting_id, active_user_id=user_id, status=SignupStatus.CONFIRMED
        ).exists()
    members = _expected_members(rules)
    return members is None or (rules.branch_id is not None and await members.filter(user_id=user_id).exists())


def _checkin_event(rules: checkins.ActivityRules, new: checkins.NewCheckin) -> checkins.NewEvent:
    return checkins.NewEvent(
        kind="checkin.recorded",
        payload={
            "activity_id": rules.id,
            "title": rules.title,
            "status": new.status,
            # The datetime itself: the outbox's JSON encoder (orjson) writes it as isoformat() would,
            # at a fraction of isoformat's cost (tests/partybuilding/test_checkins.py reads it back).
            "checked_in_at": new.checked_in_at,
        },
        recipients=[new.user_id],
        idempotency_key=f"checkin:{rules.id}:{new.user_id}",
    )


# --- leave and make-up --------------------------------------------------------------------------


async def request_attendance(
    *, kind: str, activity_id: int, member: User, reason: str, now: datetime
) -> AttendanceRequest:
    """A leave request before the activity starts, or a make-up request after its check-in closed."""
    activity = await get_activity(activity_id=activity_id)
    already_in = await Checkin.filter(activity=activity, user=member).exists()
    if kind == "leave" and (now >= activity.starts_at or already_in):
        raise RequestNotAllowed("活动开始后不能再请假 / Leave must be requested before the activity starts")
    if kind == "makeup" and (now <= activity.checkin_opens_at or already_in):
        raise RequestNotAllowed(
            "补签只能在签到开放后、且尚未签到时申请 / A make-up is for a check-in you missed"
        )
    if activity.expected != Expected.OPEN and member.id not in await expected_user_ids(activity):
        raise NotExpected()
    if await AttendanceRequest.filter(activity=activity, user=member, kind=kind).exists():
        raise RequestExists()
    async with in_transaction():
        try:
            request = await AttendanceRequest.create(activity=activity, user=member, kind=kind, reason=reason)
        except IntegrityError as exc:  # the same request sent twice at once
            raise RequestExists() from exc
        await audit_service.record(
            actor=member,
            action=f"attendance.{kind}_request",
            target=activity,
            before=None,
            after={"request_id": request.id},
            reason=reason,
        )
    return request


async def decide_request(
    *, actor: User, request_id: int, approve: bool, reason: str, now: datetime
) -> AttendanceRequest:
    """Approve or reject a leave or make-up request (organizer, audited). An approved make-up checks in."""
    request = await AttendanceRequest.get_or_none(id=request_id).select_related("activity")
    if request is None:
        raise RequestNotFound()
    await require_organizer(actor, request.activity)
    async with in_transaction():
        updated = await AttendanceRequest.filter(id=request.id, status=RequestStatus.PENDING).update(
            status=RequestStatus.APPROVED if approve else RequestStatus.REJECTED,
            decided_by_id=actor.id,
            decided_at=now,
            decision_reason=reason,
        )
        if not updated:
            raise RequestDecided()
        if approve and request.kind == "makeup":
            await Checkin.bulk_create(
                [
                    Checkin(
                        activity_id=request.activity_id,
                        user_id=request.user_id,
                        status=AttendanceStatus.MADE_UP,
                        checked_in_at=now,
                    )
                ],
                ignore_conflicts=True,
            )
        await audit_service.record(
            actor=actor,
            action=f"attendance.{request.kind}_decision",
            target=request.activity,
            before={"status": "pending"},
            after={"request_id": request.id, "approved": approve},
            reason=reason,
        )
    return await AttendanceRequest.get(id=request.id)


# --- attendance ---------------------------------------------------------------------------------


async def attendance(*, actor: User, activity_id: int) -> dict[str, Any]:
    """Per member: present, late, on leave, made up or absent, with the attendance rate."""
    activity = await get_activity(activity_id=activity_id)
    await require_roster_access(actor, organization=activity.organization, branch_id=activity.branch_id)
    return await attendance_of(activity)


async def attendance_of(activity: Activity) -> dict[str, Any]:
    """The attendance of one activity (no authorization: callers check it)."""
    checkins = {c.user_id: c for c in await Checkin.filter(activity=activity)}
    leave = set(
        await AttendanceRequest.filter(
            activity=activity, kind="leave", status=RequestStatus.APPROVED
        ).values_list("user_id", flat=True)
    )
    expected = await expected_user_ids(activity)
    people = list(dict.fromkeys([*expected, *checkins]))
    names = dict(await User.filter(id__in=people).values_list("id", "nickname")) if people else {}
    rows = []
    for user_id in people:
        if user_id in checkins:
            status, at = checkins[user_id].status.value, checkins[user_id].checked_in_at.isoformat()
        else:
            status, at = ("on_leave" if user_id in leave else "absent"), None
        rows.append(
            {"user_id": user_id, "nickname": names.get(user_id, ""), "status": status, "checked_in_at": at}
        )
    attended = sum(1 for r in rows if r["status"] in ("present", "late", "made_up"))
    counts = {
        s: sum(1 for r in rows if r["status"] == s)
        for s in ("present", "late", "made_up", "on_leave", "absent")
    }
    base = len(expected) if expected else len(rows)
    return {
        "activity_id": activity.id,
        "title": activity.title,
        "kind": activity.kind,
        "starts_at": activity.starts_at.isoformat(),
        "expected": len(expected) if activity.expected != Expected.OPEN else None,
        "counts": counts,
        "attendance_rate": round(attended / base, 4) if base else None,
        "rows": rows,
    }


async def my_checkins(*, member: User) -> list[dict[str, Any]]:
    """The member's own attendance history."""
    rows = await Checkin.filter(user=member).select_related("activity").order_by("-checked_in_at").limit(200)
    return [
        {
            "activity_id": c.activity_id,
            "title": c.activity.title,
            "kind": c.activity.kind,
            "status": c.status,
            "checked_in_at": c.checked_in_at.isoformat(),
        }
        for c in rows
    ]
