"""The integrator: turns appended leaves into stored nodes and a signed checkpoint.

Every server process runs ``Checkpointer`` (every ``INTERVAL`` seconds), so every append is covered
by a signed checkpoint within a second. For each pending log, in one transaction:

1. lock the log's tree row (``FOR UPDATE SKIP LOCKED``: another process integrating it is skipped,
   never waited for or duplicated);
2. read the leaf hashes from the tree's size up to the sequence's committed value (an append's leaf
   and its sequence commit together, so these are contiguous: a gap would be a bug, and raises);
3. append them to the frontier, store every perfect subtree that became complete (and the leaf
   hashes) in their tiles (``merkle.tile_of``), sign the new
   root, store the checkpoint, save the tree;
4. lock the sequence row and clear the pending mark only if nothing was appended meanwhile (an
   append waits for that lock, so its mark is never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from ..crypto import PersonalDataCipher
from ..db import dialect
from ..registry.models import Organization
from . import keys, merkle, service, sql
from .note import NoteSigner, checkpoint_body

log = logging.getLogger("gongxin.translog")
INTERVAL = 0.25
BATCH_LOGS = 200
# Logs integrated at once by one process (a connection each): many busy logs stay within the second.
CONCURRENCY = 4
HASH = 32


class GapInLog(RuntimeError):
    """Leaves missing below the committed sequence: never expected, never papered over."""


def _for_update(skip_locked: bool = False) -> str:
    if dialect() != "postgres":
        return ""
    return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"


async def _tree(organization_id: int) -> dict[str, object] | None:
    rows = await sql.fetch(
        "SELECT size, frontier FROM translog_trees WHERE organization_id = $1" + _for_update(True),
        organization_id,
    )
    if rows:
        return rows[0]
    exists = await sql.fetch(
        "SELECT 1 AS one FROM translog_trees WHERE organization_id = $1", organization_id
    )
    if exists:
        return None  # another process holds it
    return {"size": 0, "frontier": b"", "new": True}


async def write_tiles(organization_id: int, nodes: list[tuple[int, int, bytes]]) -> None:
    """Write new nodes ``(level, index, hash)`` into their tiles (in the integrating transaction).

    A tile is read, patched and written back whole; only the integrator that holds the tree's row
    writes a log's tiles, so no two patch one tile at once.
    """
    patches = merkle.tile_patches(nodes)
    if not patches:
        return
    keys_ = sorted(patches)
    pairs = ",".join(f"({int(level)},{int(index)})" for level, index in keys_)  # integers we computed
    rows = await sql.fetch(
        "SELECT level, idx, hashes FROM translog_tiles WHERE organization_id = $1 "
        f"AND (level, idx) IN (VALUES {pairs})",
        organization_id,
    )
    stored = {(int(r["level"]), int(r["idx"])): bytes(r["hashes"]) for r in rows}
    await sql.execute_many(
        "INSERT INTO translog_tiles (organization_id, level, idx, hashes) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (organization_id, level, idx) DO UPDATE SET hashes = excluded.hashes",
        [
            [
                organization_id,
                level,
                index,
                merkle.patch_tile(stored.get((level, index)), patches[(level, index)]),
            ]
            for level, index in keys_
        ],
    )


async def integrate_log(organization_id: int, *, name: str, signer: NoteSigner, key_id: str) -> int | None:
    """Integrate one log's pending leaves and sign a checkpoint; the new size (None: skipped)."""
    async with in_transaction():
        tree = await _tree(organization_id)
        if tree is None:
            return None
        signed_for: str | None = None
        size = int(tree["size"])  # type: ignore[call-overload]
        raw = bytes(tree["frontier"])  # type: ignore[call-overload]
        frontier = [raw[i : i + HASH] for i in range(0, len(raw), HASH)]
        head = await sql.fetch(
            "SELECT next_index FROM translog_logs WHERE organization_id = $1", organization_id
        )
        upto = int(head[0]["next_index"]) if head else 0
        if upto > size:
            rows = await sql.fetch(
                "SELECT idx, hash FROM translog_leaves WHERE organization_id = $1 AND idx >= $2 AND idx < $3 "
                "ORDER BY idx",
                organization_id,
                size,
                upto,
            )
            if len(rows) != upto - size or (rows and int(rows[0]["idx"]) != size):
                raise GapInLog(f"log {organization_id}: {len(rows)} leaves in [{size}, {upto})")
            leaves = [bytes(r["hash"]) for r in rows]
            new_size, frontier, made = merkle.append(size, frontier, leaves)
            await write_tiles(organization_id, [(0, size + i, h) for i, h in enumerate(leaves)] + made)
            root = merkle.root_of(frontier)
            code = await Organization.get(id=organization_id).values_list("credit_code", flat=True)
            origin, signed_for = f"{name}/{code}", str(code)
            note = signer.sign(checkpoint_body(origin, new_size, root))
            await sql.execute(
                "INSERT INTO translog_checkpoints (organization_id, size, root, note, key_id, signed_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                organization_id,
                new_size,
                root,
                note,
                key_id,
                datetime.now(UTC),
            )
            packed = b"".join(frontier)
            if tree.get("new"):
                await sql.execute(
                    "INSERT INTO translog_trees (organization_id, size, root, frontier) "
                    "VALUES ($1, $2, $3, $4)",
                    organization_id,
                    new_size,
                    root,
                    packed,
                )
            else:
                await sql.execute(
                    "UPDATE translog_trees SET size = $2, root = $3, frontier = $4 "
                    "WHERE organization_id = $1",
                    organization_id,
                    new_size,
                    root,
                    packed,
                )
            size = new_size
        latest = await sql.fetch(
            "SELECT next_index FROM translog_logs WHERE organization_id = $1" + _for_update(), organization_id
        )
        if not latest or int(latest[0]["next_index"]) == size:
            await sql.execute("DELETE FROM translog_pending WHERE organization_id = $1", organization_id)
    if signed_for is not None:
        # The pages of this process show the new checkpoint at once, other processes' within 0.5 s.
        service.forget(signed_for)
    return size


async def integrate_pending(
    *, name: str, cipher: PersonalDataCipher, limit: int = BATCH_LOGS, concurrency: int = CONCURRENCY
) -> int:
    """Integrate every pending log (up to ``limit``, ``concurrency`` at once); how many were integrated."""
    rows = await sql.fetch("SELECT organization_id FROM translog_pending LIMIT $1", limit)
    if not rows:
        return 0
    record, signer = await keys.signer(name=name, cipher=cipher)
    gate = asyncio.Semaphore(concurrency if dialect() == "postgres" else 1)  # SQLite: one writer

    async def one(organization_id: int) -> bool:
        async with gate:
            try:
                size = await integrate_log(organization_id, name=name, signer=signer, key_id=record.key_id)
            except Exception:
                # One log failing (a concurrent integrator won a race, a gap) must not hold up the others.
                log.exception("transparency log: integrating log %s failed (retried)", organization_id)
                return False
            return size is not None

    done = await asyncio.gather(*(one(int(row["organization_id"])) for row in rows))
    return sum(done)


class Checkpointer:
    """Integrates and signs pending logs every ``INTERVAL`` seconds in the background of a process."""

    def __init__(self, *, name: str, cipher: PersonalDataCipher, interval: float = INTERVAL) -> None:
        self.name, self.cipher, self.interval = name, cipher, interval
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            try:
                while await integrate_pending(name=self.name, cipher=self.cipher) >= BATCH_LOGS:
                    pass
            except Exception:
                log.exception("transparency log: integration failed (retried)")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
