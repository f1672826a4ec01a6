"""The proof token's grammar: one encoding per proof, refused as anything else, never an organization's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.recruitment import prooftoken
from backend.registry import qrtoken

KEY = qrtoken.SigningKey.from_private_bytes("k20261202test", bytes(range(32)))
KEYS = {KEY.kid: KEY.public_key_bytes()}
CONTENT = {"type": "gongxin.volunteer_service_proof", "version": 1, "volunteer": "张*", "total_minutes": 90}


def _token(proof_id: int = 7) -> str:
    claims = prooftoken.ProofClaims(
        proof_id=proof_id,
        issued_at=datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        kid=KEY.kid,
        digest=prooftoken.digest_of(CONTENT),
    )
    return prooftoken.sign(claims, KEY)


def test_a_signed_token_parses_back_to_its_claims():
    claims = prooftoken.verify(_token(), KEYS)
    assert (claims.proof_id, claims.kid, claims.digest) == (7, KEY.kid, prooftoken.digest_of(CONTENT))
    assert claims.issued_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_the_digest_is_of_one_canonical_encoding():
    assert prooftoken.canonical({"b": 1, "a": "张"}) == '{"a":"张","b":1}'.encode()
    assert prooftoken.digest_of({"b": 1, "a": 2}) == prooftoken.digest_of({"a": 2, "b": 1})
    assert prooftoken.digest_of({**CONTENT, "total_minutes": 91}) != prooftoken.digest_of(CONTENT)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("vp7.", "vp07.", 1),  # a leading zero: another spelling of the same number
        lambda t: t.replace("vp7.", "VP7.", 1),
        lambda t: t.replace("vp7.", "7.", 1),
        lambda t: t + "A",
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t.replace(".", "..", 1),
        lambda t: t[:-1] + ("C" if t[-1] == "B" else "B"),
    ],
)
def test_any_other_spelling_is_malformed_or_fails_its_signature(change):
    with pytest.raises(qrtoken.InvalidQrCode):
        prooftoken.verify(change(_token()), KEYS)


def test_a_proof_token_is_no_organization_token_and_the_reverse():
    org = qrtoken.sign(
        qrtoken.QrClaims(
            credit_code="51440300MJL0000103", version=1, issued_at=datetime.now(UTC), kid=KEY.kid
        ),
        KEY,
    )
    with pytest.raises(qrtoken.MalformedToken):
        qrtoken.verify(_token(), KEYS)
    with pytest.raises(qrtoken.MalformedToken):
        prooftoken.verify(org, KEYS)


def test_an_unknown_key_is_named():
    with pytest.raises(qrtoken.UnknownKey):
        prooftoken.verify(_token(), {"other": KEY.public_key_bytes()})


@pytest.mark.parametrize("spelling", ["vp07", "vp0", "vp7.0tk3x5c"])
def test_a_properly_signed_other_spelling_is_still_malformed(spelling):
    """One encoding per proof: even signed, a leading zero (number or time) does not parse."""
    payload = _token().rsplit(".", 1)[0]
    _, rest = payload.split(".", 1)
    if "." in spelling:
        number, iat = spelling.split(".")
        payload = ".".join([number, iat, *rest.split(".")[1:]])
    else:
        payload = f"{spelling}.{rest}"
    signature = KEY.private_key.sign(prooftoken.SIGNING_DOMAIN + payload.encode())
    with pytest.raises(qrtoken.MalformedToken):
        prooftoken.verify(f"{payload}.{qrtoken.b64encode(signature)}", KEYS)
