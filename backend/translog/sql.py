"""Running hand-written statements with ``$1``-style parameters on PostgreSQL or SQLite."""

from __future__ import annotations

from typing import Any

from tortoise import get_connection

from ..db import dialect


def _sqlite(sql: str, count: int) -> str:
    # SQLite's numbered parameters: ``$2`` before ``$1``, or ``$1`` twice, bind as on PostgreSQL.
    for number in range(count, 0, -1):
        sql = sql.replace(f"${number}", f"?{number}")
    return sql


async def execute(sql: str, *values: Any) -> int:
    """Run one statement in the current transaction (if any); the rows it changed."""
    if dialect() == "sqlite":
        sql = _sqlite(sql, len(values))
    changed, _ = await get_connection("default").execute_query(sql, list(values))
    return int(changed)


async def fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    """Rows of one statement (an INSERT/UPDATE ... RETURNING too) as dicts."""
    if dialect() == "sqlite":
        sql = _sqlite(sql, len(values))
    return list(await get_connection("default").execute_query_dict(sql, list(values)))


async def execute_many(sql: str, rows: list[list[Any]]) -> None:
    """One statement for many rows (SQLite's executemany; asyncpg's on PostgreSQL)."""
    if not rows:
        return
    if dialect() == "sqlite":
        sql = _sqlite(sql, len(rows[0]))
    await get_connection("default").execute_many(sql, rows)
