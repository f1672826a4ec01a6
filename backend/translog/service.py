"""Public reads of an organization's log: checkpoints, its key, entries, proofs, a receipt's proof.

Proofs are read, never rebuilt: the hashes of the RFC's ranges come from the stored perfect subtrees
they decompose into (``merkle.decompose``), read from the tiles that hold them (``merkle.tile_of``) in
one query: one or two rows for the lower eight levels, the upper ones mostly kept in the process.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ..crypto import PersonalDataCipher
from ..db import dialect
from ..errors import NotFound, Unprocessable
from ..registry import service as registry_service
from ..registry.models import Organization
from ..registry.profiles import LocalCopies
from . import keys, merkle, sql

MAX_ENTRIES = 1000
MAX_LEAVES = 16384


class LogEmpty(NotFound):
    code = "log.empty"
    message = "该组织的公示日志尚无签名检查点 / This organization's log has no signed checkpoint yet"


class CheckpointNotFound(NotFound):
    code = "log.checkpoint_not_found"
    message = "没有在该大小签名的检查点 / No checkpoint was signed at this tree size"


class BeyondCheckpoint(Unprocessable):
    code = "log.beyond_checkpoint"
    message = "请求超出最新签名检查点的范围 / The request goes beyond the latest signed checkpoint"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def organization_id(code: str) -> int:
    """The organization's id by its credit code (404 for an unknown one)."""
    return (await registry_service.get_organization(code=code)).id


async def _latest(org: int) -> dict[str, Any] | None:
    rows = await sql.fetch(
        "SELECT size, root, note FROM translog_checkpoints WHERE organization_id = $1 "
        "ORDER BY size DESC LIMIT 1",
        org,
    )
    return rows[0] if rows else None


async def latest_checkpoint(*, code: str) -> str:
    """The latest signed checkpoint, as note text."""
    latest = await _latest(await organization_id(code))
    if latest is None:
        raise LogEmpty()
    return str(latest["note"])


async def checkpoint_at(*, code: str, size: int) -> str:
    """The checkpoint signed at exactly this size."""
    rows = await sql.fetch(
        "SELECT note FROM translog_checkpoints WHERE organization_id = $1 AND size = $2",
        await organization_id(code),
        size,
    )
    if not rows:
        raise CheckpointNotFound(details={"size": size})
    return str(rows[0]["note"])


async def verifier_key(*, code: str, name: str, cipher: PersonalDataCipher) -> str:
    """The note verifier key that signs this organization's checkpoints now."""
    await organization_id(code)
    return keys.vkey(await keys.active_key(name=name, cipher=cipher))


async def entries(*, code: str, start: int, end: int | None) -> dict[str, Any]:
    """Leaves ``[start, end)`` (at most ``MAX_ENTRIES``): the exact bytes and their decoded fields."""
    org = await organization_id(code)
    stop = start + MAX_ENTRIES if end is None else min(end, start + MAX_ENTRIES)
    rows = await sql.fetch(
        "SELECT idx, data FROM translog_leaves WHERE organization_id = $1 AND idx >= $2 AND idx < $3 "
        "ORDER BY idx",
        org,
        start,
        stop,
    )
    out = []
    for row in rows:
        data = bytes(row["data"])
        out.append({**orjson.loads(data), "index": int(row["idx"]), "leaf": b64(data)})
    return {"entries": out}


async def leaves(*, code: str, start: int, end: int | None) -> bytes:
    """Leaves ``[start, end)`` (at most ``MAX_LEAVES``), compact: what a verifier recomputing a whole
    log reads. The count (4 bytes, big-endian), each leaf's length (4 bytes each), then the exact bytes
    hashed, in index order: a client splits a page with one unpack, not a loop over its leaves."""
    org = await organization_id(code)
    stop = start + MAX_LEAVES if end is None else min(end, start + MAX_LEAVES)
    rows = await sql.fetch(
        "SELECT data FROM translog_leaves WHERE organization_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        org,
        start,
        stop,
    )
    datas = [bytes(row["data"]) for row in rows]
    return struct.pack(f">I{len(datas)}I", len(datas), *map(len, datas)) + b"".join(datas)


# What this process has read, kept because it never changes: a tree only grows (the largest size
# seen is integrated for good) and a node, once written into its tile, keeps its hash (a tile only
# gains hashes: a node missing from a kept copy sends for the tile again). Kept: the tiles above
# level 0 (at most n/65536 of them, shared by most proofs of a log) and each log's right-edge tile.
_sizes: dict[int, int] = {}
_tiles: dict[tuple[int, int, int], bytes] = {}
MAX_CACHED_TILES = 1000  # 16 kB each


def forget_all() -> None:
    """Drop every kept size and tile (tests, after truncating tables)."""
    _sizes.clear()
    _tiles.clear()
    _current.clear()


async def _tree_size(org: int, needed: int = 0) -> int:
    """The integrated size of the log, read again only when a larger one is asked about."""
    known = _sizes.get(org, 0)
    if needed and known >= needed:
        return known
    rows = await sql.fetch("SELECT size FROM translog_trees WHERE organization_id = $1", org)
    _sizes[org] = size = int(rows[0]["size"]) if rows else 0
    return size


# One tile (the common case: an inclusion proof whose upper nodes are kept) or several by arrays:
# fixed statements, so asyncpg prepares each once per connection.
_PG_TILE = (
    "SELECT level, idx, hashes FROM translog_tiles WHERE organization_id = $1 AND level = $2 AND idx = $3"
)
_PG_TILES = (
    "SELECT t.level, t.idx, t.hashes FROM translog_tiles t "
    "JOIN unnest($2::smallint[], $3::bigint[]) AS k(level, idx) ON t.level = k.level AND t.idx = k.idx "
    "WHERE t.organization_id = $1"
)


async def read_nodes(org: int, nodes: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of these perfect subtrees (level 0: leaf hashes), from their tiles in one query."""
    where = {node: merkle.tile_of(node) for node in nodes}
    found: dict[merkle.Node, bytes] = {}
    for node, ((level, index), offset) in where.items():
        value = merkle.node_in_tile(_tiles.get((org, level, index), b""), offset)
        if value is not None:
            found[node] = value
    if len(found) == len(nodes):
        return found
    tiles = sorted({where[node][0] for node in nodes - found.keys()})
    stored = await _read_tiles(org, tiles)
    edge = (_sizes.get(org, 0) - 1) >> merkle.TILE_HEIGHT  # the level-0 tile of the last leaf
    if len(_tiles) > MAX_CACHED_TILES:
        _tiles.clear()
    for (level, index), hashes in stored.items():
        if level > 0 or index == edge:
            _tiles[(org, level, index)] = hashes
    for node in nodes - found.keys():
        key, offset = where[node]
        value = merkle.node_in_tile(stored.get(key, b""), offset)
        if value is not None:
            found[node] = value
    if len(found) < len(nodes):
        # Never expected below an integrated size; answered as beyond the checkpoint, never a 500.
        _sizes.pop(org, None)
        raise BeyondCheckpoint(details={"missing_nodes": len(nodes) - len(found)})
    return found


async def _read_tiles(org: int, tiles: list[merkle.Tile]) -> dict[merkle.Tile, bytes]:
    if dialect() == "postgres" and len(tiles) == 1:
        rows = await sql.fetch(_PG_TILE, org, *tiles[0])
    elif dialect() == "postgres":
        rows = await sql.fetch(_PG_TILES, org, [t[0] for t in tiles], [t[1] for t in tiles])
    else:
        # Integers we computed, formatted in: SQLite has no arrays to bind them as.
        pairs = ",".join(f"({int(level)},{int(index)})" for level, index in tiles)
        rows = await sql.fetch(
            "SELECT level, idx, hashes FROM translog_tiles WHERE organization_id = $1 "
            f"AND (level, idx) IN (VALUES {pairs})",
            org,
        )
    return {(int(r["level"]), int(r["idx"])): bytes(r["hashes"]) for r in rows}


async def _proof(org: int, ranges: list[merkle.Range]) -> list[bytes]:
    return merkle.range_hashes(ranges, await read_nodes(org, merkle.nodes_for(ranges)))


async def inclusion_proof_of(org: int, *, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves (integrated)."""
    if size > await _tree_size(org, size) or not 0 <= index < size:
        raise BeyondCheckpoint(details={"index": index, "size": size})
    return await _proof(org, merkle.inclusion_ranges(index, size))


async def consistency_proof_of(org: int, *, first: int, second: int) -> list[bytes]:
    """The consistency proof from the tree of ``first`` leaves to the tree of ``second``."""
    if second > await _tree_size(org, second) or not 0 < first <= second:
        raise BeyondCheckpoint(details={"first": first, "second": second})
    return await _proof(org, merkle.consistency_ranges(first, second))


async def inclusion_proof(*, code: str, index: int, size: int) -> dict[str, list[str]]:
    """``{"hashes": [...]}`` for the API."""
    proof = await inclusion_proof_of(await organization_id(code), index=index, size=size)
    return {"hashes": [b64(h) for h in proof]}


async def consistency_proof(*, code: str, first: int, second: int) -> dict[str, list[str]]:
    """``{"hashes": [...]}`` for the API."""
    proof = await consistency_proof_of(await organization_id(code), first=first, second=second)
    return {"hashes": [b64(h) for h in proof]}


async def receipt_proof(*, organization_id: int, entry_id: int) -> dict[str, Any]:
    """A ledger entry's log index, leaf, inclusion proof and the latest checkpoint it is proven against.

    Between the append and the next checkpoint (under a second) the proof and checkpoint are null.
    """
    rows = await sql.fetch(
        "SELECT idx, data FROM translog_leaves WHERE entry_id = $1 AND organization_id = $2",
        entry_id,
        organization_id,
    )
    if not rows:
        return {"log_index": None, "leaf": None, "inclusion_proof": None, "checkpoint": None}
    index, data = int(rows[0]["idx"]), bytes(rows[0]["data"])
    latest = await _latest(organization_id)
    if latest is None or int(latest["size"]) <= index:
        return {"log_index": index, "leaf": b64(data), "inclusion_proof": None, "checkpoint": None}
    size = int(latest["size"])
    proof = await _proof(organization_id, merkle.inclusion_ranges(index, size))
    return {
        "log_index": index,
        "leaf": b64(data),
        "inclusion_proof": [b64(h) for h in proof],
        "checkpoint": str(latest["note"]),
    }


async def current(*, organization_id: int) -> dict[str, Any] | None:
    """The latest checkpoint's size and root (hex and base64), for the H5 pages."""
    latest = await _latest(organization_id)
    if latest is None:
        return None
    root = bytes(latest["root"])
    return {"size": int(latest["size"]), "root": b64(root), "root_hex": root.hex()}


_current: LocalCopies[str, dict[str, Any]] = LocalCopies()


async def current_by_code(*, code: str) -> dict[str, Any]:
    """The latest checkpoint's size and root for the H5 pages (``size`` 0: none yet).

    Each process keeps it for half a second: pages show the checkpoint of at most a second ago.
    """

    async def load() -> dict[str, Any]:
        org = await Organization.get_or_none(credit_code=code).values_list("id", flat=True)
        latest = await current(organization_id=int(str(org))) if org is not None else None
        return latest or {"size": 0, "root": None, "root_hex": None}

    return await _current.get_or_load(code, load) or {"size": 0}


def forget(code: str) -> None:
    """Drop this process's copy of a log's current checkpoint (after signing a new one)."""
    _current.pop(code)
