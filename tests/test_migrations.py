"""The migrations, applied to an empty database, give exactly the schema the models describe."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RUN_ID, _admin_dsn

RECORDER_TABLE = "tortoise_migrations"
GENERATE_SCHEMAS = """
import asyncio, sys
from tortoise import Tortoise
from backend.db import tortoise_config

async def main():
    await Tortoise.init(config=tortoise_config(sys.argv[1]))
    await Tortoise.generate_schemas(safe=False)
    await Tortoise.close_connections()

asyncio.run(main())
"""


def _run(args: list[str], database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _migrate(url: str) -> None:
    _run([sys.executable, "-m", "backend.cli", "migrate"], url)


def _generate(url: str) -> None:
    _run([sys.executable, "-c", GENERATE_SCHEMAS, url], url)


def _sqlite_schema(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
            if row[0] != RECORDER_TABLE
        ]
        schema = {}
        for table in sorted(tables):
            columns = sorted(conn.execute(f"PRAGMA table_info('{table}')").fetchall(), key=lambda r: r[1])
            indexes = []
            for _, name, unique, origin, _partial in conn.execute(f"PRAGMA index_list('{table}')"):
                cols = [r[2] for r in conn.execute(f"PRAGMA index_info('{name}')")]
                indexes.append((tuple(cols), unique, origin))
            fks = sorted(
                (r[2], r[3], r[4], r[5], r[6]) for r in conn.execute(f"PRAGMA foreign_key_list('{table}')")
            )
            schema[table] = {
                "columns": [(c[1], c[2].upper(), c[3], c[4], c[5]) for c in columns],
                "indexes": sorted(indexes),
                "foreign_keys": fks,
            }
        return schema
    finally:
        conn.close()


async def _postgres_schema(dsn: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, character_maximum_length, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1"
            " ORDER BY table_name, column_name",
            RECORDER_TABLE,
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> $1",
            RECORDER_TABLE,
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text AS tbl, contype, pg_get_constraintdef(oid) AS def"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " AND conrelid::regclass::text <> $1",
            RECORDER_TABLE,
        )
    finally:
        await conn.close()
    # Index and constraint names are generated; their definitions are what matters.
    return {
        "columns": [tuple(r) for r in columns],
        "indexes": sorted(
            (r["tablename"], re.sub(r"INDEX \S+ ON", "INDEX ON", r["indexdef"])) for r in indexes
        ),
        "constraints": sorted((r["tbl"], r["contype"], r["def"]) for r in constraints),
    }


async def test_migrations_give_the_schema_the_models_describe(tmp_path: Path, on_postgres: bool):
    if not on_postgres:
        migrated, generated = str(tmp_path / "migrated.sqlite3"), str(tmp_path / "generated.sqlite3")
        _migrate(f"sqlite://{migrated}")
        _generate(f"sqlite://{generated}")
        from_migrations, from_models = _sqlite_schema(migrated), _sqlite_schema(generated)
    else:
        import asyncpg

        base = os.environ["TEST_DATABASE_URL"]
        names = [f"gongxin_schema_{RUN_ID}_m", f"gongxin_schema_{RUN_ID}_g"]
        admin = await asyncpg.connect(_admin_dsn(base, "postgres"))
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                await admin.execute(f'CREATE DATABASE "{name}"')
            migrated, generated = (_admin_dsn(base, n) for n in names)
            _migrate(migrated.replace("postgresql://", "postgres://", 1))
            _generate(generated.replace("postgresql://", "postgres://", 1))
            from_migrations, from_models = await _postgres_schema(migrated), await _postgres_schema(generated)
        finally:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    assert from_migrations, "no tables were created"
    assert from_migrations == from_models


def test_model_docstrings_avoid_characters_that_break_sqlite_migrations():
    # Tortoise 1.1 puts each model's docstring into a SQL comment and splits SQLite scripts on ";":
    # a ";" or "'" in a model docstring makes `gongxin migrate` fail on SQLite.
    from tortoise.models import Model

    import backend.db

    for module_name in backend.db.MODEL_MODULES:
        module = __import__(module_name, fromlist=["*"])
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Model) and value is not Model and value.__doc__:
                assert not set(value.__doc__) & {";", "'"}, f"{value.__name__}'s docstring has ; or '"


def _snapshot(path: Path) -> dict[str, Any]:
    """The schema and every row of every table."""
    with sqlite3.connect(path) as conn:
        schema = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall())
        tables = [name for kind, name, _ in schema if kind == "table" and not name.startswith("sqlite_")]
        rows = {table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables}
    return {"schema": schema, "rows": rows}


def test_migrate_twice_is_a_no_op(tmp_path: Path):
    path = tmp_path / "twice.sqlite3"
    url = f"sqlite://{path}"
    _migrate(url)
    first = _snapshot(path)
    # Not vacuous: the first run made the tables, recorded the migrations and loaded reference data.
    assert first["rows"][RECORDER_TABLE] and first["rows"]["regions"] and first["rows"]["authorities"]
    with sqlite3.connect(path) as conn:  # data of the deployment's own, which a migrate must keep
        conn.execute(
            "INSERT INTO users (openid, nickname, is_platform_admin, created_at, updated_at) "
            "VALUES ('o-kept', 'kept', 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        )
    kept = _snapshot(path)
    env = {**os.environ, "DATABASE_URL": url}
    again = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reference data: 0 regions, 0 authorities added; 0 organizations" in again.stdout, again.stdout
    second = _snapshot(path)
    assert second["schema"] == kept["schema"]
    changed = [table for table in kept["rows"] if second["rows"][table] != kept["rows"][table]]
    assert changed == [], changed
