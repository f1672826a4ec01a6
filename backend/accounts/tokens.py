"""Bearer tokens: signed (HS256), expiring, and naming a revocable session.

Any process holding the secret checks the signature and expiry without shared memory; the session
row named by ``sid`` is what makes a token revocable (logout, an admin's revocation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from ..errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "gongxin"


class TokenExpired(Unauthorized):
    code = "auth.token_expired"
    message = "登录已过期，请重新登录 / The token has expired; log in again"


class TokenInvalid(Unauthorized):
    code = "auth.token_invalid"
    message = "登录凭证无效 / The token is invalid"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    session_id: str
    expires_at: datetime


def new_session_id() -> str:
    return secrets.token_hex(16)


def issue(*, secret: str, user_id: int, session_id: str, ttl: timedelta, now: datetime | None = None) -> str:
    """Sign a token for one session."""
    now = now or datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "sub": str(user_id),
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode(*, secret: str, token: str) -> TokenClaims:
    """Check signature, issuer and expiry; raise TokenExpired or TokenInvalid."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "sid"]}
        )
        return TokenClaims(
            user_id=int(payload["sub"]),
            session_id=str(payload["sid"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise TokenInvalid() from exc
