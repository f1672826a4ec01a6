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
from datetime import UTC, datetime, timedelta

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
    match = _CODE.match(code.strip())
    if match is None or int(match.group(1)) != activity_id:
        raise CodeInvalid()
    window = int(match.group(2))
    if not hmac.compare_digest(match.group(3), _mac(secret, activity_id, window)):
        raise CodeInvalid()
    now_window = int(now.timestamp()) // interval_s
    window_end = datetime.fromtimestamp((window + 1) * interval_s, UTC)
    if window > now_window:  # from the future: clocks disagree by more than an interval
        raise CodeInvalid()
    if now > window_end + timedelta(seconds=GRACE_SECONDS):
        raise CodeExpired(details={"expired_at": window_end.isoformat()})
