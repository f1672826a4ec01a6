"""The rotating check-in code shown on the organizer's phone.

A code is ``gxci.<activity id>.<window>.<mac>``: ``window`` counts intervals since the epoch and
``mac`` is HMAC-SHA256 of ``"<activity id>.<window>"`` under the activity's own random secret,
truncated to 16 bytes. Without the secret a code cannot be forged, and knowing earlier codes says
nothing about the next one; a forwarded screenshot stops working after one interval plus a short
grace (for the time it takes to scan and send).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import Unprocessable

PREFIX = "gxci"
GRACE_SECONDS = 5
_CODE = re.compile(r"^gxci\.(\d{1,18})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")


class CodeInvalid(Unprocessable):
    code = "checkin.code_invalid"
    message = "签到码无效，请扫描组织者手机上的最新签到码 / Invalid check-in code: scan the current one"


class CodeExpired(Unprocessable):
    code = "checkin.code_expired"
    message = "签到码已过期，请扫描最新的签到码 / The check-in code has expired: scan the current one"


@dataclass(frozen=True)
class CurrentCode:
    code: str
    expires_at: datetime
    interval_s: int


# Everyone at a meeting scans the same code: the MAC of an (activity, window) is computed once per
# process, not once per scan. A pure function of its arguments, so nothing can go stale.
@functools.lru_cache(maxsize=1024)
def _mac(secret: str, activity_id: int, window: int) -> str:
    digest = hmac.new(secret.encode(), f"{activity_id}.{window}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def current(*, secret: str, activity_id: int, interval_s: int, now: datetime) -> CurrentCode:
    """The code valid now and when it stops being shown."""
    window = int(now.timestamp()) // interval_s
    return CurrentCode(
        code=f"{PREFIX}.{activity_id}.{window}.{_mac(secret, activity_id, window)}",
        expires_at=datetime.fromtimestamp((window + 1) * interval_s, UTC),
        interval_s=interval_s,
    )


def verify(code: str, *, secret: str, activity_id: int, interval_s: int, now: datetime) -> None:
    """Accept the code of the current interval, or of the previous one within the grace period."""
    window = _authentic_window(code, secret, activity_id)
    if window is None:
        raise CodeInvalid()
    now_ts = now.timestamp()
    if window > int(now_ts) // interval_s:  # from the future: clocks disagree by more than an interval
        raise CodeInvalid()
    window_end_ts = (window + 1) * interval_s
    if now_ts > window_end_ts + GRACE_SECONDS:
        raise CodeExpired(details={"expired_at": datetime.fromtimestamp(window_end_ts, UTC).isoformat()})


# Like ``_mac``, a pure function of its arguments, cached because a whole meeting sends the same code.
# Codes that fail are cached too: junk can only push real codes out (they are then checked again).
@functools.lru_cache(maxsize=1024)
def _authentic_window(code: str, secret: str, activity_id: int) -> int | None:
    """The window an authentic code of this activity names; None for any other text."""
    match = _CODE.match(code.strip())
    if match is None or int(match.group(1)) != activity_id:
        return None
    window = int(match.group(2))
    if not hmac.compare_digest(match.group(3), _mac(secret, activity_id, window)):
        return None
    return window
