from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
