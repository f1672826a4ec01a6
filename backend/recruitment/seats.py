"""Seats and the waitlist: every change to who holds a seat happens here, under the posting's lock.

The rules (issue #13): capacity is never exceeded; waitlist positions are 1..n without gaps or
repeats, in the order people signed up; a freed seat goes to position 1 and everyone behind moves up
one; one active sign-up per person per posting.

How they hold across processes, on PostgreSQL and SQLite alike: every transaction that changes a
posting's sign-ups first locks the posting's row (``lock``: ``SELECT ... FOR UPDATE`` on PostgreSQL;
on SQLite a write to the row as the transaction's first statement, which takes the database's write
lock before anything is read, so two processes never both read and then both write). The posting
keeps ``confirmed_count`` and ``waitlist_count``, changed in the same transaction, so a decision
reads two integers instead of counting rows. The unique (posting, active_user_id) is the last line
for "one active sign-up": a bug that let two through would fail, not overbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from .. import db
from ..events.models import OutboxEvent, OutboxStatus
from ..registry.models import Organization
from .models import Member, MemberCounter, MemberStatus, Posting, PostingKind, Signup, SignupStatus

POSTINGS = _POSTINGS = Posting._meta.db_table
_SIGNUPS = Signup._meta.db_table
_COUNTERS = MemberCounter._meta.db_table
OUTBOX = _OUTBOX = OutboxEvent._meta.db_table
OUTBOX_COLUMNS = _OUTBOX_COLUMNS = (
    "kind, payload, recipients, idempotency_key, status, attempts, available_at, created_at"
)


async def lock(connection: BaseDBAsyncClient, posting_ids: list[int]) -> dict[int, Posting]:
    """Lock the postings' rows for the rest of the transaction (in id order: no deadlocks) and read them."""
    ids = sorted(set(posting_ids))
    if db.dialect() == "postgres":
        # The organization comes along (its name is in every message), but only the posting is locked.
        rows = (
            await Posting.filter(id__in=ids)
            .select_related("organization")
            .select_for_update(of=(_POSTINGS,))
            .order_by("id")
            .using_db(connection)
        )
    else:
        marks = ", ".join("?" for _ in ids)
        await connection.execute_query(
            f"UPDATE {_POSTINGS} SET waitlist_count = waitlist_count WHERE id IN ({marks})", ids
        )
        rows = await Posting.filter(id__in=ids).order_by("id").using_db(connection)
    return {p.id: p for p in rows}


async def organization_names(connection: BaseDBAsyncClient, postings: list[Posting]) -> dict[int, str]:
    """The names of the postings' organizations (read with the lock on PostgreSQL, else now)."""
    loaded = {p.organization_id: p.organization.name for p in postings if "_organization" in p.__dict__}
    if len(loaded) == len({p.organization_id for p in postings}):
        return loaded
    ids = {p.organization_id for p in postings}
    pairs = await Organization.filter(id__in=ids).using_db(connection).values_list("id", "name")
    return {int(i): str(n) for i, n in pairs}


def payload(
    posting: Posting, organization: str, *, signup_id: int, status: str, **extra: Any
) -> dict[str, Any]:
    """What every sign-up message shows (notifications/templates.py reads these keys)."""
    return {
        "posting_id": posting.id,
        "posting_title": posting.title,
        "organization": organization,
        "starts_at": posting.starts_at.astimezone(UTC).isoformat(),
        "place": posting.place,
        "signup_id": signup_id,
        "status": status,
        **extra,
    }


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An outbox event to insert (plain values: a burst writes a thousand of them)."""

    kind: str
    payload: dict[str, Any]
    recipients: list[int]
    idempotency_key: str


def event(
    kind: str, posting: Posting, organization: str, signup_id: int, user_id: int, **extra: Any
) -> NewEvent:
    """The outbox event of one sign-up's change (idempotent per sign-up and kind)."""
    status = extra.pop("status", kind.split(".", 1)[1])
    return NewEvent(
        kind=kind,
        payload=payload(posting, organization, signup_id=signup_id, status=status, **extra),
        recipients=[user_id],
        idempotency_key=f"{kind}:{signup_id}",
    )


async def save_events(connection: BaseDBAsyncClient, events: list[NewEvent]) -> None:
    """Insert the events (a repeated idempotency key is skipped): one statement, plain values."""
    if not events:
        return
    now = datetime.now(UTC)
    if db.dialect() == "postgres":
        rows = [
            {"kind": e.kind, "payload": e.payload, "recipients": e.recipients, "key": e.idempotency_key}
            for e in events
        ]
        await connection.execute_query(
            f"INSERT INTO {_OUTBOX} ({_OUTBOX_COLUMNS}) "
            "SELECT i.kind, i.payload, i.recipients, i.key, $2::text, 0, $3, $3 "
            "FROM jsonb_to_recordset($1::jsonb) AS i(kind text, payload jsonb, recipients jsonb, key text) "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            [orjson.dumps(rows).decode(), OutboxStatus.PENDING.value, now],
        )
        return
    fields = OutboxEvent._meta.fields_map
    at = fields["created_at"].to_db_value(now, OutboxEvent)
    params: list[Any] = []
    for e in events:
        params += [
            e.kind,
            fields["payload"].to_db_value(e.payload, OutboxEvent),
            fields["recipients"].to_db_value(e.recipients, OutboxEvent),
            e.idempotency_key,
            OutboxStatus.PENDING.value,
            at,
            at,
        ]
    values = ", ".join("(?, ?, ?, ?, ?, 0, ?, ?)" for _ in events)
    await connection.execute_query(
        f"INSERT INTO {_OUTBOX} ({_OUTBOX_COLUMNS}) VALUES {values} ON CONFLICT (idempotency_key) DO NOTHING",
        params,
    )


async def save_counts(connection: BaseDBAsyncClient, posting: Posting) -> None:
    await (
        Posting.filter(id=posting.id)
        .using_db(connection)
        .update(
            confirmed_count=posting.confirmed_count,
            waitlist_count=posting.waitlist_count,
            updated_at=datetime.now(UTC),
        )
    )


def has_seat(posting: Posting) -> bool:
    return posting.capacity is None or posting.confirmed_count < posting.capacity


@dataclass
class Promoted:
    signup_id: int
    user_id: int


async def fill_freed_seats(connection: BaseDBAsyncClient, posting: Posting) -> list[Promoted]:
    """Give free seats to the waitlist's first positions, in order; everyone behind moves up.

    Counters on ``posting`` are updated in memory; the caller saves them (``save_counts``).
    """
    free = posting.waitlist_count if posting.capacity is None else posting.capacity - posting.confirmed_count
    take = min(free, posting.waitlist_count)
    if take <= 0:
        return []
    rows = (
        await Signup.filter(
            posting_id=posting.id, status=SignupStatus.WAITLISTED, waitlist_position__lte=take
        )
        .using_db(connection)
        .order_by("waitlist_position")
        .values_list("id", "user_id")
    )
    ids = [int(i) for i, _ in rows]
    now = datetime.now(UTC)
    await (
        Signup.filter(id__in=ids)
        .using_db(connection)
        .update(status=SignupStatus.CONFIRMED, waitlist_position=None, updated_at=now)
    )
    await move_up(connection, posting.id, behind=0, by=len(ids))
    posting.confirmed_count += len(ids)
    posting.waitlist_count -= len(ids)
    return [Promoted(int(i), int(u)) for i, u in rows]


async def move_up(connection: BaseDBAsyncClient, posting_id: int, *, behind: int, by: int) -> None:
    """Waitlisted sign-ups behind ``behind`` move ``by`` places up (positions stay 1..n)."""
    if by <= 0:
        return
    await connection.execute_query(
        f"UPDATE {_SIGNUPS} SET waitlist_position = waitlist_position - {int(by)} "
        f"WHERE posting_id = {_mark(1)} AND status = '{SignupStatus.WAITLISTED.value}' "
        f"AND waitlist_position > {_mark(2)}",
        [posting_id, behind],
    )


def _mark(n: int) -> str:
    return f"${n}" if db.dialect() == "postgres" else "?"


async def make_member(
    connection: BaseDBAsyncClient, posting: Posting, *, user_id: int, signup_id: int, today: Any
) -> None:
    """A confirmed sign-up to a membership posting makes (or makes again) the person a member."""
    if posting.kind != PostingKind.MEMBERSHIP:
        return
    existing = await _member_of(connection, posting.organization_id, user_id)
    if existing is not None:
        if existing["status"] != MemberStatus.ACTIVE:
            await (
                Member.filter(id=existing["id"])
                .using_db(connection)
                .update(status=MemberStatus.ACTIVE, left_on=None, joined_on=today, signup_id=signup_id)
            )
        return
    number = await _next_member_no(connection, posting.organization_id)
    await Member.create(
        organization_id=posting.organization_id,
        user_id=user_id,
        member_no=number,
        joined_on=today,
        status=MemberStatus.ACTIVE,
        signup_id=signup_id,
        using_db=connection,
    )


async def _member_of(
    connection: BaseDBAsyncClient, organization_id: int, user_id: int
) -> dict[str, Any] | None:
    rows = (
        await Member.filter(organization_id=organization_id, user_id=user_id)
        .using_db(connection)
        .values("id", "status")
    )
    return rows[0] if rows else None


async def _next_member_no(connection: BaseDBAsyncClient, organization_id: int) -> int:
    """The organization's next member number: one atomic upsert (the same SQL on PostgreSQL and SQLite)."""
    rows = await connection.execute_query_dict(
        f"INSERT INTO {_COUNTERS} (organization_id, last_no) VALUES ({_mark(1)}, 1) "
        f"ON CONFLICT (organization_id) DO UPDATE SET last_no = {_COUNTERS}.last_no + 1 RETURNING last_no",
        [organization_id],
    )
    return int(rows[0]["last_no"])
