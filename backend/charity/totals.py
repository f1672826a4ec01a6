"""A project's kept totals: spread over a few rows, so that donations to one project do not queue.

A total kept in one row makes every donation to a project wait for the previous one's commit: the
row stays locked from its UPDATE to the end of the transaction (a WAL flush included), and a popular
campaign records one gift at a time. So the totals live in ``SLOTS`` rows per project
(``charity_project_tallies``, and ``charity_month_totals`` per month): a donation adds to one slot
picked at random, and a reader adds up the slots (at most ``SLOTS`` rows; the ledger itself is never
summed). Two donations meet on a row one time in ``SLOTS``.

Spending lives in slot 0 only, which exists from the project's creation. An expenditure is one
conditional UPDATE of slot 0: ``WHERE (raised in every slot) - spent_fen >= amount``. On PostgreSQL a
second expenditure waits for the first's lock on slot 0 and re-checks the condition against the row
as the first left it (its ``spent_fen``); the sum of raised may miss donations committed meanwhile,
which only makes the check stricter. SQLite runs one writer at a time. Either way, concurrent
expenditures never spend beyond the balance.

Every statement here runs in the caller's transaction, at its end (the shorter a row stays locked,
the better). The SQL is the same on both databases (``INSERT ... ON CONFLICT DO UPDATE``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise import get_connection

from ..db import dialect

SLOTS = 16
SPENDING_SLOT = 0
BEIJING_OFFSET = timedelta(hours=8)


@dataclass(frozen=True)
class Totals:
    raised_fen: int = 0
    spent_fen: int = 0
    donation_count: int = 0
    entry_count: int = 0

    @property
    def balance_fen(self) -> int:
        return self.raised_fen - self.spent_fen


def month_of(moment: datetime | date) -> str:
    """The month (Beijing time) an entry counts in on the chart: ``2026-11``."""
    if isinstance(moment, datetime):
        moment = (moment.astimezone(UTC) + BEIJING_OFFSET).date()
    return f"{moment.year:04d}-{moment.month:02d}"


async def _execute(sql: str, *values: Any) -> int:
    """Run one statement with ``$1``-style parameters on either database; the rows it changed."""
    if dialect() == "sqlite":
        for number in range(len(values), 0, -1):
            sql = sql.replace(f"${number}", "?")
    changed, _ = await get_connection("default").execute_query(sql, list(values))
    return int(changed)


async def _fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    if dialect() == "sqlite":
        for number in range(len(values), 0, -1):
            sql = sql.replace(f"${number}", "?")
    return list(await get_connection("default").execute_query_dict(sql, list(values)))


async def _add(project_id: int, slot: int, *, raised: int, spent: int, donations: int, entries: int) -> None:
    await _execute(
        "INSERT INTO charity_project_tallies "
        "(project_id, slot, raised_fen, spent_fen, donation_count, entry_count) "
        "VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (project_id, slot) DO UPDATE SET "
        "raised_fen = charity_project_tallies.raised_fen + excluded.raised_fen, "
        "spent_fen = charity_project_tallies.spent_fen + excluded.spent_fen, "
        "donation_count = charity_project_tallies.donation_count + excluded.donation_count, "
        "entry_count = charity_project_tallies.entry_count + excluded.entry_count",
        project_id,
        slot,
        raised,
        spent,
        donations,
        entries,
    )


async def _add_to_month(project_id: int, month: str, slot: int, *, raised: int, spent: int) -> None:
    await _execute(
        "INSERT INTO charity_month_totals (project_id, month, slot, raised_fen, spent_fen) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project_id, month, slot) DO UPDATE SET "
        "raised_fen = charity_month_totals.raised_fen + excluded.raised_fen, "
        "spent_fen = charity_month_totals.spent_fen + excluded.spent_fen",
        project_id,
        month,
        slot,
        raised,
        spent,
    )


async def _add_to_category(project_id: int, category: str, spent: int) -> None:
    await _execute(
        "INSERT INTO charity_category_totals (project_id, category, spent_fen) VALUES ($1, $2, $3) "
        "ON CONFLICT (project_id, category) DO UPDATE SET "
        "spent_fen = charity_category_totals.spent_fen + excluded.spent_fen",
        project_id,
        category,
        spent,
    )


async def open_project(project_id: int) -> None:
    """Create the spending slot of a new project (in its creation's transaction)."""
    await _add(project_id, SPENDING_SLOT, raised=0, spent=0, donations=0, entries=0)


async def count_donation(project_id: int, *, amount: int, received_at: datetime, sign: int = 1) -> None:
    """Add a donation (sign 1), or take one back for its correction (sign -1)."""
    slot = random.randrange(SLOTS)
    await _add(project_id, slot, raised=sign * amount, spent=0, donations=sign, entries=1)
    await _add_to_month(project_id, month_of(received_at), slot, raised=sign * amount, spent=0)


async def count_donations(project_id: int, *, count: int, months: dict[str, int]) -> None:
    """Add an import's donations at once (``months``: month -> fen)."""
    slot = random.randrange(SLOTS)
    total = sum(months.values())
    await _add(project_id, slot, raised=total, spent=0, donations=count, entries=count)
    for month, amount in sorted(months.items()):
        await _add_to_month(project_id, month, slot, raised=amount, spent=0)


async def count_expenditure(
    project_id: int, *, amount: int, category: str, paid_on: date, check_balance: bool, sign: int = 1
) -> bool:
    """Add an expenditure (or take one back, sign -1); False when it would spend beyond the balance."""
    condition = (
        " AND (SELECT SUM(raised_fen) FROM charity_project_tallies WHERE project_id = $3) - spent_fen >= $4"
        if check_balance
        else ""
    )
    values: list[Any] = [sign * amount, project_id]
    if check_balance:
        values += [project_id, amount]
    # Only constants are formatted into the statement; values are parameters.
    sql = f"UPDATE charity_project_tallies SET spent_fen = spent_fen + $1, entry_count = entry_count + 1 WHERE project_id = $2 AND slot = {SPENDING_SLOT}{condition}"  # noqa: E501, S608
    changed = await _execute(sql, *values)
    if not changed:
        return False
    await _add_to_category(project_id, category, sign * amount)
    await _add_to_month(project_id, month_of(paid_on), SPENDING_SLOT, raised=0, spent=sign * amount)
    return True


async def of_projects(project_ids: list[int]) -> dict[int, Totals]:
    """The totals of each project (the sum of its slots)."""
    if not project_ids:
        return {}
    marks = ", ".join(f"${i}" for i in range(1, len(project_ids) + 1))
    # Only placeholders are formatted into the statement; the ids are parameters.
    sql = f"SELECT project_id, SUM(raised_fen) AS raised, SUM(spent_fen) AS spent, SUM(donation_count) AS donations, SUM(entry_count) AS entries FROM charity_project_tallies WHERE project_id IN ({marks}) GROUP BY project_id"  # noqa: E501, S608
    rows = await _fetch(sql, *project_ids)
    return {
        int(r["project_id"]): Totals(
            int(r["raised"]), int(r["spent"]), int(r["donations"]), int(r["entries"])
        )
        for r in rows
    }


async def of_project(project_id: int) -> Totals:
    """One project's totals."""
    return (await of_projects([project_id])).get(project_id, Totals())


async def by_month(project_id: int) -> list[dict[str, Any]]:
    """Income and spending per month, oldest first; months that net to nothing left out."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in await _fetch(
        "SELECT month, SUM(raised_fen) AS raised, SUM(spent_fen) AS spent FROM charity_month_totals "
        "WHERE project_id = $1 GROUP BY month ORDER BY month",
        project_id,
    ):
        months[str(row["month"])] = [int(row["raised"]), int(row["spent"])]
    return [
        {"month": month, "raised_fen": raised, "spent_fen": spent}
        for month, (raised, spent) in sorted(months.items())
        if raised or spent
    ]
