"""Signing up: many at once, never beyond capacity, first come first served.

A thousand members press the button in the same second, so the write is built for bursts, like the
check-in (backend/partybuilding/checkins.py): the sign-ups a process is asked for together (the same
loop turn, or while its previous batch is on its way) go as one transaction (``Coalescer``, group
commit): lock the posting's row once (seats.py), read who already has an active sign-up, decide
every sign-up in arrival order from the posting's two counters, then one multi-row INSERT of the
sign-ups, one of their outbox events, one UPDATE of the counters, and commit. Other processes wait
on the row lock, so decisions are taken one batch at a time per posting, whatever the number of
processes; within a batch, in the order the requests arrived.

Each request gets its own answer: its sign-up (new or the active one it already had), or its own
refusal (closed, past the deadline, invalid answers), which never fails the others of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from .. import db
from ..batching import Coalescer
from ..crypto import PersonalDataCipher
from ..errors import Conflict, DomainError, NotFound, Unprocessable
from ..events import kinds
from ..events.models import OutboxStatus
from . import answers as answers_rules
from . import seats
from .models import Admission, Posting, PostingStatus, Signup, SignupStatus

_SIGNUPS = Signup._meta.db_table
_COLUMNS = (
    "posting_id, user_id, active_user_id, status, waitlist_position, answers, decision_reason, "
    "created_at, updated_at"
)


class PostingNotFound(NotFound):
    code = "posting.not_found"
    message = "未找到该招募 / No such posting"


class PostingNotOpen(Unprocessable):
    code = "posting.not_open"
    message = "该招募尚未发布 / This posting is not open for sign-ups"


class PostingClosed(Unprocessable):
    code = "posting.closed"
    message = "报名已结束 / Sign-ups for this posting are closed"


class PostingCancelled(Unprocessable):
    code = "posting.cancelled"
    message = "该活动已取消 / This posting was cancelled"


class DeadlinePassed(Unprocessable):
    code = "signup.deadline_passed"
    message = "已过报名截止时间 / The sign-up deadline has passed"


class SignupBusy(Conflict):
    code = "signup.busy"
    message = "报名人数较多，请稍后重试 / Many people are signing up; try again"


@dataclass(frozen=True, slots=True)
class SignupResult:
    """A sign-up as its owner sees it (the answer to POST .../signups)."""

    id: int
    posting_id: int
    status: SignupStatus
    waitlist_position: int | None


@dataclass(frozen=True, slots=True)
class _Ask:
    posting_id: int
    user_id: int
    answers: dict[str, Any]
    now: datetime
    cipher: PersonalDataCipher


Outcome = tuple[SignupResult, bool] | DomainError


def refusal(posting: Posting, now: datetime) -> DomainError | None:
    """Why this posting takes no new sign-ups now, if it does not."""
    if posting.status == PostingStatus.CLOSED:
        return PostingClosed()
    if posting.status == PostingStatus.CANCELLED:
        return PostingCancelled()
    if posting.status != PostingStatus.OPEN:
        return PostingNotOpen()
    if now > posting.signup_deadline:
        return DeadlinePassed(details={"signup_deadline": posting.signup_deadline.isoformat()})
    return None


async def _batch(asks: list[_Ask]) -> list[Outcome]:
    async with in_transaction() as connection:
        return await _decide(connection, asks)


@dataclass(slots=True)
class _New:
    """A sign-up decided in this batch, to insert (plain values, not an ORM object: a burst makes many)."""

    posting_id: int
    user_id: int
    status: SignupStatus
    waitlist_position: int | None
    answers: dict[str, Any]
    at: datetime
    id: int = 0

    def result(self) -> SignupResult:
        return SignupResult(self.id, self.posting_id, self.status, self.waitlist_position)


_EVENT_OF = {
    SignupStatus.CONFIRMED: kinds.SIGNUP_CONFIRMED,
    SignupStatus.WAITLISTED: kinds.SIGNUP_WAITLISTED,
    SignupStatus.PENDING: kinds.SIGNUP_PENDING,
}


async def _decide(connection: BaseDBAsyncClient, asks: list[_Ask]) -> list[Outcome]:
    postings = await seats.lock(connection, [a.posting_id for a in asks])
    active = {
        (int(posting_id), int(user_id)): SignupResult(int(i), int(posting_id), SignupStatus(status), position)
        for i, posting_id, user_id, status, position in await Signup.filter(
            posting_id__in=list(postings), active_user_id__in=list({a.user_id for a in asks})
        )
        .using_db(connection)
        .values_list("id", "posting_id", "user_id", "status", "waitlist_position")
    }
    outcomes: list[Outcome | None] = []
    new: dict[tuple[int, int], tuple[int, _New]] = {}  # (posting, user) -> (index of its first ask, row)
    for index, ask in enumerate(asks):
        key = (ask.posting_id, ask.user_id)
        posting = postings.get(ask.posting_id)
        if posting is None:
            outcomes.append(PostingNotFound())
            continue
        if key in active:  # a repeat: answered with the active sign-up, never a second one
            outcomes.append((active[key], False))
            continue
        if key in new:  # the same person twice in this batch: filled in once it has its id
            outcomes.append(None)
            continue
        refused = refusal(posting, ask.now)
        if refused is None:
            try:
                stored = answers_rules.check(posting.questions, ask.answers, cipher=ask.cipher)
            except DomainError as exc:
                refused = exc
        if refused is not None:
            outcomes.append(refused)
            continue
        row = _New(posting.id, ask.user_id, SignupStatus.PENDING, None, stored, ask.now)
        if posting.admission != Admission.APPROVAL:
            if seats.has_seat(posting):
                row.status = SignupStatus.CONFIRMED
                posting.confirmed_count += 1
            else:
                row.status = SignupStatus.WAITLISTED
                posting.waitlist_count += 1
                row.waitlist_position = posting.waitlist_count
        new[key] = (index, row)
        outcomes.append(None)
    if new:
        rows = [row for _, row in new.values()]
        names = await seats.organization_names(connection, list(postings.values()))
        changed = [postings[i] for i in sorted({row.posting_id for row in rows})]
        if db.dialect() == "postgres":
            await _write_postgres(connection, rows, postings, names, changed)
        else:
            await _insert(connection, rows)
            events = [_event(row, postings[row.posting_id], names) for row in rows]
            await seats.save_events(connection, events)
            for posting in changed:
                await seats.save_counts(connection, posting)
        for row in rows:
            if row.status == SignupStatus.CONFIRMED:
                await seats.make_member(
                    connection,
                    postings[row.posting_id],
                    user_id=row.user_id,
                    signup_id=row.id,
                    today=row.at.date(),
                )
    for index, ask in enumerate(asks):
        if outcomes[index] is None:
            first, row = new[(ask.posting_id, ask.user_id)]
            outcomes[index] = (row.result(), first == index)
    return [o for o in outcomes if o is not None]


def _event(row: _New, posting: Posting, names: dict[int, str]) -> seats.NewEvent:
    extra = {"waitlist_position": row.waitlist_position} if row.waitlist_position else {}
    return seats.event(
        _EVENT_OF[row.status], posting, names[posting.organization_id], row.id, row.user_id, **extra
    )


# PostgreSQL: the batch's sign-ups, their events and the postings' counters in one statement (one round
# trip, where three would each wait their turn on a loaded database). $1: the rows with their events'
# payloads, which get the new sign-up's id; $2: the events' status; $3: the counters by posting.
_POSTGRES_WRITE = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
        posting_id bigint, user_id bigint, status text, waitlist_position int, answers jsonb,
        at timestamptz, kind text, payload jsonb)
), signup AS (
    INSERT INTO {_SIGNUPS} ({_COLUMNS})
    SELECT i.posting_id, i.user_id, i.user_id, i.status, i.waitlist_position, i.answers, '', i.at, i.at
    FROM input i
    RETURNING id, posting_id, user_id
), event AS (
    INSERT INTO {seats.OUTBOX} ({seats.OUTBOX_COLUMNS})
    SELECT i.kind, i.payload || jsonb_build_object('signup_id', s.id), jsonb_build_array(i.user_id),
           i.kind || ':' || s.id, $2::text, 0, i.at, i.at
    FROM signup s JOIN input i ON i.posting_id = s.posting_id AND i.user_id = s.user_id
    ON CONFLICT (idempotency_key) DO NOTHING
), counters AS (
    UPDATE {seats.POSTINGS} p
    SET confirmed_count = c.confirmed, waitlist_count = c.waitlisted, updated_at = now()
    FROM jsonb_to_recordset($3::jsonb) AS c(id bigint, confirmed int, waitlisted int)
    WHERE p.id = c.id
)
SELECT id, posting_id, user_id FROM signup
"""


async def _write_postgres(
    connection: BaseDBAsyncClient,
    rows: list[_New],
    postings: dict[int, Posting],
    names: dict[int, str],
    changed: list[Posting],
) -> None:
    batch = []
    for r in rows:
        event = _event(r, postings[r.posting_id], names)  # its signup_id is filled in by the statement
        batch.append(
            {
                "posting_id": r.posting_id,
                "user_id": r.user_id,
                "status": r.status.value,
                "waitlist_position": r.waitlist_position,
                "answers": r.answers,
                "at": r.at,
                "kind": event.kind,
                "payload": event.payload,
            }
        )
    counters = [{"id": p.id, "confirmed": p.confirmed_count, "waitlisted": p.waitlist_count} for p in changed]
    returned = await connection.execute_query_dict(
        _POSTGRES_WRITE,
        [orjson.dumps(batch).decode(), OutboxStatus.PENDING.value, orjson.dumps(counters).decode()],
    )
    ids = {(int(r["posting_id"]), int(r["user_id"])): int(r["id"]) for r in returned}
    for r in rows:
        r.id = ids[(r.posting_id, r.user_id)]


async def _insert(connection: BaseDBAsyncClient, rows: list[_New]) -> None:
    """One multi-row INSERT ... RETURNING id: the ids go back onto the rows."""
    if db.dialect() == "postgres":
        batch = [
            {
                "posting_id": r.posting_id,
                "user_id": r.user_id,
                "status": r.status.value,
                "waitlist_position": r.waitlist_position,
                "answers": r.answers,
                "at": r.at,
            }
            for r in rows
        ]
        returned = await connection.execute_query_dict(
            f"INSERT INTO {_SIGNUPS} ({_COLUMNS}) "
            "SELECT i.posting_id, i.user_id, i.user_id, i.status, i.waitlist_position, i.answers, '', "
            "i.at, i.at "
            "FROM jsonb_to_recordset($1::jsonb) AS i(posting_id bigint, user_id bigint, "
            "status text, waitlist_position int, answers jsonb, at timestamptz) "
            "RETURNING id, posting_id, user_id",
            [orjson.dumps(batch).decode()],
        )
    else:
        fields = Signup._meta.fields_map
        params: list[Any] = []
        for r in rows:
            at = fields["created_at"].to_db_value(r.at, Signup)
            answers = fields["answers"].to_db_value(r.answers, Signup)
            params += [
                r.posting_id,
                r.user_id,
                r.user_id,
                r.status.value,
                r.waitlist_position,
                answers,
                at,
                at,
            ]
        values = ", ".join("(?, ?, ?, ?, ?, ?, '', ?, ?)" for _ in rows)
        returned = await connection.execute_query_dict(
            f"INSERT INTO {_SIGNUPS} ({_COLUMNS}) VALUES {values} RETURNING id, posting_id, user_id", params
        )
    ids = {(int(r["posting_id"]), int(r["user_id"])): int(r["id"]) for r in returned}
    for r in rows:
        r.id = ids[(r.posting_id, r.user_id)]


_writes: Coalescer[_Ask, Outcome] = Coalescer(_batch, max_in_flight=1)


async def submit(
    *,
    posting_id: int,
    user_id: int,
    answers: dict[str, Any],
    cipher: PersonalDataCipher,
    now: datetime | None = None,
) -> tuple[SignupResult, bool]:
    """Sign up (with the others asking meanwhile); the sign-up and whether it was made now."""
    outcome = await _writes(_Ask(posting_id, user_id, answers, now or datetime.now(UTC), cipher))
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
