"""A dependency that is away (the database, Redis) is a 503 to retry, not a 500 bug.

``dependency_down(exc)`` tells which dependency an exception says is unreachable, hanging or
refusing work, or None when it is something else (a bug stays a 500). It reads the exception and
the ones it was raised from, because the ORM wraps the driver's errors in its own. What counts:

- the database: asyncpg's connection errors (class 08), operator intervention (57: shutting down,
  starting up, a statement cancelled by ``statement_timeout``), too many connections (53), a
  connection closed under us; Tortoise's ``DBConnectionError``; SQLite's "database is locked" (past
  ``busy_timeout``) and "unable to open";
- Redis: redis-py's ``ConnectionError`` and ``TimeoutError``;
- any ``OSError`` (refused, reset, unreachable) and ``TimeoutError``: a pool that gave no connection
  in time, a statement past ``command_timeout``.

``OutageLog`` writes one line per cause instead of a traceback per request: the first failure of a
cause at once, then at most one line per interval with the number seen since.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Final

import asyncpg
import redis.exceptions
from tortoise.exceptions import BaseORMException, DBConnectionError

DATABASE: Final = "database"
CACHE: Final = "cache"
NETWORK: Final = "network"

# Seconds a client is asked to wait before retrying (the Retry-After of a 503).
RETRY_AFTER_SECONDS: Final = 5

_DATABASE_UNAVAILABLE = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08: the connection failed or was lost
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, cannot connect now, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, out of memory or disk
    DBConnectionError,
)
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open", "disk i/o error")


def _database_says_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _DATABASE_UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        # asyncpg's own words for a connection that went away while we held it.
        return "closed" in str(exc) or "terminated" in str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    return False


def dependency_down(exc: BaseException) -> str | None:
    """The dependency ``exc`` says is unavailable ("database", "cache", "network"), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if isinstance(current, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return CACHE
        if _database_says_unavailable(current):
            return DATABASE
        if isinstance(current, OSError | TimeoutError):
            # TimeoutError is an OSError; what timed out is in the traceback, the cause is the same.
            return DATABASE if _raised_by_database_driver(current) else NETWORK
        current = _raised_from(current)
    return None


def _raised_from(exc: BaseException) -> BaseException | None:
    # ``raise X from Y`` names its cause; Tortoise's SQLite client raises its own error inside the
    # ``except`` without ``from``, so for the ORM's errors the exception being handled counts too.
    # Not for others: an unrelated bug raised while handling a Redis error is still a bug.
    if exc.__cause__ is not None:
        return exc.__cause__
    if isinstance(exc, BaseORMException) and not exc.__suppress_context__:
        return exc.__context__
    return None


def _raised_by_database_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "tortoise.backends")):
            return True
        tb = tb.tb_next
    return False


def describe(exc: BaseException) -> str:
    """One line naming the exception, for the operator (never sent to a client)."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__module__}.{type(exc).__qualname__}" + (f": {text}" if text else "")


class OutageLog:
    """One log line per cause, then at most one per ``interval`` seconds with a count of the repeats."""

    def __init__(self, logger: logging.Logger, *, interval: float = 30.0) -> None:
        self._logger = logger
        self._interval = interval
        self._causes: dict[str, tuple[float, int]] = {}  # cause -> (last written, repeats since)

    def note(self, dependency: str, exc: BaseException, *, context: str = "") -> None:
        """Record one failure; write it if this cause has not been written within the interval."""
        self.note_cause(f"{dependency} unavailable: {describe(exc)}", context=context)

    def note_cause(self, cause: str, *, context: str = "") -> None:
        """Record one failure of a cause already put in words (a 503 the code raised itself)."""
        now = time.monotonic()
        last, repeats = self._causes.get(cause, (float("-inf"), 0))
        if now - last < self._interval:
            self._causes[cause] = (last, repeats + 1)
            return
        self._causes[cause] = (now, 0)
        if len(self._causes) > 1000:  # causes whose text varies without end (ids in messages)
            self._causes = {cause: (now, 0)}
        suffix = f" ({repeats} more since the last line)" if repeats else ""
        self._logger.warning("%s%s%s", cause, f" on {context}" if context else "", suffix)
