"""Appends wired to the ledger, gapless sequences, checkpoints, proofs from stored nodes, key rotation."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gongxin_verify as gv
from backend.charity import canonical
from backend.charity.models import LedgerEntry
from backend.translog import integrate, keys, merkle, service
from backend.translog import log as translog
from backend.translog.models import Checkpoint, Leaf, LogKey, Pending, Tree
from tests.factories import make_org
from tests.translog.conftest import NAME, checkpoint_now, cipher, donation, expenditure


async def _leaves(org_id: int) -> list[Leaf]:
    return await Leaf.filter(organization_id=org_id).order_by("idx")


def _vkeys(records: list[LogKey]) -> list[gv.Key]:
    return [gv.parse_vkey(keys.vkey(r)) for r in records]


async def test_each_ledger_entry_is_a_leaf_of_its_canonical_bytes_and_a_checkpoint_covers_it(
    client, campaign, settings
):
    staff, pid, org = campaign["staff"], campaign["id"], campaign["org"]
    for i in range(3):
        r = await client.post(f"/api/v1/projects/{pid}/donations", json=donation(f"R{i}"), headers=staff)
        assert r.status_code == 201
    r = await client.post(f"/api/v1/projects/{pid}/expenditures", json=expenditure(), headers=staff)
    assert r.status_code == 201
    leaves = await _leaves(org.id)
    # The project's record (its start of fundraising), then the four entries, in order.
    assert [json.loads(leaf.data)["type"] for leaf in leaves] == [
        "project.status",
        "donation",
        "donation",
        "donation",
        "expenditure",
    ]
    entries = await LedgerEntry.filter(project_id=pid).order_by("id")
    assert [bytes(leaf.data) for leaf in leaves[1:]] == [canonical.canonical_bytes(e) for e in entries]
    assert [leaf.entry_id for leaf in leaves[1:]] == [e.id for e in entries]
    assert await Pending.filter(organization_id=org.id).exists()

    assert await checkpoint_now(settings) == 1
    assert not await Pending.filter(organization_id=org.id).exists()
    note = await service.latest_checkpoint(code=org.credit_code)
    checkpoint = gv.open_checkpoint(note, _vkeys(await LogKey.all()))
    assert checkpoint.origin == f"{NAME}/{org.credit_code}"
    assert checkpoint.size == 5
    assert checkpoint.root == gv.root_of(bytes(leaf.data) for leaf in leaves)


async def test_a_rolled_back_entry_gives_its_index_back(client, campaign):
    staff, pid, org = campaign["staff"], campaign["id"], campaign["org"]
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation("A", amount_fen=1000), headers=staff)
    r = await client.post(
        f"/api/v1/projects/{pid}/expenditures", json=expenditure(amount_fen=5000), headers=staff
    )
    assert r.status_code == 422  # beyond the balance: the whole transaction rolls back, its leaf too
    await client.post(f"/api/v1/projects/{pid}/donations", json=donation("B", amount_fen=1000), headers=staff)
    assert [leaf.idx for leaf in await _leaves(org.id)] == [0, 1, 2]


async def test_proofs_from_stored_nodes_verify_at_every_size_power_of_two_or_not(db, settings):
    org = await make_org()
    sizes = []
    for batch in (1, 1, 2, 3, 1, 8, 5, 13, 2):  # checkpoints at 1, 2, 4, 7, 8, 16, 21, 34, 36
        from tortoise.transactions import in_transaction

        async with in_transaction():
            await translog.append_many(org.id, [f"leaf {len(sizes)}-{i}".encode() for i in range(batch)])
        await checkpoint_now(settings)
        sizes.append((await Tree.get(organization_id=org.id)).size)
    assert sizes == [1, 2, 4, 7, 8, 16, 21, 34, 36]
    data = [bytes(leaf.data) for leaf in await _leaves(org.id)]
    hashes = [gv.leaf_hash(d) for d in data]
    checkpoints = {c.size: bytes(c.root) for c in await Checkpoint.filter(organization_id=org.id)}
    assert sorted(checkpoints) == sizes
    for size, root in checkpoints.items():
        assert root == gv.root_of_hashes(hashes[:size])
        for index in range(size):
            proof = await service.inclusion_proof_of(org.id, index=index, size=size)
            gv.verify_inclusion(index, size, hashes[index], proof, root)
        for first, first_root in checkpoints.items():
            if first <= size:
                proof = await service.consistency_proof_of(org.id, first=first, second=size)
                gv.verify_consistency(first, size, first_root, root, proof)


async def test_proofs_are_read_not_rebuilt(db, settings):
    # A proof reads O(log n) stored nodes: with the leaves' hashes all gone but the ones it needs,
    # it still answers. (A rebuild would need every leaf.)
    org = await make_org()
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await translog.append_many(org.id, [b"%d" % i for i in range(100)])
    await checkpoint_now(settings)
    needed = merkle.nodes_for(merkle.inclusion_ranges(37, 100))
    keep = {index for level, index in needed if level == 0}
    await Leaf.filter(organization_id=org.id).exclude(idx__in=list(keep)).delete()
    proof = await service.inclusion_proof_of(org.id, index=37, size=100)
    root = bytes((await Tree.get(organization_id=org.id)).root)
    gv.verify_inclusion(37, 100, gv.leaf_hash(b"37"), proof, root)


async def test_a_rotated_key_signs_new_checkpoints_and_old_ones_still_verify(db, settings):
    org = await make_org()
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await translog.append_many(org.id, [b"a", b"b", b"c"])
    await checkpoint_now(settings)
    old_note = (await Checkpoint.get(organization_id=org.id, size=3)).note
    await keys.rotate(name=NAME, cipher=cipher(settings))
    async with in_transaction():
        await translog.append(org.id, b"d")
    await checkpoint_now(settings)
    new_note = (await Checkpoint.get(organization_id=org.id, size=4)).note
    old_key, new_key = await LogKey.all().order_by("generation")
    assert old_key.retired_at is not None and new_key.retired_at is None
    # The new key alone does not verify the old checkpoint, nor the old key the new one...
    for note, key in ((old_note, new_key), (new_note, old_key)):
        try:
            gv.open_checkpoint(note, _vkeys([key]))
            raise AssertionError("verified with the wrong key")
        except gv.Mismatch:
            pass
    # ...but the published keys (the retired one too) verify both, and the old extends to the new.
    published = [gv.parse_vkey(k["vkey"]) for k in await keys.published()]
    old, new = gv.open_checkpoint(old_note, published), gv.open_checkpoint(new_note, published)
    proof = await service.consistency_proof_of(org.id, first=3, second=4)
    gv.verify_consistency(3, 4, old.root, new.root, proof)
    assert await service.verifier_key(code=org.credit_code, name=NAME, cipher=cipher(settings)) == keys.vkey(
        new_key
    )


APPENDER = """
import asyncio, sys
from tortoise.transactions import in_transaction
from backend.db import init_db, close_db
from backend.translog import log

async def main(url, org_id, tag, count):
    await init_db(url)
    async def one(i):
        async with in_transaction():
            await log.append(org_id, f"{tag}-{i}".encode())
    for start in range(0, count, 10):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 10, count))))
    await close_db()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
"""


async def test_processes_appending_at_once_never_fork_or_leave_a_gap(db, settings):
    org = await make_org()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, db, str(org.id), f"p{n}", "40"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    # The integrator runs meanwhile, as the servers' checkpointers do.
    checkpoints = 0
    while any(p.poll() is None for p in processes):
        checkpoints += await checkpoint_now(settings)
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    await checkpoint_now(settings)
    leaves = await _leaves(org.id)
    assert [leaf.idx for leaf in leaves] == list(range(120))
    assert sorted(bytes(leaf.data).decode() for leaf in leaves) == sorted(
        f"p{n}-{i}" for n in range(3) for i in range(40)
    )
    tree = await Tree.get(organization_id=org.id)
    assert tree.size == 120 and bytes(tree.root) == gv.root_of(bytes(leaf.data) for leaf in leaves)
    # Every checkpoint signed along the way is a prefix of the final tree: no fork.
    for checkpoint in await Checkpoint.filter(organization_id=org.id):
        proof = await service.consistency_proof_of(org.id, first=checkpoint.size, second=120)
        gv.verify_consistency(checkpoint.size, 120, bytes(checkpoint.root), bytes(tree.root), proof)


async def test_a_gap_below_the_sequence_is_refused_not_signed(db, settings):
    org = await make_org()
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await translog.append_many(org.id, [b"a", b"b", b"c"])
    await Leaf.filter(organization_id=org.id, idx=1).delete()
    assert await checkpoint_now(settings) == 0
    assert not await Checkpoint.filter(organization_id=org.id).exists()
    assert await Pending.filter(organization_id=org.id).exists()


def _b64(values: list[bytes]) -> Any:
    return [base64.b64encode(v).decode() for v in values]


async def test_the_integrator_is_idempotent(db, settings):
    org = await make_org()
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await translog.append(org.id, b"x")
    await checkpoint_now(settings)
    assert await integrate.integrate_pending(name=NAME, cipher=cipher(settings)) == 0
    assert await Checkpoint.filter(organization_id=org.id).count() == 1


async def test_a_kept_right_edge_tile_is_read_again_once_the_log_grows(db, settings):
    # The process keeps the tile of the last leaf and the tiles above level 0; a copy kept at size
    # 300 lacks the nodes written later: they are read again, never taken as missing or stale.
    org = await make_org()
    from tortoise.transactions import in_transaction

    data = [b"grow %d" % i for i in range(600)]
    hashes = [gv.leaf_hash(d) for d in data]
    for start, end in ((0, 300), (300, 600)):
        async with in_transaction():
            await translog.append_many(org.id, data[start:end])
        await checkpoint_now(settings)
        size = (await Tree.get(organization_id=org.id)).size
        assert size == end
        root = gv.root_of_hashes(hashes[:size])
        for index in (0, 257, 299, size - 1):
            proof = await service.inclusion_proof_of(org.id, index=index, size=size)
            gv.verify_inclusion(index, size, hashes[index], proof, root)
        proof = await service.consistency_proof_of(org.id, first=299, second=size)
        gv.verify_consistency(299, size, gv.root_of_hashes(hashes[:299]), root, proof)


async def test_nodes_stored_before_tiles_are_copied_into_tiles_by_the_migration(db, settings):
    import importlib
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from tortoise import connections

    from backend.translog.models import Log, Node, Tile

    migration = importlib.import_module("migrations.models.0010_logperf")
    org = await make_org()
    data = [b"old %d" % i for i in range(300)]
    hashes = [gv.leaf_hash(d) for d in data]
    size, frontier, made = merkle.append(0, [], hashes)
    now = datetime.now(UTC)
    # The layout of 0008: leaves, one row per perfect subtree, the tree; no tiles.
    await Leaf.bulk_create(
        [
            Leaf(organization_id=org.id, idx=i, data=d, hash=h, appended_at=now)
            for i, (d, h) in enumerate(zip(data, hashes, strict=True))
        ]
    )
    await Node.bulk_create([Node(organization_id=org.id, level=lv, idx=i, hash=h) for lv, i, h in made])
    await Log.create(organization_id=org.id, next_index=size)
    await Tree.create(
        organization_id=org.id, size=size, root=merkle.root_of(frontier), frontier=b"".join(frontier)
    )
    assert not await Tile.filter(organization_id=org.id).exists()
    await migration.copy_nodes_into_tiles(None, SimpleNamespace(client=connections.get("default")))
    for n in (size, 256, 100):
        root = gv.root_of_hashes(hashes[:n])
        for index in (0, n // 2, n - 1):
            proof = await service.inclusion_proof_of(org.id, index=index, size=n)
            gv.verify_inclusion(index, n, hashes[index], proof, root)
        proof = await service.consistency_proof_of(org.id, first=7, second=n)
        gv.verify_consistency(7, n, gv.root_of_hashes(hashes[:7]), root, proof)
