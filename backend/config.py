"""One Settings object, read from the environment (see the table in README.md)."""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Secrets that ship in the repository for development. Production refuses them.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105
DEV_DATA_KEY = "dev-insecure-data-key-change-me"
DEV_WECHAT_APPID = "wx-dev-appid"
DEV_WECHAT_SECRET = "dev-secret"  # noqa: S105
DEV_WECHAT_PUSH_TOKEN = "dev-push-token"  # noqa: S105  (the emulator's, backend/wechat/emulator.py)
REAL_WECHAT_API = "https://api.weixin.qq.com"
# A production secret must carry at least this many bits by the estimate below: 43 random base64
# characters carry about 220 (`python -c "import secrets; print(secrets.token_urlsafe(32))"`).
MIN_SECRET_BITS = 128
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - names, not a bind


def estimated_entropy_bits(secret: str) -> float:
    """An upper estimate of a secret's entropy: its length times the Shannon entropy of its characters.

    Generous to a random string and harsh to a repetitive one ("x" * 40 scores 0, "abab..." 1 bit
    a character); it cannot see that a long English phrase is guessable, so it only refuses the worst.
    """
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def listening_origin(host: str, port: int | str) -> str:
    """The http origin of a server listening on ``host:port`` (a wildcard address as 127.0.0.1)."""
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service. Embedded defaults run on a laptop with nothing else installed."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_env: AppEnv = AppEnv.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1)
    # The public origin of QR codes and links; unset: the address this server listens on (HOST, PORT).
    public_base_url: str = ""
    # How many proxies (load balancers) stand in front; their X-Forwarded-For gives the client's IP.
    proxies_count: int = Field(default=0, ge=0)

    database_url: str = f"sqlite://{PROJECT_ROOT / 'var' / 'gongxin.sqlite3'}"
    redis_url: str | None = None
    db_pool_max: int = Field(default=10, ge=1)
    # Connections a server process opens at start (PostgreSQL), so that the first burst after a
    # deploy or a quiet night does not also pay for connecting: asyncpg's own default is min = max.
    db_pool_min: int = Field(default=10, ge=0)
    # How long a request waits to open a database connection or to get one from the pool, and how
    # long one statement may run (the server cancels it; the client gives up half a second later if
    # the server itself hangs). Past either the request answers 503 service.unavailable.
    db_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0, le=600)

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    data_encryption_key: SecretStr = SecretStr(DEV_DATA_KEY)
    token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    wechat_appid: str = DEV_WECHAT_APPID
    wechat_secret: SecretStr = SecretStr(DEV_WECHAT_SECRET)
    # The Token of the mini-program's message push (消息推送, plaintext JSON mode): push events
    # (media check verdicts) are accepted only with its signature (POST /api/v1/wechat/push).
    wechat_push_token: SecretStr = SecretStr(DEV_WECHAT_PUSH_TOKEN)
    # Base URL of WeChat's server API; the emulator's address in development.
    wechat_api_base: str = "http://127.0.0.1:8010"
    # Start the local WeChat emulator with `gongxin serve` (development only).
    wechat_emulator: bool = True
    wechat_timeout_seconds: float = Field(default=5.0, gt=0)
    # Threads of each process's WeChat client (wechatpy is synchronous): calls in flight at once,
    # each with a kept-alive connection. bench/README.md "What limits login" measured 8 against more.
    wechat_max_workers: int = Field(default=8, ge=1, le=64)

    # Party building: the rotating check-in code's interval, and the 三会一课 frequencies
    # ({"general_meeting": "quarter", ...}; kinds left out are not required).
    checkin_code_interval_s: int = Field(default=15, ge=5, le=300)
    partybuilding_requirements: dict[str, str] | None = None
    # Members expected at an activity are reminded this long before it starts (activity.reminder_due).
    activity_reminder_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # Confirmed sign-ups of a posting are reminded this long before it starts (posting.reminder_due).
    posting_reminder_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)

    # Notifications (WeChat subscribe messages). Template ids per outbox event kind, as JSON
    # ({"checkin.recorded": "<id from the mini-program admin console>", ...}), over development
    # defaults; in production a kind without a configured id is recorded as skipped, never sent.
    notify_templates: dict[str, str] | None = None
    notify_miniprogram_state: str = Field(default="formal", pattern="^(developer|trial|formal)$")
    # A transient failure (-1, 45009, timeout, HTTP 5xx, connection error) is tried again after
    # base * 2^(n-1) seconds, with jitter, capped; after this many attempts it goes to the dead letters.
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_retry_base_seconds: float = Field(default=2.0, gt=0)
    notify_retry_max_seconds: float = Field(default=600.0, gt=0)
    # Messages in flight at once per worker process, and per queued job.
    notify_concurrency: int = Field(default=16, ge=1, le=256)
    notify_batch_size: int = Field(default=64, ge=1, le=1000)
    # A delivery handed to the queue and not taken within this time is handed again (a job lost
    # with a Redis restart); one claimed for sending and not finished within the send lease belonged
    # to a worker that died mid-send: it is dead-lettered as "interrupted", never resent by itself.
    notify_queue_lease_seconds: float = Field(default=30.0, gt=0)
    notify_send_lease_seconds: float = Field(default=120.0, gt=0)
    # How often the relay looks for due outbox events and deliveries.
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    # Run the notifications worker with `gongxin serve`: inside the server process without Redis,
    # as a `gongxin worker` process beside it with Redis. Unset: on, except in production.
    serve_notifications: bool | None = None
    login_rate_limit_per_minute: int = Field(default=30, ge=1)
    wxacode_rate_limit_per_minute: int = Field(default=30, ge=1)
    # Sign-ups (and repeats of one) per member per minute, and new postings per staff member per hour
    # (429 with Retry-After beyond; counted in Redis when configured, so across every process).
    signup_rate_limit_per_minute: int = Field(default=20, ge=1)
    posting_rate_limit_per_hour: int = Field(default=30, ge=1)
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Routes that take files (organization imports) accept up to this much.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # The whole of a request's head and body must arrive within this; a client that sends a byte now
    # and then is cut off (408) instead of holding its connection for ever.
    request_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    log_format: str = Field(default="text", pattern="^(text|json)$")
    # One line per request; unset means on in development and off in production.
    access_log: bool | None = None
    log_level: str = "INFO"
    demo_data: bool = True
    # Where `gongxin demo-data` writes the demo organization's QR code image (beside the embedded
    # database by default; two demo runs at once, as parallel tests do, each need their own file).
    demo_qr_path: Path = PROJECT_ROOT / "var" / "demo-qr.png"

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def runs_notifications_with_server(self) -> bool:
        """Whether `gongxin serve` delivers notifications too (default: yes, except in production)."""
        return self.serve_notifications if self.serve_notifications is not None else not self.is_production

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def fernet_key(self) -> bytes:
        """A Fernet key derived from the configured data-encryption secret."""
        digest = hashlib.sha256(self.data_encryption_key.get_secret_value().encode()).digest()
        return base64.urlsafe_b64encode(digest)

    @model_validator(mode="before")
    @classmethod
    def _public_base_url_defaults_to_the_listening_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("public_base_url"):
            origin = listening_origin(str(data.get("host") or "127.0.0.1"), data.get("port") or 8000)
            data = {**data, "public_base_url": origin}
        return data

    @model_validator(mode="after")
    def _refuse_several_workers_without_redis(self) -> Settings:
        # Without Redis each process has a cache of its own: a change made through one worker would
        # never invalidate what the others keep (profiles, verdicts, search pages, sessions).
        if self.workers > 1 and not self.redis_url:
            raise ValueError(
                f"WORKERS={self.workers} needs REDIS_URL: without Redis each worker keeps a cache of its "
                "own, and a change made through one would not reach the others"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Settings:
        if not self.is_production:
            return self
        problems = []
        secret, data_key = self.secret_key.get_secret_value(), self.data_encryption_key.get_secret_value()
        for name, value, default in (
            ("SECRET_KEY", secret, DEV_SECRET_KEY),
            ("DATA_ENCRYPTION_KEY", data_key, DEV_DATA_KEY),
        ):
            if value == default or len(value) < 32 or estimated_entropy_bits(value) < MIN_SECRET_BITS:
                problems.append(
                    f"{name} is the development default, under 32 characters or too regular to be random"
                )
        if secret == data_key:
            problems.append("SECRET_KEY and DATA_ENCRYPTION_KEY are the same; each needs its own")
        base = urlsplit(self.public_base_url)
        if base.scheme != "https" or not base.hostname or base.query or base.fragment:
            problems.append(f"PUBLIC_BASE_URL must be the public https origin, not {self.public_base_url!r}")
        if self.uses_sqlite:
            problems.append("DATABASE_URL points to SQLite; production needs PostgreSQL")
        if not self.redis_url:
            problems.append("REDIS_URL is not set; production processes must share state through Redis")
        if self.wechat_emulator or self.wechat_api_base != REAL_WECHAT_API:
            problems.append("the WeChat emulator is enabled; set WECHAT_EMULATOR=false and the real API base")
        if (
            self.wechat_appid == DEV_WECHAT_APPID
            or self.wechat_secret.get_secret_value() == DEV_WECHAT_SECRET
        ):
            problems.append("WECHAT_APPID/WECHAT_SECRET are the development defaults")
        if self.wechat_push_token.get_secret_value() == DEV_WECHAT_PUSH_TOKEN:
            problems.append("WECHAT_PUSH_TOKEN is the development default")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
