"""WeChat server APIs for the mini-program: a wechatpy-based client, typed errors and a local emulator."""

from backend.wechat.client import (
    WECHAT_API_BASE,
    MiniProgramClient,
    PhoneInfo,
    Session,
    TextCheck,
    WeChatService,
    make_session_storage,
)
from backend.wechat.errors import WeChatError, error_for

__all__ = [
    "WECHAT_API_BASE",
    "MiniProgramClient",
    "PhoneInfo",
    "Session",
    "TextCheck",
    "WeChatError",
    "WeChatService",
    "error_for",
    "make_session_storage",
]
