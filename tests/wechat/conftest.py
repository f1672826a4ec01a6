"""Fixtures for the WeChat tests: an in-process emulator on a free port and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.wechat.client import MiniProgramClient, WeChatService
from backend.wechat.emulator import WeChatEmulator

APPID = "wx-test-appid"
SECRET = "test-secret-123"


@pytest.fixture
def emulator() -> Iterator[WeChatEmulator]:
    """A fresh emulator per test (starting one costs a millisecond)."""
    with WeChatEmulator(appid=APPID, secret=SECRET) as emu:
        yield emu


@pytest.fixture
def client(emulator: WeChatEmulator) -> MiniProgramClient:
    """A synchronous client with short timeouts and no backoff, so retries cost no wall time."""
    return MiniProgramClient(APPID, SECRET, api_base=emulator.url, timeout=2.0, max_attempts=3, backoff=0.0)


@pytest.fixture
def service(client: MiniProgramClient) -> Iterator[WeChatService]:
    """The async facade over ``client``."""
    svc = WeChatService(client, max_workers=4)
    yield svc
    svc.close()
