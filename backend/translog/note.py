"""C2SP signed notes and checkpoints (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint).

A checkpoint is the note text ``<origin>\\n<size>\\n<base64 root>\\n``, then a blank line, then one
signature line per key: ``— <key name> <base64(4-byte key id || Ed25519 signature of the text)>``.
The key id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key), and the
verifier key is ``<name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
DASH = "\u2014"


def key_id(name: str, public: bytes) -> bytes:
    """The note key id: SHA-256(name || "\\n" || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    """``<name>+<hex key id>+<base64(0x01 || public key)>``."""
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(ED25519 + public).decode()}"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, name: str, raw: bytes) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_bytes())

    def signature_line(self, text: str) -> str:
        signature = self.private.sign(text.encode())
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + signature).decode()}\n"

    def sign(self, text: str) -> str:
        """The signed note: the text, a blank line, this key's signature line."""
        return f"{text}\n{self.signature_line(text)}"


class NoteError(ValueError):
    """A note that does not parse or whose signature does not verify."""


def open_note(note: str, *, name: str, public: bytes) -> str:
    """The note's text if a signature line of this key verifies over it; raises NoteError."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise NoteError("not a signed note")
    text += "\n"
    wanted = key_id(name, public)
    verifier = Ed25519PublicKey.from_public_bytes(public)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        raw = base64.b64decode(parts[2])
        if raw[:4] != wanted:
            continue
        try:
            verifier.verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError("signature does not verify") from exc
        return text
    raise NoteError("no signature of this key")
