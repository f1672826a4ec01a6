"""The check-in write: exactly once, in one statement, against the activity as it was checked.

Everyone at a meeting scans within the same minute, so this path is built for bursts:

* **Activity rules are cached per process** (``ActivityRulesCache``): the window, the code's
  secret, the geofence. They are checked in Python with no I/O. The cache cannot serve a stale
  rule: the insert below only writes while the activity row still has the ``revision`` the rules
  were read at, and a write that finds another revision (or no activity) reloads and checks again.
* **One statement writes the check-in and its event** on PostgreSQL:
  ``WITH checkin AS (INSERT ... SELECT ... FROM party_activities ... ON CONFLICT DO NOTHING
  RETURNING id), event AS (INSERT INTO outbox_events ... SELECT ... FROM checkin) ...``.
  A single statement is its own transaction: the event exists exactly when the check-in does, no
  transaction is left open between round trips, and a duplicate does nothing and holds no lock
  once the statement ends.
  Whether the member is expected (branch or group) is part of the same statement, so a membership
  change cannot slip between the check and the write. SQLite cannot put an INSERT in a WITH: there
  the same two inserts run in one short transaction.
* ``RETURNING id`` tells the request that wrote the row; every other request for the same member
  gets nothing back and reads the earlier record.
* **On PostgreSQL the check-ins asked together share that statement** (the batch as one JSON
  parameter read by ``jsonb_to_recordset``, backend/batching.py): a burst arrives together, and
  one statement for many members costs the worker about half the CPU of one each
  (bench/README.md). One statement is on its way at a time per process; the check-ins asked
  meanwhile go in the next (group commit), so under load a statement carries tens of them. A
  member who appears twice in a batch is sent once; the other request reads the row the first
  one wrote.

The SQL is written out here rather than built by the ORM because building it was most of the cost
of a check-in (bench/README.md, "The check-in burst"); the column lists come from the models, and
tests/partybuilding/test_checkins.py reads what it wrote back through them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise import get_connection
from tortoise.transactions import in_transaction

from .. import db
from ..batching import Coalescer, SingleFlight
from ..events.models import OutboxEvent, OutboxStatus
from ..recruitment.models import Signup, SignupStatus
from .models import Activity, AttendanceStatus, BranchMember, Checkin, Expected


@dataclass(frozen=True, slots=True)
class ActivityRules:
    """What a check-in is checked against, as read at one revision of the activity."""

    id: int
    revision: int
    title: str
    expected: Expected
    branch_id: int | None
    expected_group: str | None
    code_secret: str
    code_interval_s: int
    checkin_opens_at: datetime
    checkin_closes_at: datetime
    late_after: datetime
    latitude: float
    longitude: float
    radius_m: int
    posting_id: int | None

    @classmethod
    def of(cls, activity: Activity) -> ActivityRules:
        # Every field is the activity's attribute of the same name (``expected`` already an enum).
        # Datetimes in UTC, with the tzinfo the request's ``now`` has: comparing aware datetimes
        # whose tzinfo objects differ asks both for their offsets, on every check-in.
        values = {f.name: getattr(activity, f.name) for f in fields(cls)}
        return cls(**{name: _in_utc(value) for name, value in values.items()})


def _in_utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


class ActivityRulesCache:
    """Activity rules by id, in this process, the most recently used first out of ``size``.

    Not a source of truth: ``insert`` checks the revision in the database, so an entry can only be
    out of date for as long as it takes one write to notice.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[int, ActivityRules] = OrderedDict()
        # One read per activity at a time on a miss: the first scans of a burst arrive together, and
        # without this each of them would read the same row.
        self._loading: SingleFlight[int, ActivityRules | None] = SingleFlight()

    async def get(self, activity_id: int) -> ActivityRules | None:
        rules = self._entries.get(activity_id)
        if rules is not None:
            self._entries.move_to_end(activity_id)
            return rules
        return await self._loading(activity_id, lambda: self.read(activity_id))

    async def read(self, activity_id: int) -> ActivityRules | None:
        """Read the activity now (not joining a read in flight, which may predate a change)."""
        activity = await Activity.get_or_none(id=activity_id)
        if activity is None:
            self._entries.pop(activity_id, None)
            return None
        rules = ActivityRules.of(activity)
        self._entries[activity_id] = rules
        self._entries.move_to_end(activity_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return rules

    def clear(self) -> None:
        self._entries.clear()


activity_rules = ActivityRulesCache()


@dataclass(slots=True)
class NewCheckin:
    """A check-in to write; ``saved_as`` gives it the id the database chose.

    The answer to the member is built from this, not from a Checkin model: building a model costs as
    much as the rest of the write's own code, and every member at a meeting waits on it.
    """

    activity_id: int
    user_id: int
    status: AttendanceStatus
    checked_in_at: datetime
    distance_m: float | None
    accuracy_m: float | None
    id: int | None = None

    def saved_as(self, checkin_id: int) -> NewCheckin:
        self.id = checkin_id
        return self


@dataclass(frozen=True, slots=True)
class NewEvent:
    kind: str
    payload: dict[str, Any]
    recipients: list[int]
    idempotency_key: str


def _db(model: Any, field: str, value: Any) -> Any:
    """A value as the ORM would store it in that column (JSON text, UTC datetimes)."""
    return model._meta.fields_map[field].to_db_value(value, None)


_CHECKIN_TABLE = Checkin._meta.db_table
_ACTIVITY_TABLE = Activity._meta.db_table
_MEMBER_TABLE = BranchMember._meta.db_table
_OUTBOX_TABLE = OutboxEvent._meta.db_table
_SIGNUP_TABLE = Signup._meta.db_table
_CHECKIN_COLUMNS = "activity_id, user_id, status, checked_in_at, distance_m, accuracy_m"
_OUTBOX_COLUMNS = "kind, payload, recipients, idempotency_key, status, attempts, available_at, created_at"


def _admitted(user: str, activity_id: str, revision: str, *, joined: str = "") -> str:
    """FROM/WHERE selecting the activity row only while the member may check in at this revision.

    ``joined``: more FROM items the values come from (the batch's ``input``).
    """
    # Only module constants are formatted into the SQL (table names from the models, enum values);
    # every value is a bound parameter.
    return (
        f"FROM {joined}{_ACTIVITY_TABLE} a WHERE a.id = {activity_id} AND a.revision = {revision} "
        f"AND (a.expected = '{Expected.OPEN.value}' OR EXISTS (SELECT 1 FROM {_MEMBER_TABLE} m "
        f"WHERE m.branch_id = a.branch_id AND m.user_id = {user} "
        f"AND (a.expected = '{Expected.BRANCH.value}' OR m.group_name = a.expected_group))) "
        # The check-in of a volunteer posting: only its volunteers with a confirmed seat.
        f"AND (a.posting_id IS NULL OR EXISTS (SELECT 1 FROM {_SIGNUP_TABLE} s "
        f"WHERE s.posting_id = a.posting_id AND s.active_user_id = {user} "
        f"AND s.status = '{SignupStatus.CONFIRMED.value}'))"
    )


# One statement for every check-in of a batch, each row as the single-row SQLite statement would
# write it. $1 is the batch as one JSON array of rows: asyncpg would encode eleven arrays element by
# element, with an abstract-class check on each, in the time the members of the batch wait. $2 is
# the events' status.
_POSTGRES_SQL = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
        activity_id bigint, revision int, user_id bigint, status text, at timestamptz,
        distance_m float8, accuracy_m float8, kind text, payload jsonb, recipients jsonb,
        idempotency_key text)
), checkin AS (
    INSERT INTO {_CHECKIN_TABLE} ({_CHECKIN_COLUMNS})
    SELECT a.id, i.user_id, i.status, i.at, i.distance_m, i.accuracy_m
    {_admitted("i.user_id", "i.activity_id", "i.revision", joined="input i, ")}
    ON CONFLICT (activity_id, user_id) DO NOTHING
    RETURNING id, activity_id, user_id
), event AS (
    INSERT INTO {_OUTBOX_TABLE} ({_OUTBOX_COLUMNS})
    SELECT i.kind, i.payload, i.recipients, i.idempotency_key, $2::text, 0, i.at, i.at
    FROM checkin c JOIN input i ON i.activity_id = c.activity_id AND i.user_id = c.user_id
    ON CONFLICT (idempotency_key) DO NOTHING
)
SELECT id, activity_id, user_id FROM checkin
"""

_SQLITE_CHECKIN_SQL = f"""
INSERT INTO {_CHECKIN_TABLE} ({_CHECKIN_COLUMNS})
SELECT a.id, :user, :status, :at, :distance, :accuracy
{_admitted(":user", ":activity", ":revision")}
ON CONFLICT (activity_id, user_id) DO NOTHING
RETURNING id
"""

_SQLITE_OUTBOX_SQL = f"""
INSERT INTO {_OUTBOX_TABLE} ({_OUTBOX_COLUMNS})
VALUES (:kind, :payload, :recipients, :key, :status, 0, :at, :at)
ON CONFLICT (idempotency_key) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class _Write:
    rules: ActivityRules
    checkin: NewCheckin
    event: NewEvent


async def insert(rules: ActivityRules, checkin: NewCheckin, event: NewEvent) -> int | None:
    """Write the check-in and its event; the new check-in's id, or None when nothing was written.

    Nothing is written when the member had already checked in, is not expected at the activity, or
    the activity changed (or was deleted) since ``rules`` were read: the caller tells which.
    On PostgreSQL the check-ins asked together (the same loop turn, or while the previous statement
    runs) go as one statement.
    """
    if db.dialect() == "postgres":
        return await _postgres_writes(_Write(rules, checkin, event))
    return await _sqlite_insert(rules, checkin, event)


async def _postgres_batch(writes: list[_Write]) -> list[int | None]:
    # The same member twice in one batch (parallel scans): only the first goes into the statement,
    # the others get None and read the first's row, committed by the time they see their answer.
    first_of: dict[tuple[int, int], int] = {}
    for index, write in enumerate(writes):
        first_of.setdefault((write.rules.id, write.checkin.user_id), index)
    sent = [writes[index] for index in sorted(first_of.values())]
    batch = [
        {
            "activity_id": w.rules.id,
            "revision": w.rules.revision,
            "user_id": w.checkin.user_id,
            "status": w.checkin.status,
            "at": w.checkin.checked_in_at,  # aware; orjson writes the offset
            "distance_m": w.checkin.distance_m,
            "accuracy_m": w.checkin.accuracy_m,
            "kind": w.event.kind,
            "payload": w.event.payload,
            "recipients": w.event.recipients,
            "idempotency_key": w.event.idempotency_key,
        }
        for w in sent
    ]
    rows = await get_connection("default").execute_query_dict(
        _POSTGRES_SQL, [orjson.dumps(batch).decode(), OutboxStatus.PENDING.value]
    )
    written = {(row["activity_id"], row["user_id"]): int(row["id"]) for row in rows}
    return [
        written.get((w.rules.id, w.checkin.user_id))
        if first_of[(w.rules.id, w.checkin.user_id)] == index
        else None
        for index, w in enumerate(writes)
    ]


_postgres_writes: Coalescer[_Write, int | None] = Coalescer(_postgres_batch, max_in_flight=1)


async def _sqlite_insert(rules: ActivityRules, checkin: NewCheckin, event: NewEvent) -> int | None:
    at = _db(Checkin, "checked_in_at", checkin.checked_in_at)
    payload = _db(OutboxEvent, "payload", event.payload)
    recipients = _db(OutboxEvent, "recipients", event.recipients)
    async with in_transaction() as transaction:
        rows = await transaction.execute_query_dict(
            _SQLITE_CHECKIN_SQL,
            {
                "activity": rules.id,
                "revision": rules.revision,
                "user": checkin.user_id,
                "status": checkin.status,
                "at": at,
                "distance": checkin.distance_m,
                "accuracy": checkin.accuracy_m,
            },  # type: ignore[arg-type]  # sqlite3 takes named parameters as a mapping
        )
        if not rows:
            return None
        await transaction.execute_query_dict(
            _SQLITE_OUTBOX_SQL,
            {
                "kind": event.kind,
                "payload": payload,
                "recipients": recipients,
                "key": event.idempotency_key,
                "status": OutboxStatus.PENDING.value,
                "at": at,
            },  # type: ignore[arg-type]
        )
        return int(rows[0]["id"])
