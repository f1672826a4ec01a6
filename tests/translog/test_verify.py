"""gongxin-verify against the real API: an honest record passes; each way of tampering is caught and named."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

import gongxin_verify
from backend.registry import qr
from backend.translog.models import Checkpoint, Leaf, Log, Node, Pending, Tile, Tree
from tests.translog.conftest import bridge, checkpoint_now, donation, expenditure


async def verify(client: Any, *argv: str) -> tuple[int, str]:
    """Run gongxin-verify in a thread against the app under test; its exit status and output."""
    fetch = bridge(client, asyncio.get_running_loop())
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return gongxin_verify.main(list(argv), fetch=fetch)

    status = await asyncio.to_thread(run)
    return status, out.getvalue()


@pytest.fixture
async def ledger(client, campaign, settings) -> dict[str, Any]:
    """A campaign with four donations, an expenditure and a correction, covered by a checkpoint."""
    staff, pid = campaign["staff"], campaign["id"]
    codes = []
    for i in range(4):
        r = await client.post(
            f"/api/v1/projects/{pid}/donations",
            json=donation(f"D{i}", amount_fen=1000 * (i + 1)),
            headers=staff,
        )
        codes.append(r.json()["receipt_code"])
    spent = await client.post(
        f"/api/v1/projects/{pid}/expenditures", json=expenditure(amount_fen=500), headers=staff
    )
    r = await client.post(
        f"/api/v1/projects/{pid}/corrections",
        json={"reverses": spent.json()["id"], "explanation": "重复记录"},
        headers=staff,
    )
    assert r.status_code == 201, r.text
    await checkpoint_now(settings)
    return {**campaign, "codes": codes, "code": campaign["org"].credit_code}


async def _leaves(org_id: int) -> list[tuple[bytes, int | None]]:
    return [
        (bytes(leaf.data), leaf.entry_id)
        for leaf in await Leaf.filter(organization_id=org_id).order_by("idx")
    ]


async def rewrite(org_id: int, leaves: list[tuple[bytes, int | None]], settings) -> None:
    """What an operator holding the signing key could do: replace the history and sign it anew."""
    from datetime import UTC, datetime

    for model in (Leaf, Node, Tile, Tree, Checkpoint):
        await model.filter(organization_id=org_id).delete()
    await Leaf.bulk_create(
        [
            Leaf(
                organization_id=org_id,
                idx=i,
                data=d,
                hash=gongxin_verify.leaf_hash(d),
                entry_id=e,
                appended_at=datetime.now(UTC),
            )
            for i, (d, e) in enumerate(leaves)
        ]
    )
    await Log.filter(organization_id=org_id).update(next_index=len(leaves))
    await Pending.get_or_create(organization_id=org_id)
    await checkpoint_now(settings)


def _amount(data: bytes, amount: int) -> bytes:
    fields = json.loads(data)
    fields["amount_fen"] = amount
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


async def test_an_honest_log_and_receipt_verify(client, ledger, tmp_path):
    state = str(tmp_path / "state.json")
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 0, out
    status, out = await verify(client, "receipt", ledger["codes"][2], "--state", state)
    assert status == 0, out
    # A second run checks consistency with the checkpoint it remembered, and still passes.
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 0, out


async def test_a_changed_amount_is_named(client, ledger, settings, tmp_path):
    state = str(tmp_path / "state.json")
    assert (await verify(client, "log", ledger["code"], "--state", state))[0] == 0
    org = ledger["org"].id
    await Leaf.filter(organization_id=org, idx=2).update(data=_amount((await _leaves(org))[2][0], 99_999))
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 1
    assert "MISMATCH root: the 7 entries served do not hash to the signed root" in out
    assert "MISMATCH entry 2 changed" in out
    assert "MISMATCH totals: project" in out and "raised_fen" in out


async def test_a_changed_amount_on_a_receipt_is_caught(client, ledger, settings, tmp_path):
    org = ledger["org"].id
    leaves = await _leaves(org)
    await Leaf.filter(organization_id=org, idx=3).update(data=_amount(leaves[3][0], 1))
    status, out = await verify(client, "receipt", ledger["codes"][2], "--state", str(tmp_path / "s.json"))
    assert status == 1
    assert "does not lead to the root" in out
    assert "amount_fen is 3000 on the receipt, 1 in the log" in out


async def test_a_deleted_entry_is_named_even_when_the_history_is_signed_anew(
    client, ledger, settings, tmp_path
):
    state = str(tmp_path / "state.json")
    assert (await verify(client, "log", ledger["code"], "--state", state))[0] == 0
    org = ledger["org"].id
    leaves = await _leaves(org)
    await rewrite(org, leaves[:3] + leaves[4:], settings)
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 1
    assert (
        "MISMATCH fork: the log is not an extension of the checkpoint of size 7 this client saw" in out
        or ("MISMATCH fork: this client saw size 7, the log now claims 6 (rolled back)" in out)
    )
    assert "MISMATCH entry 3 deleted (the entries after it moved up)" in out


async def test_two_reordered_entries_are_named(client, ledger, settings, tmp_path):
    state = str(tmp_path / "state.json")
    assert (await verify(client, "log", ledger["code"], "--state", state))[0] == 0
    org = ledger["org"].id
    leaves = await _leaves(org)
    leaves[1], leaves[4] = leaves[4], leaves[1]
    await rewrite(org, leaves, settings)
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 1
    assert "MISMATCH fork: the log is not an extension of the checkpoint of size 7 this client saw" in out
    assert "MISMATCH entries 1 and 4 reordered" in out


async def test_an_entry_inserted_in_the_middle_is_named(client, ledger, settings, tmp_path):
    state = str(tmp_path / "state.json")
    assert (await verify(client, "log", ledger["code"], "--state", state))[0] == 0
    org = ledger["org"].id
    leaves = await _leaves(org)
    forged = _amount(leaves[2][0], 5)
    await rewrite(org, [*leaves[:2], (forged, None), *leaves[2:]], settings)
    status, out = await verify(client, "log", ledger["code"], "--state", state)
    assert status == 1
    assert "MISMATCH fork: the log is not an extension of the checkpoint of size 7 this client saw" in out
    assert "MISMATCH an entry inserted at 2 (the entries from there moved down)" in out


async def test_a_rewritten_checkpoint_fails_its_signature(client, ledger, tmp_path):
    org = ledger["org"].id
    checkpoint = await Checkpoint.filter(organization_id=org).order_by("-size").first()
    assert checkpoint is not None
    lines = checkpoint.note.split("\n")
    lines[1] = "6"  # drop the last entry from what it claims
    await Checkpoint.filter(id=checkpoint.id).update(note="\n".join(lines))
    status, out = await verify(client, "log", ledger["code"], "--state", str(tmp_path / "s.json"))
    assert status == 1
    assert "MISMATCH checkpoint rewritten: its signature does not verify" in out


async def test_a_different_log_served_to_a_second_client_is_a_fork(client, ledger, settings, tmp_path):
    first, second = str(tmp_path / "first.json"), str(tmp_path / "second.json")
    assert (await verify(client, "log", ledger["code"], "--state", first))[0] == 0
    # The operator serves a rewritten history (one amount changed, signed anew) from now on.
    org = ledger["org"].id
    leaves = await _leaves(org)
    leaves[5] = (_amount(leaves[5][0], 1), leaves[5][1])
    await rewrite(org, leaves, settings)
    # A newcomer alone sees a consistent, signed log (only the kept totals, not rewritten, disagree)...
    status, out = await verify(client, "log", ledger["code"], "--state", second)
    assert "fork" not in out and "root" not in out
    # ...but comparing notes with the first client shows two histories for one log.
    status, out = await verify(client, "log", ledger["code"], "--state", second, "--gossip", first)
    assert status == 1
    assert f"MISMATCH fork: the log is not an extension of the checkpoint of size 7 client {first} saw" in out
    # And the first client, coming back, sees it by itself.
    status, out = await verify(client, "log", ledger["code"], "--state", first)
    assert status == 1 and "MISMATCH fork" in out and "MISMATCH entry 5 changed" in out


async def test_a_qr_code_verifies_offline_and_a_forged_one_does_not(client, db, settings):
    from tests.factories import make_org

    org = await make_org()
    version = await qr.current_code(organization=org)
    url = f"{settings.public_base_url}/o/{version.token}"
    status, out = await verify(client, "qr", url)
    assert status == 0, out
    forged = url.replace(org.credit_code, org.credit_code[:-1] + ("0" if org.credit_code[-1] != "0" else "1"))
    status, out = await verify(client, "qr", forged)
    assert status == 1 and "MISMATCH qr: the signature does not verify" in out


def test_the_verifier_imports_nothing_but_the_standard_library_and_cryptography():
    import ast
    import sys

    tree = ast.parse(Path(gongxin_verify.__file__).read_text())
    modules = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [None])  # type: ignore[list-item]
    }
    assert modules - {"__future__", "cryptography"} <= set(sys.stdlib_module_names), modules
    assert len(Path(gongxin_verify.__file__).read_text().splitlines()) < 500
