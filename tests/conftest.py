"""Test harness: one empty database per run, migrated; one WeChat emulator; an app per session.

The same suite runs on the embedded default (a fresh SQLite file, fakeredis) and, when
TEST_DATABASE_URL and TEST_REDIS_URL are set, on PostgreSQL (a fresh database created for this run
and dropped after it) and Redis (a key prefix of this run, deleted after it).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sanic import Sanic
from tortoise import Tortoise, connections

from backend import invalidation
from backend.cache import Cache, create_cache
from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.db import apply_migrations, close_db, init_db, normalize_db_url
from backend.partybuilding import checkins
from backend.registry import profiles, reference
from backend.wechat.emulator import WeChatEmulator
from miniprogram_api.app import create_app

RUN_ID = secrets.token_hex(4)

# On the PostgreSQL + Redis leg, a test runs again only if it can meet them: through the fixtures
# below that hold the leg's database or cache, or by reading TEST_DATABASE_URL / TEST_REDIS_URL
# itself (these modules). The rest (pure functions, H5 rendering, servers on their own SQLite)
# would repeat the embedded leg's run exactly, and both legs must fit in make test's 10 minutes.
LEG_FIXTURES = {"database_url", "cache", "on_postgres"}
LEG_MODULES = {
    "tests/accounts/test_revocation.py",
    "tests/contract/test_contract.py",
    "tests/recruitment/test_two_servers.py",
    "tests/sdk/test_sdk.py",
    "tests/test_cache.py",
    "tests/test_db.py",
    "tests/test_migrations.py",
}


# The modules that take longest (they start servers, browsers, schemathesis or many CLI processes),
# longest first, as measured with --durations on the embedded leg (2026-12-02). `make test` runs
# them first (pytest-xdist --dist loadfile --no-loadscope-reorder hands out modules in collection
# order), so that the many short modules fill the workers around them instead of one worker
# finishing a long module alone at the end. Only the order changes: every test still runs.
LONG_MODULES = [
    "tests/e2e/test_revocation.py",
    "tests/contract/test_contract.py",
    "tests/test_cli.py",
    "tests/h5/test_render.py",
    "tests/recruitment/test_two_servers.py",
    "tests/sdk/test_sdk.py",
    "tests/e2e/test_outages.py",
    "tests/e2e/test_resilience.py",
    "tests/test_demo.py",
    "tests/e2e/test_server.py",
    "tests/test_migrations.py",
    "tests/audit/test_coverage.py",
    "tests/registry/test_import_apply.py",
    "tests/notifications/test_faults.py",
    "tests/registry/test_qrtoken.py",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    rank = {module: i for i, module in enumerate(LONG_MODULES)}
    # A stable sort: the long modules first, everything else after them in collection order.
    items.sort(key=lambda item: rank.get(Path(str(item.path)).relative_to(root).as_posix(), len(rank)))
    if not os.environ.get("TEST_DATABASE_URL"):
        return
    keep, skip = [], []
    for item in items:
        module = Path(str(item.path)).relative_to(root).as_posix()
        meets_services = LEG_FIXTURES & set(getattr(item, "fixturenames", ())) or module in LEG_MODULES
        (keep if meets_services else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


# Per run: the WeChat access token is kept in Redis under the appid, and runs that share a Redis
# (and each start an emulator of their own) would otherwise overwrite each other's token.
TEST_APPID = f"wx-test-{RUN_ID}"
TEST_SECRET = "test-wechat-secret"


def _admin_dsn(url: str, dbname: str) -> str:
    parts = urlsplit(normalize_db_url(url).replace("postgres://", "postgresql://", 1))
    return urlunsplit(parts._replace(path=f"/{dbname}", query=""))


async def _create_pg_database(base_url: str) -> str:
    import asyncpg

    name = f"gongxin_test_{RUN_ID}"
    conn = await asyncpg.connect(_admin_dsn(base_url, urlsplit(base_url).path.lstrip("/") or "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(_admin_dsn(base_url, name))._replace(scheme="postgres"))


async def _drop_pg_database(base_url: str, url: str) -> None:
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(_admin_dsn(base_url, urlsplit(base_url).path.lstrip("/") or "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def on_postgres() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """An empty database for this run, with the migrations applied."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url = await _create_pg_database(base)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="gongxin-test-"))
        url = f"sqlite://{tmp / 'test.sqlite3'}"
    await apply_migrations(url)
    try:
        yield url
    finally:
        if base:
            await _drop_pg_database(base, url)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[str]:
    """The ORM, initialised once for the whole run."""
    await init_db(database_url)
    await reference.load_regions()
    yield database_url
    await close_db()


@pytest.fixture(scope="session")
async def cache() -> AsyncIterator[Cache]:
    """Redis under a key prefix of this run, or fakeredis."""
    cache = create_cache(os.environ.get("TEST_REDIS_URL") or None, prefix=f"gongxin-test-{RUN_ID}:")
    yield cache
    await _clear_cache(cache)
    await cache.close()


async def _clear_cache(cache: Cache) -> None:
    keys = [key async for key in cache.client.scan_iter(match=cache.prefix + "*", count=500)]
    if keys:
        await cache.client.delete(*keys)


@pytest.fixture(scope="session")
def emulator() -> Iterator[WeChatEmulator]:
    with WeChatEmulator(appid=TEST_APPID, secret=TEST_SECRET) as emu:
        yield emu


@pytest.fixture(scope="session")
def settings(database_url: str, emulator: WeChatEmulator) -> Settings:
    return Settings(
        app_env="test",
        database_url=database_url,
        redis_url=os.environ.get("TEST_REDIS_URL") or None,
        wechat_appid=TEST_APPID,
        wechat_secret=TEST_SECRET,
        wechat_api_base=emulator.url,
        wechat_emulator=False,
        wechat_timeout_seconds=2.0,
        public_base_url="https://gongxin.example.cn",
        # Every test logs in from one address; the limit's own test counts up to this.
        login_rate_limit_per_minute=100,
        log_level="WARNING",
        # Not the default var/demo-qr.png, which `gongxin demo-data` in other tests' servers writes.
        demo_qr_path=Path(tempfile.mkdtemp(prefix="gongxin-test-qr-")) / "demo-qr.png",
    )


@pytest.fixture(scope="session")
def cipher(settings: Settings) -> PersonalDataCipher:
    """The app's cipher (it decrypts the QR signing key, too)."""
    return PersonalDataCipher(settings.fernet_key)


@pytest.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts with empty tables, an empty cache and a reset emulator."""
    if "db" in request.fixturenames:
        await _truncate_all()
        profiles._local.clear()  # the per-process half-second copies of profiles and answers
        profiles.local_answers.clear()
        # Truncation may restart ids, and the per-process activity rules are keyed by id.
        checkins.activity_rules.clear()
        # The emptied cache_versions table: what this process knew of it is gone too.
        invalidation.versions.reset()
    if "cache" in request.fixturenames:
        await _clear_cache(request.getfixturevalue("cache"))
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").reset()
    yield


# On PostgreSQL, the statement that empties the tables, made once per run (see _empty_pg_tables).
_pg_empty_script: list[str] = []


async def _truncate_all() -> None:
    conn = connections.get("default")
    # Regions are reference data that no test changes; everything else starts empty.
    tables = [m._meta.db_table for m in Tortoise.apps["models"].values() if m._meta.db_table != "regions"]
    if conn.capabilities.dialect == "postgres":
        await _empty_pg_tables(conn, tables)
    else:
        await conn.execute_script(
            "PRAGMA foreign_keys=OFF;"
            + "".join(f"DELETE FROM {t};" for t in tables)
            + "PRAGMA foreign_keys=ON;"
        )


@pytest.fixture(scope="session")
async def app(db: str, settings: Settings, cache: Cache) -> AsyncIterator[Sanic]:
    """The app under test, started once (ASGI lifespan), sharing the test cache."""
    Sanic.test_mode = True
    application = create_app(settings, name=f"gongxin_test_{RUN_ID}", cache=cache)
    # Starting the app (routes, the OpenAPI document) took 29-36 s on this 2-core machine at load
    # averages of 18-30 (2026-12-02); asgi-lifespan's default of 5 s then failed every test that needs it.
    # A safety bound, not a speed assertion.
    async with LifespanManager(application, startup_timeout=120, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: Sanic, db: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking ASGI to the app in this process."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    """Log in as the emulator's dev user ``name``; return the Authorization header."""
    response = await client.post("/api/v1/auth/login", json={"code": f"dev-{name}"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def error_code(response: httpx.Response) -> Any:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]


async def _empty_pg_tables(conn: Any, tables: list[str]) -> None:
    """What ``TRUNCATE <tables> RESTART IDENTITY CASCADE`` does, in ~30 ms instead of ~1 s.

    TRUNCATE gives each of the ~50 tables a new file (and syncs them at commit): a second per test
    on this machine, most of the PostgreSQL leg's time. Deleting every row, with the foreign keys'
    triggers off for the transaction (``session_replication_role = replica``: the tables are
    emptied all at once, so no reference is left dangling) and every sequence owned by the
    tables' columns set back to its start (RESTART IDENTITY), leaves the same state. It needs a
    superuser (CI's ``postgres``) for session_replication_role; any other role gets the TRUNCATE.
    """
    if not _pg_empty_script:
        rows = await conn.execute_query_dict(
            """
            SELECT seq.oid::regclass::text AS name FROM pg_class seq
            JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = seq.oid
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            JOIN pg_class tbl ON tbl.oid = d.refobjid
            WHERE seq.relkind = 'S' AND tbl.relnamespace = current_schema()::regnamespace
                AND tbl.relname = ANY($1::text[])
            """,
            [tables],
        )
        sequences = ", ".join(f"'{row['name']}'::regclass" for row in rows)
        restart = (
            f"SELECT setval(seqrelid, seqstart, false) FROM pg_sequence WHERE seqrelid IN ({sequences});"
        )
        superuser = await conn.execute_query_dict("SELECT current_setting('is_superuser') = 'on' AS yes")
        if superuser[0]["yes"]:
            script = (
                "BEGIN; SET LOCAL session_replication_role = replica;"
                + "".join(f"DELETE FROM {table};" for table in tables)
                + (restart if sequences else "")
                + "COMMIT;"
            )
        else:
            script = f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
        _pg_empty_script.append(script)
    await conn.execute_script(_pg_empty_script[0])
