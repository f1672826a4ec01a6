"""Tortoise ORM configuration, shared by the server, the CLI, the worker and the tests.

Tables come from the migrations in ``migrations/models`` (Tortoise's own migration framework,
which aerich recommends for Tortoise 1.x), never from ``generate_schemas`` in a running server.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, get_connection
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

# Every module that defines models, in one Tortoise app called "models" so that
# relations read "models.User" everywhere.
MODEL_MODULES = [
    "backend.accounts.models",
    "backend.registry.models",
    "backend.events.models",
    "backend.audit.models",
    "backend.partybuilding.models",
    "backend.subscriptions.models",
    "backend.charity.models",
    "backend.invalidation",
    "backend.recruitment.models",
    "backend.recruitment.proofmodels",
    "backend.translog.models",
]
MIGRATIONS_MODULE = "migrations.models"


def normalize_db_url(url: str) -> str:
    """Accept the usual spellings of a database URL and add the pragmas SQLite needs."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        # Concurrent writers (several requests, the worker, the CLI) wait for the lock
        # instead of failing at once with "database is locked".
        query.setdefault("busy_timeout", "10000")
        # WAL with synchronous=NORMAL: commits survive a crash of the process; only a power loss
        # can lose the last ones. SQLite is the development default; production runs PostgreSQL.
        query.setdefault("synchronous", "NORMAL")
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url


async def _release_without_reset_query(connection: Any) -> None:
    """What the asyncpg pool runs when a connection comes back, instead of its reset query.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: one more round trip after every query the ORM runs (each query acquires and
    releases), half the database round trips of a check-in. Gongxin leaves no session state behind:
    no session-level SET, LISTEN, advisory lock or open cursor (transactions use ``SET LOCAL`` and
    ``pg_advisory_xact_lock`` if they need them). A transaction left open is still rolled back: the
    pool does that before calling this.
    """


def tortoise_config(
    database_url: str,
    *,
    pool_max: int = 10,
    pool_min: int = 1,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> dict[str, Any]:
    """The Tortoise config dict for one database.

    ``pool_min`` PostgreSQL connections are opened when the ORM starts, the rest on demand up to
    ``pool_max``. The check-in batch binds only built-in types (``jsonb``, ``text``), which asyncpg
    encodes without asking the server, so a new connection needs no warming up.

    The server bounds every database call (the CLI and migrations, which may run long statements
    on purpose, pass no timeouts): ``connect_timeout`` for opening a connection and for waiting for a
    free one in the pool (``backend/pgpool.py``), ``statement_timeout`` for one statement, enforced by
    PostgreSQL itself (``statement_timeout``: the statement is cancelled, the connection stays
    usable) and, half a second later, by asyncpg (``command_timeout``: for a server that hangs and
    cannot cancel anything). A request past either answers 503 (``backend/outages.py``).
    """
    url = normalize_db_url(database_url)
    connection: str | dict[str, Any] = url
    if url.startswith("postgres://"):
        sep = "&" if "?" in url else "?"
        pool_min = max(0, min(pool_min, pool_max))
        connection = expand_db_url(f"{url}{sep}maxsize={pool_max}&minsize={pool_min}")
        credentials = connection["credentials"]
        credentials["reset"] = _release_without_reset_query
        if connect_timeout is not None:
            connection["engine"] = "backend.pgpool"
            credentials["acquire_timeout"] = connect_timeout
            credentials["timeout"] = connect_timeout
        if statement_timeout is not None:
            credentials["command_timeout"] = statement_timeout + 0.5
            server_settings = credentials.setdefault("server_settings", {})
            server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(
    database_url: str,
    *,
    pool_max: int = 10,
    pool_min: int = 1,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> None:
    """Open the ORM's connections for this process (bounded as ``tortoise_config`` says)."""
    # Tortoise 1.x keeps its state in a ContextVar of the task that called init; the server's
    # request tasks run in other contexts, so the process-wide fallback must be on.
    global _dialect
    config = tortoise_config(
        database_url,
        pool_max=pool_max,
        pool_min=pool_min,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
    )
    await Tortoise.init(config=config, _enable_global_fallback=True)
    _dialect = get_connection("default").capabilities.dialect


async def close_db() -> None:
    """Close the ORM's connections for this process."""
    global _dialect
    _dialect = None
    await Tortoise.close_connections()


_dialect: str | None = None


def dialect() -> str:
    """The kind of database the ORM is open on: "postgres" or "sqlite".

    Remembered by ``init_db``: code that writes differently per database asks on every request, and
    Tortoise's ``get_connection`` (context lookup, event-loop check) cost a check-in 3 % of its
    instructions (bench/instructions.sh). Asked of Tortoise when the ORM was opened some other way.
    """
    return _dialect or get_connection("default").capabilities.dialect


async def apply_migrations(database_url: str) -> None:
    """Bring the database's schema up to the newest migration."""

    async def run() -> None:
        await tortoise_migrate(config=tortoise_config(database_url))
        await Tortoise.close_connections()

    # In a task of its own: Tortoise keeps its state in a ContextVar, and the migration's closed
    # context must not linger in the caller's (it would look initialised to `bootstrap.start`).
    await asyncio.create_task(run())


async def ping_db() -> None:
    """Raise if the database cannot answer a trivial query."""
    await get_connection("default").execute_query("SELECT 1")


def __getattr__(name: str) -> Any:
    # ``TORTOISE_ORM`` for Tortoise's own CLI (``gongxin makemigrations``), built on first use so
    # that importing this module never reads the environment.
    if name == "TORTOISE_ORM":
        from .config import load_settings

        return tortoise_config(load_settings().database_url)
    raise AttributeError(name)
