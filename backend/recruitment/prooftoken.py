"""Signed tokens of volunteer service proofs (志愿服务记录证明), in the scheme of the organizations' QR codes.

A proof's QR code encodes one URL, ``{public_base_url}/v/{token}``, and the token is::

    vp{proof_id}.{issued_at}.{kid}.{digest}.{signature}

=============  =====================================================================================
proof_id       the proof's number after the literal ``vp``: decimal 1..999999999999, no leading zeros
issued_at      seconds since the epoch in lowercase base 36, as in an organization's token
kid            the signing key's id, ``[a-z0-9]{1,16}``: the same keys as the organizations' codes
digest         SHA-256 of the proof's canonical content, base64url without padding (43 characters)
signature      Ed25519 over ``b"gongxin-volunteer-proof-v1\\n"`` + the first four fields joined by dots
=============  =====================================================================================

The content is the proof's public fields as JSON in one encoding (``canonical``): UTF-8, keys sorted,
no spaces, integers and strings only (minutes, never fractional hours). The digest binds every record,
the masked name and the total to the signature, so a changed figure no longer matches.

Neither kind of token passes as the other: an organization's token starts with an 18-character
``[0-9A-Z]`` credit code and this one with lowercase ``vp``, they sit under different paths (``/o/``,
``/v/``), and the signing domains differ, so even a signature lifted from one could not verify a
message of the other. Keys, encodings and signature checks are qrtoken's, reused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..registry import qrtoken
from ..registry.qrtoken import MalformedToken, SigningKey

SIGNING_DOMAIN = b"gongxin-volunteer-proof-v1\n"
URL_PATH = "v"
MAX_PROOF_ID = 999_999_999_999
DIGEST_LEN = 43
MAX_TOKEN_LEN = 2 + 12 + 8 + 16 + DIGEST_LEN + 86 + 4
_TOKEN = re.compile(
    r"vp(?P<id>[1-9][0-9]{0,11})"
    r"\.(?P<iat>0|[1-9a-z][0-9a-z]{0,7})"
    r"\.(?P<kid>[a-z0-9]{1,16})"
    rf"\.(?P<digest>[A-Za-z0-9_-]{{{DIGEST_LEN}}})"
    r"\.(?P<sig>[A-Za-z0-9_-]{86})"
)


def canonical(content: Mapping[str, Any]) -> bytes:
    """The one encoding of a proof's content that its digest is taken over."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest_of(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical content, base64url without padding."""
    return qrtoken.b64encode(hashlib.sha256(canonical(content)).digest())


@dataclass(frozen=True)
class ProofClaims:
    """What a proof token asserts: proof number, when, with which key, over which content."""

    proof_id: int
    issued_at: datetime
    kid: str
    digest: str

    def payload(self) -> str:
        iat = qrtoken.to_base36(int(self.issued_at.astimezone(UTC).timestamp()))
        return f"vp{self.proof_id}.{iat}.{self.kid}.{self.digest}"


def sign(claims: ProofClaims, key: SigningKey) -> str:
    """The token for these claims, signed with this key."""
    if claims.kid != key.kid or not 1 <= claims.proof_id <= MAX_PROOF_ID:
        raise ValueError("claims do not fit the key or the proof number range")
    payload = claims.payload()
    if _TOKEN.fullmatch(payload + "." + "A" * 86) is None:
        raise ValueError(f"not a proof payload: {payload!r}")
    signature = key.private_key.sign(SIGNING_DOMAIN + payload.encode("ascii"))
    return f"{payload}.{qrtoken.b64encode(signature)}"


def parse(token: str) -> tuple[ProofClaims, bytes, bytes]:
    """Claims, signed message and signature of a proof token, not yet verified."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN:
        raise MalformedToken()
    m = _TOKEN.fullmatch(token)
    if m is None:
        raise MalformedToken()
    signature = qrtoken.decode_signature(m["sig"])
    try:
        issued_at = datetime.fromtimestamp(int(m["iat"], 36), UTC)
    except (OverflowError, ValueError, OSError):
        raise MalformedToken() from None
    claims = ProofClaims(proof_id=int(m["id"]), issued_at=issued_at, kid=m["kid"], digest=m["digest"])
    return claims, SIGNING_DOMAIN + token[: m.start("sig") - 1].encode("ascii"), signature


def verify(token: str, public_keys: Mapping[str, bytes | Ed25519PublicKey]) -> ProofClaims:
    """The claims of a proof token whose signature checks against the named public key."""
    claims, message, signature = parse(token)
    qrtoken.check_signature(claims.kid, message, signature, public_keys)
    return claims


def build_url(public_base_url: str, token: str) -> str:
    """The URL a proof's QR code encodes: ``{base}/v/{token}``."""
    return qrtoken.build_url(public_base_url, token, path=URL_PATH)


def extract_token(url: str, public_base_url: str) -> str:
    """The token of a scanned proof URL of ours (the same URL rules as organizations' codes)."""
    return qrtoken.extract_token(url, public_base_url, path=URL_PATH)
