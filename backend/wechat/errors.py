"""Typed WeChat errors, grafted onto the domain error tree.

Every WeChat failure is a ``WeChatError`` (a ``ServiceUnavailable``). Subclasses that the user can
act on also inherit the matching domain class (``InvalidCode`` is an ``Unauthorized``, ...) and set
their own HTTP ``status``, so the one handler in the HTTP layer maps them without knowing WeChat::

    WeChatError (503)                   unknown errcode; details carry errcode/errmsg
    ├── InvalidCode (401)               40029, 40163, 41008: the login/phone code is bad or used
    ├── RateLimited (429, transient)    45009, 45011: not retried by the client (do not hammer)
    ├── SystemBusy (503, transient)     -1: retried with backoff
    ├── WeChatUnavailable (503, transient)  timeout, connection error, HTTP 5xx: retried
    ├── AccessTokenInvalid (503, transient) 40001, 40014, 42001: token refetched once
    ├── InvalidAppCredentials (503)     40013, 40125, 40164, or 40001 on the token endpoint
    ├── SubscribeRefused (409)          43101: no remaining consent for this template
    ├── InvalidOpenid (422)             40003
    ├── InvalidTemplate (500)           40037: our configuration is wrong
    ├── InvalidTemplateData (422)       47003
    ├── InvalidArguments (422)          47001, 40097, 44002
    ├── RiskyUser (403)                 40226
    ├── InvalidWxaCodeParams (422)      40129, 41030
    └── ForeignHostBlocked (500)        the transport guard refused a host other than the API base

Messages never contain access tokens or secrets: details hold only the errcode and WeChat's errmsg
(which the client redacts before building the error).
"""

from __future__ import annotations

from typing import Any, ClassVar

from backend.errors import (
    Conflict,
    Forbidden,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)


class WeChatError(ServiceUnavailable):
    """A call to WeChat failed."""

    code = "wechat.error"
    message = "微信服务调用失败，请稍后再试 / The WeChat service call failed, try again later"
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        errcode: int | None = None,
        errmsg: str | None = None,
        details: Any = None,
        transient: bool | None = None,
    ):
        self.errcode = errcode
        self.errmsg = errmsg
        if details is None and errcode is not None:
            details = {"errcode": errcode, "errmsg": errmsg}
        super().__init__(message, details=details)
        if transient is not None:
            # Instance attribute shadows the class default (an HTTP 404 is not transient, a 502 is).
            self.transient = transient  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(errcode={self.errcode!r}, errmsg={self.errmsg!r})"


class InvalidCode(WeChatError, Unauthorized):
    """The wx.login or phone code is invalid, expired or already used."""

    status = 401
    code = "wechat.invalid_code"
    message = "登录凭证无效或已使用，请重新登录 / The login code is invalid or already used, log in again"


class RateLimited(WeChatError, TooManyRequests):
    """WeChat's frequency limit was hit."""

    status = 429
    code = "wechat.rate_limited"
    message = "微信接口调用过于频繁，请稍后再试 / WeChat rate limit reached, try again later"
    transient = True


class SystemBusy(WeChatError):
    """WeChat answered -1 (system busy)."""

    code = "wechat.system_busy"
    message = "微信系统繁忙，请稍后再试 / WeChat is busy, try again later"
    transient = True


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached: timeout, connection error or an HTTP error status."""

    code = "wechat.unavailable"
    message = "微信服务暂时不可用，请稍后再试 / WeChat is temporarily unavailable, try again later"
    transient = True


class AccessTokenInvalid(WeChatError):
    """The access token was rejected (invalid, not latest or expired)."""

    code = "wechat.access_token_invalid"
    message = "微信接口凭证失效，请稍后再试 / The WeChat access token was rejected, try again later"
    transient = True


class InvalidAppCredentials(WeChatError):
    """The appid or secret is wrong or the server IP is not whitelisted: an operator must fix it."""

    code = "wechat.misconfigured"
    message = "微信小程序配置错误 / The WeChat mini-program credentials are misconfigured"


class SubscribeRefused(WeChatError, Conflict):
    """The user has no remaining subscription consent for this template (43101)."""

    status = 409
    code = "wechat.subscribe_refused"
    message = "用户未订阅该消息或订阅次数已用完 / The user has not subscribed to this message (or used it up)"


class InvalidOpenid(WeChatError, Unprocessable):
    """WeChat does not know this openid for the app (40003)."""

    status = 422
    code = "wechat.invalid_openid"
    message = "无效的用户标识 / Invalid openid"


class InvalidTemplate(WeChatError):
    """The subscribe-message template id is wrong: a configuration error (40037)."""

    status = 500
    code = "wechat.invalid_template"
    message = "订阅消息模板配置错误 / The subscribe message template id is invalid"


class InvalidTemplateData(WeChatError, Unprocessable):
    """The subscribe-message data does not fit the template (47003)."""

    status = 422
    code = "wechat.invalid_template_data"
    message = "订阅消息内容不符合模板要求 / The subscribe message data does not fit the template"


class InvalidArguments(WeChatError, Unprocessable):
    """WeChat rejected the request arguments (47001, 40097, 44002)."""

    status = 422
    code = "wechat.invalid_arguments"
    message = "微信接口参数错误 / Invalid arguments for the WeChat API"


class RiskyUser(WeChatError, Forbidden):
    """WeChat flags the user as high-risk (40226)."""

    status = 403
    code = "wechat.risky_user"
    message = "该微信账号存在风险，暂无法使用 / This WeChat account is flagged as high-risk"


class InvalidWxaCodeParams(WeChatError, Unprocessable):
    """Bad scene or page for a mini-program code (40129, 41030)."""

    status = 422
    code = "wechat.invalid_wxacode_params"
    message = "小程序码参数无效（scene 或 page） / Invalid mini-program code parameters (scene or page)"


class ForeignHostBlocked(WeChatError):
    """The transport guard refused a request to a host other than the configured API base."""

    status = 500
    code = "wechat.foreign_host_blocked"
    message = "禁止访问未配置的主机 / Refused a request to a host other than the configured WeChat API base"


_BY_ERRCODE: dict[int, type[WeChatError]] = {
    -1: SystemBusy,
    40001: AccessTokenInvalid,
    40014: AccessTokenInvalid,
    42001: AccessTokenInvalid,
    40013: InvalidAppCredentials,
    40125: InvalidAppCredentials,
    40164: InvalidAppCredentials,
    40029: InvalidCode,
    40163: InvalidCode,  # real WeChat's "code been used"
    41008: InvalidCode,  # missing code
    45009: RateLimited,
    45011: RateLimited,
    43101: SubscribeRefused,
    40003: InvalidOpenid,
    40037: InvalidTemplate,
    47003: InvalidTemplateData,
    47001: InvalidArguments,
    40097: InvalidArguments,
    44002: InvalidArguments,
    40226: RiskyUser,
    40129: InvalidWxaCodeParams,
    41030: InvalidWxaCodeParams,
}


def error_for(errcode: int, errmsg: str | None) -> WeChatError:
    """The typed error for a WeChat errcode (a plain WeChatError when the code is unknown)."""
    cls = _BY_ERRCODE.get(errcode, WeChatError)
    return cls(errcode=errcode, errmsg=errmsg)
