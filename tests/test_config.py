from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from backend.config import REAL_WECHAT_API, Settings

STRONG = "x" * 40
GOOD_PRODUCTION = {
    "app_env": "production",
    "secret_key": STRONG,
    "data_encryption_key": "y" * 40,
    "database_url": "postgres://gongxin@db.internal:5432/gongxin",
    "redis_url": "redis://cache.internal:6379/0",
    "wechat_emulator": False,
    "wechat_api_base": REAL_WECHAT_API,
    "wechat_appid": "wx0123456789abcdef",
    "wechat_secret": "a-real-secret",
}


def test_development_defaults_need_nothing():
    settings = Settings()
    assert settings.uses_sqlite
    assert settings.redis_url is None
    assert settings.max_json_body_bytes == 1024 * 1024


def test_production_accepts_real_configuration():
    assert Settings(**GOOD_PRODUCTION).is_production


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"secret_key": "dev-insecure-secret-key-change-me"}, "SECRET_KEY"),
        ({"data_encryption_key": "short"}, "DATA_ENCRYPTION_KEY"),
        ({"database_url": "sqlite://var/gongxin.sqlite3"}, "SQLite"),
        ({"redis_url": None}, "REDIS_URL"),
        ({"wechat_emulator": True}, "emulator"),
        ({"wechat_api_base": "http://127.0.0.1:8010"}, "emulator"),
        ({"wechat_appid": "wx-dev-appid"}, "WECHAT_APPID"),
    ],
)
def test_production_refuses_development_defaults(override, reason):
    with pytest.raises(ValidationError) as excinfo:
        Settings(**{**GOOD_PRODUCTION, **override})
    assert reason in str(excinfo.value)


def test_production_refusal_is_one_line_on_the_console(tmp_path):
    env = {"APP_ENV": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gongxin: configuration error: refusing to start in production")
    assert "SQLite" in lines[0] and "SECRET_KEY" in lines[0]
