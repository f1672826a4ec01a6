"""The keys that sign checkpoints: one active (the newest generation), the retired ones kept public.

A rotation adds a generation; checkpoints signed before keep their signature lines, and the
retired key stays published (``/.well-known/gongxin-keys.json``, ``log_keys``), so they verify after
the rotation as before. The private half is encrypted with DATA_ENCRYPTION_KEY, as QR keys are.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ..crypto import PersonalDataCipher
from .models import LogKey
from .note import NoteSigner, verifier_key

_signers: dict[int, NoteSigner] = {}  # generation -> signer: a key never changes once written


def log_name(public_base_url: str) -> str:
    """The key name and origin prefix of this deployment's logs: ``<host>/log``."""
    return f"{urlsplit(public_base_url).netloc or 'gongxin'}/log"


def public_bytes(record: LogKey) -> bytes:
    return base64.b64decode(record.public_key)


def vkey(record: LogKey) -> str:
    return verifier_key(record.name, public_bytes(record))


async def _create(*, generation: int, name: str, cipher: PersonalDataCipher) -> None:
    signer = NoteSigner.generate(name)
    try:
        async with in_transaction():
            await LogKey.filter(retired_at__isnull=True).update(retired_at=datetime.now(UTC))
            await LogKey.create(
                generation=generation,
                name=name,
                key_id=signer.key_id.hex(),
                public_key=base64.b64encode(signer.public_bytes()).decode(),
                private_key_encrypted=cipher.encrypt(signer.private_bytes().hex()),
            )
    except IntegrityError:
        pass  # another process made this generation at the same moment: that one is the key


async def active_key(*, name: str, cipher: PersonalDataCipher) -> LogKey:
    """The key that signs new checkpoints, made the first time one is needed."""
    record = await LogKey.all().order_by("-generation").first()
    if record is None:
        await _create(generation=1, name=name, cipher=cipher)
        record = await LogKey.all().order_by("-generation").first()
    assert record is not None
    return record


async def signer(*, name: str, cipher: PersonalDataCipher) -> tuple[LogKey, NoteSigner]:
    """The active key and its signer (decrypted once per process and generation)."""
    record = await active_key(name=name, cipher=cipher)
    cached = _signers.get(record.generation)
    if cached is None or cached.public_bytes() != public_bytes(record):
        assert record.private_key_encrypted is not None
        raw = bytes.fromhex(cipher.decrypt(record.private_key_encrypted))
        cached = _signers[record.generation] = NoteSigner.from_private_bytes(record.name, raw)
    return record, cached


async def rotate(*, name: str, cipher: PersonalDataCipher) -> LogKey:
    """Make a new signing key; the old one is retired but stays published."""
    current = await LogKey.all().order_by("-generation").first()
    await _create(generation=(current.generation if current else 0) + 1, name=name, cipher=cipher)
    return await active_key(name=name, cipher=cipher)


async def published() -> list[dict[str, object]]:
    """Every checkpoint key, oldest first, for /.well-known/gongxin-keys.json."""
    return [
        {
            "vkey": vkey(record),
            "key_id": record.key_id,
            "status": "retired" if record.retired_at else "active",
            "created_at": record.created_at.isoformat(),
            "retired_at": record.retired_at.isoformat() if record.retired_at else None,
        }
        for record in await LogKey.all().order_by("generation")
    ]
