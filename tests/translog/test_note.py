"""The signed note of a checkpoint (backend/translog/note.py), without a database: what a signature
line is made of, and that a note opens only with the key that signed it, over the very text signed.

Pure functions, so the mutation run's ``transparency`` group (tests/MUTATION.md) can afford them.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.translog import note

# RFC 8032 test vector 1's private key: fixed, so the key id and signature are stable.
SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
NAME = "gongxin.example.cn/log"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def signer() -> note.NoteSigner:
    return note.NoteSigner.from_private_bytes(NAME, SECRET)


def test_key_id_and_verifier_key_follow_c2sp(signer):
    public = signer.public_bytes()
    assert public == bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    expected_id = hashlib.sha256(NAME.encode() + b"\n\x01" + public).digest()[:4]
    assert note.key_id(NAME, public) == expected_id == signer.key_id
    name, hex_id, key = note.verifier_key(NAME, public).split("+", 2)
    assert (name, hex_id) == (NAME, expected_id.hex())
    assert base64.b64decode(key) == b"\x01" + public
    assert signer.private_bytes() == SECRET


def test_checkpoint_body_is_origin_size_and_root_on_three_lines():
    body = note.checkpoint_body(NAME, 12, ROOT)
    assert body == f"{NAME}\n12\n{base64.b64encode(ROOT).decode()}\n"


def test_a_signed_note_is_the_text_a_blank_line_and_one_signature_line(signer):
    text = note.checkpoint_body(NAME, 3, ROOT)
    signed = signer.sign(text)
    assert signed.startswith(text + "\n") and signed.endswith("\n")
    line = signed[len(text) + 1 :]
    dash, name, blob = line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", NAME)
    raw = base64.b64decode(blob)
    assert raw[:4] == signer.key_id and len(raw) == 68
    Ed25519PublicKey.from_public_bytes(signer.public_bytes()).verify(raw[4:], text.encode())
    assert note.open_note(signed, name=NAME, public=signer.public_bytes()) == text


def test_a_note_opens_only_with_its_key_over_its_text(signer):
    text = note.checkpoint_body(NAME, 3, ROOT)
    signed = signer.sign(text)
    public = signer.public_bytes()
    other = note.NoteSigner.generate(NAME)
    with pytest.raises(note.NoteError, match="no signature of this key"):
        note.open_note(signed, name=NAME, public=other.public_bytes())
    with pytest.raises(note.NoteError, match="no signature of this key"):
        note.open_note(signed, name="other.example/log", public=public)
    tampered = signed.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(tampered, name=NAME, public=public)
    with pytest.raises(note.NoteError, match="not a signed note"):
        note.open_note(text, name=NAME, public=public)
    # this key's name and id over another key's signature: refused, not skipped
    forged_sig = other.private.sign(text.encode())
    forged = f"{text}\n\u2014 {NAME} {base64.b64encode(signer.key_id + forged_sig).decode()}\n"
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(forged, name=NAME, public=public)


def test_a_note_with_several_signatures_opens_with_any_of_its_keys(signer):
    text = note.checkpoint_body(NAME, 5, ROOT)
    witness = note.NoteSigner.generate("witness.example/w1")
    both = signer.sign(text) + witness.signature_line(text)
    assert note.open_note(both, name=NAME, public=signer.public_bytes()) == text
    assert note.open_note(both, name=witness.name, public=witness.public_bytes()) == text
    junk = signer.sign(text) + "not a signature line\n\u2014 a b c\n"
    assert note.open_note(junk, name=NAME, public=signer.public_bytes()) == text


def test_a_note_signed_by_an_old_and_a_new_key_of_one_name_opens_with_either(signer):
    """A key rotation keeps the log's name: the line of the other key (same name, other key id) is
    passed over, not the end of the search."""
    text = note.checkpoint_body(NAME, 6, ROOT)
    new = note.NoteSigner.generate(NAME)
    both = signer.sign(text) + new.signature_line(text)
    assert note.open_note(both, name=NAME, public=new.public_bytes()) == text
    assert note.open_note(both, name=NAME, public=signer.public_bytes()) == text


def test_a_signature_line_counts_only_with_the_dash_the_name_and_three_fields(signer):
    text = note.checkpoint_body(NAME, 7, ROOT)
    blob = base64.b64encode(signer.key_id + signer.private.sign(text.encode())).decode()
    for line in (
        f"\u2014 other.example/log {blob}",  # our key's signature and id under another name
        f"- {NAME} {blob}",  # a hyphen, not the em dash
        f"\u2014 {NAME} {blob} extra",  # a fourth field
        f"\u2014  {NAME} {blob}",  # two spaces
    ):
        with pytest.raises(note.NoteError, match="no signature of this key"):
            note.open_note(f"{text}\n{line}\n", name=NAME, public=signer.public_bytes())
    assert note.open_note(f"{text}\n\u2014 {NAME} {blob}\n", name=NAME, public=signer.public_bytes()) == text
