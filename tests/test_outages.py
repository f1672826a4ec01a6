"""Which failures mean a dependency is away (503), and how they are logged: one line per cause."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
import pytest
import redis.exceptions
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from backend import errors, outages
from miniprogram_api.errors import to_domain_error
from miniprogram_api.observability import OutageLines


def _raised(exc: BaseException, *, cause: BaseException | None = None) -> BaseException:
    try:
        if cause is None:
            raise exc
        raise exc from cause
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), "database"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "database"),
        (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), "database"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), "database"),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), "database"),
        (asyncpg.exceptions.InterfaceError("connection is closed"), "database"),
        (DBConnectionError("Can't establish connection"), "database"),
        (redis.exceptions.ConnectionError("Error 111 connecting"), "cache"),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), "cache"),
        (ConnectionRefusedError(111, "Connection refused"), "network"),
        (TimeoutError(), "network"),
    ],
)
def test_a_failing_dependency_is_named(exc, dependency):
    assert outages.dependency_down(exc) == dependency


def test_the_orms_wrapper_of_a_lost_connection_counts_by_its_cause():
    lost = _raised(OperationalError("lost"), cause=asyncpg.exceptions.ConnectionFailureError("gone"))
    assert outages.dependency_down(lost) == "database"


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        KeyError("a bug"),
        _raised(OperationalError("syntax"), cause=asyncpg.exceptions.UndefinedColumnError("no column")),
        IntegrityError("duplicate key"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
        sqlite3.OperationalError("no such table: users"),
    ],
)
def test_a_bug_is_not_an_outage(exc):
    assert outages.dependency_down(exc) is None
    assert to_domain_error(exc).status == 500


def test_a_bug_raised_while_handling_a_redis_error_stays_a_bug():
    try:
        try:
            raise redis.exceptions.ConnectionError("down")
        except redis.exceptions.ConnectionError:
            raise KeyError("a bug in the fallback") from None
    except KeyError as exc:
        assert outages.dependency_down(exc) is None


async def test_sqlite_locked_past_its_busy_timeout_is_an_outage(tmp_path):
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    client = SqliteClient(file_path=str(path), connection_name="locked", busy_timeout=50)
    try:
        with pytest.raises(OperationalError) as caught:
            await client.execute_query("INSERT INTO t VALUES (1)")
    finally:
        await client.close()
        holder.close()
    assert "locked" in str(caught.value)
    assert outages.dependency_down(caught.value) == "database"
    err = to_domain_error(caught.value)
    assert (err.status, err.code, err.retry_after) == (
        503,
        "service.unavailable",
        outages.RETRY_AFTER_SECONDS,
    )


def test_redis_away_is_503_with_retry_after():
    err = to_domain_error(redis.exceptions.ConnectionError("Error 111"))
    assert err.status == 503 and err.code == "service.unavailable" and err.retry_after == 5
    assert "111" not in err.message  # the driver's words stay in the log


def test_domain_errors_keep_their_own_code():
    wechat_down = errors.ServiceUnavailable("微信不可用 / WeChat is unavailable", code="wechat.unavailable")
    assert to_domain_error(wechat_down) is wechat_down


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_outage_log_writes_a_cause_once_then_a_count_per_interval(monkeypatch, caplog):
    clock = _Clock()
    monkeypatch.setattr(outages.time, "monotonic", clock)
    log = outages.OutageLog(logging.getLogger("test.outages"), interval=30)
    refused = ConnectionRefusedError(111, "Connection refused")
    with caplog.at_level(logging.WARNING, logger="test.outages"):
        for _ in range(50):
            log.note("database", refused, context="GET /x")
        clock.now += 31
        log.note("database", refused)
        log.note("cache", redis.exceptions.ConnectionError("down"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("database unavailable: builtins.ConnectionRefusedError: [Errno 111]")
    assert "49 more since the last line" in lines[1]
    assert lines[2].startswith("cache unavailable: redis.exceptions.ConnectionError")
    assert all("Traceback" not in line for line in lines)


def test_library_tracebacks_of_an_outage_become_one_line(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("miniprogram_api.observability.time.monotonic", clock)
    keep = OutageLines(interval=30)
    failure = _raised(TimeoutError(), cause=None)

    def record(exc: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "asyncpg.pool",
            logging.WARNING,
            __file__,
            1,
            "Failed to restore the pool",
            None,
            (type(exc), exc, None),
        )

    first, repeat, bug = record(failure), record(failure), record(_raised(ValueError("a bug")))
    assert keep.filter(first) and first.exc_info is None
    assert first.getMessage().startswith(
        "Failed to restore the pool (network unavailable: builtins.TimeoutError"
    )
    assert not keep.filter(repeat)
    assert keep.filter(bug) and bug.exc_info is not None  # a bug keeps its traceback
    clock.now += 31
    assert keep.filter(record(failure))


async def test_a_503_the_code_raises_is_logged_once_per_cause_not_per_request(
    client, app, monkeypatch, caplog
):
    import redis.asyncio as aioredis

    from backend.cache import Cache
    from miniprogram_api import errors as http_errors

    monkeypatch.setattr(http_errors, "outage_log", outages.OutageLog(logging.getLogger("gongxin.outages")))
    dead = Cache(aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix="dead:")
    container = app.ctx.container
    healthy, container.cache = container.cache, dead
    try:
        with caplog.at_level(logging.WARNING, logger="gongxin"):
            answers = [(await client.get("/readyz")).status_code for _ in range(4)]
    finally:
        container.cache = healthy
    assert answers == [503] * 4
    lines = [r.getMessage() for r in caplog.records if "service.not_ready" in r.getMessage()]
    assert len(lines) == 1, lines
