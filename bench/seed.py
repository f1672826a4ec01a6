"""Seed a migrated Gongxin database (after `gongxin demo-data`) with many organizations, fast.

    .venv/bin/python bench/seed.py postgres://postgres@127.0.0.1:5432/gongxin_bench --count 100000
    .venv/bin/python bench/seed.py sqlite:///tmp/bench.sqlite3 --count 100000

bench/run.py calls ``seed()`` before it starts the server when a selected scenario needs the
1,000,000 organizations (search, verify). Going through `gongxin import-orgs --apply` instead is the realistic
path but takes over a minute for 100,000 rows on PostgreSQL here (see bench/README.md), too long for
every `make bench`; this writes the same rows (bench/orgdata.py, serials ``MJB...``) with one
``COPY`` (asyncpg) or one ``executemany`` (SQLite), then ``ANALYZE``s the table.

Columns follow the Tortoise model: every column of ``Organization`` that the seed does not set gets
the model's default, so a new column with a default needs no change here (one without a default and
not nullable is an error that names it). Authorities are looked up by region code: 440000 and the
other provinces exist after `gongxin migrate`, 440300 and 440305 after `gongxin demo-data`.
No audit entries are written: the search and verification paths do not read them. The name search
index (``org_search_names``, ``org_name_grams``) is written as the app's ``search_index.sync`` would,
with the same functions, in sorted order (``COPY`` on PostgreSQL, so each posting lands at the right
end of the primary key's btree).
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import sqlite3
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from orgdata import PLACES, OrgRow, organizations

SERIAL_PREFIX = "MJB"
SEED_TIMEOUT_S = 900


class SeedError(Exception):
    """The database is not ready for the seed (not migrated, no demo data, a column without default)."""


@dataclass
class SeedResult:
    count: int
    database: str
    generate_s: float  # building the rows in Python
    write_s: float  # COPY / executemany and ANALYZE
    total_s: float
    organizations_after: int

    def summary(self) -> str:
        return (
            f"seeded {self.count:,} organizations into {self.database} in {self.total_s:.1f} s "
            f"(generate {self.generate_s:.1f} s, write {self.write_s:.1f} s); "
            f"{self.organizations_after:,} organizations in all"
        )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def columns_and_defaults() -> tuple[str, list[str], dict[str, Any]]:
    """The table, its columns (without generated ones) and the model default of each column."""
    from backend.registry.models import Organization

    meta = Organization._meta
    columns: list[str] = []
    defaults: dict[str, Any] = {}
    for name, column in meta.fields_db_projection.items():
        if name in meta.generated_db_fields:
            continue
        field = meta.fields_map[name]
        columns.append(column)
        default = field.default() if callable(field.default) else field.default
        defaults[column] = _plain(default)
    for fk_name in meta.fk_fields:  # authority -> authority_id
        source = meta.fields_map[fk_name].source_field or f"{fk_name}_id"
        columns.append(source)
        defaults[source] = None
    return meta.db_table, columns, defaults


def build_records(
    rows: list[OrgRow], authority_ids: dict[str, int], columns: list[str], defaults: dict[str, Any]
) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    records = []
    for row in rows:
        values = {
            **defaults,
            "credit_code": row.credit_code,
            "name": row.name,
            "kind": row.kind,
            "status": "active",
            "authority_id": authority_ids[row.place.authority_region],
            "region_code": row.place.authority_region,
            "legal_representative": row.legal_representative,
            "address": row.address,
            "business_scope": row.business_scope,
            "supervising_unit": row.supervising_unit,
            "registered_on": row.registered_on,
            "registered_capital_fen": row.capital_wan * 10_000 * 100,
            "credit_state": "normal",
            "check_digit_exception": False,
            "record_version": 1,
            "created_at": now,
            "updated_at": now,
        }
        records.append(tuple(values[c] for c in columns))
    if records:
        _check_required(columns, records[0])
    return records


def _check_required(columns: list[str], first: tuple[Any, ...]) -> None:
    """A NOT NULL column that neither the seed nor the model's default fills is named, not a COPY error."""
    from backend.registry.models import Organization

    meta = Organization._meta
    nullable = {column for name, column in meta.fields_db_projection.items() if meta.fields_map[name].null}
    for column, value in zip(columns, first, strict=True):
        if value is None and column not in nullable:
            raise SeedError(
                f"organizations.{column} is NOT NULL without a model default: set it in bench/seed.py"
            )


def index_rows(organizations: Iterable[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[int]]:
    """The search index's rows for these (id, name): the name keys, and every posting, sorted."""
    from backend.registry import search_index

    keys: list[tuple[int, str]] = []
    postings: list[int] = []
    for organization_id, name in organizations:
        key = search_index.normalize(name)
        keys.append((organization_id, key))
        postings.extend(search_index.postings(key, organization_id))
    postings.sort()
    return keys, postings


def _needed_regions() -> list[str]:
    return sorted({p.authority_region for p in PLACES})


async def _seed_postgres(url: str, rows: list[OrgRow]) -> tuple[float, int]:
    import asyncpg

    table, columns, defaults = columns_and_defaults()
    conn = await asyncpg.connect(url, timeout=5, command_timeout=SEED_TIMEOUT_S)
    try:
        found = dict(
            await conn.fetch(
                "SELECT region_code, id FROM authorities WHERE region_code = ANY($1::text[])",
                _needed_regions(),
            )
        )
        missing = sorted(set(_needed_regions()) - set(found))
        if missing:
            raise SeedError(f"no authorities for {', '.join(missing)}: run `gongxin migrate` and `demo-data`")
        records = build_records(rows, found, columns, defaults)
        started = time.perf_counter()
        before = int(await conn.fetchval(f'SELECT coalesce(max(id), 0) FROM "{table}"'))  # noqa: S608
        async with conn.transaction():
            await conn.copy_records_to_table(table, records=records, columns=columns)
            names = await conn.fetch(f'SELECT id, name FROM "{table}" WHERE id > $1', before)  # noqa: S608
            keys, postings = index_rows((r["id"], r["name"]) for r in names)
            await conn.copy_records_to_table(
                "org_search_names", records=keys, columns=["organization_id", "name_key"]
            )
            for start in range(0, len(postings), 1_000_000):
                chunk = postings[start : start + 1_000_000]
                await conn.copy_records_to_table(
                    "org_name_grams", records=[(k,) for k in chunk], columns=["key"]
                )
        for analyzed in (table, "org_search_names", "org_name_grams"):
            # VACUUM sets the visibility map, so the index's range scans need not visit the heap.
            await conn.execute(f'VACUUM ANALYZE "{analyzed}"')
        write_s = time.perf_counter() - started
        after = int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))  # noqa: S608
    finally:
        await conn.close()
    return write_s, after


def _seed_sqlite(path: str, rows: list[OrgRow]) -> tuple[float, int]:
    table, columns, defaults = columns_and_defaults()
    conn = sqlite3.connect(path, timeout=30)
    try:
        regions = _needed_regions()
        marks = ",".join("?" * len(regions))
        found = dict(
            conn.execute(f"SELECT region_code, id FROM authorities WHERE region_code IN ({marks})", regions)  # noqa: S608
        )
        missing = sorted(set(regions) - set(found))
        if missing:
            raise SeedError(f"no authorities for {', '.join(missing)}: run `gongxin migrate` and `demo-data`")
        records = [
            tuple(
                # Tortoise stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff+00:00", dates ISO.
                str(v) if isinstance(v, datetime) else v.isoformat() if hasattr(v, "isoformat") else v
                for v in record
            )
            for record in build_records(rows, found, columns, defaults)
        ]
        started = time.perf_counter()
        names = ", ".join(f'"{c}"' for c in columns)
        before = int(conn.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"').fetchone()[0])  # noqa: S608
        with conn:
            conn.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({",".join("?" * len(columns))})',  # noqa: S608
                records,
            )
            created = conn.execute(f'SELECT id, name FROM "{table}" WHERE id > ?', (before,))  # noqa: S608
            keys, postings = index_rows(created)
            conn.executemany("INSERT INTO org_search_names (organization_id, name_key) VALUES (?, ?)", keys)
            conn.executemany("INSERT INTO org_name_grams (key) VALUES (?)", ((k,) for k in postings))
        conn.execute(f'ANALYZE "{table}"')
        write_s = time.perf_counter() - started
        after = int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
    finally:
        conn.close()
    return write_s, after


def seed(database_url: str, count: int) -> SeedResult:
    """Insert ``count`` organizations (codes ...MJB000000.. upwards) into a migrated, demo-loaded database."""
    started = time.perf_counter()
    rows = list(organizations(count, serial_prefix=SERIAL_PREFIX))
    generate_s = time.perf_counter() - started
    scheme = urlsplit(database_url).scheme
    if scheme in ("postgres", "postgresql"):
        url = database_url.replace("postgres://", "postgresql://", 1)
        write_s, after = asyncio.run(asyncio.wait_for(_seed_postgres(url, rows), SEED_TIMEOUT_S))
        where = "PostgreSQL (COPY)"
    elif scheme == "sqlite":
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        write_s, after = _seed_sqlite(path, rows)
        where = "SQLite (executemany)"
    else:
        raise SeedError(f"unsupported DATABASE_URL scheme {scheme!r}")
    return SeedResult(
        count=count,
        database=where,
        generate_s=round(generate_s, 2),
        write_s=round(write_s, 2),
        total_s=round(time.perf_counter() - started, 2),
        organizations_after=after,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="postgres://... or sqlite:///path (migrated, demo data loaded)")
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    try:
        result = seed(args.database_url, args.count)
    except SeedError as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
