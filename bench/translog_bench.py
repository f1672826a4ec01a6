"""Transparency-log benchmarks, run with the server's environment (bench/commands.py `translog`).

    python bench/translog_bench.py appends [--seconds 10] [--logs 1] [--concurrency 32]
    python bench/translog_bench.py proofs [--leaves 1000000] [--samples 2000]
    python bench/translog_bench.py verify [--leaves 1000000]

``appends``: one process (as one server worker) appends leaves, each in its own transaction as a
ledger entry's append is, from ``--concurrency`` tasks for ``--seconds``, into ``--logs`` logs, with
the checkpointer running beside them as in the server. It prints appends per second, how long after
the last append a signed checkpoint covered everything, and checks that every log is gapless and its
tree matches its leaves.

``proofs``: a log of ``--leaves`` leaves is written directly (leaf and tile rows by COPY, on SQLite by
one executemany, computed
here), then ``--samples`` inclusion proofs (random index, the whole tree) and as many consistency
proofs (random first size) are read through ``backend.translog.service``, as the API does: the
median and 99th percentile time of one, in the server's process.

``verify``: ``--leaves`` donation leaves in the canonical form, in the pages ``/log/leaves`` serves
(16,384 a page), are recomputed by gongxin-verify: pages split, leaves hashed and parsed, the root,
the project totals (fetching the pages is not in the time).

Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import struct
import time
from datetime import UTC, datetime

import orjson
from tortoise.transactions import in_transaction

import gongxin_verify
from backend.config import load_settings
from backend.crypto import PersonalDataCipher
from backend.db import close_db, init_db
from backend.translog import integrate, keys, merkle, service, sql
from backend.translog import log as translog


def donation_leaf(i: int, project_id: int = 1) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "type": "donation",
            "id": i + 1,
            "project_id": project_id,
            "amount_fen": 1000 + i % 9000,
            "recorded_at": "2026-12-02T03:00:00Z",
            "received_at": "2026-12-02T02:59:00Z",
            "channel": "wechat_pay",
            "donor": "张*",
            "donor_display": "masked",
            "receipt_code_sha256": f"{i:064x}",
        },
        option=orjson.OPT_SORT_KEYS,
    )


async def _orgs(count: int) -> list[int]:
    from backend.registry.models import Organization

    ids = await Organization.all().order_by("id").limit(count).values_list("id", flat=True)
    if len(ids) < count:
        # Organizations of the bench's own (the seed's are MJB, the demo's MJL): their logs only.
        template = await Organization.all().order_by("id").first()
        if template is None:
            raise SystemExit("run `gongxin demo-data` first")
        await Organization.bulk_create(
            [
                Organization(
                    credit_code=f"51440300MJT{n:07d}",
                    name=f"日志基准组织{n}",
                    kind=template.kind,
                    authority_id=template.authority_id,  # type: ignore[attr-defined]
                    region_code=template.region_code,
                )
                for n in range(count - len(ids))
            ],
            ignore_conflicts=True,
        )
        ids = await Organization.all().order_by("id").limit(count).values_list("id", flat=True)
    return [int(str(i)) for i in ids]


async def appends(args: argparse.Namespace) -> dict[str, object]:
    from tortoise.transactions import in_transaction

    from backend.translog.models import Checkpoint, Leaf, Log, Node, Pending, Tile, Tree

    settings = load_settings()
    name = keys.log_name(settings.public_base_url)
    orgs = await _orgs(args.logs)
    for model in (Leaf, Node, Tile, Tree, Checkpoint, Pending, Log):
        await model.filter(organization_id__in=orgs).delete()
    checkpointer = integrate.Checkpointer(name=name, cipher=PersonalDataCipher(settings.fernet_key))
    checkpointer.start()
    done = 0
    stop_at = time.perf_counter() + args.seconds

    async def worker(n: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop_at:
            async with in_transaction():
                await translog.append(orgs[(n + i) % len(orgs)], donation_leaf(i))
            i += 1
            done += 1

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(worker(n) for n in range(args.concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    last = time.perf_counter()
    while await Pending.filter(organization_id__in=orgs).exists():  # noqa: ASYNC110 - polling the database
        await asyncio.sleep(0.01)
    lag = time.perf_counter() - last
    await checkpointer.stop()
    problems = []
    for org in orgs:
        idx = await Leaf.filter(organization_id=org).order_by("idx").values_list("idx", flat=True)
        tree = await Tree.get(organization_id=org)
        if list(idx) != list(range(len(idx))) or tree.size != len(idx):
            problems.append(f"log {org}: {len(idx)} leaves, tree {tree.size}")
        hashes = await Leaf.filter(organization_id=org).order_by("idx").values_list("hash", flat=True)
        if gongxin_verify.root_of_hashes(bytes(h) for h in hashes) != bytes(tree.root):
            problems.append(f"log {org}: root differs")
    checkpoints = await Checkpoint.filter(organization_id__in=orgs).count()
    return {
        "appends": done,
        "seconds": round(elapsed, 3),
        "appends_per_s": round(done / elapsed),
        "cpu_ms_per_append": round(1000 * cpu / max(done, 1), 3),
        "logs": len(orgs),
        "concurrency": args.concurrency,
        "checkpoints_signed": checkpoints,
        "last_append_covered_after_s": round(lag, 3),
        "problems": problems,
    }


async def _copy(table: str, columns: list[str], rows: list[tuple]) -> None:
    from tortoise import get_connection

    from backend.db import dialect

    client = get_connection("default")
    if dialect() != "postgres":  # SQLite: one executemany in one transaction
        marks = ", ".join(f"${n + 1}" for n in range(len(columns)))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - ours
        async with in_transaction():
            await sql.execute_many(statement, [list(r) for r in rows])
        return
    async with client.acquire_connection() as connection:
        await connection.copy_records_to_table(table, records=rows, columns=columns)


async def _write_log(org: int, data: list[bytes], hashes: list[bytes], made: list, frontier: list) -> None:
    from backend.translog.models import Checkpoint, Leaf, Log, Node, Pending, Tile, Tree

    now = datetime.now(UTC)
    for model in (Leaf, Node, Tile, Tree, Checkpoint, Pending, Log):
        await model.filter(organization_id=org).delete()
    await _copy(
        "translog_leaves",
        ["organization_id", "idx", "data", "hash", "appended_at"],
        [(org, i, d, h, now) for i, (d, h) in enumerate(zip(data, hashes, strict=True))],
    )
    nodes = [(0, i, h) for i, h in enumerate(hashes)] + made
    await _copy(
        "translog_tiles",
        ["organization_id", "level", "idx", "hashes"],
        [(org, lv, i, merkle.patch_tile(None, p)) for (lv, i), p in merkle.tile_patches(nodes).items()],
    )
    root = merkle.root_of(frontier)
    await Log.create(organization_id=org, next_index=len(data))
    await Tree.create(organization_id=org, size=len(data), root=root, frontier=b"".join(frontier))
    await Checkpoint.create(
        organization_id=org, size=len(data), root=root, note="bench", key_id="0", signed_at=now
    )


async def proofs(args: argparse.Namespace) -> dict[str, object]:
    from backend.translog.models import Tree

    org = (await _orgs(1))[0]
    built = time.perf_counter()
    data = [donation_leaf(i) for i in range(args.leaves)]
    hashes = [merkle.leaf_hash(d) for d in data]
    size, frontier, made = merkle.append(0, [], hashes)
    root = merkle.root_of(frontier)
    tree = await Tree.get_or_none(organization_id=org)
    if not (args.reuse and tree is not None and tree.size == size and bytes(tree.root) == root):
        await _write_log(org, data, hashes, made, frontier)
    setup = time.perf_counter() - built
    rng = random.Random(7)

    async def timed(call) -> list[float]:
        out = []
        for _ in range(args.samples):
            t = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t) * 1000)
        return out

    def check_inclusion(index: int, proof: list[bytes]) -> None:
        gongxin_verify.verify_inclusion(index, size, hashes[index], proof, root)

    index = rng.randrange(size)
    check_inclusion(index, await service.inclusion_proof_of(org, index=index, size=size))
    inclusion = await timed(lambda: service.inclusion_proof_of(org, index=rng.randrange(size), size=size))
    consistency = await timed(
        lambda: service.consistency_proof_of(org, first=rng.randrange(1, size), second=size)
    )

    def summary(ms: list[float]) -> dict[str, float]:
        ms = sorted(ms)
        return {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(ms[int(len(ms) * 0.99)], 3)}

    return {
        "leaves": size,
        # The floor under any proof read from the database: one trivial round trip, the same way.
        "select_1": summary(await timed(lambda: sql.fetch("SELECT 1 AS one"))),
        "setup_s": round(setup, 1),
        "samples": args.samples,
        "inclusion": summary(inclusion),
        "consistency": summary(consistency),
    }


def verify(args: argparse.Namespace) -> dict[str, object]:
    pages, page = [], []
    for i in range(args.leaves):
        page.append(donation_leaf(i, project_id=1 + i % 10))
        if len(page) == service.MAX_LEAVES or i + 1 == args.leaves:  # as service.leaves answers
            pages.append(struct.pack(f">I{len(page)}I", len(page), *map(len, page)) + b"".join(page))
            page = []
    started, cpu = time.perf_counter(), time.process_time()
    datas = [leaf for body in pages for leaf in gongxin_verify.split_leaves(body)]
    hashes, leaves = gongxin_verify.recompute(datas)
    root = gongxin_verify.root_of_hashes(hashes)
    totals = gongxin_verify.project_totals(leaves)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert root == merkle.root_from_leaves(hashes) and len(totals) == 10
    return {
        "entries": args.leaves,
        "pages": len(pages),
        "recompute_s": round(seconds, 3),
        "cpu_s": round(cpu, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["appends", "proofs", "verify"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--logs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--reuse", action="store_true", help="proofs: keep a log of --leaves already written")
    args = parser.parse_args()
    if args.what == "verify":
        print(json.dumps(verify(args)))
        return
    settings = load_settings()
    await init_db(settings.database_url, pool_max=max(10, args.concurrency), pool_min=1)
    try:
        result = await (appends(args) if args.what == "appends" else proofs(args))
    finally:
        await close_db()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
