"""The charity fixtures (a foundation, its staff, a campaign open for donations), and log helpers."""

from __future__ import annotations

from typing import Any

from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.translog import integrate, keys
from tests.charity.conftest import _forget_local_copies, campaign, donation, expenditure, foundation

__all__ = ["_forget_local_copies", "campaign", "checkpoint_now", "donation", "expenditure", "foundation"]

NAME = keys.log_name("https://gongxin.example.cn")


def cipher(settings: Settings) -> PersonalDataCipher:
    return PersonalDataCipher(settings.fernet_key)


async def checkpoint_now(settings: Settings) -> Any:
    """What the server's Checkpointer does every quarter second, once."""
    return await integrate.integrate_pending(name=NAME, cipher=cipher(settings))


def bridge(client: Any, loop: Any) -> Any:
    """A ``gongxin_verify`` fetch that asks the app under test (for a verifier run in a thread)."""
    import asyncio

    def fetch(path: str) -> bytes:
        response = asyncio.run_coroutine_threadsafe(client.get(path), loop).result(timeout=60)
        if response.status_code >= 400:
            raise OSError(f"HTTP {response.status_code} for {path}: {response.text[:200]}")
        return bytes(response.content)

    return fetch


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _forget_current_checkpoints() -> None:
    from backend.translog import service

    service.forget_all()
