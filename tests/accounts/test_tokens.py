from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from backend.accounts import tokens
from backend.crypto import PersonalDataCipher, mask_name, mask_phone


def test_token_round_trips_its_claims():
    token = tokens.issue(secret="s" * 32, user_id=7, session_id="abc", ttl=timedelta(minutes=5))
    claims = tokens.decode(secret="s" * 32, token=token)
    assert (claims.user_id, claims.session_id) == (7, "abc")
    assert claims.expires_at > datetime.now(UTC)


def test_token_signed_with_another_secret_is_invalid():
    token = tokens.issue(secret="a" * 32, user_id=7, session_id="abc", ttl=timedelta(minutes=5))
    with pytest.raises(tokens.TokenInvalid):
        tokens.decode(secret="b" * 32, token=token)


def test_expired_token_says_expired():
    past = datetime.now(UTC) - timedelta(hours=1)
    token = tokens.issue(secret="s" * 32, user_id=7, session_id="abc", ttl=timedelta(minutes=5), now=past)
    with pytest.raises(tokens.TokenExpired):
        tokens.decode(secret="s" * 32, token=token)


def test_cipher_round_trips_and_hash_is_stable():
    cipher = PersonalDataCipher(PersonalDataCipher_key())
    secret = cipher.encrypt("13812345678")
    assert "138" not in secret
    assert cipher.decrypt(secret) == "13812345678"
    assert cipher.lookup_hash("13812345678") == cipher.lookup_hash("13812345678")


def test_cipher_with_another_key_refuses_to_decrypt():
    secret = PersonalDataCipher(PersonalDataCipher_key()).encrypt("13812345678")
    other = PersonalDataCipher(PersonalDataCipher_key(b"other"))
    with pytest.raises(ValueError):
        other.decrypt(secret)


def test_masks():
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def PersonalDataCipher_key(seed: bytes = b"seed") -> bytes:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(seed).digest())


# --- the fast path agrees with PyJWT ----------------------------------------------------------------

SECRET = "s" * 32


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(payload: object, *, header: object | None = None, secret: str = SECRET) -> str:
    """A token over any payload bytes, signed as HS256 with ``secret``."""
    import hashlib
    import hmac
    import json

    header_part = _b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{header_part}.{_b64(body)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _pyjwt_verdict(token: str) -> object:
    """What PyJWT alone makes of the token: the claims, or the class of the refusal."""
    import jwt

    try:
        payload = jwt.decode(
            token,
            SECRET,
            algorithms=[tokens.ALGORITHM],
            issuer=tokens.ISSUER,
            options={"require": ["exp", "sub", "sid"]},
        )
        return tokens.TokenClaims(
            user_id=int(payload["sub"]),
            session_id=str(payload["sid"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except jwt.ExpiredSignatureError:
        return tokens.TokenExpired
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return tokens.TokenInvalid


def _verdict(token: str) -> object:
    try:
        return tokens.decode(secret=SECRET, token=token)
    except (tokens.TokenExpired, tokens.TokenInvalid) as exc:
        return type(exc)


def _corpus() -> list[str]:
    now = int(datetime.now(UTC).timestamp())
    good = {"iss": "gongxin", "sub": "7", "sid": "abc", "iat": now, "exp": now + 300}
    issued = tokens.issue(secret=SECRET, user_id=7, session_id="abc", ttl=timedelta(minutes=5))
    header, body, signature = issued.split(".")
    variants: list[object] = [
        good,
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "iat"},
        {k: v for k, v in good.items() if k != "sid"},
        {**good, "exp": float(now + 300)},
        {**good, "exp": True},
        {**good, "exp": str(now + 300)},
        {**good, "exp": now - 1},
        {**good, "exp": now},
        {**good, "iat": now + 120},
        {**good, "iat": float(now)},
        {**good, "iss": "other"},
        {**good, "sub": "x7"},
        {**good, "sub": 7},
        {**good, "sub": "\u0663"},  # an Arabic-Indic digit: int() takes it, isdigit() too
        {**good, "sub": " 7"},
        {**good, "sid": 5},
        {**good, "sid": ""},
        {**good, "nbf": now + 60},
        [good],
        "a string",
        b"not json",
        b'{"iss": "gongxin", "iss": "gongxin", "sub": "7", "sid": "abc", "iat": 1, "exp": 99999999999}',
    ]
    corpus = [issued, _signed(good)]
    corpus += [_signed(v) for v in variants]
    corpus += [_signed(good, secret="t" * 32)]
    corpus += [
        _signed(good, header=h) for h in ({"alg": "none"}, {"typ": "JWT", "alg": "HS256"}, {"alg": "HS256"})
    ]
    corpus += [f"{header}.{body}.", f"{header}.{body}", f"{header}.{body}.{signature}=", issued + "."]
    corpus += [f"{header}.{body}.{signature[:-1]}!", f"{header}.{body}!.{signature}", f" {issued}", "", "..."]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position in range(len(issued)):  # every single-character change of a real token
        if issued[position] != ".":
            replacement = alphabet[(alphabet.index(issued[position]) + 1) % len(alphabet)]
            corpus.append(issued[:position] + replacement + issued[position + 1 :])
    return corpus


def test_tokens_as_issued_take_the_fast_path():
    issued = tokens.issue(secret=SECRET, user_id=7, session_id="abc", ttl=timedelta(minutes=5))
    claims = tokens._accept_as_issued(SECRET, issued)
    assert claims is not None
    assert claims == _pyjwt_verdict(issued)


def test_the_fast_path_accepts_only_what_pyjwt_accepts_and_decode_answers_as_pyjwt_does():
    accepted_fast = 0
    for token in _corpus():
        expected = _pyjwt_verdict(token)
        fast = tokens._accept_as_issued(SECRET, token)
        if fast is not None:
            accepted_fast += 1
            assert fast == expected, token
        assert _verdict(token) == expected, token
    assert accepted_fast >= 2  # the issued token and its hand-made twin


def test_a_token_changed_in_any_character_is_refused():
    # The signature's last character has spare bits: a change there can decode to the same bytes,
    # and must still be refused (it is not the token that was issued).
    issued = tokens.issue(secret=SECRET, user_id=7, session_id="abc", ttl=timedelta(minutes=5))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position, char in enumerate(issued):
        if char == ".":
            continue
        token = issued[:position] + alphabet[(alphabet.index(char) + 1) % 64] + issued[position + 1 :]
        assert _verdict(token) is tokens.TokenInvalid, position


def test_issue_signs_the_same_bytes_as_pyjwt():
    # issue() signs by itself; PyJWT, given the same claims, must make the very same token.
    moment = datetime(2026, 12, 2, 18, 30, 15, 999_999, tzinfo=UTC)
    for user_id, session_id, ttl, secret in [
        (7, "abc", timedelta(minutes=5), SECRET),
        (1, "0" * 32, timedelta(days=7), "k" * 48),
        (2**53, "f" * 32, timedelta(seconds=61), "秘密" * 20),
    ]:
        issued = tokens.issue(secret=secret, user_id=user_id, session_id=session_id, ttl=ttl, now=moment)
        claims = {
            "iss": tokens.ISSUER,
            "sub": str(user_id),
            "sid": session_id,
            "iat": int(moment.timestamp()),
            "exp": int((moment + ttl).timestamp()),
        }
        assert issued == jwt.encode(claims, secret, algorithm=tokens.ALGORITHM)
