from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backend.errors import Unprocessable
from backend.registry import qrtoken
from backend.registry.qrtoken import (
    SIGNING_DOMAIN,
    BadSignature,
    MalformedToken,
    NotOurUrl,
    QrClaims,
    SigningKey,
    UnknownKey,
    build_url,
    extract_token,
    parse,
    sign,
    verify,
)

CODE = "51440300MJL0000103"
BASE = "https://gongxin.example.cn"
ISSUED = datetime(2026, 11, 29, 1, 30, 5, tzinfo=UTC)
# RFC 8032 test vector 1's private key: fixed, so the expected token below is stable.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_private_bytes("k20261129test", RFC8032_SECRET)


@pytest.fixture
def claims(key: SigningKey) -> QrClaims:
    return QrClaims(credit_code=CODE, version=3, issued_at=ISSUED, kid=key.kid)


@pytest.fixture
def token(claims: QrClaims, key: SigningKey) -> str:
    return sign(claims, key)


@pytest.fixture
def keys(key: SigningKey) -> dict[str, bytes]:
    return {key.kid: key.public_key_bytes()}


@pytest.fixture(autouse=True)
def _forget_verified() -> None:
    # The success cache is process-wide; each test starts cold so it exercises the real check.
    qrtoken._verified.clear()


def test_token_has_the_documented_fields_and_signature(token, key):
    code, version, iat, kid, sig = token.split(".")
    assert (code, version, kid) == (CODE, "3", "k20261129test")
    assert int(iat, 36) == int(ISSUED.timestamp())
    raw = base64.urlsafe_b64decode(sig + "==")
    message = SIGNING_DOMAIN + f"{code}.{version}.{iat}.{kid}".encode()
    # A third party with only the published public key and the docstring can check it.
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key.public_key_b64() + "="))
    public.verify(raw, message)


def test_rfc8032_key_gives_its_published_public_key(key):
    assert key.public_key_bytes().hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_token_is_url_safe_and_compact(token):
    assert len(token) <= 140
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in token)


def test_verify_returns_the_signed_claims(token, keys, claims):
    assert verify(token, keys) == claims


def test_verify_accepts_key_objects(token, key, claims):
    assert verify(token, {key.kid: key.private_key.public_key()}) == claims


def test_parse_returns_claims_message_and_signature(token, claims):
    parsed, message, signature = parse(token)
    assert parsed == claims
    assert message == SIGNING_DOMAIN + token.rsplit(".", 1)[0].encode()
    assert len(signature) == 64


def test_claims_are_normalized_to_utc_whole_seconds(key):
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 29, 9, 30, 5, 999_999, tzinfo=shanghai)
    claims = QrClaims(credit_code=CODE, version=1, issued_at=local, kid=key.kid)
    assert claims.issued_at == datetime(2026, 11, 29, 1, 30, 5, tzinfo=UTC)
    assert claims.issued_at.tzinfo is UTC
    assert parse(sign(claims, key))[0] == claims


@pytest.mark.parametrize(
    "field",
    [
        {"credit_code": "51440300mjl0000103"},
        {"credit_code": "51440300MJL000010"},
        {"version": 0},
        {"version": True},
        {"version": 1_000_000_000},
        {"kid": "K1"},
        {"kid": "a" * 17},
        {"issued_at": datetime(2026, 1, 1)},
        {"issued_at": datetime(1969, 12, 31, tzinfo=UTC)},
    ],
)
def test_claims_refuse_values_the_format_cannot_carry(field):
    values = {"credit_code": CODE, "version": 1, "issued_at": ISSUED, "kid": "k1"} | field
    with pytest.raises(ValueError):
        QrClaims(**values)


def test_sign_refuses_a_key_other_than_the_claims_name(claims):
    with pytest.raises(ValueError):
        sign(claims, SigningKey.generate("other"))


def test_generated_kid_is_date_based_and_short():
    key = SigningKey.generate()
    assert key.kid.startswith("k" + datetime.now(UTC).strftime("%Y%m%d"))
    assert len(key.kid) == 13
    assert key.kid.isascii() and key.kid.isalnum() and key.kid.islower()


def test_private_bytes_round_trip():
    key = SigningKey.generate("k1")
    raw = key.private_bytes()
    assert len(raw) == 32
    again = SigningKey.from_private_bytes("k1", raw)
    assert again.public_key_b64() == key.public_key_b64()
    assert len(key.public_key_b64()) == 43 and "=" not in key.public_key_b64()


def test_from_private_bytes_refuses_wrong_length():
    with pytest.raises(ValueError):
        SigningKey.from_private_bytes("k1", b"\x00" * 31)


def test_unknown_kid_is_unknown_key(token):
    with pytest.raises(UnknownKey) as err:
        verify(token, {"kother": SigningKey.generate("kother").public_key_bytes()})
    assert err.value.code == "qr.unknown_key"


def test_other_key_under_same_kid_is_bad_signature(token, key):
    impostor = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(BadSignature) as err:
        verify(token, {key.kid: impostor})
    assert err.value.code == "qr.bad_signature"


@pytest.mark.parametrize("field", [0, 1, 2])
def test_altering_a_signed_field_breaks_the_signature(token, keys, field):
    parts = token.split(".")
    parts[field] = {0: "51440300MJL0000201", 1: "4", 2: parts[2][:-1] + "z"}[field]
    with pytest.raises(BadSignature):
        verify(".".join(parts), keys)


def test_replacing_the_kid_is_unknown_key_or_bad_signature(token, key):
    parts = token.split(".")
    parts[3] = "kother"
    keys = {key.kid: key.public_key_bytes(), "kother": key.public_key_bytes()}
    with pytest.raises(BadSignature):
        verify(".".join(parts), keys)


def test_noncanonical_signature_encoding_is_malformed(token):
    # The last base64 character carries 4 spare bits; setting one decodes to the same 64 bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = token[-1]
    twin = alphabet[alphabet.index(last) | 1]
    assert twin != last  # canonical encodings end in a multiple of 16
    with pytest.raises(MalformedToken):
        parse(token[:-1] + twin)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: "",
        lambda t: t + ".",
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t.replace(".3.", ".03.", 1),
        lambda t: t.replace(".3.", ".+3.", 1),
        lambda t: t.replace(".3.", ".-3.", 1),
        lambda t: t.replace(".3.", ".0.", 1),
        lambda t: t.replace(".3.", ". 3.", 1),
        lambda t: t.replace(".3.", ".٣.", 1),  # an Arabic-Indic three: int() would take it
        lambda t: t.replace(CODE, CODE.lower(), 1),
        lambda t: t.replace(CODE, CODE[:-1], 1),
        lambda t: t.replace(".k20261129test.", ".K20261129TEST.", 1),
        lambda t: t.replace(".k20261129test.", "..", 1),
        lambda t: t.replace(".", "/"),
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t.replace("_", "+").replace("-", "/") if ("_" in t or "-" in t) else t + "=",
        lambda t: t + "==",
        lambda t: t * 2,
    ],
)
def test_malformed_tokens_are_malformed(token, keys, mutate):
    with pytest.raises(MalformedToken) as err:
        verify(mutate(token), keys)
    assert err.value.code == "qr.malformed"
    assert err.value.status == 422
    assert isinstance(err.value, Unprocessable)


def test_leading_zero_in_issued_at_is_malformed(token, keys):
    code, version, iat, kid, sig = token.split(".")
    with pytest.raises(MalformedToken):
        parse(".".join([code, version, "0" + iat, kid, sig]))


def test_issued_at_beyond_datetime_range_is_malformed(token):
    code, version, _, kid, sig = token.split(".")
    with pytest.raises(MalformedToken):
        parse(".".join([code, version, "zzzzzzzz", kid, sig]))


def test_epoch_issue_time_round_trips(key):
    claims = QrClaims(credit_code=CODE, version=1, issued_at=datetime(1970, 1, 1, tzinfo=UTC), kid=key.kid)
    token = sign(claims, key)
    assert token.split(".")[2] == "0"
    assert parse(token)[0] == claims


class _PatternNotToBeUsed:
    """Stands in for the token pattern: a token that reaches it fails the test."""

    def fullmatch(self, text: str) -> None:
        raise AssertionError(f"a {len(text)}-character token reached the pattern")


def test_huge_input_is_refused_on_its_length_before_any_parsing(keys, monkeypatch):
    # Not a timing: a 10 MB token is refused on its length alone, before the pattern reads it.
    monkeypatch.setattr(qrtoken, "_TOKEN", _PatternNotToBeUsed())
    _raises_malformed("A" * 10_000_000, keys)
    with pytest.raises(AssertionError, match="reached the pattern"):
        verify("A" * 40, keys)  # a token of plausible length does reach it: the stand-in is in use


def _raises_malformed(text: str, keys: dict[str, bytes]) -> None:
    with pytest.raises(MalformedToken):
        verify(text, keys)


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=300))
def test_parse_raises_only_malformed_for_any_text(text):
    # Any other exception type fails the test.
    with contextlib.suppress(MalformedToken):
        parse(text)


_FIELD = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-+/= ", max_size=90)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_FIELD, min_size=1, max_size=7))
def test_parse_raises_only_malformed_for_token_shaped_text(fields):
    # Dot-joined fields from the token's own alphabet reach deeper than arbitrary text does.
    with contextlib.suppress(MalformedToken):
        parse(".".join(fields))


@settings(max_examples=300, deadline=None)
@given(
    code=st.from_regex(r"[0-9A-Z]{18}", fullmatch=True),
    version=st.integers(1, 999_999_999),
    seconds=st.integers(0, 253402300799),
    kid=st.from_regex(r"[a-z0-9]{1,16}", fullmatch=True),
)
def test_any_valid_claims_round_trip(code, version, seconds, kid):
    key = SigningKey.from_private_bytes(kid, RFC8032_SECRET)
    claims = QrClaims(code, version, datetime.fromtimestamp(seconds, UTC), kid)
    token = sign(claims, key)
    assert len(token) <= qrtoken.MAX_TOKEN_LEN
    assert verify(token, {kid: key.public_key_bytes()}) == claims


@settings(max_examples=500, deadline=None)
@given(position=st.integers(0, 200), char=st.sampled_from("0123456789azAZ.-_"))
def test_any_single_character_change_is_rejected(position, char):
    key = SigningKey.from_private_bytes("k1", RFC8032_SECRET)
    token = sign(QrClaims(CODE, 7, ISSUED, "k1"), key)
    i = position % len(token)
    altered = token[:i] + char + token[i + 1 :]
    qrtoken._verified.clear()
    if altered == token:
        return
    with pytest.raises((MalformedToken, BadSignature, UnknownKey)):
        verify(altered, {"k1": key.public_key_bytes()})


def test_cached_success_needs_the_same_key(token, key, keys, claims):
    assert verify(token, keys) == claims
    with pytest.raises(UnknownKey):
        verify(token, {})
    with pytest.raises(BadSignature):
        verify(token, {key.kid: Ed25519PrivateKey.generate().public_key()})
    assert verify(token, keys) == claims


def test_a_verified_token_is_not_checked_again(token, keys, monkeypatch):
    # The hot path's promise as behaviour, not a timing (speed is make bench's): a code scanned again
    # answers from the cache of successes, without parsing it or checking its signature again.
    assert verify(token, keys).credit_code
    monkeypatch.setattr(qrtoken, "parse", _parse_not_expected)
    assert verify(token, keys).credit_code
    qrtoken._verified.clear()
    with pytest.raises(AssertionError, match="parsed again"):
        verify(token, keys)


def _parse_not_expected(token: str) -> None:
    raise AssertionError("a token verified before was parsed again")


# --- URLs ----------------------------------------------------------------------------------------


def test_build_url_strips_trailing_slash(token):
    assert build_url(BASE + "/", token) == f"{BASE}/o/{token}"
    assert build_url(BASE, token) == f"{BASE}/o/{token}"


def test_extract_token_round_trips(token):
    assert extract_token(build_url(BASE, token), BASE) == token


def test_extract_token_under_a_base_path(token):
    base = "https://gov.example.cn/gongxin/"
    assert extract_token(build_url(base, token), base) == token
    with pytest.raises(NotOurUrl):
        extract_token(f"https://gov.example.cn/o/{token}", base)


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://GONGXIN.EXAMPLE.CN/o/{t}",
        "https://GongXin.Example.CN/o/{t}",
        "https://gongxin.example.cn:443/o/{t}",
        "https://gongxin.example.cn:/o/{t}",
        "  https://gongxin.example.cn/o/{t}\n",
        "https://gongxin.example.cn/o/{t}?from=singlemessage&isappinstalled=0",
        "https://gongxin.example.cn/o/{t}#top",
    ],
)
def test_equivalent_forms_of_our_url_are_accepted(token, url):
    assert extract_token(url.format(t=token), BASE) == token


@pytest.mark.parametrize(
    "url",
    [
        "http://gongxin.example.cn/o/{t}",
        "https://gongxin.example.cn.evil.com/o/{t}",
        "https://evilgongxin.example.cn/o/{t}",
        "https://gongxin.example.cn./o/{t}",
        "https://evil.com/gongxin.example.cn/o/{t}",
        "https://gongxin.example.cn@evil.com/o/{t}",
        "https://evil.com@gongxin.example.cn/o/{t}",
        "https://user:pw@gongxin.example.cn/o/{t}",
        "https://evil.com\\@gongxin.example.cn/o/{t}",
        "https://gongxin.example.cn\\.evil.com/o/{t}",
        "https:\\\\gongxin.example.cn/o/{t}",
        "https://gongxin.example.cn:8443/o/{t}",
        "https://gongxin.example.cn:99999/o/{t}",
        "https://gongxin.example.cn:abc/o/{t}",
        "https://%67ongxin.example.cn/o/{t}",
        "https://ｇongxin.example.cn/o/{t}",
        "https://gongxin.example.cn\t.evil.com/o/{t}",
        "https://[::1]/o/{t}",
        "//gongxin.example.cn/o/{t}",
        "gongxin.example.cn/o/{t}",
        "javascript:alert(1)//gongxin.example.cn/o/{t}",
        "https://gongxin.example.cn/O/{t}",
        "https://gongxin.example.cn//o/{t}",
        "https://gongxin.example.cn/x/../o/{t}",
        "https://gongxin.example.cn/o/{t}/",
        "https://gongxin.example.cn/o/{t}/extra",
        "https://gongxin.example.cn/o/",
        "https://gongxin.example.cn/o/..",
        "https://gongxin.example.cn/o/%2e%2e",
        "https://gongxin.example.cn/o/{t}%00",
        "https://gongxin.example.cn/",
        "",
        "q=https%3A%2F%2Fevil.com%2Fo%2F{t}",
        "q=https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}&q=https%3A%2F%2Fevil.com%2Fo%2F{t}",
        "q=https%253A%252F%252Fgongxin.example.cn%252Fo%252F{t}",
        "scancode_time=1764380000",
    ],
)
def test_foreign_and_lookalike_urls_are_not_ours(token, url):
    with pytest.raises(NotOurUrl) as err:
        extract_token(url.format(t=token), BASE)
    assert err.value.code == "qr.not_our_url"


def test_local_http_base_with_port(token):
    base = "http://localhost:8000"
    assert extract_token(f"http://LOCALHOST:8000/o/{token}", base) == token
    with pytest.raises(NotOurUrl):
        extract_token(f"http://localhost/o/{token}", base)
    with pytest.raises(NotOurUrl):
        extract_token(f"https://localhost:8000/o/{token}", base)


@pytest.mark.parametrize(
    "wrapped",
    [
        "q=https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}&scancode_time=1764380000",
        "?q=https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}",
        "scancode_time=1764380000&q=https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}",
        "pages/verify/index?q=https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}&scancode_time=1",
        "https%3A%2F%2Fgongxin.example.cn%2Fo%2F{t}",
        "HTTPS%3a%2f%2fgongxin.example.cn%2fo%2f{t}",
    ],
)
def test_wechat_scan_ordinary_link_form_is_unwrapped(token, wrapped):
    assert extract_token(wrapped.format(t=token), BASE) == token


def test_invalid_base_url_is_a_configuration_error(token):
    for base in ("ftp://gongxin.example.cn", "https://", "https://u@gongxin.example.cn", "https://h/?x=1"):
        with pytest.raises(ValueError):
            extract_token(build_url(BASE, token), base)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=200))
def test_extract_token_raises_only_not_our_url_for_any_text(text):
    try:
        token = extract_token(text, BASE)
    except NotOurUrl:
        return
    assert token and "/" not in token


@settings(max_examples=500, deadline=None)
@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_text_around_our_host_never_yields_a_foreign_origin(prefix, suffix):
    url = f"{prefix}gongxin.example.cn{suffix}/o/tok"
    assume("%" not in url and "=" not in url)  # the WeChat q= form is covered above
    try:
        extract_token(url, BASE)
    except NotOurUrl:
        return
    # Whatever was accepted must read as exactly our origin.
    assert url.strip().lower().startswith(("https://gongxin.example.cn/", "https://gongxin.example.cn:443/"))


# --- edges a mutation run found unguarded (tests/MUTATION.md, tokens) -----------------------------


def test_verify_refuses_what_is_not_text_as_malformed(keys):
    for not_text in (None, 42, b"token", ["token"], {"token": 1}):
        with pytest.raises(MalformedToken):
            verify(not_text, keys)  # type: ignore[arg-type]


def test_the_success_cache_is_bounded_and_forgets_the_oldest(key, keys, monkeypatch):
    monkeypatch.setattr(qrtoken, "_VERIFIED_MAX", 3)
    tokens = [
        sign(QrClaims(credit_code=CODE, version=v, issued_at=ISSUED, kid=key.kid), key) for v in range(1, 6)
    ]
    for t in tokens:
        verify(t, keys)
    assert list(qrtoken._verified) == tokens[-3:]


def test_a_backslash_anywhere_in_the_url_is_refused(token):
    for url in (f"{BASE}/o/{token}?from=a\\b", f"{BASE}/o/{token}#top\\", f"{BASE}/o/{token}?\\"):
        with pytest.raises(NotOurUrl):
            extract_token(url, BASE)


def test_a_scanned_url_is_read_up_to_4096_characters(token):
    start = f"{BASE}/o/{token}?pad="
    at_limit = start + "x" * (4096 - len(start))
    assert len(at_limit) == 4096 and extract_token(at_limit, BASE) == token
    with pytest.raises(NotOurUrl):
        extract_token(at_limit + "x", BASE)
    for not_text in (None, 42, b"https://gongxin.example.cn/o/x"):
        with pytest.raises(NotOurUrl):
            extract_token(not_text, BASE)  # type: ignore[arg-type]


def test_a_second_q_is_refused_even_when_blank(token):
    encoded = f"https%3A%2F%2Fgongxin.example.cn%2Fo%2F{token}"
    for wrapped in (f"q=&q={encoded}", f"q={encoded}&q=", f"pages/verify/index?q=&q={encoded}"):
        with pytest.raises(NotOurUrl):
            extract_token(wrapped, BASE)


def test_the_longest_token_the_format_allows_is_valid(keys):
    longest_kid = SigningKey.from_private_bytes("k" * 16, RFC8032_SECRET)
    late = datetime(9999, 12, 31, tzinfo=UTC)  # 8 base-36 digits of seconds
    claims = QrClaims(credit_code=CODE, version=qrtoken.MAX_VERSION, issued_at=late, kid=longest_kid.kid)
    token = sign(claims, longest_kid)
    assert len(token) == qrtoken.MAX_TOKEN_LEN
    assert verify(token, {longest_kid.kid: longest_kid.public_key_bytes()}) == claims
    with pytest.raises(ValueError):
        QrClaims(credit_code=CODE, version=qrtoken.MAX_VERSION + 1, issued_at=late, kid=longest_kid.kid)


def test_a_signing_key_refuses_a_kid_the_token_cannot_carry():
    for kid in ("K2026", "k.1", "", "k" * 17, "k 1"):
        with pytest.raises(ValueError):
            SigningKey.from_private_bytes(kid, RFC8032_SECRET)


def test_base64url_strips_only_the_padding():
    assert qrtoken._b64encode(b"\x00\x00\x17") == "AAAX"  # a trailing X is data, not padding
    assert qrtoken._b64encode(b"\xff") == "_w"
