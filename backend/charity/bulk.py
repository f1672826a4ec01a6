"""Writing an import's donations and their events in bulk, without an ORM object per row.

Building a Tortoise model per row costs about as much CPU as the rest of a 100,000-row import
together, so the import writes plain rows: on PostgreSQL one ``INSERT ... SELECT FROM
jsonb_to_recordset($1)`` per batch (the batch is one JSON parameter, as the check-in batch is,
backend/partybuilding/checkins.py), which answers the new ids with ``RETURNING``; on SQLite an
``executemany`` and a read of the ids back (SQLite runs one writer at a time, so every row of this
channel and project above the largest id read before the insert is one of ours). Call both inside
the import's transaction.
"""

from __future__ import annotations

from typing import Any

import orjson
from tortoise import get_connection

from ..db import dialect

BATCH = 5000
# Column name -> PostgreSQL type, in the order rows carry them.
DONATION_COLUMNS = {
    "project_id": "bigint",
    "organization_id": "bigint",
    "kind": "text",
    "amount_fen": "bigint",
    "received_at": "timestamptz",
    "channel": "text",
    "external_ref": "text",
    "donor_display": "text",
    "donor_public": "text",
    "donor_name_encrypted": "text",
    "receipt_code": "text",
    "advance": "boolean",
    "recorded_by_id": "bigint",
    "recorded_at": "timestamptz",
}
EVENT_COLUMNS = {
    "kind": "text",
    "payload": "jsonb",
    "recipients": "jsonb",
    "idempotency_key": "text",
    "status": "text",
    "attempts": "integer",
    "available_at": "timestamptz",
    "created_at": "timestamptz",
}


def _recordset_insert(table: str, columns: dict[str, str], suffix: str = "") -> str:
    names = ", ".join(columns)
    types = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    # Table and column names are this module's constants, never input.
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
        f"FROM jsonb_to_recordset($1::jsonb) AS r({types}){suffix}"
    )


def _values_insert(table: str, columns: dict[str, str], suffix: str = "") -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){suffix}"  # noqa: S608


async def insert_donations(rows: list[dict[str, Any]], *, project_id: int, channel: str) -> dict[str, int]:
    """Insert donation rows (keys: ``DONATION_COLUMNS``); their ids by external reference."""
    connection = get_connection("default")
    ids: dict[str, int] = {}
    if dialect() == "postgres":
        sql = _recordset_insert("charity_ledger_entries", DONATION_COLUMNS, " RETURNING id, external_ref")
        for start in range(0, len(rows), BATCH):
            batch = orjson.dumps(rows[start : start + BATCH], option=orjson.OPT_UTC_Z).decode()
            # execute_query_dict: Tortoise's execute_query drops what an INSERT returns.
            returned = await connection.execute_query_dict(sql, [batch])
            ids.update((record["external_ref"], int(record["id"])) for record in returned)
        return ids
    _, before = await connection.execute_query(
        "SELECT COALESCE(MAX(id), 0) AS top FROM charity_ledger_entries"
    )
    await connection.execute_many(
        _values_insert("charity_ledger_entries", DONATION_COLUMNS),
        [[row[name] for name in DONATION_COLUMNS] for row in rows],
    )
    _, inserted = await connection.execute_query(
        "SELECT id, external_ref FROM charity_ledger_entries WHERE project_id = ? AND channel = ? AND id > ?",
        [project_id, channel, int(before[0]["top"])],
    )
    return {record["external_ref"]: int(record["id"]) for record in inserted}


async def insert_events(events: list[dict[str, Any]]) -> None:
    """Insert outbox events (keys: ``EVENT_COLUMNS``), skipping idempotency keys already there."""
    connection = get_connection("default")
    if dialect() == "postgres":
        sql = _recordset_insert("outbox_events", EVENT_COLUMNS, " ON CONFLICT (idempotency_key) DO NOTHING")
        for start in range(0, len(events), BATCH):
            await connection.execute_query(
                sql, [orjson.dumps(events[start : start + BATCH], option=orjson.OPT_UTC_Z).decode()]
            )
        return
    await connection.execute_many(
        _values_insert("outbox_events", EVENT_COLUMNS, " ON CONFLICT (idempotency_key) DO NOTHING"),
        [
            [
                orjson.dumps(event[name]).decode() if kind == "jsonb" else event[name]
                for name, kind in EVENT_COLUMNS.items()
            ]
            for event in events
        ],
    )
