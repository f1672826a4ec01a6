"""The log's public API: exactly the paths and shapes of issue #16, and receipts with their proofs."""

from __future__ import annotations

import base64
import re

import pytest
from tortoise.transactions import in_transaction

import gongxin_verify as gv
from backend.translog import log as translog
from tests.conftest import error_code
from tests.factories import make_org
from tests.translog.conftest import NAME, checkpoint_now, donation

NOTE = re.compile(
    r"(?P<origin>[^\n]+)\n(?P<size>[1-9][0-9]*)\n(?P<root>[A-Za-z0-9+/]{43}=)\n\n"
    r"(\u2014 (?P<name>\S+) (?P<sig>[A-Za-z0-9+/]+=*)\n)+"
)


async def _log_of(n: int, settings) -> object:
    org = await make_org()
    async with in_transaction():
        await translog.append_many(org.id, [b'{"v":1,"type":"t","n":%d}' % i for i in range(n)])
    await checkpoint_now(settings)
    return org


async def test_the_checkpoint_is_a_signed_note_and_verifies_with_the_published_key(client, db, settings):
    org = await _log_of(5, settings)
    r = await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    match = NOTE.fullmatch(r.text)
    assert match, r.text
    assert (match["origin"], match["size"], match["name"]) == (f"{NAME}/{org.credit_code}", "5", NAME)
    assert len(base64.b64decode(match["sig"])) == 4 + 64
    key = (await client.get(f"/api/v1/orgs/{org.credit_code}/log/key")).text
    assert re.fullmatch(re.escape(NAME) + r"\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}", key), key
    checkpoint = gv.open_checkpoint(r.text, [gv.parse_vkey(key)])
    entries = (await client.get(f"/api/v1/orgs/{org.credit_code}/log/entries")).json()["entries"]
    assert checkpoint.root == gv.root_of(base64.b64decode(e["leaf"]) for e in entries)
    published = (await client.get("/.well-known/gongxin-keys.json")).json()["log_keys"]
    assert [k["vkey"] for k in published] == [key]


async def test_old_checkpoints_stay_available_by_size(client, db, settings):
    org = await _log_of(3, settings)
    first = (await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint")).text
    async with in_transaction():
        await translog.append(org.id, b"more")
    await checkpoint_now(settings)
    assert (await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint?size=3")).text == first
    latest = (await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint")).text
    assert latest.split("\n")[1] == "4"
    r = await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint?size=2")
    assert r.status_code == 404 and error_code(r) == "log.checkpoint_not_found"
    r = await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint?size=0")
    assert r.status_code == 422


async def test_an_organization_without_a_log_says_so(client, db):
    org = await make_org()
    r = await client.get(f"/api/v1/orgs/{org.credit_code}/log/checkpoint")
    assert r.status_code == 404 and error_code(r) == "log.empty"
    r = await client.get("/api/v1/orgs/51440300MJ0000000X/log/checkpoint")
    assert r.status_code == 404


async def test_entries_are_the_exact_bytes_with_their_fields_paged_by_a_thousand(client, db, settings):
    org = await _log_of(1003, settings)
    base = f"/api/v1/orgs/{org.credit_code}/log/entries"
    page = (await client.get(f"{base}?start=0&end=1003")).json()["entries"]
    assert len(page) == 1000
    assert page[7] == {
        "index": 7,
        "leaf": base64.b64encode(b'{"v":1,"type":"t","n":7}').decode(),
        "v": 1,
        "type": "t",
        "n": 7,
    }
    rest = (await client.get(f"{base}?start=1000")).json()["entries"]
    assert [e["index"] for e in rest] == [1000, 1001, 1002]
    assert (await client.get(f"{base}?start=1003")).json() == {"entries": []}
    assert (await client.get(f"{base}?start=-1")).status_code == 422


async def test_leaves_are_the_exact_bytes_compact_and_paged_by_16384(client, db, settings):
    org = await _log_of(3, settings)
    base = f"/api/v1/orgs/{org.credit_code}/log/leaves"
    r = await client.get(f"{base}?start=1&end=3")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    one, two = b'{"v":1,"type":"t","n":1}', b'{"v":1,"type":"t","n":2}'
    # The count, each length (4 bytes big-endian), then the bytes: what gongxin-verify splits.
    assert r.content == b"\0\0\0\x02" + len(one).to_bytes(4, "big") + len(two).to_bytes(4, "big") + one + two
    assert gv.split_leaves(r.content) == [one, two]
    assert gv.split_leaves((await client.get(f"{base}?start=3")).content) == []
    assert (await client.get(f"{base}?start=-1")).status_code == 422
    assert (await client.get("/api/v1/orgs/51440300MJX9999999/log/leaves")).status_code == 404
    for cut in (r.content[:-1], r.content[:9], b"\0\0"):  # cut in the bytes, in the lengths, in the count
        with pytest.raises(gv.Mismatch):
            gv.split_leaves(cut)


async def test_a_page_of_leaves_stops_at_16384(client, db, settings):
    org = await make_org()
    async with in_transaction():
        await translog.append_many(org.id, [b"%d" % i for i in range(16_390)])
    page = gv.split_leaves((await client.get(f"/api/v1/orgs/{org.credit_code}/log/leaves")).content)
    assert page == [b"%d" % i for i in range(16_384)]


async def test_proofs_are_base64_hashes_that_verify(client, db, settings):
    org = await _log_of(6, settings)
    async with in_transaction():
        await translog.append(org.id, b"seventh")
    await checkpoint_now(settings)
    base = f"/api/v1/orgs/{org.credit_code}/log"
    six = gv.open_checkpoint(
        (await client.get(f"{base}/checkpoint?size=6")).text,
        [gv.parse_vkey((await client.get(f"{base}/key")).text)],
    )
    seven = gv.open_checkpoint(
        (await client.get(f"{base}/checkpoint")).text, [gv.parse_vkey((await client.get(f"{base}/key")).text)]
    )
    body = (await client.get(f"{base}/proof/inclusion?index=6&size=7")).json()
    assert set(body) == {"hashes"}
    gv.verify_inclusion(
        6, 7, gv.leaf_hash(b"seventh"), [base64.b64decode(h) for h in body["hashes"]], seven.root
    )
    body = (await client.get(f"{base}/proof/consistency?first=6&second=7")).json()
    gv.verify_consistency(6, 7, six.root, seven.root, [base64.b64decode(h) for h in body["hashes"]])
    r = await client.get(f"{base}/proof/inclusion?index=3&size=8")
    assert r.status_code == 422 and error_code(r) == "log.beyond_checkpoint"
    r = await client.get(f"{base}/proof/consistency?first=7&second=6")
    assert r.status_code == 422 and error_code(r) == "log.beyond_checkpoint"


async def test_a_receipt_carries_its_index_leaf_proof_and_checkpoint(client, campaign, settings):
    staff, pid = campaign["staff"], campaign["id"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation("X1"), headers=staff)
    r = await client.post(
        f"/api/v1/projects/{pid}/donations", json=donation("X2", amount_fen=777), headers=staff
    )
    code = r.json()["receipt_code"]
    pending = (await client.get(f"/api/v1/receipts/{code}")).json()
    # Appended at once; proven once the next checkpoint (within a second) covers it.
    assert pending["log_index"] == 2 and pending["inclusion_proof"] is None and pending["checkpoint"] is None
    await checkpoint_now(settings)
    receipt = (await client.get(f"/api/v1/receipts/{code}")).json()
    key = (await client.get(f"/api/v1/orgs/{campaign['org'].credit_code}/log/key")).text
    checkpoint = gv.open_checkpoint(receipt["checkpoint"], [gv.parse_vkey(key)])
    leaf = base64.b64decode(receipt["leaf"])
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    gv.verify_inclusion(receipt["log_index"], checkpoint.size, gv.leaf_hash(leaf), proof, checkpoint.root)
    assert b'"amount_fen":777' in leaf
