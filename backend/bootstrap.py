"""The composition root: where the real (or test) dependencies of one process are built.

The HTTP app, the CLI, the worker and the tests all go through ``start``/``stop`` so that every
process opens its database, cache and WeChat client the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import Tortoise

from .cache import Cache, create_cache
from .config import Settings
from .crypto import PersonalDataCipher
from .db import close_db, init_db, ping_db
from .registry.qr import KeyRing
from .wechat.client import WeChatService


@dataclass
class Container:
    """The shared resources of one process."""

    settings: Settings
    cache: Cache
    wechat: WeChatService
    cipher: PersonalDataCipher
    keyring: KeyRing
    owns_db: bool


def build_wechat(settings: Settings) -> WeChatService:
    """The WeChat client for these settings (the emulator's address in development)."""
    return WeChatService.create(
        appid=settings.wechat_appid,
        secret=settings.wechat_secret.get_secret_value(),
        api_base=settings.wechat_api_base,
        redis_url=settings.redis_url,
        timeout=settings.wechat_timeout_seconds,
        max_workers=settings.wechat_max_workers,
    )


async def start(settings: Settings, *, cache: Cache | None = None) -> Container:
    """Open this process's resources. Tests may pass a cache and initialise the ORM themselves."""
    owns_db = not Tortoise._inited
    if owns_db:
        await init_db(
            settings.database_url,
            pool_max=settings.db_pool_max,
            pool_min=settings.db_pool_min,
            connect_timeout=settings.db_connect_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
        )
        # Connect now rather than inside the first request: a request cancelled by its client
        # while Tortoise is still opening the connection would leave that connection unusable.
        await ping_db()
    keyring = KeyRing()
    await keyring.reload()
    return Container(
        settings=settings,
        cache=cache or create_cache(settings.redis_url),
        wechat=build_wechat(settings),
        cipher=PersonalDataCipher(settings.fernet_key),
        keyring=keyring,
        owns_db=owns_db,
    )


async def stop(container: Container, *, close_cache: bool = True) -> None:
    """Release what ``start`` opened."""
    container.wechat.close()
    if close_cache:
        await container.cache.close()
    if container.owns_db:
        await close_db()
