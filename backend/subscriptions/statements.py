"""The statements behind the delivery bookkeeping that run for every message, written out in SQL.

Building them with the ORM (an object per row, a query built per row) was most of the worker's
event-loop time (bench/README.md, "notify"): here each is one statement per chunk of messages,
its rows read back as plain values. Only table names from the models are formatted in; every value
is a bound parameter (``?``, turned into ``$n`` on PostgreSQL). They run inside the caller's
``write_transaction``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import get_connection
from tortoise.transactions import in_transaction

from .. import db
from .models import Delivery, DeliveryStatus, SubscriptionConsent

_DELIVERIES = Delivery._meta.db_table
_CONSENTS = SubscriptionConsent._meta.db_table


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that writes, holding SQLite's write lock from its first statement.

    SQLite starts a plain BEGIN as a reader; a transaction that reads and then writes, while
    another process (a second worker, the server) committed in between, fails at once with
    "database is locked" instead of waiting out the busy timeout. A write that changes nothing
    takes the lock first, so concurrent writers queue instead. PostgreSQL needs nothing of the sort.
    """
    async with in_transaction() as connection:
        if db.dialect() == "sqlite":
            await connection.execute_query(f"UPDATE {Delivery._meta.db_table} SET id = id WHERE 0")  # noqa: S608
        yield


INSERT_COLUMNS = (
    "event_id, user_id, kind, template_id, status, reason, finished_at, next_attempt_at, created_at, "
    "attempts, retries, dead_letters, consent_spent"
)


async def insert_deliveries(rows: Sequence[tuple[Any, ...]], now: datetime) -> None:
    """Insert (event, user, kind, template, status, reason, finished_at) rows; existing pairs stay."""
    at = db_value("created_at", now)
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)"] * len(batch))
        params: list[Any] = []
        for event_id, user_id, kind, template_id, status, reason, finished in batch:
            finished_at = db_value("finished_at", finished) if finished else None
            params += [event_id, user_id, kind, template_id, status, reason, finished_at, at, at, False]
        await get_connection("default").execute_query(
            sql(
                f"INSERT INTO {_DELIVERIES} ({INSERT_COLUMNS}) VALUES {values} "  # noqa: S608
                "ON CONFLICT (event_id, user_id) DO NOTHING"
            ),
            params,
        )


@dataclass(frozen=True)
class Taken:
    id: int
    event_id: int
    user_id: int
    kind: str
    template_id: str
    consent_spent: bool
    attempts: int


async def take(ids: Sequence[int], token: str, now: datetime) -> list[Taken]:
    """Move the pending, due deliveries among ``ids`` to ``sending`` under ``token``; what they are.

    One statement, its rows read back by RETURNING as plain values: building ORM objects for them
    was a fifth of the worker's event-loop time (bench/README.md, "notify").
    """
    at = db_value("claimed_at", now)
    marks = ", ".join(["?"] * len(ids))
    rows = await get_connection("default").execute_query_dict(
        sql(
            f"UPDATE {_DELIVERIES} SET status = ?, claim_token = ?, claimed_at = ?, "  # noqa: S608
            f"queued_until = NULL WHERE id IN ({marks}) AND status = ? AND next_attempt_at <= ? "
            "RETURNING id, event_id, user_id, kind, template_id, consent_spent, attempts"
        ),
        [DeliveryStatus.SENDING.value, token, at, *ids, DeliveryStatus.PENDING.value, at],
    )
    taken = [
        Taken(
            id=int(r["id"]),
            event_id=int(r["event_id"]),
            user_id=int(r["user_id"]),
            kind=str(r["kind"]),
            template_id=str(r["template_id"]),
            consent_spent=bool(r["consent_spent"]),
            attempts=int(r["attempts"]),
        )
        for r in rows
    ]
    return sorted(taken, key=lambda t: t.id)


def db_value(field: str, value: Any) -> Any:
    """``value`` as the ORM writes it into that column of the deliveries (UTC text on SQLite)."""
    return Delivery._meta.fields_map[field].to_db_value(value, Delivery)


def sql(text: str) -> str:
    """``?`` placeholders as the database wants them (``$1, $2 ...`` on PostgreSQL)."""
    if db.dialect() != "postgres":
        return text
    numbers = iter(range(1, text.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", text)


async def spend_consents(wanted: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Take one consent per (user, template) asked, where one is left; how many each got.

    One statement per round, each round taking at most one consent per distinct pair (a pair asked
    twice in one chunk goes into a second round): ``remaining > 0`` is checked against the row as
    it is when the UPDATE locks it, so concurrent workers never take it below zero.
    """
    rounds: list[list[tuple[int, str]]] = []
    for pair in wanted:
        for taken in rounds:
            if pair not in taken:
                taken.append(pair)
                break
        else:
            rounds.append([pair])
    granted: dict[tuple[int, str], int] = {}
    connection = get_connection("default")
    for pairs in rounds:
        values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS VARCHAR(128)))"] * len(pairs))
        rows = await connection.execute_query_dict(
            sql(
                f"UPDATE {_CONSENTS} SET remaining = remaining - 1 "  # noqa: S608 - only our table names
                f"WHERE (user_id, template_id) IN (VALUES {values}) AND remaining > 0 "
                "RETURNING user_id, template_id"
            ),
            [v for pair in pairs for v in pair],
        )
        for row in rows:
            key = (int(row["user_id"]), str(row["template_id"]))
            granted[key] = granted.get(key, 0) + 1
    return granted


async def record_sent(sent: Sequence[tuple[int, str, str]], now: datetime) -> None:
    """Mark (id, claim token, msgid) deliveries sent in one statement, where the claim is still theirs."""
    values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS VARCHAR(32)), CAST(? AS VARCHAR(32)))"] * len(sent))
    params: list[Any] = [DeliveryStatus.SENT.value, db_value("finished_at", now)]
    for delivery_id, token, msgid in sent:
        params += [delivery_id, token, msgid]
    await get_connection("default").execute_query(
        sql(
            f"UPDATE {_DELIVERIES} SET status = ?, finished_at = ?, msgid = v.column3, "  # noqa: S608
            "reason = NULL, last_error = NULL, claim_token = NULL "
            f"FROM (VALUES {values}) AS v "
            f"WHERE {_DELIVERIES}.id = v.column1 AND {_DELIVERIES}.claim_token = v.column2"
        ),
        params,
    )
