"""Appending leaves, inside the transaction of the change they record.

One sequence per organization (``translog_logs.next_index``). An append is one statement on
PostgreSQL: it increments the sequence, inserts the leaf at the index it got, and marks the log
pending, all in the caller's transaction. The sequence row stays locked until that transaction ends,
so a second append to the same log (another request, another process) waits for it: indexes are
assigned in commit order, a rollback gives its index back, and no index is ever skipped or shared.
Call it last before the commit, after every other row the transaction locks, so the log's row is
held as briefly as possible and always after the same other rows (no lock-order deadlocks).
SQLite runs one writer at a time, so the same statements in sequence do the same there.

The integrator (``integrate.py``) turns what is pending into nodes and a signed checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from ..db import dialect
from . import sql

# One round trip: the CTEs depend on the sequence's UPDATE, so they run once it holds the lock.
_APPEND_PG = (
    "WITH s AS (UPDATE translog_logs SET next_index = next_index + $2 WHERE organization_id = $1 "
    "RETURNING next_index - $2 AS first), "
    "p AS (INSERT INTO translog_pending (organization_id) SELECT $1 FROM s ON CONFLICT DO NOTHING) "
    "INSERT INTO translog_leaves (organization_id, idx, data, hash, entry_id, appended_at) "
    "SELECT $1, s.first + r.n - 1, decode(r.data, 'base64'), decode(r.hash, 'base64'), r.entry_id, $3 "
    "FROM s, ROWS FROM (jsonb_to_recordset($4::jsonb) AS (data text, hash text, entry_id bigint)) "
    "WITH ORDINALITY AS r(data, hash, entry_id, n) "
    "RETURNING idx"
)
_APPEND_ONE_PG = (
    "WITH s AS (UPDATE translog_logs SET next_index = next_index + 1 WHERE organization_id = $1 "
    "RETURNING next_index - 1 AS idx), "
    "p AS (INSERT INTO translog_pending (organization_id) SELECT $1 FROM s ON CONFLICT DO NOTHING) "
    "INSERT INTO translog_leaves (organization_id, idx, data, hash, entry_id, appended_at) "
    "SELECT $1, s.idx, $2, $3, $4, $5 FROM s RETURNING idx"
)


async def _create_log(organization_id: int) -> None:
    await sql.execute(
        "INSERT INTO translog_logs (organization_id, next_index) VALUES ($1, 0) ON CONFLICT DO NOTHING",
        organization_id,
    )


async def append(organization_id: int, data: bytes, *, entry_id: int | None = None) -> int:
    """Append one leaf to the organization's log in the current transaction; its index."""
    return (await append_many(organization_id, [data], entry_ids=[entry_id]))[0]


async def append_many(
    organization_id: int, leaves: Sequence[bytes], *, entry_ids: Sequence[int | None] | None = None
) -> list[int]:
    """Append leaves, in this order, to the organization's log in the current transaction; their indexes."""
    if not leaves:
        return []
    ids: list[int | None] = list(entry_ids) if entry_ids is not None else [None] * len(leaves)
    hashes = [hashlib.sha256(b"\x00" + data).digest() for data in leaves]
    now = datetime.now(UTC)
    for _ in range(2):
        indexes = await (_append_pg if dialect() == "postgres" else _append_sqlite)(
            organization_id, list(leaves), hashes, ids, now
        )
        if indexes:
            return indexes
        # The organization's first leaf: make its log, then append (a concurrent maker is harmless).
        await _create_log(organization_id)
    raise RuntimeError(f"log of organization {organization_id} could not be created")


async def _append_pg(
    organization_id: int, leaves: list[bytes], hashes: list[bytes], ids: list[int | None], now: datetime
) -> list[int]:
    if len(leaves) == 1:
        rows = await sql.fetch(_APPEND_ONE_PG, organization_id, leaves[0], hashes[0], ids[0], now)
        return [int(row["idx"]) for row in rows]
    batch = orjson.dumps(
        [
            {"data": base64.b64encode(d).decode(), "hash": base64.b64encode(h).decode(), "entry_id": e}
            for d, h, e in zip(leaves, hashes, ids, strict=True)
        ]
    ).decode()
    rows = await sql.fetch(_APPEND_PG, organization_id, len(leaves), now, batch)
    return sorted(int(row["idx"]) for row in rows)


async def _append_sqlite(
    organization_id: int, leaves: list[bytes], hashes: list[bytes], ids: list[int | None], now: datetime
) -> list[int]:
    rows = await sql.fetch(
        "UPDATE translog_logs SET next_index = next_index + $1 WHERE organization_id = $2 "
        "RETURNING next_index",
        len(leaves),
        organization_id,
    )
    if not rows:
        return []
    first = int(rows[0]["next_index"]) - len(leaves)
    await sql.execute_many(
        "INSERT INTO translog_leaves (organization_id, idx, data, hash, entry_id, appended_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [
            [organization_id, first + n, data, value, entry, now]
            for n, (data, value, entry) in enumerate(zip(leaves, hashes, ids, strict=True))
        ],
    )
    await sql.execute(
        "INSERT INTO translog_pending (organization_id) VALUES ($1) ON CONFLICT DO NOTHING", organization_id
    )
    return list(range(first, first + len(leaves)))
