"""WeChat's message push (消息推送) to the server: signature check and the events we act on.

The mini-program's admin console sets a URL, a Token and the plaintext JSON format; WeChat then
calls the URL with ``signature``, ``timestamp`` and ``nonce`` in the query, ``signature`` being
the SHA-1 hex of the three (token, timestamp, nonce) sorted and joined. A GET with ``echostr``
verifies the URL once; each POST is an event (here: ``wxa_media_check``, a media check's verdict).
The comparison is constant-time (wechatpy's is not), and a timestamp more than ``MAX_AGE_S`` away
from now is refused so that a captured push cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

from ..errors import Forbidden

MAX_AGE_S = 300


class BadSignature(Forbidden):
    code = "wechat.bad_signature"
    message = "推送签名无效 / The push signature is not valid"


def signature_of(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324


def verify(*, token: str, signature: str, timestamp: str, nonce: str, now: float) -> None:
    """Accept a push signed with ``token`` within MAX_AGE_S of now; BadSignature otherwise."""
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature(details={"reason": "timestamp"}) from None
    if abs(now - sent) > MAX_AGE_S:
        raise BadSignature(details={"reason": "stale"})
    # As bytes: compare_digest refuses non-ASCII str (a forged signature may be anything).
    if not hmac.compare_digest(signature_of(token, timestamp, nonce).encode(), signature.encode()):
        raise BadSignature(details={"reason": "signature"})
