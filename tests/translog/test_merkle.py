"""RFC 6962 hashing and proofs: the published vectors, and every size up to 40 against a recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gongxin_verify
from backend.translog import merkle

VECTORS = json.loads(Path(__file__).with_name("rfc6962_vectors.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaf_inputs_hex"]]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def _stored(hashes: list[bytes]) -> dict[merkle.Node, bytes]:
    _, _, made = merkle.append(0, [], hashes)
    stored = {(0, i): h for i, h in enumerate(hashes)}
    stored.update({(level, index): h for level, index, h in made})
    return stored


STORED = _stored(HASHES)


def _root(size: int) -> bytes:
    return bytes.fromhex(VECTORS["root_by_size_hex"][str(size)])


@pytest.mark.parametrize("size", range(9))
def test_roots_reproduce_the_vectors(size: int) -> None:
    assert merkle.root_from_leaves(HASHES[:size]) == _root(size)
    assert gongxin_verify.root_of([LEAVES[i] for i in range(size)]) == _root(size)
    if size:
        # From the stored perfect subtrees alone, as checkpoints and proofs read them.
        assert merkle.fold([STORED[n] for n in merkle.root_nodes(size)]) == _root(size)


@pytest.mark.parametrize(
    "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['leaf_index']}@{c['tree_size']}"
)
def test_inclusion_proofs_reproduce_the_vectors(case: dict) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = merkle.range_hashes(merkle.inclusion_ranges(index, size), STORED)
    assert [h.hex() for h in proof] == case["proof_hex"]
    merkle.verify_inclusion(index, size, HASHES[index], proof, _root(size))
    gongxin_verify.verify_inclusion(index, size, HASHES[index], proof, _root(size))


@pytest.mark.parametrize("case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['first']}-{c['second']}")
def test_consistency_proofs_reproduce_the_vectors(case: dict) -> None:
    first, second = case["first"], case["second"]
    proof = merkle.range_hashes(merkle.consistency_ranges(first, second), STORED)
    assert [h.hex() for h in proof] == case["proof_hex"]
    merkle.verify_consistency(first, second, _root(first), _root(second), proof)
    gongxin_verify.verify_consistency(first, second, _root(first), _root(second), proof)


def test_every_proof_up_to_size_33_verifies_against_a_recomputed_root() -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(33)]
    stored = _stored(hashes)
    roots = {n: merkle.root_from_leaves(hashes[:n]) for n in range(1, 34)}
    for size in range(1, 34):  # powers of two and every size between
        for index in range(size):
            proof = merkle.range_hashes(merkle.inclusion_ranges(index, size), stored)
            gongxin_verify.verify_inclusion(index, size, hashes[index], proof, roots[size])
        for first in range(1, size + 1):
            proof = merkle.range_hashes(merkle.consistency_ranges(first, size), stored)
            gongxin_verify.verify_consistency(first, size, roots[first], roots[size], proof)


def test_a_proof_for_another_leaf_or_root_is_refused() -> None:
    proof = merkle.range_hashes(merkle.inclusion_ranges(5, 8), STORED)
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_inclusion(5, 8, HASHES[4], proof, _root(8))
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_inclusion(5, 8, HASHES[5], proof[:-1], _root(8))
    consistency = merkle.range_hashes(merkle.consistency_ranges(6, 8), STORED)
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_consistency(6, 8, _root(5), _root(8), consistency)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(6, 8, _root(6), _root(7), consistency)


class _Tiles(dict):
    """Nodes read back from tiles, as the service reads them (a Mapping of node to hash)."""

    def __init__(self, tiles: dict[merkle.Tile, bytes]) -> None:
        super().__init__()
        self.tiles = tiles

    def __missing__(self, node: merkle.Node) -> bytes:
        tile, offset = merkle.tile_of(node)
        value = merkle.node_in_tile(self.tiles.get(tile, b""), offset)
        if value is None:
            raise KeyError(node)
        return value


def test_tiles_hold_every_node_at_its_own_place_and_proofs_read_from_them_verify() -> None:
    # 65,541 leaves: three tile levels, partial tiles at each, sizes around 256 and 65,536.
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(65_541)]
    tiles: dict[merkle.Tile, bytes] = {}
    size, frontier = 0, []
    for batch in (1, 255, 1, 300, 65_000 - 557, 3_984):  # integrated in uneven batches
        new = hashes[size : size + batch]
        size_after, frontier, made = merkle.append(size, frontier, new)
        for tile, patches in merkle.tile_patches(
            [(0, size + i, h) for i, h in enumerate(new)] + made
        ).items():
            tiles[tile] = merkle.patch_tile(tiles.get(tile), patches)
        size = size_after
    assert size == len(hashes)
    _, _, made = merkle.append(0, [], hashes)
    stored = _Tiles(tiles)
    offsets = {merkle.tile_of((level, index)) for level, index, _ in made}
    assert len(offsets) == len(made)  # no two nodes share a place
    assert all(stored[(level, index)] == h for level, index, h in made)
    for n in (1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_541):
        root = gongxin_verify.root_of_hashes(hashes[:n])
        assert merkle.fold([stored[node] for node in merkle.root_nodes(n)]) == root
        for index in {0, n // 3, n - 1}:
            proof = merkle.range_hashes(merkle.inclusion_ranges(index, n), stored)
            gongxin_verify.verify_inclusion(index, n, hashes[index], proof, root)
        for first in {1, 255, 256, 300, n // 2 or 1, n}:
            if first <= n:
                first_root = gongxin_verify.root_of_hashes(hashes[:first])
                proof = merkle.range_hashes(merkle.consistency_ranges(first, n), stored)
                gongxin_verify.verify_consistency(first, n, first_root, root, proof)
    with pytest.raises(KeyError):
        stored[(0, 65_541)]  # not written: zero bytes in its tile
