"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs from stored perfect subtrees, their verification.

A log of ``n`` leaves is stored as the hashes of its *perfect* subtrees: node ``(level, index)``
covers leaves ``[index * 2**level, (index + 1) * 2**level)``, level 0 being the leaf hashes. Each is
written once, when its last leaf is integrated, and never changes. Every hash the RFC's algorithms
need is either such a node or the hash of a range ending at the tree's right edge, which is the
right fold of at most log2(n) perfect nodes (``decompose``). So a proof or a root at any size reads
O(log n) stored nodes and hashes at most that many times: the tree is never rebuilt.

The nodes are stored in *tiles* (``tile_of``): tile ``(t, k)`` holds every node of levels ``8t`` to
``8t + 7`` under the ``k``-th subtree of level ``8t + 8``, 511 hashes at fixed offsets (absent nodes
are zero bytes until written). All the nodes a proof needs from levels 0-7 lie in one or two tiles,
so a proof in a tree of a million leaves reads one or two rows, not twenty.

``inclusion_ranges`` and ``consistency_ranges`` follow RFC 6962 section 2.1.1 (PATH) and 2.1.2
(SUBPROOF) literally, as ranges of leaves; ``verify_inclusion`` and ``verify_consistency`` are RFC 9162
sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

Node = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # [start, end) of leaves

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify, or arguments no proof exists for."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || leaf bytes)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up ``[start, end)``, left to right.

    For the ranges the RFC's algorithms produce (``start`` aligned to the range's largest subtree),
    the right fold of these is the range's Merkle tree hash.
    """
    nodes: list[Node] = []
    while start < end:
        size = start & -start if start else 1 << ((end - start).bit_length() - 1)
        while size > end - start:
            size >>= 1
        level = size.bit_length() - 1
        nodes.append((level, start >> level))
        start += size
    return nodes


def fold(hashes: list[bytes]) -> bytes:
    """The hash of a range from its perfect subtrees' hashes (largest first): a right fold."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 6962 PATH(index, D[0:size]) as the ranges whose hashes make up the proof, in order."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # the recursion appends on the way out: the deepest range comes first
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 6962 PROOF(first, D[0:second]) as ranges, in order."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    ranges: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


TILE_HEIGHT = 8
HASH = 32
TILE_BYTES = (2 << TILE_HEIGHT) - 1  # hashes in a tile: 256 + 128 + ... + 1
Tile = tuple[int, int]  # (tile level, index)


def tile_of(node: Node) -> tuple[Tile, int]:
    """The tile that stores a node, and the byte offset of its hash within the tile."""
    level, index = node
    tile_level, height = divmod(level, TILE_HEIGHT)
    shift = TILE_HEIGHT - height  # the tile spans 2**shift nodes of this level
    tile_index = index >> shift
    row = (2 << TILE_HEIGHT) - (2 << TILE_HEIGHT >> height)  # nodes of the levels below in the tile
    return (tile_level, tile_index), HASH * (row + index - (tile_index << shift))


def node_in_tile(tile: bytes, offset: int) -> bytes | None:
    """The hash at ``offset`` of a stored tile, None if that node was not written (yet)."""
    value = tile[offset : offset + HASH]
    return value if len(value) == HASH and any(value) else None


def tile_patches(nodes: Iterable[tuple[int, int, bytes]]) -> dict[Tile, list[tuple[int, bytes]]]:
    """Nodes ``(level, index, hash)`` grouped by the tile they are written to: offset and hash."""
    out: dict[Tile, list[tuple[int, bytes]]] = {}
    for level, index, value in nodes:
        tile, offset = tile_of((level, index))
        out.setdefault(tile, []).append((offset, value))
    return out


def patch_tile(tile: bytes | None, patches: list[tuple[int, bytes]]) -> bytes:
    """A tile with these hashes written into it (a new one is all zeros first)."""
    out = bytearray(tile or bytes(HASH * TILE_BYTES))
    for offset, value in patches:
        out[offset : offset + HASH] = value
    return bytes(out)


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node the hashes of these ranges are made of."""
    return {node for start, end in ranges for node in decompose(start, end)}


def range_hashes(ranges: list[Range], stored: Mapping[Node, bytes]) -> list[bytes]:
    """The hashes of ranges, from the stored nodes they decompose into."""
    return [fold([stored[node] for node in decompose(start, end)]) for start, end in ranges]


def root_nodes(size: int) -> list[Node]:
    """The perfect subtrees whose fold is the root of a tree of ``size`` leaves."""
    return decompose(0, size)


# --- appending --------------------------------------------------------------------------------------


def append(
    size: int, frontier: list[bytes], hashes: Iterable[bytes]
) -> tuple[int, list[bytes], list[tuple[int, int, bytes]]]:
    """Append leaf hashes to a tree given by its frontier (its root nodes, largest first).

    Returns the new size, the new frontier and the nodes above level 0 that became complete.
    """
    frontier = list(frontier)
    made: list[tuple[int, int, bytes]] = []
    for value in hashes:
        node, level, index = value, 0, size
        while (size >> level) & 1:
            node = node_hash(frontier.pop(), node)
            level += 1
            index >>= 1
            made.append((level, index, node))
        frontier.append(node)
        size += 1
    return size, frontier, made


def root_of(frontier: list[bytes]) -> bytes:
    """The root of a tree from its frontier (the empty tree's is SHA-256 of nothing)."""
    return fold(frontier) if frontier else EMPTY_ROOT


def root_from_leaves(hashes: Iterable[bytes]) -> bytes:
    """The root of the tree of these leaf hashes (a whole recomputation: tests and tools only)."""
    _, frontier, _ = append(0, [], hashes)
    return root_of(frontier)


# --- verifying (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root an inclusion proof leads to from a leaf hash; raises ProofError if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """Raise ProofError unless the proof puts the leaf hash at ``index`` of the tree with ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    """Raise ProofError unless the proof shows tree ``first`` is a prefix of tree ``second``."""
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("trees of one size must have one root and an empty proof")
        return
    if not 0 < first < second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree's root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != first_root or sr != second_root:
        raise ProofError("consistency proof does not lead to both roots")
