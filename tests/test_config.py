from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from backend.config import REAL_WECHAT_API, Settings, estimated_entropy_bits

# Two keys as `secrets.token_urlsafe(32)` makes them (fixed here so that the tests repeat).
STRONG = "q3Vd9kQeW1x_LmZ7aRt0yHcBfN5sJ2uPgE8oXiK4vTw"
OTHER_STRONG = "Zp7Lr2Xc9Vb1Nm4Qw8Es6Dt3Fy0Gh5Ju_Ki-Ol1Pa2S"
GOOD_PRODUCTION = {
    "app_env": "production",
    "public_base_url": "https://gongxin.example.cn",
    "secret_key": STRONG,
    "data_encryption_key": OTHER_STRONG,
    "database_url": "postgres://gongxin@db.internal:5432/gongxin",
    "redis_url": "redis://cache.internal:6379/0",
    "wechat_emulator": False,
    "wechat_api_base": REAL_WECHAT_API,
    "wechat_appid": "wx0123456789abcdef",
    "wechat_secret": "a-real-secret",
    "wechat_push_token": "a-real-push-token",
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
        ({"secret_key": "x" * 64}, "SECRET_KEY"),
        ({"data_encryption_key": "abab" * 16}, "DATA_ENCRYPTION_KEY"),
        ({"data_encryption_key": STRONG}, "the same"),
        ({"public_base_url": "http://gongxin.example.cn"}, "PUBLIC_BASE_URL"),
        ({"public_base_url": None}, "PUBLIC_BASE_URL"),
        ({"public_base_url": "https://"}, "PUBLIC_BASE_URL"),
        ({"wechat_push_token": "dev-push-token"}, "WECHAT_PUSH_TOKEN"),
    ],
)
def test_production_refuses_development_defaults(override, reason):
    with pytest.raises(ValidationError) as excinfo:
        Settings(**{**GOOD_PRODUCTION, **override})
    assert reason in str(excinfo.value)


def test_random_secrets_score_high_and_repetitive_ones_low():
    assert estimated_entropy_bits(STRONG) > 200
    assert estimated_entropy_bits("x" * 64) == 0
    assert estimated_entropy_bits("abab" * 16) == 64


def test_public_base_url_defaults_to_the_address_the_server_listens_on(monkeypatch):
    monkeypatch.setenv("PORT", "9000")
    assert Settings().public_base_url == "http://127.0.0.1:9000"
    assert Settings(host="0.0.0.0", port=8123).public_base_url == "http://127.0.0.1:8123"  # noqa: S104
    assert Settings(host="::1", port=8124).public_base_url == "http://[::1]:8124"
    assert (
        Settings(public_base_url="https://gongxin.example.cn").public_base_url == "https://gongxin.example.cn"
    )


def test_production_refusal_is_one_line_on_the_console(tmp_path):
    env = {"APP_ENV": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gongxin: configuration error: refusing to start in production")
    assert "SQLite" in lines[0] and "SECRET_KEY" in lines[0] and "PUBLIC_BASE_URL" in lines[0]


def test_several_workers_need_redis_to_share_their_cache():
    with pytest.raises(ValidationError, match="WORKERS=2 needs REDIS_URL"):
        Settings(workers=2)
    assert Settings(workers=2, redis_url="redis://127.0.0.1:6379/0").workers == 2
    assert Settings(workers=1).redis_url is None
