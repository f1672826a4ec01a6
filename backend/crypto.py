"""Personal data at rest: encryption, a keyed lookup hash, and masking for display (PIPL)."""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken


class PersonalDataCipher:
    """Encrypts personal data (phone numbers) with Fernet; hashes it with a separate HMAC key."""

    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)
        # A distinct key for the lookup hash, so the hash reveals nothing about the cipher key.
        self._hash_key = hashlib.sha256(b"gongxin-lookup-hash:" + fernet_key).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # a rotated or wrong key: never return garbage
            raise ValueError("personal data could not be decrypted with the configured key") from exc

    def lookup_hash(self, plaintext: str) -> str:
        return hmac.new(self._hash_key, plaintext.encode(), hashlib.sha256).hexdigest()


_DIGITS = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """138****5678: keep the first three and last four digits."""
    digits = "".join(_DIGITS.findall(phone))
    if len(digits) == 13 and digits.startswith("86"):  # +86 country code before a mainland mobile
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_name(name: str) -> str:
    """张* / 欧阳** : keep the first character of a person's name."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)
