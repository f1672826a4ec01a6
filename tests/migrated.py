"""An empty SQLite database as `gongxin migrate` leaves it, made once per test process and copied.

On an empty database the command writes the schema and the reference data only (no organizations:
nothing for the search index, no QR code, no signing key, nothing in Redis), so a copy of its result
is the database it would make again, without another interpreter importing the app and migrating
(about 3.5 s of CPU each). tests/test_migrations.py runs the command itself, on every leg.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


@functools.cache
def _template() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="gongxin-migrated-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / "migrated.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite://{path}"}
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "0 organizations given their first QR code" in result.stdout, result.stdout
    # The command's process has ended: nothing of the database is left outside its one file.
    assert [p.name for p in directory.iterdir()] == [path.name]
    return path


def migrated_sqlite(target: Path) -> Path:
    """``target``, a fresh copy of the migrated empty database."""
    shutil.copyfile(_template(), target)
    return target
