"""Durable invalidation: what a committed change makes stale is known to every process within a second.

The caches of sessions and organization profiles live in Redis under a generation counter that a
write bumps after its commit (backend/accounts/session_cache.py, backend/registry/profiles.py). That
bump is fast but not durable: when Redis fails after the commit (a failover, a pause, a lost write),
or the process dies between the commit and the bump, every process would keep trusting the old entry
until its TTL. So the change also records itself in the database, in its own transaction:

- ``cache_versions`` holds one row per thing that was ever changed (``user:<id>``, ``org:<code>``):
  its version, incremented by ``record`` inside the change's transaction, and when (the database's
  clock, Unix seconds). Committed with the change or not at all.
- Each process keeps ``known``: the version of every name changed within ``HORIZON_SECONDS`` (longer
  than any cached entry lives). It learns new versions by polling the rows changed since its last
  poll (one indexed query, at most every ``REFRESH_AFTER_SECONDS`` while it serves, none when idle).
- A cached entry carries the version its builder knew before reading the database (``stamp``); a
  reader trusts it only if that is at least the version it knows (``trusts``), and only while its
  last successful poll began less than ``TRUST_SECONDS`` ago (``fresh``). Past that it polls before
  answering; if the poll fails (the database is away) nothing cached is trusted (``fresh`` is False).

So an entry built before a change is refused by every process at most ``TRUST_SECONDS`` after the
commit, whatever Redis does; the Redis generation still makes it immediate when Redis works. The
process that made a change polls again before its next cached read (``expire``), so it sees its own
change at once. Rows are never deleted: there is one per user or organization ever changed.

Why poll by time, not by an increasing id: on PostgreSQL ids are taken in insert order, not commit
order, so a cursor on ids could step over a transaction that commits late. Each poll reads again the
rows changed in the last ``LOOKBACK_SECONDS`` before its previous one (by the database's clock);
``record`` is the last statement before a commit, so a change commits well within that.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from tortoise import fields
from tortoise.connection import connections
from tortoise.models import Model

from . import db
from .outages import OutageLog, dependency_down

REFRESH_AFTER_SECONDS = 0.25  # a read past this starts a poll in the background and goes on
TRUST_SECONDS = 0.5  # a read past this waits for a poll; a failed poll trusts nothing cached
LOOKBACK_SECONDS = 30.0  # each poll reads again what changed this long before the previous one
HORIZON_SECONDS = 3600 + 120  # longer than any cached entry lives (profiles: 1 h)

log = logging.getLogger("gongxin.invalidation")
_outages = OutageLog(log)


class CacheVersion(Model):
    """The version of one cached thing (``user:<id>``, ``org:<credit code>``), bumped by each change."""

    name = fields.CharField(max_length=96, primary_key=True)
    version = fields.BigIntField(default=0)
    changed_at = fields.FloatField(db_index=True)  # the database's clock, Unix seconds

    class Meta:
        table = "cache_versions"


def _now_sql() -> str:
    # The database's clock, so that every process compares times from one clock. On PostgreSQL
    # clock_timestamp(), not now(): now() is the transaction's start, which may be long before its commit.
    if db.dialect() == "postgres":
        return "extract(epoch from clock_timestamp())::double precision"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def _param(index: int) -> str:
    return f"${index}" if db.dialect() == "postgres" else "?"


async def record(*names: str) -> None:
    """Bump the version of each name. Call inside the change's transaction, as its last statement."""
    unique = sorted(set(names))  # sorted: two changes of the same names lock their rows in one order
    if not unique:
        return
    now = _now_sql()
    rows = ", ".join(f"({_param(i + 1)}, 1, {now})" for i in range(len(unique)))
    sql = (
        f"INSERT INTO cache_versions (name, version, changed_at) VALUES {rows} "  # noqa: S608 - placeholders
        f"ON CONFLICT (name) DO UPDATE SET version = cache_versions.version + 1, changed_at = {now}"
    )
    await connections.get("default").execute_query(sql, unique)
    versions.expire()


class Versions:
    """This process's knowledge of ``cache_versions``; see the module's docstring."""

    def __init__(self) -> None:
        self.reset()
        self._listeners: list[tuple[str, Callable[[str], None]]] = []

    def reset(self) -> None:
        """Forget everything (tests: the tables were emptied); the next read polls from scratch."""
        self.known: dict[str, tuple[int, float]] = {}  # name -> (version, changed_at)
        self._polled_at = -math.inf  # time.monotonic() when the last successful poll began
        self._expired_at = -math.inf  # when this process last committed a change of its own
        self._task: asyncio.Task[bool] | None = None  # the poll on its way
        self._since: float | None = None  # the database's clock at that poll
        self._pruned_at = 0.0

    def on_change(self, prefix: str, listener: Callable[[str], None]) -> None:
        """Call ``listener(name)`` when a poll learns of a change to a name with this prefix
        (to drop this process's own short-lived copies at once)."""
        self._listeners.append((prefix, listener))

    def stamp(self, name: str) -> int:
        """The version to store with an entry about to be read from the database."""
        known = self.known.get(name)
        return known[0] if known is not None else 0

    def trusts(self, name: str, stamp: int) -> bool:
        """Whether an entry stamped ``stamp`` was built after every change this process knows of."""
        known = self.known.get(name)
        return known is None or stamp >= known[0]

    def expire(self) -> None:
        """Poll before the next cached read (this process has just committed a change): a poll
        that began before now, even one still on its way, does not count."""
        self._polled_at = -math.inf
        self._expired_at = time.monotonic()
        self._task = None

    def recent(self) -> bool:
        """The fast path of ``fresh``: True when the last poll is recent enough not to start another."""
        return time.monotonic() - self._polled_at < REFRESH_AFTER_SECONDS

    async def fresh(self) -> bool:
        """Whether cached entries may be trusted now: polls first when the last poll is too old."""
        age = time.monotonic() - self._polled_at
        if age < REFRESH_AFTER_SECONDS:
            return True
        if age < TRUST_SECONDS:
            # Go on with what is known (less than TRUST_SECONDS old); the poll runs meanwhile.
            self._start_poll()
            return True
        return await asyncio.shield(self._start_poll())

    def _start_poll(self) -> asyncio.Task[bool]:
        """The poll on its way, or a new one. In a fresh context: never inside a caller's transaction."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll(), context=contextvars.Context())
        return self._task

    async def _poll(self) -> bool:
        started = time.monotonic()
        try:
            conn = connections.get("default")
            if self._since is None:
                _, rows = await conn.execute_query(f"SELECT {_now_sql()}")
                since = float(rows[0][0]) - HORIZON_SECONDS
            else:
                since = self._since - LOOKBACK_SECONDS
            poll = (
                "SELECT name, version, changed_at FROM cache_versions "  # noqa: S608 - placeholders only
                f"WHERE changed_at > {_param(1)} UNION ALL SELECT NULL, NULL, {_now_sql()}"
            )
            _, rows = await conn.execute_query(poll, [since])
        except Exception as exc:
            if dependency_down(exc) is None:
                log.exception("cache version poll failed")
            else:
                _outages.note("database", exc, context="cache version poll")
            return False
        self._learn(rows)
        if started > self._expired_at:
            self._polled_at = max(self._polled_at, started)
        return True

    def _learn(self, rows: Iterable[Any]) -> None:
        changed: list[str] = []
        for row in rows:
            name, version, changed_at = row[0], row[1], float(row[2])
            if name is None:
                self._since = changed_at  # the database's clock now
                continue
            known = self.known.get(name)
            if known is None or int(version) > known[0]:
                self.known[name] = (int(version), changed_at)
                changed.append(name)
        for name in changed:
            for prefix, listener in self._listeners:
                if name.startswith(prefix):
                    listener(name[len(prefix) :])
        if self._since is not None and self._since - self._pruned_at > 60:
            horizon = self._since - HORIZON_SECONDS
            self.known = {n: v for n, v in self.known.items() if v[1] > horizon}
            self._pruned_at = self._since


versions = Versions()
