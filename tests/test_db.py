"""The database a process opens: its kind (remembered), and the PostgreSQL pool (its minimum, and no
type introspection on the write path)."""

from __future__ import annotations

import pytest
from asyncpg.connection import Connection
from tortoise.backends.asyncpg import AsyncpgDBClient

from backend import db as database
from backend.db import tortoise_config


async def test_the_dialect_is_the_open_connection_s_and_is_remembered(db, on_postgres, monkeypatch):
    expected = "postgres" if on_postgres else "sqlite"
    assert database.dialect() == expected
    # Remembered by init_db, not asked of Tortoise on each call (a check-in asks on every request).
    monkeypatch.setattr(database, "get_connection", None)
    assert database.dialect() == expected


def test_sqlite_config_has_no_pool_settings(tmp_path):
    config = tortoise_config(f"sqlite://{tmp_path / 'x.sqlite3'}", pool_max=5, pool_min=5)
    assert isinstance(config["connections"]["default"], str)


def test_pool_minimum_is_kept_within_the_maximum():
    credentials = tortoise_config("postgres://u@h/d", pool_max=4, pool_min=9)["connections"]["default"][
        "credentials"
    ]
    assert (int(credentials["minsize"]), int(credentials["maxsize"])) == (4, 4)


async def test_a_server_pool_opens_its_minimum_and_binds_the_batch_without_introspection(
    db, on_postgres, monkeypatch
):
    if not on_postgres:
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    introspected: list[object] = []
    original = Connection._introspect_types

    async def counting(self, *args, **kwargs):
        introspected.append(args)
        return await original(self, *args, **kwargs)

    config = tortoise_config(db, pool_max=3, pool_min=3)["connections"]["default"]
    # A client of its own, as Tortoise builds one from this config, beside the test run's ORM.
    client = AsyncpgDBClient(connection_name="pool_probe", **config["credentials"])
    await client.create_connection(with_db=True)
    try:
        pool = client._pool
        opened = pool.get_size()
        monkeypatch.setattr(Connection, "_introspect_types", counting)
        async with pool.acquire() as conn:
            # The check-in batch's parameter types (backend/partybuilding/checkins.py): a type asyncpg
            # had to introspect would cost its first use on each connection about 10 ms.
            await conn.fetch(
                "SELECT count(*) FROM jsonb_to_recordset($1::jsonb) AS i(a bigint, at timestamptz), "
                "(SELECT $2::text) AS s",
                '[{"a": 1, "at": "2026-11-29T07:00:00+00:00"}]',
                "pending",
            )
    finally:
        await client.close()
    assert opened == 3
    assert introspected == []


async def test_the_clean_state_empties_every_table_but_regions_and_restarts_ids(db, on_postgres):
    """What tests/conftest.py's _clean_state does to the database (TRUNCATE ... RESTART IDENTITY, or
    its faster equivalent on PostgreSQL): nothing of one test is left for the next. Ids restart on
    PostgreSQL (RESTART IDENTITY); SQLite's AUTOINCREMENT counters are kept."""
    from tortoise import Tortoise

    from backend.registry.models import Region
    from tests.conftest import _truncate_all
    from tests.factories import make_org, make_user

    regions = await Region.all().count()
    org = await make_org()  # an organization, its authority and what comes with them
    await make_user()
    await make_user()
    assert org.id >= 1
    await _truncate_all()
    models = [m for m in Tortoise.apps["models"].values() if m._meta.db_table != "regions"]
    counts = {m._meta.db_table: await m.all().count() for m in models}
    assert set(counts.values()) == {0}, {t: n for t, n in counts.items() if n}
    assert await Region.all().count() == regions > 0
    if on_postgres:
        assert (await make_user()).id == 1
        assert (await make_org()).id == 1
