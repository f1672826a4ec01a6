"""The console command: demo-data (idempotent), grant, revoke.

Each test starts from a copy of what `gongxin migrate` makes of an empty database (tests/migrated.py);
tests/test_migrations.py covers that command.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.migrated import migrated_sqlite


def gongxin(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    # The demo's QR image beside the database, not in var/ where other tests' demo data goes.
    env = {**os.environ, "DATABASE_URL": f"sqlite://{db}", "DEMO_QR_PATH": str(db.parent / "demo-qr.png")}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_demo_data_twice_adds_nothing_the_second_time(tmp_path: Path):
    db = migrated_sqlite(tmp_path / "demo.sqlite3")
    first = gongxin("demo-data", db=db)
    counts = {t: count(db, t) for t in ("authorities", "organizations")}
    second = gongxin("demo-data", db=db)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "0 created" in second.stdout
    assert {t: count(db, t) for t in ("authorities", "organizations")} == counts
    assert counts["organizations"] >= 1


def test_grant_commands_give_roles_and_are_audited(tmp_path: Path):
    db = migrated_sqlite(tmp_path / "grant.sqlite3")
    gongxin("demo-data", db=db)
    with sqlite3.connect(db) as conn:
        org_code = conn.execute("SELECT credit_code FROM organizations LIMIT 1").fetchone()[0]
    officers, staff = count(db, "officer_roles"), count(db, "staff_roles")
    with sqlite3.connect(db) as conn:
        admins = conn.execute("SELECT COUNT(*) FROM users WHERE is_platform_admin").fetchone()[0]
    results = [
        gongxin("grant", "officer", "--user", "dev-carol", "--authority", "440000", db=db),
        gongxin("grant", "staff", "--user", "dev-dave", "--org", org_code.lower(), "--role", "owner", db=db),
        gongxin("grant", "admin", "--user", "dev-erin", db=db),
        gongxin("grant", "officer", "--user", "dev-carol", "--authority", "440000", db=db),  # again: no-op
    ]
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert count(db, "officer_roles") == officers + 1
    assert count(db, "staff_roles") == staff + 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users WHERE is_platform_admin").fetchone()[0] == admins + 1
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_entries ORDER BY id")]
    assert actions[-3:] == ["grant.officer", "grant.staff", "grant.admin"]


def test_revoke_commands_take_roles_and_sessions_away_and_are_audited(tmp_path: Path):
    db = migrated_sqlite(tmp_path / "revoke.sqlite3")
    gongxin("demo-data", db=db)
    with sqlite3.connect(db) as conn:
        org_code = conn.execute("SELECT credit_code FROM organizations LIMIT 1").fetchone()[0]
    granted = [
        gongxin("grant", "officer", "--user", "dev-fay", "--authority", "440000", db=db),
        gongxin("grant", "staff", "--user", "dev-fay", "--org", org_code, db=db),
        gongxin("grant", "admin", "--user", "dev-fay", db=db),
    ]
    assert [r.returncode for r in granted] == [0, 0, 0], [r.stderr for r in granted]
    with sqlite3.connect(db) as conn:
        user_id = conn.execute("SELECT id FROM users WHERE is_platform_admin ORDER BY id DESC").fetchone()[0]
        conn.execute(
            "INSERT INTO auth_sessions (id, user_id, created_at, expires_at) "
            "VALUES ('s1', ?, '2026-01-01 00:00:00+00:00', '2099-01-01 00:00:00+00:00')",
            (user_id,),
        )
    revoked = [
        gongxin("revoke", "officer", "--user", "dev-fay", "--authority", "440000", db=db),
        gongxin("revoke", "staff", "--user", "dev-fay", "--org", org_code.lower(), db=db),
        gongxin("revoke", "admin", "--user", "dev-fay", "--reason", "离职", db=db),
        gongxin("revoke", "sessions", "--user", "dev-fay", db=db),
        gongxin("revoke", "admin", "--user", "dev-fay", db=db),  # again: nothing to take
    ]
    assert [r.returncode for r in revoked] == [0, 0, 0, 0, 0], [r.stderr for r in revoked]
    assert "nothing changed" in revoked[-1].stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT is_platform_admin FROM users WHERE id = ?", (user_id,)).fetchone()[0] == 0
        assert (
            conn.execute("SELECT COUNT(*) FROM officer_roles WHERE user_id = ?", (user_id,)).fetchone()[0]
            == 0
        )
        assert (
            conn.execute("SELECT COUNT(*) FROM staff_roles WHERE user_id = ?", (user_id,)).fetchone()[0] == 0
        )
        assert conn.execute("SELECT revoked_at FROM auth_sessions WHERE id = 's1'").fetchone()[0] is not None
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_entries WHERE target_id = ? ORDER BY id", (str(user_id),)
            )
        ]
        # Every change is also recorded for the running servers' caches.
        assert (
            conn.execute(
                "SELECT version FROM cache_versions WHERE name = ?", (f"user:{user_id}",)
            ).fetchone()[0]
            >= 7
        )
    assert actions[-4:] == ["revoke.officer", "revoke.staff", "revoke.admin", "sessions.revoke_all"]


def test_grant_to_an_unknown_authority_says_so(tmp_path: Path):
    db = migrated_sqlite(tmp_path / "unknown.sqlite3")
    result = gongxin("grant", "officer", "--user", "dev-alice", "--authority", "990000", db=db)
    assert result.returncode != 0
    assert "登记管理机关不存在" in result.stderr


async def test_the_server_keeps_its_start_up_objects_out_of_the_cyclic_gc():
    import gc

    from backend.serve import GC_YOUNG_THRESHOLD, freeze_startup_objects

    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    try:
        await freeze_startup_objects(None)  # type: ignore[arg-type]
        assert gc.get_freeze_count() > before
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
