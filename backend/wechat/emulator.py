"""A local WeChat server emulator: real HTTP, WeChat's paths and response shapes, state in memory.

Behaviour worth knowing:

* ``/cgi-bin/token``: each fetch invalidates the previous token of that kind after ``token_grace_s``
  seconds (default 0: immediately; WeChat waits 5 minutes). ``/cgi-bin/stable_token`` returns the same
  token to non-forced calls while it is valid; ``force_refresh`` issues a new one and invalidates the
  old one the same way. Stable and ordinary tokens are independent, as at WeChat.
* Unknown or invalidated token -> 40001, token expired (by time or ``/__emulator__/tokens/expire``)
  -> 42001.
* Codes ``dev-<name>`` (login) and ``dev-phone-<11 digits>`` (phone) are reusable; codes issued through
  the admin API are single-use and expire after 5 minutes; reused or unknown codes -> 40029.
* ``getwxacodeunlimit``: bad scene -> 40129, width outside 280..1280 or bad env_version -> 40097,
  page with a leading "/" (or an invalid page with check_path) -> 41030.
* ``msg_sec_check``: version != 2, scene outside 1..4, empty or > 2500 chars content -> 47001;
  malformed openid -> 40003.
* ``subscribe/send``: malformed openid -> 40003, bad template id -> 40037, data not
  ``{key: {"value": str}}`` -> 47003, bad miniprogram_state/lang -> 47001, no consent -> 43101.
* Unknown path -> HTTP 404 with ``{"errcode": 40066, "errmsg": "invalid url"}`` (not -1, which
  clients rightly retry as "system busy").

Admin API under ``/__emulator__/`` (JSON), mirrored by Python methods: POST wx-login {name},
POST phone-code {phone}, POST/GET consents, GET/DELETE messages, POST/GET/DELETE faults,
POST tokens/expire, POST reset, GET calls[?path=], GET/POST settings {auto_consent}, GET openid?name=,
GET health.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import itertools
import json
import re
import secrets
import signal
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ADMIN_PREFIX = "/__emulator__/"
TOKEN_TTL_S = 7200
CODE_TTL_S = 300
DEFAULT_RISKY_WORDS: dict[str, int] = {"违禁词": 20006, "赌博": 20006, "risky-test-word": 21000}
REVIEW_WORD = "review-test-word"
# The token of the message push (消息推送) the emulator signs its push events with; the server
# verifies them with WECHAT_PUSH_TOKEN (development default: the same).
DEV_PUSH_TOKEN = "dev-push-token"  # noqa: S105
_SCENE_RE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
_NAME_RE = re.compile(r"^[0-9A-Za-z_.\-]{1,64}$")
_OPENID_RE = re.compile(r"^o[0-9A-Za-z_\-]{27}$")
_TEMPLATE_RE = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
_PAGE_RE = re.compile(r"^[0-9A-Za-z_\-]+(/[0-9A-Za-z_\-]+)*$")


class _WxError(Exception):
    """A WeChat-style error answer (HTTP 200, errcode/errmsg JSON)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode, self.errmsg = errcode, errmsg


class EmulatorAdminError(ValueError):
    """A bad admin request (HTTP 400/404 over HTTP, raised as is from the Python methods)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class _Token:
    value: str
    kind: str  # "basic" or "stable"
    expires_at: float
    invalid_after: float | None = None  # set when a newer token of the same kind replaced it
    expired: bool = False  # set by the admin API


@dataclass
class _Fault:
    path: str
    remaining: int
    errcode: int | None = None
    errmsg: str | None = None
    latency_ms: int | None = None
    timeout: bool = False
    hold_s: float = 30.0
    http_status: int | None = None


def openid_for(appid: str, name: str) -> str:
    """The deterministic openid of dev user ``name`` in ``appid`` (28 chars, like WeChat's)."""
    digest = hashlib.sha256(f"{appid}:{name}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def unionid_for(name: str) -> str:
    """The deterministic unionid of dev user ``name`` (the same across appids, as at WeChat)."""
    digest = hashlib.sha256(f"union:{name}".encode()).digest()
    return "u" + base64.urlsafe_b64encode(digest).decode()[:27]


def _png(text: str, width: int) -> bytes:
    """A real QR code PNG of ``text``, about ``width`` px wide (a blank PNG if qrcode is missing)."""
    try:
        import qrcode
    except ImportError:  # pragma: no cover - qrcode[pil] is installed in the dev venv
        return _blank_png(width)
    qr = qrcode.QRCode(border=2)
    qr.add_data(text)
    qr.make(fit=True)
    qr.box_size = max(1, width // (qr.modules_count + 4))
    buf = io.BytesIO()
    qr.make_image().save(buf)
    return buf.getvalue()


def _blank_png(width: int) -> bytes:
    """A minimal valid white greyscale PNG, made with zlib and struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff" * width for _ in range(width))
    header = struct.pack(">IIBBBBB", width, width, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _rid() -> str:
    return secrets.token_hex(12)


class WeChatEmulator:
    """An in-memory WeChat server on a real socket; thread-safe, startable in-process or as a CLI."""

    def __init__(
        self,
        *,
        appid: str = "wx-dev-appid",
        secret: str = "dev-secret",  # noqa: S107 - the emulator's well-known development secret
        host: str = "127.0.0.1",
        port: int = 0,
        auto_consent: bool = False,
        token_grace_s: float = 0.0,
        risky_words: Iterable[str] | Mapping[str, int] | None = None,
        push_token: str = DEV_PUSH_TOKEN,
    ):
        self.appid, self.secret, self.host, self.port = appid, secret, host, port
        self.push_token = push_token
        self.token_grace_s = token_grace_s
        self._default_auto_consent = auto_consent
        words = DEFAULT_RISKY_WORDS if risky_words is None else risky_words
        self.risky_words: dict[str, int] = (
            dict(words) if isinstance(words, Mapping) else {w: 21000 for w in words}
        )
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._msgids = itertools.count(2_000_000_000_000_000 + secrets.randbelow(10**12))
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            return
        self._stopping.clear()
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True  # held "timeout" requests must never block shutdown
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wechat-emulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; releases held requests first so it returns promptly."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> WeChatEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every token, code, consent, message, fault and call; restore constructor settings."""
        with self._lock:
            self._tokens: dict[str, _Token] = {}
            self._current: dict[str, str] = {}  # kind -> latest token value
            self._login_codes: dict[str, tuple[str, float]] = {}
            self._phone_codes: dict[str, tuple[str, float]] = {}
            self._consents: dict[tuple[str, str], int] = {}
            self._messages: list[dict[str, Any]] = []
            self._media: dict[str, dict[str, Any]] = {}  # trace_id -> the check and its verdict
            self._faults: list[_Fault] = []
            self._calls: deque[dict[str, Any]] = deque(maxlen=1000)
            self.auto_consent = self._default_auto_consent

    # --- admin operations (also served under /__emulator__/) ---------------------------------------
    def openid_for(self, name: str) -> str:
        """The openid that code ``dev-<name>`` logs in as."""
        return openid_for(self.appid, name)

    def issue_login_code(self, name: str) -> dict[str, str]:
        """Simulate wx.login for user ``name``: a single-use code and the openid it resolves to."""
        if not _NAME_RE.match(name):
            raise EmulatorAdminError("name must be 1-64 chars of [0-9A-Za-z_.-]")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._login_codes[code] = (name, time.time() + CODE_TTL_S)
        return {"code": code, "openid": self.openid_for(name)}

    def issue_phone_code(self, phone: str) -> str:
        """Simulate the getPhoneNumber button: a single-use code for an 11-digit mainland number."""
        if not re.fullmatch(r"1\d{10}", phone):
            raise EmulatorAdminError("phone must be 11 digits starting with 1")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._phone_codes[code] = (phone, time.time() + CODE_TTL_S)
        return code

    def grant_consent(self, openid: str, template_id: str, count: int = 1) -> int:
        """Record ``count`` wx.requestSubscribeMessage consents; returns the remaining count."""
        if count < 1:
            raise EmulatorAdminError("count must be >= 1")
        with self._lock:
            key = (openid, template_id)
            self._consents[key] = self._consents.get(key, 0) + count
            return self._consents[key]

    def consents(self) -> list[dict[str, Any]]:
        """Every (openid, template_id) with its remaining consents."""
        with self._lock:
            return [{"openid": o, "template_id": t, "remaining": n} for (o, t), n in self._consents.items()]

    def messages(self, touser: str | None = None, template_id: str | None = None) -> list[dict[str, Any]]:
        """Subscribe messages sent so far, oldest first, optionally filtered."""
        with self._lock:
            return [
                dict(m)
                for m in self._messages
                if (touser is None or m["touser"] == touser)
                and (template_id is None or m["template_id"] == template_id)
            ]

    def clear_messages(self) -> None:
        """Forget the recorded messages."""
        with self._lock:
            self._messages.clear()

    def add_fault(
        self,
        path: str,
        count: int = 1,
        errcode: int | None = None,
        latency_ms: int | None = None,
        timeout: bool = False,
        http_status: int | None = None,
        *,
        errmsg: str | None = None,
        hold_s: float = 30.0,
    ) -> dict[str, Any]:
        """Make the next ``count`` calls of ``path`` fail (errcode, http_status), stall or hang."""
        kinds = [errcode is not None, latency_ms is not None, bool(timeout), http_status is not None]
        if sum(kinds) != 1:
            raise EmulatorAdminError("give exactly one of errcode, latency_ms, timeout, http_status")
        if count < 1 or not path.startswith("/"):
            raise EmulatorAdminError("count must be >= 1 and path must start with /")
        fault = _Fault(path, count, errcode, errmsg, latency_ms, bool(timeout), float(hold_s), http_status)
        with self._lock:
            self._faults.append(fault)
        return asdict(fault)

    def faults(self) -> list[dict[str, Any]]:
        """Pending faults."""
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def expire_tokens(self) -> int:
        """Mark every issued access token expired (next use -> 42001); returns how many."""
        with self._lock:
            for token in self._tokens.values():
                token.expired = True
            return len(self._tokens)

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        """Recent WeChat API calls (method, path, time), oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls if path is None or c["path"] == path]

    # --- internals used by the handler -------------------------------------------------------------
    def _record_and_take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            self._calls.append({"method": method, "path": path, "time": time.time()})
            for fault in self._faults:
                if fault.path == path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake up at once when the emulator stops."""
        self._stopping.wait(seconds)

    def _issue_token(self, kind: str) -> _Token:
        now = time.time()
        old = self._tokens.get(self._current.get(kind, ""))
        if old is not None and old.invalid_after is None:
            old.invalid_after = now + self.token_grace_s
        token = _Token(secrets.token_urlsafe(96)[:128], kind, now + TOKEN_TTL_S)
        self._tokens[token.value] = token
        self._current[kind] = token.value
        return token

    def _check_token(self, query: Mapping[str, str]) -> None:
        now = time.time()
        with self._lock:
            token = self._tokens.get(query.get("access_token", ""))
            if token is None or (token.invalid_after is not None and now >= token.invalid_after):
                raise _WxError(40001, "invalid credential, access_token is invalid or not latest")
            if token.expired or now >= token.expires_at:
                raise _WxError(42001, "access_token expired")

    def _check_app(self, appid: Any, secret: Any, *, bad_secret: int) -> None:
        if appid != self.appid:
            raise _WxError(40013, "invalid appid")
        if secret != self.secret:
            raise _WxError(bad_secret, "invalid appsecret" if bad_secret == 40125 else "invalid credential")

    @staticmethod
    def _token_answer(token: _Token) -> dict[str, Any]:
        return {"access_token": token.value, "expires_in": max(0, int(token.expires_at - time.time()))}

    # --- WeChat APIs -------------------------------------------------------------------------------
    def _api_token(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            raise _WxError(40002, "invalid grant_type")
        self._check_app(query.get("appid"), query.get("secret"), bad_secret=40001)
        with self._lock:
            return self._token_answer(self._issue_token("basic"))

    def _api_stable_token(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        if body.get("grant_type") != "client_credential":
            raise _WxError(40002, "invalid grant_type")
        self._check_app(body.get("appid"), body.get("secret"), bad_secret=40125)
        now = time.time()
        with self._lock:
            current = self._tokens.get(self._current.get("stable", ""))
            if (
                current is not None
                and not body.get("force_refresh")
                and not current.expired
                and current.invalid_after is None
                and now < current.expires_at - 60
            ):
                return self._token_answer(current)
            return self._token_answer(self._issue_token("stable"))

    def _take_code(self, codes: dict[str, tuple[str, float]], code: str) -> str:
        with self._lock:
            value, expires_at = codes.pop(code, ("", 0.0))  # pop: issued codes are single-use
        if not value or time.time() >= expires_at:
            raise _WxError(40029, "invalid code")
        return value

    def _api_jscode2session(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        self._check_app(query.get("appid"), query.get("secret"), bad_secret=40125)
        if query.get("grant_type") != "authorization_code":
            raise _WxError(40002, "invalid grant_type")
        code = query.get("js_code", "")
        if not code:
            raise _WxError(41008, "missing code")
        name = code[4:] if code.startswith("dev-") and _NAME_RE.match(code[4:]) else None
        if name is None:
            name = self._take_code(self._login_codes, code)
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        return {"session_key": session_key, "openid": self.openid_for(name), "unionid": unionid_for(name)}

    def _api_phone(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        self._check_token(query)
        code = body.get("code", "") if isinstance(body, dict) else ""
        if not isinstance(code, str) or not code:
            raise _WxError(47001, "data format error")
        match = re.fullmatch(r"dev-phone-(1\d{10})", code)
        phone = match.group(1) if match else self._take_code(self._phone_codes, code)
        watermark = {"timestamp": int(time.time()), "appid": self.appid}
        info = {"phoneNumber": f"+86 {phone}", "purePhoneNumber": phone, "countryCode": "86"}
        return {"errcode": 0, "errmsg": "ok", "phone_info": {**info, "watermark": watermark}}

    def _api_subscribe_send(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        self._check_token(query)
        body = body if isinstance(body, dict) else {}
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(touser, str) or not _OPENID_RE.match(touser):
            raise _WxError(40003, "invalid openid")
        if not isinstance(template_id, str) or not _TEMPLATE_RE.match(template_id):
            raise _WxError(40037, "invalid template id")
        valid_data = (
            isinstance(data, dict)
            and data
            and all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values())
        )
        if not valid_data:
            raise _WxError(47003, "argument invalid! data.value invalid")
        state, lang = body.get("miniprogram_state", "formal"), body.get("lang", "zh_CN")
        if state not in ("developer", "trial", "formal") or lang not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
            raise _WxError(47001, "data format error")
        with self._lock:
            key = (touser, template_id)
            remaining = self._consents.get(key, 0)
            if remaining <= 0 and not self.auto_consent:
                raise _WxError(43101, "user refuse to accept the msg")
            if remaining > 0:  # one consent = one message
                self._consents[key] = remaining - 1
            msgid = next(self._msgids)
            self._messages.append(
                {
                    "msgid": msgid,
                    "time": time.time(),
                    "touser": touser,
                    "template_id": template_id,
                    "page": body.get("page"),
                    "data": data,
                    "miniprogram_state": state,
                    "lang": lang,
                    "auto_consented": remaining <= 0,
                }
            )
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _api_wxacode(self, query: Mapping[str, str], body: Any) -> bytes:
        self._check_token(query)
        body = body if isinstance(body, dict) else {}
        scene, page, width = body.get("scene"), body.get("page"), body.get("width", 430)
        if not isinstance(scene, str) or not _SCENE_RE.match(scene):
            raise _WxError(40129, "invalid scene")
        if not isinstance(width, int) or not 280 <= width <= 1280:
            raise _WxError(40097, "invalid args: width must be 280..1280")
        if body.get("env_version", "release") not in ("release", "trial", "develop"):
            raise _WxError(40097, "invalid args: env_version")
        if page is not None:
            bad_page = not isinstance(page, str) or page.startswith("/")
            if bad_page or (body.get("check_path", True) and not _PAGE_RE.match(page)):
                raise _WxError(41030, "invalid page")
        return _png(f"wxacode:{page or ''}?scene={scene}", width)

    def _api_msg_sec_check(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        self._check_token(query)
        body = body if isinstance(body, dict) else {}
        content = body.get("content")
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            raise _WxError(47001, "data format error: version must be 2, scene 1..4")
        if not isinstance(content, str) or not content or len(content) > 2500:
            raise _WxError(47001, "data format error: content must be 1..2500 chars")
        if not isinstance(body.get("openid"), str) or not _OPENID_RE.match(body["openid"]):
            raise _WxError(40003, "invalid openid")
        text = " ".join(str(body.get(k) or "") for k in ("content", "title", "nickname", "signature"))
        suggest, label, keyword = "pass", 100, ""
        for word, word_label in self.risky_words.items():
            if word in text:
                suggest, label, keyword = "risky", word_label, word
                break
        else:
            if REVIEW_WORD in text:
                suggest, label, keyword = "review", 20012, REVIEW_WORD
        detail = [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}]
        if keyword:
            detail.append(
                {
                    "strategy": "keyword",
                    "errcode": 0,
                    "suggest": suggest,
                    "label": label,
                    "level": 20,
                    "keyword": keyword,
                }
            )
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
            "detail": detail,
            "trace_id": _rid(),
        }

    def _api_media_check_async(self, query: Mapping[str, str], body: Any) -> dict[str, Any]:
        """media_check_async v2: a trace_id now, the verdict later as a push event (``media_push``).

        The verdict comes from the URL: a risky word in it is risky, REVIEW_WORD review, else pass.
        """
        self._check_token(query)
        body = body if isinstance(body, dict) else {}
        url = body.get("media_url")
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            raise _WxError(47001, "data format error: version must be 2, scene 1..4")
        if body.get("media_type") not in (1, 2):
            raise _WxError(47001, "data format error: media_type must be 1 (audio) or 2 (image)")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _WxError(47001, "data format error: media_url")
        if not isinstance(body.get("openid"), str) or not _OPENID_RE.match(body["openid"]):
            raise _WxError(40003, "invalid openid")
        suggest, label = "pass", 100
        for word, word_label in self.risky_words.items():
            if word in url:
                suggest, label = "risky", word_label
                break
        else:
            if REVIEW_WORD in url:
                suggest, label = "review", 20012
        trace_id = _rid()
        with self._lock:
            self._media[trace_id] = {
                "trace_id": trace_id,
                "media_url": url,
                "openid": body["openid"],
                "suggest": suggest,
                "label": label,
            }
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def media_checks(self) -> list[dict[str, Any]]:
        """Every media check asked, oldest first."""
        with self._lock:
            return [dict(m) for m in self._media.values()]

    def media_push(self, trace_id: str, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """The push event WeChat sends with a media check's verdict: its query (signed) and JSON body.

        Message push in plaintext JSON mode: ``signature`` = SHA-1 of the sorted token, timestamp and
        nonce; the body is the wxa_media_check event.
        """
        with self._lock:
            check = dict(self._media[trace_id])
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = str(secrets.randbelow(10**9))
        signature = hashlib.sha1("".join(sorted([self.push_token, ts, nonce])).encode()).hexdigest()  # noqa: S324
        event = {
            "ToUserName": f"gh_{self.appid}",
            "FromUserName": check["openid"],
            "CreateTime": int(ts),
            "MsgType": "event",
            "Event": "wxa_media_check",
            "appid": self.appid,
            "trace_id": trace_id,
            "version": 2,
            "detail": [
                {
                    "strategy": "content_model",
                    "errcode": 0,
                    "suggest": check["suggest"],
                    "label": check["label"],
                    "prob": 90,
                }
            ],
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": check["suggest"], "label": check["label"]},
        }
        query = {"signature": signature, "timestamp": ts, "nonce": nonce}
        return query, json.dumps(event, ensure_ascii=False).encode()

    # --- admin HTTP API ----------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query: Mapping[str, str], body: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        route = path[len(ADMIN_PREFIX) :].strip("/")
        if (method, route) == ("GET", "health"):
            return {"ok": True, "appid": self.appid}
        if (method, route) == ("POST", "wx-login"):
            return self.issue_login_code(str(body.get("name", "")))
        if (method, route) == ("POST", "phone-code"):
            return {"code": self.issue_phone_code(str(body.get("phone", "")))}
        if (method, route) == ("GET", "openid"):
            return {"openid": self.openid_for(query.get("name", ""))}
        if (method, route) == ("POST", "consents"):
            openid = body.get("openid") or (self.openid_for(body["name"]) if body.get("name") else "")
            if not openid or not body.get("template_id"):
                raise EmulatorAdminError("openid (or name) and template_id are required")
            remaining = self.grant_consent(openid, body["template_id"], int(body.get("count", 1)))
            return {"openid": openid, "template_id": body["template_id"], "remaining": remaining}
        if (method, route) == ("GET", "consents"):
            return {"consents": self.consents()}
        if (method, route) == ("GET", "messages"):
            return {"messages": self.messages(query.get("touser"), query.get("template_id"))}
        if (method, route) == ("DELETE", "messages"):
            self.clear_messages()
            return {"ok": True}
        if (method, route) == ("POST", "faults"):
            args = {
                k: body[k]
                for k in ("count", "errcode", "errmsg", "latency_ms", "timeout", "hold_s", "http_status")
                if k in body
            }
            return self.add_fault(str(body.get("path", "")), **args)
        if (method, route) == ("GET", "faults"):
            return {"faults": self.faults()}
        if (method, route) == ("DELETE", "faults"):
            self.clear_faults()
            return {"ok": True}
        if (method, route) == ("POST", "tokens/expire"):
            return {"expired": self.expire_tokens()}
        if (method, route) == ("POST", "reset"):
            self.reset()
            return {"ok": True}
        if (method, route) == ("GET", "calls"):
            return {"calls": self.calls(query.get("path"))}
        if (method, route) == ("GET", "settings"):
            return {"auto_consent": self.auto_consent}
        if (method, route) == ("POST", "settings"):
            if "auto_consent" in body:
                self.auto_consent = bool(body["auto_consent"])
            return {"auto_consent": self.auto_consent}
        raise EmulatorAdminError(f"no admin route {method} {path}", status=404)


_ApiHandler = Callable[[WeChatEmulator, Mapping[str, str], Any], "dict[str, Any] | bytes"]
_ROUTES: dict[str, tuple[str, _ApiHandler]] = {
    "/cgi-bin/token": ("GET", WeChatEmulator._api_token),
    "/cgi-bin/stable_token": ("POST", WeChatEmulator._api_stable_token),
    "/sns/jscode2session": ("GET", WeChatEmulator._api_jscode2session),
    "/wxa/business/getuserphonenumber": ("POST", WeChatEmulator._api_phone),
    "/cgi-bin/message/subscribe/send": ("POST", WeChatEmulator._api_subscribe_send),
    "/wxa/getwxacodeunlimit": ("POST", WeChatEmulator._api_wxacode),
    "/wxa/msg_sec_check": ("POST", WeChatEmulator._api_msg_sec_check),
    "/wxa/media_check_async": ("POST", WeChatEmulator._api_media_check_async),
}


class _Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the emulator."""

    protocol_version = "HTTP/1.1"
    server_version = "WeChatEmulator/1.0"
    timeout = 60  # idle keep-alive connections go away eventually
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and `make run` do not want an access log on stderr."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _dispatch(self, method: str) -> None:
        emulator: WeChatEmulator = self.server.emulator  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = ValueError
        if path.startswith(ADMIN_PREFIX):
            try:
                if body is ValueError:
                    raise EmulatorAdminError("body is not JSON")
                self._json(200, emulator._admin(method, path, query, body))
            except (EmulatorAdminError, TypeError, ValueError, KeyError) as exc:
                self._json(getattr(exc, "status", 400), {"error": str(exc)})
            return
        route = _ROUTES.get(path)
        if route is None:
            self._json(404, {"errcode": 40066, "errmsg": f"invalid url rid: {_rid()}"})
            return
        fault = emulator._record_and_take_fault(method, path)
        if fault is not None and not self._apply_fault(emulator, fault):
            return
        expected_method, handler = route
        try:
            if method != expected_method:
                errcode = 43002 if expected_method == "POST" else 43001
                raise _WxError(errcode, f"require {expected_method} method")
            if body is ValueError:
                raise _WxError(47001, "data format error")
            result = handler(emulator, query, body)
        except _WxError as err:
            self._json(200, {"errcode": err.errcode, "errmsg": f"{err.errmsg} rid: {_rid()}"})
            return
        if isinstance(result, bytes):
            self._send(200, result, "image/png")
        else:
            self._json(200, result)

    def _apply_fault(self, emulator: WeChatEmulator, fault: _Fault) -> bool:
        """Play a fault; True when the request should then be answered normally."""
        if fault.latency_ms is not None:
            emulator._wait(fault.latency_ms / 1000)
            return True
        if fault.timeout:
            emulator._wait(fault.hold_s)
            self.close_connection = True  # never answer: the client sees a read timeout
            return False
        if fault.http_status is not None:
            text = f"<html><body>{fault.http_status} emulated fault</body></html>".encode()
            self._send(fault.http_status, text, "text/html")
            return False
        errmsg = fault.errmsg or ("system error" if fault.errcode == -1 else "emulated fault")
        self._json(200, {"errcode": fault.errcode, "errmsg": f"{errmsg} rid: {_rid()}"})
        return False


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Local WeChat server emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--appid", default="wx-dev-appid")
    parser.add_argument("--secret", default="dev-secret")
    parser.add_argument("--auto-consent", action="store_true", help="accept messages without a consent")
    args = parser.parse_args(argv)
    emulator = WeChatEmulator(
        appid=args.appid, secret=args.secret, host=args.host, port=args.port, auto_consent=args.auto_consent
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    emulator.start()
    print(f"WeChat emulator listening on {emulator.url} (appid {args.appid})", flush=True)
    try:
        while not done.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
