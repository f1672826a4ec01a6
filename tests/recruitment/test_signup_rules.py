"""Seats and the waitlist at the service level (backend/recruitment/seats.py, signups.py), no HTTP app.

tests/recruitment/test_signups_api.py and test_concurrency.py hold these rules over HTTP and across
processes; this file calls the services directly with the ``db`` fixture, so that each rule is
reached in a fraction of a second, which is what the mutation run's ``signups`` group needs
(tests/MUTATION.md): capacity never exceeded, waitlist positions 1..n in sign-up order, a freed seat
to position 1 and everyone behind up one, one active sign-up per person, refusals (status, deadline,
answers) that never fail the rest of a batch, approval, membership numbers, and each change's event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from backend.accounts.models import StaffRole, StaffRoleKind, User
from backend.events.models import OutboxEvent
from backend.recruitment import answers, seats, signups
from backend.recruitment import service as recruitment
from backend.recruitment.models import (
    Admission,
    Member,
    MemberStatus,
    Posting,
    PostingKind,
    PostingStatus,
    Signup,
)
from backend.registry.models import Organization
from tests.factories import factory_cipher, make_authority, make_org, make_user
from tests.recruitment.invariants import assert_invariants

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=7)
DEADLINE = STARTS - timedelta(days=1)
CIPHER = factory_cipher()
PHONE = [{"id": "phone", "kind": "phone", "label": "手机号", "required": True}]


async def _posting(org: Organization, **changes: Any) -> Posting:
    fields: dict[str, Any] = {
        "organization": org,
        "kind": PostingKind.ACTIVITY,
        "title": "社区读书会",
        "body": "周末一起读书",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=2),
        "place": "南山图书馆",
        "capacity": 2,
        "signup_deadline": DEADLINE,
        "admission": Admission.FIRST_COME,
        "questions": [],
        "status": PostingStatus.OPEN,
    }
    fields.update(changes)
    return await Posting.create(**fields)


@pytest.fixture
async def org(db) -> Organization:
    return await make_org(await make_authority("440305"), qr_code=False, name="南山读书会")


async def people(n: int) -> list[User]:
    return [await make_user() for _ in range(n)]


async def sign(
    posting: Posting, user: User, given: dict[str, Any] | None = None, now: datetime = NOW
) -> tuple[signups.SignupResult, bool]:
    return await signups.submit(
        posting_id=posting.id, user_id=user.id, answers=given or {}, cipher=CIPHER, now=now
    )


async def rows(posting: Posting) -> list[tuple[int, str, int | None]]:
    """(user, status, position) of the posting's sign-ups, in sign-up order."""
    found = await Signup.filter(posting_id=posting.id).order_by("id")
    return [(s.user_id, s.status, s.waitlist_position) for s in found]


async def counters(posting: Posting) -> tuple[int, int]:
    fresh = await Posting.get(id=posting.id)
    return fresh.confirmed_count, fresh.waitlist_count


async def events(kind: str) -> list[OutboxEvent]:
    return await OutboxEvent.filter(kind=kind).order_by("id")


# --- pure rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (PostingStatus.OPEN, None),
        (PostingStatus.CLOSED, "posting.closed"),
        (PostingStatus.CANCELLED, "posting.cancelled"),
        (PostingStatus.DRAFT, "posting.not_open"),
        (PostingStatus.IN_REVIEW, "posting.not_open"),
        (PostingStatus.REJECTED, "posting.not_open"),
    ],
)
def test_only_an_open_posting_takes_sign_ups(status, refused):
    posting = Posting(status=status, signup_deadline=DEADLINE)
    outcome = signups.refusal(posting, NOW)
    assert (outcome.code if outcome else None) == refused


def test_sign_ups_close_after_the_deadline_not_at_it():
    posting = Posting(status=PostingStatus.OPEN, signup_deadline=DEADLINE)
    assert signups.refusal(posting, DEADLINE) is None
    late = signups.refusal(posting, DEADLINE + timedelta(microseconds=1))
    assert late is not None and late.code == "signup.deadline_passed"
    assert late.details == {"signup_deadline": DEADLINE.isoformat()}
    closed = Posting(status=PostingStatus.CLOSED, signup_deadline=DEADLINE)
    assert signups.refusal(closed, DEADLINE + timedelta(days=9)).code == "posting.closed"  # type: ignore[union-attr]


def test_a_seat_is_free_below_capacity_and_always_without_one():
    assert seats.has_seat(Posting(capacity=2, confirmed_count=1))
    assert not seats.has_seat(Posting(capacity=2, confirmed_count=2))
    assert not seats.has_seat(Posting(capacity=0, confirmed_count=0))
    assert seats.has_seat(Posting(capacity=None, confirmed_count=10_000))


def test_a_sign_up_event_names_the_posting_and_goes_to_its_owner_once():
    posting = Posting(
        id=7, title="读书会", starts_at=datetime(2026, 12, 9, 16, 0, tzinfo=UTC), place="图书馆"
    )
    made = seats.event("signup.waitlisted", posting, "南山读书会", 42, 5, waitlist_position=3)
    assert made == seats.NewEvent(
        kind="signup.waitlisted",
        payload={
            "posting_id": 7,
            "posting_title": "读书会",
            "organization": "南山读书会",
            "starts_at": "2026-12-09T16:00:00+00:00",
            "place": "图书馆",
            "signup_id": 42,
            "status": "waitlisted",
            "waitlist_position": 3,
        },
        recipients=[5],
        idempotency_key="signup.waitlisted:42",
    )
    other = seats.event("signup.cancelled", posting, "南山读书会", 1, 2, status="withdrawn")
    assert other.payload["status"] == "withdrawn" and "waitlist_position" not in other.payload


# --- first come, first served ---------------------------------------------------------------------


async def test_seats_go_first_come_and_the_rest_wait_in_order(org):
    posting = await _posting(org)
    users = await people(5)
    results = [await sign(posting, u) for u in users]
    assert [(r.status, r.waitlist_position, created) for r, created in results] == [
        ("confirmed", None, True),
        ("confirmed", None, True),
        ("waitlisted", 1, True),
        ("waitlisted", 2, True),
        ("waitlisted", 3, True),
    ]
    assert all(r.posting_id == posting.id for r, _ in results)
    assert [r.id for r, _ in results] == [
        s.id for s in await Signup.filter(posting_id=posting.id).order_by("id")
    ]
    assert await counters(posting) == (2, 3)
    assert await assert_invariants(posting.id) == {"confirmed": 2, "waitlisted": 3, "rows": 5}
    confirmed = await events("signup.confirmed")
    waitlisted = await events("signup.waitlisted")
    assert [e.recipients for e in confirmed] == [[users[0].id], [users[1].id]]
    assert [e.payload["waitlist_position"] for e in waitlisted] == [1, 2, 3]
    assert [e.idempotency_key for e in waitlisted] == [f"signup.waitlisted:{r.id}" for r, _ in results[2:]]
    assert all("waitlist_position" not in e.payload for e in confirmed)
    assert confirmed[0].payload["organization"] == "南山读书会"
    assert confirmed[0].payload["signup_id"] == results[0][0].id
    assert confirmed[0].payload["status"] == "confirmed"
    stored = await Signup.get(id=results[0][0].id)
    assert (stored.active_user_id, stored.created_at) == (users[0].id, NOW)


async def test_a_repeat_is_answered_with_the_active_sign_up(org):
    posting = await _posting(org, capacity=1)
    first, second = await people(2)
    await sign(posting, first)
    waiting, created = await sign(posting, second)
    assert (waiting.status, waiting.waitlist_position, created) == ("waitlisted", 1, True)
    again, created = await sign(posting, second)
    assert (again, created) == (waiting, False)
    assert (await sign(posting, first))[1] is False
    assert await Signup.filter(posting_id=posting.id).count() == 2
    assert await counters(posting) == (1, 1)
    assert await OutboxEvent.all().count() == 2


async def test_a_burst_is_decided_in_arrival_order_and_a_double_press_counts_once(org):
    posting = await _posting(org, capacity=3)
    users = await people(6)
    asked = [users[0], users[1], users[1], users[2], users[3], users[4], users[5], users[3]]
    outcomes = await asyncio.gather(*(sign(posting, u) for u in asked))
    assert [(r.status, r.waitlist_position) for r, _ in outcomes] == [
        ("confirmed", None),
        ("confirmed", None),
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
        ("waitlisted", 1),
    ]
    assert [created for _, created in outcomes] == [True, True, False, True, True, True, True, False]
    assert outcomes[1][0] == outcomes[2][0] and outcomes[4][0] == outcomes[7][0]
    assert await assert_invariants(posting.id) == {"confirmed": 3, "waitlisted": 3, "rows": 6}
    assert await OutboxEvent.all().count() == 6


async def test_a_refusal_in_a_burst_fails_only_its_own_sign_up(org):
    posting = await _posting(org, capacity=5, questions=PHONE)
    closed = await _posting(org, status=PostingStatus.CLOSED)
    users = await people(4)
    outcomes = await asyncio.gather(
        sign(posting, users[0], {"phone": "138 0013 8000"}),
        sign(posting, users[1], {"phone": "12345"}),
        sign(closed, users[2]),
        sign(posting, users[3], {"phone": "13900139000"}, now=DEADLINE + timedelta(seconds=1)),
        signups.submit(posting_id=10**9, user_id=users[0].id, answers={}, cipher=CIPHER, now=NOW),
        sign(posting, users[2], {"phone": "+86 13700137000"}),
        return_exceptions=True,
    )
    assert outcomes[0][0].status == "confirmed" and outcomes[5][0].status == "confirmed"  # type: ignore[index]
    assert isinstance(outcomes[1], answers.AnswersInvalid)
    assert outcomes[1].details == [{"question_id": "phone", "problem": "not_a_mobile_number"}]
    assert isinstance(outcomes[2], signups.PostingClosed)
    assert isinstance(outcomes[3], signups.DeadlinePassed)
    assert isinstance(outcomes[4], signups.PostingNotFound)
    assert await rows(posting) == [(users[0].id, "confirmed", None), (users[2].id, "confirmed", None)]
    assert await counters(posting) == (2, 0) and await counters(closed) == (0, 0)
    stored = (await Signup.get(posting_id=posting.id, user_id=users[0].id)).answers
    assert stored["phone"]["masked"] == "138****8000" and "13800138000" not in str(stored)
    assert CIPHER.decrypt(stored["phone"]["encrypted"]) == "13800138000"


async def test_without_a_capacity_everyone_gets_a_seat(org):
    posting = await _posting(org, capacity=None)
    for user in await people(4):
        assert (await sign(posting, user))[0].status == "confirmed"
    assert await counters(posting) == (4, 0)


# --- a freed seat ------------------------------------------------------------------------------------


async def test_a_freed_seat_goes_to_the_first_waiting_and_everyone_moves_up(org):
    posting = await _posting(org, capacity=2)
    users = await people(5)
    made = [(await sign(posting, u))[0] for u in users]
    cancelled = await recruitment.cancel_signup(posting_id=posting.id, member=users[0])
    assert (cancelled.id, cancelled.posting_id, cancelled.status, cancelled.waitlist_position) == (
        made[0].id,
        posting.id,
        "cancelled",
        None,
    )
    assert await rows(posting) == [
        (users[0].id, "cancelled", None),
        (users[1].id, "confirmed", None),
        (users[2].id, "confirmed", None),
        (users[3].id, "waitlisted", 1),
        (users[4].id, "waitlisted", 2),
    ]
    assert (await Signup.get(id=made[0].id)).active_user_id is None
    assert await counters(posting) == (2, 2)
    promoted = await events("signup.promoted")
    assert [(e.recipients, e.payload["signup_id"]) for e in promoted] == [([users[2].id], made[2].id)]
    assert [e.recipients for e in await events("signup.cancelled")] == [[users[0].id]]
    await assert_invariants(posting.id)
    # Signing up again after cancelling: a new sign-up, at the end of the line.
    back, created = await sign(posting, users[0])
    assert (back.status, back.waitlist_position, created) == ("waitlisted", 3, True)
    assert back.id != made[0].id
    await assert_invariants(posting.id)


async def test_leaving_the_waitlist_moves_up_only_those_behind(org):
    posting = await _posting(org, capacity=1)
    users = await people(5)
    for user in users:
        await sign(posting, user)
    await recruitment.cancel_signup(posting_id=posting.id, member=users[2])  # position 2 of 4
    assert await rows(posting) == [
        (users[0].id, "confirmed", None),
        (users[1].id, "waitlisted", 1),
        (users[2].id, "cancelled", None),
        (users[3].id, "waitlisted", 2),
        (users[4].id, "waitlisted", 3),
    ]
    assert await counters(posting) == (1, 3)
    assert await events("signup.promoted") == []
    await recruitment.cancel_signup(posting_id=posting.id, member=users[4])  # the last
    assert await counters(posting) == (1, 2)
    await assert_invariants(posting.id)


async def test_more_seats_promote_as_many_as_fit_in_order(org):
    posting = await _posting(org, capacity=1)
    users = await people(5)
    for user in users:
        await sign(posting, user)
    async with in_transaction() as connection:
        locked = (await seats.lock(connection, [posting.id]))[posting.id]
        locked.capacity = 3
        promoted = await seats.fill_freed_seats(connection, locked)
        assert promoted == [
            seats.Promoted(s.id, s.user_id)
            for s in await Signup.filter(user_id__in=[users[1].id, users[2].id])
            .using_db(connection)
            .order_by("id")
        ]
        assert (locked.confirmed_count, locked.waitlist_count) == (3, 2)
        assert await seats.fill_freed_seats(connection, locked) == []  # full again
        await seats.save_counts(connection, locked)
        await Posting.filter(id=posting.id).using_db(connection).update(capacity=3)
    assert [(u, s, p) for u, s, p in await rows(posting)] == [
        (users[0].id, "confirmed", None),
        (users[1].id, "confirmed", None),
        (users[2].id, "confirmed", None),
        (users[3].id, "waitlisted", 1),
        (users[4].id, "waitlisted", 2),
    ]
    await assert_invariants(posting.id)
    async with in_transaction() as connection:
        unlimited = (await seats.lock(connection, [posting.id]))[posting.id]
        unlimited.capacity = None
        assert len(await seats.fill_freed_seats(connection, unlimited)) == 2
        assert (unlimited.confirmed_count, unlimited.waitlist_count) == (5, 0)
        await seats.move_up(connection, posting.id, behind=0, by=0)  # nothing to move: no statement


async def test_move_up_moves_only_the_waitlisted_behind_the_place(org):
    posting = await _posting(org, capacity=0)
    users = await people(4)
    for user in users:
        await sign(posting, user)
    async with in_transaction() as connection:
        await seats.move_up(connection, posting.id, behind=2, by=1)
        await seats.move_up(connection, posting.id, behind=2, by=0)
        await seats.move_up(connection, posting.id, behind=2, by=-1)
    assert [p for *_, p in await rows(posting)] == [1, 2, 2, 3]


# --- approval ----------------------------------------------------------------------------------------


async def test_approval_gives_a_seat_while_there_is_one_then_the_waitlists_end(org):
    posting = await _posting(org, capacity=1, admission=Admission.APPROVAL)
    staff = await make_user()
    await StaffRole.create(user=staff, organization=org, role=StaffRoleKind.OWNER)
    users = await people(3)
    asked = [(await sign(posting, u))[0] for u in users]
    assert [(a.status, a.waitlist_position) for a in asked] == [("pending", None)] * 3
    assert await counters(posting) == (0, 0)
    assert len(await events("signup.pending")) == 3
    first = await recruitment.decide(actor=staff, signup_id=asked[0].id, approve=True, reason="欢迎")
    second = await recruitment.decide(actor=staff, signup_id=asked[1].id, approve=True, reason="")
    third = await recruitment.decide(actor=staff, signup_id=asked[2].id, approve=False, reason="名额已满")
    assert [(d.status, d.waitlist_position) for d in (first, second, third)] == [
        ("confirmed", None),
        ("waitlisted", 1),
        ("rejected", None),
    ]
    assert await counters(posting) == (1, 1)
    assert (await events("signup.rejected"))[0].payload["reason"] == "名额已满"
    await assert_invariants(posting.id, first_come=False)


# --- membership ----------------------------------------------------------------------------------


async def test_a_confirmed_membership_sign_up_makes_a_numbered_member_once(org):
    posting = await _posting(org, kind=PostingKind.MEMBERSHIP, capacity=2)
    users = await people(3)
    for user in users:
        await sign(posting, user)
    listed = await Member.filter(organization_id=org.id).order_by("member_no")
    assert [(m.user_id, m.member_no, m.status) for m in listed] == [
        (users[0].id, 1, MemberStatus.ACTIVE),
        (users[1].id, 2, MemberStatus.ACTIVE),
    ]
    assert listed[0].joined_on == NOW.date()
    signed = await Signup.get(user_id=users[0].id)
    assert listed[0].signup_id == signed.id
    # A member who left and is promoted from the waitlist of another membership posting: active
    # again under the same number.
    await Member.filter(user_id=users[0].id).update(status=MemberStatus.LEFT, left_on=date(2026, 11, 1))
    again = await _posting(org, kind=PostingKind.MEMBERSHIP, capacity=5)
    rejoined, _ = await sign(again, users[0], now=NOW + timedelta(days=1))
    member = await Member.get(user_id=users[0].id)
    assert (member.member_no, member.status, member.left_on) == (1, MemberStatus.ACTIVE, None)
    assert (member.joined_on, member.signup_id) == ((NOW + timedelta(days=1)).date(), rejoined.id)
    # Already an active member: a further membership sign-up changes nothing of the membership.
    third = await _posting(org, kind=PostingKind.MEMBERSHIP, capacity=5)
    await sign(third, users[0], now=NOW + timedelta(days=2))
    member = await Member.get(user_id=users[0].id)
    assert (member.joined_on, member.signup_id) == ((NOW + timedelta(days=1)).date(), rejoined.id)
    # Promoted from the waitlist: a member too, numbered next; an activity makes nobody a member.
    await recruitment.cancel_signup(posting_id=posting.id, member=users[1])
    assert (await Member.get(user_id=users[2].id)).member_no == 3
    assert (
        await Member.get(user_id=users[1].id)
    ).status == MemberStatus.ACTIVE  # leaving a sign-up is not leaving
    activity = await _posting(org)
    outsider = await make_user()
    await sign(activity, outsider)
    assert not await Member.filter(user_id=outsider.id).exists()
    assert await Member.filter(organization_id=org.id).count() == 3


async def test_a_sign_up_without_a_given_time_is_taken_now(org):
    soon = datetime.now(UTC)
    posting = await _posting(
        org, signup_deadline=soon + timedelta(hours=1), starts_at=soon + timedelta(days=1)
    )
    user = await make_user()
    made, created = await signups.submit(posting_id=posting.id, user_id=user.id, answers={}, cipher=CIPHER)
    assert created and made.status == "confirmed"
    stored = await Signup.get(id=made.id)
    assert soon <= stored.created_at <= datetime.now(UTC)
    late = await _posting(
        org, signup_deadline=soon - timedelta(seconds=1), starts_at=soon + timedelta(days=1)
    )
    with pytest.raises(signups.DeadlinePassed):
        await signups.submit(posting_id=late.id, user_id=user.id, answers={}, cipher=CIPHER)


@pytest.fixture
def beijing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A server whose own clock is in Beijing time: stamps must still be UTC instants."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_a_freed_seat_goes_to_this_postings_waitlist_only_and_is_stamped_now(org, beijing_server):
    mine, theirs = await _posting(org, capacity=1), await _posting(org, capacity=1)
    users = await people(3)
    for posting in (theirs, mine):  # theirs first: its waitlisted rows come first in any scan
        for user in users:
            await sign(posting, user)
    before = datetime.now(UTC)
    await recruitment.cancel_signup(posting_id=mine.id, member=users[0])
    assert await rows(theirs) == [
        (users[0].id, "confirmed", None),
        (users[1].id, "waitlisted", 1),
        (users[2].id, "waitlisted", 2),
    ]
    assert await rows(mine) == [
        (users[0].id, "cancelled", None),
        (users[1].id, "confirmed", None),
        (users[2].id, "waitlisted", 1),
    ]
    assert await counters(theirs) == (1, 2) and await counters(mine) == (1, 1)
    promoted = await Signup.get(posting_id=mine.id, user_id=users[1].id)
    assert before <= promoted.updated_at <= datetime.now(UTC)
    await assert_invariants(theirs.id)
    await assert_invariants(mine.id)
