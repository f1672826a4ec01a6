"""Signed tokens for organizations' verifiable QR codes.

A QR code encodes one URL, ``{public_base_url}/o/{token}``, and the token is::

    {credit_code}.{version}.{issued_at}.{kid}.{signature}

=============  =====================================================================================
credit_code    the organization's 18-character unified social credit code, ``[0-9A-Z]{18}``
version        decimal integer 1..999999999, no sign or leading zeros; it grows with every reissue,
               and a reissue revokes every lower version (checked against the live record, not here)
issued_at      seconds since 1970-01-01T00:00:00Z in lowercase base 36, no leading zeros
               (``"0"`` alone for the epoch), at most 8 characters
kid            the signing key's id, ``[a-z0-9]{1,16}``
signature      Ed25519 (RFC 8032) signature, base64url without padding: 86 characters, 64 bytes
=============  =====================================================================================

The signature covers the ASCII bytes of ``b"gongxin-qr-v1\\n"`` followed by the first four fields
exactly as they appear in the token, joined by dots (so ``b"gongxin-qr-v1\\n51440300MJL0000103.3.
tk3x5c.k20261129a1b2"``). The prefix separates these signatures from anything else the platform signs.

Every field has exactly one encoding (the canonical base64url, too), so a token cannot be altered
without breaking the signature, and equal claims always give the same text. The characters are all
URL-unreserved, so the token sits in a URL path without escaping.

To verify offline: fetch the platform's public keys from ``/.well-known/gongxin-keys.json`` (raw
32-byte Ed25519 public keys, base64url, by kid), split the token on ``.``, check the fields against
the table above, and verify the signature over the message with the key named by ``kid``. A valid
signature proves the platform issued the code; whether it is still the current version and the
organization is in good standing only the live registry can say.

``extract_token`` takes what a scanner hands over: our URL in any equivalent spelling (scheme and host
in any case, an explicit default port, a query or fragment appended by a sharing app), or WeChat's
"scan ordinary link to open the mini-program" launch parameters, where the mini-program page receives
``q`` = encodeURIComponent(url) (pass ``q=...&scancode_time=...``, ``?q=...``, ``page/path?q=...`` or
the encoded value alone; it is decoded exactly once). Anything a browser and ``urlsplit`` could read
as different hosts (userinfo, backslashes, control characters, non-ASCII, percent-encoded hosts) is
refused, and the host must equal the configured one exactly, so look-alikes are other hosts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.errors import Unprocessable

__all__ = [
    "SIGNING_DOMAIN",
    "BadSignature",
    "InvalidQrCode",
    "MalformedToken",
    "NotOurUrl",
    "QrClaims",
    "SigningKey",
    "UnknownKey",
    "b64encode",
    "build_url",
    "check_signature",
    "decode_signature",
    "extract_token",
    "parse",
    "sign",
    "to_base36",
    "verify",
]

SIGNING_DOMAIN = b"gongxin-qr-v1\n"
MAX_VERSION = 999_999_999
# datetime cannot represent later instants; 8 base-36 digits reach past it, so bound by value too.
_MAX_TIMESTAMP = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SIGNATURE_LEN = 86  # ceil(64 * 8 / 6) base64url characters, unpadded
# Longest valid token: 18 + 9 + 8 + 16 + 86 characters and 4 dots. Anything longer is rejected before
# the regex, so hostile megabyte inputs cost nothing.
MAX_TOKEN_LEN = 18 + 9 + 8 + 16 + _SIGNATURE_LEN + 4

_CREDIT_CODE = re.compile(r"[0-9A-Z]{18}")
_KID = re.compile(r"[a-z0-9]{1,16}")
# Explicit ASCII classes only: \d and int() would accept other scripts' digits, "_", signs, spaces.
_TOKEN = re.compile(
    r"(?P<code>[0-9A-Z]{18})"
    r"\.(?P<version>[1-9][0-9]{0,8})"
    r"\.(?P<iat>0|[1-9a-z][0-9a-z]{0,7})"
    r"\.(?P<kid>[a-z0-9]{1,16})"
    rf"\.(?P<sig>[A-Za-z0-9_-]{{{_SIGNATURE_LEN}}})"
)
# What may follow "/o/" (or "/v/") at all; each token's own grammar is its parse()'s business.
_MAX_ANY_TOKEN_LEN = 256
_TOKEN_CHARS = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{_MAX_ANY_TOKEN_LEN - 1}}}")


class InvalidQrCode(Unprocessable):
    """Base of every reason a scanned code is not a genuine platform code."""

    code = "qr.invalid"
    message = "不是本平台签发的有效二维码 / Not a valid QR code issued by this platform"


class MalformedToken(InvalidQrCode):
    code = "qr.malformed"
    message = "二维码内容格式错误 / The QR code content is malformed"


class UnknownKey(InvalidQrCode):
    code = "qr.unknown_key"
    message = "二维码签名密钥未知 / The QR code was signed with an unknown key"


class BadSignature(InvalidQrCode):
    code = "qr.bad_signature"
    message = "二维码签名无效 / The QR code signature is invalid"


class NotOurUrl(InvalidQrCode):
    code = "qr.not_our_url"
    message = "该链接不属于本平台 / The link does not belong to this platform"


@dataclass(frozen=True)
class QrClaims:
    """What a QR token asserts: this organization's code, version, when and with which key."""

    credit_code: str
    version: int
    issued_at: datetime
    kid: str

    def __post_init__(self) -> None:
        # Programmer errors, not client input: parse() only builds claims it has already checked.
        if not (isinstance(self.credit_code, str) and _CREDIT_CODE.fullmatch(self.credit_code)):
            raise ValueError(f"credit_code must be 18 characters [0-9A-Z], got {self.credit_code!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ValueError("version must be an int")
        if not 1 <= self.version <= MAX_VERSION:
            raise ValueError(f"version must be within 1..{MAX_VERSION}")
        if not (isinstance(self.kid, str) and _KID.fullmatch(self.kid)):
            raise ValueError(f"kid must be [a-z0-9]{{1,16}}, got {self.kid!r}")
        if self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise ValueError("issued_at must be timezone-aware")
        # The token carries whole seconds in UTC; normalize so claims equal their parsed round trip.
        normalized = self.issued_at.astimezone(UTC).replace(microsecond=0)
        if normalized.timestamp() < 0:
            raise ValueError("issued_at must not be before 1970")
        object.__setattr__(self, "issued_at", normalized)

    def payload(self) -> str:
        """The four signed fields as they appear in the token."""
        return f"{self.credit_code}.{self.version}.{_to_base36(int(self.issued_at.timestamp()))}.{self.kid}"


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with the id published next to its public half."""

    kid: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if not (isinstance(self.kid, str) and _KID.fullmatch(self.kid)):
            raise ValueError(f"kid must be [a-z0-9]{{1,16}}, got {self.kid!r}")

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        """A fresh key; the default kid is "k" + today's UTC date + 4 random base-36 characters."""
        if kid is None:
            kid = "k" + datetime.now(UTC).strftime("%Y%m%d") + "".join(secrets.choice(_B36) for _ in range(4))
        return cls(kid=kid, private_key=Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, kid: str, raw: bytes) -> SigningKey:
        """Load a key from its raw 32-byte private form."""
        if len(raw) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        return cls(kid=kid, private_key=Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        """The raw 32-byte private key, for the caller to encrypt and store."""
        return self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def public_key_b64(self) -> str:
        """The raw public key, base64url without padding, as published."""
        return _b64encode(self.public_key_bytes())


def _to_base36(n: int) -> str:
    if n == 0:
        return "0"
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(_B36[r])
    return "".join(reversed(digits))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# Other kinds of signed token (volunteer service proofs, backend/recruitment/prooftoken.py) use the same
# keys and encodings, each under its own signing domain and grammar: these are their building blocks.
to_base36 = _to_base36
b64encode = _b64encode


def decode_signature(sig_text: str) -> bytes:
    """The 64 signature bytes of their canonical unpadded base64url text; MalformedToken otherwise."""
    try:
        signature = base64.urlsafe_b64decode(sig_text + "==")
    except (binascii.Error, ValueError):
        raise MalformedToken() from None
    # 86 characters carry 4 spare bits; only the encoding with them zero is accepted.
    if len(signature) != 64 or _b64encode(signature) != sig_text:
        raise MalformedToken()
    return signature


def check_signature(
    kid: str, message: bytes, signature: bytes, public_keys: Mapping[str, bytes | Ed25519PublicKey]
) -> bytes:
    """Verify ``signature`` over ``message`` with the key named ``kid``; the raw public key that did."""
    key = public_keys.get(kid)
    if key is None:
        raise UnknownKey()
    raw = _raw_public(key)
    key_object = key if isinstance(key, Ed25519PublicKey) else _load_public_key(raw)
    # Ed25519 verification is constant-time in OpenSSL; nothing secret is compared in our code
    # (kid and signature are public), so no further care is needed here.
    try:
        key_object.verify(signature, message)
    except InvalidSignature:
        raise BadSignature() from None
    return raw


def sign(claims: QrClaims, key: SigningKey) -> str:
    """Return the token for these claims, signed with this key."""
    if claims.kid != key.kid:
        raise ValueError(f"claims name key {claims.kid!r} but the signing key is {key.kid!r}")
    payload = claims.payload()
    signature = key.private_key.sign(SIGNING_DOMAIN + payload.encode("ascii"))
    return f"{payload}.{_b64encode(signature)}"


def parse(token: str) -> tuple[QrClaims, bytes, bytes]:
    """Split a token into its claims, the signed message and the signature, without verifying it."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN:
        raise MalformedToken()
    m = _TOKEN.fullmatch(token)
    if m is None:
        raise MalformedToken()
    signature = decode_signature(m["sig"])
    timestamp = int(m["iat"], 36)
    if timestamp > _MAX_TIMESTAMP:
        raise MalformedToken()
    claims = QrClaims(
        credit_code=m["code"],
        version=int(m["version"]),
        issued_at=datetime.fromtimestamp(timestamp, UTC),
        kid=m["kid"],
    )
    message = SIGNING_DOMAIN + token[: m.start("sig") - 1].encode("ascii")
    return claims, message, signature


@functools.lru_cache(maxsize=256)
def _load_public_key(raw: bytes) -> Ed25519PublicKey:
    # Building the key object costs more than a verify; keys are few and long-lived, so keep them.
    return Ed25519PublicKey.from_public_bytes(raw)


def _raw_public(key: bytes | Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw() if isinstance(key, Ed25519PublicKey) else bytes(key)


# Tokens whose signature has checked out, with the public key that checked it. The same printed code
# is scanned again and again (a donation box, an event poster), and an Ed25519 verify costs ~100-200
# us of CPU where a dict hit costs ~1 us. Only successes are stored, so forged tokens cannot fill it;
# a hit still requires the caller's key for that kid to be the very key that verified it, so dropping
# or rotating a key takes effect at once. Bounded, oldest evicted first.
_VERIFIED_MAX = 4096
_verified: dict[str, tuple[QrClaims, bytes]] = {}


def verify(token: str, public_keys: Mapping[str, bytes | Ed25519PublicKey]) -> QrClaims:
    """Return the claims of a token whose signature checks against the named public key."""
    hit = _verified.get(token) if isinstance(token, str) else None
    if hit is not None:
        claims, raw = hit
        key = public_keys.get(claims.kid)
        # Public key bytes are public: a plain comparison leaks nothing.
        if key is not None and _raw_public(key) == raw:
            return claims
    claims, message, signature = parse(token)
    raw = check_signature(claims.kid, message, signature, public_keys)
    if len(_verified) >= _VERIFIED_MAX:
        # Evict the oldest; tolerate a concurrent eviction by another thread.
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):
            del _verified[next(iter(_verified))]
    _verified[token] = (claims, raw)
    return claims


@dataclass(frozen=True)
class _Base:
    scheme: str
    host: str
    port: int
    path: str  # without a trailing slash; "" for a bare origin


_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=16)
def _parse_base(public_base_url: str) -> _Base:
    parts = urlsplit(public_base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"public_base_url must be http(s)://host[:port][/path], got {public_base_url!r}")
    if parts.query or parts.fragment or "\\" in public_base_url:
        raise ValueError(f"public_base_url must not carry a query or fragment: {public_base_url!r}")
    return _Base(scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[scheme], parts.path.rstrip("/"))


def build_url(public_base_url: str, token: str, *, path: str = "o") -> str:
    """The URL a QR code encodes: ``{base}/o/{token}`` (``/v/`` for a volunteer service proof)."""
    return f"{public_base_url.strip().rstrip('/')}/{path}/{token}"


# Printable ASCII without space: anything else in a scanned URL is either an attack or damage.
_URL_CHARS = re.compile(r"[\x21-\x7e]+")
_ENCODED_URL = re.compile(r"https?%3a%2f%2f", re.IGNORECASE)


def _unwrap_wechat(text: str) -> str:
    """The original URL inside WeChat's "scan ordinary link" launch parameters, else the text itself."""
    # A mini-program opened by scanning an ordinary-link QR gets the URL as ``q`` =
    # encodeURIComponent(url) (next to ``scancode_time``); callers pass either that query string or the
    # q value alone. Exactly one level of decoding: a URL is never nested twice.
    if _ENCODED_URL.match(text):
        return unquote(text)
    if "://" not in text and "=" in text:
        # "q=...&scancode_time=...", "?q=..." or a page path with it: "pages/verify/index?q=..."
        query = text.split("?", 1)[1] if "?" in text else text
        values = parse_qs(query, keep_blank_values=True).get("q")
        if values is None or len(values) != 1:
            raise NotOurUrl()
        return values[0]
    return text


def extract_token(url: str, public_base_url: str, *, path: str = "o") -> str:
    """The token from a scanned URL of ours (``{base}/o/{token}``, or WeChat's ``q=`` form).

    ``path`` names the kind of code: ``o`` an organization's, ``v`` a volunteer service proof's.
    """
    base = _parse_base(public_base_url)
    if not isinstance(url, str) or len(url) > 4096:
        raise NotOurUrl()
    text = _unwrap_wechat(url.strip())
    # Browsers read "\" as "/" and drop tabs and newlines, so "https://evil.cn\@ours/..." is evil.cn to
    # a phone but ours to urlsplit: refuse what the two would read differently instead of guessing.
    if not _URL_CHARS.fullmatch(text) or "\\" in text:
        raise NotOurUrl()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise NotOurUrl() from None
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    # No userinfo ("ours@evil.cn" and "evil.cn@ours" alike), no percent-encoded host, no IPv6 games;
    # the host is compared exactly (case aside), so "ours.evil.cn" and "ours." are other hosts.
    if scheme != base.scheme or "@" in netloc or "%" in netloc or "[" in netloc:
        raise NotOurUrl()
    if (parts.hostname or "") != base.host or (port or _DEFAULT_PORTS[scheme]) != base.port:
        raise NotOurUrl()
    prefix = f"{base.path}/{path}/"
    if not parts.path.startswith(prefix):
        raise NotOurUrl()
    token = parts.path[len(prefix) :]
    # Query and fragment are ignored: WeChat appends "?from=singlemessage" and the like when shared.
    if not _TOKEN_CHARS.fullmatch(token):
        raise NotOurUrl()
    return token
